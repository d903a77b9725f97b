// State: imported once, identical to the source on every backend, shared by all workers
// (one physical copy, proven with PSS and the huge page pool), read-only, and swapped
// atomically under load.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as native from '../../native/index.js';
import { ensureLookupState } from '../../examples/state.js';
import { BACKENDS } from '../../runtime/state/backend.js';
import { EXAMPLES, FIXTURES, TEST_CACHE, TestRuntime, makeStateFile, smapsTotals, waitFor } from '../helpers/harness.js';

const MIB = 1024 * 1024;

for (const backend of BACKENDS) {
  test(`${backend}: every kind of worker reads state identical to the source file`, async () => {
    const file = makeStateFile(3 * MIB + 123, 7);
    const source = fs.readFileSync(file);
    const rt = await TestRuntime.start({ stateBackend: backend, stemCells: 0 });
    try {
      await rt.deploy({ name: 'go-state', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: file });
      await rt.deploy({ name: 'node-state', kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, state: file });
      await rt.deploy({ name: 'exec-state', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, state: file });
      const info = rt.runtime.registry.describe(rt.runtime.registry.get('go-state')!);
      assert.equal(info.state?.backend, backend);
      assert.equal(info.state?.bytes, source.length);
      for (const offset of [0, 4096, 2 * MIB - 8, source.length - 16]) {
        const go = await rt.invoke('go-state', `state:${offset}`);
        assert.equal(go.text, source.subarray(offset, offset + 16).toString('hex'), `go at ${offset}`);
        const node = await rt.invoke('node-state', `state:${offset}:16`);
        assert.deepEqual(node.body, source.subarray(offset, offset + 16), `node at ${offset}`);
        const exec = await rt.invoke('exec-state', `state:${offset}:16`);
        assert.deepEqual(exec.body, source.subarray(offset, offset + 16), `exec at ${offset}`);
      }
      // One import serves all three functions: same content, one blob.
      assert.equal(rt.logged(/imported state for/).length, 1, 'the same file is imported once');
    } finally {
      await rt.stop();
    }
  });
}

