import { createRequire } from 'node:module';
import type v8 from 'node:v8';

/**
 * What the GC tuner reads from a Node worker (the `stats` control request): V8's heap and,
 * from the first request on, cumulative collector figures, so that a reader takes the
 * differences between two replies. Collections are counted with V8's GCProfiler, which
 * records every collection with its pause and the heap spaces before and after it; it is
 * read and emptied every second so that its record stays small whatever the collection
 * rate. Nothing runs before the first request: a function nobody tunes pays nothing, not
 * even the ~0.4 ms it takes a starting worker to load node:v8.
 */
export interface GcTotals {
  /** Scavenges (young-generation collections) and the main thread's pause in them, ms. */
  scavenges: number;
  scavengeMs: number;
  /** Mark-compacts, their incremental steps included, and the pause in them, ms. */
  markCompacts: number;
  markCompactMs: number;
  /** Bytes in the young generation when scavenged; of those, still in it after, and moved to the old generation. */
  scavengedBytes: number;
  survivedBytes: number;
  promotedBytes: number;
}

/** One heap space in a GCProfiler record (camelCase there, unlike v8.getHeapSpaceStatistics()). */
interface ProfiledSpace {
  spaceName: string;
  spaceUsedSize: number;
}

/** One collection as GCProfiler records it; `cost` is the pause in microseconds. */
export interface ProfiledGc {
  gcType: string;
  cost: number;
  beforeGC: { heapSpaceStatistics: ProfiledSpace[] };
  afterGC: { heapSpaceStatistics: ProfiledSpace[] };
}

const DRAIN_EVERY_MS = 1000;
const YOUNG = ['new_space', 'new_large_object_space'];
const OLD = ['old_space', 'large_object_space', 'code_space', 'code_large_object_space'];

function spaceBytes(spaces: ProfiledSpace[], names: string[]): number {
  let bytes = 0;
  for (const space of spaces) if (names.includes(space.spaceName)) bytes += space.spaceUsedSize;
  return bytes;
}

/** Adds one collection's figures to `totals` (exported for its unit test). */
export function account(totals: GcTotals, record: ProfiledGc): void {
  if (record.gcType === 'Scavenge' || record.gcType === 'MinorMarkSweep' || record.gcType === 'MinorMarkCompact') {
    const before = record.beforeGC.heapSpaceStatistics;
    const after = record.afterGC.heapSpaceStatistics;
    totals.scavenges++;
    totals.scavengeMs += record.cost / 1000;
    totals.scavengedBytes += spaceBytes(before, YOUNG);
    totals.survivedBytes += spaceBytes(after, YOUNG);
    totals.promotedBytes += Math.max(0, spaceBytes(after, OLD) - spaceBytes(before, OLD));
  } else if (record.gcType === 'MarkSweepCompact' || record.gcType === 'IncrementalMarking') {
    if (record.gcType === 'MarkSweepCompact') totals.markCompacts++;
    totals.markCompactMs += record.cost / 1000;
  }
}

export class GcAccounting {
  private v8: typeof v8 | undefined;
  private profiler: v8.GCProfiler | undefined;
  private readonly totals: GcTotals = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, scavengedBytes: 0, survivedBytes: 0, promotedBytes: 0 };
  private startedAt = 0;

  /** The reply to a `stats` request. */
  stats(): Record<string, unknown> {
    const v8 = (this.v8 ??= createRequire(import.meta.url)('node:v8') as typeof import('node:v8'));
    if (this.profiler === undefined) this.start(v8);
    else this.drain();
    const heap = v8.getHeapStatistics();
    const spaces = v8.getHeapSpaceStatistics();
    const newSpace = spaces.find((space) => space.space_name === 'new_space');
    let oldBytes = 0;
    for (const space of spaces) if (OLD.includes(space.space_name)) oldBytes += space.space_used_size;
    const cpu = process.cpuUsage();
    return {
      ok: true,
      heapBytes: heap.used_heap_size,
      heapTotalBytes: heap.total_heap_size,
      heapLimitBytes: heap.heap_size_limit,
      externalBytes: heap.external_memory,
      rssBytes: process.memoryUsage.rss(),
      // The new space holds both semi-spaces.
      semiSpaceBytes: (newSpace?.space_size ?? 0) / 2,
      oldSpaceBytes: oldBytes,
      maxSemiSpaceMb: flagMb('--max-semi-space-size'),
      maxOldSpaceMb: flagMb('--max-old-space-size'),
      cpuMs: (cpu.user + cpu.system) / 1000,
      gcSinceMs: this.startedAt,
      gc: { ...this.totals },
      node: process.versions.node,
    };
  }

  private start(v8: typeof import('node:v8')): void {
    this.startedAt = Math.round(performance.timeOrigin + performance.now());
    this.profiler = new v8.GCProfiler();
    this.profiler.start();
    setInterval(() => this.drain(), DRAIN_EVERY_MS).unref();
  }

  private drain(): void {
    const result = this.profiler!.stop();
    this.profiler!.start();
    for (const record of (result?.statistics ?? []) as unknown as ProfiledGc[]) account(this.totals, record);
  }
}

/** A V8 heap flag this worker was started with, in MiB, or null. */
function flagMb(name: string): number | null {
  for (const arg of process.execArgv) {
    const [flag, value] = arg.split('=');
    if ((flag === name || flag === name.replaceAll('-', '_')) && value !== undefined && Number.isFinite(Number(value))) return Number(value);
  }
  return null;
}
