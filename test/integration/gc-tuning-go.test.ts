// The GC advisor on a real runtime, with the allocation-heavy Go example under a tight
// memory limit (160 MiB for a 30 MiB live heap): a naive GOGC raise is OOM-killed there and
// the advisor backs off until the kills stop; the advisor's own advice, applied with PATCH,
// lowers the GC's share of CPU in the very same worker processes, with no OOM kill and
// every worker's peak under the limit. The GC share comes from the agent's steady-state
// profile where the host can run eBPF, else from the SDK's figures (the test says which).
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { RuntimeClient } from '../../agent/runtime-client.js';
import { createGcAdvisor, gcShareFromProfiler } from '../../agent/tuner/gc/advisor.js';
import type { GcPolicyOptions } from '../../agent/tuner/gc/options.js';
import type { GcAdvice, GcAdvisor, TunedFunction } from '../../agent/tuner/gc-advice.js';
import type { FunctionStats } from '../../shared/api.js';
import { EXAMPLES, TestAgent, TestRuntime, ebpfMissing, waitFor } from '../helpers/harness.js';
import { closedLoop, failed } from '../helpers/closed-loop.js';

const LIMIT_MB = 160;
const BLOCK_MS = 8000;
/** The advisor's clock and windows shortened to the test's blocks; the policy is the default one. */
const FAST: Partial<GcPolicyOptions> = { cooldownMs: 2000, shareWindowMs: BLOCK_MS, minProfileSamples: 100 };
const missing = ebpfMissing();

let rt: TestRuntime;
let agent: TestAgent | undefined;
let client: RuntimeClient;

test.before(async () => {
  rt = await TestRuntime.start({ stemCells: 0 });
  if (missing === undefined) agent = await TestAgent.start(rt, { profile: { coldHz: 1000, steadyHz: 99 } });
  client = new RuntimeClient(rt.url, rt.runtime.token);
  const fn = { kind: 'go', entry: `${EXAMPLES}/go-recommend`, limits: { memoryMb: LIMIT_MB, concurrency: 2, timeoutMs: 5000 } };
  await rt.deploy({ name: 'recommend', ...fn, pool: { min: 2, max: 2, keepAliveMs: 600_000 } });
  // No recycling on memory growth, which would otherwise replace the naive worker before the kernel kills it.
  await rt.deploy({ name: 'naive', ...fn, limits: { ...fn.limits, recycleMemoryMb: 0 }, pool: { min: 1, max: 1, keepAliveMs: 600_000 }, gc: { gogc: 800 } });
});

test.after(async () => {
  await agent?.stop();
  await rt.stop();
});

function load(fn: string, ms = BLOCK_MS): ReturnType<typeof closedLoop> {
  return closedLoop(`${rt.url}/v1/functions/${fn}/invoke`, 2, ms, (i) => String((i * 7919) % 150_000));
}

async function tuned(fn: string): Promise<TunedFunction> {
  const stats = await client.functionStats(fn);
  return { name: fn, kind: 'go', gc: stats.gc, memoryLimitMb: stats.memoryLimitMb };
}

async function advise(advisor: GcAdvisor, fn: string): Promise<GcAdvice | undefined> {
  return advisor.advise(await tuned(fn), performance.now());
}

async function apply(fn: string, advice: GcAdvice): Promise<void> {
  const response = await rt.control('PATCH', `/v1/functions/${fn}`, { gc: advice.settings });
  assert.equal(response.status, 200, response.text);
}

/** GC CPU over busy CPU of the workers between two readings, from the Go runtime's own counters. */
function sdkShare(before: FunctionStats, after: FunctionStats): number {
  let gc = 0;
  let busy = 0;
  for (const worker of after.workers) {
    const then = before.workers.find((earlier) => earlier.pid === worker.pid);
    gc += Number(worker.sdk!['gcCpuSeconds']) - Number(then!.sdk!['gcCpuSeconds']);
    busy += Number(worker.sdk!['busyCpuSeconds']) - Number(then!.sdk!['busyCpuSeconds']);
  }
  return gc / busy;
}

