// Every decision the live tuner makes, pool or GC, with its time, function, the settings
// before and after, its reason and inputs, and what became of it: applied, only recommended
// (dry run), rolled back after a regression, or failed (with the runtime's error). Kept in
// memory, bounded (the oldest go first), served by GET /v1/tuner/decisions and followed by
// `hearth tuner log --follow`.

export type DecisionOutcome = 'applied' | 'recommended' | 'rolled-back' | 'failed';
export type DecisionKind = 'pool' | 'gc';

/** Settings by name: the pool's `min`, `max`, `keepAliveMs`, `spare`, a pre-warm's `prewarmWorkers`, `prewarmInMs`, `prewarmForMs`, or the manifest's `gc` fields. */
export type SettingValues = Record<string, number>;

export interface TunerDecision {
  /** Position in the log, from 1. */
  seq: number;
  /** Wall-clock time, for people. */
  unixMs: number;
  /** The policy clock, CLOCK_MONOTONIC ms. */
  atMs: number;
  function: string;
  kind: DecisionKind;
  /** What decided: the pool policy's name, or the GC advisor. */
  by: string;
  before: SettingValues;
  after: SettingValues;
  /** The settings that changed. */
  changed: string[];
  /** The change in a few words: "min 0→2, keepAliveMs 600000→45000". */
  change: string;
  reason: string;
  inputs: Record<string, number | string | boolean>;
  outcome: DecisionOutcome;
  /** Why applying it failed. */
  error?: string;
}

export type NewDecision = Omit<TunerDecision, 'seq' | 'unixMs' | 'changed' | 'change'>;

export interface DecisionQuery {
  function?: string;
  /** Only decisions after this seq. */
  since?: number;
  /** The newest this many. */
  limit?: number;
}

export const DEFAULT_DECISION_CAPACITY = 5000;

export class DecisionLog {
  private readonly decisions: TunerDecision[] = [];
  private readonly listeners = new Set<(decision: TunerDecision) => void>();
  private nextSeq = 1;

  constructor(private readonly capacity = DEFAULT_DECISION_CAPACITY) {}

  add(decision: NewDecision): TunerDecision {
    const changed = changedSettings(decision.before, decision.after);
    const recorded: TunerDecision = {
      ...decision,
      seq: this.nextSeq++,
      unixMs: Date.now(),
      changed,
      change: changed.map((name) => `${name} ${show(decision.before[name])}→${show(decision.after[name])}`).join(', '),
    };
    this.decisions.push(recorded);
    if (this.decisions.length > this.capacity) this.decisions.splice(0, this.decisions.length - this.capacity);
    for (const listener of this.listeners) listener(recorded);
    return recorded;
  }

  /** Oldest first. */
  list(query: DecisionQuery = {}): TunerDecision[] {
    const matching = this.decisions.filter((decision) => (query.function === undefined || decision.function === query.function) && decision.seq > (query.since ?? 0));
    return query.limit === undefined ? matching : matching.slice(-query.limit);
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  subscribe(listener: (decision: TunerDecision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Names whose values differ, in the order `after` lists them, then those only `before` has. */
export function changedSettings(before: SettingValues, after: SettingValues): string[] {
  const names = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  return names.filter((name) => before[name] !== after[name]);
}

function show(value: number | undefined): string {
  return value === undefined ? '-' : String(Math.round(value * 1000) / 1000);
}
