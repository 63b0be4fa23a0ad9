/**
 * Node-only: the torch peer of `--suite pytorch` — finds Hugging Face's `modeling_reformer.py` in the
 * transformers tree the user gives, starts `apps/bench/peers/hf_lsh_attention.py` with the user's Python
 * and talks to it one JSON line at a time (the protocol is parsed in `src/suites/pytorch.ts`).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  HF_TRANSFORMERS_HINT,
  parsePrepared,
  parseReady,
  parseTimes,
  PYTORCH_CASE,
  TORCH_TENSORS,
  TorchPeerError,
  type TorchCase,
  type TorchPeer,
  type TorchPeerStarter,
} from '../suites/pytorch.js';

/** The file `--hf-transformers` must lead to, below the transformers package directory. */
const MODELING_REFORMER = join('models', 'reformer', 'modeling_reformer.py');

/**
 * Hugging Face's `modeling_reformer.py` in a transformers source tree: `DIR` may be the repository
 * clone, its `src/` or the `transformers` package directory itself.
 *
 * @throws {TorchPeerError} when none of them holds the file, saying where it looked and what to give.
 */
export function findModelingReformer(dir: string): string {
  const root = resolve(dir);
  const candidates = [join(root, 'src', 'transformers'), join(root, 'transformers'), root].map((d) => join(d, MODELING_REFORMER));
  const found = candidates.find((f) => existsSync(f));
  if (found) return found;
  throw new TorchPeerError(`--hf-transformers ${dir}: no ${candidates.join(', ')}. ${HF_TRANSFORMERS_HINT}`);
}

/** apps/bench/peers/hf_lsh_attention.py, from the built CLI (dist/) or from the sources (src/node/). */
export function peerScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', 'peers', 'hf_lsh_attention.py'), resolve(here, '..', '..', 'peers', 'hf_lsh_attention.py')];
  const found = candidates.find((f) => existsSync(f));
  if (!found) throw new TorchPeerError(`the torch peer script is missing: looked for ${candidates.join(', ')}`);
  return found;
}

/** A little-endian file of 4-byte elements (float32; int32 through its buffer) of `shape`. @throws {TorchPeerError} on another size. */
function readFloat32(file: string, shape: readonly number[]): Float32Array {
  const buf = readFileSync(file);
  const count = shape.reduce((p, d) => p * d, 1);
  if (buf.byteLength !== count * 4)
    throw new TorchPeerError(`${file}: ${buf.byteLength} bytes, expected ${count * 4} for shape [${shape.join(', ')}]`);
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** Starts the peer: Python with the HF file found under `o.hfTransformers`, torch on `o.threads` threads. */
export const startTorchPeer: TorchPeerStarter = async (o, log) => {
  const modeling = findModelingReformer(o.hfTransformers);
  const work = mkdtempSync(join(tmpdir(), 'reformer-torch-peer-'));
  const args = [
    peerScript(),
    '--modeling-reformer',
    modeling,
    '--threads',
    String(o.threads),
    '--seed',
    String(o.seed),
    '--n-hashes',
    String(PYTORCH_CASE.nHashes),
    '--chunk',
    String(PYTORCH_CASE.chunkLength),
    '--dhead',
    String(PYTORCH_CASE.dHead),
  ];
  log(`  starting the torch peer: ${o.python} ${args.join(' ')}`);
  const child = spawn(o.python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {}); // a peer that died is reported by the next read (with its stderr)
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr.push(...s.split('\n').filter((l) => l.trim() !== ''));
    stderr.splice(0, Math.max(0, stderr.length - 20));
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let exited: string | null = null;
  const exit = new Promise<void>((done) => {
    child.on('error', (err) => {
      exited = `${o.python} could not be started (${err.message}); give --python PATH to a Python 3 with torch`;
      done();
    });
    child.on('exit', (code, signal) => {
      exited ??= `the torch peer exited (${signal ?? `status ${code}`})`;
      done();
    });
  });
  const why = () => {
    const tail = stderr.slice(-3).join(' | ');
    const torchMissing = stderr.some((l) => /No module named 'torch'/.test(l));
    return `${exited ?? 'the torch peer closed its output'}${tail ? `: ${tail}` : ''}${torchMissing ? `. ${o.python} has no torch: give --python PATH to a Python 3 with torch (Debian: apt install python3-torch)` : ''}`;
  };
  const next = async (): Promise<string> => {
    const r = await Promise.race([lines.next(), exit.then(() => null)]);
    if (r === null || r.done) throw new TorchPeerError(why());
    return r.value as string;
  };
  const ask = (msg: object): Promise<string> => {
    child.stdin.write(`${JSON.stringify(msg)}\n`);
    return next();
  };
  const close = async () => {
    if (exited === null) {
      child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
      await Promise.race([exit, new Promise((done) => setTimeout(done, 5000))]);
      if (exited === null) child.kill();
    }
    rmSync(work, { recursive: true, force: true });
  };
  let info;
  try {
    info = parseReady(await next());
  } catch (err) {
    await close();
    throw err;
  }
  const peer: TorchPeer = {
    info,
    async prepare(length): Promise<TorchCase> {
      const dir = join(work, String(length));
      const p = parsePrepared(await ask({ cmd: 'prepare', length, dir }), length);
      const tensors = {} as TorchCase['tensors'];
      for (const name of TORCH_TENSORS) {
        const { file, shape } = p.files[name];
        tensors[name] = { shape, data: readFloat32(file, shape) };
      }
      const { file, shape } = p.files.buckets;
      const buckets = { shape, data: new Int32Array(readFloat32(file, shape).buffer) };
      rmSync(dir, { recursive: true, force: true });
      return { length, numBuckets: p.numBuckets, tensors, buckets };
    },
    async time(pass, runs) {
      return parseTimes(await ask({ cmd: 'time', pass, runs }), runs);
    },
    close,
  };
  return peer;
};
