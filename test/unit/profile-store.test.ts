// The profile store (merging, windows, bounds), the GC share, and the runtime's perf-map files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { gcShare, isGcFrame } from '../../agent/profile/gc-share.js';
import type { Frame } from '../../agent/profile/model.js';
import { ProfileStore } from '../../agent/profile/store.js';
import { NodePerfMaps, NODE_PERF_MAP_FLAGS } from '../../runtime/supervisor/perf-maps.js';

const go = (name: string): Frame => ({ name, module: '/srv/fn', kind: 'go' });
const MAIN = [go('runtime.main'), go('main.main')];

test('identical stacks of a worker merge; other workers and phases stay apart', () => {
  const store = new ProfileStore({ cold: 1000, steady: 19 });
  const labels = { function: 'f', phase: 'steady' as const, pid: 10 };
  store.add({ stack: [...MAIN, go('main.a')], count: 2, labels, unixMs: 1000 });
  store.add({ stack: [...MAIN, go('main.a')], count: 3, labels, unixMs: 2000 });
  store.add({ stack: [...MAIN, go('main.a')], count: 1, labels: { ...labels, pid: 11 }, unixMs: 2000 });
  store.add({ stack: [...MAIN, go('main.b')], count: 7, labels: { ...labels, phase: 'cold' }, unixMs: 2000 });
  store.add({ stack: [...MAIN, go('main.a')], count: 9, labels: { ...labels, function: 'g' }, unixMs: 2000 });
  const steady = store.profile('f', 'steady');
  assert.deepEqual(steady.samples.map((sample) => [sample.labels.pid, sample.count]).sort(), [[10, 5], [11, 1]]);
  assert.equal(steady.frequencyHz, 19);
  assert.equal(steady.periodNs, Math.round(1e9 / 19));
  assert.equal(store.profile('f', 'cold').samples[0]!.count, 7);
  assert.equal(store.profile('f', 'cold').periodNs, 1e6);
  assert.deepEqual(store.summary(), [
    { function: 'f', phase: 'cold', samples: 7, workers: 1 },
    { function: 'f', phase: 'steady', samples: 6, workers: 2 },
    { function: 'g', phase: 'steady', samples: 9, workers: 1 },
  ]);
});

test('a window keeps only what was counted after its start', () => {
  const store = new ProfileStore({ cold: 1000, steady: 19 });
  const labels = { function: 'f', phase: 'steady' as const, pid: 1 };
  store.add({ stack: MAIN, count: 4, labels, unixMs: 1000 });
  store.add({ stack: MAIN, count: 6, labels, unixMs: 5000 });
  const windowed = store.profile('f', 'steady', { sinceUnixMs: 2000 });
  assert.equal(windowed.samples[0]!.count, 6);
  assert.equal(windowed.startUnixMs, 2000);
});

test('the store is bounded in age and in count', () => {
  const store = new ProfileStore({ cold: 1000, steady: 19 }, 10_000, 100);
  const labels = { function: 'f', phase: 'cold' as const, pid: 1 };
  for (let i = 0; i < 150; i++) store.add({ stack: [...MAIN, go(`main.f${i}`)], count: 1, labels, unixMs: 1000 });
  assert.equal(store.summary()[0]!.samples, 100, 'the oldest beyond the count limit are gone');
  store.add({ stack: MAIN, count: 1, labels, unixMs: 20_000 });
  assert.equal(store.summary()[0]!.samples, 1, 'older than the retention: gone');
});

test('through growth, wrap-around and both bounds, a profile counts exactly the samples still held', () => {
  // The store against a plain list, over more samples than its columns start with.
  const retentionMs = 12_000;
  const maxSamples = 2_500;
  const store = new ProfileStore({ cold: 1000, steady: 19 }, retentionMs, maxSamples);
  const held: { stack: string; pid: number; count: number; unixMs: number }[] = [];
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0, unixMs = 0; i < 12_000; i++) {
    // Dense stretches, where the count bound binds, and sparse ones, where the age bound does.
    unixMs += Math.floor(i / 3000) % 2 === 0 ? next(2) : next(40);
    const sample = { stack: `main.s${next(30)}`, pid: 100 + next(5), count: 1 + next(3), unixMs };
    store.add({ stack: [...MAIN, go(sample.stack)], count: sample.count, labels: { function: 'f', phase: 'cold', pid: sample.pid }, unixMs });
    held.push(sample);
    while (held.length > maxSamples || held[0]!.unixMs < unixMs - retentionMs) held.shift();
  }
  const expected = new Map<string, number>();
  for (const sample of held) expected.set(`${sample.pid} ${sample.stack}`, (expected.get(`${sample.pid} ${sample.stack}`) ?? 0) + sample.count);
  const actual = new Map(store.profile('f', 'cold').samples.map((sample) => [`${sample.labels.pid} ${sample.stack.at(-1)!.name}`, sample.count]));
  assert.deepEqual([...actual].sort(), [...expected].sort());
  assert.equal(store.summary()[0]!.samples, held.reduce((sum, sample) => sum + sample.count, 0));
});

test('GC share: samples with a collector frame anywhere on the stack', () => {
  const store = new ProfileStore({ cold: 1000, steady: 19 });
  const labels = { function: 'f', phase: 'steady' as const, pid: 1 };
  store.add({ stack: [go('runtime.gcBgMarkWorker'), go('runtime.gcDrain'), go('runtime.scanobject')], count: 2, labels, unixMs: 1 });
  store.add({ stack: [...MAIN, go('runtime.mallocgc'), go('runtime.gcAssistAlloc')], count: 1, labels, unixMs: 1 });
  store.add({ stack: [...MAIN, go('runtime.mallocgc')], count: 5, labels, unixMs: 1 });
  store.add({ stack: [...MAIN, go('main.work')], count: 12, labels, unixMs: 1 });
  assert.deepEqual(gcShare(store.profile('f', 'steady')), { function: 'f', share: 3 / 20, gcSamples: 3, samples: 20 });
  assert.equal(gcShare(store.profile('nothing', 'steady')).share, null);
  assert.ok(isGcFrame({ name: 'v8::internal::Scavenger::ScavengePage(v8::internal::MemoryChunk*)', module: 'libnode.so.115', kind: 'native' }));
  assert.ok(!isGcFrame({ name: 'v8::internal::Builtins::InterpreterEntryTrampoline', module: 'libnode.so.115', kind: 'native' }));
});

test('Node perf maps: flags join the function\'s own NODE_OPTIONS; files go some time after exit', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-perfmap-'));
  const maps = new NodePerfMaps(dir, 30);
  assert.equal(maps.withFlags({ A: '1' })['NODE_OPTIONS'], NODE_PERF_MAP_FLAGS.join(' '));
  assert.equal(maps.withFlags({ NODE_OPTIONS: '--no-warnings' })['NODE_OPTIONS'], `--no-warnings ${NODE_PERF_MAP_FLAGS.join(' ')}`);
  fs.writeFileSync(maps.fileOf(123), '1 2 x\n');
  fs.writeFileSync(maps.fileOf(456), '1 2 y\n');
  maps.exited(123);
  assert.ok(fs.existsSync(maps.fileOf(123)), 'kept a while for the last samples');
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.ok(!fs.existsSync(maps.fileOf(123)), 'removed after the delay');
  maps.exited(456);
  maps.close();
  assert.ok(!fs.existsSync(maps.fileOf(456)), 'removed at once when the runtime stops');
  fs.rmSync(dir, { recursive: true });
});

test.run();
