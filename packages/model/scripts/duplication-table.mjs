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
//   node scripts/duplication-table.mjs --steps 1200 --batch 8 --parallel 2 --out ../../docs/results/duplication.md
// The four trainings run in `--parallel` child processes (the CPU backend uses one core each).
import { fork } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
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
      console.log(`[${label(kind)}] step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} |g| ${p.gradNorm.toFixed(3)} lr ${p.lr.toExponential(2)} ${Math.round(p.tokensPerSecond)} tok/s eta ${Math.round(p.etaSeconds)}s${e}`);
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
  const cpu = (await readFile('/proc/cpuinfo', 'utf8').catch(() => '')).match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const lines = [];
  lines.push(`| trained with | ${cols.map((c) => `eval ${label(c)}`).join(' | ')} |`);
  lines.push(`| --- | ${cols.map(() => '---:').join(' | ')} |`);
  for (const r of results) lines.push(`| ${label(r.kind)} | ${cols.map((c) => pct(r.evals[c].accuracy)).join(' | ')} |`);
  const lossLines = [];
  lossLines.push(`| trained with | ${cols.map((c) => `eval ${label(c)}`).join(' | ')} | train time |`);
  lossLines.push(`| --- | ${cols.map(() => '---:').join(' | ')} | ---: |`);
  for (const r of results) lossLines.push(`| ${label(r.kind)} | ${cols.map((c) => r.evals[c].loss.toFixed(3)).join(' | ')} | ${(r.trainSeconds / 60).toFixed(1)} min |`);
  const curves = results.map((r) => `- ${label(r.kind)}: ${r.curve.map((c) => `${c.step}: ${pct(c.accuracy)}`).join(', ')}`);
  const report = {
    command: `node scripts/duplication-table.mjs ${process.argv.slice(2).join(' ')}`,
    wallSeconds: wall,
    cpu,
    cores: cpus().length,
    table: lines.join('\n'),
    losses: lossLines.join('\n'),
    curves: curves.join('\n'),
    results,
  };
  await writeFile(join(args.dir, 'report.json'), JSON.stringify(report, null, 2));
  console.log(`\nAccuracy on the second copy of w (${num('eval-batches')} × ${num('eval-batch-size')} validation sequences):\n`);
  console.log(report.table);
  console.log('\nLoss (nats per symbol):\n');
  console.log(report.losses);
  console.log('\nLearning curves (accuracy on 1 validation batch, the training hash count):\n');
  console.log(report.curves);
  console.log(`\nwall time ${(wall / 60).toFixed(1)} min on ${cpu}, ${cpus().length} cores`);
  if (args.out !== undefined) {
    await writeFile(resolve(args.out), `${report.table}\n`);
    console.log(`table written to ${resolve(args.out)}`);
  }
}

if (args.job !== undefined) await job(args.job);
else await main();
