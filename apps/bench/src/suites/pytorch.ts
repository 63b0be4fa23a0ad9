/**
 * `--suite pytorch`: our `LSHSelfAttention` layer against Hugging Face's PyTorch `LSHSelfAttention` in the
 * same run — the configuration of issue 13's target (LSH-4, batch 1, one head of 64, hidden size 64,
 * chunk 64, one chunk before, none after, causal, Hugging Face's automatic bucket count, its
 * `max_position_embeddings` default 4096), forward and forward + backward (gradients of the sum of the
 * output with respect to the hidden states and both projection weights).
 *
 * The torch side is a Python process (`apps/bench/peers/hf_lsh_attention.py`) that loads Hugging Face's
 * `modeling_reformer.py` unmodified from a transformers source tree the user gives. For every length it
 * builds the layer, runs it once with `hash_seed` set and hands over the hidden states, the projection
 * weights, the rotations it drew, its buckets, its output and its gradients; our layer runs on the same
 * inputs with those weights and rotations, so both sides hash alike and do the same work. The report
 * says how many of our bucket decisions differ from Hugging Face's (a near tie of two rotated
 * projections can go either way under float32 rounding, and one moved position shifts the sorted
 * chunks after it), and how far our outputs and gradients are from Hugging Face's when its buckets are
 * replayed (`buckets` of our layer), which compares the arithmetic alone. Then every side runs in turn,
 * round by round with the order rotating, so that all of them see the same machine load. Each timed
 * call is measured by wall time and by the CPU time of its process (torch: `time.process_time`; ours:
 * `process.cpuUsage`), which on a machine shared with other work is the fairer figure.
 *
 * This module runs anywhere; the Python process is started by `src/node/torch-peer.ts`.
 *
 * @module
 */
import { clone, dispose, gradients, keep, setBackend, sum, type Tensor, tensor, tidy } from '@reformer/core';
import { LSHSelfAttention } from '@reformer/lsh';
import { COMMON_SUITE_FLAGS, parseFlags, UsageError } from '../args.js';
import { reasonOf, type StartedBackend } from '../backends.js';
import { median } from '../measure.js';
import { BACKEND_NAMES, type BackendName } from '../types.js';
import type { SuiteContext, SuiteReport, SuiteRow } from './suite.js';

/** The measured configuration (issue 13): fixed, so that the figures compare with the target's. */
export const PYTORCH_CASE = { nHashes: 4, chunkLength: 64, dHead: 64, maxPositionEmbeddings: 4096 } as const;

/** Which pass a case times: `forward`, or `backward` (forward + backward). */
export type PeerPass = 'forward' | 'backward';

/** Options of the pytorch suite. */
export interface PytorchOptions {
  /** A Hugging Face transformers source tree (holding `models/reformer/modeling_reformer.py`). */
  hfTransformers: string;
  /** Python 3 with torch. */
  python: string;
  /** Our backends, run next to torch. */
  backends: BackendName[];
  lengths: number[];
  passes: PeerPass[];
  /** Timed rounds; each runs every side once. */
  rounds: number;
  /** Untimed runs of every side before the rounds of a case. */
  warmup: number;
  /** Threads of torch (intra-op, OpenMP and BLAS pools) and of our wasm backend. */
  threads: number;
  /** Seed of the inputs, the weights and the rotations (`hash_seed`). */
  seed: number;
  json?: string | undefined;
  help: boolean;
}

const FLAGS = {
  ...COMMON_SUITE_FLAGS,
  'hf-transformers': 'string',
  python: 'string',
  backends: { listOf: BACKEND_NAMES },
  lengths: 'ints',
  pass: { oneOf: ['forward', 'backward', 'both'] },
  rounds: 'count',
  threads: 'count',
  seed: 'int',
} as const;

/** What to do without a transformers tree: printed by the usage error and the missing-file error. */
export const HF_TRANSFORMERS_HINT =
  'Give a Hugging Face transformers source tree, e.g. `git clone --depth 1 https://github.com/huggingface/transformers /path/to/transformers`, ' +
  'then `--hf-transformers /path/to/transformers` (the clone, its src/ or src/transformers). ' +
  'Only models/reformer/modeling_reformer.py is loaded from it, unmodified; nothing is installed.';

