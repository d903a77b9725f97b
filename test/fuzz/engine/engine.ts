// Runs one fuzz target for a time budget in a worker thread and watches it: an input that
// runs longer than the hang limit, or that exhausts the thread's heap, is saved as a hang or
// an out-of-memory crash, and fuzzing goes on in a fresh thread for the time that is left.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CoverageFigures } from './coverage.js';
import { currentBuffer, readCurrent, type CrashReport, type WorkerMessage, type WorkerOptions } from './protocol.js';
import { targetNamed } from '../targets/index.js';
import type { Outcome } from '../targets/target.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository (this file runs from dist/test/fuzz/engine). */
export const ROOT = path.resolve(HERE, '../../../..');
export const CORPUS_DIR = path.join(ROOT, 'test/fuzz/corpus');
export const REGRESSIONS_DIR = path.join(ROOT, 'test/fuzz/regressions');
/** No target takes inputs longer than this. */
export const MAX_INPUT = 1 << 20;
/** Entries kept in a target's saved corpus. */
const MAX_SAVED_CORPUS = 400;

export interface FuzzOptions {
  seconds: number;
  /** Stop after this many executions (tests); default: only the time budget. */
  maxExecs?: number;
  /** An execution that takes longer than this is a hang. */
  hangMs?: number;
  /** Heap of the fuzzing thread; exceeding it is an out-of-memory crash. */
  heapMb?: number;
  seed?: number;
  /** Write the grown corpus back to test/fuzz/corpus/<target>/, and crashes to test/fuzz/regressions/<target>/. */
  save?: boolean;
  onProgress?(line: string): void;
}

export interface CrashSummary {
  kind: CrashReport['kind'];
  signature: string;
  message: string;
  /** The first frames of the stack, where the error was thrown. */
  stack: string;
  count: number;
  /** Where the input was saved (repository-relative), when saved. */
  file?: string;
}

export interface TargetReport {
  target: string;
  description: string;
  seconds: number;
  execs: number;
  execsPerSecond: number;
  outcomes: Record<Outcome, number>;
  corpus: { initial: number; final: number; added: number };
  coverage: CoverageFigures;
  crashes: CrashSummary[];
  /** Threads started: more than one means a hang or an out-of-memory stop was recovered from. */
  threads: number;
}

/** A report with nothing counted yet. */
export function emptyReport(target: string, description: string): TargetReport {
  return {
    target,
    description,
    seconds: 0,
    execs: 0,
    execsPerSecond: 0,
    outcomes: { ok: 0, refused: 0 },
    corpus: { initial: 0, final: 0, added: 0 },
    coverage: { statements: { covered: 0, total: 0 }, branches: { covered: 0, total: 0 }, functions: { covered: 0, total: 0 }, features: 0, files: [] },
    crashes: [],
    threads: 0,
  };
}

/** Every file in a folder as bytes (sorted by name, so runs are repeatable). */
export function readInputs(dir: string): Array<{ file: string; data: Buffer }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.') && name !== 'README.md')
    .sort()
    .map((name) => ({ file: path.join(dir, name), data: fs.readFileSync(path.join(dir, name)) }));
}

function hash(data: Buffer): string {
  return crypto.createHash('sha1').update(data).digest('hex').slice(0, 16);
}

