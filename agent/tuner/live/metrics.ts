// The live tuner's Prometheus metrics, on the agent's /metrics: every decision counted per
// setting it changed (the Grafana dashboard marks them as annotations), rollbacks, failed
// applications, the mode, and the pool settings in force and recommended per function.

import client from 'prom-client';
import type { TunerDecision } from './decision-log.js';

export const TUNER_MODES = ['on', 'dry-run', 'off'] as const;
export type TunerMode = (typeof TUNER_MODES)[number];

/** What the gauges read when scraped. */
export interface TunerGauges {
  mode(): TunerMode;
  /** Per function: the pool settings in force and the latest recommendation (pre-warm workers included). */
  pools(): { function: string; inForce?: Record<string, number>; recommended?: Record<string, number> }[];
  eventsLost(): number;
}

export class TunerMetrics {
  private readonly decisions: client.Counter<'function' | 'setting' | 'outcome'>;
  private readonly rollbacks: client.Counter<'function' | 'kind'>;
  private readonly failures: client.Counter<'function' | 'kind'>;

  constructor(registry: client.Registry, gauges: TunerGauges) {
    this.decisions = new client.Counter({
      name: 'hearth_tuner_decisions_total',
      help: 'Tuner decisions, counted once per setting they changed (min, max, keepAliveMs, spare, prewarmWorkers, ..., or a gc field), by outcome: applied, recommended (dry run), rolled-back, failed.',
      labelNames: ['function', 'setting', 'outcome'],
      registers: [registry],
    });
    this.rollbacks = new client.Counter({
      name: 'hearth_tuner_rollbacks_total',
      help: 'Changes the tuner undid because latency or errors got worse after them, by kind (pool, gc).',
      labelNames: ['function', 'kind'],
      registers: [registry],
    });
    this.failures = new client.Counter({
      name: 'hearth_tuner_apply_failures_total',
      help: 'Settings the runtime refused or could not be reached for, by kind (pool, gc).',
      labelNames: ['function', 'kind'],
      registers: [registry],
    });
    new client.Gauge({
      name: 'hearth_tuner_mode',
      help: 'The tuner\'s mode: 1 for the one in force (on: applies; dry-run: only recommends; off).',
      labelNames: ['mode'],
      registers: [registry],
      collect() {
        const current = gauges.mode();
        for (const mode of TUNER_MODES) this.set({ mode }, mode === current ? 1 : 0);
      },
    });
    const poolGauge = (name: string, help: string, pick: (pool: ReturnType<TunerGauges['pools']>[number]) => Record<string, number> | undefined): void => {
      new client.Gauge({
        name,
        help,
        labelNames: ['function', 'setting'],
        registers: [registry],
        collect() {
          this.reset();
          for (const pool of gauges.pools()) for (const [setting, value] of Object.entries(pick(pool) ?? {})) this.set({ function: pool.function, setting }, value);
        },
      });
    };
    poolGauge('hearth_tuner_pool_setting', 'Pool settings in force per function (min, max, keepAliveMs, spare), as the tuner last read or applied them.', (pool) => pool.inForce);
    poolGauge('hearth_tuner_recommended_pool_setting', 'The pool policy\'s latest recommendation per function (min, max, keepAliveMs, spare, and prewarmWorkers while a pre-warm is planned).', (pool) => pool.recommended);
    new client.Counter({
      name: 'hearth_tuner_events_lost_total',
      help: 'Runtime events the tuner never saw (its stream broke for longer than the runtime keeps events).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(gauges.eventsLost());
      },
    });
  }

  decision(decision: TunerDecision): void {
    for (const setting of decision.changed) this.decisions.inc({ function: decision.function, setting, outcome: decision.outcome });
    if (decision.outcome === 'rolled-back') this.rollbacks.inc({ function: decision.function, kind: decision.kind });
    if (decision.outcome === 'failed') this.failures.inc({ function: decision.function, kind: decision.kind });
  }

  /** A timed change (a pre-warm opening or closing) the runtime did not take. */
  failure(fn: string, kind: TunerDecision['kind']): void {
    this.failures.inc({ function: fn, kind });
  }
}
