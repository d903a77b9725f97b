// The agent beside a runtime in another container, as deploy/ runs them on Kubernetes: the
// runtime is `hearth serve` in its own mount namespace, building its Go functions into a tmpfs
// that only it sees, and the agent runs outside it with exactly the capabilities
// deploy/agent.yaml adds. The agent must reach the runtime's binaries through /proc/PID/root:
// uprobes on the Go binary (CAP_SYS_ADMIN), phases measured in the kernel, Go and kernel frames
// named in the profile (CAP_SYSLOG). Without CAP_SYS_PTRACE it cannot, and says so per binary.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import type { Profile } from '../../agent/profile/model.js';
import type { FunctionSummary, WorkerList } from '../../shared/api.js';
import { HEARTH, exited, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { agentCapabilitiesForSetpriv } from '../helpers/deploy.js';
import { FIXTURES, ebpfMissing, freePort, waitFor } from '../helpers/harness.js';

const missing = ebpfMissing();
const POD_CAPABILITIES = agentCapabilitiesForSetpriv();
const FUNCTION = 'contained';
const COLD_STARTS = 6;

interface ProbeStatus {
  binary: string;
  attached: string[];
  errors: string[];
}

function skipped(name: string): boolean {
  if (missing === undefined) return false;
  process.stdout.write(`HEARTH-SKIP ${name}: ${missing}\n`);
  return true;
}

let scratch = '';
let runtime: ChildProcess | undefined;
let runtimeOutput = '';
let url = '';
let token = '';

async function control<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function agentJson<T>(agent: AgentProcess, route: string): Promise<T> {
  const response = await fetch(`${agent.url}${route}`);
  assert.equal(response.status, 200, `${route}: ${response.status}`);
  return (await response.json()) as T;
}

async function following(agent: AgentProcess): Promise<void> {
  await waitFor(
    'the agent to follow the runtime',
    async () => {
      try {
        return (await agentJson<{ runtimeConnected: boolean }>(agent, '/healthz')).runtimeConnected;
      } catch {
        return false;
      }
    },
    20_000,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${agent.output()}`);
  });
}

async function stopAgent(agent: AgentProcess): Promise<void> {
  agent.child.kill('SIGTERM');
  assert.equal(await exited(agent.child), 0, agent.output());
}

test.before(async () => {
  if (missing !== undefined) return;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-container-'));
  // Workers run as their function's own user: they must be able to search down to the build cache.
  fs.chmodSync(scratch, 0o755);
  const cache = path.join(scratch, 'cache');
  const runDir = path.join(scratch, 'run');
  const tokenFile = path.join(scratch, 'token');
  fs.mkdirSync(cache);
  token = randomBytes(24).toString('hex');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // The tmpfs on the cache exists in the runtime's mount namespace only: what it builds there
  // is invisible to this process and to the agent, as files in another container are.
  const script = 'mount -t tmpfs hearth-container-cache "$1" && exec "$2" "$3" serve --port "$4" --cache "$1" --run-dir "$5" --token-file "$6" --stem-cells 0';
  runtime = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', cache, process.execPath, HEARTH, String(port), runDir, tokenFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  runtime.stdout!.on('data', (chunk: Buffer) => (runtimeOutput += chunk.toString()));
  runtime.stderr!.on('data', (chunk: Buffer) => (runtimeOutput += chunk.toString()));
  await waitFor('the runtime to serve', async () => {
    try {
      return (await fetch(`${url}/readyz`)).ok;
    } catch {
      return false;
    }
  }, 20_000).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${runtimeOutput}`);
  });
});

test.after(async () => {
  if (missing !== undefined) return;
  if (runtime !== undefined) {
    runtime.kill('SIGTERM');
    assert.equal(await exited(runtime), 0, runtimeOutput);
  }
  fs.rmSync(scratch, { recursive: true, force: true });
});

