// What a pool decision asks of the runtime at a given moment. The runtime has `min`, `max`,
// `keepAliveMs` and `spare`; a pre-warm is applied as a higher `min` over its window (at least its
// workers ready, the ones `min` keeps counted), then `min` again; a window once open stays
// open to its end when a later decision replaces it. Times are the policy clock.

import type { PoolDecision, Prewarm } from '../policies/policy.js';
import type { SettingValues } from './decision-log.js';

/** The runtime's pool settings the tuner changes (`maxQueued` stays the function's own). */
export interface RuntimePool {
  min: number;
  max: number;
  keepAliveMs: number;
  spare: number;
}

/**
 * The runtime settings `decision` asks for at `now`. `held`: a pre-warm window of an earlier
 * decision that was open when this one replaced it; it keeps its workers until its end (the
 * policy drops a pre-warm from its decisions once the burst it waited for has begun, and the
 * workers it started are there to serve that burst).
 */
export function poolAt(decision: PoolDecision, now: number, held?: Prewarm): RuntimePool {
  let min = decision.min;
  for (const window of [decision.prewarm, held]) if (window !== undefined && isOpen(window, now)) min = Math.max(min, window.workers);
  // The runtime takes whole milliseconds; policies work in fractions of them.
  return { min: Math.min(min, decision.max), max: decision.max, keepAliveMs: Math.round(decision.keepAliveMs), spare: Math.min(decision.spare ?? 0, decision.max) };
}

/** When what `decision` (and a held window) asks for next changes: a pre-warm opens or closes. */
export function nextChange(decision: PoolDecision, now: number, held?: Prewarm): number | undefined {
  const moments = [decision.prewarm?.atMs, decision.prewarm?.untilMs, held?.untilMs].filter((at): at is number => at !== undefined && at > now);
  return moments.length === 0 ? undefined : Math.min(...moments);
}

/** The window to keep open after `previous` is replaced at `now`: its own if open, else the one it held, if still open. */
export function heldWindow(previous: PoolDecision | undefined, held: Prewarm | undefined, now: number): Prewarm | undefined {
  const own = previous?.prewarm;
  if (own !== undefined && isOpen(own, now)) return own;
  return held !== undefined && isOpen(held, now) ? held : undefined;
}

function isOpen(window: Prewarm, now: number): boolean {
  return now >= window.atMs && now < window.untilMs;
}

export function samePool(a: RuntimePool | undefined, b: RuntimePool): boolean {
  return a !== undefined && a.min === b.min && a.max === b.max && a.keepAliveMs === b.keepAliveMs && a.spare === b.spare;
}

/** A decision as the log shows it: the pool settings, and its pre-warm relative to the decision. */
export function decisionValues(decision: Pick<PoolDecision, 'at' | 'min' | 'max' | 'keepAliveMs' | 'spare' | 'prewarm'>): SettingValues {
  const values: SettingValues = { min: decision.min, max: decision.max, keepAliveMs: Math.round(decision.keepAliveMs), spare: decision.spare ?? 0 };
  const { prewarm } = decision;
  if (prewarm !== undefined) {
    values['prewarmWorkers'] = prewarm.workers;
    values['prewarmInMs'] = Math.round(prewarm.atMs - decision.at);
    values['prewarmForMs'] = Math.round(prewarm.untilMs - prewarm.atMs);
  }
  return values;
}
