// The Azure 2019 trace reader on the real trace folders, its errors on broken copies, and the
// replay of counts as arrival times and of duration percentiles as sampled execution times.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import { TraceFormatError } from '../../agent/tuner/csv.js';
import { arrivalTimes, durationSampler, replaySchedule, TRACE_MINUTE_MS, traceSlice } from '../../agent/tuner/replay.js';
import { readTrace, type TraceFunction } from '../../agent/tuner/trace.js';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
/** Samples of the Azure Functions 2019 trace, kept with the tests; HEARTH_TRACES points elsewhere. */
const TRACES = process.env['HEARTH_TRACES'] ?? path.join(ROOT, 'test/fixtures/traces');
const SAMPLE20 = path.join(TRACES, 'azure2019-sample20');
const BUSY10 = path.join(TRACES, 'azure2019-busy10');

const byPrefix = (functions: TraceFunction[], prefix: string): TraceFunction => functions.find((fn) => fn.id.startsWith(prefix))!;
const sum = (values: Iterable<number>): number => [...values].reduce((total, value) => total + value, 0);

test('azure2019-sample20: 20 functions over 1440 minutes; the counts add up', () => {
  const trace = readTrace(SAMPLE20);
  assert.equal(trace.minutes, 1440);
  assert.equal(trace.functions.length, 20);
  for (const fn of trace.functions) assert.equal(fn.invocations, sum(fn.perMinute));
  // Summed independently of this reader over the CSV's minute columns.
  assert.equal(sum(trace.functions.map((fn) => fn.invocations)), 930_986);
  const first = byPrefix(trace.functions, '1779fd33');
  assert.equal(first.invocations, 19);
  assert.equal(first.trigger, undefined, 'this folder has no Trigger column');
  assert.equal(first.memoryMb, 1505, 'memory.csv is per app here');
  assert.deepEqual(first.durations, { averageMs: 8817, count: 24, percentilesMs: [4764, 4764, 4780, 7237, 10774, 13339, 13339] });
});

test('azure2019-busy10: another column order (Average before Count, Trigger present) is read by name', () => {
  const trace = readTrace(BUSY10);
  assert.equal(trace.functions.length, 10);
  assert.equal(sum(trace.functions.map((fn) => fn.invocations)), 13_037_064);
  const first = byPrefix(trace.functions, '47658c9c');
  assert.equal(first.trigger, 'http');
  assert.equal(first.app.slice(0, 8), '734bb9a0');
  assert.equal(first.durations.averageMs, 306);
  assert.equal(first.durations.count, 7_726_495);
  assert.equal(first.memoryMb, 204, 'memory.csv is per function here');
});

/** A copy of sample20 with one file rewritten, for the error cases. */
function brokenCopy(file: string, edit: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-trace-'));
  for (const name of fs.readdirSync(SAMPLE20)) fs.copyFileSync(path.join(SAMPLE20, name), path.join(dir, name));
  const target = path.join(dir, file);
  fs.chmodSync(target, 0o644);
  fs.writeFileSync(target, edit(fs.readFileSync(target, 'utf8')));
  return dir;
}

