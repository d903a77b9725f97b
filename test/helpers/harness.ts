// Starts a real runtime in the test process (real workers, real state store, real cgroups)
// and checks that it leaves nothing behind when it stops.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { Agent, defaultAgentOptions, type AgentOptions } from '../../agent/agent.js';
import { checkHost } from '../../agent/bpf/index.js';
import type { ColdStartRecord } from '../../agent/phases/tracker.js';
import { COLDSTART_OBJECT } from '../../agent/probes/coldstart.js';
import type { RuntimeEvent } from '../../shared/events.js';
import { createLogger } from '../../shared/log.js';
import type { FunctionSpec } from '../../runtime/manifest/spec.js';
import { parseFunction } from '../../runtime/manifest/parse.js';
import { Runtime, defaultOptions, type RuntimeOptions } from '../../runtime/runtime.js';

export const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures');
export const EXAMPLES = path.join(ROOT, 'examples');
/** Go builds are shared by every suite; Go's cache makes repeated builds cheap. */
export const TEST_CACHE = path.join(ROOT, '.cache/test');

/**
 * A fresh temporary directory that every user may search, as /run/hearth and /tmp are:
 * workers run as a uid of their function's own, and must reach the code (or the profiling
 * run's directory) that is put there. mkdtemp alone makes it 0700.
 */
export function searchableTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface InvokeResult {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export class TestRuntime {
  readonly logs: string[] = [];
  readonly events: RuntimeEvent[] = [];
  readonly runtime: Runtime;
  private readonly runBase: string;
  /** Read once the runtime has started (and cleaned up after any dead predecessor). */
  private hugePagesBefore = 0;
  private readonly fdsBefore = resourceFds();

  constructor(overrides: Partial<RuntimeOptions> = {}) {
    this.runBase = overrides.runBase ?? searchableTempDir('hearth-test-run-');
    const verbose = process.env['HEARTH_TEST_LOG'] === '1';
    const logger = createLogger('debug', (line) => {
      this.logs.push(line);
      if (this.logs.length > 5000) this.logs.shift();
      if (verbose) process.stderr.write(line + '\n');
    });
    // Co-location off unless a test asks for it: the runtime shares this process with the
    // tests, whose own child processes (agents, Prometheus, Chromium) would inherit its CPU.
    this.runtime = new Runtime({ ...defaultOptions(), port: 0, cacheDir: TEST_CACHE, logger, colocation: 'off', ...overrides, runBase: this.runBase });
    this.runtime.events.subscribe((event) => this.events.push(event));
  }

  static async start(overrides: Partial<RuntimeOptions> = {}): Promise<TestRuntime> {
    const test = new TestRuntime(overrides);
    await test.runtime.start();
    test.hugePagesBefore = readHugePages();
    return test;
  }

  get url(): string {
    return this.runtime.url;
  }

  async deploy(fn: Record<string, unknown>): Promise<FunctionSpec> {
    const spec = parseFunction(fn, { label: 'test', baseDir: ROOT });
    await this.runtime.registry.deploy(spec);
    return spec;
  }

  async invoke(name: string, body: string | Uint8Array = '', query = ''): Promise<InvokeResult> {
    const response = await fetch(`${this.url}/v1/functions/${name}/invoke${query}`, { method: 'POST', body: body as BodyInit });
    return toResult(response);
  }

  /** A control API request with the runtime's token (pass token: null to send none). */
  async control(method: string, route: string, body?: unknown, token: string | null = this.runtime.token): Promise<InvokeResult> {
    const headers: Record<string, string> = {};
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.url}${route}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    return toResult(response);
  }

  workerPids(fn?: string): number[] {
    return this.runtime.registry
      .all()
      .filter((pool) => fn === undefined || pool.name === fn)
      .flatMap((pool) => pool.listWorkers().map((worker) => worker.pid));
  }

  /** Every pid the runtime ever spawned (from its events). */
  spawnedPids(): number[] {
    return this.events.flatMap((event) => (event.type === 'worker_spawned' ? [event.pid] : []));
  }

  /** Stops the runtime and asserts it left no process, mapping, cgroup, mount or huge page behind. */
  async stop(): Promise<void> {
    await this.runtime.stop();
    const alive = this.spawnedPids().filter((pid) => fs.existsSync(`/proc/${pid}`) && !isZombieOfOthers(pid));
    assert.deepEqual(alive, [], `worker processes still alive after stop: ${alive.join(', ')}`);
    const leftovers = fs.readdirSync(this.runBase);
    assert.deepEqual(leftovers, [], `files left in the run directory: ${leftovers.join(', ')}`);
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(this.runBase));
    assert.deepEqual(mounts, [], 'mounts left behind');
    const cgroup = this.runtime.cgroupDir;
    assert.ok(cgroup === undefined || !fs.existsSync(cgroup), `cgroup ${cgroup} left behind`);
    const maps = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes('hearth-state'));
    assert.deepEqual(maps, [], 'state mappings left in the runtime process');
    assert.equal(readHugePages(), this.hugePagesBefore, 'nr_hugepages was not restored');
    const leakedFds = resourceFds().filter((target) => !this.fdsBefore.includes(target));
    assert.deepEqual(leakedFds, [], 'fds the runtime opened are still open');
    fs.rmSync(this.runBase, { recursive: true, force: true });
  }

  /** Log lines that match, for assertions on what the runtime said. */
  logged(pattern: RegExp): string[] {
    return this.logs.filter((line) => pattern.test(line));
  }
}

