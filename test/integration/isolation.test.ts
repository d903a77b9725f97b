// Hostile functions against the worker sandbox (SECURITY.md): a function that tries to read
// another function's state, to write to its own, to reach the control API without the token,
// to ptrace, signal or read the memory of its siblings or the runtime, to use the kernel
// interfaces the filter refuses, to fork-bomb and to fill its memory. Each attempt must fail
// with the errno or signal the kernel gives, while another function keeps answering every
// request throughout. Last, nothing the runtime or the agent (which watches all of it) logged
// holds the control token or a byte of any function's state.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { tokenFile } from '../../shared/local.js';
import { DEFAULT_WORKER_IDS } from '../../runtime/isolation/identities.js';
import { BACKENDS } from '../../runtime/state/backend.js';
import { EXAMPLES, FIXTURES, TestAgent, TestRuntime, ebpfMissing, makeStateFile, sleep, waitFor } from '../helpers/harness.js';

const HOSTILE = `${FIXTURES}/go-hostile`;
const VICTIM = `${FIXTURES}/go-misbehave`;
const VICTIM_STATE = makeStateFile(65536, 31);
/** The hostile function's state: text that would be plain to see in any log line that held a piece of it. */
const CANARY = `HEARTH-STATE-CANARY-${randomBytes(8).toString('hex')}`;
const CANARY_STATE = path.join(os.tmpdir(), `hearth-test-canary-${process.pid}.bin`);
const notRoot = process.getuid?.() !== 0;
const agentMissing = ebpfMissing();

function skipped(name: string): boolean {
  if (!notRoot) return false;
  process.stdout.write(`HEARTH-SKIP ${name}: switching workers to users of their own needs root (uid ${process.getuid?.()})\n`);
  return true;
}

let rt: TestRuntime;
let agent: TestAgent | undefined;
/** Requests to the victim while the hostile functions run: every one must be answered. */
let traffic: { stop(): Promise<{ answered: number; failures: string[] }> };

function keepInvoking(fn: string): typeof traffic {
  let running = true;
  let answered = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const response = await rt.invoke(fn, `echo:${answered}`);
      if (response.status === 200 && response.text === `${answered}`) answered++;
      else failures.push(`${response.status} ${response.text.slice(0, 200)}`);
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { answered, failures };
    },
  };
}

/** What the hostile function's worker answered (its body, or the runtime's error). */
async function attempt(fn: string, request: string): Promise<string> {
  const response = await rt.invoke(fn, request);
  return response.status === 200 ? response.text : `HTTP ${response.status} ${response.text}`;
}