function rejects(dir: string, message: RegExp): TraceFormatError {
  try {
    readTrace(dir);
  } catch (error) {
    assert.ok(error instanceof TraceFormatError, String(error));
    assert.match(error.message, message);
    return error;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.fail('the broken trace was accepted');
}

const editLine = (lineNumber: number, edit: (cells: string[]) => string[]) => (text: string): string =>
  text
    .split('\n')
    .map((line, i) => (i === lineNumber - 1 ? edit(line.split(',')).join(',') : line))
    .join('\n');

test('a malformed count is rejected with its file, line and column', () => {
  // Line 5, column 9: minute_6 of the fourth function.
  const error = rejects(brokenCopy('invocations.csv', editLine(5, (cells) => cells.map((cell, i) => (i === 8 ? '3x' : cell)))), /invocations\.csv:5:9: minute_6 expected a whole number, got "3x"$/);
  assert.deepEqual([error.line, error.column], [5, 9]);
  rejects(brokenCopy('invocations.csv', editLine(7, (cells) => cells.map((cell, i) => (i === 3 ? '-1' : cell)))), /invocations\.csv:7:4: minute_1 must be at least 0, got -1/);
});

test('short rows, missing columns, unordered percentiles and missing rows are rejected with where', () => {
  rejects(brokenCopy('invocations.csv', editLine(3, (cells) => cells.slice(0, 100))), /invocations\.csv:3:101: has 100 cells but the header names 1443 columns/);
  rejects(brokenCopy('durations.csv', editLine(1, (cells) => cells.map((cell) => (cell === 'Average' ? 'Mean' : cell)))), /durations\.csv:1: no column named "Average" in the header/);
  rejects(brokenCopy('durations.csv', editLine(2, (cells) => cells.map((cell, i) => (i === 10 ? '1' : cell)))), /durations\.csv:2:11: percentile_Average_50 \(1\) is below the previous percentile \(4780\)/);
  rejects(brokenCopy('memory.csv', (text) => text.split('\n').filter((_, i) => i !== 4).join('\n')), /memory\.csv: no row for function 88a43b1b\w+ or its app/);
  rejects(brokenCopy('invocations.csv', editLine(1, (cells) => cells.map((cell) => (cell === 'minute_700' ? 'minute_1441' : cell)))), /invocations\.csv:1: minute columns must run 1\.\.1440; minute 700 is missing/);
});

test('arrivals: one per counted invocation, inside its minute, ascending, reproducible from the seed', () => {
  const fn = byPrefix(readTrace(SAMPLE20).functions, '4fc991c5');
  const options = { seed: 42, compression: 60 };
  const arrivals = [...arrivalTimes(fn, options)];
  assert.equal(arrivals.length, fn.invocations);
  const minuteMs = TRACE_MINUTE_MS / 60;
  const perMinute = new Uint32Array(fn.perMinute.length);
  arrivals.forEach((at, i) => {
    if (i > 0) assert.ok(at >= arrivals[i - 1]!);
    perMinute[Math.floor(at / minuteMs)]! += 1;
  });
  assert.deepEqual(perMinute, fn.perMinute, 'a trace minute replays in one second at compression 60');
  assert.deepEqual([...arrivalTimes(fn, options)], arrivals);
  assert.notDeepEqual([...arrivalTimes(fn, { ...options, seed: 43 })], arrivals);
});

test('arrivals: the even spread keeps a timer exactly periodic; thinning keeps about the asked share', () => {
  const trace = readTrace(SAMPLE20);
  const timer = byPrefix(trace.functions, 'bd28ee14');
  const starts = [...arrivalTimes(timer, { seed: 1, compression: 1, spread: 'even' })].filter((_, i) => i % 14 === 0);
  const gaps = new Set(starts.slice(1).map((at, i) => Math.round(at - starts[i]!)));
  assert.deepEqual([...gaps], [120 * TRACE_MINUTE_MS], 'fourteen calls every two hours, the first of each at the same offset');
  const busy = byPrefix(trace.functions, 'a2e59b8e');
  const kept = [...arrivalTimes(busy, { seed: 1, compression: 60, rateScale: 0.1 })].length;
  assert.ok(Math.abs(kept / busy.invocations - 0.1) < 0.002, `kept ${kept} of ${busy.invocations}`);
  assert.throws(() => [...arrivalTimes(busy, { seed: 1, compression: 60, rateScale: 2 })], /rateScale must be in \(0, 1\]/);
});

test('durations: within the trace\'s minimum and maximum, compressed, with the trace\'s average', () => {
  const trace = readTrace(BUSY10);
  for (const prefix of ['47658c9c', '2b373145', '6590c82e']) {
    const fn = byPrefix(trace.functions, prefix);
    const sample = durationSampler(fn, { seed: 5, compression: 60 });
    const draws = Array.from({ length: 200_000 }, sample);
    const [low, high] = [fn.durations.percentilesMs[0]! / 60, fn.durations.percentilesMs[6]! / 60];
    assert.ok(draws.every((ms) => ms >= low && ms <= high));
    const mean = (sum(draws) / draws.length) * 60;
    assert.ok(Math.abs(mean / fn.durations.averageMs - 1) < 0.05, `${prefix}: sampled mean ${mean} ms, trace average ${fn.durations.averageMs} ms`);
  }
});

test('a slice keeps its minutes and counts; the schedule merges every function\'s arrivals in time order', () => {
  const trace = readTrace(SAMPLE20);
  const slice = traceSlice(trace, 60, 120);
  assert.equal(slice.minutes, 120);
  const steady = byPrefix(slice.functions, '8752b436');
  assert.deepEqual(steady.perMinute, byPrefix(trace.functions, '8752b436').perMinute.slice(60, 180));
  assert.equal(steady.invocations, sum(steady.perMinute));
  assert.equal(traceSlice(trace, 1400, 120).minutes, 40, 'a slice ends with the trace');
  assert.throws(() => traceSlice(trace, 1440, 10), /must start within the trace's 1440 minutes/);
  const picked = { ...slice, functions: ['8752b436', '01f46a0e', '4fc991c5'].map((prefix) => byPrefix(slice.functions, prefix)) };
  const schedule = replaySchedule(picked, { seed: 42, compression: 120 });
  assert.equal(schedule.length, sum(picked.functions.map((fn) => fn.invocations)));
  picked.functions.forEach((fn, i) => assert.equal(schedule.filter((arrival) => arrival.fn === i).length, fn.invocations));
  schedule.forEach((arrival, i) => {
    if (i > 0) assert.ok(arrival.at >= schedule[i - 1]!.at);
    assert.ok(arrival.at < (120 * TRACE_MINUTE_MS) / 120);
  });
});

test.run();