/** The flags of `--suite pytorch`. */
export const PYTORCH_USAGE = `--suite pytorch: our LSHSelfAttention vs Hugging Face's PyTorch LSHSelfAttention, same inputs, weights and rotations
  (LSH-4, batch 1, one head of 64, chunk 64, one chunk before, causal, automatic bucket count), interleaved rounds;
  every call is timed by wall time and by its process's CPU time, and both tables are printed
  --hf-transformers DIR  a transformers source tree holding models/reformer/modeling_reformer.py (required)
  --python PATH     Python 3 with torch (default $PYTHON or /usr/bin/python3)
  --backends LIST   our backends (default wasm,tfjs-wasm)
  --lengths LIST    sequence lengths, multiples of 64 (default 1k,4k,16k; --quick 1k)
  --pass P          forward | backward | both (default both; backward = forward + backward)
  --rounds N        timed rounds after the warm-up (default 5; --quick 2; --repeats is the same)
  --warmup N        untimed runs of every side per case (default 1)
  --threads N       threads of torch and of the wasm backend (default 1; tfjs-wasm runs one in Node)
  --seed N          seed of the inputs, weights and rotations (default 1)
  --json FILE       write the report as JSON`;

/**
 * Parses the flags of `--suite pytorch`.
 *
 * @throws {UsageError} for a bad flag, a length that is not a multiple of 64 or not above it (Hugging
 *   Face does not hash at or below one chunk), or a missing `--hf-transformers`.
 */
export function parsePytorchArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): PytorchOptions {
  const f = parseFlags('pytorch', argv, FLAGS);
  const q = f.quick === true;
  const help = f.help === true;
  if (!help && f['hf-transformers'] === undefined)
    throw new UsageError(`--suite pytorch needs --hf-transformers DIR. ${HF_TRANSFORMERS_HINT}`);
  const lengths = f.lengths ?? (q ? [1024] : [1024, 4096, 16384]);
  const c = PYTORCH_CASE.chunkLength;
  for (const L of lengths) {
    if (L % c !== 0 || L <= c) throw new UsageError(`--lengths: ${L} is not a multiple of the chunk length ${c} above it.`);
  }
  return {
    hfTransformers: f['hf-transformers'] ?? '',
    python: f.python ?? env.PYTHON ?? '/usr/bin/python3',
    backends: f.backends ?? ['wasm', 'tfjs-wasm'],
    lengths: [...new Set(lengths)].sort((a, b) => a - b),
    passes: f.pass === 'forward' || f.pass === 'backward' ? [f.pass] : ['forward', 'backward'],
    rounds: f.rounds ?? f.repeats ?? (q ? 2 : 5),
    warmup: f.warmup ?? 1,
    threads: f.threads ?? 1,
    seed: f.seed ?? 1,
    json: f.json,
    help,
  };
}

// ---- the peer protocol (apps/bench/peers/hf_lsh_attention.py) ----

/** The peer answered with an error, or with something that is not its protocol. */
export class TorchPeerError extends Error {
  override name = 'TorchPeerError';
}

/** What the peer says about itself when it is ready. */
export interface TorchPeerInfo {
  python: string;
  torch: string;
  /** torch's intra-op threads. */
  threads: number;
  /** The BLAS / LAPACK libraries mapped into the peer after a matmul. */
  blas: string[];
  hfFile: string;
  hfVersion: string | null;
  hfSha256: string;
}

/** The float32 tensors the peer hands over for a length (Hugging Face's shapes and layouts). */
export const TORCH_TENSORS = [
  'hidden',
  'query_key',
  'value',
  'rotations',
  'output',
  'grad_hidden',
  'grad_query_key',
  'grad_value',
] as const;
/** One of {@link TORCH_TENSORS}. */
export type TorchTensorName = (typeof TORCH_TENSORS)[number];
/** Every file of a prepared length: the float32 tensors and the int32 `buckets` ([batch, heads, nHashes, L], round offsets added). */
export const TORCH_FILES = [...TORCH_TENSORS, 'buckets'] as const;
/** One of {@link TORCH_FILES}. */
export type TorchFileName = (typeof TORCH_FILES)[number];

/** A prepared length as the peer describes it: bucket count and one little-endian file per tensor. */
export interface TorchPrepared {
  length: number;
  numBuckets: number | number[];
  files: Record<TorchFileName, { file: string; shape: number[] }>;
}

/** A prepared length with its tensors read. */
export interface TorchCase {
  length: number;
  numBuckets: number | number[];
  tensors: Record<TorchTensorName, { shape: number[]; data: Float32Array }>;
  /** Hugging Face's buckets, int32 `[batch, heads, nHashes, length]` with the round offsets. */
  buckets: { shape: number[]; data: Int32Array };
}

