// Workers that crash, hang, break the protocol, run out of memory or never start: each
// request gets a clear error, the broken worker is replaced, and the runtime keeps serving.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import { EXAMPLES, FIXTURES, TestRuntime, searchableTempDir, waitFor } from '../helpers/harness.js';

let rt: TestRuntime;
const GO = `${FIXTURES}/go-misbehave`;

test.before(async () => {
  rt = await TestRuntime.start({ stemCells: 0, timeoutGraceMs: 300 });
  await rt.deploy({ name: 'bad', kind: 'go', entry: GO, pool: { min: 1, max: 2 }, limits: { timeoutMs: 2000, memoryMb: 64 } });
  await rt.deploy({ name: 'node-bad', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, pool: { min: 1, max: 2 } });
});

test.after(async () => {
  await rt.stop();
});

interface ErrorBody {
  error: { code: string; message: string };
}

async function expectError(fn: string, request: string, status: number, code: string, message: RegExp, query = ''): Promise<void> {
  const response = await rt.invoke(fn, request, query);
  assert.equal(response.status, status, response.text);
  assert.equal(response.headers.get('content-type'), 'application/json');
  const body = response.json<ErrorBody>();
  assert.equal(body.error.code, code);
  assert.match(body.error.message, message);
}

async function stillServes(fn: string): Promise<void> {
  const response = await rt.invoke(fn, fn === 'bad' ? 'ok' : 'ok');
  assert.equal(response.status, 200, `the runtime keeps serving ${fn}: ${response.text}`);
}

test('a worker that exits mid-request: 502 naming the exit, then a new worker serves', async () => {
  const before = (await rt.invoke('bad', 'pid')).text;
  await expectError('bad', 'crash', 502, 'HEARTH_ERR_WORKER_CRASHED', new RegExp(`worker ${before} exited with code 3 while handling invocation \\d+`));
  await stillServes('bad');
  assert.notEqual((await rt.invoke('bad', 'pid')).text, before);
});

test('a worker killed by a signal mid-request: 502 naming the signal', async () => {
  await expectError('bad', 'kill', 502, 'HEARTH_ERR_WORKER_CRASHED', /was killed by SIGKILL/);
  await expectError('node-bad', 'exit', 502, 'HEARTH_ERR_WORKER_CRASHED', /exited with code 4/);
  await stillServes('bad');
  await stillServes('node-bad');
});

test('a hung worker: 504 at the timeout, killed after the grace period, replaced', async () => {
  const started = Date.now();
  await expectError('bad', 'hang', 504, 'HEARTH_ERR_INVOKE_TIMEOUT', /did not finish within its timeout of 500 ms/, '?timeoutMs=500');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 480 && elapsed < 1500, `answered after ${elapsed} ms`);
  await waitFor('the hung worker to be killed', () => rt.logged(/did not stop invocation \d+ within 300 ms of its timeout/).length > 0);
  await stillServes('bad');
  await expectError('node-bad', 'hang', 504, 'HEARTH_ERR_INVOKE_TIMEOUT', /timeout of 300 ms/, '?timeoutMs=300');
  await stillServes('node-bad');
});

test('garbage on the IPC channel: the worker is killed, 502 says it broke the protocol', async () => {
  await expectError('bad', 'garbage', 502, 'HEARTH_ERR_WORKER_PROTOCOL', /sent a bad frame: unknown frame type 255/);
  await stillServes('bad');
});

test('a frame larger than the limit: the worker is killed before the payload is read', async () => {
  await expectError('bad', 'bigframe', 502, 'HEARTH_ERR_WORKER_PROTOCOL', /RESULT frame of 1073741824 bytes exceeds the limit/);
  await stillServes('bad');
});

test('a worker over its memory limit is OOM-killed and reported as such', async () => {
  await expectError('bad', 'alloc:200', 502, 'HEARTH_ERR_WORKER_OOM', /exceeded its memory limit/);
  const exit = rt.events.filter((event) => event.type === 'worker_exit' && event.oomKilled);
  assert.equal(exit.length, 1, 'the exit event says OOM');
  await stillServes('bad');
});

test('a function whose workers exit at start fails to deploy, with the exit and its output', async () => {
  await assert.rejects(
    rt.deploy({ name: 'dies', kind: 'go', entry: GO, env: { HEARTH_FIXTURE_EXIT_AT_START_: '1' } }).then(() => undefined),
    /HEARTH_\* variables are set by the runtime/,
    'manifests may not set HEARTH_ variables',
  );
  await assert.rejects(rt.deploy({ name: 'dies', kind: 'exec', entry: '/bin/false' }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'HEARTH_ERR_WORKER_START');
    assert.match(error.message, /function dies: worker \d+ exited with code 1 before it was ready/);
    return true;
  });
  assert.equal(rt.runtime.registry.get('dies'), undefined, 'a function that never started is not deployed');
});

