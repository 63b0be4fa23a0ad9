#!/usr/bin/env node
/**
 * `reformer-convert`: PyTorch weights (`pytorch_model.bin`, sharded `pytorch_model.bin.index.json`,
 * any `torch.save`d state dict) → `model.safetensors`, which loads faster and holds no code. The
 * PyTorch file is read by core's restricted reader (nothing in it is executed) and the result written
 * atomically. Run `reformer-convert --help` for the flags.
 * @module
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ReformerError } from '@reformer/core';
import { writeSafetensorsFile } from '@reformer/core/node';
import { readWeightsFile } from './weights-files.js';
import { runWhenInvoked } from './cli/entry.js';

/** The usage text. */
export const CONVERT_USAGE = `Usage: reformer-convert <input> [--out FILE] [--force]

Converts PyTorch weights to model.safetensors (float32; float16/bfloat16 weights are widened). The
PyTorch file is read by a restricted reader that executes nothing in it.

  <input>        a model folder (its pytorch_model.bin, else pytorch_model.bin.index.json), a
                 .bin/.pt/.pth state dict, or a sharded checkpoint's *.index.json
  --out FILE     the file to write (default: model.safetensors next to the input)
  --force        replace the output file if it exists
  -h, --help     show this text
`;

/** What {@link convertCheckpoint} did. */
export interface ConvertResult {
  /** The PyTorch files read. */
  inputs: string[];
  /** The safetensors file written. */
  output: string;
  /** Tensors written. */
  tensors: number;
  /** Their elements, summed. */
  elements: number;
  /** Bytes of the written file. */
  bytes: number;
}

/** A command-line or input problem the user can fix (exit status 2). */
class ConvertUsageError extends ReformerError {}

async function exists(path: string): Promise<{ dir: boolean } | null> {
  try {
    return { dir: (await stat(path)).isDirectory() };
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw e;
  }
}

/** The file to read for `input`: a folder's PyTorch weights, or the file itself. */
async function resolveInput(input: string): Promise<string> {
  const found = await exists(input);
  if (found === null) throw new ConvertUsageError(`${input}: no such file or folder.`);
  if (!found.dir) return input;
  for (const name of ['pytorch_model.bin', 'pytorch_model.bin.index.json']) {
    if ((await exists(join(input, name))) !== null) return join(input, name);
  }
  throw new ConvertUsageError(
    `${input}: no pytorch_model.bin or pytorch_model.bin.index.json in this folder; pass the PyTorch file itself.`,
  );
}

/**
 * Converts PyTorch weights to a safetensors file (float32 / int32 tensors, names as in the state dict,
 * metadata `format: pt` as Hugging Face writes it), written atomically.
 *
 * @param input - a folder, a `.bin`/`.pt`/`.pth` file, or a `*.index.json`.
 * @param options - `out`: the file to write (default `model.safetensors` next to the input); `force`:
 *   replace it if it exists.
 * @throws core's `CheckpointFormatError` / `PickleSecurityError` for a damaged or unsafe input, the
 *   weights-files errors for a bad sharded index, or an error if the output exists without `force`.
 */
export async function convertCheckpoint(input: string, options: { out?: string; force?: boolean } = {}): Promise<ConvertResult> {
  const path = await resolveInput(input);
  const output = options.out ?? join(dirname(path), 'model.safetensors');
  if (!options.force && (await exists(output)) !== null) {
    throw new ConvertUsageError(`${output} exists; pass --force to replace it, or --out to write elsewhere.`);
  }
  const weights = await readWeightsFile(path);
  let elements = 0;
  for (const t of weights.tensors.values()) elements += t.values.length;
  await writeSafetensorsFile(output, weights.tensors, { format: 'pt' });
  const written = await stat(output);
  return { inputs: weights.files.map((f) => join(dirname(path), f)), output, tensors: weights.tensors.size, elements, bytes: written.size };
}

const FLAGS = { out: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

interface Output {
  write(s: string): unknown;
}

/** Runs the CLI; returns the exit status (0 converted, 1 the input could not be read or converted, 2 bad command line). */
export async function main(argv: readonly string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`reformer-convert: ${(e as Error).message}\n\n${CONVERT_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    out.write(CONVERT_USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    err.write(`reformer-convert: expected one input, got ${parsed.positionals.length}.\n\n${CONVERT_USAGE}`);
    return 2;
  }
  const started = performance.now();
  try {
    const r = await convertCheckpoint(parsed.positionals[0]!, {
      ...(parsed.values.out !== undefined ? { out: parsed.values.out } : {}),
      force: parsed.values.force === true,
    });
    const secs = ((performance.now() - started) / 1000).toFixed(2);
    out.write(
      `reformer-convert: ${r.inputs.map((f) => basename(f)).join(', ')} → ${r.output}: ${r.tensors} tensors, ` +
        `${r.elements.toLocaleString('en-US')} values, ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${secs} s\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof ConvertUsageError) {
      err.write(`reformer-convert: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ReformerError) {
      err.write(`reformer-convert: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

runWhenInvoked('reformer-convert', 'convert-cli', main);
