/**
 * The few file-system operations a checkpoint save is made of, each durable on return (files and
 * directories fsynced). Node only. Saving goes through this interface so that tests can inject a crash
 * at every single operation and check what a reader finds afterwards.
 * @module
 */
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';

/** The operations `saveCheckpoint` performs, in the order it performs them. */
export interface CheckpointFs {
  /** Creates a directory and its missing parents. */
  mkdir(path: string): Promise<void>;
  /** Creates (or truncates) a file, writes `data`, fsyncs and closes it. */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** fsyncs a directory, so the entries created, renamed or removed in it survive a power loss. */
  syncDir(path: string): Promise<void>;
  /** Renames a file or directory (atomic within one file system). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file or a directory tree; a missing path is not an error. */
  rm(path: string): Promise<void>;
  /** The names in a directory. */
  readdir(path: string): Promise<string[]>;
}

/** Platforms that refuse to open or fsync a directory: durability of renames is then best effort. */
const DIR_FSYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP']);

/** The real file system (`node:fs/promises`). */
export const nodeCheckpointFs: CheckpointFs = {
  async mkdir(path) {
    await mkdir(path, { recursive: true });
  },
  async writeFile(path, data) {
    const handle = await open(path, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  async syncDir(path) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      await handle.sync();
    } catch (e) {
      if (!DIR_FSYNC_UNSUPPORTED.has((e as { code?: string }).code ?? '')) throw e;
    } finally {
      await handle?.close().catch(() => undefined);
    }
  },
  rename: (from, to) => rename(from, to),
  rm: (path) => rm(path, { recursive: true, force: true }),
  readdir: (path) => readdir(path),
};
