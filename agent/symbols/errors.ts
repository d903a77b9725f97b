// Errors raised while reading executables. Every message starts with the file's path, so a log
// line alone says which binary could not be read and why.

/** A file could not be read as the executable it was expected to be. */
export class BinaryFormatError extends Error {
  constructor(readonly path: string, readonly problem: string, options?: { cause?: unknown }) {
    super(`${path}: ${problem}`, options);
    this.name = 'BinaryFormatError';
  }
}

/** The file is valid but uses a variant this reader does not handle (32-bit, big-endian, old Go). */
export class UnsupportedBinaryError extends BinaryFormatError {
  constructor(path: string, problem: string) {
    super(path, problem);
    this.name = 'UnsupportedBinaryError';
  }
}

/** The file was replaced or modified after it was opened; offsets read earlier no longer apply. */
export class BinaryChangedError extends BinaryFormatError {
  constructor(path: string) {
    super(path, 'changed on disk while it was being read (open it again)');
    this.name = 'BinaryChangedError';
  }
}
