// The two targets that other engines run: the Go SDK's frame reader under Go's own fuzzer
// (go test -fuzz), and the seed's activation parser under libFuzzer (clang
// -fsanitize=fuzzer,address,undefined). Both report in the same shape as ours.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findGo } from '../../../runtime/build/go.js';
import { emptyReport, ROOT, type CrashSummary, type TargetReport } from './engine.js';

export const GO_TARGET = { name: 'go-sdk', description: 'runtime → worker byte stream through the Go SDK\'s readFrame, decodeInvoke and control (go test -fuzz FuzzReadFrames)' };
export const SEED_TARGET = { name: 'seed', description: 'the seed\'s activation-message parser, seed.c compiled without its main (libFuzzer, ASan, UBSan)' };

const GO_DIR = path.join(ROOT, 'runtime/sdk/go');
const GO_CORPUS = path.join(GO_DIR, 'testdata/fuzz/FuzzReadFrames');
const SEED_CORPUS = path.join(ROOT, 'native/seed/testdata/fuzz-activation');
/** Entries kept in a saved corpus. */
const MAX_SAVED = 300;

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Copies new corpus files from `from` into `to`, up to MAX_SAVED in all (smaller first). */
function keep(from: string, to: string): number {
  if (!fs.existsSync(from)) return 0;
  fs.mkdirSync(to, { recursive: true });
  const have = new Set(fs.readdirSync(to));
  const fresh = fs
    .readdirSync(from)
    .filter((name) => !have.has(name))
    .map((name) => ({ name, size: fs.statSync(path.join(from, name)).size }))
    .sort((a, b) => a.size - b.size)
    .slice(0, Math.max(0, MAX_SAVED - have.size));
  for (const { name } of fresh) fs.copyFileSync(path.join(from, name), path.join(to, name));
  return fresh.length;
}

/**
 * Go's fuzz coordinator before 1.27 can report the end of -fuzztime itself as a failure
 * ("context deadline exceeded", no failing input; go.dev/issue/75804) when a worker is busy as
 * the deadline passes. That is a clean stop, not a finding.
 */
function stoppedByDeadlineRace(output: string, failing: string | undefined): boolean {
  return failing === undefined && !output.includes('panic:') && /--- FAIL: \w+ \([\d.]+s\)\n\s+context deadline exceeded\nFAIL\n/.test(output);
}

