/**
 * `--suite load`: load time and peak memory of a checkpoint — by default `google/reformer-enwik8`'s
 * architecture (149M parameters) with random weights — from `model.safetensors` and, where a Python with
 * PyTorch is found, from `pytorch_model.bin` in the zip and the legacy format, next to the file size.
 * With `--forward LENGTHS`, also a forward pass of that model (hidden states, evaluation mode) at each
 * length on one backend, up to the architecture's full 65,536 positions.
 * Every load and every forward runs in a fresh Node process, so its peak RSS is its own.
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMMON_SUITE_FLAGS, parseFlags } from '../args.js';
import { mib, type SuiteContext, type SuiteReport, type SuiteRow, type SuiteTable } from './suite.js';

/** `google/reformer-enwik8`'s published `config.json` (its architecture; the weights here are random). */
export const ENWIK8_CONFIG: Record<string, unknown> = {
  architectures: ['ReformerModelWithLMHead'],
  model_type: 'reformer',
  attention_head_size: 128,
  attn_layers: ['local', 'local', 'lsh', 'local', 'local', 'local', 'lsh', 'local', 'local', 'local', 'lsh', 'local'],
  axial_norm_std: 1.0,
  axial_pos_embds: true,
  axial_pos_embds_dim: [256, 768],
  axial_pos_shape: [128, 512],
  chunk_size_feed_forward: 0,
  chunk_size_lm_head: 0,
  feed_forward_size: 4096,
  hash_seed: null,
  hidden_act: 'relu',
  hidden_dropout_prob: 0.2,
  hidden_size: 1024,
  initializer_range: 0.02,
  is_decoder: true,
  layer_norm_eps: 1e-12,
  local_attention_probs_dropout_prob: 0.2,
  local_attn_chunk_length: 128,
  local_num_chunks_after: 0,
  local_num_chunks_before: 1,
  lsh_attention_probs_dropout_prob: 0.1,
  lsh_attn_chunk_length: 256,
  lsh_num_chunks_after: 0,
  lsh_num_chunks_before: 1,
  max_position_embeddings: 65536,
  num_attention_heads: 8,
  num_buckets: 512,
  num_hashes: 4,
  num_hidden_layers: 12,
  pad_token_id: 0,
  tie_word_embeddings: false,
  vocab_size: 258,
};

/** A small architecture for `--quick` (two layers, width 64). */
export const SMALL_CONFIG: Record<string, unknown> = {
  attn_layers: ['local', 'lsh'],
  attention_head_size: 32,
  axial_pos_embds_dim: [32, 32],
  axial_pos_shape: [16, 16],
  feed_forward_size: 128,
  hidden_size: 64,
  is_decoder: true,
  local_attn_chunk_length: 16,
  lsh_attn_chunk_length: 16,
  max_position_embeddings: 256,
  num_attention_heads: 2,
  num_buckets: 8,
  num_hashes: 1,
  vocab_size: 258,
};

/** Options of the load suite. */
export interface LoadOptions {
  /** The architecture (Hugging Face `config.json` fields). */
  config: Record<string, unknown>;
  configName: string;
  /** Python with PyTorch for the `pytorch_model.bin` rows, or null to skip them. */
  python: string | null;
  /** Lengths of the forward rows (none: no forward). */
  forward: number[];
  /** Backend of the forward rows. */
  forwardBackend: ForwardBackend;
  /** Threads of the wasm backend in the forward rows. */
  wasmThreads: number;
  /** `chunk_size_feed_forward` of the forward rows (0: the config's own). */
  ffnChunk: number;
  json?: string | undefined;
  help: boolean;
}

/** The backends the forward rows can run on. */
export const FORWARD_BACKENDS = ['wasm', 'cpu'] as const;
/** A backend of the forward rows. */
export type ForwardBackend = (typeof FORWARD_BACKENDS)[number];

const FLAGS = {
  ...COMMON_SUITE_FLAGS,
  config: 'string',
  python: 'string',
  'no-torch': 'switch',
  forward: 'ints',
  'forward-backend': { oneOf: FORWARD_BACKENDS },
  'wasm-threads': 'count',
  'ffn-chunk': 'int',
} as const;

/** The flags of `--suite load`. */
export const LOAD_USAGE = `--suite load: load time and peak RSS of a checkpoint from safetensors and pytorch_model.bin
  --config FILE     a config.json to build (default: google/reformer-enwik8's architecture; --quick: 2 small layers)
  --python PATH     Python with torch for the pytorch_model.bin rows (default $PYTHON or /usr/bin/python3)
  --no-torch        only the safetensors row
  --forward LENGTHS also run the model forward (hidden states, eval mode, random token ids) at these lengths,
                    e.g. 4k,64k; each in a fresh Node process
  --forward-backend wasm (default) or cpu
  --wasm-threads N  threads of the wasm backend for --forward (default 2)
  --ffn-chunk N     chunk_size_feed_forward for --forward (default 4096: the feed-forward's [length, 4096]
                    intermediate in slices of N tokens; 0 keeps the config's value)
  --json FILE       write the report as JSON`;

