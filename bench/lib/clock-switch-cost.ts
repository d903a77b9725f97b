// Builds and runs bench/native/clock-switch-cost.c: what a sampling CPU clock adds to each
// context switch of the process it follows, against none, a 1 Hz clock and clocks on every CPU.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../bench/native/clock-switch-cost.c');

/** Median microseconds per round trip (the follower switched in and out once) of each configuration. */
export interface ClockSwitchCost {
  none: number;
  process_clock: number;
  process_clock_1hz: number;
  cpu_clocks: number;
}

export function measureClockSwitchCost(hz: number, rounds = 15, trips = 10_000): ClockSwitchCost {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-clock-cost-'));
  try {
    const binary = path.join(dir, 'clock-switch-cost');
    execFileSync('cc', ['-O2', '-Wall', '-o', binary, SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
    const output = execFileSync(binary, [String(hz), String(rounds), String(trips)], { encoding: 'utf8' });
    const parsed = JSON.parse(output) as Partial<ClockSwitchCost>;
    for (const key of ['none', 'process_clock', 'process_clock_1hz', 'cpu_clocks'] as const) {
      if (typeof parsed[key] !== 'number') throw new Error(`clock-switch-cost printed no ${key}: ${output.trim()}`);
    }
    return parsed as ClockSwitchCost;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
