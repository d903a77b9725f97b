// Cold and warm invocations of all three kinds of function, with real worker processes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'uvu';
import { EXAMPLES, FIXTURES, TEST_CACHE, TestRuntime } from '../helpers/harness.js';

let rt: TestRuntime;

test.before(async () => {
  // A relative cache directory, as `hearth serve --cache .cache` gives: builds must not depend on the cwd.
  rt = await TestRuntime.start({ stemCells: 0, cacheDir: path.relative(process.cwd(), TEST_CACHE) });
  await rt.deploy({ name: 'go-fn', kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { min: 0, max: 2 }, env: { FROM_MANIFEST: 'yes' }, gc: { gogc: 150, memoryLimitMb: 64 } });
  await rt.deploy({ name: 'node-fn', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, pool: { min: 0, max: 2 }, env: { FROM_MANIFEST: 'yes' } });
  await rt.deploy({ name: 'exec-fn', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 0, max: 2 } });
});

test.after(async () => {
  await rt.stop();
});

for (const [fn, request, expected] of [
  ['go-fn', 'echo:hello go', 'hello go'],
  ['node-fn', 'hello node', 'hello node'],
  ['exec-fn', 'hello exec', 'HELLO EXEC'],
] as const) {
  test(`${fn}: the deploy's validation worker answers warm, then a fresh worker answers cold`, async () => {
    const warm = await rt.invoke(fn, request);
    assert.equal(warm.status, 200, warm.text);
    assert.equal(warm.text, expected);
    assert.equal(warm.headers.get('x-hearth-start'), 'warm');
    // Keep the only worker busy so the next request needs a cold start.
    const pids = rt.workerPids(fn);
    assert.equal(pids.length, 1);
    rt.runtime.registry.configurePool(fn, { min: 0, max: 2, keepAliveMs: 0, spare: 0, maxQueued: 8 });
    await waitForNoWorkers(fn);
    rt.runtime.registry.configurePool(fn, { min: 0, max: 2, keepAliveMs: 60_000, spare: 0, maxQueued: 8 });
    const cold = await rt.invoke(fn, request);
    assert.equal(cold.status, 200, cold.text);
    assert.equal(cold.text, expected);
    assert.equal(cold.headers.get('x-hearth-start'), 'cold');
    assert.ok(!pids.includes(Number(cold.headers.get('x-hearth-worker'))), 'a new worker served the cold start');
    const timing = cold.headers.get('server-timing') ?? '';
    assert.match(timing, /^queue;dur=[\d.]+, start;dur=[\d.]+, worker;dur=[\d.]+, total;dur=[\d.]+$/);
    assert.ok(Number(/start;dur=([\d.]+)/.exec(timing)![1]) > 0, 'a cold start reports its start time');
    const again = await rt.invoke(fn, request);
    assert.equal(again.headers.get('x-hearth-start'), 'warm');
    assert.equal(again.headers.get('x-hearth-worker'), cold.headers.get('x-hearth-worker'));
  });
}

async function waitForNoWorkers(fn: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (rt.workerPids(fn).length > 0) {
    if (Date.now() > deadline) throw new Error(`workers of ${fn} were not retired`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a worker sees only its manifest environment and Hearth\'s variables', async () => {
  for (const [fn, request, parse] of [
    ['node-fn', 'env', (text: string) => Object.keys(JSON.parse(text) as object)],
    ['go-fn', 'env', (text: string) => text.split('\n').map((line) => line.split('=')[0]!)],
  ] as const) {
    const response = await rt.invoke(fn, request);
    assert.equal(response.status, 200, response.text);
    const names = parse(response.text).sort();
    const foreign = names.filter((name) => !name.startsWith('HEARTH_') && !['FROM_MANIFEST', 'GOGC', 'GOMEMLIMIT'].includes(name));
    assert.deepEqual(foreign, [], `${fn} inherited variables it was not given`);
    assert.ok(names.includes('FROM_MANIFEST'));
    assert.ok(!names.includes('NODE_EXTRA_CA_CERTS'));
  }
  const goEnv = (await rt.invoke('go-fn', 'env')).text.split('\n');
  assert.ok(goEnv.includes('GOGC=150'), 'gc.gogc reaches the Go worker');
  assert.ok(goEnv.includes('GOMEMLIMIT=64MiB'), 'gc.memoryLimitMb reaches the Go worker');
});

test('handler errors and panics become 500s with the error type, and the worker keeps serving', async () => {
  const panicked = await rt.invoke('go-fn', 'panic');
  assert.equal(panicked.status, 500);
  const body = panicked.json<{ error: { code: string; message: string; errorType: string } }>().error;
  assert.equal(body.code, 'HEARTH_ERR_HANDLER');
  assert.equal(body.errorType, 'panic');
  assert.match(body.message, /boom/);
  const failed = await rt.invoke('go-fn', 'error');
  assert.equal(failed.status, 500);
  assert.match(failed.text, /handler failed/);
  const thrown = await rt.invoke('node-fn', 'throw');
  assert.equal(thrown.status, 500);
  assert.equal(thrown.json<{ error: { errorType: string } }>().error.errorType, 'TypeError');
  const pid = (await rt.invoke('go-fn', 'pid')).text;
  assert.equal((await rt.invoke('go-fn', 'pid')).text, pid, 'the same worker is still serving');
});

test('the invocation deadline reaches the handler', async () => {
  const response = await rt.invoke('node-fn', 'deadline', '?timeoutMs=2000');
  const remaining = Number(response.text);
  assert.ok(remaining > 1000 && remaining <= 2000, `remaining ${remaining} ms`);
  const slept = await rt.invoke('go-fn', 'sleep:5000', '?timeoutMs=300');
  assert.equal(slept.status, 504, 'the Go handler honours its context; the runtime answers 504 at the deadline');
});

test('concurrent requests beyond one worker start more workers, up to max', async () => {
  const responses = await Promise.all(Array.from({ length: 6 }, () => rt.invoke('go-fn', 'sleep:150')));
  assert.ok(responses.every((response) => response.status === 200));
  const pids = new Set(responses.map((response) => response.headers.get('x-hearth-worker')));
  assert.ok(pids.size >= 2 && pids.size <= 2, `served by ${pids.size} workers (max 2)`);
});

test.run();
