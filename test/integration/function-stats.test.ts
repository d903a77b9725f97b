// GET /v1/functions/NAME/stats: every ready worker's SDK figures beside the runtime's view
// of it (CPU time, cgroup memory), the token, validation, a worker too busy to answer in
// time, and the function's OOM kill count, against real Go and Node workers.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import type { FunctionStats } from '../../shared/api.js';
import { FIXTURES, TestRuntime, waitFor } from '../helpers/harness.js';

let rt: TestRuntime;

test.before(async () => {
  rt = await TestRuntime.start({ stemCells: 0 });
  await rt.deploy({ name: 'go', kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { min: 2, max: 2 }, limits: { memoryMb: 64, concurrency: 2 }, gc: { gogc: 150 } });
  await rt.deploy({ name: 'node', kind: 'node', entry: `${FIXTURES}/node-cpu.mjs`, pool: { min: 2, max: 2 }, limits: { memoryMb: 256 } });
  // A deploy answers once one worker is ready; the stats list only ready ones.
  for (const fn of ['go', 'node']) await waitFor(`both workers of ${fn} ready`, async () => (await statsOf(fn)).workers.length === 2);
});

test.after(async () => {
  await rt.stop();
});

async function statsOf(fn: string, query = ''): Promise<FunctionStats> {
  const response = await rt.control('GET', `/v1/functions/${fn}/stats${query}`);
  assert.equal(response.status, 200, response.text);
  return response.json<FunctionStats>();
}

test('Go: each ready worker with its pid, CPU, cgroup memory and the SDK figures the GC tuner reads', async () => {
  for (let i = 0; i < 20; i++) assert.equal((await rt.invoke('go', 'alloc:1')).status, 200);
  const stats = await statsOf('go');
  assert.equal(stats.function, 'go');
  assert.equal(stats.kind, 'go');
  assert.equal(stats.memoryLimitMb, 64);
  assert.deepEqual(stats.gc, { gogc: 150 });
  assert.equal(stats.oomKills, 0);
  assert.deepEqual(stats.workers.map((worker) => worker.pid).sort(), rt.workerPids('go').sort());
  for (const worker of stats.workers) {
    assert.ok(worker.cpuSeconds !== null && worker.cpuSeconds >= 0, `cpuSeconds ${worker.cpuSeconds}`);
    assert.ok(worker.privateBytes > 0);
    if (rt.runtime.cgroupDir !== undefined) {
      assert.ok(worker.memoryBytes! > 0 && worker.peakMemoryBytes! >= worker.memoryBytes!, `memory ${worker.memoryBytes}, peak ${worker.peakMemoryBytes}`);
      assert.ok(worker.peakMemoryBytes! <= 64 * 1048576);
    }
    const sdk = worker.sdk!;
    assert.equal(sdk['gogc'], 150);
    for (const field of ['heapLiveBytes', 'mappedBytes', 'gcCpuSeconds', 'busyCpuSeconds', 'allocBytes']) assert.equal(typeof sdk[field], 'number', `${field}: ${JSON.stringify(sdk)}`);
  }
});

test('Node: the V8 heap and, from the first request on, the collections since', async () => {
  const first = await statsOf('node');
  assert.equal(first.workers.length, 2);
  for (let i = 0; i < 10; i++) assert.equal((await rt.invoke('node', 'split:20')).status, 200);
  const second = await statsOf('node');
  for (const worker of second.workers) {
    const sdk = worker.sdk as { heapLimitBytes: number; semiSpaceBytes: number; cpuMs: number; gcSinceMs: number; gc: { scavenges: number } };
    assert.ok(sdk.heapLimitBytes > 0 && sdk.semiSpaceBytes > 0, JSON.stringify(sdk));
    assert.ok(sdk.cpuMs > 0);
    const before = first.workers.find((earlier) => earlier.pid === worker.pid)!.sdk as { gcSinceMs: number };
    assert.equal(sdk.gcSinceMs, before.gcSinceMs, 'one accounting period');
  }
});

test('a worker too busy to answer within timeoutMs is listed with its error; the others answer; its late answer costs it nothing', async () => {
  const pids = rt.workerPids('node').sort();
  const busy = rt.invoke('node', 'split:1500');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = Date.now();
  const stats = await statsOf('node', '?timeoutMs=100');
  assert.ok(Date.now() - started < 1000, 'the route waits at most about timeoutMs');
  const silent = stats.workers.filter((worker) => worker.sdk === null);
  assert.equal(silent.length, 1, JSON.stringify(stats.workers));
  assert.match(silent[0]!.error ?? '', /did not answer control request .* within 100 ms/);
  assert.equal(stats.workers.filter((worker) => worker.sdk !== null).length, 1);
  assert.equal((await busy).status, 200);
  // The busy worker answers the abandoned request once free: an answer late, not a broken protocol.
  const again = await statsOf('node');
  assert.deepEqual(again.workers.map((worker) => worker.pid).sort(), pids, 'the same workers serve');
  assert.ok(again.workers.every((worker) => worker.sdk !== null), JSON.stringify(again.workers));
});

test('the route needs the token, checks timeoutMs and the function, and takes only GET', async () => {
  assert.equal((await rt.control('GET', '/v1/functions/go/stats', undefined, null)).status, 401);
  for (const bad of ['0', '5001', 'soon', '1.5']) {
    const response = await rt.control('GET', `/v1/functions/go/stats?timeoutMs=${bad}`);
    assert.equal(response.status, 400, bad);
    assert.match(response.json<{ error: { message: string; field: string } }>().error.message, /timeoutMs must be an integer from 1 to 5000/);
  }
  assert.equal((await rt.control('GET', '/v1/functions/nope/stats')).status, 404);
  assert.equal((await rt.control('POST', '/v1/functions/go/stats', {})).status, 405);
});

test('OOM kills of the function are counted', async () => {
  if (rt.runtime.cgroupDir === undefined) {
    process.stdout.write('HEARTH-SKIP OOM kill count: the runtime enforces no memory limits here (no usable memory cgroup controller)\n');
    return;
  }
  const killed = await rt.invoke('go', 'alloc:200');
  assert.equal(killed.status, 502, killed.text);
  assert.equal((await statsOf('go')).oomKills, 1);
});

test.run();