export async function fuzzTarget(name: string, options: FuzzOptions): Promise<TargetReport> {
  const info = targetNamed(name);
  const hangMs = options.hangMs ?? 10_000;
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const saved = readInputs(path.join(CORPUS_DIR, name));
  const regressions = readInputs(path.join(REGRESSIONS_DIR, name));
  const crashes = new Map<string, CrashSummary>();
  const report = emptyReport(name, info.description);
  const found: Buffer[] = [];
  const record = (crash: CrashReport): void => {
    const known = crashes.get(crash.signature);
    if (known !== undefined) {
      known.count += crash.count;
      return;
    }
    const summary: CrashSummary = { kind: crash.kind, signature: crash.signature, message: crash.message, stack: crash.stack.split('\n').slice(1, 6).map((line) => line.trim()).join('\n'), count: crash.count };
    if (options.save === true) {
      const dir = path.join(REGRESSIONS_DIR, name);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${crash.kind}-${hash(crash.input)}`);
      fs.writeFileSync(file, crash.input);
      summary.file = path.relative(ROOT, file);
    }
    crashes.set(crash.signature, summary);
    options.onProgress?.(`${name}: ${crash.kind}: ${crash.message.split('\n')[0]}${summary.file === undefined ? '' : ` (saved as ${summary.file})`}`);
  };

  // Each thread starts from everything known so far, so a restart after a hang loses nothing.
  let initial = [...regressions.map((entry) => entry.data), ...saved.map((entry) => entry.data)];
  let seed = options.seed ?? (Date.now() & 0x7fffffff);
  while (Date.now() < deadline - 200 && report.threads < 8) {
    report.threads++;
    const progress = new SharedArrayBuffer(4);
    const current = currentBuffer(MAX_INPUT);
    const workerOptions: WorkerOptions = {
      targetModule: new URL(info.module, new URL('../targets/', import.meta.url)).href,
      instrumentFiles: info.instrument.map((file) => path.join(ROOT, 'dist', file.replace(/\.ts$/, '.js'))),
      seconds: Math.max(0.2, (deadline - Date.now()) / 1000),
      maxExecs: (options.maxExecs ?? Number.MAX_SAFE_INTEGER) - report.execs,
      seed: seed++,
      initial,
      progress,
      current,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: workerOptions,
      // The main thread's stack (V8's default, 984 KiB), not a worker's 4 MiB: recursion
      // that would overflow in the runtime must overflow here too.
      resourceLimits: { maxOldGenerationSizeMb: options.heapMb ?? 1024, stackSizeMb: 1 },
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume(); // what the code under test prints is not the fuzzer's output
    worker.stderr.resume();
    const outcome = await new Promise<{ done?: Extract<WorkerMessage, { type: 'done' }>; stopped?: CrashReport }>((resolve, reject) => {
      const progressView = new Int32Array(progress);
      let lastCount = -1;
      let lastChange = Date.now();
      const watch = setInterval(() => {
        const count = Atomics.load(progressView, 0);
        if (count !== lastCount) {
          lastCount = count;
          lastChange = Date.now();
          return;
        }
        if (Date.now() - lastChange < hangMs) return;
        clearInterval(watch);
        const input = readCurrent(current);
        void worker.terminate();
        resolve({ stopped: { kind: 'hang', signature: `hang: no execution finished in ${hangMs} ms`, message: `an input ran for more than ${hangMs} ms`, stack: '', input, count: 1 } });
      }, 100);
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'crash') record(message.crash);
        else if (message.type === 'progress') {
          options.onProgress?.(`${name}: ${report.execs + message.execs} execs, corpus ${message.corpus}, ${message.coverage.branches.covered}/${message.coverage.branches.total} branches`);
        } else if (message.type === 'done') {
          clearInterval(watch);
          resolve({ done: message });
        } else {
          clearInterval(watch);
          reject(new Error(`fuzz target ${name} failed to run: ${message.message}`));
        }
      });
      worker.on('error', (error: Error & { code?: string }) => {
        clearInterval(watch);
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          resolve({ stopped: { kind: 'out-of-memory', signature: 'out of memory', message: `an input exhausted a ${options.heapMb ?? 1024} MiB heap`, stack: '', input: readCurrent(current), count: 1 } });
        } else {
          reject(error);
        }
      });
      worker.on('exit', () => {
        clearInterval(watch);
        resolve({});
      });
    });
    if (outcome.done !== undefined) {
      const done = outcome.done;
      report.execs += done.execs;
      report.outcomes.ok += done.outcomes.ok;
      report.outcomes.refused += done.outcomes.refused;
      if (report.threads === 1) report.corpus.initial = done.initialCorpus;
      report.corpus.added += done.added;
      report.coverage = done.coverage;
      found.push(...done.corpus.map((bytes) => Buffer.from(bytes)));
      break;
    }
    if (outcome.stopped === undefined) throw new Error(`fuzz target ${name}: its thread exited without a report`);
    report.execs += Atomics.load(new Int32Array(progress), 0);
    record(outcome.stopped);
    // Go on without the input that stopped the thread.
    initial = initial.filter((input) => !input.equals(outcome.stopped!.input));
  }
  report.seconds = (Date.now() - started) / 1000;
  report.execsPerSecond = Math.round(report.execs / report.seconds);
  report.crashes = [...crashes.values()];
  const corpus = [...saved.map((entry) => entry.data), ...found];
  report.corpus.final = corpus.length + regressions.length;
  if (options.save === true) saveCorpus(name, saved, found);
  return report;
}

/** Adds what this run found to the saved corpus, keeping it bounded (older and smaller entries stay). */
function saveCorpus(name: string, saved: Array<{ file: string; data: Buffer }>, found: Buffer[]): void {
  const dir = path.join(CORPUS_DIR, name);
  fs.mkdirSync(dir, { recursive: true });
  const room = Math.max(0, MAX_SAVED_CORPUS - saved.length);
  const fresh = [...found].sort((a, b) => a.length - b.length).slice(0, room);
  for (const data of fresh) fs.writeFileSync(path.join(dir, hash(data)), data);
}