/** Parses the flags of `--suite load`. */
export function parseLoadArgs(argv: readonly string[]): LoadOptions {
  const f = parseFlags('load', argv, FLAGS);
  const config = f.config
    ? (JSON.parse(readFileSync(f.config, 'utf8')) as Record<string, unknown>)
    : f.quick
      ? SMALL_CONFIG
      : ENWIK8_CONFIG;
  return {
    config,
    configName: f.config ?? (f.quick ? 'a small 2-layer architecture (--quick)' : 'google/reformer-enwik8 architecture'),
    python: f['no-torch'] ? null : (f.python ?? process.env.PYTHON ?? '/usr/bin/python3'),
    forward: f.forward ?? [],
    forwardBackend: f['forward-backend'] ?? 'wasm',
    wasmThreads: f['wasm-threads'] ?? 2,
    ffnChunk: f['ffn-chunk'] ?? 4096,
    json: f.json,
    help: f.help === true,
  };
}

/** The file: URL of a workspace package's built entry point `subpath` (read from its `exports`). */
function entryUrl(pkg: string, subpath = '.'): string {
  const manifest = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: string }> }).exports;
  return pathToFileURL(join(dirname(manifest), exports[subpath]!.import)).href;
}

/** file: URLs of `@reformer/model`'s built entry points. */
function modelEntries(): { index: string; node: string } {
  return { index: entryUrl('@reformer/model'), node: entryUrl('@reformer/model', './node') };
}

