// A `hearth agent` in its own process beside a benchmark's server, cold starts one at a time,
// and what a process costs (CPU, memory) read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { serverTotalMs, type RawClient } from './http.js';
import { HEARTH, ServerProcess, freePort } from './server.js';
import { processCpuSeconds } from '../../runtime/supervisor/proc-usage.js';
import { stopWithBenchmark } from './children.js';

/** A sidecar runs for days: measure it settled, not while it compiles its own code. */
const AGENT_SETTLE_MS = 1000;

export interface AgentProcess {
  child: ChildProcess;
  url: string;
}

/**
 * Starts `hearth agent` on the server with extra arguments, and waits until it follows the
 * runtime. Its tuner is off unless the arguments say otherwise: benchmarks of cold starts set
 * the pools they measure.
 */
export async function startAgent(server: ServerProcess, args: string[] = []): Promise<AgentProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [HEARTH, 'agent', '--runtime', server.url, '--port', String(port), '--log-level', 'warn', '--tuner', 'off', ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, HEARTH_TOKEN: server.token },
  });
  stopWithBenchmark(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const health = (await (await fetch(`${url}/healthz`)).json()) as { runtimeConnected: boolean };
      if (health.runtimeConnected) {
        await new Promise((resolve) => setTimeout(resolve, AGENT_SETTLE_MS));
        return { child, url };
      }
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('hearth agent did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function stopAgent(agent: AgentProcess): Promise<void> {
  if (agent.child.exitCode !== null) return;
  const exited = new Promise((resolve) => agent.child.once('exit', resolve));
  agent.child.kill('SIGTERM');
  await exited;
}

/** Detaches the agent's probes and clocks, or attaches them again (PUT /v1/probes). */
export async function setProbesAttached(agent: AgentProcess, token: string, attached: boolean): Promise<void> {
  const response = await fetch(`${agent.url}/v1/probes`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ attached }) });
  if (!response.ok) throw new Error(`agent: PUT /v1/probes {"attached": ${attached}}: HTTP ${response.status} ${await response.text()}`);
}

/** The agent's cold-start records of `fn` (as JSON), once those of the starts just made are in: it records a start once it settles (50 ms). */
export async function settledColdStarts<R>(agent: AgentProcess, fn: string): Promise<R[]> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const response = await fetch(`${agent.url}/v1/coldstarts?function=${encodeURIComponent(fn)}&limit=10000`);
  if (!response.ok) throw new Error(`agent cold starts of ${fn}: HTTP ${response.status}`);
  return ((await response.json()) as { coldstarts: R[] }).coldstarts;
}

/** Waits until `fn` has no worker and seeds are ready, so the next call is a cold start. */
async function waitIdle(server: ServerProcess, fn: string): Promise<void> {
  for (;;) {
    const state = await server.api<{ workers: unknown[]; seedsReady: number }>('GET', `/v1/workers?function=${fn}`);
    if (state.workers.length === 0 && state.seedsReady >= 2) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Latency of `count` cold starts of `fn` at the client and as the runtime timed them (Server-Timing total), plus their invocation ids; each after `pauseMs` with no worker. */
export async function coldBlock(server: ServerProcess, client: RawClient, count: number, fn: string, body: () => string, pauseMs = 0): Promise<{ ms: number[]; serverMs: number[]; ids: number[] }> {
  const ms: number[] = [];
  const serverMs: number[] = [];
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    await waitIdle(server, fn);
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const reply = await client.post(`/v1/functions/${fn}/invoke`, body());
    if (reply.status !== 200 || reply.headers.get('x-hearth-start') !== 'cold') throw new Error(`not a cold start: ${reply.status}`);
    const total = serverTotalMs(reply);
    if (!Number.isFinite(total)) throw new Error(`no Server-Timing total in the answer of a cold start of ${fn}: ${reply.headers.get('server-timing')}`);
    ms.push(reply.ms);
    serverMs.push(total);
    ids.push(Number(reply.headers.get('x-hearth-invocation')));
  }
  return { ms, serverMs, ids };
}

/**
 * Cold starts that are not measured, then a wait past the agent's next profile collection: a
 * fresh agent parses kallsyms and the binary's symbols at its first one, a cost it pays once
 * in its life, which blocks of cold starts must not count as the cost of tracing each start.
 * Done the same way with and without the agent, so both sides start from the same state.
 */
export async function warmUp(server: ServerProcess, client: RawClient, fn: string, body: () => string): Promise<void> {
  await coldBlock(server, client, 3, fn, body);
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

/** utime + stime of a process and its threads, in seconds; throws when it is gone. */
export function cpuSeconds(pid: number): number {
  const seconds = processCpuSeconds(pid);
  if (seconds === undefined) throw new Error(`process ${pid} is gone: no CPU time to read`);
  return seconds;
}

/**
 * Time the process's threads ran on a CPU, in nanoseconds (schedstat): without the time the
 * host stole from them, with the interrupts that hit them. Throws when it is gone.
 */
export function threadsRunNs(pid: number): number {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that exited meanwhile
    }
  }
  return total;
}

export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}