test('with the pod\'s capabilities the agent probes, times and profiles a runtime in another mount namespace', async () => {
  if (skipped('agent beside a contained runtime')) return;
  const agent = await startAgent(url, token, { capabilities: POD_CAPABILITIES });
  try {
    await following(agent);
    await control('PUT', `/v1/functions/${FUNCTION}`, {
      name: FUNCTION,
      kind: 'go',
      entry: `${FIXTURES}/go-cpu`,
      env: { FIXTURE_SLOW_INIT_MS: '25' },
      pool: { min: 0, max: 1, keepAliveMs: 0 },
      limits: { maxInvocations: 1 },
    });
    const { binary } = await control<FunctionSummary>('GET', `/v1/functions/${FUNCTION}`);
    assert.equal(fs.existsSync(binary), false, `${binary}, built by the runtime, must not be visible here, or this test proves nothing`);

    const ids: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      await waitFor('no warm worker', async () => (await control<WorkerList>('GET', `/v1/workers?function=${FUNCTION}`)).workers.length === 0);
      const response = await fetch(`${url}/v1/functions/${FUNCTION}/invoke`, { method: 'POST', body: 'compute:1' });
      assert.equal(response.status, 200, await response.text());
      assert.equal(response.headers.get('x-hearth-start'), 'cold');
      ids.push(Number(response.headers.get('x-hearth-invocation')));
    }

    const probes = (await agentJson<{ probes: ProbeStatus[] }>(agent, '/v1/probes')).probes;
    const goProbes = probes.find((status) => status.binary === binary);
    assert.ok(goProbes !== undefined, `probes on ${binary}: ${JSON.stringify(probes)}`);
    assert.deepEqual(goProbes.errors, [], 'the Go binary opened through /proc/PID/root');
    assert.ok(goProbes.attached.includes('runtime.main') && goProbes.attached.includes('main.main'), `attached: ${goProbes.attached.join(', ')}`);

    const records = await waitFor('the cold-start records', async () => {
      const body = await agentJson<{ coldstarts: { requestId: number; measured: Record<string, string | null> }[] }>(agent, `/v1/coldstarts?function=${FUNCTION}`);
      const found = body.coldstarts.filter((record) => ids.includes(record.requestId));
      return found.length === ids.length ? found : undefined;
    });
    for (const record of records) {
      assert.equal(record.measured['runtime_init'], 'kernel', `invocation ${record.requestId}: runtime_init from the uprobe on runtime.main`);
      assert.equal(record.measured['user_init'], 'kernel', `invocation ${record.requestId}: user_init from the uprobe on main.main`);
    }

    const profile = await waitFor('a cold-start profile with the slow init in it', async () => {
      const current = await agentJson<Profile>(agent, `/v1/profiles/${FUNCTION}?phase=cold`);
      return current.samples.some((sample) => sample.stack.some((frame) => frame.name === 'main.slowInit')) ? current : undefined;
    }, 15_000);
    const frames = profile.samples.flatMap((sample) => sample.stack);
    const slowInit = frames.find((frame) => frame.name === 'main.slowInit')!;
    assert.equal(slowInit.kind, 'go');
    assert.match(slowInit.file ?? '', /go-cpu\/main\.go$/, 'named from the binary\'s .gopclntab, read through /proc/PID/root');
    const kernel = frames.filter((frame) => frame.kind === 'kernel');
    assert.ok(kernel.length > 0, 'kernel frames are named (CAP_SYSLOG lets the agent read /proc/kallsyms addresses)');
    assert.match(agent.output(), /runs in another mount namespace \(another container\)/);
    await stopAgent(agent);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test('without CAP_SYS_PTRACE the agent cannot open the runtime\'s binaries, and says so for each', async () => {
  if (skipped('agent without CAP_SYS_PTRACE')) return;
  const withoutPtrace = POD_CAPABILITIES.replace(',+sys_ptrace', '');
  assert.notEqual(withoutPtrace, POD_CAPABILITIES, 'deploy/agent.yaml adds SYS_PTRACE');
  const agent = await startAgent(url, token, { capabilities: withoutPtrace });
  try {
    await following(agent);
    const { binary } = await control<FunctionSummary>('GET', `/v1/functions/${FUNCTION}`);
    const goProbes = await waitFor('the agent to try the Go binary', async () => (await agentJson<{ probes: ProbeStatus[] }>(agent, '/v1/probes')).probes.find((status) => status.binary === binary));
    assert.deepEqual(goProbes.attached, []);
    assert.match(goProbes.errors.join('; '), /ENOENT|no such file/i);
    assert.match(agent.output(), /cannot tell whether process \d+ shares the agent's mount namespace/);
    await stopAgent(agent);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test.run();
