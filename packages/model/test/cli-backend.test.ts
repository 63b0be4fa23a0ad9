// --backend wasm|cpu and --threads of reformer-train and reformer-generate: the built CLI in a subprocess
// (as users run it) and main() in this process (to see the backend freed and the previous one restored).
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getBackend } from '@reformer/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { generateMain } from '../src/generate-cli.js';
import { ReformerModelWithLMHead } from '../src/index.js';
import { saveModel } from '../src/node.js';
import { TINY_MODEL_FLAGS, cliPath, cliTempDir, runCli, withFlags, type CliRun } from './cli-run.js';
import { tinyConfig } from './helpers.js';

const tempDir = cliTempDir('reformer-cli-backend-');
/** A 3-step run of the tiny model; `over` (`[flag, value, ...]`) replaces or adds flags. */
const train = (over: string[]) => withFlags(['duplication', ...TINY_MODEL_FLAGS, '--vocab', '8', '--steps', '3', '--log-every', '1'], over);
const generateBin = fileURLToPath(new URL('../bin/reformer-generate.js', import.meta.url));

/** The losses of the `step k/n` lines, in order. */
function losses(stdout: string): number[] {
  return [...stdout.matchAll(/^step +\d+\/\d+ +loss (\S+) /gm)].map((m) => Number(m[1]));
}

