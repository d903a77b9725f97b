// The HTTP API: status codes and JSON errors, overload, the token, the control API, events
// for the agent, and Prometheus metrics.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'uvu';
import type { RuntimeEvent } from '../../shared/events.js';
import { EXAMPLES, FIXTURES, TestRuntime, makeStateFile, waitFor } from '../helpers/harness.js';

let rt: TestRuntime;
const GO = `${FIXTURES}/go-misbehave`;

test.before(async () => {
  rt = await TestRuntime.start({ stemCells: 0, maxBodyBytes: 1024 * 1024 });
  await rt.deploy({ name: 'echo', kind: 'go', entry: GO, pool: { min: 1, max: 4 } });
});

test.after(async () => {
  await rt.stop();
});

function errorOf(response: { json<T>(): T }): { code: string; message: string } {
  return response.json<{ error: { code: string; message: string } }>().error;
}

test('health, readiness and the listen address (loopback by default)', async () => {
  assert.match(rt.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await rt.control('GET', '/healthz', undefined, null)).status, 200);
  assert.deepEqual((await rt.control('GET', '/readyz', undefined, null)).json(), { ready: true });
});

test('unknown function: 404 JSON naming it; bad name: 400; GET on invoke: 405; unknown route: 404', async () => {
  const missing = await rt.invoke('nope', 'x');
  assert.equal(missing.status, 404);
  assert.equal(errorOf(missing).code, 'HEARTH_ERR_FUNCTION_NOT_FOUND');
  assert.match(errorOf(missing).message, /nope/);
  const badName = await fetch(`${rt.url}/v1/functions/Bad%20Name!/invoke`, { method: 'POST', body: 'x' });
  assert.equal(badName.status, 400);
  const wrongMethod = await fetch(`${rt.url}/v1/functions/echo/invoke`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'POST');
  assert.equal((await rt.control('GET', '/nothing/here', undefined, null)).status, 404);
});

test('a bad timeoutMs is a 400 that names the parameter', async () => {
  for (const query of ['?timeoutMs=abc', '?timeoutMs=0', '?timeoutMs=999999999', '?other=1']) {
    const response = await rt.invoke('echo', 'ok', query);
    assert.equal(response.status, 400, query);
    assert.equal(errorOf(response).code, 'HEARTH_ERR_BAD_REQUEST');
  }
});

