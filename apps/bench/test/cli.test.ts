/** The built CLI end to end (run `pnpm --filter bench build` first; turbo does it before `test`). */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath as cli, runBenchCli } from './run-cli.js';
import { checkWellFormedXml } from './xml.js';

const run = runBenchCli;

describe('reformer-bench CLI', () => {
  it('exits 2 with the usage text naming the bad value', async () => {
    const r = await run(['--variants', 'full,lsh-5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown value 'lsh-5'");
    expect(r.stderr).toContain('Usage:');
  });

  it('--wasm-threads 2 runs the attention variants on a 2-thread wasm backend and records it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    const r = await run([
      '--backends',
      'wasm',
      '--variants',
      'local,lsh-1',
      '--lengths',
      '128',
      '--chunk',
      '16',
      '--dhead',
      '8',
      '--repeats',
      '1',
      '--no-model',
      '--no-baselines',
      '--wasm-threads',
      '2',
      '--json',
      join(dir, 'out.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(doc.config.wasmThreads).toBe(2);
    expect(JSON.stringify(doc.machine.backends)).toMatch(/backend-wasm .*2 threads/);
    expect(doc.records.filter((x: { backend: string; status?: string }) => x.backend === 'wasm').length).toBeGreaterThan(0);
  });

  it('turns on relaxed SIMD for the wasm kernels where the engine has it behind a flag; --plain-simd keeps the default', async () => {
    const tiny = ['--backends', 'wasm', '--variants', 'lsh-1', '--lengths', '128', '--chunk', '16', '--dhead', '8', '--repeats', '1'];
    const args = [...tiny, '--pass', 'forward', '--no-model', '--no-baselines'];
    const on = await run(args);
    expect(on.code, on.stderr).toBe(0);
    // Node 20 validates relaxed SIMD only with the flag; newer engines have it on by default
    expect(on.stdout).toMatch(
      /wasm: @reformer\/backend-wasm \(relaxed-simd kernels; relaxed SIMD: (V8 flag set by the bench|engine default)\)/,
    );
    const plain = await run(['--plain-simd', ...args]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/wasm: @reformer\/backend-wasm \((relaxed-)?simd kernels; relaxed SIMD: off \(--plain-simd\)\)/);
    if (process.versions.node.startsWith('20.')) expect(plain.stdout).toContain('(simd kernels;');
  });

  it('--suite threads at a tiny size prints the 1 vs 2 threads table', async () => {
    const r = await run(['--suite', 'threads', '--wasm-threads', '2', '--lengths', '128', '--size', '16', '--rounds', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 thread vs 2 threads');
    expect(r.stdout).toMatch(/\| LSH-4 forward\+backward, L 128 +\|/);
    expect(r.stdout).toMatch(/\| matmul 16³ +\|/);
  });

  it('runs a tiny configuration and writes JSON, markdown and SVG charts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    const r = await run([
      '--backends',
      'cpu,webgpu',
      '--variants',
      'full,lsh-1,lsh-2',
      '--lengths',
      '64,128',
      '--chunk',
      '16',
      '--dhead',
      '8',
      '--repeats',
      '1',
      '--no-model',
      '--json',
      join(dir, 'out.json'),
      '--markdown',
      join(dir, 'out.md'),
      '--svg',
      join(dir, 'svg'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('| backend');
    const doc = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(doc.schema).toBe('reformer-bench/1');
    expect(doc.machine.cores).toBeGreaterThan(0);
    expect(doc.machine.cpuModel).toBeTruthy();
    expect(doc.machine.packages['@reformer/lsh']).toMatch(/\d+\.\d+\.\d+/);
    const cpu = doc.records.filter((x: { backend: string }) => x.backend === 'cpu');
    expect(cpu).toHaveLength(3 * 2 * 2);
    // webgpu either ran or is one row that says why not.
    const gpu = doc.records.filter((x: { backend: string }) => x.backend === 'webgpu');
    expect(gpu.length === 1 ? gpu[0].status : 'ran').toMatch(/unavailable|ran/);
    // Peer baselines ran on the same inputs, labelled as peers.
    expect(doc.records.some((x: { kind: string; status: string }) => x.kind === 'baseline' && x.status === 'ok')).toBe(true);
    const md = readFileSync(join(dir, 'out.md'), 'utf8');
    expect(md).toContain('(peer)');
    expect(md).toContain('](svg/time-cpu-forward.svg)'); // chart links relative to the markdown file
    const svgs = readdirSync(join(dir, 'svg'));
    expect(svgs).toContain('time-cpu-forward.svg');
    expect(svgs).toContain('accuracy-cpu.svg');
    for (const f of svgs) expect(checkWellFormedXml(readFileSync(join(dir, 'svg', f), 'utf8'))).toEqual([]);
  });

  it('Ctrl-C prints the table of what finished so far and exits 130', async () => {
    const lengths = '64,128,256,512,1k,2k,4k,8k,16k,32k';
    const child = spawn(
      process.execPath,
      [cli, '--backends', 'cpu', '--variants', 'lsh-1,lsh-2', '--lengths', lengths, '--chunk', '16', '--no-baselines', '--no-model'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /\[2\/\d+\]/.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(stdout).toContain('interrupted');
    const rows = stdout.split('\n').filter((l) => l.startsWith('| cpu'));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.length).toBeLessThan(2 * 2 * lengths.split(',').length);
  });
});
