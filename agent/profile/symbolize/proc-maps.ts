// The executable mappings of a process, from /proc/PID/maps, kept as a snapshot that outlives
// the process: its last samples are read after it has gone. Lines are
//   START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]
// where PATH is a file (with " (deleted)" appended once it was unlinked or replaced), a kernel
// name in brackets ([vdso], or [anon:NAME] for named anonymous memory), or nothing (anonymous).
import fs from 'node:fs';
import path from 'node:path';
import { statField } from '../../../shared/proc-stat.js';
import { AddressTable } from './address-table.js';
import { SymbolSourceFormatError } from './errors.js';
import { matchLines } from './text-lines.js';

export const DEFAULT_PROC_ROOT = '/proc';

export type MappingKind = 'file' | 'anonymous' | 'special';

export interface Mapping {
  start: number;
  end: number;
  /** File offset mapped at `start`. */
  offset: number;
  /** The file's path (without " (deleted)"), a special mapping's bracketed name, or '' for anonymous memory. */
  path: string;
  kind: MappingKind;
  /** The file was unlinked or replaced after it was mapped: its path names something else now, or nothing. */
  deleted: boolean;
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+) [-r][-w]([-x])[-ps] ([0-9a-f]+) [0-9a-f]+:[0-9a-f]+ \d+ *(.*)$/;
const DELETED = ' (deleted)';
// The start time's field of /proc/PID/stat, numbered as in proc(5).
const START_TIME_FIELD = 22;

/** The executable mappings in the text of a maps file, in address order. */
export function parseProcMaps(file: string, text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const match of matchLines(file, text, LINE, 'START-END PERMS OFFSET DEV INODE [PATH]')) {
    const [, start, end, executable, offset, name] = match as unknown as [string, string, string, string, string, string];
    if (executable !== 'x') continue;
    const mapping = { start: parseInt(start, 16), end: parseInt(end, 16), offset: parseInt(offset, 16) };
    // [vsyscall] sits in the kernel half, beyond exact numbers; no sampled user frame is there.
    if (!Number.isSafeInteger(mapping.end)) continue;
    const deleted = name.endsWith(DELETED);
    const mappedPath = deleted ? name.slice(0, -DELETED.length) : name;
    const kind: MappingKind = mappedPath === '' || mappedPath.startsWith('[anon:') ? 'anonymous' : mappedPath.startsWith('[') ? 'special' : 'file';
    mappings.push({ ...mapping, path: kind === 'anonymous' ? '' : mappedPath, kind, deleted });
  }
  return mappings.sort((a, b) => a.start - b.start);
}

/** A process's executable mappings as they were when read, with which process it was. */
export class MapsSnapshot {
  private readonly table: AddressTable<Mapping>;

  private constructor(
    readonly pid: number,
    /** The process's start time (clock ticks after boot): tells a reused pid from the process read. */
    readonly startTime: string,
    readonly mappings: readonly Mapping[],
  ) {
    this.table = new AddressTable(
      mappings.map((m) => ({ start: m.start, size: m.end - m.start, value: m })),
      () => false,
    );
  }

  /** Reads the process's mappings now; undefined when it has exited (or is a zombie, with none left). */
  static take(pid: number, procRoot: string = DEFAULT_PROC_ROOT): MapsSnapshot | undefined {
    const startTime = processStartTime(pid, procRoot);
    if (startTime === undefined) return undefined;
    const file = path.join(procRoot, String(pid), 'maps');
    const text = readIfRunning(file);
    if (text === undefined) return undefined;
    const mappings = parseProcMaps(file, text);
    return mappings.length === 0 ? undefined : new MapsSnapshot(pid, startTime, mappings);
  }

  /** The mapping holding `address`, or undefined when none does. */
  find(address: number): Mapping | undefined {
    return this.table.find(address);
  }
}

/** The start time from /proc/PID/stat; undefined when there is no such process. */
export function processStartTime(pid: number, procRoot: string = DEFAULT_PROC_ROOT): string | undefined {
  const file = path.join(procRoot, String(pid), 'stat');
  const text = readIfRunning(file);
  if (text === undefined) return undefined;
  const startTime = statField(text, START_TIME_FIELD);
  if (startTime === undefined || !/^\d+$/.test(startTime)) throw new SymbolSourceFormatError(file, 1, `no start time in field 22 of ${JSON.stringify(text.slice(0, 200))}`);
  return startTime;
}

/** A /proc file's text, or undefined when the process is gone (ENOENT) or going (ESRCH). */
function readIfRunning(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw error;
  }
}
