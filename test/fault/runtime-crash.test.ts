// `hearth serve` SIGKILLed in the middle of load, as a real separate process: its workers,
// seeds and stem cells die with it, its state memory goes back to the kernel, no request
// hangs, and a new runtime on the same port and run directory cleans up what the dead one
// left (mounts, cgroups, huge page reservations) and serves at once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { StateBackends } from '../../runtime/state/backend.js';
import { HugePagePool } from '../../runtime/state/hugepages.js';
import { Cgroups } from '../../runtime/supervisor/cgroup.js';
import { createLogger } from '../../shared/log.js';
import { EXAMPLES, FIXTURES, ROOT, TEST_CACHE, freePort, makeStateFile, sleep, waitFor } from '../helpers/harness.js';
import { LoadClient, faultSeed, pick, seededRandom, type Answer } from '../helpers/load.js';

const HEARTH = path.join(ROOT, 'dist/cli/main.js');
const CLIENTS = 8;
const DEADLINE_MS = 5000;

const FUNCTIONS = {
  go: { body: 'echo:go', answer: 'go' },
  node: { body: 'node', answer: 'node' },
  exec: { body: 'exec', answer: 'EXEC' },
};
/** Requests certain to be in a worker's hands when the runtime dies. */
const SLOW = { fn: 'go', body: 'sleep:300', answer: 'slept' } as const;

interface Served {
  child: ChildProcess;
  log(): string;
}

