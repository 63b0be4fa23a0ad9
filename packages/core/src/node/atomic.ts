/**
 * Atomic file replacement for Node.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Error codes with which platforms refuse to open or fsync a directory; durability is then best effort. */
const DIR_FSYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP']);

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** fsyncs a directory so that a rename inside it is durable; ignores platforms that cannot do this. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errorCode(e) ?? '')) throw e;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Writes a file atomically: readers see either the old content or the complete new content, never a
 * partial file, even if the process crashes midway.
 *
 * The data is written to a uniquely named temporary file in the target's directory (named
 * `.<target>.<pid>.<random>.tmp`), flushed to disk with fsync, renamed over the target, and then the
 * directory is fsynced so the rename itself is durable (skipped where the platform does not support
 * fsync on directories). If the target already exists as a regular file, its permission bits are kept.
 * On any error the temporary file is removed and the error is rethrown; the target is then unchanged.
 *
 * @param path - the file to create or replace. Its directory must exist.
 * @param data - the new content; a string is written as UTF-8.
 * @throws the underlying Node `fs` error (e.g. `ENOENT` if the directory does not exist, `EISDIR`
 *   if `path` is a directory).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  let created = false;
  try {
    let mode: number | undefined;
    try {
      const st = await stat(path);
      if (st.isFile()) mode = st.mode & 0o7777;
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
    }
    handle = await open(tmp, 'wx', mode ?? 0o666);
    created = true;
    if (mode !== undefined) await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
    created = false;
  } catch (e) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    if (created) await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDirectory(dir);
}
