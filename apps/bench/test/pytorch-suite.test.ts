/**
 * `--suite pytorch` without torch: flags, the peer protocol's parsing, finding Hugging Face's file, and a
 * whole run against a stand-in peer whose reference is our CPU backend's result with one known
 * perturbation (the agreement table must show exactly it). Behaviour, not speed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCpuBackend, dispose, gradients, setBackend, sum, tensor } from '@reformer/core';
import { LSHSelfAttention } from '@reformer/lsh';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/args.js';
import type { BackendName } from '../src/types.js';
import { findModelingReformer, peerScript, startTorchPeer } from '../src/node/torch-peer.js';
import { runNodeSuite } from '../src/node/suites.js';
import {
  countMismatches,
  maxAbsDiff,
  parsePrepared,
  parsePytorchArgs,
  parseReady,
  parseTimes,
  PYTORCH_CASE,
  roundOrder,
  runPytorchSuite,
  timingTable,
  TORCH_FILES,
  TorchPeerError,
  type TorchCase,
  type TorchPeer,
} from '../src/suites/pytorch.js';
import type { SuiteContext } from '../src/suites/suite.js';

const HF = ['--hf-transformers', '/somewhere/transformers'];

describe('parsePytorchArgs', () => {
  it('defaults: wasm and tfjs-wasm, 1k/4k/16k, both passes, 5 rounds, one thread, /usr/bin/python3 or $PYTHON', () => {
    const o = parsePytorchArgs(HF);
    expect(o).toMatchObject({
      hfTransformers: '/somewhere/transformers',
      python: '/usr/bin/python3',
      backends: ['wasm', 'tfjs-wasm'],
      lengths: [1024, 4096, 16384],
      passes: ['forward', 'backward'],
      rounds: 5,
      warmup: 1,
      threads: 1,
      seed: 1,
      help: false,
    });
    expect(parsePytorchArgs(HF, { PYTHON: '/opt/py' }).python).toBe('/opt/py');
    expect(parsePytorchArgs([...HF, '--python', '/x/python'], { PYTHON: '/opt/py' }).python).toBe('/x/python');
  });

  it('reads its flags; --quick is 1k and 2 rounds; --repeats is --rounds; lengths sorted and deduplicated', () => {
    expect(parsePytorchArgs([...HF, '--quick'])).toMatchObject({ lengths: [1024], rounds: 2 });
    const o = parsePytorchArgs([
      ...HF,
      '--backends',
      'cpu,wasm',
      '--lengths',
      '64k,1k,1k',
      '--pass',
      'backward',
      '--repeats',
      '3',
      '--warmup',
      '0',
      '--threads',
      '2',
      '--seed',
      '7',
      '--json',
      'out.json',
    ]);
    expect(o).toMatchObject({
      backends: ['cpu', 'wasm'],
      lengths: [1024, 65536],
      passes: ['backward'],
      rounds: 3,
      warmup: 0,
      threads: 2,
      seed: 7,
      json: 'out.json',
    });
    expect(parsePytorchArgs([...HF, '--pass', 'forward', '--rounds', '4', '--repeats', '9']).passes).toEqual(['forward']);
    expect(parsePytorchArgs([...HF, '--rounds', '4', '--repeats', '9']).rounds).toBe(4);
  });

  it('needs --hf-transformers (saying how to get a tree), except for --help', () => {
    expect(() => parsePytorchArgs([])).toThrow(UsageError);
    expect(() => parsePytorchArgs(['--lengths', '1k'])).toThrow(/needs --hf-transformers DIR.*git clone .*huggingface\/transformers/);
    expect(parsePytorchArgs(['--help']).help).toBe(true);
  });

  it('names bad lengths and flags', () => {
    expect(() => parsePytorchArgs([...HF, '--lengths', '100'])).toThrow(/100 is not a multiple of the chunk length 64/);
    expect(() => parsePytorchArgs([...HF, '--lengths', '64'])).toThrow(/64 is not a multiple of the chunk length 64 above it/);
    expect(() => parsePytorchArgs([...HF, '--backends', 'torch'])).toThrow(/unknown value 'torch'/);
    expect(() => parsePytorchArgs([...HF, '--pass', 'fwd'])).toThrow(/allowed: forward, backward, both/);
    expect(() => parsePytorchArgs([...HF, '--threads', '0'])).toThrow(/--threads needs an integer >= 1/);
    expect(() => parsePytorchArgs([...HF, '--cpu-time'])).toThrow(/unknown flag '--cpu-time'/);
  });
});

const READY = {
  ok: true,
  ready: true,
  python: '3.11.2',
  torch: '1.13.0',
  threads: 1,
  blas: ['/usr/lib/libopenblas.so'],
  hfFile: '/t/modeling_reformer.py',
  hfVersion: '5.0',
  hfSha256: 'ab'.repeat(32),
};
const FILES = Object.fromEntries(TORCH_FILES.map((n) => [n, { file: `/d/${n}.f32`, shape: [1, 2] }]));

describe('the peer protocol', () => {
  it('parses the ready line', () => {
    const { ok: _ok, ready: _ready, ...info } = READY;
    expect(parseReady(JSON.stringify(READY))).toEqual(info);
    expect(parseReady(JSON.stringify({ ...READY, hfVersion: null })).hfVersion).toBeNull();
  });

  it('parses prepare and time replies', () => {
    const p = parsePrepared(JSON.stringify({ ok: true, length: 1024, numBuckets: [16, 32], files: FILES }), 1024);
    expect(p.numBuckets).toEqual([16, 32]);
    expect(p.files.grad_value).toEqual({ file: '/d/grad_value.f32', shape: [1, 2] });
    expect(p.files.buckets).toEqual({ file: '/d/buckets.f32', shape: [1, 2] });
    expect(parseTimes(JSON.stringify({ ok: true, wallMs: [2, 3], cpuMs: [1.5, 2.5] }), 2)).toEqual({ wallMs: [2, 3], cpuMs: [1.5, 2.5] });
  });

  it("turns the peer's error replies and malformed lines into TorchPeerError with the reason", () => {
    expect(() => parseReady(JSON.stringify({ ok: false, error: 'FileNotFoundError: /x does not exist' }))).toThrow(
      /the torch peer failed: FileNotFoundError: \/x does not exist/,
    );
    expect(() => parseReady('Traceback (most recent call last):')).toThrow(TorchPeerError);
    expect(() => parseReady(JSON.stringify({ ok: true, length: 1 }))).toThrow(/not its "ready" line/);
    expect(() => parseReady(JSON.stringify({ ...READY, threads: 0 }))).toThrow(/no thread count "threads"/);
    expect(() => parsePrepared(JSON.stringify({ ok: true, length: 2048, numBuckets: 32, files: FILES }), 1024)).toThrow(
      /prepared length 2048, asked 1024/,
    );
    const { rotations: _, ...missing } = FILES;
    expect(() => parsePrepared(JSON.stringify({ ok: true, length: 1024, numBuckets: 32, files: missing }), 1024)).toThrow(/"rotations"/);
    expect(() => parsePrepared(JSON.stringify({ ok: true, length: 1024, numBuckets: 31.5, files: FILES }), 1024)).toThrow(/bucket count/);
    expect(() => parseTimes(JSON.stringify({ ok: true, wallMs: [1], cpuMs: [1] }), 2)).toThrow(/timed 1 runs, asked 2/);
    expect(() => parseTimes(JSON.stringify({ ok: true, wallMs: [1, -1], cpuMs: [1, 1] }), 2)).toThrow(/"wallMs"/);
    expect(() => parseTimes('[1, 2]', 2)).toThrow(/not an object/);
  });
});

describe("finding Hugging Face's file and the peer script", () => {
  const root = mkdtempSync(join(tmpdir(), 'bench-hf-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const put = (dir: string) => {
    const d = join(root, dir, 'models', 'reformer');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'modeling_reformer.py'), '# stand-in\n');
    return join(d, 'modeling_reformer.py');
  };

  it('accepts the clone, its src/ or the package directory', () => {
    const file = put(join('clone', 'src', 'transformers'));
    expect(findModelingReformer(join(root, 'clone'))).toBe(file);
    expect(findModelingReformer(join(root, 'clone', 'src'))).toBe(file);
    expect(findModelingReformer(join(root, 'clone', 'src', 'transformers'))).toBe(file);
  });

  it('says where it looked and how to get a tree', () => {
    expect(() => findModelingReformer(join(root, 'nothing'))).toThrow(TorchPeerError);
    expect(() => findModelingReformer(join(root, 'nothing'))).toThrow(/nothing.*modeling_reformer\.py.*git clone --depth 1/);
  });

  it('the suite stops on a missing tree before starting Python; without the flag it is a usage error', async () => {
    const ctx: SuiteContext = { startBackend: () => Promise.reject(new Error('not reached')), log: () => {} };
    const never = () => Promise.reject(new Error('not reached'));
    await expect(
      runNodeSuite('pytorch', ['--hf-transformers', join(root, 'nothing'), '--python', '/nonexistent/python'], ctx, never),
    ).rejects.toThrow(/--hf-transformers .*nothing: no /);
    await expect(runNodeSuite('pytorch', [], ctx, never)).rejects.toThrow(UsageError);
    expect((await runNodeSuite('pytorch', ['--help'], ctx, never)).report).toBeNull();
  });

  it('a Python that cannot be started is named', async () => {
    put(join('pkg', 'transformers'));
    const o = parsePytorchArgs(['--hf-transformers', join(root, 'pkg'), '--python', join(root, 'no-such-python')]);
    await expect(startTorchPeer(o, () => {})).rejects.toThrow(/no-such-python could not be started .*--python PATH/);
  });

  it('the peer script is in apps/bench/peers', () => {
    expect(peerScript()).toMatch(/apps[/\\]bench[/\\]peers[/\\]hf_lsh_attention\.py$/);
  });
});

describe('helpers', () => {
  it('maxAbsDiff: largest difference and reference scale; NaN is never hidden', () => {
    expect(maxAbsDiff([1, 2, -3], [1, 2.5, -2])).toEqual({ diff: 1, scale: 2.5 });
    expect(maxAbsDiff([Number.NaN, 0], [0, 1]).diff).toBeNaN();
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(RangeError);
  });

  it('countMismatches counts differing entries', () => {
    expect(countMismatches([1, 2, 3, 4], [1, 0, 3, 0])).toBe(2);
    expect(countMismatches(new Int32Array([5]), new Int32Array([5]))).toBe(0);
    expect(() => countMismatches([1], [])).toThrow(RangeError);
  });

  it('roundOrder rotates so that every side runs first once in n rounds', () => {
    expect([0, 1, 2].map((r) => roundOrder(3, r))).toEqual([
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
    ]);
  });

  it('timingTable: ratio to torch per backend, — where a side has no figure', () => {
    const t = timingTable(
      't',
      ['wasm', 'tfjs-wasm'],
      [{ length: 1024, pass: 'backward', torch: 40, ours: { wasm: 20, 'tfjs-wasm': null } }],
    );
    expect(t.columns).toEqual(['L', 'pass', 'torch ms', 'wasm ms', 'wasm ÷ torch', 'tfjs-wasm ms', 'tfjs-wasm ÷ torch']);
    expect(t.rows[0]).toEqual({
      L: 1024,
      pass: 'fwd+bwd',
      'torch ms': 40,
      'wasm ms': 20,
      'wasm ÷ torch': 0.5,
      'tfjs-wasm ms': null,
      'tfjs-wasm ÷ torch': null,
    });
  });
});

/** Deterministic values in (−1, 1). */
function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/**
 * A stand-in peer at length L: inputs, weights and rotations from {@link fill}; its "reference" output,
 * gradients and buckets are our CPU backend's, with `bump` added to output element 5 and, with
 * `moveBucket`, the first position's round-0 bucket changed. Times: wall 10 ms, CPU 8 ms.
 */