function statusOf(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Every process on the host running as `uid`. */
function processesOf(uid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return uidOf(Number(name)) === uid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const runDir = (): string => path.join(rt.runtime.options.runBase, String(process.pid));

test.before(async () => {
  if (notRoot) return;
  fs.writeFileSync(CANARY_STATE, `${CANARY}\n`.repeat(512));
  rt = await TestRuntime.start({ stemCells: 1 });
  if (agentMissing === undefined) agent = await TestAgent.start(rt);
  await rt.deploy({ name: 'victim', kind: 'go', entry: VICTIM, state: VICTIM_STATE, pool: { min: 1, max: 2 } });
  await rt.deploy({ name: 'hostile', kind: 'go', entry: HOSTILE, state: CANARY_STATE, pool: { min: 2, max: 2 } });
  // A Node function of the same flavour first, so that a stem cell is ready for the hostile one.
  await rt.deploy({ name: 'echo-node', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, pool: { min: 0, max: 1 } });
  await waitFor('a ready stem cell', () => rt.runtime.stemCellsReady() > 0);
  await rt.deploy({ name: 'hostile-node', kind: 'node', entry: `${FIXTURES}/node-hostile.mjs`, state: makeStateFile(4096, 33), pool: { min: 1, max: 1 } });
  await waitFor('two hostile workers', () => rt.runtime.registry.get('hostile')!.listWorkers().filter((worker) => worker.status === 'ready').length === 2);
  traffic = keepInvoking('victim');
});

test.after(async () => {
  if (notRoot) return;
  const { answered, failures } = await traffic.stop();
  process.stdout.write(`  the victim answered ${answered} requests while the hostile functions ran\n`);
  await agent?.stop();
  await rt.stop();
  fs.rmSync(CANARY_STATE, { force: true });
  assert.deepEqual(failures, [], 'every request to the victim was answered');
  assert.ok(answered > 50, `the victim kept serving (${answered} answers)`);
});

test('each function runs as a uid of its own from the range, no groups, no capabilities, no_new_privs, the filter', async () => {
  if (skipped('worker identities')) return;
  const uids = new Set<number>();
  for (const fn of ['hostile', 'hostile-node']) {
    const status = statusOf(await attempt(fn, 'status'));
    const uid = Number(status['Uid']!.split(' ')[0]);
    assert.ok(uid >= DEFAULT_WORKER_IDS.first && uid < DEFAULT_WORKER_IDS.first + DEFAULT_WORKER_IDS.count, `${fn}: uid ${uid} in the range`);
    assert.equal(status['Uid'], `${uid} ${uid} ${uid} ${uid}`, `${fn}: real, effective, saved and file system uid`);
    assert.equal(status['Gid'], `${uid} ${uid} ${uid} ${uid}`, `${fn}: its gid is its own too`);
    assert.equal(status['Groups'], '', `${fn}: no supplementary groups (root's are gone)`);
    assert.equal(status['CapEff'], '0000000000000000', fn);
    assert.equal(status['NoNewPrivs'], '1', fn);
    assert.equal(status['Seccomp'], '2', `${fn}: a seccomp filter`);
    uids.add(uid);
  }
  const [victim] = rt.workerPids('victim');
  uids.add(uidOf(victim!));
  assert.equal(uids.size, 3, 'three functions, three uids');
  // Seeds (and so the stem cells they start) have the filter from their start, before any activation.
  const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const seeds = children.filter((pid) => fs.existsSync(`/proc/${pid}/exe`) && fs.readlinkSync(`/proc/${pid}/exe`).endsWith('hearth-seed'));
  assert.ok(seeds.length > 0, 'ready seeds');
  for (const seed of seeds) {
    // A seed forked a moment ago may not have reached its wait (and its filter) yet; one
    // activated meanwhile is gone from the list of seeds, and from this check.
    const status = await waitFor(`seed ${seed} to wait for an activation`, () => {
      const text = fs.existsSync(`/proc/${seed}/status`) ? fs.readFileSync(`/proc/${seed}/status`, 'utf8') : 'gone';
      return text === 'gone' || !text.includes('hearth-seed') || /^State:\s+S/m.test(text) ? text : undefined;
    });
    if (status === 'gone' || !status.includes('hearth-seed')) continue;
    assert.match(status, /^Seccomp:\s+2$/m, `seed ${seed} is filtered while it waits`);
    assert.match(status, /^Uid:\s+0\s/m, `seed ${seed} is still root, to take a function's ids`);
  }
  const origins = Object.fromEntries(['hostile', 'hostile-node'].map((fn) => [fn, rt.runtime.registry.get(fn)!.listWorkers().map((worker) => worker.origin)]));
  assert.ok(origins['hostile']!.includes('seed'), `the Go workers came from seeds: ${JSON.stringify(origins)}`);
  assert.deepEqual(origins['hostile-node'], ['stem-cell'], 'the Node worker is a specialised stem cell');
});

test('another function\'s state: its fds, memory, and the runtime\'s store are out of reach', async () => {
  if (skipped('reading another function\'s state')) return;
  const [victim] = rt.workerPids('victim');
  const stateFd = rt.runtime.registry.get('victim')!.current.state!.fd;
  const expected: [string, string][] = [
    [`read:/proc/${victim}/fd/4`, 'EACCES'],
    [`read:/proc/${victim}/mem`, 'EACCES'],
    [`read:/proc/${victim}/environ`, 'EACCES'],
    [`list:/proc/${victim}/map_files`, 'EACCES'],
    [`vm-read:${victim}:${(0x400000).toString(16)}`, 'EPERM'],
    [`read:/proc/${process.pid}/fd/${stateFd}`, 'EACCES'],
    [`list:${runDir()}`, 'EACCES'],
    [`list:${path.join(runDir(), 'thp')}`, 'EACCES'],
  ];
  for (const [request, errno] of expected) assert.equal(await attempt('hostile', request), errno, request);
  assert.equal(await attempt('hostile-node', `read:/proc/${victim}/fd/4`), 'EACCES', 'from a stem cell too');
  const source = fs.readFileSync(VICTIM_STATE);
  assert.equal((await rt.invoke('victim', 'state:4096')).text, source.subarray(4096, 4112).toString('hex'), 'the victim\'s state is intact');
});

test('its own state: read-only however it is asked, on every backend', async () => {
  if (skipped('writing to its own state')) return;
  const state = makeStateFile(8192, 32);
  for (const backend of BACKENDS) {
    const own = await TestRuntime.start({ stemCells: 0, stateBackend: backend });
    try {
      await own.deploy({ name: 'writer', kind: 'go', entry: HOSTILE, state, pool: { min: 0, max: 1 } });
      const ask = async (request: string): Promise<string> => (await own.invoke('writer', request)).text;
      assert.equal(await ask('state-mprotect'), 'EACCES', `${backend}: mprotect read-write of a read-only shared mapping`);
      assert.equal(await ask('state-mmap-write'), 'EACCES', `${backend}: a writable shared mapping of a read-only fd`);
      // A memfd opens read-write (mode 0777) but is sealed against writable mappings; the huge= tmpfs file is root's, mode 0600.
      assert.equal(await ask('state-reopen'), backend === 'thp' ? 'open EACCES' : 'mmap EPERM', `${backend}: reopening the fd read-write and mapping it`);
      assert.equal(await ask('state-write'), 'fault', `${backend}: a store into the mapping faults`);
      assert.equal(await ask('state:0'), fs.readFileSync(state).subarray(0, 16).toString('hex'), `${backend}: the state is unchanged`);
    } finally {
      await own.stop();
    }
  }
  const crashed = await rt.invoke('hostile-node', 'state-write');
  assert.equal(crashed.status, 502, crashed.text);
  assert.match(crashed.json<{ error: { code: string; message: string } }>().error.message, /was killed by SIGSEGV while handling invocation/);
  await waitFor('a new Node worker', () => rt.runtime.registry.get('hostile-node')!.listWorkers().some((worker) => worker.status === 'ready'));
});

test('the control API refuses it without the token, and the token is out of its reach', async () => {
  if (skipped('the control API')) return;
  for (const route of ['/v1/functions', '/v1/workers', '/v1/events?since=0']) {
    assert.equal(await attempt('hostile', `get:${rt.url}${route}`), 'status 401', route);
    assert.equal(await attempt('hostile', `get-token:guessed-token-1234 ${rt.url}${route}`), 'status 401', `${route} with a guessed token`);
  }
  assert.equal(await attempt('hostile-node', `get:${rt.url}/v1/functions`), 'status 401');
  assert.equal(await attempt('hostile', `get:${rt.url}/healthz`), 'status 200', 'what is public stays reachable');
  const port = Number(new URL(rt.url).port);
  assert.equal(await attempt('hostile', `read:${tokenFile(rt.runtime.options.runBase, port)}`), 'EACCES', 'the token file');
  assert.equal(await attempt('hostile', `read:${path.join(runDir(), 'token')}`), 'EACCES');
  assert.equal(await attempt('hostile', `read:/proc/${process.pid}/environ`), 'EACCES', 'the runtime\'s environment');
  assert.equal(await attempt('hostile-node', `read:${path.join(runDir(), 'token')}`), 'EACCES');
});

test('siblings and the runtime: no ptrace, no signals, no memory reads', async () => {
  if (skipped('siblings and the runtime')) return;
  const hostile = rt.workerPids('hostile');
  const [victim] = rt.workerPids('victim');
  const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const seed = children.find((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`).endsWith('hearth-seed');
    } catch {
      return false;
    }
  });
  assert.ok(seed !== undefined, `a ready seed among the runtime's children ${children.join(' ')}`);
  // A list of both hostile pids: the worker that takes the request aims at the other.
  const targets: [string, string][] = [['a sibling of the same function', hostile.join(',')], ['another function\'s worker', String(victim)], ['the runtime', String(process.pid)], ['a seed', String(seed)]];
  for (const [who, pids] of targets) {
    assert.equal(await attempt('hostile', `ptrace:${pids}`), 'EPERM', `ptrace ${who}`);
    assert.equal(await attempt('hostile', `kill:${pids}:9`), 'EPERM', `SIGKILL to ${who}`);
    assert.equal(await attempt('hostile', `kill:${pids}:0`), 'EPERM', `signal 0 to ${who}`);
    assert.equal(await attempt('hostile', `pidfd-kill:${pids}`), 'EPERM', `pidfd_send_signal to ${who}`);
    assert.equal(await attempt('hostile', `vm-read:${pids}:400000`), 'EPERM', `process_vm_readv of ${who}`);
    assert.equal(await attempt('hostile', `read-proc:${pids}:mem`), 'EACCES', `/proc/PID/mem of ${who}`);
  }
  for (const pid of [victim!, process.pid, seed]) assert.equal(await attempt('hostile-node', `kill:${pid}:9`), 'EPERM', `SIGKILL to ${pid}, from a stem cell`);
  // The sibling runs as the same user: the SDK made it non-dumpable, so /proc keeps the other out.
  assert.equal(await attempt('hostile', `read-proc:${hostile.join(',')}:environ`), 'EACCES', 'a same-user sibling\'s environment');
  assert.equal(await attempt('hostile', 'kill:-1:9'), 'EPERM', 'every process it could signal');
  assert.equal(await attempt('hostile', 'kill:0:9'), 'EPERM', 'its process group');
  assert.equal(await attempt('hostile', 'kill:self:0'), 'ok', 'itself');
  assert.deepEqual(rt.workerPids('hostile').sort(), [...hostile].sort(), 'both hostile workers are alive: nothing reached the other');
  assert.ok(rt.workerPids('victim').includes(victim!), 'the victim worker is untouched');
});

test('the kernel interfaces the filter refuses; and with seccomp off for a function, they are the kernel\'s to refuse', async () => {
  if (skipped('refused system calls')) return;
  const refused: [string, string][] = [
    ['newuser', 'EPERM'],
    ['unshare', 'EPERM'],
    ['setns', 'EPERM'],
    ['keyctl', 'EPERM'],
    ['add_key', 'EPERM'],
    ['perf_event_open', 'EPERM'],
    ['bpf', 'EPERM'],
    ['userfaultfd', 'EPERM'],
    ['io_uring_setup', 'EPERM'],
    ['mount', 'EPERM'],
    ['init_module', 'EPERM'],
    ['kexec_load', 'EPERM'],
    ['clone3', 'ENOSYS'],
    ['setuid0', 'EPERM'],
  ];
  for (const [call, errno] of refused) assert.equal(await attempt('hostile', call), errno, call);
  await rt.deploy({ name: 'unfiltered', kind: 'go', entry: HOSTILE, isolation: { seccomp: false }, pool: { min: 0, max: 1 } });
  await rt.deploy({ name: 'unfiltered-node', kind: 'node', entry: `${FIXTURES}/node-hostile.mjs`, isolation: { seccomp: false }, pool: { min: 0, max: 1 } });
  try {
    // Seeds and stem cells are filtered from their start: such a function's workers are spawned directly.
    for (const fn of ['unfiltered', 'unfiltered-node']) assert.deepEqual(rt.runtime.registry.get(fn)!.listWorkers().map((worker) => worker.origin), ['spawn'], fn);
    assert.equal(statusOf(await attempt('unfiltered-node', 'status'))['Seccomp'], '0', 'no filter in Node either');
    const status = statusOf(await attempt('unfiltered', 'status'));
    assert.equal(status['Seccomp'], '0', 'no filter');
    assert.equal(status['NoNewPrivs'], '1', 'no_new_privs stays');
    assert.notEqual(status['Uid']!.split(' ')[0], '0', 'and so does its own uid');
    // What an unprivileged process may do, and the filter alone refused.
    for (const call of ['newuser', 'keyctl', 'perf_event_open']) assert.equal(await attempt('unfiltered', call), 'ok', call);
    assert.equal(await attempt('unfiltered', 'io_uring_setup'), 'EFAULT', 'io_uring_setup reaches the kernel, which reads its argument');
    // What it may not, filter or none: it has no capabilities.
    for (const call of ['unshare', 'setuid0']) assert.equal(await attempt('unfiltered', call), 'EPERM', call);
  } finally {
    await rt.control('DELETE', '/v1/functions/unfiltered');
    await rt.control('DELETE', '/v1/functions/unfiltered-node');
  }
});

test('a fork bomb stops at its pids limit; the host keeps serving; nothing of it outlives its function', async () => {
  if (skipped('fork bomb')) return;
  await rt.deploy({ name: 'bomb', kind: 'go', entry: HOSTILE, pool: { min: 0, max: 1 }, limits: { pids: 32 } });
  const [pid] = rt.workerPids('bomb');
  const uid = uidOf(pid!);
  const pidsLine = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((line) => /:pids:/.test(line) || line.startsWith('0::'));
  const group = pidsLine?.includes(':pids:') ? path.join('/sys/fs/cgroup/pids', pidsLine.split(':')[2]!) : path.join('/sys/fs/cgroup', pidsLine!.split(':')[2]!);
  assert.equal(fs.readFileSync(path.join(group, 'pids.max'), 'utf8').trim(), '32');
  const result = await attempt('bomb', 'fork-bomb:1000');
  const match = /^EAGAIN after (\d+)$/.exec(result);
  assert.ok(match !== null, `the bomb ran into its limit: ${result}`);
  const started = Number(match[1]);
  const tasks = Number(fs.readFileSync(path.join(group, 'pids.current'), 'utf8').trim());
  process.stdout.write(`  fork bomb: ${started} children before EAGAIN; ${tasks} tasks in its group\n`);
  assert.ok(tasks <= 32 && started < 32, `${tasks} tasks, ${started} children`);
  assert.ok(processesOf(uid).length <= 32, 'no more processes of its user than its limit');
  assert.equal((await rt.invoke('victim', 'echo:during')).text, 'during', 'another function answers meanwhile');
  await rt.control('DELETE', '/v1/functions/bomb');
  await waitFor('every process of the bomb\'s user to be gone', () => processesOf(uid).length === 0, 5000);
});

test('without a pids cgroup, RLIMIT_NPROC of the function\'s user bounds the bomb', async () => {
  if (skipped('fork bomb without cgroups')) return;
  const bare = await TestRuntime.start({ stemCells: 0, cgroups: false });
  let uid = -1;
  try {
    await bare.deploy({ name: 'bomb', kind: 'go', entry: HOSTILE, pool: { min: 0, max: 1 }, limits: { pids: 24 } });
    const [pid] = bare.workerPids('bomb');
    uid = uidOf(pid!);
    assert.match(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'), /^Max processes\s+24\s+24\s+processes/m, 'pids x pool.max');
    const result = (await bare.invoke('bomb', 'fork-bomb:1000')).text;
    assert.match(result, /^EAGAIN after \d+$/);
    assert.ok(processesOf(uid).length <= 24, `${processesOf(uid).length} processes of its user`);
  } finally {
    await bare.stop();
    // Without a cgroup nothing holds the bomb's children once their worker is gone.
    for (const child of uid > 0 ? processesOf(uid) : []) process.kill(child, 'SIGKILL');
  }
});

test('filling its memory gets it OOM-killed in its own cgroup; the others keep serving', async () => {
  if (skipped('filling memory')) return;
  await rt.deploy({ name: 'hog', kind: 'go', entry: HOSTILE, pool: { min: 0, max: 1 }, limits: { memoryMb: 48 } });
  try {
    const response = await rt.invoke('hog', 'alloc:400');
    assert.equal(response.status, 502, response.text);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'HEARTH_ERR_WORKER_OOM');
    assert.equal((await rt.invoke('victim', 'echo:after')).text, 'after');
  } finally {
    await rt.control('DELETE', '/v1/functions/hog');
  }
});

test('a function whose code its user cannot reach is refused at deploy, naming the directory in the way', async () => {
  if (skipped('unreachable code')) return;
  const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-closed-'));
  try {
    const binary = path.join(closed, 'upper');
    fs.copyFileSync(`${EXAMPLES}/exec-upper/upper`, binary);
    fs.chmodSync(binary, 0o755);
    await assert.rejects(rt.deploy({ name: 'closed', kind: 'exec', entry: binary }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'HEARTH_ERR_ISOLATION');
      assert.match(error.message, new RegExp(`^function closed: its workers run as uid \\d+, gid \\d+, and cannot execute ${binary}: ${closed} \\(mode 0700, owner 0:0\\) does not let it search the directory; make it reachable, or set isolation\\.user$`));
      return true;
    });
    assert.equal(rt.runtime.registry.get('closed'), undefined);
    await rt.deploy({ name: 'closed', kind: 'exec', entry: binary, isolation: { user: 'runtime' }, pool: { min: 0, max: 1 } });
    assert.equal((await rt.invoke('closed', 'x')).text, 'X', 'as the runtime\'s own user it runs');
    assert.equal(rt.logged(/function closed: its workers run as root \(isolation\.user "runtime"\)/).length, 1, 'with a warning');
    await rt.control('DELETE', '/v1/functions/closed');
  } finally {
    fs.rmSync(closed, { recursive: true, force: true });
  }
});

test('workers spawned directly (no seed ready) get the same sandbox', async () => {
  if (skipped('direct spawn')) return;
  const direct = await TestRuntime.start({ stemCells: 0, seeds: 0 });
  try {
    await direct.deploy({ name: 'hostile', kind: 'go', entry: HOSTILE, pool: { min: 0, max: 1 } });
    assert.equal(direct.runtime.registry.get('hostile')!.listWorkers()[0]!.origin, 'spawn');
    const status = statusOf((await direct.invoke('hostile', 'status')).text);
    assert.notEqual(status['Uid']!.split(' ')[0], '0');
    assert.equal(status['Groups'], '');
    assert.equal(status['NoNewPrivs'], '1');
    assert.equal(status['Seccomp'], '2');
    assert.equal((await direct.invoke('hostile', `kill:${process.pid}:0`)).text, 'EPERM');
    assert.equal((await direct.invoke('hostile', `ptrace:${process.pid}`)).text, 'EPERM');
  } finally {
    await direct.stop();
  }
});

test('no log line of the runtime or the agent holds the token or a byte of state', async () => {
  if (skipped('log hygiene')) return;
  if (agentMissing !== undefined) process.stdout.write(`HEARTH-SKIP the agent's logs in the log check: ${agentMissing}\n`);
  // Paths that handle the token and the state: a state upload, refused and accepted control
  // requests, state read back through invocations, a worker killed while it held the state.
  const upload = Buffer.from(`${CANARY}-uploaded\n`.repeat(256));
  const uploaded = await fetch(`${rt.url}/v1/functions/victim/state`, { method: 'PUT', headers: { authorization: `Bearer ${rt.runtime.token}`, 'content-length': String(upload.length) }, body: upload });
  assert.equal(uploaded.status, 200, await uploaded.text());
  assert.equal((await rt.invoke('victim', 'state:0')).text, upload.subarray(0, 16).toString('hex'));
  assert.equal((await rt.control('GET', '/v1/functions', undefined, `${rt.runtime.token}x`)).status, 401);
  assert.equal((await rt.invoke('hostile', 'state:0')).text, Buffer.from(CANARY).subarray(0, 16).toString('hex'));
  assert.equal((await rt.invoke('victim', 'crash')).status, 502);
  await sleep(500);
  const lines = [...rt.logs, ...(agent?.logs ?? [])];
  process.stdout.write(`  ${rt.logs.length} lines from the runtime, ${agent?.logs.length ?? 0} from the agent\n`);
  // The logs do tell of those events, without the secrets.
  assert.ok(rt.logged(/imported state for victim: [0-9a-f]{12}, /).length >= 1, `the upload is logged:\n${rt.logs.join('\n')}`);
  assert.ok(rt.logged(/worker \d+ of victim exited with code 3/).length === 1, 'the crash is logged');
  if (agent !== undefined) assert.ok(agent.logs.some((line) => /worker \d+ of victim exited with code 3/.test(line)), 'the agent saw the crash');
  const secrets: [string, string][] = [
    ['the control token', rt.runtime.token],
    ['the state', CANARY],
    ['the state in hex', Buffer.from(CANARY).toString('hex').slice(0, 32)],
    ['the state in base64', Buffer.from(`${CANARY}\n${CANARY}`).toString('base64').slice(4, 36)],
    ['the other state', fs.readFileSync(VICTIM_STATE).subarray(4096, 4112).toString('hex')],
  ];
  for (const [what, secret] of secrets) {
    const leaked = lines.filter((line) => line.includes(secret));
    assert.deepEqual(leaked, [], `${what} in the logs`);
  }
});

test.run();
