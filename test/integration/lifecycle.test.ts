// Pool life: min kept warm, idle workers retired after keepAliveMs, Node stem cells, and a
// clean shutdown that finishes in-flight work and leaves nothing behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'uvu';
import { FIXTURES, TestRuntime, makeStateFile, sleep, waitFor } from '../helpers/harness.js';
import { processNice } from '../helpers/nice.js';
import { statField } from '../../shared/proc-stat.js';

const GO = `${FIXTURES}/go-misbehave`;
const NODE = `${FIXTURES}/node-echo.mjs`;

test('pool.min workers are kept warm; extra idle workers retire after keepAliveMs', async () => {
  const rt = await TestRuntime.start({ stemCells: 0 });
  try {
    await rt.deploy({ name: 'fn', kind: 'go', entry: GO, pool: { min: 1, max: 3, keepAliveMs: 300 } });
    await Promise.all(Array.from({ length: 3 }, () => rt.invoke('fn', 'sleep:200')));
    assert.equal(rt.workerPids('fn').length, 3, 'three workers under load');
    await waitFor('retirement down to pool.min', () => rt.workerPids('fn').length === 1, 3000);
    await sleep(600);
    assert.equal(rt.workerPids('fn').length, 1, 'pool.min stays');
    assert.ok(rt.logged(/shutting down \(idle for \d+ ms \(keepAliveMs 300\)\)/).length >= 2);
  } finally {
    await rt.stop();
  }
});

test('pool.spare: an idle worker beyond those running, replaced as soon as a request takes it; extra idle workers still retire', async () => {
  const rt = await TestRuntime.start({ stemCells: 0 });
  try {
    await rt.deploy({ name: 'fn', kind: 'go', entry: GO, pool: { min: 0, max: 4, keepAliveMs: 300, spare: 1 } });
    const pool = rt.runtime.registry.get('fn')!;
    await waitFor('the spare', () => pool.snapshot().idle === 1, 3000);
    const first = rt.invoke('fn', 'sleep:400');
    await waitFor('its replacement, started while the first request runs', () => pool.snapshot().idle === 1 && pool.snapshot().busy === 1, 3000);
    const second = rt.invoke('fn', 'sleep:200');
    await waitFor('a third worker, the spare started for the second request', () => pool.snapshot().busy === 2 && pool.snapshot().idle + pool.snapshot().starting === 1, 3000);
    const starts = (await Promise.all([first, second])).map((response) => response.headers.get('x-hearth-start'));
    assert.deepEqual(starts, ['warm', 'warm'], 'each request found an idle worker');
    await waitFor('retirement down to the spare', () => rt.workerPids('fn').length === 1, 3000);
    await sleep(600);
    assert.deepEqual([rt.workerPids('fn').length, pool.snapshot().idle], [1, 1], 'the spare stays, idle');
  } finally {
    await rt.stop();
  }
});

test('Node cold starts come from a stem cell, specialised with the function\'s state and env', async () => {
  const rt = await TestRuntime.start({ stemCells: 1 });
  try {
    const state = makeStateFile(65536, 5);
    await rt.deploy({ name: 'node-a', kind: 'node', entry: NODE, state, env: { WHO: 'a' }, pool: { min: 0, max: 4 } });
    await rt.deploy({ name: 'node-b', kind: 'node', entry: NODE, env: { WHO: 'b' }, pool: { min: 0, max: 4 } });
    await waitFor('a ready stem cell', () => stemReady(rt));
    const busy = rt.invoke('node-a', 'sleep:300');
    await sleep(50);
    const cold = await rt.invoke('node-a', 'state:100:32');
    assert.equal(cold.headers.get('x-hearth-start'), 'cold');
    assert.deepEqual(cold.body, fs.readFileSync(state).subarray(100, 132), 'the stem cell mapped the state it was sent');
    const worker = rt.runtime.registry.get('node-a')!.listWorkers().find((candidate) => String(candidate.pid) === cold.headers.get('x-hearth-worker'))!;
    assert.equal(worker.origin, 'stem-cell', 'the cold start was served by a specialised stem cell');
    const env = JSON.parse((await rt.invoke('node-a', 'env')).text) as Record<string, string>;
    assert.equal(env['HEARTH_FUNCTION'], 'node-a');
    await busy;
    // The stem cell now belongs to node-a for good; node-b gets a different process.
    await waitFor('a new stem cell', () => stemReady(rt));
    const b = await rt.invoke('node-b', 'pid');
    assert.ok(!rt.workerPids('node-a').includes(Number(b.text)), 'a stem cell never serves two functions');
    const metrics = await rt.runtime.metrics.render();
    assert.match(metrics.body, /hearth_cold_starts_total\{function="node-a",path="stem_cell"\} [1-9]/);
  } finally {
    await rt.stop();
  }
});

