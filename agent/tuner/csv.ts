// Reads the trace's CSV files: a header row naming the columns, then one row per record.
// The Azure 2019 files use no quoting, so a cell is whatever lies between two commas; a
// quote character is refused rather than half-understood. Every problem is reported with
// the file, the 1-based line and the 1-based column, so an editor can jump to it.

import fs from 'node:fs';

/** A trace file that cannot be used as it is; the message starts with `file:line:column`. */
export class TraceFormatError extends Error {
  constructor(
    readonly file: string,
    /** 1-based line in the file; 0 when the problem concerns the file as a whole. */
    readonly line: number,
    /** 1-based column; 0 when the problem concerns the whole line. */
    readonly column: number,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}${column > 0 ? `:${column}` : ''}: ${problem}`, options);
    this.name = 'TraceFormatError';
  }
}

export interface CsvRow {
  /** 1-based line number in the file. */
  line: number;
  cells: string[];
}

/** One CSV file: its header, looked up by column name, and its data rows. */
export class CsvTable {
  private readonly index = new Map<string, number>();

  constructor(
    readonly file: string,
    readonly header: readonly string[],
    readonly rows: readonly CsvRow[],
  ) {
    header.forEach((name, column) => this.index.set(name, column));
  }

  has(column: string): boolean {
    return this.index.has(column);
  }

  /** The 0-based position of a column the caller cannot do without. */
  require(column: string): number {
    const position = this.index.get(column);
    if (position === undefined) throw new TraceFormatError(this.file, 1, 0, `no column named "${column}" in the header`);
    return position;
  }

  text(row: CsvRow, column: number): string {
    const cell = row.cells[column]!;
    if (cell === '') throw this.error(row, column, 'is empty');
    return cell;
  }

  /** A finite number, at least `minimum`; integers only when asked. */
  number(row: CsvRow, column: number, { minimum = 0, integer = false } = {}): number {
    const cell = this.text(row, column);
    const value = Number(cell);
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      throw this.error(row, column, `expected ${integer ? 'a whole number' : 'a number'}, got "${cell}"`);
    }
    if (value < minimum) throw this.error(row, column, `must be at least ${minimum}, got ${value}`);
    return value;
  }

  error(row: CsvRow, column: number, problem: string): TraceFormatError {
    return new TraceFormatError(this.file, row.line, column + 1, `${this.header[column]} ${problem}`);
  }
}

export function readCsv(file: string): CsvTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TraceFormatError(file, 0, 0, `cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const lines = text.split('\n');
  const header = splitLine(file, lines[0] ?? '', 1);
  if (header.length < 2 || header.some((name) => name === '')) throw new TraceFormatError(file, 1, 0, 'the header must name every column');
  const rows: CsvRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line === '\r') continue;
    const cells = splitLine(file, line, i + 1);
    if (cells.length !== header.length) {
      const column = Math.min(cells.length, header.length) + 1;
      throw new TraceFormatError(file, i + 1, column, `has ${cells.length} cells but the header names ${header.length} columns`);
    }
    rows.push({ line: i + 1, cells });
  }
  if (rows.length === 0) throw new TraceFormatError(file, 0, 0, 'has a header but no rows');
  return new CsvTable(file, header, rows);
}

function splitLine(file: string, line: string, lineNumber: number): string[] {
  const cells = (line.endsWith('\r') ? line.slice(0, -1) : line).split(',');
  const quoted = cells.findIndex((cell) => cell.includes('"'));
  if (quoted >= 0) throw new TraceFormatError(file, lineNumber, quoted + 1, 'quoted cells are not supported in trace files');
  return cells.map((cell) => cell.trim());
}
