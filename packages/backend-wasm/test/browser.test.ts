/**
 * The browser entry in a real browser: headless Chromium (Debian `chromium`, installed by
 * `tooling/scripts/setup-system.sh`), driven by playwright-core, loads a page served from this process
 * with `Cross-Origin-Opener-Policy` / `Cross-Origin-Embedder-Policy` headers (so `SharedArrayBuffer`
 * exists) — the page bundled with esbuild in `beforeAll`, the kernels and the worker script from the
 * package's `dist/`; no network. The page runs a small conformance subset on one and two threads
 * (module Web Workers over a shared memory) against the CPU backend and compares the two bit for bit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WasmKernelFeatures } from '../src/index.js';
import type { CaseResult } from './browser/page.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The package's build output: the kernels and the worker script the browser entry loads next to itself. */
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
/** What makes the page cross-origin isolated (every response carries them, the worker script too). */
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

interface PageResult {
  error?: string;
  crossOriginIsolated?: boolean;
  features?: WasmKernelFeatures[];
  liveBytes?: number[];
  cases?: CaseResult[];
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
  const page = bundle.outputFiles[0]!.text;
  const html = '<!doctype html><meta charset="utf-8"><title>reformer wasm</title><script type="module" src="/page.js"></script>';
  server = createServer((req, res) => {
    const name = (req.url ?? '').slice(1);
    if (name === '') {
      res.writeHead(200, { ...ISOLATION, 'content-type': 'text/html' }).end(html);
    } else if (name === 'page.js') {
      res.writeHead(200, { ...ISOLATION, 'content-type': 'text/javascript' }).end(page);
    } else if (/^[\w-]+\.(js|wasm)$/.test(name)) {
      // the browser entry's siblings: kernels-*.wasm, worker.js and the chunk it imports
      try {
        const type = name.endsWith('.js') ? 'text/javascript' : 'application/wasm';
        res.writeHead(200, { ...ISOLATION, 'content-type': type }).end(readFileSync(join(DIST, name)));
      } catch {
        res.writeHead(404).end();
      }
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  profile = mkdtempSync(join(tmpdir(), 'reformer-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

it('on a cross-origin isolated page, 2 threads (Web Workers) give 1 thread’s bits, and both agree with the CPU backend', async () => {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __reformerResult?: unknown }).__reformerResult !== undefined, undefined, {
    timeout: 120_000,
  });
  const result = (await page.evaluate(() => (window as unknown as { __reformerResult: unknown }).__reformerResult)) as PageResult;
  await page.close();
  expect(result.error, `page error; console:\n${logs.join('\n')}`).toBeUndefined();
  expect(result.crossOriginIsolated).toBe(true);
  const [one, two] = result.features!;
  expect(one).toMatchObject({ threads: 1 });
  expect(two, 'two threads ran, without a threadsNote').toEqual({ ...one, threads: 2 });
  expect(result.cases!.length).toBe(5);
  for (const c of result.cases!) {
    expect(c.maxError, `${c.name}: against the CPU backend`).toBeLessThanOrEqual(c.tol);
    expect(c.sameBits, `${c.name}: 2 threads vs 1`).toBe(true);
  }
  expect(result.liveBytes).toEqual([0, 0]);
}, 180_000);
