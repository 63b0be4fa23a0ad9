// reformer-generate as users run it: the committed bin in a subprocess (turbo builds before testing),
// over models saved with saveModel, compared with generateText in this process.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteTokenizer, ReformerModel, ReformerModelWithLMHead, SentencePieceTokenizer, generateText } from '../src/index.js';
import { loadTokenizerFromDir, saveModel } from '../src/node.js';
import { tinyConfig } from './helpers.js';

const bin = fileURLToPath(new URL('../bin/reformer-generate.js', import.meta.url));
const spiece = fileURLToPath(new URL('./fixtures/tokenizers/unigram.model', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function savedModel(vocab: number, seed: number, withSpiece: boolean): Promise<{ dir: string; model: ReformerModelWithLMHead }> {
  const dir = mkdtempSync(join(tmpdir(), 'reformer-generate-'));
  dirs.push(dir);
  const model = new ReformerModelWithLMHead(tinyConfig({ vocab_size: vocab, axial_pos_shape: [8, 8], initializer_range: 0.5 }), { seed });
  await saveModel(dir, model);
  if (withSpiece) copyFileSync(spiece, join(dir, 'spiece.model'));
  return { dir, model };
}

describe('reformer-generate', () => {
  it('prints the prompt and the text generateText gives (SentencePiece tokenizer from the model directory)', async () => {
    const { dir, model } = await savedModel(150, 3, true);
    const r = run(['--model', dir, '--prompt', 'the reformer', '--max-new-tokens', '12', '--seed', '5', '--top-k', '20']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const tok = await loadTokenizerFromDir(dir);
    const text = await generateText(model, tok, 'the reformer', { maxNewTokens: 12, seed: 5, topK: 20, temperature: 1 });
    expect(r.stdout).toBe(`the reformer${text}\n`);
    model.dispose();
  });

  it('--tokenizer bytes, greedy and without the cache', async () => {
    const { dir, model } = await savedModel(258, 4, false);
    const r = run(['--model', dir, '--prompt', 'Hi', '--max-new-tokens', '6', '--temperature', '0', '--no-cache', '--tokenizer', 'bytes']);
    expect(r.status).toBe(0);
    const text = await generateText(model, new ByteTokenizer(), 'Hi', { maxNewTokens: 6, temperature: 0, cache: false });
    expect(r.stdout).toBe(`Hi${text}\n`);
    model.dispose();
  });

  it('--tokenizer bytes on a 256-id model (reformer-train char-lm) reads raw bytes; other sizes are refused', async () => {
    const { dir, model } = await savedModel(256, 9, false);
    const r = run(['--model', dir, '--prompt', 'Hi', '--max-new-tokens', '5', '--temperature', '0', '--tokenizer', 'bytes']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`Hi${await generateText(model, new ByteTokenizer({ offset: 0 }), 'Hi', { maxNewTokens: 5, temperature: 0 })}\n`);
    model.dispose();
    const odd = await savedModel(300, 9, false);
    const bad = run(['--model', odd.dir, '--prompt', 'Hi', '--tokenizer', 'bytes']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/needs a model vocabulary of 256 \(raw bytes\) or 258/);
    odd.model.dispose();
  });

  it('a directory without a tokenizer file: a named error that says what was looked for and found', async () => {
    const { dir, model } = await savedModel(258, 5, false);
    const r = run(['--model', dir, '--prompt', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no tokenizer file \(looked for spiece\.model; found config\.json, model\.safetensors\)/);
    expect(r.stderr).toContain('--tokenizer bytes');
    model.dispose();
  });

  it('bad command lines exit 2 with the reason and the usage', () => {
    for (const [args, reason] of [
      [['--prompt', 'x'], /--model DIR is required/],
      [['--model', 'm'], /--prompt TEXT is required/],
      [['--model', 'm', '--prompt', 'x', '--max-new-tokens', '0x10'], /--max-new-tokens must be an integer ≥ 0, got '0x10'/],
      [['--model', 'm', '--prompt', 'x', '--max-new-tokens', '1e1'], /got '1e1'/],
      [['--model', 'm', '--prompt', 'x', '--top-p', '1.5'], /--top-p must be a number in \(0, 1\]/],
      [['--model', 'm', '--model', 'n', '--prompt', 'x'], /--model is given more than once/],
      [['--model', 'm', '--prompt', 'x', '--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const r = run([...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toContain('Usage: reformer-generate');
    }
  });

  it('a model that is not a causal LM, and a tokenizer larger than the vocabulary, are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reformer-generate-'));
    dirs.push(dir);
    const encoder = new ReformerModel(tinyConfig({ vocab_size: 258, axial_pos_shape: [8, 8] }), { seed: 1 });
    await saveModel(dir, encoder);
    expect(run(['--model', dir, '--prompt', 'x', '--tokenizer', 'bytes']).stderr).toMatch(
      /expected a ReformerModelWithLMHead, but the checkpoint holds a ReformerModel/,
    );
    encoder.dispose();
    const small = await savedModel(100, 6, true);
    const r = run(['--model', small.dir, '--prompt', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the tokenizer has 150 ids but the model's vocabulary is 100/);
    small.model.dispose();
    // A file that is not a SentencePiece model.
    writeFileSync(join(small.dir, 'bad.model'), 'not a model');
    expect(run(['--model', small.dir, '--prompt', 'x', '--tokenizer', join(small.dir, 'bad.model')]).status).toBe(2);
    expect(SentencePieceTokenizer).toBeDefined();
  });
});