/** Runs `node [nodeArgs] file [args]` to completion. */
function runNode(nodeArgs: string[], file: string, args: string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, file, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** The wasm backend's dispose, spied on (the package is a peer dependency, imported by name at run time). */
async function spyOnWasmDispose() {
  const specifier = '@reformer/backend-wasm/node';
  const { WasmBackend } = (await import(/* @vite-ignore */ specifier)) as { WasmBackend: { prototype: { dispose(): void } } };
  return vi.spyOn(WasmBackend.prototype, 'dispose');
}

const sink = () => {
  let text = '';
  return { write: (s: string) => (text += s), text: () => text };
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('reformer-train --backend', () => {
  it('trains on wasm by default (threads: the machine cores) and on the reference with --backend cpu; the losses agree', async () => {
    const wasm = await runCli(train(['--out', join(tempDir(), 'wasm')]), tempDir());
    const cpu = await runCli(train(['--backend', 'cpu', '--out', join(tempDir(), 'cpu')]), tempDir());
    for (const r of [wasm, cpu]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(losses(r.stdout)).toHaveLength(3);
      for (const l of losses(r.stdout)) expect(Number.isFinite(l)).toBe(true);
    }
    const cores = availableParallelism();
    expect(wasm.stdout).toMatch(
      new RegExp(`^backend: wasm \\((relaxed-)?simd kernels, ${cores === 1 ? 'one thread' : `${cores} threads`}\\)$`, 'm'),
    );
    expect(cpu.stdout).toMatch(/^backend: cpu \(the TypeScript reference backend, one thread\)$/m);
    // Same seed, same data and weights: the wasm losses are the reference's to the printed 4 decimals (± 1 in the last).
    const ref = losses(cpu.stdout);
    losses(wasm.stdout).forEach((l, i) => expect(Math.abs(l - ref[i]!)).toBeLessThanOrEqual(1.00001e-4));
  });

  it('--threads sets the wasm thread count', async () => {
    const r = await runCli(train(['--threads', '1', '--steps', '1', '--out', join(tempDir(), 'one')]), tempDir());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^backend: wasm \((relaxed-)?simd kernels, one thread\)$/m);
  });

  it('falls back to cpu with one line on stderr when the engine has no WebAssembly SIMD', async () => {
    // An engine without SIMD validates no SIMD module: that is what the wasm backend asks the engine.
    const noSimd = join(tempDir(), 'no-simd.mjs');
    await writeFile(noSimd, 'WebAssembly.validate = () => false;\n');
    const r = await runNode(['--import', noSimd], cliPath, train(['--out', join(tempDir(), 'fallback')]), tempDir());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^reformer-train: the wasm backend cannot start \(backend-wasm: this JavaScript engine has no WebAssembly SIMD128 .*\); running on the cpu reference backend instead\n$/,
    );
    expect(r.stdout).toMatch(/^backend: cpu \(/m);
    expect(losses(r.stdout)).toHaveLength(3);
  });

  it.each([
    [['--backend', 'gpu'], /--backend must be one of wasm, cpu, got 'gpu'/],
    [['--backend', ''], /--backend must be one of wasm, cpu, got ''/],
    [['--threads', '0'], /--threads must be a decimal integer ≥ 1, got '0'/],
    [['--threads', '2.5'], /--threads must be a decimal integer ≥ 1, got '2.5'/],
    [['--backend', 'cpu', '--threads', '2'], /--threads is for --backend wasm/],
  ])('rejects %j with exit status 2 and the usage text', async (flags, message) => {
    const r = await runCli(train(flags), tempDir());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: reformer-train <task> [flags]');
    expect(r.stderr).toContain('--backend NAME');
  });

  it('frees the wasm backend and restores the previous backend when the run ends, is interrupted or fails', async () => {
    const dispose = await spyOnWasmDispose();
    const before = getBackend();
    const err = sink();

    const done = sink();
    expect(await main(train(['--out', join(tempDir(), 'in-process')]), done, err)).toBe(0);
    expect(done.text()).toMatch(/^backend: wasm /m);
    expect(dispose).toHaveBeenCalledTimes(1);
    expect(getBackend()).toBe(before);

    // Ctrl-C after step 1: the SIGINT handler the CLI installs (called here directly, so that no other
    // listener of this test process hears it) stops the run after the step (exit 130).
    const others = new Set(process.listeners('SIGINT'));
    let sent = false;
    const interrupted = {
      write: (s: string) => {
        if (!sent && /^step +1\//.test(s)) {
          sent = true;
          const handlers = process.listeners('SIGINT').filter((l) => !others.has(l));
          expect(handlers).toHaveLength(1);
          handlers[0]!('SIGINT');
        }
      },
    };
    expect(await main(train(['--steps', '1000', '--out', join(tempDir(), 'interrupted')]), interrupted, err)).toBe(130);
    expect(dispose).toHaveBeenCalledTimes(2);
    expect(getBackend()).toBe(before);

    // An error in the middle of training (here: the output stream fails) propagates after the cleanup.
    const failing = {
      write: (s: string) => {
        if (/^step +2\//.test(s)) throw new Error('stdout closed');
      },
    };
    await expect(main(train(['--out', join(tempDir(), 'failed')]), failing, err)).rejects.toThrow('stdout closed');
    expect(dispose).toHaveBeenCalledTimes(3);
    expect(getBackend()).toBe(before);
    expect(err.text()).toContain('interrupted; stopping after this step');
  });
});

describe('reformer-generate --backend', () => {
  it('generates the same text on wasm (default) and cpu, frees the backend, and rejects a bad --backend', async () => {
    const dir = join(tempDir(), 'generate-model');
    const model = new ReformerModelWithLMHead(tinyConfig({ vocab_size: 256, axial_pos_shape: [8, 8] }), { seed: 2 });
    await saveModel(dir, model);
    model.dispose();
    const args = ['--model', dir, '--prompt', 'Hi', '--max-new-tokens', '6', '--temperature', '0', '--tokenizer', 'bytes'];
    const wasm = await runNode([], generateBin, args, tempDir());
    const cpu = await runNode([], generateBin, [...args, '--backend', 'cpu'], tempDir());
    expect(wasm.stderr).toBe('');
    expect(cpu.stderr).toBe('');
    expect(wasm.code).toBe(0);
    expect(cpu.code).toBe(0);
    expect(wasm.stdout).toMatch(/^Hi/);
    expect(wasm.stdout).toBe(cpu.stdout);

    const dispose = await spyOnWasmDispose();
    const before = getBackend();
    const out = sink();
    expect(await generateMain(args, out, sink())).toBe(0);
    expect(out.text()).toBe(cpu.stdout);
    expect(dispose).toHaveBeenCalledTimes(1);
    expect(getBackend()).toBe(before);

    const bad = await runNode([], generateBin, [...args, '--backend', 'webgl'], tempDir());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backend must be one of wasm, cpu, got 'webgl'/);
    expect(bad.stderr).toContain('Usage: reformer-generate');
  });
});
