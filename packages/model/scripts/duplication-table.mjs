#!/usr/bin/env node
// The Reformer paper's Table 2 (Kitaev et al. 2020, §5) at a small scale: accuracy on the duplication
// task (0 w 0 w) of 1-layer models trained with full attention, LSH-1, LSH-2 and LSH-4, each evaluated
// with full attention and with 8, 4, 2 and 1 hash rounds.
//
// "Full attention" is the paper's shared-QK full attention: the same LSH layer (shared query/key,
// keys unit-normalised, self-exclusion) with lsh_attn_chunk_length ≥ the sequence length, where the
// layer attends over all positions without hashing (Hugging Face semantics). So every model has the same
// parameters (query_key, value, ...) and any of them is evaluated in any column by rebuilding it with
// that column's chunk length and loading its state dict.
//
// Run after `pnpm --filter @reformer/model build`, from packages/model:
//   node scripts/duplication-table.mjs --steps 600 --batch 8 --lr 2e-3 --warmup 100 --eval-every 100 --parallel 2 --out /tmp/table.md
// The four trainings run in `--parallel` child processes (the CPU backend uses one core each); each
// writes <dir>/result-<row>.json, the parent <dir>/report.json and (with --out) a Markdown report.
// `--render <dir> --out FILE` re-renders the Markdown from an earlier run's report.json.
import { fork } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Adam, cosineSchedule } from '@reformer/core';
import { ReformerModelWithLMHead, duplicationTask, train } from '@reformer/model';
import { saveModel } from '@reformer/model/node';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '8' },
    lr: { type: 'string', default: '2e-3' },
    warmup: { type: 'string', default: '100' },
    length: { type: 'string', default: '256' },
    vocab: { type: 'string', default: '64' },
    'd-model': { type: 'string', default: '128' },
    heads: { type: 'string', default: '4' },
    chunk: { type: 'string', default: '32' },
    'eval-batches': { type: 'string', default: '4' },
    'eval-batch-size': { type: 'string', default: '16' },
    'eval-every': { type: 'string', default: '100' },
    parallel: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    rows: { type: 'string', default: 'full,1,2,4' },
    cols: { type: 'string', default: 'full,8,4,2,1' },
    dir: { type: 'string', default: '/tmp/reformer-duplication' },
    out: { type: 'string' },
    render: { type: 'string' },
    job: { type: 'string' },
  },
});
const num = (name) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v)) throw new Error(`--${name}: not a number: ${args[name]}`);
  return v;
};
const length = num('length');
const vocab = num('vocab');
const dModel = num('d-model');
const heads = num('heads');
const chunk = num('chunk');
const seed = num('seed');

/** The model config of a row or column: 'full' = chunk ≥ length (no hashing), k = LSH with k rounds. */
function config(kind) {
  const full = kind === 'full';
  return {
    attn_layers: ['lsh'],
    is_decoder: true,
    hidden_size: dModel,
    num_attention_heads: heads,
    attention_head_size: dModel / heads,
    feed_forward_size: 2 * dModel,
    axial_pos_embds: false,
    max_position_embeddings: length,
    vocab_size: vocab,
    lsh_attn_chunk_length: full ? length : chunk,
    num_hashes: full ? 1 : Number(kind),
    num_buckets: 2 * (length / chunk),
    hidden_dropout_prob: 0,
    lsh_attention_probs_dropout_prob: 0,
    local_attention_probs_dropout_prob: 0,
    pad_token_id: 0,
    eos_token_id: null,
  };
}
const label = (kind) => (kind === 'full' ? 'full' : `LSH-${kind}`);

