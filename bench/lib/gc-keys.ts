// bench/results/tuner.json carries the GC figures of the tuner-gc benchmark under gc.*, so that
// one file answers for the whole tuner: each benchmark keeps it current when it runs.
import fs from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './results.js';

export interface GcKeys {
  go: { cpu_per_req_ratio: number; oom_kills: number };
  node: { throughput_ratio: number; oom_kills: number };
  /** The run they come from. */
  source: { file: string; date: string; command: string };
}

function readJson(name: string): Record<string, any> | undefined {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>) : undefined;
}

/** The gc.* keys from the last tuner-gc run, or undefined when there is none. */
export function gcKeys(): GcKeys | undefined {
  const run = readJson('tuner-gc');
  if (run === undefined) return undefined;
  return {
    go: { cpu_per_req_ratio: run['gc'].go.cpu_per_req_ratio, oom_kills: run['gc'].go.oom_kills },
    node: { throughput_ratio: run['gc'].node.throughput_ratio, oom_kills: run['gc'].node.oom_kills },
    source: { file: 'bench/results/tuner-gc.json', date: run['meta'].date, command: run['meta'].command },
  };
}

/** After a tuner-gc run: tuner.json's gc.* takes its figures (when tuner.json exists). */
export function refreshTunerGcKeys(): void {
  const tuner = readJson('tuner');
  const keys = gcKeys();
  if (tuner === undefined || keys === undefined) return;
  tuner['gc'] = keys;
  fs.writeFileSync(path.join(RESULTS_DIR, 'tuner.json'), JSON.stringify(tuner, null, 2) + '\n');
}