async function toResult(response: Response): Promise<InvokeResult> {
  const body = Buffer.from(await response.arrayBuffer());
  const text = body.toString('utf8');
  return {
    status: response.status,
    headers: response.headers,
    body,
    text,
    json<T>() {
      return JSON.parse(text) as T;
    },
  };
}

/**
 * This process's fds that point at what a runtime opens: memfds, pidfds, cgroup files, its run
 * files. (Not /dev/null: Node's child_process keeps one open once it has spawned anything.)
 */
function resourceFds(): string[] {
  const targets: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (/memfd:|\[pidfd\]|^\/sys\/fs\/cgroup|hearth/.test(target)) targets.push(`${fd} ${target}`);
    } catch {
      // closed while listing
    }
  }
  return targets;
}

function readHugePages(): number {
  return Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim());
}

function isZombieOfOthers(pid: number): boolean {
  try {
    return / Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Deterministic pseudo-random bytes, for state files whose contents tests check. */
export function makeStateFile(bytes: number, seed = 1): string {
  const file = path.join(os.tmpdir(), `hearth-test-state-${bytes}-${seed}.bin`);
  if (fs.existsSync(file) && fs.statSync(file).size === bytes) return file;
  const data = Buffer.alloc(bytes);
  let x = BigInt(seed) | 1n;
  for (let offset = 0; offset + 8 <= bytes; offset += 8) {
    x ^= (x << 13n) & 0xffff_ffff_ffff_ffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffff_ffff_ffff_ffffn;
    data.writeBigUInt64LE(x, offset);
  }
  fs.writeFileSync(`${file}.tmp`, data);
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a truthy value or the time runs out. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Proportional set size of a process's mappings, by kind, in bytes (from /proc/PID/smaps). */
export function smapsTotals(pid: number, pathPattern?: RegExp): { pss: number; rss: number; sharedHugetlb: number; privateHugetlb: number } {
  const totals = { pss: 0, rss: 0, sharedHugetlb: 0, privateHugetlb: 0 };
  let include = pathPattern === undefined;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      include = pathPattern === undefined || pathPattern.test(line);
      continue;
    }
    if (!include) continue;
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match === null) continue;
    const bytes = Number(match[2]) * 1024;
    if (match[1] === 'Pss') totals.pss += bytes;
    else if (match[1] === 'Rss') totals.rss += bytes;
    else if (match[1] === 'Shared_Hugetlb') totals.sharedHugetlb += bytes;
    else if (match[1] === 'Private_Hugetlb') totals.privateHugetlb += bytes;
  }
  return totals;
}

