/**
 * One error shape for the whole toolkit: a message that names the input and the reason,
 * and a stable machine-readable `code` that the CLI and the server map to exit codes and HTTP statuses.
 */

/** Stable error codes. */
export type HwrErrorCode =
  | 'NO_INK'
  | 'NOT_AN_IMAGE'
  | 'CORRUPT_IMAGE'
  | 'IMAGE_TOO_LARGE'
  | 'EMPTY_IMAGE'
  | 'FILE_NOT_FOUND'
  | 'CORRUPT_IDX'
  | 'CORRUPT_GNT'
  | 'UNKNOWN_MODEL'
  | 'BAD_MODEL'
  | 'UNSUPPORTED_MODEL'
  | 'BAD_ARGUMENT'
  /** Ink that is not strokes of finite points, or exceeds `INK_LIMITS` (src/core/ink.ts). */
  | 'BAD_INK'
  /** A file or payload that is not a valid `hwr-ink-dataset` (src/data/inkDataset.ts). */
  | 'BAD_DATASET';

/** An `Error` with a stable `code`. */
export class HwrError extends Error {
  readonly code: HwrErrorCode;

  constructor(code: HwrErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HwrError';
    this.code = code;
  }
}

/** Creates an `HwrError`; the message should name the input (file, field, index) and the reason. */
export function hwrError(code: HwrErrorCode, message: string, cause?: unknown): HwrError {
  return new HwrError(code, message, cause === undefined ? undefined : { cause });
}

/** True when `error` is an `HwrError` (also across module copies, by duck typing on `code`). */
export function isHwrError(error: unknown): error is HwrError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && error.name === 'HwrError';
}
