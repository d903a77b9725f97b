// npm run bench -- <name> [--samples N] [--seconds N] [--rounds N] [--minutes N] [--compression N] [--hours N]: runs one
// benchmark and writes bench/results/<name>.{json,md}.
import { parseArgs } from 'node:util';
import { agentBench } from './agent.js';
import { coldstart } from './coldstart.js';
import { profileBench } from './profile.js';
import { soak } from './soak.js';
import { tunerBench } from './tuner.js';
import { tunerGc } from './tuner-gc.js';
import { warm } from './warm.js';

const BENCHMARKS: Record<string, (values: Record<string, string | undefined>) => Promise<void>> = {
  coldstart: (values) => coldstart({ samples: Number(values['samples'] ?? 300), scans: Number(values['scans'] ?? 10) }),
  warm: (values) => warm({ seconds: Number(values['seconds'] ?? 10), rounds: Number(values['rounds'] ?? 3) }),
  agent: (values) => agentBench({ samples: Number(values['samples'] ?? 2000), loadSeconds: Number(values['seconds'] ?? 20) }),
  profile: (values) => profileBench({ rounds: Number(values['rounds'] ?? 8), blockSeconds: Number(values['seconds'] ?? 8), coldSamples: Number(values['samples'] ?? 300) }),
  tuner: (values) => tunerBench({ compression: Number(values['compression'] ?? 240), hours: Number(values['hours'] ?? 24) }),
  // --seconds: how long peak throughput is measured before the soak.
  soak: (values) => soak({ minutes: Number(values['minutes'] ?? 10), peakSeconds: Number(values['seconds'] ?? 20) }),
  'tuner-gc': (values) => tunerGc({ rounds: Number(values['rounds'] ?? 12), blockSeconds: Number(values['seconds'] ?? 6), clients: 2 }),
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { samples: { type: 'string' }, scans: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, minutes: { type: 'string' }, compression: { type: 'string' }, hours: { type: 'string' } },
    allowPositionals: true,
  });
  const names = positionals.length > 0 ? positionals : Object.keys(BENCHMARKS);
  for (const name of names) {
    const run = BENCHMARKS[name];
    if (run === undefined) throw new Error(`unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.stderr.write(`\n=== bench ${name}\n`);
    await run(values);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