test('workers get a read-only fd to sealed memory, and no way to reach other functions\' state', async () => {
  const rt = await TestRuntime.start({ stateBackend: 'hugetlb', stemCells: 0 });
  try {
    await rt.deploy({ name: 'first', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: makeStateFile(MIB, 1) });
    await rt.deploy({ name: 'second', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: makeStateFile(MIB, 2) });
    const [pid] = rt.workerPids('first');
    const flags = Number(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/fdinfo/4`, 'utf8'))![1]);
    assert.equal(flags & 3, fs.constants.O_RDONLY, 'the state fd is open read-only');
    const asWorker = fs.openSync(`/proc/${pid}/fd/4`, 'r');
    assert.throws(() => native.mmap(asWorker, MIB, { writable: true, populate: false }), (error: NodeJS.ErrnoException) => error.code === 'EACCES' || error.code === 'EPERM');
    fs.closeSync(asWorker);
    const readWrite = fs.openSync(`/proc/${pid}/fd/4`, 'r+');
    assert.throws(() => native.mmap(readWrite, MIB, { writable: true, populate: false }), (error: NodeJS.ErrnoException) => error.code === 'EPERM', 'even a writable open cannot map it writable: it is sealed');
    fs.closeSync(readWrite);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    assert.ok(fds.some((target) => target.includes('hearth-state:first')));
    assert.ok(!fds.some((target) => target.includes('hearth-state:second')), 'no fd of the other function\'s state');
    const env = (await rt.invoke('first', 'env')).text;
    assert.ok(!/\/(tmp|dev\/shm|run)\//.test(env), 'no state path in the environment');
  } finally {
    await rt.stop();
  }
});

/** Scans from concurrent requests until every worker has scanned (dispatch picks the worker). */
async function scanOnEachWorker(rt: TestRuntime, fn: string, workers: number): Promise<number[]> {
  const scanned = new Set<number>();
  for (let round = 0; round < 50 && scanned.size < workers; round++) {
    const responses = await Promise.all(Array.from({ length: workers }, () => rt.invoke(fn, '{"op":"scan"}')));
    for (const response of responses) {
      assert.equal(response.status, 200, response.text);
      scanned.add(Number(response.headers.get('x-hearth-worker')));
    }
  }
  return [...scanned];
}

test('tmpfs: 4 workers that each read all 64 MiB of state share one copy (sum of PSS = state size)', async () => {
  const file = await ensureLookupState(path.join(TEST_CACHE, 'lookup-64m.bin'), 64 * MIB);
  const rt = await TestRuntime.start({ stateBackend: 'tmpfs', stemCells: 0 });
  try {
    await rt.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: file, pool: { min: 4, max: 4 }, limits: { concurrency: 1 } });
    await waitFor('4 ready workers', () => rt.runtime.registry.get('lookup')!.snapshot().idle === 4);
    const pids = await scanOnEachWorker(rt, 'lookup', 4);
    assert.equal(pids.length, 4, 'four workers scanned');
    const perWorker = pids.map((pid) => smapsTotals(pid, /hearth-state/));
    const rss = perWorker.reduce((sum, totals) => sum + totals.rss, 0);
    const pss = perWorker.reduce((sum, totals) => sum + totals.pss, 0);
    assert.ok(rss >= 4 * 64 * MIB * 0.99, `each worker has the whole state resident (RSS sum ${rss})`);
    assert.ok(Math.abs(pss - 64 * MIB) < 64 * MIB * 0.02, `PSS sum ${pss} is one copy of ${64 * MIB}`);
  } finally {
    await rt.stop();
  }
});

test('hugetlb: 4 workers map one set of huge pages; the pool grows by the state alone', async () => {
  const file = await ensureLookupState(path.join(TEST_CACHE, 'lookup-64m.bin'), 64 * MIB);
  const inUse = (): number => {
    const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
    const read = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(meminfo)![1]);
    return read('HugePages_Total') - read('HugePages_Free');
  };
  const before = inUse();
  const rt = await TestRuntime.start({ stateBackend: 'hugetlb', stemCells: 0 });
  try {
    await rt.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: file, pool: { min: 4, max: 4 } });
    await waitFor('4 ready workers', () => rt.runtime.registry.get('lookup')!.snapshot().idle === 4);
    const pids = await scanOnEachWorker(rt, 'lookup', 4);
    assert.equal(pids.length, 4);
    for (const pid of pids) {
      const totals = smapsTotals(pid, /hearth-state/);
      assert.equal(totals.sharedHugetlb, 64 * MIB, `worker ${pid} maps all 64 MiB as shared huge pages`);
      assert.equal(totals.privateHugetlb, 0);
    }
    assert.equal(inUse() - before, 32, 'huge pages in use grew by 32 (64 MiB), not 4 x 32');
  } finally {
    await rt.stop();
  }
});

test('a new state version swaps in under load with no failed request; the old one is freed', async () => {
  const small = await ensureLookupState(path.join(TEST_CACHE, 'lookup-8m.bin'), 8 * MIB);
  const large = await ensureLookupState(path.join(TEST_CACHE, 'lookup-16m.bin'), 16 * MIB);
  const rt = await TestRuntime.start({ stemCells: 0 });
  try {
    await rt.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: small, pool: { min: 2, max: 4 } });
    const oldId = rt.runtime.registry.get('lookup')!.current.state!.id;
    const beyondSmall = String((8 * MIB) / 64 + 10);
    assert.equal((await rt.invoke('lookup', beyondSmall)).status, 500, 'the small table does not have that key');
    let running = true;
    const statuses: number[] = [];
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        const response = await rt.invoke('lookup', '1234');
        statuses.push(response.status);
        if (response.status !== 200) throw new Error(`request failed during the swap: ${response.status} ${response.text}`);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Upload the larger table as the new state version through the control API.
    const response = await fetch(`${rt.url}/v1/functions/lookup/state`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${rt.runtime.token}`, 'content-length': String(16 * MIB) },
      body: fs.readFileSync(large),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const info = (await response.json()) as { version: number; state: { id: string; bytes: number } };
    assert.equal(info.state.bytes, 16 * MIB);
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(clients);
    assert.ok(statuses.length > 50, `${statuses.length} requests ran across the swap`);
    assert.equal((await rt.invoke('lookup', beyondSmall)).status, 200, 'new workers see the new state');
    await waitFor('the old state to be freed', () => rt.logged(new RegExp(`freed state ${oldId.slice(0, 12)}`)).length === 1);
    const versions = new Set(rt.runtime.registry.get('lookup')!.listWorkers().map((worker) => worker.version));
    assert.deepEqual([...versions], [info.version], 'only workers of the new version remain');
  } finally {
    await rt.stop();
  }
});

test('redeploying with a different state file swaps it; a missing state file is refused with its path', async () => {
  const rt = await TestRuntime.start({ stemCells: 0 });
  try {
    const first = makeStateFile(MIB, 3);
    const second = makeStateFile(MIB, 4);
    await rt.deploy({ name: 'fn', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: first });
    assert.equal((await rt.invoke('fn', 'state:0')).text, fs.readFileSync(first).subarray(0, 16).toString('hex'));
    await rt.deploy({ name: 'fn', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: second });
    assert.equal((await rt.invoke('fn', 'state:0')).text, fs.readFileSync(second).subarray(0, 16).toString('hex'));
    await assert.rejects(
      rt.deploy({ name: 'fn', kind: 'go', entry: `${FIXTURES}/go-misbehave`, state: '/nonexistent/state.bin' }),
      (error: Error & { code?: string }) => error.code === 'HEARTH_ERR_STATE_READ' && error.message.includes('/nonexistent/state.bin'),
    );
    assert.equal((await rt.invoke('fn', 'state:0')).text, fs.readFileSync(second).subarray(0, 16).toString('hex'), 'the previous version keeps serving');
  } finally {
    await rt.stop();
  }
});

test.run();
