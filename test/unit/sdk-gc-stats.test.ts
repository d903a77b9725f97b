// The Node SDK's collection accounting for the `stats` control request: the sums it keeps
// from V8's GCProfiler records, on synthetic records and on real collections.
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { test } from 'uvu';
import { account, GcAccounting, type GcTotals, type ProfiledGc } from '../../runtime/sdk/node/gc-stats.js';

test('a scavenge counts its pause and what survived it; a mark-compact its pause', () => {
  const space = (name: string, used: number) => ({ spaceName: name, spaceUsedSize: used });
  const scavenge: ProfiledGc = {
    gcType: 'Scavenge',
    cost: 1500,
    beforeGC: { heapSpaceStatistics: [space('new_space', 1000), space('new_large_object_space', 200), space('old_space', 5000)] },
    afterGC: { heapSpaceStatistics: [space('new_space', 150), space('new_large_object_space', 0), space('old_space', 5100)] },
  };
  const totals: GcTotals = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, scavengedBytes: 0, survivedBytes: 0, promotedBytes: 0 };
  account(totals, scavenge);
  account(totals, { ...scavenge, gcType: 'MarkSweepCompact', cost: 4000 });
  account(totals, { ...scavenge, gcType: 'IncrementalMarking', cost: 500 });
  assert.deepEqual(totals, { scavenges: 1, scavengeMs: 1.5, markCompacts: 1, markCompactMs: 4.5, scavengedBytes: 1200, survivedBytes: 150, promotedBytes: 100 });
});

test('real V8 collections show in the stats reply from its first request on', async () => {
  const accounting = new GcAccounting();
  const first = accounting.stats() as { gc: GcTotals; semiSpaceBytes: number; heapLimitBytes: number };
  assert.equal(first.gc.scavenges, 0, 'nothing is counted before the first request');
  assert.equal(first.heapLimitBytes, v8.getHeapStatistics().heap_size_limit);
  let keep: unknown[] = [];
  for (let i = 0; i < 3e5; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 1000) keep = [];
  }
  const second = accounting.stats() as { gc: GcTotals; cpuMs: number };
  assert.ok(second.gc.scavenges > 0 && second.gc.scavengeMs > 0, JSON.stringify(second.gc));
  assert.ok(second.gc.scavengedBytes > second.gc.survivedBytes, JSON.stringify(second.gc));
  assert.ok(second.cpuMs > 0);
});

test.run();
