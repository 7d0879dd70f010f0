/**
 * File helpers for Node: writing output files so that a reader (or a crash) never sees half of one.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hwrError, isHwrError } from '../core/errors.ts';

/**
 * Writes `contents` to `path` atomically: into a fresh temporary file in the same folder
 * (`.<name>.<random>.tmp`, created exclusively), flushed to disk with fsync, then renamed over `path`.
 * A rename within one folder is atomic on POSIX file systems and on NTFS, so `path` always holds either
 * the old contents or all of the new ones. Creates the folder if missing. On failure the temporary file
 * is removed and the error (Node's, with its `code`) is rethrown; `path` is left as it was.
 *
 * Written here rather than taken from npm's `write-file-atomic`: its current major (8) needs Node >= 22,
 * and what we need is these few lines (no ownership changes, no queueing of concurrent writes to one path:
 * concurrent writers each rename a complete file, and the last rename wins).
 *
 * @param path Destination file.
 * @param contents Bytes, or a string written as UTF-8.
 */
export async function writeFileAtomic(path: string, contents: string | Uint8Array): Promise<void> {
  await writeFileAtomicWith(path, (handle) => handle.writeFile(contents));
}

/**
 * The mechanism behind `writeFileAtomic`, for contents written piece by piece (a stream of records): `write` gets the
 * open temporary file and writes to it; then the file is fsynced, closed and renamed over `path`. If `write` throws,
 * the temporary file is removed, `path` is left as it was, and the error is rethrown.
 *
 * @param path Destination file.
 * @param write Writes the whole contents through the handle; its result is returned.
 * @returns What `write` returned.
 */
export async function writeFileAtomicWith<T>(path: string, write: (handle: FileHandle) => Promise<T>): Promise<T> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true });
  const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx');
    let result: T;
    try {
      result = await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    return result;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Maps an error of reading the input file `path` (Node's, by its `code`) to an `HwrError` naming it, the one way the
 * CLI reports an input it cannot read: `FILE_NOT_FOUND` "<path>: no such file"; `BAD_ARGUMENT` "<path>: is a
 * directory, not <kind>", "<path>: permission denied" or "<path>: cannot read (<reason>)". An `HwrError` passes as it is.
 * @param kind what the file should have been, e.g. `an image file`, `an ink file`
 */
export function fileReadError(error: unknown, path: string, kind: string): Error {
  if (isHwrError(error)) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return hwrError('FILE_NOT_FOUND', `${path}: no such file`, error);
  if (code === 'EISDIR') return hwrError('BAD_ARGUMENT', `${path}: is a directory, not ${kind}`, error);
  if (code === 'EACCES' || code === 'EPERM') return hwrError('BAD_ARGUMENT', `${path}: permission denied`, error);
  const message = error instanceof Error ? error.message : String(error);
  return hwrError('BAD_ARGUMENT', `${path}: cannot read (${message})`, error);
}
