// The agent as operators run it: `hearth agent` with only CAP_BPF and CAP_PERFMON (the
// kernel-measured phases and CPU profiles of workers that run as users of their own), with
// only CAP_SYS_ADMIN (which this kernel asks for uprobes: the Go phases), a clear refusal
// without either, its token never on its command line nor in its output, nothing left in the
// kernel after SIGTERM or SIGKILL, and the bpftrace script seeing the same kernel events as
// the agent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import type { ColdStartRecord } from '../../agent/phases/tracker.js';
import { descendantsOf } from '../../agent/probes/coldstart.js';
import { agentFollows, exited, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { EXAMPLES, FIXTURES, ROOT, TestAgent, TestRuntime, ebpfMissing, ourBpfPrograms, sleep, waitFor } from '../helpers/harness.js';
import { assertTimingUnlessStolen, StealMeter } from '../helpers/steal.js';

const missing = ebpfMissing();
// Linux capability numbers: CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39.
const LEAST_CAPS = (1n << 38n) | (1n << 39n);
const SYS_ADMIN_ONLY = 1n << 21n;

function skipped(name: string): boolean {
  if (missing === undefined) return false;
  process.stdout.write(`HEARTH-SKIP ${name}: ${missing}\n`);
  return true;
}

function effectiveCaps(pid: number): bigint {
  return BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`);
}

/** The agent's record of the cold start that served a fresh invocation of `fn`. */
async function coldStartOf(agent: AgentProcess, fn: string, request: string): Promise<{ measured: Record<string, string | null> }> {
  await waitFor(`no warm worker of ${fn}`, () => rt.workerPids(fn).length === 0);
  const id = Number((await rt.invoke(fn, request)).headers.get('x-hearth-invocation'));
  return waitFor(`the cold start record of ${fn}`, async () => {
    const body = (await (await fetch(`${agent.url}/v1/coldstarts?function=${fn}`)).json()) as { coldstarts: { requestId: number; measured: Record<string, string | null> }[] };
    return body.coldstarts.find((record) => record.requestId === id);
  });
}

let rt: TestRuntime;

test.before(async () => {
  if (missing !== undefined) return;
  rt = await TestRuntime.start({ stemCells: 0 });
  const oneShot = { pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1 } };
  await rt.deploy({ name: 'upper', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, ...oneShot });
  await rt.deploy({ name: 'slowinit', kind: 'go', entry: `${FIXTURES}/go-cpu`, env: { FIXTURE_SLOW_INIT_MS: '25' }, ...oneShot });
});

test.after(async () => {
  if (missing !== undefined) return;
  await rt.stop();
});

test('with only CAP_BPF and CAP_PERFMON the agent traces and profiles workers of other users; SIGTERM detaches everything', async () => {
  if (skipped('agent with least capabilities')) return;
  const agent = await startAgent(rt.url, rt.runtime.token, { capabilities: ',+bpf,+perfmon' });
  try {
    await waitFor('the agent to serve', () => agentFollows(agent), 20_000);
    assert.equal(effectiveCaps(agent.child.pid!), LEAST_CAPS, 'it runs with exactly CAP_BPF and CAP_PERFMON');
    assert.ok(!fs.readFileSync(`/proc/${agent.child.pid}/cmdline`, 'utf8').includes(rt.runtime.token), 'no token on its command line');
    const record = await coldStartOf(agent, 'upper', 'least');
    assert.equal(record.measured['exec'], 'kernel');
    assert.equal(record.measured['ready'], 'kernel');
    for (const fn of ['upper', 'slowinit']) assert.ok(rt.runtime.registry.get(fn)!.current.identity.uid !== undefined, `${fn}'s workers run as a user of their own`);
    const profiles = (await (await fetch(`${agent.url}/v1/profiles`)).json()) as { profiling: boolean; reason?: string };
    assert.equal(profiles.profiling, true, `CPU sampling works with these capabilities too (${profiles.reason ?? ''})`);
    assert.ok(ourBpfPrograms().some((item) => item.startsWith('prog sample_')), 'its sampling programs are loaded');
    // The Go worker runs as a uid of its own: its cold start is sampled and its frames named.
    for (let i = 0; i < 3; i++) await coldStartOf(agent, 'slowinit', 'compute:1');
    const cold = await waitFor('named frames of the Go cold starts', async () => {
      const profile = (await (await fetch(`${agent.url}/v1/profiles/slowinit?phase=cold`)).json()) as { samples: { stack: { name: string }[] }[] };
      return profile.samples.some((sample) => sample.stack.some((frame) => frame.name === 'main.slowInit')) ? profile : undefined;
    });
    assert.ok(cold.samples.length > 0);
    const clocks = /^hearth_profile_cold_clocks (-?\d+)$/m.exec(await (await fetch(`${agent.url}/metrics`)).text());
    assert.ok(clocks !== null && Number(clocks[1]) >= 1, `the cold-start clock follows the seeds one by one with these capabilities too (hearth_profile_cold_clocks ${clocks?.[1]}): ${agent.output()}`);
    const uprobes = ((await (await fetch(`${agent.url}/v1/probes`)).json()) as { probes: { kind: string; errors: string[] }[] }).probes.find((probe) => probe.kind === 'go');
    if (uprobes !== undefined && uprobes.errors.some((error) => /EACCES/.test(error))) process.stdout.write('  this kernel asks CAP_SYS_ADMIN for uprobes: the Go phases need it (next test)\n');
    agent.child.kill('SIGTERM');
    assert.equal(await exited(agent.child), 0, agent.output());
    assert.ok(!agent.output().includes(rt.runtime.token), 'no token in its output');
    // The kernel frees a program once its last link and fd are gone, a moment later (RCU).
    await waitFor('SIGTERM to have detached every program', () => ourBpfPrograms().length === 0, 5000);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test('with only CAP_SYS_ADMIN it probes the Go runtime too: runtime_init and user_init from the kernel', async () => {
  if (skipped('agent with CAP_SYS_ADMIN')) return;
  const agent = await startAgent(rt.url, rt.runtime.token, { capabilities: ',+sys_admin' });
  try {
    await waitFor('the agent to serve', () => agentFollows(agent), 20_000);
    assert.equal(effectiveCaps(agent.child.pid!), SYS_ADMIN_ONLY, 'it runs with exactly CAP_SYS_ADMIN, not as full root');
    await waitFor('the Go binary\'s uprobes', async () => {
      const probes = ((await (await fetch(`${agent.url}/v1/probes`)).json()) as { probes: { kind: string; attached: string[] }[] }).probes;
      return probes.some((probe) => probe.kind === 'go' && probe.attached.includes('runtime.main'));
    });
    const record = await coldStartOf(agent, 'slowinit', 'compute:1');
    assert.equal(record.measured['runtime_init'], 'kernel');
    assert.equal(record.measured['user_init'], 'kernel');
  } finally {
    agent.child.kill('SIGTERM');
    await exited(agent.child);
  }
  await waitFor('its programs to be freed', () => ourBpfPrograms().length === 0, 5000);
});

test('without the capabilities it refuses with one line naming what is missing', async () => {
  if (skipped('agent without capabilities')) return;
  const agent = await startAgent(rt.url, rt.runtime.token, { capabilities: '' });
  assert.equal(await exited(agent.child), 1);
  assert.match(agent.output(), /^hearth: the agent cannot trace on this host: needs root or CAP_BPF and CAP_PERFMON/m);
});

test('SIGKILL leaves nothing: the kernel frees its programs, links and maps, and a new agent starts', async () => {
  if (skipped('agent crash cleanup')) return;
  const first = await startAgent(rt.url, rt.runtime.token, { capabilities: ',+bpf,+perfmon' });
  await waitFor('the agent to load', () => ourBpfPrograms().length > 0, 20_000);
  first.child.kill('SIGKILL');
  await exited(first.child);
  await waitFor('the kernel to free the programs', () => ourBpfPrograms().length === 0, 5000);
  const second = await startAgent(rt.url, rt.runtime.token, { capabilities: ',+bpf,+perfmon' });
  try {
    await waitFor('the second agent to load', () => ourBpfPrograms().length > 0, 20_000);
  } finally {
    second.child.kill('SIGTERM');
    await exited(second.child);
  }
  await waitFor('the second agent\'s programs to be freed', () => ourBpfPrograms().length === 0, 5000);
});

test('bpf/coldstart.bt sees the same fork, exec and exit as the agent', async () => {
  if (skipped('bpftrace script')) return;
  const agent = await TestAgent.start(rt);
  // bpftrace 0.17 needs tracefs; mount it in a private mount namespace so the host is untouched.
  const script = path.join(ROOT, 'bpf/coldstart.bt');
  const bpftrace = spawn('unshare', ['-m', 'sh', '-c', `mount -t tracefs tracefs /sys/kernel/tracing && exec bpftrace -B line ${script} ${process.pid}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = '';
  bpftrace.stdout!.on('data', (chunk: Buffer) => (lines += chunk.toString()));
  bpftrace.stderr!.on('data', (chunk: Buffer) => (lines += chunk.toString()));
  try {
    await waitFor('bpftrace to attach', () => /Attaching \d+ probes/.test(lines), 60_000);
    await sleep(500);
    // The script follows processes forked after it started: leave out workers that were
    // forked (as seeds) before.
    const before = new Set(descendantsOf(process.pid));
    const meter = new StealMeter();
    const records: ColdStartRecord[] = [];
    for (let attempt = 0; records.length < 5 && attempt < 5 + before.size; attempt++) {
      await waitFor('no warm worker', () => rt.workerPids('upper').length === 0);
      const record = await agent.record(Number((await rt.invoke('upper', 'bt')).headers.get('x-hearth-invocation')));
      if (!before.has(record.pid)) records.push(record);
    }
    const steal = meter.share();
    assert.equal(records.length, 5, 'five workers forked after bpftrace attached');
    // Both programs stamp the same tracepoint or syscall one after the other: only a moment
    // the hypervisor took the CPU away between them sets them apart.
    const misses: string[] = [];
    for (const record of records) {
      const exec = record.phases.find((timing) => timing.phase === 'exec')!;
      const agentExec = record.spawnTs + exec.startNs + exec.durationNs;
      // A seed execs twice: itself when it is started, the worker when it is used.
      const line = await waitFor(`bpftrace's exec of ${record.pid}`, () => lines.split('\n').find((row) => new RegExp(`^EV \\d+ exec ${record.pid} 0 0 0 upper$`).test(row)));
      const scriptExec = Number(line.split(' ')[1]);
      if (Math.abs(scriptExec - agentExec) >= 100_000) misses.push(`exec of ${record.pid}: bpftrace ${scriptExec}, agent ${agentExec}`);
      await waitFor(`bpftrace's exit of ${record.pid}`, () => lines.split('\n').some((row) => new RegExp(`^EV \\d+ exit ${record.pid} 0 0 0 `).test(row)));
      const write = lines.split('\n').find((row) => new RegExp(`^EV \\d+ ipc_write ${record.pid} `).test(row));
      const ready = record.phases.find((timing) => timing.phase === 'ready')!;
      assert.ok(write !== undefined, `bpftrace saw the first write of ${record.pid}`);
      const agentWrite = record.spawnTs + ready.startNs + ready.durationNs;
      if (Math.abs(Number(write.split(' ')[1]) - agentWrite) >= 100_000) misses.push(`first write of ${record.pid}: bpftrace ${write}, agent ${agentWrite}`);
    }
    assertTimingUnlessStolen('bpftrace against the agent, within 100 µs', misses, steal);
  } finally {
    bpftrace.kill('SIGINT');
    await exited(bpftrace);
    await agent.stop();
  }
});

test.run();