function serve(manifest: string, port: number, runBase: string): Served {
  const child = spawn(process.execPath, [HEARTH, 'serve', '-m', manifest, '--port', String(port), '--run-dir', runBase, '--cache', TEST_CACHE], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  return { child, log: () => log };
}

/** Every process below `pid` right now. */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      let children = '';
      try {
        children = fs.readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8').trim();
      } catch {
        continue;
      }
      for (const child of children.split(/\s+/).filter((text) => text !== '').map(Number)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** Processes anywhere on the host in a memory cgroup of runtime `pid` (its workers, seeds and stem cells). */
function inCgroupsOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return fs.readFileSync(`/proc/${name}/cgroup`, 'utf8').includes(`/hearth-${pid}-`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    return !/ Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function meminfo(key: string): number {
  return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]);
}

const hugePagesInUse = (): number => meminfo('HugePages_Total') - meminfo('HugePages_Free');
const nrHugePages = (): string => fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim();

/** The memory cgroup homes a runtime of this process would create its group in. */
function cgroupsLeftBy(pid: number): string[] {
  const v1 = /:memory:(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  const home = v1 === undefined ? '/sys/fs/cgroup' : path.join('/sys/fs/cgroup/memory', v1);
  return fs.readdirSync(home).filter((name) => name.startsWith(`hearth-${pid}-`));
}

async function allServe(url: string): Promise<boolean> {
  for (const [name, fn] of Object.entries(FUNCTIONS)) {
    try {
      const response = await fetch(`${url}/v1/functions/${name}/invoke`, { method: 'POST', body: fn.body });
      if (response.status !== 200 || (await response.text()) !== fn.answer) return false;
    } catch {
      return false;
    }
  }
  return true;
}

test('SIGKILL mid-load: no orphan, no request hangs, nothing left once a new runtime starts, which serves at once', async () => {
  const seed = faultSeed('fault/runtime-crash');
  const random = seededRandom(seed);
  const runBase = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-runtime-crash-'));
  const manifest = path.join(os.tmpdir(), `hearth-runtime-crash-${process.pid}.json`);
  const state = makeStateFile(3 * 1024 * 1024 + 5, 21);
  fs.writeFileSync(
    manifest,
    JSON.stringify({
      functions: [
        { name: 'go', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state, pool: { min: 2, max: 4 } },
        { name: 'node', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, state, pool: { min: 1, max: 3 }, limits: { concurrency: 2 } },
        { name: 'exec', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 1, max: 3 } },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const nrBefore = nrHugePages();
  const inUseBefore = hugePagesInUse();
  const first = serve(manifest, port, runBase);
  let second: Served | undefined;
  try {
    const pid = first.child.pid!;
    await waitFor('the first runtime to serve every function', () => allServe(url), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${first.log()}`);
    });
    assert.ok(hugePagesInUse() > inUseBefore || /state backends, in order of preference: (thp|tmpfs)/.test(first.log()), 'the state is in memory the runtime allocated');

    // Load, while the runtime's process tree is sampled; then SIGKILL at a random moment.
    const client = new LoadClient(url, CLIENTS);
    const answers: { answer: Answer; fn: keyof typeof FUNCTIONS; expected: string }[] = [];
    const seen = new Set<number>();
    let killed = false;
    const sampler = (async () => {
      while (!killed) {
        for (const child of descendants(pid)) seen.add(child);
        await sleep(20);
      }
    })();
    const names = Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[];
    const load = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (!killed) {
          const slow = random() < 0.1;
          const fn = slow ? SLOW.fn : pick(random, names);
          const { body, answer: expected } = slow ? SLOW : FUNCTIONS[fn];
          const answer = await client.post(`/v1/functions/${fn}/invoke`, body, DEADLINE_MS);
          answers.push({ answer, fn, expected });
        }
      }),
    );
    await sleep(1000 + random() * 1000);
    for (const child of descendants(pid)) seen.add(child);
    first.child.kill('SIGKILL');
    killed = true;
    await Promise.all([load, sampler]);
    client.close();

    const answered = answers.filter((entry) => entry.answer.failure === undefined);
    assert.ok(answered.length > 50, `load ran before the kill (${answered.length} answers)`);
    for (const entry of answered) assert.equal(`${entry.answer.status} ${entry.answer.body.toString()}`, `200 ${entry.expected}`, entry.fn);
    const hung = answers.filter((entry) => entry.answer.failure === 'deadline');
    assert.equal(hung.length, 0, 'no request hangs once the runtime is gone: each in flight fails at once');
    const cut = answers.filter((entry) => entry.answer.failure === 'connection');
    assert.ok(cut.length > 0, 'requests were in flight when the runtime died');
    process.stdout.write(`fault/runtime-crash: ${answered.length} answered, ${cut.length} cut off by the kill (${[...new Set(cut.map((entry) => entry.answer.detail))].join('; ')}); ${seen.size} processes under the runtime\n`);

    // Workers, seeds and stem cells die with it (the kernel's parent-death signal).
    assert.ok(seen.size >= 6, `workers, seeds and a stem cell ran under the runtime: ${[...seen].join(' ')}`);
    await waitFor('every process of the dead runtime to exit', () => [...seen].every((child) => !alive(child)), 5000).catch(() => {
      throw new Error(`orphans of runtime ${pid}: ${[...seen].filter(alive).join(', ')}`);
    });
    assert.deepEqual(inCgroupsOf(pid), [], 'no process anywhere is left in the dead runtime\'s cgroups');
    await waitFor('the state memory to go back to the kernel', () => hugePagesInUse() === inUseBefore, 5000);
    assert.deepEqual(
      fs.readdirSync(runBase).filter((name) => !name.startsWith('port-')),
      [String(pid)],
      'the dead runtime left only its own run directory, for the next one to clean',
    );

    // A new runtime on the same port and run directory cleans up and serves at once.
    const restarted = performance.now();
    second = serve(manifest, port, runBase);
    await waitFor('the new runtime to serve every function', () => allServe(url), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${second!.log()}`);
    });
    const serveMs = performance.now() - restarted;
    process.stdout.write(`fault/runtime-crash: the new runtime served every function ${serveMs.toFixed(0)} ms after it was started\n`);
    assert.ok(serveMs < 10_000, `the new runtime serves at once (${serveMs.toFixed(0)} ms)`);
    assert.match(second.log(), new RegExp(`cleaning up after runtime ${pid}, which exited without shutting down`));
    assert.ok(!fs.existsSync(path.join(runBase, String(pid))), 'the dead runtime\'s run directory is gone');
    assert.deepEqual(cgroupsLeftBy(pid), [], 'the dead runtime\'s cgroups are gone');
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(path.join(runBase, String(pid))));
    assert.deepEqual(mounts, [], 'the dead runtime\'s tmpfs is unmounted');

    // And once the new one stops, the host is as it was before either started.
    const secondPid = second.child.pid!;
    const exited = new Promise((resolve) => second!.child.once('exit', resolve));
    second.child.kill('SIGTERM');
    await exited;
    assert.equal(nrHugePages(), nrBefore, 'nr_hugepages is back where it was');
    assert.equal(hugePagesInUse(), inUseBefore);
    assert.deepEqual(cgroupsLeftBy(secondPid), []);
    assert.deepEqual(fs.readdirSync(runBase), [], 'the run directory is empty');
  } finally {
    // After a failure: undo what a runtime killed here left, as its successor would.
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await sleep(100);
    fs.rmSync(manifest, { force: true });
    for (const name of fs.readdirSync(runBase).filter((entry) => /^\d+$/.test(entry))) {
      HugePagePool.cleanStale(createLogger('warn'))(path.join(runBase, name), Number(name));
      StateBackends.cleanStale(path.join(runBase, name));
      Cgroups.cleanStale(Number(name));
    }
    fs.rmSync(runBase, { recursive: true, force: true });
  }
});

test.run();
