/**
 * The named errors of `reformer-train`. Each is reported as one message and exit status 2 (the
 * command line or its paths need changing), before any training step runs.
 * @module
 */
import { ReformerError } from '@reformer/core';

/** A problem with the command line that the user fixes by changing it: exit status 2. */
export class CliError extends ReformerError {}

/** A malformed command line: reported with the usage text. */
export class UsageError extends CliError {}

/** `--out` or `--checkpoint-dir` cannot be written (a file in the way, no permission, read-only). */
export class OutputPathError extends CliError {}

/** `--checkpoint-dir` holds another run's checkpoints and neither `--resume` nor `--overwrite` was given. */
export class CheckpointDirInUseError extends CliError {}

/** `--resume` with a training configuration that differs from the checkpoint's run in a way not allowed. */
export class RunMismatchError extends CliError {}

/** The model and batch the flags describe need more memory than `--max-memory` allows. */
export class TrainingMemoryError extends CliError {}