test('a stem cell that became a pre-warmed worker is replaced before that worker serves anything', async () => {
  const rt = await TestRuntime.start({ stemCells: 1 });
  try {
    await rt.deploy({ name: 'node-a', kind: 'node', entry: NODE, pool: { min: 0, max: 4, keepAliveMs: 0 } });
    await waitFor('the deploy\'s worker to retire', () => rt.workerPids('node-a').length === 0);
    await waitFor('a ready stem cell', () => stemReady(rt));
    // Raising min pre-warms a worker: the stem cell goes to it, with no request to answer.
    rt.runtime.registry.configurePool('node-a', { min: 1, max: 4, keepAliveMs: 600_000, spare: 0, maxQueued: 256 });
    await waitFor('the pre-warmed worker', () => rt.runtime.registry.get('node-a')!.snapshot().idle === 1);
    assert.equal(rt.runtime.registry.get('node-a')!.listWorkers()[0]!.origin, 'stem-cell');
    await waitFor('a replacement stem cell', () => stemReady(rt), 5000);
  } finally {
    await rt.stop();
  }
});

test('a stem cell boots at nice 19 and is back at nice 0, every thread, before it serves', async () => {
  const rt = await TestRuntime.start({ stemCells: 1 });
  try {
    await rt.deploy({ name: 'node-a', kind: 'node', entry: NODE, pool: { min: 0, max: 4, keepAliveMs: 0 } });
    await waitFor('a ready stem cell', () => stemReady(rt));
    const first = stemCellPids(rt);
    assert.equal(first.length, 1, `one stem cell: ${first.join(', ')}`);
    assert.deepEqual(new Set(processNice(first[0]!).threads), new Set([0]), 'a ready stem cell runs at nice 0');
    const cold = await rt.invoke('node-a', 'pid');
    assert.equal(Number(cold.text), first[0], 'the stem cell served the cold start');
    assert.deepEqual(new Set(processNice(first[0]!).threads), new Set([0]), 'the specialised cell runs at nice 0');
    // Its replacement boots a little after that answer; catch it while it boots.
    const booting = await waitFor('the replacement stem cell, booting', () => stemCellPids(rt).find((pid) => pid !== first[0]), 5000);
    const duringBoot = processNice(booting);
    assert.equal(duringBoot.threads[0], 19, `the booting stem cell's main thread is at nice 19 (threads: ${duringBoot.threads.join(', ')})`);
    if (duringBoot.autogroup !== undefined) assert.equal(duringBoot.autogroup, 19, 'and so is its session');
    await waitFor('the replacement ready', () => stemReady(rt), 10_000);
    const ready = processNice(booting);
    assert.deepEqual(new Set(ready.threads), new Set([0]), `every thread back at nice 0 once ready (${ready.threads.join(', ')})`);
    if (ready.autogroup !== undefined) assert.equal(ready.autogroup, 0);
  } finally {
    await rt.stop();
  }
});

/** This runtime's stem cells, specialised or not, that are not yet workers of a function: its Node children started with HEARTH_ROLE=stem. */
function stemCellPids(rt: TestRuntime): number[] {
  const workers = new Set(rt.workerPids('node-a'));
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        const parent = Number(statField(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), 4));
        return parent === process.pid && !workers.has(pid) && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('HEARTH_ROLE=stem');
      } catch (error) {
        if (['ENOENT', 'ESRCH'].includes((error as NodeJS.ErrnoException).code ?? '')) return false; // gone meanwhile
        throw error;
      }
    });
}

function stemReady(rt: TestRuntime): boolean {
  return rt.runtime.stemCellsReady() > 0;
}

test('shutdown lets in-flight requests finish, refuses new ones, and leaves nothing behind', async () => {
  const rt = await TestRuntime.start({ stemCells: 1 });
  await rt.deploy({ name: 'fn', kind: 'go', entry: GO, state: makeStateFile(1024 * 1024, 6), pool: { min: 2, max: 2 } });
  await rt.deploy({ name: 'node-fn', kind: 'node', entry: NODE, pool: { min: 1, max: 1 } });
  const inflight = rt.invoke('fn', 'sleep:400');
  await sleep(100);
  const stopping = rt.stop();
  const answered = await inflight;
  assert.equal(answered.status, 200, 'the in-flight request finished');
  assert.equal(answered.text, 'slept');
  await stopping;
  assert.ok(rt.spawnedPids().length >= 3);
});

test.run();
