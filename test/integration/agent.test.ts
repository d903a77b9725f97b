// The agent against real workers and the real kernel: a record per cold start with every
// phase it can see, for Go (also stripped), Node (from scratch and from a stem cell) and a
// plain binary; joined to the request that waited; OOM kills attributed; nothing left behind.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import type { ColdStartRecord } from '../../agent/phases/tracker.js';
import type { Phase, PhaseSource } from '../../shared/phases.js';
import { EXAMPLES, FIXTURES, TestAgent, TestRuntime, ebpfMissing, makeStateFile, ourBpfPrograms, searchableTempDir, waitFor } from '../helpers/harness.js';

const missing = ebpfMissing();
let rt: TestRuntime;
let agent: TestAgent;
let strippedDir = '';

function sources(record: ColdStartRecord): Partial<Record<Phase, PhaseSource>> {
  return Object.fromEntries(record.phases.map((timing) => [timing.phase, timing.source]));
}

/** Invokes `fn` when it has no worker, so the request waits for a cold start. */
async function coldInvoke(fn: string, body = 'ok'): Promise<{ id: number; pid: number; origin: string | null }> {
  await waitFor(`no warm ${fn} worker`, () => rt.workerPids(fn).length === 0);
  const response = await rt.invoke(fn, body);
  assert.equal(response.status, 200, response.text);
  assert.equal(response.headers.get('x-hearth-start'), 'cold');
  return { id: Number(response.headers.get('x-hearth-invocation')), pid: Number(response.headers.get('x-hearth-worker')), origin: response.headers.get('x-hearth-origin') };
}

test.before(async () => {
  if (missing !== undefined) return;
  rt = await TestRuntime.start({ stemCells: 1 });
  agent = await TestAgent.start(rt);
  const recycle = { pool: { min: 0, max: 2, keepAliveMs: 0 }, limits: { maxInvocations: 1 } };
  await rt.deploy({ name: 'go', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: makeStateFile(1024 * 1024, 21), ...recycle });
  await rt.deploy({ name: 'node', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, state: makeStateFile(65536, 22), ...recycle });
  await rt.deploy({ name: 'exec', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, state: makeStateFile(4096, 23), ...recycle });
  strippedDir = searchableTempDir('hearth-stripped-');
  execFileSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', path.join(strippedDir, 'misbehave'), '.'], { cwd: `${FIXTURES}/go-misbehave`, env: { ...process.env, CGO_ENABLED: '0' } });
  await rt.deploy({ name: 'stripped', kind: 'go', entry: path.join(strippedDir, 'misbehave'), ...recycle });
});

test.after(async () => {
  if (missing !== undefined) return;
  await agent.stop();
  await rt.stop();
  fs.rmSync(strippedDir, { recursive: true, force: true });
  // The kernel frees a detached program after an RCU grace period, not at once.
  await waitFor('the kernel to free every program, link and map of ours', () => ourBpfPrograms().length === 0, 5000).catch(() => {
    throw new Error(`left in the kernel after the agent stopped: ${ourBpfPrograms().join(', ')}`);
  });
});

function skipped(name: string): boolean {
  if (missing === undefined) return false;
  process.stdout.write(`HEARTH-SKIP ${name}: ${missing}\n`);
  return true;
}

test('Go: every phase from the kernel, joined to the request that waited', async () => {
  if (skipped('agent Go phases')) return;
  const { id, pid } = await coldInvoke('go');
  const record = await agent.record(id);
  assert.equal(record.function, 'go');
  assert.equal(record.pid, pid);
  assert.equal(record.outcome, 'served');
  assert.equal(record.origin, 'seed');
  // The exec function deployed beside it keeps the syscall hooks attached: READY's write is
  // seen at the syscall; the state is mapped when the SDK's marker says the mmap returned.
  assert.deepEqual(sources(record), { exec: 'kernel', runtime_init: 'kernel', user_init: 'kernel', state_mapped: 'sdk', ready: 'kernel', first_response: 'runtime' });
  const sum = record.phases.reduce((total, timing) => total + timing.durationNs, 0);
  assert.equal(sum, record.totalNs, 'phases tile the cold start');
  assert.ok(record.totalNs > 0 && record.totalNs < 1e9, `${record.totalNs} ns`);
});

test('a binary deployed while the agent runs is probed before its first worker starts', async () => {
  if (skipped('agent probes at deploy')) return;
  // 'go' and 'stripped' were deployed after the agent connected: the runtime held their
  // validation workers until the agent had attached the new binaries' probes.
  for (const fn of ['go', 'stripped']) {
    const first = await waitFor(`the record of ${fn}'s validation worker`, () => agent.agent.store.recent({ fn, limit: 10_000 }).find((record) => record.reason === 'validate'));
    const measured = sources(first);
    assert.equal(measured.runtime_init, 'kernel', `${fn}: runtime.main seen in its first worker`);
    assert.equal(measured.user_init, 'kernel', `${fn}: main.main seen in its first worker`);
  }
});