/** The agent, started in this process against a TestRuntime (which also runs here, so the roots are this process). */
export class TestAgent {
  readonly logs: string[] = [];
  readonly agent: Agent;

  private constructor(runtime: TestRuntime, options: Partial<AgentOptions>) {
    const logger = createLogger('debug', (line) => {
      this.logs.push(line);
      if (this.logs.length > 5000) this.logs.shift();
      if (process.env['HEARTH_TEST_LOG'] === '1') process.stderr.write(`[agent] ${line}\n`);
    });
    // The tuner changes pools on its own; tests that measure cold starts need the pools they set, so it is off unless asked for.
    this.agent = new Agent({ ...defaultAgentOptions(), port: 0, runtimeUrl: runtime.url, token: runtime.runtime.token, logger, tuner: { mode: 'off' }, ...options });
  }

  static async start(runtime: TestRuntime, options: Partial<AgentOptions> = {}): Promise<TestAgent> {
    const test = new TestAgent(runtime, options);
    await test.agent.start();
    await waitFor('the agent to follow the runtime', async () => ((await (await fetch(`${test.agent.url}/healthz`)).json()) as { runtimeConnected: boolean }).runtimeConnected);
    return test;
  }

  /** The agent's record of the cold start that served invocation `id` (waits for it). */
  record(id: number, timeoutMs = 5000): Promise<ColdStartRecord> {
    return waitFor(`the agent's record of invocation ${id}`, () => this.agent.store.recent({ limit: 10_000 }).find((record) => record.requestId === id), timeoutMs);
  }

  async stop(): Promise<void> {
    await this.agent.stop();
  }
}

/** Why eBPF cannot run here, or undefined when it can: the agent's own preflight check. */
export function ebpfMissing(): string | undefined {
  const host = checkHost();
  if (!host.ok) return host.missing;
  if (!fs.existsSync(COLDSTART_OBJECT)) return `${COLDSTART_OBJECT} was not built (scripts/build-bpf.sh)`;
  return undefined;
}

/** A test's guard: when `missing` says why eBPF cannot run here, prints a loud, counted HEARTH-SKIP line for the test and returns true. */
export function skipWithout(missing: string | undefined): (name: string) => boolean {
  return (name) => {
    if (missing === undefined) return false;
    process.stdout.write(`HEARTH-SKIP ${name}: ${missing}\n`);
    return true;
  };
}

/**
 * `bpftool KIND show -j`, read again when it fails: it lists ids, then opens each, and an
 * object the kernel frees in between (an agent just killed) fails the whole listing.
 */
function bpftoolList<T>(kind: 'prog' | 'link' | 'map'): T[] {
  for (let attempt = 1; ; attempt++) {
    try {
      return JSON.parse(execFileSync('bpftool', [kind, 'show', '-j'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as T[];
    } catch (error) {
      if (attempt === 5) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

/** What of ours the kernel still has, from bpftool: programs (handle_*, sample_*), their links, and maps (hearth_*). */
export function ourBpfPrograms(): string[] {
  const programs = bpftoolList<{ id: number; name?: string; map_ids?: number[] }>('prog');
  const ours = programs.filter((program) => /^(handle|sample)_/.test(program.name ?? ''));
  const ids = new Set(ours.map((program) => program.id));
  const links = bpftoolList<{ prog_id: number }>('link').filter((link) => ids.has(link.prog_id));
  const maps = bpftoolList<{ name?: string }>('map').filter((map) => (map.name ?? '').startsWith('hearth_'));
  return [...ours.map((program) => `prog ${program.name}`), ...links.map((link) => `link of prog ${link.prog_id}`), ...maps.map((map) => `map ${map.name}`)];
}
