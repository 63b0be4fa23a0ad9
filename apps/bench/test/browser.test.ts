/**
 * The browser page in headless Chromium: builds it with Vite's programmatic API, serves the build from
 * a tiny static server, runs a tiny configuration through the page's query flags, and checks that the
 * results, the table and the charts render. Saves a screenshot in test-results/.
 * Chromium: /usr/bin/chromium (tooling/scripts/setup-system.sh installs it), or $CHROMIUM_PATH.
 */
import { createReadStream, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../src/types.js';
import { checkWellFormedXml } from './xml.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(appDir, 'test-results');
const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

let server: Server;
let browser: Browser;
let page: Page;
let base = '';
const pageErrors: string[] = [];

beforeAll(async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'bench-web-'));
  await build({ root: appDir, configFile: join(appDir, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(outDir, path);
    if (!file.startsWith(outDir) || !existsSync(file) || statSync(file).isDirectory()) file = join(outDir, 'index.html');
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('browser page', () => {
  it('runs a tiny configuration and renders the table and the charts', async () => {
    // A generous full-attention budget: this test is about the page, not about skipping slow cases.
    const query =
      'autorun&backends=cpu,wasm,tfjs-cpu,webgpu&variants=full,lsh-1,lsh-2&lengths=64,128&chunk=16&dhead=8&repeats=1&pass=forward&full-budget=600';
    await page.goto(`${base}/?${query}`);
    await page.waitForFunction(() => /^(done|failed)/.test(document.getElementById('status')?.textContent ?? ''), undefined, {
      timeout: 90_000,
    });
    expect(await page.textContent('#status')).toMatch(/^done/);
    const result = (await page.evaluate(() => window.__benchResult)) as BenchResult;
    for (const backend of ['cpu', 'wasm', 'tfjs-cpu']) {
      const rs = result.records.filter((r) => r.backend === backend);
      expect(rs).toHaveLength(3 * 2);
      for (const r of rs) {
        expect(r.status).toBe('ok');
        expect(r.medianMs).toBeGreaterThan(0);
        expect(r.peakBytes).toBeGreaterThan(0);
        if (r.variant === 'full') expect(r.maxAbsError!).toBeLessThan(1e-5);
        else expect(r.meanRelError).not.toBeNull();
      }
    }
    // WebGPU ran on the browser's adapter, or is one row that says why not.
    const gpu = result.records.filter((r) => r.backend === 'webgpu');
    if (gpu.length === 1) expect(gpu[0]!.status === 'unavailable' ? gpu[0]!.reason : 'ran').toBeTruthy();
    else {
      expect(gpu.length).toBe(6);
      for (const r of gpu) expect(r.status, `webgpu ${r.variant} L=${r.length}: ${r.reason ?? ''}`).toBe('ok');
      // With timestamp queries on the adapter, every WebGPU row also carries its GPU time.
      if (/timestamp queries/.test(result.machine.backends.webgpu ?? '')) for (const r of gpu) expect(r.gpuMs).toBeGreaterThan(0);
      else for (const r of gpu) expect(r.gpuMs ?? null).toBeNull();
    }
    // The peer baseline ran in the page too.
    expect(result.records.some((r) => r.kind === 'baseline' && r.status === 'ok')).toBe(true);

    const rows = await page.locator('#table tbody tr').count();
    expect(rows).toBe(result.records.length);
    const svgs = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#charts svg'), (s) => new XMLSerializer().serializeToString(s)),
    );
    expect(svgs.length).toBeGreaterThanOrEqual(3);
    for (const svg of svgs) expect(checkWellFormedXml(svg)).toEqual([]);
    const drawn = await page.evaluate(() => document.querySelectorAll('#charts svg path').length);
    expect(drawn).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: join(resultsDir, 'browser-page.png'), fullPage: true });
  });
});
