// What a pool decision asks of the runtime at a given moment. The runtime has `min`, `max`
// and `keepAliveMs`; a pre-warm is applied as a higher `min` over its window (at least its
// workers ready, the ones `min` keeps counted), then `min` again. Times are the policy clock.

import type { PoolDecision } from '../policies/policy.js';
import type { SettingValues } from './decision-log.js';

/** The runtime's pool settings the tuner changes (`maxQueued` stays the function's own). */
export interface RuntimePool {
  min: number;
  max: number;
  keepAliveMs: number;
}

/** The runtime settings `decision` asks for at `now`. */
export function poolAt(decision: PoolDecision, now: number): RuntimePool {
  const { prewarm } = decision;
  const warming = prewarm !== undefined && now >= prewarm.atMs && now < prewarm.untilMs;
  const min = warming ? Math.max(decision.min, prewarm.workers) : decision.min;
  // The runtime takes whole milliseconds; policies work in fractions of them.
  return { min: Math.min(min, decision.max), max: decision.max, keepAliveMs: Math.round(decision.keepAliveMs) };
}

/** When what `decision` asks for next changes (its pre-warm opens or closes), if it does. */
export function nextChange(decision: PoolDecision, now: number): number | undefined {
  const { prewarm } = decision;
  if (prewarm === undefined) return undefined;
  if (now < prewarm.atMs) return prewarm.atMs;
  if (now < prewarm.untilMs) return prewarm.untilMs;
  return undefined;
}

export function samePool(a: RuntimePool | undefined, b: RuntimePool): boolean {
  return a !== undefined && a.min === b.min && a.max === b.max && a.keepAliveMs === b.keepAliveMs;
}

/** A decision as the log shows it: the pool settings, and its pre-warm relative to the decision. */
export function decisionValues(decision: Pick<PoolDecision, 'at' | 'min' | 'max' | 'keepAliveMs' | 'prewarm'>): SettingValues {
  const values: SettingValues = { min: decision.min, max: decision.max, keepAliveMs: Math.round(decision.keepAliveMs) };
  const { prewarm } = decision;
  if (prewarm !== undefined) {
    values['prewarmWorkers'] = prewarm.workers;
    values['prewarmInMs'] = Math.round(prewarm.atMs - decision.at);
    values['prewarmForMs'] = Math.round(prewarm.untilMs - prewarm.atMs);
  }
  return values;
}
