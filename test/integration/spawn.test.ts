// How workers are started: from a ready seed or directly, each in its own memory cgroup
// with exactly its fds and a clean signal state; exec failures are reported; and when the
// runtime dies, its workers and seeds die with it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { EXAMPLES, FIXTURES, ROOT, TEST_CACHE, TestRuntime, makeStateFile, searchableTempDir, sleep, waitFor } from '../helpers/harness.js';

const GO = `${FIXTURES}/go-misbehave`;

function cgroupOf(pid: number): string {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((row) => row.includes(':memory:'))!;
  return path.join('/sys/fs/cgroup/memory', line.split(':')[2]!);
}

for (const seeds of [2, 0]) {
  const origin = seeds > 0 ? 'seed' : 'spawn';
  test(`${origin}: a cold-started worker is in its own cgroup with its limit, and has only its fds`, async () => {
    const rt = await TestRuntime.start({ stemCells: 0, seeds });
    try {
      if (seeds > 0) await waitFor('ready seeds', () => rt.runtime.seedsReady() === seeds);
      await rt.deploy({ name: 'fn', kind: 'go', entry: GO, state: makeStateFile(4096, 11), pool: { min: 0, max: 2 }, limits: { memoryMb: 96 } });
      const worker = rt.runtime.registry.get('fn')!.listWorkers()[0]!;
      assert.equal(worker.origin, origin);
      const group = cgroupOf(worker.pid);
      assert.ok(rt.runtime.cgroupDir !== undefined && group.startsWith(rt.runtime.cgroupDir + '/'), `${group} is inside the runtime's group`);
      assert.equal(fs.readFileSync(path.join(group, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 * 1024));
      assert.deepEqual(fs.readdirSync(`/proc/${worker.pid}/fd`).map(Number).filter((fd) => fd <= 4).sort(), [0, 1, 2, 3, 4]);
      const linked = fs.readdirSync(`/proc/${worker.pid}/fd`).map((fd) => fs.readlinkSync(`/proc/${worker.pid}/fd/${fd}`));
      assert.ok(!linked.some((target) => target.includes('hearth-seed') || target.includes('.token')), 'nothing of the seed or the runtime leaks in');
      const status = fs.readFileSync(`/proc/${worker.pid}/status`, 'utf8');
      assert.match(status, /SigIgn:\s+0+\n/, 'no ignored signals inherited (Node ignores SIGPIPE)');
      assert.equal(fs.readlinkSync(`/proc/${worker.pid}/exe`), fs.realpathSync(rt.runtime.registry.get('fn')!.current.artifact.file));
    } finally {
      await rt.stop();
    }
  });

  test(`${origin}: a binary that cannot be exec'd fails its cold start with the reason`, async () => {
    const dir = searchableTempDir('hearth-exec-');
    const binary = path.join(dir, 'upper');
    fs.copyFileSync(`${EXAMPLES}/exec-upper/upper`, binary);
    fs.chmodSync(binary, 0o755);
    const rt = await TestRuntime.start({ stemCells: 0, seeds });
    try {
      if (seeds > 0) await waitFor('ready seeds', () => rt.runtime.seedsReady() === seeds);
      await rt.deploy({ name: 'gone', kind: 'exec', entry: binary, pool: { min: 0, max: 1, keepAliveMs: 0 } });
      await waitFor('the validation worker to retire', () => rt.workerPids('gone').length === 0);
      fs.rmSync(binary);
      const response = await rt.invoke('gone', 'x');
      assert.equal(response.status, 503, response.text);
      assert.match(response.text, seeds > 0 ? /could not start [^ ]*upper: execve: ENOENT/ : /execve: No such file or directory/);
      assert.equal(response.headers.get('retry-after') !== null, true);
    } finally {
      await rt.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('seeds are replaced after use, so back-to-back cold starts keep finding one', async () => {
  const rt = await TestRuntime.start({ stemCells: 0, seeds: 2 });
  try {
    await rt.deploy({ name: 'fn', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 0, max: 1, keepAliveMs: 0 } });
    const origins: string[] = [];
    for (let i = 0; i < 6; i++) {
      await waitFor('no workers', () => rt.workerPids('fn').length === 0);
      await waitFor('ready seeds', () => rt.runtime.seedsReady() === 2);
      const response = await rt.invoke('fn', 'x');
      assert.equal(response.headers.get('x-hearth-start'), 'cold');
      const spawned = rt.events.findLast((event) => event.type === 'worker_spawned');
      origins.push(spawned?.type === 'worker_spawned' ? spawned.origin : 'none');
    }
    assert.deepEqual(origins, Array(6).fill('seed'));
  } finally {
    await rt.stop();
  }
});

test('when the runtime is SIGKILLed its workers and seeds die too, and the next start cleans up', async () => {
  const runBase = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-crash-'));
  const manifest = path.join(os.tmpdir(), `hearth-crash-${process.pid}.json`);
  fs.writeFileSync(manifest, JSON.stringify({ functions: [{ name: 'fn', kind: 'go', entry: GO, state: makeStateFile(3 * 1024 * 1024, 12), pool: { min: 2, max: 2 } }] }));
  const hugePagesBefore = fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim();
  const server = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'serve', '-m', manifest, '--port', '0', '--run-dir', runBase, '--cache', TEST_CACHE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitFor('the function to be live', () => log.includes('version 1 is live'), 20_000);
  await sleep(300);
  const children = fs.readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(children.length >= 4, `workers and seeds are children of the runtime: ${children.join(' ')}`);
  server.kill('SIGKILL');
  await waitFor('every child to be gone', () => children.every((pid) => !fs.existsSync(`/proc/${pid}`)), 5000);
  assert.deepEqual(fs.readdirSync(runBase).filter((name) => /^\d+$/.test(name)), [String(server.pid)], 'the dead runtime left its run directory');
  // The next runtime in the same run directory cleans up what the dead one left.
  const next = await TestRuntime.start({ runBase, stemCells: 0 });
  try {
    assert.ok(next.logged(new RegExp(`cleaning up after runtime ${server.pid}`)).length === 1);
    assert.ok(!fs.existsSync(path.join(runBase, String(server.pid))));
    assert.equal(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim(), hugePagesBefore, 'the dead runtime\'s huge pages were given back');
  } finally {
    await next.stop();
    fs.rmSync(manifest, { force: true });
  }
});

test.run();
