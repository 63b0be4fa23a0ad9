import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.js';
import { createCpuBackend } from '../src/cpu/index.js';
import { getBackend, listBackends, memory, registerBackend, setBackend, withBackend } from '../src/engine.js';
import { BackendNotFoundError } from '../src/errors.js';
import { ones, tensor } from '../src/ops/creation.js';
import { add } from '../src/ops/elementwise.js';

/** A CPU backend under another name (what a second backend package would register). */
function renamed(name: string): Backend {
  const be = createCpuBackend();
  Object.defineProperty(be, 'name', { value: name });
  return be;
}

describe('backend registry', () => {
  const original = getBackend();
  afterEach(async () => {
    await setBackend(original);
  });

  it('the default backend is the CPU reference', () => {
    expect(original.name).toBe('cpu');
    expect(listBackends()).toContain('cpu');
  });

  it('registerBackend + setBackend(name) starts the factory once and makes it current', async () => {
    let calls = 0;
    registerBackend('test-sync', () => {
      calls++;
      return renamed('test-sync');
    });
    expect(listBackends()).toContain('test-sync');
    const a = await setBackend('test-sync');
    const b = await setBackend('test-sync');
    expect(calls).toBe(1);
    expect(a).toBe(b);
    expect(getBackend()).toBe(a);
    const t = ones([2]);
    expect(t.backend).toBe(a);
    expect(memory().backend).toBe('test-sync');
    t.dispose();
  });

  it('accepts asynchronous factories', async () => {
    registerBackend('test-async', async () => {
      await new Promise((r) => setTimeout(r, 1));
      return renamed('test-async');
    });
    const be = await setBackend('test-async');
    expect(be.name).toBe('test-async');
    expect(getBackend()).toBe(be);
  });

  it('registering a name again replaces the factory and forgets the started instance', async () => {
    registerBackend('test-replace', () => renamed('first'));
    const first = await setBackend('test-replace');
    registerBackend('test-replace', () => renamed('second'));
    const second = await setBackend('test-replace');
    expect(first.name).toBe('first');
    expect(second.name).toBe('second');
    expect(second).not.toBe(first);
  });

  it('an unknown name throws BackendNotFoundError naming it and the registered ones', async () => {
    const p = setBackend('no-such-backend');
    await expect(p).rejects.toBeInstanceOf(BackendNotFoundError);
    await expect(setBackend('no-such-backend')).rejects.toThrow(/no-such-backend/);
    await expect(setBackend('no-such-backend')).rejects.toThrow(/cpu/);
    await expect(setBackend('no-such-backend')).rejects.toThrow(/registerBackend/);
    expect(getBackend()).toBe(original);
  });

  it('setBackend(instance) and withBackend restore and route creation', async () => {
    const other = createCpuBackend();
    const inside = withBackend(other, () => {
      expect(getBackend()).toBe(other);
      return ones([3]);
    });
    expect(inside.backend).toBe(other);
    expect(getBackend()).toBe(original);
    expect(() =>
      withBackend(other, () => {
        throw new Error('x');
      }),
    ).toThrow('x');
    expect(getBackend()).toBe(original);
    // Ops on tensors run on the tensors' backend, whatever is current.
    const sumOther = add(inside, inside);
    expect(sumOther.backend).toBe(other);
    expect(memory(other).liveTensors).toBe(2);
    expect(memory(other).liveBytes).toBe(24);
    await setBackend(other);
    expect(getBackend()).toBe(other);
    const t = tensor([1]);
    expect(t.backend).toBe(other);
    [inside, sumOther, t].forEach((x) => x.dispose());
    expect(memory(other).liveTensors).toBe(0);
    expect(memory(other).liveBytes).toBe(0);
  });
});