test('a stripped Go binary: runtime symbols found through .gopclntab', async () => {
  if (skipped('agent stripped Go')) return;
  const { id } = await coldInvoke('stripped');
  const record = await agent.record(id);
  const measured = sources(record);
  assert.equal(measured.runtime_init, 'kernel');
  assert.equal(measured.user_init, 'kernel');
  const probes = (await (await fetch(`${agent.agent.url}/v1/probes`)).json()) as { probes: { binary: string; attached: string[] }[] };
  const stripped = probes.probes.find((probe) => probe.binary.endsWith('/misbehave'));
  assert.ok(stripped !== undefined && stripped.attached.includes('runtime.main') && stripped.attached.includes('main.main'), JSON.stringify(stripped));
});

test('a plain binary: fork/exec/first mmap of fd 4/first write on fd 3 from the kernel alone', async () => {
  if (skipped('agent exec phases')) return;
  const { id } = await coldInvoke('exec', 'state:0:4');
  const record = await agent.record(id);
  assert.deepEqual(sources(record), { exec: 'kernel', state_mapped: 'kernel', ready: 'kernel', first_response: 'runtime' });
});

test('Node from a stem cell: state mapped and ready from the SDK markers', async () => {
  if (skipped('agent Node stem cell')) return;
  await waitFor('a stem cell', () => rt.runtime.stemCellsReady() > 0);
  const { id, origin } = await coldInvoke('node');
  assert.equal(origin, 'stem-cell');
  const record = await agent.record(id);
  assert.equal(record.origin, 'stem-cell');
  // READY's write is the cell's first on fd 3 that the syscall hook sees only if the hook was
  // attached after the cell's own first write (when the cell was born); else the marker says it.
  const { ready, ...rest } = sources(record);
  assert.deepEqual(rest, { state_mapped: 'sdk', first_response: 'runtime' });
  assert.ok(ready === 'sdk' || ready === 'kernel', `ready from ${ready}`);
});

test('Node from scratch: Node\'s environment load from its own symbols', async () => {
  if (skipped('agent Node scratch')) return;
  const scratch = await TestRuntime.start({ stemCells: 0 });
  const second = await TestAgent.start(scratch);
  try {
    await scratch.deploy({ name: 'node', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, state: makeStateFile(65536, 22), pool: { min: 0, max: 1, keepAliveMs: 0 } });
    await waitFor('no warm worker', () => scratch.workerPids('node').length === 0);
    const response = await scratch.invoke('node', 'x');
    const record = await second.record(Number(response.headers.get('x-hearth-invocation')));
    const measured = sources(record);
    assert.equal(measured.exec, 'kernel');
    assert.equal(measured.runtime_init, 'kernel', 'node::LoadEnvironment was probed');
    assert.equal(measured.user_init, 'kernel', 'node::StartExecution was probed');
    assert.ok(measured.ready !== undefined);
  } finally {
    await second.stop();
    await scratch.stop();
  }
});

test('an OOM kill is attributed to its function and the invocation it was running', async () => {
  if (skipped('agent OOM attribution')) return;
  await rt.deploy({ name: 'hog', kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { min: 1, max: 1 }, limits: { memoryMb: 48 } });
  const response = await rt.invoke('hog', 'alloc:150');
  assert.equal(response.status, 502);
  const id = Number(response.headers.get('x-hearth-invocation'));
  const exit = await waitFor('the exit record', () => agent.agent.store.recentExits('hog')[0]);
  assert.equal(exit.oomKilled, true);
  assert.equal(exit.signal, 'SIGKILL');
  assert.deepEqual(exit.inflight, [id]);
  assert.ok(exit.peakMemoryBytes !== null && exit.peakMemoryBytes > 40 * 1024 * 1024, `peak ${exit.peakMemoryBytes}`);
  const metrics = await (await fetch(`${agent.agent.url}/metrics`)).text();
  assert.match(metrics, /hearth_agent_oom_kills_total\{function="hog"\} 1/);
});

