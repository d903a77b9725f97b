// V8's perf map of a Node process (/tmp/perf-PID.map, written with --perf-basic-prof or
// --perf-basic-prof-only-functions): one `START SIZE NAME` line (hex, no 0x) per piece of
// JIT-compiled code, appended as the process compiles. Names look like
// `JS:*foo /app/x.js:12:3` (older V8: `LazyCompile:*foo /app/x.js:12`), where the tag says
// what the code is and the mark its tier (* optimised, ~ interpreted, ^ baseline, + Maglev).
// When code space is reused, a later line wins over every earlier one it overlaps.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Frame } from '../model.js';
import { AddressTable, newestWins, type AddressRange } from './address-table.js';

export const JIT_MODULE = '[jit]';

const LINE = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.+)$/;
/** Tags of JavaScript functions, whose names carry a source location. */
const JS_TAG = /^(?:JS|LazyCompile|Function|Script|Eval|InterpretedFunction):[*~^+]?/;
/**
 * `name location`, the location `file:line` or `file:line:column`. Names may hold spaces
 * (`get foo`) and so may paths: a location that starts like a path or URL is taken whole,
 * any other is the last word.
 */
const LOCATIONS = [/^(.*?) ?((?:\/|file:|node:|https?:).*?):(\d+)(?::\d+)?$/, /^(.*?) ?(\S+?):(\d+)(?::\d+)?$/];
const READ_CHUNK = 1 << 20;

/** A readable frame for a perf map name: `foo /app/x.js:12` with file and line, tags and tier marks dropped. */
export function jitFrame(rawName: string): Frame {
  const tag = JS_TAG.exec(rawName);
  if (tag === null) return { name: rawName, module: JIT_MODULE, kind: 'js' };
  const rest = rawName.slice(tag[0].length);
  const located = LOCATIONS.map((pattern) => pattern.exec(rest)).find((match) => match !== null);
  if (located === undefined) return { name: rest === '' ? '(anonymous)' : rest, module: JIT_MODULE, kind: 'js' };
  const [, fn, location, line] = located as unknown as [string, string, string, string];
  const file = location.startsWith('file://') ? pathOfUrl(location) : location;
  return { name: `${fn === '' ? '(anonymous)' : fn} ${file}:${line}`, module: JIT_MODULE, kind: 'js', file, line: Number(line) };
}

/**
 * One process's perf map, read incrementally: a lookup that misses, or refresh(), reads what
 * was appended since the last read (only whole lines: V8 may be mid-line). What was read is
 * kept when the file goes away (the runtime removes it after the process exits).
 */
export class PerfMap {
  private readonly entries: AddressRange<Frame>[] = [];
  private table = new AddressTable<Frame>([], () => false);
  private readBytes = 0;
  private inode: bigint | undefined;

  constructor(readonly path: string) {}

  /** The JIT frame holding `address`, reading new lines first when it is not known yet. */
  frameAt(address: number): Frame | undefined {
    const known = this.table.find(address);
    if (known !== undefined || !this.refresh()) return known;
    return this.table.find(address);
  }

  /**
   * Reads lines appended since the last read; true when there were any. A miss does this by
   * itself, but code replacing other code at a known address causes no miss: the symbolizer
   * also calls it once per batch of samples.
   */
  refresh(): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    try {
      const stat = fs.fstatSync(fd, { bigint: true });
      // A new file at the path (a new process with the pid) or a truncated one: start again.
      if (stat.ino !== this.inode || Number(stat.size) < this.readBytes) {
        this.inode = stat.ino;
        this.readBytes = 0;
        this.entries.length = 0;
      }
      const appended = Number(stat.size) - this.readBytes;
      if (appended <= 0) return false;
      const lines = readWholeLines(fd, this.readBytes, appended);
      if (lines.length === 0) return false;
      this.readBytes += lines.length;
      this.parse(lines.toString('utf8'));
    } finally {
      fs.closeSync(fd);
    }
    // Pieces are disjoint: no two start at one address.
    this.table = new AddressTable(newestWins(this.entries), () => false);
    return true;
  }

  private parse(text: string): void {
    for (const line of text.split('\n')) {
      const match = LINE.exec(line);
      // A line that is not `START SIZE NAME` is skipped: the file is the target process's
      // output, and the rest of it is still worth reading.
      if (match === null) continue;
      const [, start, size, name] = match as unknown as [string, string, string, string];
      this.entries.push({ start: parseInt(start, 16), size: parseInt(size, 16), value: jitFrame(name) });
    }
  }
}

/** The path a file: URL (how V8 names ES modules) stands for; the URL itself when it names none here. */
function pathOfUrl(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

/** The bytes from `offset` up to the last newline within `length` bytes (none when no line is complete yet). */
function readWholeLines(fd: number, offset: number, length: number): Buffer {
  const chunks: Buffer[] = [];
  let done = 0;
  while (done < length) {
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, length - done));
    const n = fs.readSync(fd, chunk, 0, chunk.length, offset + done);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    done += n;
  }
  const bytes = Buffer.concat(chunks);
  return bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
}
