import { PHASES, type Phase } from '../../shared/phases.js';
import type { ColdStartRecord, ExitRecord } from './tracker.js';

export interface PhaseStats {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface FunctionStats {
  function: string;
  coldStarts: number;
  total: PhaseStats;
  phases: Partial<Record<Phase, PhaseStats>>;
}

/** Recent cold starts and abnormal exits, bounded per function, with percentiles on demand. */
export class RecordStore {
  private readonly records = new Map<string, ColdStartRecord[]>();
  private readonly exits: ExitRecord[] = [];
  private readonly listeners = new Set<(record: ColdStartRecord) => void>();
  private counted = 0;

  constructor(private readonly perFunction = 2000, private readonly maxExits = 1000) {}

  add(record: ColdStartRecord): void {
    let list = this.records.get(record.function);
    if (list === undefined) this.records.set(record.function, (list = []));
    list.push(record);
    if (list.length > this.perFunction) list.splice(0, list.length - this.perFunction);
    this.counted++;
    for (const listener of this.listeners) listener(record);
  }

  addExit(record: ExitRecord): void {
    this.exits.push(record);
    if (this.exits.length > this.maxExits) this.exits.shift();
  }

  get total(): number {
    return this.counted;
  }

  /** Newest first, optionally of one function and after a spawn timestamp. */
  recent(options: { fn?: string; limit?: number; sinceTs?: number } = {}): ColdStartRecord[] {
    const lists = options.fn === undefined ? [...this.records.values()] : [this.records.get(options.fn) ?? []];
    return lists
      .flat()
      .filter((record) => options.sinceTs === undefined || record.spawnTs > options.sinceTs)
      .sort((a, b) => b.spawnTs - a.spawnTs)
      .slice(0, options.limit ?? 100);
  }

  recentExits(fn?: string): ExitRecord[] {
    return this.exits.filter((record) => fn === undefined || record.function === fn).reverse();
  }

  functions(): string[] {
    return [...this.records.keys()].sort();
  }

  stats(fn: string): FunctionStats {
    const list = (this.records.get(fn) ?? []).filter((record) => record.outcome === 'served' || record.outcome === 'ready');
    const phases: Partial<Record<Phase, PhaseStats>> = {};
    for (const phase of PHASES) {
      const durations = list.flatMap((record) => record.phases.filter((timing) => timing.phase === phase).map((timing) => timing.durationNs / 1e6));
      if (durations.length > 0) phases[phase] = summarise(durations);
    }
    return { function: fn, coldStarts: list.length, total: summarise(list.map((record) => record.totalNs / 1e6)), phases };
  }

  subscribe(listener: (record: ColdStartRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function summarise(values: number[]): PhaseStats {
  if (values.length === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!);
  return { count: sorted.length, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: round(sorted[sorted.length - 1]!) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