/** Timed calls of the peer, milliseconds. */
export interface TorchTimes {
  wallMs: number[];
  cpuMs: number[];
}

/** The running peer. */
export interface TorchPeer {
  info: TorchPeerInfo;
  /** Builds the layer for `length`, runs it once and returns its inputs, weights, rotations and results. */
  prepare(length: number): Promise<TorchCase>;
  /** Times `runs` calls of `pass` on the prepared length. */
  time(pass: PeerPass, runs: number): Promise<TorchTimes>;
  close(): Promise<void>;
}

/** Starts the peer for a run (Node: `startTorchPeer` in src/node/torch-peer.ts). */
export type TorchPeerStarter = (o: PytorchOptions, log: (line: string) => void) => Promise<TorchPeer>;

function record(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new TorchPeerError(`the torch peer wrote a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TorchPeerError(`the torch peer wrote ${line.slice(0, 200)}, not an object`);
  const r = v as Record<string, unknown>;
  if (r.ok === false) throw new TorchPeerError(`the torch peer failed: ${typeof r.error === 'string' ? r.error : JSON.stringify(r.error)}`);
  if (r.ok !== true) throw new TorchPeerError(`the torch peer wrote ${line.slice(0, 200)} (no "ok")`);
  return r;
}

function field<T>(r: Record<string, unknown>, key: string, ok: (v: unknown) => v is T, what: string): T {
  const v = r[key];
  if (!ok(v)) throw new TorchPeerError(`the torch peer's reply has no ${what} "${key}": ${JSON.stringify(r).slice(0, 200)}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.every((d) => Number.isInteger(d) && d >= 0);
const isMsList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0);
const isBuckets = (v: unknown): v is number | number[] => isCount(v) || (Array.isArray(v) && v.length > 0 && v.every(isCount));

/** Parses the peer's first line. @throws {TorchPeerError} for an error reply or a malformed line. */
export function parseReady(line: string): TorchPeerInfo {
  const r = record(line);
  if (r.ready !== true) throw new TorchPeerError(`the torch peer's first line is not its "ready" line: ${line.slice(0, 200)}`);
  const hfVersion = r.hfVersion;
  return {
    python: field(r, 'python', isString, 'string'),
    torch: field(r, 'torch', isString, 'string'),
    threads: field(r, 'threads', isCount, 'thread count'),
    blas: field(r, 'blas', (v): v is string[] => Array.isArray(v) && v.every(isString), 'list'),
    hfFile: field(r, 'hfFile', isString, 'string'),
    hfVersion: typeof hfVersion === 'string' ? hfVersion : null,
    hfSha256: field(r, 'hfSha256', isString, 'string'),
  };
}

/** Parses the reply to `prepare`. @throws {TorchPeerError} for an error reply, another length or a missing tensor. */
export function parsePrepared(line: string, length: number): TorchPrepared {
  const r = record(line);
  if (r.length !== length) throw new TorchPeerError(`the torch peer prepared length ${JSON.stringify(r.length)}, asked ${length}`);
  const files = field(r, 'files', (v): v is Record<string, unknown> => typeof v === 'object' && v !== null, 'object');
  const out = {} as TorchPrepared['files'];
  for (const name of TORCH_FILES) {
    const e = files[name] as { file?: unknown; shape?: unknown } | undefined;
    if (!e || !isString(e.file) || !isShape(e.shape))
      throw new TorchPeerError(`the torch peer's reply has no file and shape for "${name}"`);
    out[name] = { file: e.file, shape: e.shape };
  }
  return { length, numBuckets: field(r, 'numBuckets', isBuckets, 'bucket count'), files: out };
}

/** Parses the reply to `time`. @throws {TorchPeerError} for an error reply or `runs` missing figures. */
export function parseTimes(line: string, runs: number): TorchTimes {
  const r = record(line);
  const wallMs = field(r, 'wallMs', isMsList, 'list of milliseconds');
  const cpuMs = field(r, 'cpuMs', isMsList, 'list of milliseconds');
  if (wallMs.length !== runs || cpuMs.length !== runs)
    throw new TorchPeerError(`the torch peer timed ${wallMs.length} runs, asked ${runs}`);
  return { wallMs, cpuMs };
}

// ---- the run ----

/** One side's timed calls of a case. */
interface Samples {
  wall: number[];
  cpu: number[];
}

/** Our layer on one backend, set up for one length with the peer's weights, rotations and buckets. */
interface OurCase {
  /** One call hashing with the rotations (`replay`: with Hugging Face's buckets instead); `grads` for `backward`. */
  run(pass: PeerPass, replay?: boolean): Promise<{ output: Float32Array; grads?: Float32Array[] }>;
  /** The buckets of the latest call hashed with the rotations. */
  lastBuckets(): Promise<Int32Array>;
  dispose(): void;
}

function ourCase(c: TorchCase): OurCase {
  const t = c.tensors;
  const layer = new LSHSelfAttention({
    hiddenSize: PYTORCH_CASE.dHead,
    numHeads: 1,
    headSize: PYTORCH_CASE.dHead,
    causal: true,
    chunkLength: PYTORCH_CASE.chunkLength,
    chunksBefore: 1,
    chunksAfter: 0,
    nHashes: PYTORCH_CASE.nHashes,
    nBuckets: 'auto',
    maxPositionEmbeddings: PYTORCH_CASE.maxPositionEmbeddings,
  }).eval();
  layer.loadStateDict(
    new Map([
      ['self_attention.query_key.weight', { shape: t.query_key.shape, values: t.query_key.data }],
      ['self_attention.value.weight', { shape: t.value.shape, values: t.value.data }],
    ]),
    { strict: false },
  );
  const params = layer.namedParameters();
  const wqk = params.get('self_attention.query_key.weight')!;
  const wv = params.get('self_attention.value.weight')!;
  const hidden = tensor(t.hidden.data, t.hidden.shape);
  const rotations = tensor(t.rotations.data, t.rotations.shape);
  const buckets = tensor(c.buckets.data, c.buckets.shape, 'int32');
  let ourBuckets: Tensor | null = null;
  return {
    async run(pass, replay = false) {
      const attend = () => layer.attend(hidden, replay ? { buckets } : { rotations });
      if (pass === 'forward') {
        const out = tidy(attend);
        if (!replay) {
          ourBuckets?.dispose();
          ourBuckets = keep(clone(layer.lastBuckets!));
        }
        const output = (await out.data()) as Float32Array;
        out.dispose();
        return { output };
      }
      const r = gradients(() => sum(attend()), [hidden, wqk, wv]);
      const grads: Float32Array[] = [];
      for (const g of r.grads) grads.push((await g.data()) as Float32Array);
      await r.value.data();
      dispose([r.value, ...r.grads]);
      return { output: new Float32Array(0), grads };
    },
    async lastBuckets() {
      if (!ourBuckets) throw new Error('lastBuckets before a forward call with the rotations');
      return (await ourBuckets.data()) as Int32Array;
    },
    dispose() {
      dispose([hidden, rotations, buckets, ...(ourBuckets ? [ourBuckets] : [])]);
      layer.dispose();
    },
  };
}

/** Largest |a − b| and largest |b| (b: the reference). @throws {RangeError} for different lengths. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: ${a.length} elements against ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    // NaN anywhere makes the difference NaN, never a silent 0.
    diff = d > diff || d !== d ? d : diff;
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

/** Relative agreement worse than this is called out under the tables (float32 LSH of two libraries: ~1e-6). */
export const AGREEMENT_WARN = 1e-4;

/** Bucket decisions differing in more than this fraction are more than near ties (called out under the tables). */
export const MISMATCH_WARN = 1e-4;

/** How many entries of `a` differ from `b`. @throws {RangeError} for different lengths. */
export function countMismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`countMismatches: ${a.length} elements against ${b.length}`);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** The side order of round `r` among `n` sides (rotating, so no side always runs first). */
export function roundOrder(n: number, r: number): number[] {
  return Array.from({ length: n }, (_, i) => (i + r) % n);
}