/** go test -fuzz for `seconds`; coverage: Go's coverage bits, and statements from replaying the corpus. */
export async function fuzzGo(seconds: number, save: boolean, replayCoverage = true): Promise<TargetReport> {
  const report = { ...emptyReport(GO_TARGET.name, GO_TARGET.description), threads: 1 };
  const go = findGo();
  if (go === undefined) throw new Error('go-sdk: the go tool is missing (bash scripts/setup.sh installs it)');
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-go-fuzz-'));
  const initial = fs.existsSync(GO_CORPUS) ? fs.readdirSync(GO_CORPUS).length : 0;
  const started = Date.now();
  // fuzzdebug=1 prints the coverage bits each kept input adds; -parallel 1 leaves a core to others.
  const { code, output } = await run(go, ['test', '-run', '^$', '-fuzz', '^FuzzReadFrames$', '-fuzztime', `${seconds}s`, '-parallel', '1', `-test.fuzzcachedir=${cache}`, '.'], {
    cwd: GO_DIR,
    env: { GODEBUG: 'fuzzdebug=1' },
    timeoutMs: (seconds + 300) * 1000,
  });
  report.seconds = (Date.now() - started) / 1000;
  const last = [...output.matchAll(/execs: (\d+) \((\d+)\/sec\), new interesting: (\d+)/g)].at(-1);
  report.execs = Number(last?.[1] ?? 0);
  report.corpus = { initial: initial + 5, final: 0, added: Number(last?.[3] ?? 0) };
  report.coverage.features = [...output.matchAll(/new bits: (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
  const failing = /Failing input written to (\S+)/.exec(output)?.[1];
  if (code !== 0 && !stoppedByDeadlineRace(output, failing)) {
    const crash: CrashSummary = { kind: 'crash', signature: 'go test -fuzz failed', message: (/--- FAIL[\s\S]{0,1500}/.exec(output)?.[0] ?? output.slice(-1500)).trim(), stack: '', count: 1 };
    if (failing !== undefined) crash.file = path.relative(ROOT, path.join(GO_DIR, failing));
    report.crashes.push(crash);
  }
  if (save) keep(path.join(cache, 'FuzzReadFrames'), GO_CORPUS);
  fs.rmSync(cache, { recursive: true, force: true });
  report.corpus.final = fs.existsSync(GO_CORPUS) ? fs.readdirSync(GO_CORPUS).length : 0;
  report.execsPerSecond = Math.round(report.execs / Math.max(1, seconds));
  if (!replayCoverage) return report;
  // Statements of the read path's files, replaying the saved corpus (what plain go test runs).
  const profile = path.join(os.tmpdir(), `hearth-go-fuzz-${process.pid}.cover`);
  const replay = await run(go, ['test', '-count=1', '-run', '^FuzzReadFrames$', `-coverprofile=${profile}`, '.'], { cwd: GO_DIR, timeoutMs: 300_000 });
  if (replay.code === 0 && fs.existsSync(profile)) {
    const files = ['wire.go', 'control.go', 'loop.go'];
    for (const line of fs.readFileSync(profile, 'utf8').split('\n').slice(1)) {
      const match = /\/([\w.]+):\S+ (\d+) (\d+)$/.exec(line);
      if (match === null || !files.includes(match[1]!)) continue;
      report.coverage.statements.total += Number(match[2]);
      if (Number(match[3]) > 0) report.coverage.statements.covered += Number(match[2]);
    }
    report.coverage.files = files.map((file) => `runtime/sdk/go/${file}`);
    fs.rmSync(profile, { force: true });
  }
  return report;
}

/** The clang runtime libFuzzer needs, or why it is missing. */
export async function libFuzzerMissing(): Promise<string | undefined> {
  const probe = await run('clang', ['--print-runtime-dir'], { cwd: ROOT, timeoutMs: 30_000 }).catch(() => undefined);
  if (probe === undefined || probe.code !== 0) return 'clang is not installed';
  const dir = probe.output.trim();
  if (!fs.existsSync(path.join(dir, 'libclang_rt.fuzzer-x86_64.a'))) return `libFuzzer is not installed (${dir}/libclang_rt.fuzzer-x86_64.a; Debian: libclang-rt-<version>-dev)`;
  return undefined;
}

/** Builds the seed's libFuzzer target and runs it for `seconds`. */
export async function fuzzSeed(seconds: number, save: boolean): Promise<TargetReport> {
  const report = { ...emptyReport(SEED_TARGET.name, SEED_TARGET.description), threads: 1 };
  const missing = await libFuzzerMissing();
  if (missing !== undefined) throw new Error(`seed: ${missing}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-seed-fuzz-'));
  const binary = path.join(work, 'fuzz-activation');
  const build = await run('clang', ['-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined', '-w', '-o', binary, 'native/seed/fuzz-activation.c'], { cwd: ROOT, timeoutMs: 120_000 });
  if (build.code !== 0) throw new Error(`seed: building the libFuzzer target failed:\n${build.output}`);
  const corpus = path.join(work, 'corpus');
  fs.mkdirSync(corpus);
  const initial = fs.existsSync(SEED_CORPUS) ? fs.readdirSync(SEED_CORPUS).length : 0;
  const started = Date.now();
  const args = [`-max_total_time=${seconds}`, '-print_final_stats=1', '-timeout=10', `-artifact_prefix=${work}/`, corpus];
  if (initial > 0) args.push(SEED_CORPUS);
  const { code, output } = await run(binary, args, { cwd: work, timeoutMs: (seconds + 120) * 1000 });
  report.seconds = (Date.now() - started) / 1000;
  report.execs = Number(/stat::number_of_executed_units: (\d+)/.exec(output)?.[1] ?? 0);
  report.execsPerSecond = Math.round(report.execs / Math.max(1, seconds));
  const done = [...output.matchAll(/cov: (\d+) ft: (\d+) corp: (\d+)/g)].at(-1);
  report.coverage.branches = { covered: Number(done?.[1] ?? 0), total: 0 }; // libFuzzer's cov: edges reached
  report.coverage.features = Number(done?.[2] ?? 0);
  report.coverage.files = ['native/seed/seed.c'];
  report.corpus = { initial, final: 0, added: Number(done?.[3] ?? 0) };
  if (code !== 0) {
    const artifact = /Test unit written to (\S+)/.exec(output)?.[1];
    const crash: CrashSummary = { kind: /timeout/.test(output) ? 'hang' : 'crash', signature: /SUMMARY: (.*)/.exec(output)?.[1] ?? 'libFuzzer stopped', message: (/==\d+==ERROR[\s\S]{0,1500}/.exec(output)?.[0] ?? output.slice(-1500)).trim(), stack: '', count: 1 };
    if (artifact !== undefined && save) {
      const dir = path.join(ROOT, 'test/fuzz/regressions/seed');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, path.basename(artifact));
      fs.copyFileSync(artifact, file);
      crash.file = path.relative(ROOT, file);
    }
    report.crashes.push(crash);
  }
  if (save) keep(corpus, SEED_CORPUS);
  report.corpus.final = fs.existsSync(SEED_CORPUS) ? fs.readdirSync(SEED_CORPUS).length : fs.readdirSync(corpus).length;
  fs.rmSync(work, { recursive: true, force: true });
  return report;
}
