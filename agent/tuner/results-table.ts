// The simulator's results side by side, one policy a row, as a fixed-width text table.

import { round } from './format.js';
import type { SimulationResult } from './simulate.js';

const COLUMNS: { title: string; value: (result: SimulationResult) => string }[] = [
  { title: 'policy', value: (result) => result.policy },
  { title: 'invocations', value: (result) => String(result.invocations) },
  { title: 'cold starts', value: (result) => String(result.coldStarts) },
  { title: 'cold rate', value: (result) => `${round(result.coldStartRate * 100)}%` },
  { title: 'p50 ms', value: (result) => String(round(result.p50Ms)) },
  { title: 'p99 ms', value: (result) => String(round(result.p99Ms)) },
  { title: 'p99 wait ms', value: (result) => String(round(result.p99WaitMs)) },
  { title: 'idle GB·s', value: (result) => String(round(result.idleMbSeconds / 1024)) },
  { title: 'queued', value: (result) => String(result.queued) },
  { title: 'spawns', value: (result) => String(result.spawns) },
  { title: 'decisions', value: (result) => String(result.decisions) },
];

export function formatResults(results: readonly SimulationResult[]): string {
  const rows = [COLUMNS.map((column) => column.title), ...results.map((result) => COLUMNS.map((column) => column.value(result)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}