const fmtBuckets = (nb: number | number[]): string => (Array.isArray(nb) ? nb.join('×') : String(nb));
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? a / b : null);
/** A small figure in exponent notation (the table's cells keep three decimals at most). */
const exp = (x: number): string => x.toExponential(1);
const passName = (p: PeerPass): string => (p === 'forward' ? 'fwd' : 'fwd+bwd');

/** The timing table: one row per (length, pass), torch then each backend and its ratio to torch. */
export function timingTable(
  title: string,
  backends: readonly string[],
  rows: readonly { length: number; pass: PeerPass; torch: number | null; ours: Record<string, number | null> }[],
): { title: string; columns: string[]; rows: SuiteRow[] } {
  const columns = ['L', 'pass', 'torch ms', ...backends.flatMap((b) => [`${b} ms`, `${b} ÷ torch`])];
  return {
    title,
    columns,
    rows: rows.map((r) => {
      const row: SuiteRow = { L: r.length, pass: passName(r.pass), 'torch ms': r.torch };
      for (const b of backends) {
        row[`${b} ms`] = r.ours[b] ?? null;
        row[`${b} ÷ torch`] = ratio(r.ours[b] ?? null, r.torch);
      }
      return row;
    }),
  };
}

/**
 * Runs the suite: for every length the peer prepares the case, each backend checks its outputs and
 * gradients against it (that run is also its first warm-up), then every pass runs `o.warmup` untimed and
 * `o.rounds` timed interleaved rounds. A backend that cannot start is reported and left out. Core's
 * active backend is left on the last one used.
 *
 * @throws {TorchPeerError} when the peer cannot start or fails (its message says why), or runs another
 *   thread count than asked.
 */
