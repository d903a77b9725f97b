// The GC policies' inputs from what the runtime reports (GET /v1/functions/NAME/stats: the
// SDKs' `stats` replies beside the runtime's view of each worker) and the agent's
// steady-state profile. Cumulative SDK figures are differenced between two readings of the
// same worker; a worker's reply is input from a process we do not trust, so a field that is
// not a finite, non-negative number is left out rather than believed.

import type { FunctionStats, WorkerStats } from '../../../shared/api.js';
import type { GcShare } from '../../profile/gc-share.js';
import { mib } from './budget.js';
import type { GoInputs } from './go-policy.js';
import type { NodeInputs } from './node-policy.js';
import type { GcPolicyOptions } from './options.js';

type Reply = Record<string, unknown>;

/** The figures of one look that the next one differences against. */
export interface Reading {
  stats: FunctionStats;
  /** The caller's clock when it was taken. */
  at: number;
}

export interface Measured<T> {
  inputs: T;
  /** Extra figures for the advice's `inputs`: how many workers, over how much CPU. */
  figures: Record<string, number>;
}

function field(reply: Reply | null, name: string): number | undefined {
  const value = reply?.[name];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function nested(reply: Reply | null, group: string, name: string): number | undefined {
  const value = reply?.[group];
  return typeof value === 'object' && value !== null ? field(value as Reply, name) : undefined;
}

/** Workers of the current version that answered. */
function answered(stats: FunctionStats): WorkerStats[] {
  return stats.workers.filter((worker) => worker.version === stats.version && worker.sdk !== null);
}

function largest(workers: WorkerStats[], read: (worker: WorkerStats) => number | undefined): number {
  let most = 0;
  for (const worker of workers) most = Math.max(most, read(worker) ?? 0);
  return most;
}

/**
 * Sums, over the workers answering in both readings (same pid, and for Node the same GC
 * accounting period), how much each named cumulative figure grew.
 */
function growth(now: FunctionStats, before: Reading | undefined, names: ((reply: Reply | null) => number | undefined)[], samePeriod: (a: Reply, b: Reply) => boolean = () => true): { sums: number[]; workers: number } {
  const sums = names.map(() => 0);
  let workers = 0;
  if (before === undefined) return { sums, workers };
  const previous = new Map(answered(before.stats).map((worker) => [worker.pid, worker.sdk!]));
  for (const worker of answered(now)) {
    const then = previous.get(worker.pid);
    if (then === undefined || !samePeriod(then, worker.sdk!)) continue;
    const deltas = names.map((read) => (read(worker.sdk) ?? NaN) - (read(then) ?? NaN));
    if (deltas.some((delta) => !(delta >= 0))) continue;
    deltas.forEach((delta, i) => (sums[i]! += delta));
    workers++;
  }
  return { sums, workers };
}

function profileShare(profile: GcShare | undefined, options: GcPolicyOptions): number | null {
  return profile !== undefined && profile.share !== null && profile.samples >= options.minProfileSamples ? profile.share : null;
}

export function goInputs(stats: FunctionStats, before: Reading | undefined, profile: GcShare | undefined, options: GcPolicyOptions): Measured<GoInputs> {
  const workers = answered(stats);
  const first = workers[0]?.sdk ?? null;
  const gogc = Number(first?.['gogc'] ?? stats.gc.gogc ?? 100);
  const limitBytes = field(first, 'memoryLimitBytes');
  // Go reports "no limit" as the largest int64.
  const gcMemoryLimitMb = limitBytes === undefined || limitBytes >= 2 ** 62 ? null : mib(limitBytes);
  const { sums, workers: paired } = growth(stats, before, [(reply) => field(reply, 'gcCpuSeconds'), (reply) => field(reply, 'busyCpuSeconds')]);
  const [gcSeconds, busySeconds] = sums as [number, number];
  const fromProfile = profileShare(profile, options);
  const fromSdk = busySeconds >= options.minCpuSeconds ? gcSeconds / busySeconds : null;
  const inputs: GoInputs = {
    memoryLimitMb: stats.memoryLimitMb,
    recycleMemoryMb: stats.recycleMemoryMb,
    gogc: Number.isInteger(gogc) ? gogc : 100,
    gcMemoryLimitMb,
    liveHeapMb: mib(largest(workers, (worker) => field(worker.sdk, 'heapLiveBytes'))),
    rootsMb: mib(largest(workers, (worker) => field(worker.sdk, 'rootsBytes'))),
    outsideMb: mib(largest(workers, (worker) => worker.privateBytes - (field(worker.sdk, 'mappedBytes') ?? worker.privateBytes))),
    gcShare: fromProfile ?? fromSdk,
    shareSource: fromProfile !== null ? 'profile' : fromSdk !== null ? 'sdk' : 'none',
  };
  const figures: Record<string, number> = { workers: workers.length, workersCompared: paired, busyCpuSeconds: busySeconds };
  if (fromSdk !== null) figures['sdkGcShare'] = fromSdk;
  if (profile !== undefined) figures['profileSamples'] = profile.samples;
  return { inputs, figures };
}

export function nodeInputs(stats: FunctionStats, before: Reading | undefined, profile: GcShare | undefined, options: GcPolicyOptions): Measured<NodeInputs> {
  const workers = answered(stats);
  const gc = (name: string) => (reply: Reply | null) => nested(reply, 'gc', name);
  // Totals restart when a worker's accounting does (gcSinceMs): only the same period is differenced.
  const samePeriod = (a: Reply, b: Reply): boolean => a['gcSinceMs'] === b['gcSinceMs'];
  const { sums, workers: paired } = growth(
    stats,
    before,
    [(reply) => field(reply, 'cpuMs'), gc('scavengeMs'), gc('markCompactMs'), gc('scavengedBytes'), gc('survivedBytes'), gc('promotedBytes')],
    samePeriod,
  );
  const [cpuMs, scavengeMs, markCompactMs, scavenged, survived, promoted] = sums as [number, number, number, number, number, number];
  const measured = cpuMs >= options.minCpuSeconds * 1000;
  const fromProfile = profileShare(profile, options);
  const fromSdk = measured ? (scavengeMs + markCompactMs) / cpuMs : null;
  const semiFlag = stats.gc.maxSemiSpaceMb;
  const oldFlag = workers.map((worker) => field(worker.sdk, 'maxOldSpaceMb')).find((value) => value !== undefined) ?? stats.gc.maxOldSpaceMb ?? null;
  const inputs: NodeInputs = {
    memoryLimitMb: stats.memoryLimitMb,
    recycleMemoryMb: stats.recycleMemoryMb,
    semiSpaceMb: semiFlag ?? Math.max(1, Math.round(mib(largest(workers, (worker) => field(worker.sdk, 'semiSpaceBytes'))))),
    heapLimitMb: mib(largest(workers, (worker) => field(worker.sdk, 'heapLimitBytes'))),
    oldSpaceFlagMb: oldFlag,
    oldUsedMb: mib(largest(workers, (worker) => field(worker.sdk, 'oldSpaceBytes'))),
    outsideMb: mib(largest(workers, (worker) => worker.privateBytes - (field(worker.sdk, 'heapTotalBytes') ?? worker.privateBytes))),
    gcShare: fromProfile ?? fromSdk,
    scavengeShare: measured ? scavengeMs / cpuMs : null,
    shareSource: fromProfile !== null ? 'profile' : fromSdk !== null ? 'sdk' : 'none',
    survival: scavenged > 0 ? (survived + promoted) / scavenged : null,
  };
  const figures: Record<string, number> = { workers: workers.length, workersCompared: paired, cpuSeconds: cpuMs / 1000 };
  if (fromSdk !== null) figures['sdkGcShare'] = fromSdk;
  if (profile !== undefined) figures['profileSamples'] = profile.samples;
  return { inputs, figures };
}
