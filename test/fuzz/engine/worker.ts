// One fuzzing run of one target, in a worker thread: instruments the code under test, runs
// the seeds and the saved corpus, then mutates corpus entries until the time is up. The
// thread that started it watches `progress` (executions so far) to catch hangs, and reads the
// input being run from `current` when it has to stop this thread.
import { register } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { Coverage } from './coverage.js';
import { Mutator, Random } from './mutate.js';
import { writeCurrent, type CrashReport, type WorkerMessage, type WorkerOptions } from './protocol.js';
import type { FuzzTarget, Outcome } from '../targets/target.js';

const options = workerData as WorkerOptions;
register('./instrument-hooks.js', import.meta.url, { data: { files: options.instrumentFiles } });

const post = (message: WorkerMessage): void => parentPort!.postMessage(message);
const progress = new Int32Array(options.progress);

/** Crashes with the same signature are one bug: the error's kind and where it was thrown. */
function signature(error: unknown): string {
  if (!(error instanceof Error)) return `thrown ${typeof error}: ${String(error).slice(0, 80)}`;
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .slice(0, 2)
    .map((line) => line.trim().replace(/:\d+:\d+\)?$/, ''));
  // A contract violation is thrown by the target's checks: its message says which.
  const what = error.name === 'ContractViolation' ? ` ${(error.message.split('\n')[0] ?? '').replace(/\d+/g, 'N').slice(0, 60)}` : '';
  return `${error.name}${what} @ ${frames.join(' < ')}`;
}

async function main(): Promise<void> {
  const module = (await import(options.targetModule)) as { target: FuzzTarget };
  const target = module.target;
  await target.setup?.();
  const coverage = new Coverage();
  coverage.attach();
  coverage.collect();
  const random = new Random(options.seed);
  const mutator = new Mutator(random, { maxLength: target.maxLength, dictionary: target.dictionary ?? [], json: target.json ?? false, jsonPrefix: target.jsonPrefix ?? 0 });
  const corpus: Buffer[] = [];
  const crashes = new Map<string, CrashReport>();
  const outcomes: Record<Outcome, number> = { ok: 0, refused: 0 };
  let execs = 0;
  let added = 0;

  const exec = async (input: Buffer): Promise<number> => {
    writeCurrent(options.current, input);
    Atomics.add(progress, 0, 1);
    execs++;
    try {
      const result = target.run(input);
      outcomes[result instanceof Promise ? await result : result]++;
    } catch (error) {
      const key = signature(error);
      const known = crashes.get(key);
      if (known !== undefined) known.count++;
      else {
        const report: CrashReport = { kind: 'crash', signature: key, message: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 2000) : String(error), stack: error instanceof Error ? (error.stack ?? '') : '', input: Buffer.from(input), count: 1 };
        crashes.set(key, report);
        post({ type: 'crash', crash: report });
      }
    }
    if (execs % 64 === 0) coverage.attach(); // modules the target loaded late
    return coverage.collect();
  };

  for (const input of [...target.seeds(), ...options.initial.map((bytes) => Buffer.from(bytes))]) {
    const clipped = input.length > target.maxLength ? input.subarray(0, target.maxLength) : input;
    await exec(clipped);
    corpus.push(clipped);
  }
  const initial = corpus.length;
  const deadline = Date.now() + options.seconds * 1000;
  let nextReport = Date.now() + 1000;
  const other = (): Buffer => corpus[random.below(corpus.length)]!;
  while (execs < options.maxExecs) {
    if ((execs & 63) === 0) {
      // Let the event loop turn: what the code under test scheduled (setImmediate, timers,
      // socket callbacks) runs and is released, as it would be in a real process.
      await new Promise((resolve) => setImmediate(resolve));
      const now = Date.now();
      if (now >= deadline) break;
      if (now >= nextReport) {
        nextReport = now + 1000;
        post({ type: 'progress', execs, corpus: corpus.length, coverage: coverage.figures() });
      }
    }
    // Newer entries found newer paths: half the time build on one of the last 16.
    const parent = random.chance(0.5) ? corpus[corpus.length - 1 - random.below(Math.min(16, corpus.length))]! : other();
    const child = mutator.mutate(parent, other);
    if ((await exec(child)) > 0) {
      corpus.push(child);
      added++;
    }
  }
  await target.teardown?.();
  post({ type: 'done', execs, outcomes, coverage: coverage.figures(), corpus: corpus.slice(initial), initialCorpus: initial, added });
}

main().catch((error: unknown) => {
  post({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
});