async function standInPeer(L: number, bump: number, threads = 1, moveBucket = false): Promise<{ peer: TorchPeer; log: string[] }> {
  const d = PYTORCH_CASE.dHead;
  const nb = 2 ** ((2 * (L / PYTORCH_CASE.chunkLength)).toString(2).length - 1); // one factor at these lengths
  const shapes = { hidden: [1, L, d], query_key: [d, d], value: [d, d], rotations: [1, d, PYTORCH_CASE.nHashes, nb / 2] };
  const hidden = fill(L * d, 1);
  const wqk = fill(d * d, 2).map((x) => x / 8);
  const wv = fill(d * d, 3).map((x) => x / 8);
  const rot = fill(d * PYTORCH_CASE.nHashes * (nb / 2), 4);
  await setBackend(createCpuBackend());
  const layer = new LSHSelfAttention({
    hiddenSize: d,
    numHeads: 1,
    headSize: d,
    causal: true,
    chunkLength: 64,
    nHashes: 4,
    nBuckets: 'auto',
  }).eval();
  layer.loadStateDict(
    new Map([
      ['self_attention.query_key.weight', { shape: shapes.query_key, values: wqk }],
      ['self_attention.value.weight', { shape: shapes.value, values: wv }],
    ]),
    { strict: false },
  );
  const p = layer.namedParameters();
  const h = tensor(hidden, shapes.hidden);
  const r = tensor(rot, shapes.rotations);
  const out = layer.attend(h, { rotations: r });
  const output = (await out.data()) as Float32Array;
  output[5]! += bump;
  const buckets = (await layer.lastBuckets!.data()) as Int32Array;
  if (moveBucket) buckets[0] = (buckets[0]! + 1) % nb;
  const g = gradients(
    () => sum(layer.attend(h, { rotations: r })),
    [h, p.get('self_attention.query_key.weight')!, p.get('self_attention.value.weight')!],
  );
  const grads = await Promise.all(g.grads.map((x) => x.data() as Promise<Float32Array>));
  dispose([out, h, r, g.value, ...g.grads]);
  layer.dispose();
  const c: TorchCase = {
    length: L,
    numBuckets: nb,
    tensors: {
      hidden: { shape: shapes.hidden, data: hidden },
      query_key: { shape: shapes.query_key, data: wqk },
      value: { shape: shapes.value, data: wv },
      rotations: { shape: shapes.rotations, data: rot },
      output: { shape: shapes.hidden, data: output },
      grad_hidden: { shape: shapes.hidden, data: grads[0]! },
      grad_query_key: { shape: shapes.query_key, data: grads[1]! },
      grad_value: { shape: shapes.value, data: grads[2]! },
    },
    buckets: { shape: [1, 1, PYTORCH_CASE.nHashes, L], data: buckets },
  };
  const log: string[] = [];
  const peer: TorchPeer = {
    info: { ...READY, threads, hfVersion: '5.0' },
    prepare: async (length) => {
      log.push(`prepare ${length}`);
      return c;
    },
    time: async (pass, runs) => {
      log.push(`time ${pass}`);
      return { wallMs: Array(runs).fill(10), cpuMs: Array(runs).fill(8) };
    },
    close: async () => {
      log.push('close');
    },
  };
  return { peer, log };
}

