// npm run fuzz -- [target...] [--seconds N] [--no-save] [--seed N] [--list]
// Runs each fuzz target for N seconds (default 60), one after another, and writes
// bench/results/fuzz.json and fuzz.md: executions, exec/s, coverage and crashes per target.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RESULTS_DIR, writeResults } from '../../bench/lib/results.js';
import { fuzzTarget, type TargetReport } from './engine/engine.js';
import { fuzzGo, fuzzSeed, GO_TARGET, SEED_TARGET } from './engine/native.js';
import { TARGETS } from './targets/index.js';

const HELP = `Usage: npm run fuzz -- [target...] [--seconds N] [--no-save] [--seed N] [--list]

Runs each target (all when none is named) for N seconds (default 60) with coverage guidance,
then writes bench/results/fuzz.json and fuzz.md (a partial run replaces only its targets' rows).
The corpus each run grows is saved under test/fuzz/corpus/<target>/ (Go: runtime/sdk/go/
testdata/fuzz/FuzzReadFrames/, seed: native/seed/testdata/fuzz-activation/), and every crash,
hang or out-of-memory input under test/fuzz/regressions/<target>/, where the unit tests replay
it; --no-save leaves both alone. The process exits 1 when any target crashed.

Targets:
${[...TARGETS, GO_TARGET, SEED_TARGET].map((target) => `  ${target.name.padEnd(14)} ${target.description}`).join('\n')}
`;

function percent(part: { covered: number; total: number }): string {
  return part.total === 0 ? (part.covered > 0 ? `${part.covered} edges` : '-') : `${part.covered}/${part.total} (${((100 * part.covered) / part.total).toFixed(1)}%)`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { seconds: { type: 'string' }, 'no-save': { type: 'boolean' }, seed: { type: 'string' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help === true || values.list === true) {
    process.stdout.write(HELP);
    return;
  }
  const seconds = Number(values.seconds ?? 60);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number (got ${JSON.stringify(values.seconds)})`);
  const known = [...TARGETS.map((target) => target.name), GO_TARGET.name, SEED_TARGET.name];
  const names = positionals.length > 0 ? positionals : known;
  for (const name of names) if (!known.includes(name)) throw new Error(`no fuzz target named ${JSON.stringify(name)} (targets: ${known.join(', ')})`);
  const save = values['no-save'] !== true;
  let crashed = false;
  for (const name of names) {
    process.stderr.write(`\n=== fuzz ${name}, ${seconds} s\n`);
    let last = 0;
    const progress = (line: string): void => {
      // One progress line every 10 s; every crash line.
      if (!line.includes('execs,') || Date.now() - last > 10_000) {
        last = Date.now();
        process.stderr.write(line + '\n');
      }
    };
    const report =
      name === GO_TARGET.name
        ? await fuzzGo(seconds, save)
        : name === SEED_TARGET.name
          ? await fuzzSeed(seconds, save)
          : await fuzzTarget(name, { seconds, save, onProgress: progress, ...(values.seed === undefined ? {} : { seed: Number(values.seed) }) });
    crashed ||= report.crashes.length > 0;
    process.stderr.write(`${name}: ${report.execs} execs (${report.execsPerSecond}/s), branches ${percent(report.coverage.branches)}, ${report.crashes.length} crashes\n`);
    // Written after every target: a long run that stops half-way keeps what it measured.
    record({ ...report, date: new Date().toISOString(), secondsBudget: seconds }, known);
  }
  process.exitCode = crashed ? 1 : 0;
}

type Row = TargetReport & { date: string; secondsBudget: number };

/** Puts one target's report into bench/results/fuzz.json and fuzz.md; the other targets' rows stay as they were. */
function record(report: Row, known: string[]): void {
  const previous = path.join(RESULTS_DIR, 'fuzz.json');
  const kept = fs.existsSync(previous) ? ((JSON.parse(fs.readFileSync(previous, 'utf8')) as { targets?: Row[] }).targets ?? []).filter((entry) => entry.target !== report.target) : [];
  const all = [...kept, report].sort((a, b) => known.indexOf(a.target) - known.indexOf(b.target));
  const crashes = all.reduce((sum, entry) => sum + entry.crashes.length, 0);
  writeResults(
    'fuzz',
    { targets: all, total: { execs: all.reduce((sum, entry) => sum + entry.execs, 0), crashes } },
    {
      headers: ['target', 'seconds', 'executions', 'exec/s', 'statements', 'branches', 'features', 'corpus', 'crashes'],
      rows: all.map((entry) => [entry.target, Math.round(entry.seconds), entry.execs, entry.execsPerSecond, percent(entry.coverage.statements), percent(entry.coverage.branches), entry.coverage.features, entry.corpus.final, entry.crashes.length === 0 ? 0 : entry.crashes.map((crash) => `${crash.kind}: ${crash.message.split('\n')[0]!.slice(0, 80)}`).join('; ')]),
    },
    [
      'Coverage: statements and branches of the instrumented modules (istanbul counters; the files are in fuzz.json) reached by any input, in this run and the saved corpus it started from.',
      "Features: distinct (counter, hit-count bucket) pairs, as libFuzzer counts them. go-sdk: statements of wire.go, control.go and loop.go from replaying the saved corpus, features = Go's coverage bits.",
      'seed: libFuzzer with ASan and UBSan; branches = its "cov" (edges reached), features = its "ft".',
      'Targets run one after another on the 2-core machine, each on one core, beside other work; each row has its own date in fuzz.json.',
      ...all.flatMap((entry) => entry.crashes.map((crash) => `- ${entry.target}: ${crash.kind} ${crash.signature}${crash.file === undefined ? '' : ` (input: ${crash.file})`}`)),
    ],
    `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trimEnd(),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`fuzz: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
