// Errors raised while reading the kernel's text files the symbolizer depends on. The message
// starts with the file and line, so a log line alone says what could not be parsed.

/** A line of /proc/kallsyms or /proc/PID/maps is not in the format the kernel documents. */
export class SymbolSourceFormatError extends Error {
  constructor(readonly path: string, readonly line: number, readonly problem: string) {
    super(`${path}:${line}: ${problem}`);
    this.name = 'SymbolSourceFormatError';
  }
}
