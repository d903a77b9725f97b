import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from '../../runtime/build/go.js';

export const RESULTS_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../bench/results');

export interface Machine {
  cpu: string;
  cores: number;
  memory_gib: number;
  kernel: string;
  node: string;
  go: string;
}

export function machine(): Machine {
  let go = 'missing';
  const tool = findGo();
  if (tool !== undefined) go = execFileSync(tool, ['version'], { encoding: 'utf8' }).trim().split(' ')[2] ?? 'unknown';
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memory_gib: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    node: process.version,
    go,
  };
}

/**
 * Writes bench/results/<name>.json (the figures under stable keys, plus how they were
 * produced) and <name>.md (a table for people), replacing the previous run's files.
 */
export function writeResults(name: string, figures: Record<string, unknown>, table: { headers: string[]; rows: (string | number)[][] }, notes: string[], command?: string): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  // The options it ran with, when this benchmark was named on the command line.
  const args = process.argv.slice(2);
  command ??= `npm run bench -- ${args.includes(name) ? args.join(' ') : name}`;
  const meta = { benchmark: name, date: new Date().toISOString(), command, machine: machine() };
  fs.writeFileSync(path.join(RESULTS_DIR, `${name}.json`), JSON.stringify({ ...figures, meta }, null, 2) + '\n');
  const m = meta.machine;
  const lines = [
    `# ${name}`,
    '',
    `Command: \`${meta.command}\`  `,
    `Date: ${meta.date}  `,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.go}`,
    '',
    `| ${table.headers.join(' | ')} |`,
    `|${table.headers.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    ...notes,
    '',
  ];
  fs.writeFileSync(path.join(RESULTS_DIR, `${name}.md`), lines.join('\n'));
  process.stdout.write(`\nwrote ${path.join(RESULTS_DIR, `${name}.json`)} and ${name}.md\n`);
}
