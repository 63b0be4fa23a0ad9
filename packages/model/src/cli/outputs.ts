/**
 * Checks, before the first training step, that every output path of `reformer-train` can be written:
 * a run must not train for hours and then fail to save.
 * @module
 */
import { constants } from 'node:fs';
import { access, mkdtemp, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { OutputPathError } from './errors.js';

function code(e: unknown): string {
  return (e as { code?: string } | null)?.code ?? String(e);
}

/**
 * Checks that `path` is a directory, or can be created as one, and that the directory it is in (or
 * the nearest existing ancestor) is writable: by its permissions, and by creating and removing an
 * empty probe directory in it (which also catches read-only and pseudo file systems, and root).
 * @param flag - the flag that named the path (for the message), e.g. `--out`.
 * @throws {OutputPathError} naming the flag, the path and what is in the way.
 */
export async function checkOutputDir(flag: string, path: string): Promise<void> {
  const target = resolve(path);
  let p = target;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (e) {
      const c = code(e);
      if (c !== 'ENOENT' && c !== 'ENOTDIR') throw new OutputPathError(`${flag} ${path}: cannot check ${p} (${c}).`);
      const parent = dirname(p);
      if (parent === p) throw new OutputPathError(`${flag} ${path}: no existing directory above it (${c}).`);
      p = parent;
      continue;
    }
    if (!isDir) {
      throw new OutputPathError(
        p === target
          ? `${flag} ${path}: exists and is a file, not a directory; give a directory path (it is created if missing).`
          : `${flag} ${path}: ${p} is a file, not a directory, so ${path} cannot be created; choose another path.`,
      );
    }
    try {
      await access(p, constants.W_OK | constants.X_OK);
      await rmdir(await mkdtemp(join(p, '.reformer-write-check-')));
    } catch (e) {
      throw new OutputPathError(
        `${flag} ${path}: the directory ${p} is not writable (${code(e)}); choose another path or change its permissions.`,
      );
    }
    return;
  }
}