/** Runs ES module code in a fresh Node process; returns the JSON of its last output line. */
function inFreshNode<T>(code: string): T {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child process failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/** Writes `pytorch_model.bin` (zip or legacy) from the safetensors file with torch.save. */
function writeTorchFile(python: string, safetensors: string, out: string, zipped: boolean): void {
  execFileSync(python, [
    '-c',
    `
import json, struct, collections, numpy as np, torch
data = open(${JSON.stringify(safetensors)}, 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
sd = collections.OrderedDict()
for k, e in json.loads(data[8:8 + n]).items():
    if k == '__metadata__': continue
    a, b = e['data_offsets']
    sd[k] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.float32).reshape(e['shape']).copy())
torch.save(sd, ${JSON.stringify(out)}, _use_new_zipfile_serialization=${zipped ? 'True' : 'False'})
`,
  ]);
}

/** Builds the checkpoint, writes it in each format and loads each in a fresh process. */
export async function runLoadSuite(o: LoadOptions, ctx: SuiteContext): Promise<SuiteReport> {
  const entries = modelEntries();
  const work = mkdtempSync(join(tmpdir(), 'reformer-load-bench-'));
  try {
    const safeDir = join(work, 'safetensors');
    mkdirSync(safeDir);
    ctx.log(`  building ${o.configName} with random weights and saving model.safetensors`);
    const { params } = inFreshNode<{ params: number }>(`
      import { ReformerModelWithLMHead } from ${JSON.stringify(entries.index)};
      import { saveModel } from ${JSON.stringify(entries.node)};
      const model = new ReformerModelWithLMHead(${JSON.stringify(o.config)}, { seed: 1 });
      await saveModel(${JSON.stringify(safeDir)}, model);
      console.log(JSON.stringify({ params: model.numParameters() }));
    `);
    const dirs: [string, string, string][] = [['model.safetensors', safeDir, 'model.safetensors']];
    const notes: string[] = [];
    const haveTorch = o.python !== null && spawnSync(o.python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
    if (haveTorch && o.python !== null) {
      for (const [label, zipped] of [
        ['pytorch_model.bin (zip)', true],
        ['pytorch_model.bin (legacy)', false],
      ] as const) {
        const dir = join(work, zipped ? 'zip' : 'legacy');
        mkdirSync(dir);
        copyFileSync(join(safeDir, 'config.json'), join(dir, 'config.json'));
        ctx.log(`  writing ${label} with torch.save`);
        writeTorchFile(o.python, join(safeDir, 'model.safetensors'), join(dir, 'pytorch_model.bin'), zipped);
        dirs.push([label, dir, 'pytorch_model.bin']);
      }
    } else {
      notes.push(
        o.python === null
          ? 'pytorch_model.bin rows skipped (--no-torch).'
          : `pytorch_model.bin rows skipped: ${o.python} cannot import torch.`,
      );
    }
    const rows: SuiteRow[] = [];
    for (const [label, dir, file] of dirs) {
      const r = inFreshNode<{ read: number; load: number; tensors: number; rss: number }>(`
        import { loadModelFromDir, readWeightsFromDir } from ${JSON.stringify(entries.node)};
        const t0 = performance.now();
        const weights = await readWeightsFromDir(${JSON.stringify(dir)});
        const t1 = performance.now();
        await loadModelFromDir(${JSON.stringify(dir)});
        const t2 = performance.now();
        console.log(JSON.stringify({ read: (t1 - t0) / 1000, load: (t2 - t1) / 1000, tensors: weights.tensors.size, rss: process.resourceUsage().maxRSS * 1024 }));
      `);
      rows.push({
        'weights file': label,
        'size MiB': mib(statSync(join(dir, file)).size),
        tensors: r.tensors,
        'read weights s': r.read,
        'loadModelFromDir s': r.load,
        'peak RSS MiB': mib(r.rss),
      });
    }
    const report: SuiteReport = {
      suite: 'load',
      title: `Checkpoint loading — ${o.configName}, random weights, ${params.toLocaleString('en-US')} parameters; each load in a fresh Node process`,
      tables: [
        {
          title:
            'read weights: readWeightsFromDir alone; loadModelFromDir: read again, build the model, load the weights; peak RSS covers both',
          columns: ['weights file', 'size MiB', 'tensors', 'read weights s', 'loadModelFromDir s', 'peak RSS MiB'],
          rows,
        },
      ],
      notes,
    };
    if (o.forward.length > 0) report.tables.push(forwardTable(o, ctx));
    return report;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What one forward row's child process reports. */
interface ForwardResult {
  /** The error the forward threw (name: message), if it did; then nothing else is set. */
  error?: string;
  seconds: number;
  peakTensorBytes: number;
  rss: number;
  finite: boolean;
  backend: string;
}

/** The ES module code of one forward row's child process: prints a {@link ForwardResult} as JSON. */
function forwardCode(o: LoadOptions, length: number): string {
  const config = o.ffnChunk > 0 ? { ...o.config, chunk_size_feed_forward: o.ffnChunk } : o.config;
  const start =
    o.forwardBackend === 'wasm'
      ? `const { createWasmBackend } = await import(${JSON.stringify(entryUrl('@reformer/backend-wasm', './node'))});
        const backend = await createWasmBackend({ threads: ${o.wasmThreads} });
        const f = backend.kernelFeatures;
        const label = 'wasm (' + f.variant + ', ' + f.threads + (f.threads === 1 ? ' thread)' : ' threads)');`
      : `const backend = core.createCpuBackend();
        const label = 'cpu (reference)';`;
  return `
    try {
    const core = await import(${JSON.stringify(entryUrl('@reformer/core'))});
    const { ReformerModelWithLMHead } = await import(${JSON.stringify(modelEntries().index)});
    ${start}
    await core.setBackend(backend);
    const model = new ReformerModelWithLMHead(${JSON.stringify(config)}, { seed: 1 });
    model.eval();
    const ids = core.tensor(Int32Array.from({ length: ${length} }, (_, i) => 2 + ((i * 7919) % 256)), [1, ${length}], 'int32');
    core.resetPeak();
    const t0 = performance.now();
    const out = core.noGrad(() => core.tidy(() => model.hiddenStates(ids)));
    const values = await out.data();
    const seconds = (performance.now() - t0) / 1000;
    const peakTensorBytes = core.memory().peakBytes;
    const rss = process.resourceUsage().maxRSS * 1024;
    console.log(JSON.stringify({ seconds, peakTensorBytes, rss, finite: values.every(Number.isFinite), backend: label }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.name + ': ' + e.message }));
    }
    process.exit(0);
  `;
}

/**
 * The forward rows: in a fresh Node process per length, build the model (random weights), run
 * `hiddenStates` under `noGrad` on token ids, read the result back and check it is finite. A length
 * that fails (e.g. a backend's memory limit) is a row with the child's error.
 */
function forwardTable(o: LoadOptions, ctx: SuiteContext): SuiteTable {
  const rows: SuiteRow[] = [];
  for (const length of o.forward) {
    ctx.log(`  forward at ${length} tokens on ${o.forwardBackend} (a fresh process)`);
    try {
      const r = inFreshNode<ForwardResult>(forwardCode(o, length));
      if (r.error !== undefined) throw new Error(r.error);
      rows.push({
        length,
        backend: r.backend,
        s: r.seconds,
        'ms/token': (r.seconds * 1000) / length,
        'peak tensor MiB': mib(r.peakTensorBytes),
        'peak RSS MiB': mib(r.rss),
        result: r.finite ? 'finite' : 'NOT FINITE',
      });
    } catch (e) {
      const blank = { s: null, 'ms/token': null, 'peak tensor MiB': null, 'peak RSS MiB': null };
      rows.push({ length, backend: o.forwardBackend, ...blank, result: (e as Error).message });
    }
  }
  const ffn = o.ffnChunk > 0 ? `, chunk_size_feed_forward ${o.ffnChunk}` : '';
  return {
    title: `forward (hidden states, evaluation mode, batch 1) of the same architecture${ffn}; each length in a fresh Node process`,
    columns: ['length', 'backend', 's', 'ms/token', 'peak tensor MiB', 'peak RSS MiB', 'result'],
    rows,
  };
}