test('a worker that never becomes ready is killed at the start timeout', async () => {
  const slow = await TestRuntime.start({ stemCells: 0, startTimeoutMs: 300 });
  try {
    await assert.rejects(slow.deploy({ name: 'sleepy', kind: 'exec', entry: '/bin/sleep', args: ['60'] }), /was not ready within 300 ms/);
  } finally {
    await slow.stop();
  }
});

test('a broken update is refused and the previous version keeps serving', async () => {
  const pid = (await rt.invoke('bad', 'pid')).text;
  await assert.rejects(rt.deploy({ name: 'bad', kind: 'exec', entry: '/bin/false' }), /before it was ready/);
  const response = await rt.invoke('bad', 'pid');
  assert.equal(response.status, 200);
  assert.equal(response.text, pid, 'the same worker of the old version still serves');
});

test('workers are recycled after limits.maxInvocations', async () => {
  await rt.deploy({ name: 'recycled', kind: 'go', entry: GO, pool: { min: 0, max: 1 }, limits: { maxInvocations: 3 } });
  const pids: string[] = [];
  for (let i = 0; i < 7; i++) pids.push((await rt.invoke('recycled', 'pid')).text);
  assert.equal(new Set(pids.slice(0, 2)).size, 1);
  assert.equal(new Set(pids).size, 3, `three workers served 7 invocations: ${pids.join(' ')}`);
});

test('a worker whose private memory grows past recycleMemoryMb is recycled', async () => {
  await rt.deploy({ name: 'grower', kind: 'go', entry: GO, pool: { min: 1, max: 1 }, limits: { memoryMb: 256, recycleMemoryMb: 40 } });
  const before = (await rt.invoke('grower', 'pid')).text;
  assert.equal((await rt.invoke('grower', 'alloc:80')).text, 'allocated');
  await waitFor('the grown worker to be recycled', () => rt.logged(new RegExp(`worker ${before} of grower uses \\d+ MiB of private memory \\(> recycleMemoryMb 40\\); recycling it`)).length === 1, 6000);
  await waitFor('a replacement', async () => (await rt.invoke('grower', 'pid')).text !== before);
});

test('a function that stops starting backs off: 503 with Retry-After and the reason, then recovers', async () => {
  const dir = searchableTempDir('hearth-backoff-');
  const flag = path.join(dir, 'broken');
  const script = path.join(dir, 'worker.sh');
  fs.writeFileSync(script, `#!/bin/sh\n[ -e ${flag} ] && { echo "cannot start: ${flag} exists" >&2; exit 7; }\nexec ${EXAMPLES}/exec-upper/upper\n`, { mode: 0o755 });
  await rt.deploy({ name: 'flaky', kind: 'exec', entry: script, pool: { min: 0, max: 1, keepAliveMs: 0 } });
  await waitFor('no flaky workers', () => rt.workerPids('flaky').length === 0);
  fs.writeFileSync(flag, '');
  const failed = await rt.invoke('flaky', 'x');
  assert.equal(failed.status, 503, failed.text);
  assert.match(failed.text, /exited with code 7 before it was ready.*cannot start/s);
  const refused = await rt.invoke('flaky', 'x');
  assert.equal(refused.status, 503);
  assert.equal(refused.json<{ error: { code: string } }>().error.code, 'HEARTH_ERR_UNAVAILABLE');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  fs.rmSync(flag);
  await waitFor('recovery after the back-off', async () => (await rt.invoke('flaky', 'back')).text === 'BACK', 5000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a start killed from outside is retried: the waiting request is served, not refused', async () => {
  const dir = searchableTempDir('hearth-killed-start-');
  const script = path.join(dir, 'worker.sh');
  fs.writeFileSync(script, `#!/bin/sh\nsleep 0.3\nexec ${EXAMPLES}/exec-upper/upper\n`, { mode: 0o755 });
  try {
    await rt.deploy({ name: 'slow-start', kind: 'exec', entry: script, pool: { min: 0, max: 1, keepAliveMs: 0 } });
    await waitFor('no slow-start workers', () => rt.workerPids('slow-start').length === 0);
    const answer = rt.invoke('slow-start', 'served');
    const starting = await waitFor('a starting worker', () => rt.workerPids('slow-start')[0]);
    process.kill(starting, 'SIGKILL');
    const response = await answer;
    assert.equal(response.status, 200, response.text);
    assert.equal(response.text, 'SERVED');
    assert.notEqual(response.headers.get('x-hearth-worker'), String(starting));
    assert.equal(rt.logged(new RegExp(`worker ${starting} was killed by SIGKILL before it was ready \\(failure 1; next start in 100 ms\\)`)).length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker killed from outside is replaced to keep pool.min', async () => {
  await waitFor('one idle worker', () => rt.runtime.registry.get('bad')!.snapshot().idle >= 1);
  const [pid] = rt.workerPids('bad');
  process.kill(pid!, 'SIGKILL');
  await waitFor('a replacement', () => rt.workerPids('bad').some((other) => other !== pid) && rt.runtime.registry.get('bad')!.snapshot().idle >= 1);
  await stillServes('bad');
});

test.run();