test('GOGC 800 without a memory limit is OOM-killed here; the advisor backs off and the kills stop', async () => {
  if (rt.runtime.cgroupDir === undefined) {
    process.stdout.write('HEARTH-SKIP naive GOGC under a memory limit: the runtime enforces no memory limits here (no usable memory cgroup controller)\n');
    return;
  }
  const advisor = createGcAdvisor({ runtime: client, options: FAST });
  assert.equal(await advise(advisor, 'naive'), undefined, 'a first look only measures');
  // The heap grows ~12 MB/s under this load: long enough for it to pass the limit.
  const naive = await load('naive', 16_000);
  const killed = (await client.functionStats('naive')).oomKills;
  assert.ok(killed >= 1, `GOGC 800 of a 30 MiB heap should pass ${LIMIT_MB} MiB and be killed (${naive.requests} requests, ${failed(naive)} failed)`);
  // The advisor reads the workers; the pool may still be replacing the killed one.
  await waitFor('a worker of naive that answers', async () => (await client.functionStats('naive')).workers.some((worker) => worker.sdk !== null) || undefined, 15_000);
  const advice = await advise(advisor, 'naive');
  assert.ok(advice !== undefined, 'an OOM kill gets advice at once');
  assert.match(advice.reason, /OOM-killed: GOGC 800 → \d+/);
  assert.ok(advice.settings.gogc! <= 400, `GOGC ${advice.settings.gogc}: half or less`);
  assert.ok(advice.settings.memoryLimitMb! <= LIMIT_MB * 0.9 * 0.85, `GOMEMLIMIT ${advice.settings.memoryLimitMb} MiB: a step below the usual headroom`);
  await apply('naive', advice);
  const safe = await load('naive');
  assert.equal(failed(safe), 0, safe.failures.join('\n'));
  assert.equal((await client.functionStats('naive')).oomKills, killed, 'no OOM kill under the advised settings');
});

test('the advice lowers the GC share of the allocation-heavy function in the same processes, with no OOM kill and peaks under the limit', async () => {
  if (missing !== undefined) process.stdout.write(`HEARTH-SKIP the GC share from the agent's profile: ${missing}; using the SDK's figures instead\n`);
  const advisor = createGcAdvisor({ runtime: client, options: FAST, ...(agent === undefined ? {} : { gcShare: gcShareFromProfiler(() => agent!.agent.profiler) }) });
  const pids = rt.workerPids('recommend').sort();
  assert.equal(await advise(advisor, 'recommend'), undefined, 'a first look only measures');
  const start = await client.functionStats('recommend');
  const defaults = await load('recommend');
  const measured = await client.functionStats('recommend');
  const advice = await advise(advisor, 'recommend');
  assert.ok(advice !== undefined, 'a high GC share gets advice');
  const source = advice.inputs['shareSource'];
  process.stdout.write(`\nGC share from the ${source === 'profile' ? "agent's steady-state profile" : "SDK's figures"}: ${advice.inputs['gcShare']}; advice: ${advice.reason}\n`);
  assert.equal(source, agent === undefined ? 'sdk' : 'profile');
  assert.ok(advice.settings.gogc! > 150, `GOGC ${advice.settings.gogc}`);
  assert.ok(advice.settings.memoryLimitMb! < LIMIT_MB * 0.9, `GOMEMLIMIT ${advice.settings.memoryLimitMb} MiB below the ceiling`);
  await apply('recommend', advice);
  const applied = await client.functionStats('recommend');
  for (const worker of applied.workers) {
    assert.equal(worker.sdk!['gogc'], advice.settings.gogc);
    assert.equal(worker.sdk!['memoryLimitBytes'], advice.settings.memoryLimitMb! * 1048576);
  }
  const tunedLoad = await load('recommend');
  const after = await client.functionStats('recommend');
  const before = sdkShare(start, measured);
  const now = sdkShare(applied, after);
  const cpuPerRequest = (from: FunctionStats, to: FunctionStats, requests: number): number => (to.workers.reduce((sum, worker) => sum + worker.cpuSeconds!, 0) - from.workers.reduce((sum, worker) => sum + worker.cpuSeconds!, 0)) / requests;
  process.stdout.write(`GC share ${before.toFixed(3)} → ${now.toFixed(3)}; CPU per request ${(cpuPerRequest(start, measured, defaults.requests) * 1000).toFixed(3)} → ${(cpuPerRequest(applied, after, tunedLoad.requests) * 1000).toFixed(3)} ms\n`);
  assert.ok(before > 0.2, `the example's GC share at GOGC=100 is high (${before})`);
  assert.ok(now < before * 0.7, `GC share ${before} → ${now}`);
  assert.deepEqual(rt.workerPids('recommend').sort(), pids, 'applied live: the same worker processes');
  assert.equal(failed(defaults) + failed(tunedLoad), 0, [...defaults.failures, ...tunedLoad.failures].join('\n'));
  assert.equal(after.oomKills, 0);
  if (rt.runtime.cgroupDir !== undefined) {
    for (const worker of after.workers) assert.ok(worker.peakMemoryBytes! < LIMIT_MB * 1048576, `worker ${worker.pid} peaked at ${worker.peakMemoryBytes} bytes`);
  }
});

test.run();
