// The tuner's settings in a few characters, as `hearth tuner status` and the demo print them:
// a pool as min/max/keep-alive (and its spare workers), a pre-warm as +N in T for D, GC settings by their manifest
// names.

import { formatDuration } from '../format.js';
import type { GcSettings } from '../gc-advice.js';
import type { FunctionTunerStatus } from './live-tuner.js';
import type { RuntimePool } from './pool-settings.js';

export function formatPool(settings: RuntimePool): string {
  const spare = settings.spare > 0 ? ` spare ${settings.spare}` : '';
  return `${settings.min}/${settings.max}/${formatDuration(settings.keepAliveMs)}${spare}`;
}

/** The latest recommendation's pre-warm, or '' when it has none. */
export function formatPrewarm(fn: FunctionTunerStatus): string {
  const prewarm = fn.recommended?.prewarm;
  return prewarm === undefined ? '' : `+${prewarm.workers} in ${formatDuration(Math.max(0, prewarm.inMs))} for ${formatDuration(prewarm.forMs)}`;
}

export function formatRecommended(fn: FunctionTunerStatus): string {
  if (fn.recommended === null) return '-';
  const prewarm = formatPrewarm(fn);
  return formatPool(fn.recommended) + (prewarm === '' ? '' : ` ${prewarm}`);
}

/** "gogc=100 memoryLimitMb=100", or '-' when nothing is set. */
export function formatGc(gc: GcSettings): string {
  const set = Object.entries(gc).filter(([, value]) => value !== undefined);
  return set.length === 0 ? '-' : set.map(([name, value]) => `${name}=${value}`).join(' ');
}
