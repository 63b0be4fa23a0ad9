import { describe, expect, it } from 'vitest';
import { ReplayRecord, ReformerError, memory, randomNormal, replayable, tidy, type Tensor } from '../src/index.js';

/** A "layer" whose forward draws a fresh random tensor on every call unless replayed. */
let calls = 0;
function layer(): Tensor {
  return replayable(() => randomNormal([3], { seed: ++calls }));
}

describe('replayable state', () => {
  it('computes normally outside a record', async () => {
    const a = layer();
    const b = layer();
    expect(Array.from(await a.data())).not.toEqual(Array.from(await b.data()));
    a.dispose();
    b.dispose();
  });

  it('replays recorded values in call order without recomputing', async () => {
    const rec = new ReplayRecord();
    const [a, b] = rec.record(() => [layer(), layer()]);
    const before = calls;
    const [c, d] = rec.replay(() => [layer(), layer()]);
    expect(calls).toBe(before);
    expect(Array.from(await c!.data())).toEqual(Array.from(await a!.data()));
    expect(Array.from(await d!.data())).toEqual(Array.from(await b!.data()));
    expect(Array.from(await c!.data())).not.toEqual(Array.from(await d!.data()));
    for (const t of [a, b, c, d]) t!.dispose();
    rec.dispose();
  });

  it('frees what it saved and leaks nothing through tidy', () => {
    const base = memory().liveTensors;
    const rec = new ReplayRecord();
    tidy(() => {
      rec.record(() => layer());
    });
    expect(rec.size).toBe(1);
    tidy(() => {
      rec.replay(() => layer());
    });
    expect(memory().liveTensors).toBe(base + 1);
    rec.dispose();
    expect(memory().liveTensors).toBe(base);
  });

  it('names the mismatch when a replay asks for more values than were recorded', () => {
    const rec = new ReplayRecord();
    tidy(() => rec.record(() => layer()));
    expect(() => tidy(() => rec.replay(() => [layer(), layer()]))).toThrow(ReformerError);
    expect(() => tidy(() => rec.replay(() => [layer(), layer()]))).toThrow(/only 1 were recorded/);
    rec.dispose();
  });
});

describe('ReplayRecord.values and ReplayRecord.from', () => {
  it("moves a record's state out and back in", async () => {
    const rec = new ReplayRecord();
    const a = rec.record(() => layer());
    const copies = rec.values.map((t) => t);
    const moved = ReplayRecord.from(copies);
    rec.dispose();
    const b = moved.replay(() => layer());
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    a.dispose();
    b.dispose();
    moved.dispose();
  });
});
