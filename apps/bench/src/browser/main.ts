/**
 * The browser page: pick backends, variants and lengths, run the same benchmark as the CLI
 * (runner.ts), and show the table, the findings and the charts. Query parameters take the CLI's flags
 * (`?backends=cpu,webgpu&lengths=256,512&autorun=1`), which is how the Playwright test drives it.
 *
 * @module
 */
import { createCpuBackend } from '@reformer/core';
import { parseArgs, USAGE } from '../args.js';
import { tfjsPlainBaseline } from '../baselines/tfjs.js';
import { modelBenchFrom, type ModelBench, type ModelModule } from '../model.js';
import { buildCharts } from '../report/charts.js';
import { findingsBlocks, type FindingsBlock } from '../report/findings-blocks.js';
import { findings, rowCells, sortRecords, TABLE_COLUMNS } from '../report/markdown.js';
import { describeRecord } from '../progress.js';
import { runBenchmark, type RunEnvironment } from '../runner.js';
import { BACKEND_NAMES, VARIANT_NAMES, type BenchConfig, type BenchResult } from '../types.js';
import { prepareBrowserWasm, startBrowserBackend, tf } from './backends.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

declare global {
  interface Window {
    /** The last finished run (read by the browser test). */
    __benchResult?: BenchResult;
  }
}

/** Query parameters → CLI flags (`?lengths=1k,2k&quick` → `--lengths 1k,2k --quick`). */
function flagsFromQuery(search: string): string[] {
  const argv: string[] = [];
  for (const [k, v] of new URLSearchParams(search)) {
    if (k === 'autorun') continue;
    argv.push(`--${k}`);
    if (v !== '') argv.push(v);
  }
  return argv;
}

function checkboxes(containerId: string, names: readonly string[], checked: readonly string[]): void {
  const box = $(containerId);
  for (const n of names) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.value = n;
    input.checked = checked.includes(n);
    label.append(input, ` ${n}`);
    box.append(label);
  }
}

const checked = (containerId: string) => Array.from($(containerId).querySelectorAll<HTMLInputElement>('input:checked'), (i) => i.value);

/** The configuration the form describes (validated by the CLI's parser). */
function configFromForm(base: BenchConfig): BenchConfig {
  const argv = [
    '--backends',
    checked('backends').join(','),
    '--variants',
    checked('variants').join(','),
    '--lengths',
    $<HTMLInputElement>('lengths').value,
    '--pass',
    $<HTMLSelectElement>('pass').value,
    '--repeats',
    $<HTMLInputElement>('repeats').value,
    '--chunk',
    String(base.chunkLength),
    '--dhead',
    String(base.dHead),
    '--heads',
    String(base.heads),
    '--batch',
    String(base.batch),
  ];
  if (!$<HTMLInputElement>('baselines').checked) argv.push('--no-baselines');
  if (!$<HTMLInputElement>('model').checked) argv.push('--no-model');
  const c = parseArgs(argv).config;
  return { ...c, caseBudgetMs: base.caseBudgetMs, fullBudgetMs: base.fullBudgetMs, warmup: base.warmup, quick: base.quick };
}

function renderTable(result: BenchResult): void {
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const h of TABLE_COLUMNS) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const body = table.createTBody();
  for (const r of sortRecords(result.records)) {
    const tr = body.insertRow();
    tr.className = r.status;
    rowCells(r).forEach((c, i) => {
      const td = tr.insertCell();
      td.textContent = c;
      if (i >= 4 && i <= 10) td.className = 'num';
    });
  }
  $('table').replaceChildren(table);
  $('findings').replaceChildren(...findingsBlocks(findings(result.records)).map(renderBlock));
  $('charts').innerHTML = buildCharts(result.records)
    .map((c) => c.svg)
    .join('\n');
}

