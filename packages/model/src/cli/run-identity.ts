/**
 * The identity of a `reformer-train` run: the resolved values of every flag that shapes the weights
 * (model, data, optimisation, seed). It is stored in each checkpoint's `trainer_state.json` as `run`,
 * so that a resumed run can be checked against the run that wrote the checkpoint.
 * @module
 */
import { RunMismatchError } from './errors.js';

/** Flag name (without `--`) → resolved value. */
export type RunIdentity = Record<string, string | number | boolean | null>;

/**
 * Flags a resumed run may change: more (or fewer) steps continue the same run further (with the cosine
 * schedule, over the new length). Everything else in the identity must match.
 */
export const RESUMABLE_CHANGES: readonly string[] = ['steps'];

/** One difference between the checkpoint's run and this one. */
export interface RunChange {
  flag: string;
  saved: unknown;
  current: unknown;
}

function show(v: unknown): string {
  return v === undefined ? '(not recorded)' : v === null ? 'default' : String(v);
}

/** `--lr 0.001 → 0.005`. */
export function formatChange(c: RunChange): string {
  return `--${c.flag} ${show(c.saved)} → ${show(c.current)}`;
}

/** The differences between `saved` (from a checkpoint) and `current`, split into allowed and refused. */
export function compareRuns(saved: RunIdentity, current: RunIdentity): { allowed: RunChange[]; refused: RunChange[] } {
  const allowed: RunChange[] = [];
  const refused: RunChange[] = [];
  for (const flag of new Set([...Object.keys(saved), ...Object.keys(current)])) {
    const change = { flag, saved: saved[flag], current: current[flag] };
    if (Object.is(change.saved, change.current)) continue;
    (RESUMABLE_CHANGES.includes(flag) ? allowed : refused).push(change);
  }
  return { allowed, refused };
}

/**
 * Checks a resume: returns the allowed changes (to report); throws {@link RunMismatchError} listing
 * every refused one.
 */
export function checkResume(checkpointPath: string, saved: RunIdentity, current: RunIdentity): RunChange[] {
  const { allowed, refused } = compareRuns(saved, current);
  if (refused.length > 0) {
    throw new RunMismatchError(
      `--resume: the checkpoint ${checkpointPath} belongs to a run with other settings:\n` +
        `${refused.map((c) => `  ${formatChange(c)}`).join('\n')}\n` +
        `Resume with the run's settings (only ${RESUMABLE_CHANGES.map((f) => `--${f}`).join(', ')} may change), ` +
        `or start a new run in another --checkpoint-dir, or pass --overwrite instead of --resume to replace the old run.`,
    );
  }
  return allowed;
}
