// Reads one folder of the Azure Functions 2019 trace (as re-sampled by vHive's invitro):
// invocations.csv (per-minute counts), durations.csv (execution-time percentiles per function)
// and memory.csv (allocated memory per app, or per function). Columns are found by their
// header names, because their order differs between folders.

import path from 'node:path';
import { type CsvRow, type CsvTable, readCsv, TraceFormatError } from './csv.js';

/** The percentiles durations.csv gives, in the order of its columns. */
export const DURATION_PERCENTS = [0, 1, 25, 50, 75, 99, 100] as const;

export interface DurationProfile {
  averageMs: number;
  /** Executions counted over the day (durations.csv's Count). */
  count: number;
  /** Execution time in ms at each of DURATION_PERCENTS, non-decreasing. */
  percentilesMs: number[];
}

export interface TraceFunction {
  /** HashFunction: unique within a trace folder. */
  id: string;
  app: string;
  owner: string;
  /** http, queue, event, timer, ... where the folder names it. */
  trigger?: string;
  /** Invocations started in each minute of the day. */
  perMinute: Uint32Array;
  invocations: number;
  durations: DurationProfile;
  /** A worker's memory: the app's (or function's) average allocated memory. */
  memoryMb: number;
}

export interface Trace {
  folder: string;
  minutes: number;
  functions: TraceFunction[];
}

const MINUTE_COLUMN = /^(?:minute_)?(\d+)$/;

/** Reads and checks a trace folder; a bad cell is reported with its file, line and column. */
export function readTrace(folder: string): Trace {
  const invocations = readCsv(path.join(folder, 'invocations.csv'));
  const durationsFile = path.join(folder, 'durations.csv');
  const durations = readDurations(readCsv(durationsFile));
  const memoryFile = path.join(folder, 'memory.csv');
  const memory = readMemory(readCsv(memoryFile));
  const minuteColumns = findMinuteColumns(invocations);
  const ids = identityColumns(invocations);
  const trigger = invocations.has('Trigger') ? invocations.require('Trigger') : undefined;
  const seen = new Set<string>();
  const functions = invocations.rows.map((row): TraceFunction => {
    const identity = readIdentity(invocations, row, ids);
    if (seen.has(identity.id)) throw invocations.error(row, ids.fn, `"${identity.id}" appears twice`);
    seen.add(identity.id);
    const perMinute = new Uint32Array(minuteColumns.length);
    let total = 0;
    minuteColumns.forEach((column, minute) => {
      perMinute[minute] = invocations.number(row, column, { integer: true });
      total += perMinute[minute]!;
    });
    const profile = durations.get(joinKey(identity));
    if (profile === undefined) throw new TraceFormatError(durationsFile, 0, 0, `no row for function ${identity.id} (invocations.csv line ${row.line})`);
    const memoryMb = memory.byFunction.get(joinKey(identity)) ?? memory.byApp.get(appKey(identity));
    if (memoryMb === undefined) throw new TraceFormatError(memoryFile, 0, 0, `no row for function ${identity.id} or its app ${identity.app}`);
    return {
      ...identity,
      ...(trigger === undefined ? {} : { trigger: invocations.text(row, trigger) }),
      perMinute,
      invocations: total,
      durations: profile,
      memoryMb,
    };
  });
  return { folder, minutes: minuteColumns.length, functions };
}

interface Identity {
  id: string;
  app: string;
  owner: string;
}

interface IdentityColumns {
  fn: number;
  app: number;
  owner: number;
}

function identityColumns(table: CsvTable): IdentityColumns {
  return { fn: table.require('HashFunction'), app: table.require('HashApp'), owner: table.require('HashOwner') };
}

function readIdentity(table: CsvTable, row: CsvRow, columns: IdentityColumns): Identity {
  return { id: table.text(row, columns.fn), app: table.text(row, columns.app), owner: table.text(row, columns.owner) };
}

function joinKey(identity: Identity): string {
  return `${identity.owner}/${identity.app}/${identity.id}`;
}

function appKey(identity: Pick<Identity, 'owner' | 'app'>): string {
  return `${identity.owner}/${identity.app}`;
}

/** The minute columns ("minute_7" or "7"), in minute order; they must number 1..N with none missing. */
function findMinuteColumns(table: CsvTable): number[] {
  const byMinute = new Map<number, number>();
  table.header.forEach((name, column) => {
    const match = MINUTE_COLUMN.exec(name);
    if (match === null) return;
    const minute = Number(match[1]);
    if (byMinute.has(minute)) throw new TraceFormatError(table.file, 1, column + 1, `minute ${minute} has two columns`);
    byMinute.set(minute, column);
  });
  if (byMinute.size === 0) throw new TraceFormatError(table.file, 1, 0, 'no minute columns ("minute_1" or "1", ...) in the header');
  const columns: number[] = [];
  for (let minute = 1; minute <= byMinute.size; minute++) {
    const column = byMinute.get(minute);
    if (column === undefined) throw new TraceFormatError(table.file, 1, 0, `minute columns must run 1..${byMinute.size}; minute ${minute} is missing`);
    columns.push(column);
  }
  return columns;
}

function readDurations(table: CsvTable): Map<string, DurationProfile> {
  const ids = identityColumns(table);
  const average = table.require('Average');
  const count = table.require('Count');
  const percentiles = DURATION_PERCENTS.map((percent) => table.require(`percentile_Average_${percent}`));
  return keyedRows(table, (row) => joinKey(readIdentity(table, row, ids)), (row) => {
    const percentilesMs = percentiles.map((column) => table.number(row, column));
    percentiles.forEach((column, i) => {
      if (i > 0 && percentilesMs[i]! < percentilesMs[i - 1]!) {
        throw table.error(row, column, `(${percentilesMs[i]}) is below the previous percentile (${percentilesMs[i - 1]})`);
      }
    });
    return { averageMs: table.number(row, average), count: table.number(row, count, { integer: true }), percentilesMs };
  });
}

/** memory.csv is per app in most folders and per function in some; both are read, the function's row wins. */
function readMemory(table: CsvTable): { byFunction: Map<string, number>; byApp: Map<string, number> } {
  const average = table.require('AverageAllocatedMb');
  const app = table.require('HashApp');
  const owner = table.require('HashOwner');
  const megabytes = (row: CsvRow): number => {
    const value = table.number(row, average);
    if (value <= 0) throw table.error(row, average, 'must be positive');
    return value;
  };
  if (table.has('HashFunction')) {
    const ids = identityColumns(table);
    return { byFunction: keyedRows(table, (row) => joinKey(readIdentity(table, row, ids)), megabytes), byApp: new Map() };
  }
  return { byFunction: new Map(), byApp: keyedRows(table, (row) => appKey({ owner: table.text(row, owner), app: table.text(row, app) }), megabytes) };
}

/** One value per row, keyed; a key that appears twice is an error naming both lines. */
function keyedRows<T>(table: CsvTable, key: (row: CsvRow) => string, value: (row: CsvRow) => T): Map<string, T> {
  const values = new Map<string, T>();
  const lines = new Map<string, number>();
  for (const row of table.rows) {
    const k = key(row);
    const earlier = lines.get(k);
    if (earlier !== undefined) throw new TraceFormatError(table.file, row.line, 0, `repeats the key of line ${earlier}`);
    lines.set(k, row.line);
    values.set(k, value(row));
  }
  return values;
}
