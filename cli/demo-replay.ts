// The demo's workload: a slice of a real Azure Functions trace (test/fixtures/traces), three of
// its functions with different arrival patterns each replayed against one example, time
// compressed, with a progress line on stderr. The examples do their own work: the trace gives
// when requests arrive, not what they do.
import path from 'node:path';
import { monotonicMs } from '../agent/tuner/live/live-tuner.js';
import { replaySchedule, sendOnSchedule, TRACE_MINUTE_MS, traceSlice } from '../agent/tuner/replay.js';
import { readTrace, type Trace } from '../agent/tuner/trace.js';
import { EXAMPLES_DIR } from '../examples/state.js';
import { HearthError } from '../shared/errors.js';

export const DEMO_TRACE = path.join(path.dirname(EXAMPLES_DIR), 'test/fixtures/traces/azure2019-sample20');

/** Which trace function drives which example, and why that one. */
export const DEMO_MAPPING = [
  { example: 'lookup', traceFunction: '8752b4361adeccf0addd0c2e1b4f09846c6e0ea9f9921bf7471199da6a2a2ff6', pattern: 'steady: 1 to 9 calls every minute' },
  { example: 'lookup-node', traceFunction: '01f46a0e16002679a753a528b9448e40ef98dd6f52c221b008febcdbc0efeace', pattern: 'timer: a burst of 14 every 5 minutes' },
  { example: 'upper', traceFunction: '4fc991c586c02e74d0329ec05204b95e686ba85bfde84acfd4ef8a720b1b83f9', pattern: 'rare: a call or two in some minutes, idle for up to 40 minutes' },
] as const;

export const DEMO_SEED = 42;

export interface DemoReplay {
  /** The three trace functions, in DEMO_MAPPING's order, over the slice. */
  trace: Trace;
  fromMinute: number;
  compression: number;
}

/** The slice of the demo's trace: `minutes` trace minutes from `fromMinute`, replayed `compression` times faster. */
export function demoReplay(fromMinute: number, minutes: number, compression: number): DemoReplay {
  const whole = readTrace(DEMO_TRACE);
  if (fromMinute >= whole.minutes) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--trace-from must be a minute of the trace, 0 to ${whole.minutes - 1} (got ${fromMinute})`);
  const slice = traceSlice(whole, fromMinute, minutes);
  const functions = DEMO_MAPPING.map(({ traceFunction }) => {
    const fn = slice.functions.find((candidate) => candidate.id === traceFunction);
    if (fn === undefined) throw new Error(`${DEMO_TRACE}: function ${traceFunction} is missing`);
    return fn;
  });
  return { trace: { ...slice, functions }, fromMinute, compression };
}

export interface ReplayedFunction {
  name: string;
  sent: number;
  answered: number;
  failed: number;
  coldStarts: number;
  /** Client latency of each answered request, ms, warm and cold apart. */
  warmMs: number[];
  coldMs: number[];
  /** The first few failures, as the client saw them. */
  errors: string[];
}

export interface ReplayOutcome {
  functions: ReplayedFunction[];
  wallSeconds: number;
}

const FIRST_ERRORS_KEPT = 3;
/** The replay starts this long after the schedule is built. */
const LEAD_MS = 200;

/** Replays `replay` against the runtime at `url`, one example per trace function; `body` makes each request's body; `progress` gets a status line now and then. */
export async function runReplay(url: string, replay: DemoReplay, body: (example: string) => string, progress: (line: string, final: boolean) => void): Promise<ReplayOutcome> {
  const { trace, compression } = replay;
  const schedule = replaySchedule(trace, { seed: DEMO_SEED, compression, spread: 'poisson' });
  const functions: ReplayedFunction[] = DEMO_MAPPING.map(({ example }) => ({ name: example, sent: 0, answered: 0, failed: 0, coldStarts: 0, warmMs: [], coldMs: [], errors: [] }));
  const horizonMs = (trace.minutes * TRACE_MINUTE_MS) / compression;
  const t0 = monotonicMs() + LEAD_MS;
  const status = (done: boolean): string => {
    const minute = done ? trace.minutes : Math.min(trace.minutes - 1, Math.floor(((monotonicMs() - t0) * compression) / TRACE_MINUTE_MS));
    const total = (pick: (fn: ReplayedFunction) => number): number => functions.reduce((sum, fn) => sum + pick(fn), 0);
    return `replay: trace minute ${Math.max(0, minute)}/${trace.minutes}, ${total((fn) => fn.sent)} requests sent, ${total((fn) => fn.answered)} answered, ${total((fn) => fn.coldStarts)} cold starts, ${total((fn) => fn.failed)} errors`;
  };
  const ticker = setInterval(() => progress(status(false), false), process.stderr.isTTY ? 250 : 5000);
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  await sendOnSchedule(schedule, t0, monotonicMs, (arrival) => {
    const fn = functions[arrival.fn]!;
    fn.sent++;
    const request = timedInvoke(url, fn.name, body(fn.name)).then(
      ({ ms, cold }) => {
        fn.answered++;
        if (cold) fn.coldStarts++;
        (cold ? fn.coldMs : fn.warmMs).push(ms);
      },
      (error: Error) => {
        fn.failed++;
        if (fn.errors.length < FIRST_ERRORS_KEPT) fn.errors.push(error.message);
      },
    );
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  });
  await Promise.all(inFlight);
  // The slice ends with its last minute, not its last request.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + horizonMs - monotonicMs())));
  clearInterval(ticker);
  progress(status(true), true);
  return { functions, wallSeconds: (performance.now() - started) / 1000 };
}

export interface Sample {
  ms: number;
  cold: boolean;
  /** The runtime's start time for a cold one (its Server-Timing), ms. */
  startMs: number;
  /** Where a cold start's worker came from (x-hearth-origin). */
  origin: string;
}

/** Client-side latency of one invocation, with what the runtime says about it; an error answer is thrown with its status and body. */
export async function timedInvoke(url: string, fn: string, body: string): Promise<Sample> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/functions/${fn}/invoke`, { method: 'POST', body });
  const text = await response.text();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${fn} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
  const startMs = Number(/start;dur=([\d.]+)/.exec(response.headers.get('server-timing') ?? '')?.[1] ?? 0);
  return { ms, cold: response.headers.get('x-hearth-start') === 'cold', startMs, origin: response.headers.get('x-hearth-origin') ?? '' };
}

/** "trace minutes 0–180 (00:00–03:00 of its day) at 150×, 72 s". */
export function describeSlice(replay: DemoReplay): string {
  const clock = (minute: number): string => `${String(Math.floor(minute / 60) % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  const end = replay.fromMinute + replay.trace.minutes;
  return `trace minutes ${replay.fromMinute}–${end} (${clock(replay.fromMinute)}–${end === 1440 ? '24:00' : clock(end)} of its day) at ${replay.compression}×, ${Math.round((replay.trace.minutes * TRACE_MINUTE_MS) / replay.compression / 1000)} s`;
}
