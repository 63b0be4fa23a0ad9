import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLatestCheckpoint, loadModelFromDir } from '../src/node.js';
import { TINY_MODEL_FLAGS, cliTempDir, interruptCli } from './cli-run.js';

const tempDir = cliTempDir('reformer-cli-sigint-');

// Far more steps than the test waits for: only Ctrl-C ends the run.
const long = ['duplication', ...TINY_MODEL_FLAGS, '--vocab', '8', '--steps', '1000000', '--log-every', '1'];
const afterStep = (k: number) => (stdout: string) => new RegExp(`^step +${k}/`, 'm').test(stdout);

function stoppedAt(stdout: string): number {
  const m = /^stopped at step (\d+) /m.exec(stdout);
  expect(m, stdout.slice(-500)).not.toBeNull();
  return Number(m![1]);
}

describe('reformer-train under Ctrl-C (SIGINT to a real process)', () => {
  // Random moments: the signal can land in a step, in its progress output, or in the save.
  it.each([0, 1, 2, 3])(
    'without --checkpoint-dir: stops after the current step, saves the model whole, exits 130 (trial %i)',
    async (trial) => {
      const out = join(tempDir(), `model-${trial}`);
      const delay = Math.floor(Math.random() * 200);
      const r = await interruptCli([...long, '--out', out], tempDir(), { interruptWhen: afterStep(2), extraDelayMs: delay });
      expect(r.signal, `delay ${delay} ms: ${r.stderr}`).toBeNull();
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('interrupted; stopping after this step and saving the model');
      const step = stoppedAt(r.stdout);
      // Within one step of the last progress line printed before the signal was sent.
      expect(r.stdout).toMatch(new RegExp(`^step +${step}/1000000 `, 'm'));
      expect(r.stdout).not.toMatch(new RegExp(`^step +${step + 1}/`, 'm'));
      expect(r.stdout).toContain(`saved the model to ${out}`);
      const model = await loadModelFromDir(out);
      expect(model.config.vocab_size).toBe(8);
      model.dispose();
    },
  );

  it.each([0, 1])(
    'with --checkpoint-dir: saves a checkpoint of the step it stopped after, loadable, and says how to resume (trial %i)',
    async (trial) => {
      const ck = join(tempDir(), `ck-${trial}`);
      const r = await interruptCli([...long, '--checkpoint-dir', ck, '--checkpoint-every', '100000'], tempDir(), {
        interruptWhen: afterStep(3),
        extraDelayMs: Math.floor(Math.random() * 200),
      });
      expect(r.code, r.stderr).toBe(130);
      const step = stoppedAt(r.stdout);
      expect(r.stdout).toContain(
        `saved the checkpoint ${join(ck, `checkpoint-${String(step).padStart(8, '0')}`)}; continue with the same flags and --resume`,
      );
      const point = await loadLatestCheckpoint(ck);
      expect(point!.state.step).toBe(step);
      point!.model.dispose();
      expect((await readdir(ck)).filter((n) => n.startsWith('.'))).toEqual([]);
    },
  );

  it.each([
    ['without --checkpoint-dir', false],
    ['with --checkpoint-dir', true],
  ])('%s: a second Ctrl-C right after the first waits for the save and says so', async (_what, withCk) => {
    const target = join(tempDir(), withCk ? 'twice-ck' : 'twice-model');
    const args = withCk ? [...long, '--checkpoint-dir', target, '--checkpoint-every', '100000'] : [...long, '--out', target];
    const r = await interruptCli(args, tempDir(), { interruptWhen: afterStep(2), twice: true });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('still saving; waiting for the save to finish');
    const step = stoppedAt(r.stdout);
    if (withCk) {
      const point = await loadLatestCheckpoint(target);
      expect(point!.state.step).toBe(step);
      point!.model.dispose();
    } else {
      const model = await loadModelFromDir(target);
      model.dispose();
    }
  });
});
