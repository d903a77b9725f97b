import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HearthError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command<O extends Options = Options> {
  name: string;
  summary: string;
  usage: string;
  /** Long help: what it does and every option, shown by --help. */
  help: string;
  options: O;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

export function parseCommand(command: Command, argv: string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...HELP_OPTION, ...command.options }, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (error) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `hearth ${command.name}: ${(error as Error).message}\nusage: ${command.usage}\n(see hearth ${command.name} --help)`);
  }
}

export function intOption(values: Record<string, unknown>, name: string, fallback: number, min = 0): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (typeof text !== 'string' || !/^\d+$/.test(text) || value < min) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--${name} must be an integer >= ${min} (got ${JSON.stringify(text)})`);
  }
  return value;
}

/** An option that takes one of a few words: `fallback` when absent, an error naming them all otherwise. */
export function choiceOption<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[], fallback: T): T {
  const text = values[name] ?? fallback;
  if (!(choices as readonly unknown[]).includes(text)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--${name} must be ${choices.join(', ')} (got ${JSON.stringify(text)})`);
  return text as T;
}

/** Parses sizes like 6MiB, 512k, 1G or plain bytes. */
export function bytesOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const match = typeof text === 'string' ? /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim()) : null;
  if (match === null) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--${name} must be a size like 6MiB or 1048576 (got ${JSON.stringify(text)})`);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(match[1]) * scale;
}

/** Prints rows as an aligned table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}
