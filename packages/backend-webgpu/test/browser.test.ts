/**
 * WebGPU in a real browser: headless Chromium (Debian `chromium`, its SwiftShader WebGPU adapter),
 * driven by playwright-core, loads a page served from this process (bundled with esbuild in
 * `beforeAll`; no network) that runs kernel checks and an LSH attention forward/backward on WebGPU and
 * compares them with the CPU backend computed in the same page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SubgroupReport } from './browser/page.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface PageResult {
  error?: string;
  adapter?: { description: string; backend?: string };
  checks?: { name: string; maxError: number; tol: number }[];
  liveBytesAfter?: number;
  hasTimestamps?: boolean;
  timestampMs?: number;
  kernelFeatures?: { reduceMode: string; subgroupsAvailable: boolean; shaderF16Available: boolean; matmulPrecision: string };
  subgroups?: SubgroupReport;
}

let server: Server;
let browser: BrowserContext;
let profile: string;
let url: string;

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./browser/page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.text;
  const html = '<!doctype html><meta charset="utf-8"><title>reformer webgpu</title><script type="module" src="/page.js"></script>';
  server = createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  profile = mkdtempSync(join(tmpdir(), 'reformer-chromium-'));
  // A fresh, empty profile directory (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

it('kernels and LSH attention forward/backward on the browser adapter agree with the CPU backend', async () => {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __reformerResult?: unknown }).__reformerResult !== undefined, undefined, {
    timeout: 240_000,
  });
  const result = (await page.evaluate(() => (window as unknown as { __reformerResult: unknown }).__reformerResult)) as PageResult;
  await page.close();
  expect(result.error, `page error; console:\n${logs.join('\n')}`).toBeUndefined();
  expect(result.adapter?.backend).toBe('navigator.gpu');
  const checks = result.checks ?? [];
  expect(checks.map((c) => c.name)).toEqual(
    expect.arrayContaining(['lshAttention forward and backward (causal false)', 'lshAttention forward and backward (causal true)']),
  );
  expect(checks.length).toBe(10);
  for (const c of checks) expect(c.maxError, c.name).toBeLessThanOrEqual(c.tol);
  expect(result.liveBytesAfter).toBe(0);
  // Chromium's adapter offers timestamp-query: the benchmark's GPU timing path works there.
  expect(result.hasTimestamps).toBe(true);
  expect(Number.isFinite(result.timestampMs)).toBe(true);
  expect(result.timestampMs!).toBeGreaterThanOrEqual(0);

  // SwiftShader offers `subgroups` (size 4) and WGSL's `subgroup_id`, but not `shader-f16`: the default
  // backend (which ran the checks above) uses the subgroup variants of the reductions.
  expect(result.kernelFeatures).toEqual({
    reduceMode: 'subgroup',
    subgroupsAvailable: true,
    shaderF16Available: false,
    matmulPrecision: 'f32',
  });
  const sg = result.subgroups!;
  // The three reduce paths on the same adapter, each against the CPU backend.
  expect(sg.paths.map((p) => [p.path, p.reduceMode])).toEqual([
    ['tree', 'tree'],
    ['subgroup', 'subgroup'],
    ['subgroupSlots', 'subgroupSlots'],
  ]);
  // Six cases (one of rows with NaN: SwiftShader's max/min drop NaN, the kernels test it by its bits).
  expect(sg.checks.length).toBe(6 * 3);
  for (const c of sg.checks) expect(c.maxError, `${c.name} (${c.path})`).toBeLessThanOrEqual(c.tol);
  // Subgroup paths against the tree path: max/min/argMax and int32 sums identical; float sums differ
  // only by summation order (the same tolerance as against the CPU).
  expect(sg.exactMismatches).toEqual([]);
  for (const d of sg.subgroupVsTree)
    expect(d.maxDiff, `${d.name} (${d.path} vs tree)`).toBeLessThanOrEqual(sg.checks.find((c) => c.name === d.name)!.tol);
  // Every path is deterministic run to run.
  expect(sg.nondeterministic).toEqual([]);
  // The subgroup pipelines were the ones used: no subgroup dispatch on the tree path, and on the
  // subgroup paths every reducing kernel compiled in its subgroup variant (argMax stays a tree).
  const [tree, sub, slots] = sg.paths;
  expect(tree!.subgroupDispatches).toBe(0);
  expect(tree!.pipelineKeys.filter((k) => /:subgroup/.test(k))).toEqual([]);
  for (const p of [sub!, slots!]) {
    expect(p.subgroupDispatches, p.path).toBeGreaterThanOrEqual(20);
    for (const kernel of [
      'reduce:sum:f32',
      'reduce:max:i32',
      'softmax',
      'logSumExp',
      'layerNorm',
      'layerNormDx',
      'layerNormDGamma',
      'crossEntropy',
    ]) {
      expect(
        p.pipelineKeys.some((k) => k.startsWith(`${kernel}:`) && k.endsWith(`:${p.path}`)),
        `${p.path}: ${kernel}`,
      ).toBe(true);
    }
    expect(p.pipelineKeys.filter((k) => k.endsWith(':tree') && !k.startsWith('reduce:argMax:'))).toEqual([]);
  }
}, 300_000);