test('a body over the limit: 413, declared or streamed, and the runtime keeps serving', async () => {
  const declared = await rt.invoke('echo', Buffer.alloc(1024 * 1024 + 1));
  assert.equal(declared.status, 413);
  assert.equal(errorOf(declared).code, 'HEARTH_ERR_BODY_TOO_LARGE');
  // Chunked, so the length is only known while reading.
  const streamed = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(new URL(rt.url).port), '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk) => (reply += chunk.toString()));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.write('POST /v1/functions/echo/invoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    for (let i = 0; i < 5; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`);
    socket.end('0\r\n\r\n');
  });
  assert.match(streamed, /^HTTP\/1\.1 413/);
  assert.equal((await rt.invoke('echo', 'echo:still here')).text, 'still here');
});

test('overload: a full queue answers 429 with Retry-After; a queue past its deadline 503', async () => {
  await rt.deploy({ name: 'tight', kind: 'go', entry: GO, pool: { min: 1, max: 1, maxQueued: 1 }, limits: { timeoutMs: 3000 } });
  const busy = rt.invoke('tight', 'sleep:800');
  await waitFor('the worker to be busy', () => rt.runtime.registry.get('tight')!.snapshot().busy === 1);
  const queued = rt.invoke('tight', 'ok', '?timeoutMs=300');
  await waitFor('one queued request', () => rt.runtime.registry.get('tight')!.snapshot().queued === 1);
  const rejected = await rt.invoke('tight', 'ok');
  assert.equal(rejected.status, 429);
  assert.equal(rejected.headers.get('retry-after'), '1');
  assert.equal(errorOf(rejected).code, 'HEARTH_ERR_QUEUE_FULL');
  const timedOut = await queued;
  assert.equal(timedOut.status, 503);
  assert.equal(timedOut.headers.get('retry-after'), '1');
  assert.equal(errorOf(timedOut).code, 'HEARTH_ERR_QUEUE_TIMEOUT');
  assert.equal((await busy).status, 200);
});

test('the control API needs the bearer token', async () => {
  for (const token of [null, 'wrong-token']) {
    const response = await rt.control('GET', '/v1/functions', undefined, token);
    assert.equal(response.status, 401);
    assert.equal(errorOf(response).code, 'HEARTH_ERR_UNAUTHORIZED');
    assert.equal(response.headers.get('www-authenticate'), 'Bearer');
  }
  const deploy = await rt.control('PUT', '/v1/functions/sneaky', { kind: 'exec', entry: '/bin/true' }, null);
  assert.equal(deploy.status, 401);
  assert.equal(rt.runtime.registry.get('sneaky'), undefined);
  assert.equal((await rt.control('GET', '/v1/events', undefined, null)).status, 401);
});

test('deploy, describe, reconfigure and remove a function through the control API', async () => {
  const state = makeStateFile(4096, 9);
  const deployed = await rt.control('PUT', '/v1/functions/managed', { kind: 'go', entry: GO, state, pool: { min: 0, max: 2 } });
  assert.equal(deployed.status, 200, deployed.text);
  const info = deployed.json<{ name: string; version: number; state: { bytes: number } }>();
  assert.equal(info.name, 'managed');
  assert.equal(info.state.bytes, 4096);
  assert.equal((await rt.invoke('managed', 'echo:hi')).text, 'hi');
  const listed = (await rt.control('GET', '/v1/functions')).json<{ functions: { name: string }[] }>();
  assert.ok(listed.functions.some((fn) => fn.name === 'managed'));

  const patched = await rt.control('PATCH', '/v1/functions/managed', { pool: { min: 2 } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json<{ pool: { min: number; max: number } }>().pool.min, 2);
  await waitFor('pool.min workers', () => rt.runtime.registry.get('managed')!.snapshot().idle === 2);

  const badPatch = await rt.control('PATCH', '/v1/functions/managed', { pool: { min: 5, max: 2 } });
  assert.equal(badPatch.status, 400);
  assert.match(errorOf(badPatch).message, /pool.max/);
  const badSpare = await rt.control('PATCH', '/v1/functions/managed', { pool: { spare: 3 } });
  assert.equal(badSpare.status, 400);
  assert.match(errorOf(badSpare).message, /pool\.spare: must be at most pool\.max \(2\); got 3/);
  const badDeploy = await rt.control('PUT', '/v1/functions/broken', { kind: 'rust', entry: GO });
  assert.equal(badDeploy.status, 400);
  assert.match(errorOf(badDeploy).message, /request body: kind: must be one of go, node, exec/);
  const relative = await rt.control('PUT', '/v1/functions/broken', { kind: 'go', entry: 'relative/dir' });
  assert.match(errorOf(relative).message, /entry: must be an absolute path here/);
  const notJson = await rt.control('PUT', '/v1/functions/broken', '{not json');
  assert.equal(notJson.status, 400);

  const removed = await rt.control('DELETE', '/v1/functions/managed');
  assert.equal(removed.status, 200);
  assert.equal((await rt.invoke('managed', 'ok')).status, 404);
  assert.equal((await rt.control('DELETE', '/v1/functions/managed')).status, 404);
});

test('GC settings change live in Go workers, without a restart', async () => {
  const pool = rt.runtime.registry.get('echo')!;
  const pid = (await rt.invoke('echo', 'pid')).text;
  const patched = await rt.control('PATCH', '/v1/functions/echo', { gc: { gogc: 321, memoryLimitMb: 77 } });
  assert.equal(patched.status, 200, patched.text);
  const worker = pool.listWorkers().find((candidate) => String(candidate.pid) === pid)!;
  const stats = await worker.control({ op: 'stats' });
  assert.equal(stats['gogc'], 321);
  assert.equal(stats['memoryLimitBytes'], 77 * 1024 * 1024);
  assert.equal((await rt.invoke('echo', 'pid')).text, pid, 'the same worker, not a restarted one');
  const wrongKind = await rt.control('PATCH', '/v1/functions/echo', { gc: { maxOldSpaceMb: 100 } });
  assert.equal(wrongKind.status, 400);
  assert.match(errorOf(wrongKind).message, /gc.maxOldSpaceMb: does not apply to go functions/);
});

test('Node heap limits roll out as a new version whose workers start with the V8 flags', async () => {
  await rt.deploy({ name: 'node-gc', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, pool: { min: 1, max: 2 } });
  const before = rt.runtime.registry.get('node-gc')!.current.version;
  const patched = await rt.control('PATCH', '/v1/functions/node-gc', { gc: { maxOldSpaceMb: 96, maxSemiSpaceMb: 4 } });
  assert.equal(patched.status, 200, patched.text);
  const pool = rt.runtime.registry.get('node-gc')!;
  assert.ok(pool.current.version > before, 'a new version');
  await waitFor('only new-version workers', () => pool.listWorkers().length > 0 && pool.listWorkers().every((worker) => worker.version === pool.current.version));
  const pid = Number((await rt.invoke('node-gc', 'pid')).text);
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.ok(cmdline.includes('--max-old-space-size=96') && cmdline.includes('--max-semi-space-size=4'), cmdline.join(' '));
});

test('workers are listed with their pid, status and start time', async () => {
  const { workers } = (await rt.control('GET', '/v1/workers?function=echo')).json<{ workers: { pid: number; function: string; status: string; spawnToReadyMs: number }[] }>();
  assert.ok(workers.length >= 1);
  for (const worker of workers) {
    assert.equal(worker.function, 'echo');
    assert.ok(worker.pid > 0);
    assert.ok(worker.spawnToReadyMs > 0);
  }
});

test('the event log joins a request id to its worker: spawn, ready, invoke start and end', async () => {
  await rt.deploy({ name: 'traced', kind: 'go', entry: GO, pool: { min: 0, max: 1, keepAliveMs: 0 } });
  await waitFor('no traced workers', () => rt.workerPids('traced').length === 0);
  const response = await rt.invoke('traced', 'ok');
  assert.equal(response.headers.get('x-hearth-start'), 'cold');
  const id = Number(response.headers.get('x-hearth-invocation'));
  const pid = Number(response.headers.get('x-hearth-worker'));
  const text = (await rt.control('GET', '/v1/events?since=0')).text;
  const events = text.trim().split('\n').map((line) => JSON.parse(line) as RuntimeEvent);
  assert.deepEqual(events.map((event) => event.seq), events.map((_, index) => index + 1), 'sequence numbers have no gaps');
  const mine = events.filter((event) => 'function' in event && event.function === 'traced');
  const start = mine.find((event) => event.type === 'invoke_start' && event.id === id);
  const end = mine.find((event) => event.type === 'invoke_end' && event.id === id);
  assert.ok(start && end, 'start and end of the invocation');
  assert.equal(start.type === 'invoke_start' && start.cold, true);
  assert.equal(start.type === 'invoke_start' && start.pid, pid);
  const spawned = mine.find((event) => event.type === 'worker_spawned' && event.pid === pid);
  const requested = mine.find((event) => event.type === 'spawn_requested' && spawned?.type === 'worker_spawned' && event.workerId === spawned.workerId);
  const ready = mine.find((event) => event.type === 'worker_ready' && event.pid === pid);
  assert.ok(requested && spawned && ready, 'spawn requested, spawned and ready');
  assert.ok(requested.ts <= spawned.ts && spawned.ts <= ready.ts && ready.ts <= start.ts && start.ts <= end.ts, 'monotonic timestamps in order');
  const later = (await rt.control('GET', `/v1/events?since=${end.seq}`)).text.trim();
  assert.ok(later.split('\n').every((line) => line === '' || (JSON.parse(line) as RuntimeEvent).seq > end.seq));
});

test('a following event stream delivers new events as they happen', async () => {
  const controller = new AbortController();
  const response = await fetch(`${rt.url}/v1/events?since=${rt.runtime.events.lastSeq}&follow=1`, {
    headers: { authorization: `Bearer ${rt.runtime.token}` },
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const invoked = await rt.invoke('echo', 'ok');
  const id = Number(invoked.headers.get('x-hearth-invocation'));
  let text = '';
  while (!text.includes(`"type":"invoke_end"`)) text += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  assert.ok(text.split('\n').some((line) => line.includes(`"id":${id}`)));
});

test('a holding follower holds a new binary\'s first worker until it acknowledges', async () => {
  const controller = new AbortController();
  const response = await fetch(`${rt.url}/v1/events?since=${rt.runtime.events.lastSeq}&follow=1&hold=1`, {
    headers: { authorization: `Bearer ${rt.runtime.token}` },
    signal: controller.signal,
  });
  const follower = response.headers.get('x-hearth-follower');
  assert.match(follower ?? '', /^\d+$/);
  const reader = response.body!.getReader();
  let deployed = false;
  const deploy = rt.control('PUT', '/v1/functions/held', { kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper` }).then((result) => {
    deployed = true;
    return result;
  });
  let text = '';
  while (!text.includes('"type":"function_prepared"')) text += new TextDecoder().decode((await reader.read()).value);
  const prepared = text.split('\n').map((line) => (line.trim() === '' ? undefined : (JSON.parse(line) as RuntimeEvent))).find((event) => event?.type === 'function_prepared')!;
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(deployed, false, 'the deploy waits for the acknowledgement');
  assert.deepEqual(rt.runtime.events.since(prepared.seq).filter((event) => 'function' in event && event.function === 'held'), [], 'no worker started yet');
  const badSeq = await rt.control('POST', `/v1/followers/${follower}/ack`, { seq: 'soon' });
  assert.equal(badSeq.status, 400);
  assert.match(errorOf(badSeq).message, /seq must be a non-negative integer/);
  assert.equal((await rt.control('POST', '/v1/followers/999999/ack', { seq: prepared.seq })).status, 404);
  assert.equal((await rt.control('POST', `/v1/followers/${follower}/ack`, { seq: prepared.seq }, null)).status, 401);
  const acked = await rt.control('POST', `/v1/followers/${follower}/ack`, { seq: prepared.seq });
  assert.equal(acked.status, 200, acked.text);
  const result = await deploy;
  controller.abort();
  assert.equal(result.status, 200, result.text);
  assert.equal((await rt.invoke('held', 'abc')).text, 'ABC');
  await rt.control('DELETE', '/v1/functions/held');
});

test('Prometheus metrics: invocations, cold starts, queue depth, pool sizes, spawn-to-ready', async () => {
  const text = (await rt.control('GET', '/metrics', undefined, null)).text;
  for (const series of [
    /hearth_invocations_total\{function="echo",start="warm",outcome="ok"\} \d+/,
    /hearth_cold_starts_total\{function="traced",path="scratch"\} \d+/,
    /hearth_queue_depth\{function="echo"\} 0/,
    /hearth_pool_workers\{function="echo",state="idle"\} \d+/,
    /hearth_spawn_to_ready_seconds_bucket\{le="0.01",function="echo",path="scratch"\} \d+/,
    /hearth_rejected_total\{function="tight",code="HEARTH_ERR_QUEUE_FULL"\} 1/,
    /hearth_invocation_duration_seconds_count\{function="echo",start="warm"\} \d+/,
  ]) {
    assert.match(text, series);
  }
});

test.run();