async function job(kind) {
  const steps = num('steps');
  const task = duplicationTask({ length, vocabSize: vocab, seed, evalBatchSize: num('eval-batch-size'), evalBatches: num('eval-batches') });
  const model = new ReformerModelWithLMHead(config(kind), { seed });
  const lr = cosineSchedule({ peak: num('lr'), warmupSteps: num('warmup'), totalSteps: steps, minLr: num('lr') / 10 });
  const optimizer = new Adam(model.namedParameters(), { lr });
  const curve = [];
  const t0 = performance.now();
  await train({
    model,
    optimizer,
    data: task,
    batchSize: num('batch'),
    steps,
    seed,
    clipNorm: 1,
    evalEvery: num('eval-every'),
    evaluate: (m) => task.evaluate(m, { batches: 1, seed: 12345 }),
    progressEvery: 10,
    onProgress: (p) => {
      const e = p.eval ? ` eval loss ${p.eval.loss.toFixed(4)} acc ${(100 * p.eval.accuracy).toFixed(2)}%` : '';
      console.log(
        `[${label(kind)}] step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} |g| ${p.gradNorm.toFixed(3)} lr ${p.lr.toExponential(2)} ${Math.round(p.tokensPerSecond)} tok/s eta ${Math.round(p.etaSeconds)}s${e}`,
      );
      if (p.eval) curve.push({ step: p.step, loss: p.eval.loss, accuracy: p.eval.accuracy });
    },
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  await saveModel(join(args.dir, `trained-${kind}`), model);
  const weights = model.stateDict();
  const evals = {};
  for (const col of args.cols.split(',')) {
    const evalModel = new ReformerModelWithLMHead(config(col), { seed });
    evalModel.loadStateDict(weights);
    const t1 = performance.now();
    const m = await task.evaluate(evalModel, { seed: 777, ...(col === 'full' ? {} : { nHashes: Number(col) }) });
    evals[col] = { ...m, seconds: (performance.now() - t1) / 1000 };
    console.log(`[${label(kind)}] eval ${label(col)}: loss ${m.loss.toFixed(4)} accuracy ${(100 * m.accuracy).toFixed(2)}%`);
    evalModel.dispose();
  }
  const result = { kind, steps, trainSeconds, curve, evals };
  await writeFile(join(args.dir, `result-${kind}.json`), JSON.stringify(result, null, 2));
}

async function main() {
  const started = Date.now();
  await mkdir(args.dir, { recursive: true });
  const rows = args.rows.split(',');
  const cols = args.cols.split(',');
  // Most expensive first (full attention costs about as much as LSH-3 here), so the workers finish together.
  const cost = (kind) => (kind === 'full' ? 3 : Number(kind));
  const queue = [...rows].sort((a, b) => cost(b) - cost(a));
  const parallel = Math.max(1, num('parallel'));
  const script = new URL(import.meta.url).pathname;
  const forwarded = process.argv.slice(2).filter((a, i, all) => a !== '--job' && all[i - 1] !== '--job');
  const runOne = (kind) =>
    new Promise((ok, fail) => {
      const child = fork(script, [...forwarded, '--job', kind], { stdio: 'inherit' });
      child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`job ${kind} exited with ${code}`))));
    });
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (queue.length > 0) await runOne(queue.shift());
    }),
  );
  const wall = (Date.now() - started) / 1000;
  const results = await Promise.all(rows.map(async (r) => JSON.parse(await readFile(join(args.dir, `result-${r}.json`), 'utf8'))));
  const cpu =
    (await readFile('/proc/cpuinfo', 'utf8').catch(() => '')).match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const report = {
    command: `node scripts/duplication-table.mjs ${process.argv.slice(2).join(' ')}`,
    wallSeconds: wall,
    cpu,
    cores: cpus().length,
    loadAverage: loadavg(),
    settings: {
      length,
      vocab,
      dModel,
      heads,
      chunk,
      seed,
      steps: num('steps'),
      batch: num('batch'),
      lr: num('lr'),
      warmup: num('warmup'),
      evalBatches: num('eval-batches'),
      evalBatchSize: num('eval-batch-size'),
      parallel: num('parallel'),
    },
    rows,
    cols,
    results,
  };
  await writeFile(join(args.dir, 'report.json'), JSON.stringify(report, null, 2));
  await output(report);
}

/** The report as Markdown: accuracy and loss tables, learning curves, command, time, machine. */
function markdown(report) {
  const { results } = report;
  const rows = report.rows ?? results.map((r) => r.kind);
  const cols = report.cols ?? args.cols.split(',');
  const byKind = new Map(results.map((r) => [r.kind, r]));
  const pct = (x) => `${(100 * x).toFixed(2)}%`;
  const head = `| trained with | ${cols.map((c) => `eval ${label(c)}`).join(' | ')} |`;
  const rule = `| --- | ${cols.map(() => '---:').join(' | ')} |`;
  const acc = [head, rule, ...rows.map((r) => `| ${label(r)} | ${cols.map((c) => pct(byKind.get(r).evals[c].accuracy)).join(' | ')} |`)];
  const loss = [
    `${head} train time |`,
    `${rule} ---: |`,
    ...rows.map(
      (r) =>
        `| ${label(r)} | ${cols.map((c) => byKind.get(r).evals[c].loss.toFixed(4)).join(' | ')} | ${(byKind.get(r).trainSeconds / 60).toFixed(1)} min |`,
    ),
  ];
  const curves = rows.map(
    (r) =>
      `- ${label(r)}: ${byKind
        .get(r)
        .curve.map((c) => `step ${c.step} ${pct(c.accuracy)}`)
        .join(', ')}`,
  );
  const s = report.settings ?? {
    length,
    evalBatches: num('eval-batches'),
    evalBatchSize: num('eval-batch-size'),
    parallel: num('parallel'),
  };
  const scored = s.evalBatches && s.evalBatchSize ? s.evalBatches * s.evalBatchSize * (s.length / 2 - 1) : undefined;
  return [
    '### Accuracy on the second copy of w',
    '',
    `Validation: ${s.evalBatches ?? '?'} × ${s.evalBatchSize ?? '?'} sequences${scored ? ` (${scored} scored symbols)` : ''}, evaluated once per cell.`,
    '',
    ...acc,
    '',
    '### Loss on the second copy of w (nats per symbol)',
    '',
    ...loss,
    '',
    '### Learning curves (accuracy on one validation batch, evaluated with the training hash count)',
    '',
    ...curves,
    '',
    '### Run',
    '',
    `- command (from packages/model, after \`pnpm --filter @reformer/model build\`): \`${report.command}\``,
    `- wall time: ${(report.wallSeconds / 60).toFixed(1)} min (${rows.length} trainings, ${s.parallel ?? '?'} at a time, each followed by its ${cols.length} evaluations)`,
    `- machine: ${report.cpu}, ${report.cores} cores${report.loadAverage ? `; load average at the end ${report.loadAverage.map((x) => x.toFixed(1)).join(' / ')}` : ''}`,
    '',
  ].join('\n');
}

async function output(report) {
  const text = markdown(report);
  console.log(`\n${text}`);
  if (args.out !== undefined) {
    await writeFile(resolve(args.out), text);
    console.log(`report written to ${resolve(args.out)}`);
  }
}

if (args.job !== undefined) await job(args.job);
else if (args.render !== undefined) await output(JSON.parse(await readFile(join(args.render, 'report.json'), 'utf8')));
else await main();
