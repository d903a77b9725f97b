import type { Frame, Profile, ProfilePhase, ProfileSample } from './model.js';

/** What the store keeps: one stack of one worker, counted over one collection interval. */
export interface TimedSample extends ProfileSample {
  /** When the interval it was counted in ended, in Unix milliseconds. */
  unixMs: number;
}

export interface ProfileWindow {
  /** Only samples counted after this (Unix ms); everything retained when absent. */
  sinceUnixMs?: number;
}

export interface ProfileSummary {
  function: string;
  phase: ProfilePhase;
  samples: number;
  workers: number;
}

/** Slots the columns start with; they double up to the store's count limit. */
const INITIAL_CAPACITY = 1024;

/**
 * Recent samples per function and phase, bounded in age and count. Cold-start samples are
 * kept as long as the limits allow (a profile of many cold starts is the point); steady-state
 * ones are read over a window.
 *
 * Held in typed columns, one slot per sample, with each distinct stack stored once: a busy
 * host adds a hundred samples a second, and an object or three per sample kept for fifteen
 * minutes made the agent's garbage collector mark hundreds of thousands of them over and
 * over (a third of its CPU under 50 cold starts a second).
 */
export class ProfileStore {
  private capacity = 0;
  private unixMs = new Float64Array(0);
  private counts = new Float64Array(0);
  private pids = new Uint32Array(0);
  private stackIds = new Uint32Array(0);
  private seriesIds = new Uint32Array(0);
  /** Ring buffer: the oldest sample is at slot `head`, `size` samples in all. */
  private head = 0;
  private size = 0;
  private readonly stacks = new StackTable();
  private readonly series = new Interned<{ function: string; phase: ProfilePhase }>();

  constructor(
    private readonly rates: Record<ProfilePhase, number>,
    private readonly retentionMs = 15 * 60_000,
    private readonly maxSamples = 200_000,
  ) {}

  add(sample: TimedSample): void {
    this.trim(sample.unixMs);
    if (this.size === this.maxSamples) this.dropOldest();
    if (this.size === this.capacity) this.grow();
    const slot = (this.head + this.size) % this.capacity;
    this.unixMs[slot] = sample.unixMs;
    this.counts[slot] = sample.count;
    this.pids[slot] = sample.labels.pid;
    this.stackIds[slot] = this.stacks.acquire(sample.stack);
    const { function: fn, phase } = sample.labels;
    this.seriesIds[slot] = this.series.id(`${fn}\0${phase}`, () => ({ function: fn, phase }));
    this.size++;
  }

  /** The function's profile in this phase, identical stacks of a worker merged. */
  profile(fn: string, phase: ProfilePhase, window: ProfileWindow = {}): Profile {
    const merged = new Map<string, ProfileSample>();
    const wanted = this.series.find(`${fn}\0${phase}`);
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (let i = 0; wanted !== undefined && i < this.size; i++) {
      const slot = (this.head + i) % this.capacity;
      if (this.seriesIds[slot] !== wanted) continue;
      const unixMs = this.unixMs[slot]!;
      if (window.sinceUnixMs !== undefined && unixMs <= window.sinceUnixMs) continue;
      start = Math.min(start, unixMs);
      end = Math.max(end, unixMs);
      const pid = this.pids[slot]!;
      const stackId = this.stackIds[slot]!;
      const key = `${pid}:${stackId}`;
      const known = merged.get(key);
      if (known === undefined) merged.set(key, { stack: this.stacks.get(stackId), count: this.counts[slot]!, labels: { function: fn, phase, pid } });
      else known.count += this.counts[slot]!;
    }
    const frequencyHz = this.rates[phase];
    const now = Date.now();
    const startUnixMs = window.sinceUnixMs ?? (Number.isFinite(start) ? start : now);
    return {
      function: fn,
      phase,
      frequencyHz,
      periodNs: Math.round(1e9 / frequencyHz),
      startUnixMs,
      durationMs: Math.max(0, (end === 0 ? now : Math.max(end, now)) - startUnixMs),
      samples: [...merged.values()],
    };
  }

  /** Per function and phase: how many samples are held, from how many workers. */
  summary(): ProfileSummary[] {
    const totals = new Map<number, { samples: number; pids: Set<number> }>();
    for (let i = 0; i < this.size; i++) {
      const slot = (this.head + i) % this.capacity;
      const seriesId = this.seriesIds[slot]!;
      let entry = totals.get(seriesId);
      if (entry === undefined) totals.set(seriesId, (entry = { samples: 0, pids: new Set() }));
      entry.samples += this.counts[slot]!;
      entry.pids.add(this.pids[slot]!);
    }
    return [...totals]
      .map(([seriesId, { samples, pids }]) => ({ ...this.series.value(seriesId), samples, workers: pids.size }))
      .sort((a, b) => a.function.localeCompare(b.function) || a.phase.localeCompare(b.phase));
  }

  private trim(nowUnixMs: number): void {
    const oldest = nowUnixMs - this.retentionMs;
    while (this.size > 0 && this.unixMs[this.head]! < oldest) this.dropOldest();
  }

  private dropOldest(): void {
    this.stacks.release(this.stackIds[this.head]!);
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }

  /** Doubles the columns (up to the count limit), oldest sample first in the new ones. */
  private grow(): void {
    const capacity = Math.min(Math.max(INITIAL_CAPACITY, this.capacity * 2), this.maxSamples);
    const move = <T extends Float64Array | Uint32Array>(column: T, fresh: T): T => {
      for (let i = 0; i < this.size; i++) fresh[i] = column[(this.head + i) % this.capacity]!;
      return fresh;
    };
    this.unixMs = move(this.unixMs, new Float64Array(capacity));
    this.counts = move(this.counts, new Float64Array(capacity));
    this.pids = move(this.pids, new Uint32Array(capacity));
    this.stackIds = move(this.stackIds, new Uint32Array(capacity));
    this.seriesIds = move(this.seriesIds, new Uint32Array(capacity));
    this.head = 0;
    this.capacity = capacity;
  }
}

/** Values under small integer ids, by a string key; kept for the store's life (functions and phases are few). */
class Interned<T> {
  private readonly ids = new Map<string, number>();
  private readonly values: T[] = [];

  id(key: string, make: () => T): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.values.push(make()) - 1;
      this.ids.set(key, id);
    }
    return id;
  }

  find(key: string): number | undefined {
    return this.ids.get(key);
  }

  value(id: number): T {
    return this.values[id]!;
  }
}

/** Distinct stacks under ids, each counted by the samples that hold it and freed with the last. */
class StackTable {
  private readonly ids = new Map<string, number>();
  private readonly stacks: (Frame[] | undefined)[] = [];
  private readonly keys: string[] = [];
  private readonly references: number[] = [];
  private readonly free: number[] = [];

  acquire(stack: Frame[]): number {
    const key = stackKey(stack);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.free.pop() ?? this.stacks.length;
      this.stacks[id] = stack;
      this.keys[id] = key;
      this.references[id] = 0;
      this.ids.set(key, id);
    }
    this.references[id]!++;
    return id;
  }

  get(id: number): Frame[] {
    return this.stacks[id]!;
  }

  release(id: number): void {
    if (--this.references[id]! > 0) return;
    this.ids.delete(this.keys[id]!);
    this.stacks[id] = undefined;
    this.keys[id] = '';
    this.free.push(id);
  }
}

function stackKey(stack: readonly Frame[]): string {
  return stack.map((frame) => `${frame.name}\u0001${frame.module}`).join('\u0002');
}