describe('runPytorchSuite with a stand-in peer', () => {
  let t = 0;
  const ctx: SuiteContext = {
    startBackend: async (name: BackendName) => {
      if (name !== 'cpu') throw new Error(`${name} is not in this test`);
      return { backend: createCpuBackend(), info: 'reference CPU backend' };
    },
    log: () => {},
    cpuClockMs: () => (t += 2), // every reading 2 ms later: each of our timed calls reads it twice
  };

  it('interleaves the sides, reports both clocks with ratios, and the agreement shows exactly the perturbation', async () => {
    const { peer, log } = await standInPeer(128, 0.25);
    const o = parsePytorchArgs([...HF, '--backends', 'cpu,tfjs-cpu', '--lengths', '128', '--rounds', '3', '--warmup', '1']);
    // The suite collects garbage before each of our calls: log it next to the peer's calls.
    const report = await runPytorchSuite(o, { ...ctx, gc: () => log.push('ours') }, async () => peer);
    const [cpuTable, wallTable, agreement] = report.tables;
    expect(cpuTable!.rows).toEqual([
      { L: 128, pass: 'fwd', 'torch ms': 8, 'cpu ms': 2, 'cpu ÷ torch': 0.25 },
      { L: 128, pass: 'fwd+bwd', 'torch ms': 8, 'cpu ms': 2, 'cpu ÷ torch': 0.25 },
    ]);
    expect(wallTable!.rows.map((r) => r['torch ms'])).toEqual([10, 10]);
    expect(wallTable!.rows.every((r) => typeof r['cpu ms'] === 'number' && r['cpu ms'] > 0)).toBe(true);
    // The case prepared once; per pass one warm-up each, then three rounds with the order rotating; the peer closed.
    const pass = (p: string) => [p, 'ours', p, 'ours', 'ours', p, p, 'ours'];
    expect(log).toEqual(['prepare 128', ...pass('time forward'), ...pass('time backward'), 'close']);
    expect(agreement!.rows).toHaveLength(1);
    const row = agreement!.rows[0]!;
    expect(row).toMatchObject({
      L: 128,
      buckets: '4',
      backend: 'cpu',
      'hash mismatches': '0 of 512',
      'Δ output': (0.25).toExponential(1),
      'Δ ∂hidden': '0.0e+0',
    });
    expect(Number(row['worst relative'])).toBeGreaterThan(0.01);
    expect(report.notes.join('\n')).toMatch(/tfjs-cpu: unavailable: tfjs-cpu is not in this test/);
    expect(report.notes.join('\n')).toMatch(/L 128, cpu: with Hugging Face's buckets, outputs or gradients differ from Hugging Face's/);
    expect(report.notes.join('\n')).not.toMatch(/bucket decisions differ/);
  }, 60_000);

  it('agreeing outputs raise no note; a peer on another thread count is refused and closed', async () => {
    const { peer } = await standInPeer(128, 0);
    const o = parsePytorchArgs([...HF, '--backends', 'cpu', '--lengths', '128', '--pass', 'forward', '--rounds', '1', '--warmup', '0']);
    const report = await runPytorchSuite(o, ctx, async () => peer);
    expect(report.tables[2]!.rows[0]!['Δ output']).toBe('0.0e+0');
    expect(report.notes.join('\n')).not.toMatch(/differ/);
    const two = await standInPeer(128, 0, 2);
    await expect(runPytorchSuite(o, ctx, async () => two.peer)).rejects.toThrow(/runs 2 threads, asked 1/);
    expect(two.log).toEqual(['close']);
  }, 60_000);

  it("counts our bucket decisions that differ from the peer's, and calls out more than near ties", async () => {
    const { peer } = await standInPeer(128, 0, 1, true);
    const o = parsePytorchArgs([...HF, '--backends', 'cpu', '--lengths', '128', '--pass', 'forward', '--rounds', '1', '--warmup', '0']);
    const report = await runPytorchSuite(o, ctx, async () => peer);
    expect(report.tables[2]!.rows[0]!['hash mismatches']).toBe('1 of 512');
    expect(report.notes.join('\n')).toMatch(/L 128, cpu: 1 of 512 bucket decisions differ from Hugging Face's/);
  }, 60_000);
});