export async function runPytorchSuite(o: PytorchOptions, ctx: SuiteContext, startPeer: TorchPeerStarter): Promise<SuiteReport> {
  const peer = await startPeer(o, ctx.log);
  const notes: string[] = [];
  const started: { name: BackendName; s: StartedBackend }[] = [];
  try {
    if (peer.info.threads !== o.threads) throw new TorchPeerError(`the torch peer runs ${peer.info.threads} threads, asked ${o.threads}`);
    for (const name of o.backends) {
      try {
        started.push({ name, s: await ctx.startBackend(name) });
      } catch (err) {
        notes.push(`${name}: unavailable: ${reasonOf(err)}`);
      }
    }
    const names = started.map((b) => b.name);
    const clock = ctx.cpuClockMs;
    const timings: { length: number; pass: PeerPass; wall: Record<string, number | null>; cpu: Record<string, number | null> }[] = [];
    const agreement: SuiteRow[] = [];
    for (const L of o.lengths) {
      ctx.log(`  L ${L}: torch prepares the case`);
      const c = await peer.prepare(L);
      const ours: OurCase[] = [];
      try {
        for (const { name, s } of started) {
          await setBackend(s.backend);
          const oc = ourCase(c);
          ours.push(oc);
          await oc.run('forward');
          const ourBuckets = await oc.lastBuckets();
          const mismatches = countMismatches(ourBuckets, c.buckets.data);
          const fwd = await oc.run('forward', true);
          const bwd = await oc.run('backward', true);
          const out = maxAbsDiff(fwd.output, c.tensors.output.data);
          const gh = maxAbsDiff(bwd.grads![0]!, c.tensors.grad_hidden.data);
          const gqk = maxAbsDiff(bwd.grads![1]!, c.tensors.grad_query_key.data);
          const gv = maxAbsDiff(bwd.grads![2]!, c.tensors.grad_value.data);
          const rel = (x: { diff: number; scale: number }) => (x.scale > 0 ? x.diff / x.scale : x.diff);
          const worst = Math.max(rel(out), rel(gh), rel(gqk), rel(gv));
          agreement.push({
            L,
            buckets: fmtBuckets(c.numBuckets),
            backend: name,
            'hash mismatches': `${mismatches} of ${ourBuckets.length}`,
            'Δ output': exp(out.diff),
            'output scale': exp(out.scale),
            'Δ ∂hidden': exp(gh.diff),
            'Δ ∂W_qk': exp(gqk.diff),
            'Δ ∂W_v': exp(gv.diff),
            'worst relative': exp(worst),
          });
          if (!(worst <= AGREEMENT_WARN)) {
            notes.push(
              `L ${L}, ${name}: with Hugging Face's buckets, outputs or gradients differ from Hugging Face's by ${worst.toExponential(2)} of their scale (expected ~1e-6): the two layers do not compute the same function.`,
            );
          }
          if (mismatches > ourBuckets.length * MISMATCH_WARN) {
            notes.push(
              `L ${L}, ${name}: ${mismatches} of ${ourBuckets.length} bucket decisions differ from Hugging Face's with the same rotations: more than near ties, the two sides hash differently and the timings compare different work.`,
            );
          }
        }
        for (const pass of o.passes) {
          const sides = names.length + 1; // side 0: torch
          const samples: Samples[] = Array.from({ length: sides }, () => ({ wall: [], cpu: [] }));
          const runSide = async (i: number): Promise<{ wall: number; cpu: number }> => {
            if (i === 0) {
              const t = await peer.time(pass, 1);
              return { wall: t.wallMs[0]!, cpu: t.cpuMs[0]! };
            }
            await setBackend(started[i - 1]!.s.backend);
            ctx.gc?.();
            const c0 = clock ? clock() : Number.NaN;
            const t0 = performance.now();
            await ours[i - 1]!.run(pass);
            const wall = performance.now() - t0;
            return { wall, cpu: clock ? clock() - c0 : Number.NaN };
          };
          for (let w = 0; w < o.warmup; w++) for (let i = 0; i < sides; i++) await runSide(i);
          for (let r = 0; r < o.rounds; r++) {
            for (const i of roundOrder(sides, r)) {
              const s = await runSide(i);
              samples[i]!.wall.push(s.wall);
              samples[i]!.cpu.push(s.cpu);
            }
          }
          const med = (xs: number[]) => (xs.every(Number.isFinite) ? median(xs) : null);
          const wall: Record<string, number | null> = { torch: med(samples[0]!.wall) };
          const cpu: Record<string, number | null> = { torch: med(samples[0]!.cpu) };
          names.forEach((b, k) => {
            wall[b] = med(samples[k + 1]!.wall);
            cpu[b] = med(samples[k + 1]!.cpu);
          });
          timings.push({ length: L, pass, wall, cpu });
          ctx.log(
            `  L ${L} ${passName(pass).padEnd(7)} ${['torch', ...names].map((b) => `${b} ${(cpu[b] ?? wall[b] ?? Number.NaN).toFixed(1)} ms`).join(', ')}`,
          );
        }
      } finally {
        for (const [k, oc] of ours.entries()) {
          await setBackend(started[k]!.s.backend);
          oc.dispose();
        }
      }
    }
    const info = peer.info;
    const table = (clockName: 'cpu' | 'wall', title: string) =>
      timingTable(
        title,
        names,
        timings.map((t) => ({ length: t.length, pass: t.pass, torch: t[clockName].torch ?? null, ours: t[clockName] })),
      );
    return {
      suite: 'pytorch',
      title: [
        `LSH-4 attention layer, ours vs Hugging Face's PyTorch LSHSelfAttention: batch 1, one head of ${PYTORCH_CASE.dHead} (hidden ${PYTORCH_CASE.dHead}), chunk ${PYTORCH_CASE.chunkLength}, one chunk before, causal, automatic bucket count; same inputs, weights and rotations`,
        `${o.rounds} interleaved rounds after ${o.warmup} warm-up; medians; a call ends when its outputs are on the host`,
        `  torch: ${info.torch} (Python ${info.python}), ${info.threads === 1 ? 'one thread' : `${info.threads} threads`}, BLAS: ${info.blas.map((p) => p.split('/').pop()).join(', ') || 'none mapped'}`,
        `  Hugging Face: ${info.hfFile} (transformers ${info.hfVersion ?? 'version unknown'}, sha256 ${info.hfSha256.slice(0, 12)})`,
        ...started.map(({ name, s }) => `  ${name}: ${s.info}`),
      ].join('\n'),
      tables: [
        table(
          'cpu',
          'CPU milliseconds of the process per call (torch: time.process_time; ours: process.cpuUsage); ratio above 1 = slower than torch',
        ),
        table('wall', 'Wall milliseconds per call; ratio above 1 = slower than torch'),
        {
          title:
            'Agreement with Hugging Face on the same inputs, weights and rotations. hash mismatches: our bucket decisions (position × round) that differ from ' +
            "Hugging Face's; Δ: largest absolute differences of the output and of the gradients of its sum, with Hugging Face's buckets replayed " +
            '(output scale: the largest absolute output; worst relative: the largest difference ÷ the largest absolute value, over the four)',
          columns: [
            'L',
            'buckets',
            'backend',
            'hash mismatches',
            'Δ output',
            'output scale',
            'Δ ∂hidden',
            'Δ ∂W_qk',
            'Δ ∂W_v',
            'worst relative',
          ],
          rows: agreement,
        },
      ],
      notes: [
        ...notes,
        ...(clock ? [] : ['This runtime has no CPU clock: our CPU columns are empty.']),
        'On a machine shared with other work, wall time includes the queue for a core; the CPU table is the fairer comparison. Say the load (uptime) next to the figures.',
      ],
    };
  } finally {
    for (const { s } of started) s.backend.dispose?.();
    await peer.close();
  }
}
