import { SymbolSourceFormatError } from './errors.js';

/**
 * The match of `pattern` for each non-empty line of a kernel text file (/proc/kallsyms,
 * /proc/PID/maps). A line that does not match throws, naming the file, the line and `format`:
 * the kernel documents these formats, so a mismatch is a reader bug to hear about.
 */
export function* matchLines(file: string, text: string, pattern: RegExp, format: string): Generator<RegExpExecArray> {
  let lineNumber = 0;
  for (const line of text.split('\n')) {
    lineNumber++;
    if (line === '') continue;
    const match = pattern.exec(line);
    if (match === null) throw new SymbolSourceFormatError(file, lineNumber, `want "${format}", got ${JSON.stringify(line.slice(0, 200))}`);
    yield match;
  }
}
