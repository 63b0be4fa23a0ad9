/**
 * `--wasm-threads` reaches the wasm backend (kernels suite, attention run) and the threads suite runs at a
 * tiny size with 2 threads and produces rows. Behaviour, not speed: no timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { kernelCases, kernelsReport, parseKernelsArgs, runKernelsSuite } from '../src/suites/kernels.js';
import { parseThreadsArgs, runThreadsSuite, threadsColumns, type ThreadsEnvironment } from '../src/suites/threads.js';
import { formatReport, type SuiteContext } from '../src/suites/suite.js';
import { nodeBackendStarter, startNodeBackend, withWasmThreads } from '../src/node/backends.js';
import { nodeCpuClocks, nodeThreadsEnvironment, runNodeSuite } from '../src/node/suites.js';
import type { RunEnvironment } from '../src/runner.js';

const ctx: SuiteContext = { startBackend: startNodeBackend, log: () => {} };
const noEnvironment = (): Promise<RunEnvironment> => Promise.reject(new Error('not needed by these suites'));

describe('--wasm-threads', () => {
  it('starts the wasm backend with the asked thread count; one thread by default; other backends unchanged', async () => {
    for (const [start, threads] of [
      [startNodeBackend, 1],
      [nodeBackendStarter({ wasmThreads: 2 }), 2],
      [withWasmThreads(startNodeBackend, 2), 2],
    ] as const) {
      const { backend, info } = await start('wasm');
      expect((backend as unknown as { kernelFeatures: { threads: number } }).kernelFeatures.threads).toBe(threads);
      expect(info).toContain(threads === 1 ? 'one thread' : `${threads} threads`);
      backend.dispose?.();
    }
    const cpu = await withWasmThreads(startNodeBackend, 2)('cpu');
    expect(cpu.info).toMatch(/reference CPU backend/);
  }, 60_000);

  it('kernels suite with --wasm-threads 2: the wasm rows run on a 2-thread backend', async () => {
    const argv = ['--backends', 'wasm', '--no-peers', '--sizes', '8', '--batched', '2', '--elements', '64', '--slots', '128'];
    const o = parseKernelsArgs([...argv, '--repeats', '1', '--warmup', '0', '--wasm-threads', '2']);
    const out = await runNodeSuite('kernels', [...argv, '--repeats', '1', '--warmup', '0', '--wasm-threads', '2'], ctx, noEnvironment);
    const text = formatReport(out.report!);
    expect(text).toMatch(/wasm: @reformer\/backend-wasm \(.*\), 2 threads/);
    const rows = out.report!.tables[0]!.rows;
    expect(rows).toHaveLength(kernelCases(o).length);
    for (const row of rows) {
      expect(row.note).toBe('');
      expect(row.figure).toBeGreaterThan(0);
    }
    // Without the flag the same suite reports one thread.
    const one = await runKernelsSuite(parseKernelsArgs([...argv, '--repeats', '1', '--warmup', '0']), ctx);
    expect(one.info.join('\n')).toMatch(/wasm: .*one thread/);
  }, 120_000);
});

describe('kernels --cpu-time', () => {
  it("times every case by the context's CPU clock, and says so; without a clock it is a clear error", async () => {
    const o = parseKernelsArgs([
      '--backends',
      'cpu',
      '--no-peers',
      '--sizes',
      '8',
      '--batched',
      '2',
      '--elements',
      '64',
      '--slots',
      '128',
      '--repeats',
      '2',
      '--cpu-time',
    ]);
    expect(o.cpuTime).toBe(true);
    let t = 0;
    const fakeClock = () => (t += 2.5); // every reading 2.5 ms later: each timed run reads it twice
    const data = await runKernelsSuite(o, { ...ctx, cpuClockMs: fakeClock });
    expect(data.rows).toHaveLength(kernelCases(o).length);
    for (const row of data.rows) expect(row.ms).toBe(2.5);
    expect(kernelsReport(o, data).title).toContain('CPU time of the process');
    expect(kernelsReport(parseKernelsArgs([]), data).title).toContain('wall time');
    await expect(runKernelsSuite(o, ctx)).rejects.toThrow(/--cpu-time: this runtime has no CPU clock/);
  }, 60_000);
});

describe('--suite threads', () => {
  it('runs 1 vs 2 threads at a tiny size: one row per case, every timing measured, speed-up = ratio of medians', async () => {
    const o = parseThreadsArgs(['--wasm-threads', '2', '--lengths', '128', '--size', '16', '--rounds', '2']);
    const report = await runThreadsSuite(o, ctx, nodeThreadsEnvironment);
    const table = report.tables[0]!;
    expect(table.columns).toEqual(threadsColumns(2));
    expect(table.rows.map((r) => r.case)).toEqual(['LSH-4 forward, L 128', 'LSH-4 forward+backward, L 128', 'matmul 16³']);
    const threadClock = Number.isFinite(nodeCpuClocks.threadMs());
    for (const row of table.rows) {
      for (const col of table.columns.slice(1, 8)) {
        expect(typeof row[col]).toBe('number');
        expect(row[col] as number).toBeGreaterThanOrEqual(0);
      }
      expect(row['1 thread wall ms (min)'] as number).toBeLessThanOrEqual(row['1 thread wall ms (median)'] as number);
      expect(row['2 threads wall ms (min)'] as number).toBeLessThanOrEqual(row['2 threads wall ms (median)'] as number);
      expect(row['wall speed-up (median)']).toBeCloseTo(
        (row['1 thread wall ms (median)'] as number) / (row['2 threads wall ms (median)'] as number),
        9,
      );
      if (threadClock) expect(typeof row['2 threads calling-thread CPU ms']).toBe('number');
      else expect(row['2 threads calling-thread CPU ms']).toBeNull();
    }
    expect(report.title).toMatch(/1 thread vs 2 threads, 2 interleaved rounds/);
    expect(report.title).toMatch(/2: @reformer\/backend-wasm .*2 threads/);
  }, 120_000);

  it('fails with a clear error when the backend starts with another thread count than asked', async () => {
    const env: ThreadsEnvironment = {
      ...nodeThreadsEnvironment,
      startWasm: async () => ({ ...(await nodeThreadsEnvironment.startWasm(1)), threads: 1 }),
    };
    await expect(runThreadsSuite(parseThreadsArgs(['--wasm-threads', '3', '--lengths', '128', '--size', '8']), ctx, env)).rejects.toThrow(
      /--wasm-threads 3: the wasm backend started with 1 thread/,
    );
  }, 60_000);
});