test('metrics, phase percentiles and the coldstarts CLI serve the records', async () => {
  if (skipped('agent outputs')) return;
  const metrics = await (await fetch(`${agent.agent.url}/metrics`)).text();
  assert.match(metrics, /hearth_coldstart_phase_seconds_count\{function="go",phase="exec",source="kernel"\} [1-9]/);
  assert.match(metrics, /hearth_agent_events_dropped_total 0/);
  assert.match(metrics, /hearth_agent_process_cpu_seconds_total/);
  const phases = (await (await fetch(`${agent.agent.url}/v1/phases?function=go`)).json()) as { functions: { phases: Record<string, { count: number; p50Ms: number }> }[] };
  assert.ok(phases.functions[0]!.phases['exec']!.count >= 1);
  // Not execFileSync: the agent answering the CLI runs in this process.
  const cli = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [path.join(process.cwd(), 'dist/cli/main.js'), 'coldstarts', '--agent', agent.agent.url, '-f', 'go'], (error, stdout) => (error === null ? resolve(stdout) : reject(error))),
  );
  assert.match(cli, /^FUNCTION\s+PID\s+FROM\s+REQUEST\s+FORK\s+EXEC\s+RUNTIME\s+INIT\s+STATE\s+READY\s+RESPONSE\s+TOTAL\s+OUTCOME/);
  assert.match(cli, /\ngo\s+\d+\s+seed\s+\d+\s+-\s+[\d.]+k\s+[\d.]+k/);
  assert.match(cli, /PHASE\s+N\s+P50 MS/);
});

test('PUT /v1/probes detaches every link of the agent and attaches them again, nothing recorded between', async () => {
  if (skipped('agent detach and attach')) return;
  const put = (body: unknown, token = rt.runtime.token): Promise<Response> =>
    fetch(`${agent.agent.url}/v1/probes`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const links = (): number => ourBpfPrograms().filter((item) => item.startsWith('link ')).length;
  const health = async (): Promise<{ attached: boolean; probesAttached: number }> => (await (await fetch(`${agent.agent.url}/healthz`)).json()) as { attached: boolean; probesAttached: number };
  assert.equal((await put({ attached: false }, 'not-the-token')).status, 401);
  const bad = await put({ attached: 'no' });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /^attached: must be true or false \(got "no"\)$/);
  const before = await health();
  assert.ok(before.attached && before.probesAttached > 0 && links() > 0, 'attached from the start');

  const detached = await put({ attached: false });
  assert.equal(detached.status, 200);
  assert.equal(((await detached.json()) as { attached: boolean }).attached, false);
  // The programs and maps stay loaded, ready to attach again; the kernel runs none of them.
  await waitFor('every link of ours to be gone', () => links() === 0, 5000);
  const unseen = await coldInvoke('go');
  await new Promise((resolve) => setTimeout(resolve, 300)); // past a tick, had one been running
  assert.equal(agent.agent.store.recent({ fn: 'go', limit: 10_000 }).some((record) => record.requestId === unseen.id), false, 'no record of a start while detached');
  assert.deepEqual(await health().then(({ attached, probesAttached }) => ({ attached, probesAttached })), { attached: false, probesAttached: 0 });

  const attached = await put({ attached: true });
  assert.equal(attached.status, 200);
  assert.equal(((await attached.json()) as { attached: boolean }).attached, true);
  assert.equal((await health()).probesAttached, before.probesAttached, 'the same tracepoints, hooks and uprobes as before');
  assert.ok(links() > 0);
  const { id } = await coldInvoke('go');
  const record = await agent.record(id);
  assert.deepEqual(sources(record), { exec: 'kernel', runtime_init: 'kernel', user_init: 'kernel', state_mapped: 'sdk', ready: 'kernel', first_response: 'runtime' });
  assert.equal((await put({ attached: true })).status, 200, 'attaching what is attached changes nothing');
  assert.equal((await health()).probesAttached, before.probesAttached);
});

test('the syscall hooks stay attached only while a function without SDK markers is deployed', async () => {
  if (skipped('agent syscall hooks on demand')) return;
  const health = async (): Promise<{ syscallHooks: boolean }> => (await (await fetch(`${agent.agent.url}/healthz`)).json()) as { syscallHooks: boolean };
  assert.equal((await health()).syscallHooks, true, 'the exec function needs them');
  assert.equal((await rt.control('DELETE', '/v1/functions/exec')).status, 200);
  await waitFor('the syscall hooks to be detached', async () => !(await health()).syscallHooks);
  const { id } = await coldInvoke('go');
  const record = await agent.record(id);
  assert.deepEqual(sources(record), { exec: 'kernel', runtime_init: 'kernel', user_init: 'kernel', state_mapped: 'sdk', ready: 'sdk', first_response: 'runtime' });
  await rt.deploy({ name: 'exec', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, state: makeStateFile(4096, 23), pool: { min: 0, max: 2, keepAliveMs: 0 }, limits: { maxInvocations: 1 } });
  assert.equal((await health()).syscallHooks, true, 'attached again before the exec function\'s first worker started');
});

test.run();