async function run(config: BenchConfig): Promise<void> {
  const status = $('status');
  const log = $('log');
  log.textContent = '';
  status.textContent = 'running…';
  $<HTMLButtonElement>('run').disabled = true;
  let stopRequested = false;
  const stopButton = $<HTMLButtonElement>('stop');
  stopButton.disabled = false;
  stopButton.onclick = () => {
    stopRequested = true;
    status.textContent = 'stopping after the current case…';
  };
  let model: ModelBench | undefined;
  if (config.model) {
    try {
      const mod: ModelModule = await import('@reformer/model');
      model = modelBenchFrom(mod);
    } catch (err) {
      model = modelBenchFrom(undefined, `@reformer/model could not be loaded (${String(err)})`);
    }
  }
  let cpu: ReturnType<typeof createCpuBackend> | undefined;
  const env: RunEnvironment = {
    startBackend: startBrowserBackend,
    baselines: [tfjsPlainBaseline(tf, 'wasm', prepareBrowserWasm)],
    model,
    referenceBackend: () => (cpu ??= createCpuBackend()),
  };
  const startedAt = new Date();
  try {
    const out = await runBenchmark(config, env, {
      onProgress: (e) => {
        if (e.type === 'case') status.textContent = `running ${e.done}/${e.total}: ${e.label}`;
        else if (e.type === 'record') log.textContent += `${describeRecord(e.record)}\n`;
        else if (e.type === 'info') log.textContent += `${e.message}\n`;
      },
      shouldStop: () => stopRequested,
    });
    const finishedAt = new Date();
    const result: BenchResult = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      interrupted: out.interrupted,
      wallSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      config,
      machine: {
        cpuModel: 'browser (CPU model not exposed)',
        cores: navigator.hardwareConcurrency,
        platform: navigator.platform,
        runtime: navigator.userAgent,
        backends: out.backendInfo,
        packages: {},
      },
      records: out.records,
    };
    $('machine').textContent = Object.entries(out.backendInfo)
      .map(([k, v]) => `${k}: ${v}`)
      .join(' · ');
    renderTable(result);
    window.__benchResult = result;
    status.textContent = `done${out.interrupted ? ' (stopped: partial results)' : ''}: ${out.records.length} records in ${result.wallSeconds.toFixed(1)} s`;
  } catch (err) {
    status.textContent = `failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    $<HTMLButtonElement>('run').disabled = false;
    stopButton.disabled = true;
  }
}

function main(): void {
  let base: BenchConfig;
  try {
    base = parseArgs(flagsFromQuery(location.search)).config;
  } catch (err) {
    $('status').textContent = `bad query: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`;
    return;
  }
  base.model = new URLSearchParams(location.search).has('model-lengths');
  checkboxes('backends', BACKEND_NAMES, base.backends);
  checkboxes('variants', VARIANT_NAMES, base.variants);
  $<HTMLInputElement>('lengths').value = base.lengths.join(',');
  $<HTMLSelectElement>('pass').value = base.passes.length === 2 ? 'both' : base.passes[0]!;
  $<HTMLInputElement>('repeats').value = String(base.repeats);
  $<HTMLInputElement>('baselines').checked = base.baselines;
  $<HTMLInputElement>('model').checked = base.model;
  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    let config: BenchConfig;
    try {
      config = configFromForm(base);
    } catch (err) {
      $('status').textContent = err instanceof Error ? err.message : String(err);
      return;
    }
    void run(config);
  });
  if (new URLSearchParams(location.search).has('autorun')) void run(configFromForm(base));
}

main();

/** One findings block as DOM nodes (text through textContent only). */
function renderBlock(block: FindingsBlock): HTMLElement {
  if (block.kind === 'list') {
    const ul = document.createElement('ul');
    for (const item of block.items) ul.appendChild(document.createElement('li')).textContent = item;
    return ul;
  }
  const p = document.createElement('p');
  if (block.strong) p.appendChild(document.createElement('strong')).textContent = block.strong;
  p.append(block.strong && block.rest ? ` ${block.rest}` : block.rest);
  return p;
}
