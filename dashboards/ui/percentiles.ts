// Phase percentiles of one function's cold starts (GET /v1/phases), phase by phase, then the total.
import { PHASE_DESCRIPTIONS, PHASES } from '../../shared/phases.js';
import type { FunctionStats } from './api.js';
import { h } from './dom.js';
import { ms } from './format.js';

type Stats = FunctionStats['total'];

function statsRow(name: HTMLElement | string, stats: Stats, title?: string): HTMLElement {
  return h('tr', { title }, h('th', { scope: 'row' }, name), ...[stats.count, ms(stats.p50Ms), ms(stats.p90Ms), ms(stats.p99Ms), ms(stats.maxMs)].map((value) => h('td', { class: 'num' }, value)));
}

export function percentiles(stats: FunctionStats | undefined): HTMLElement {
  if (stats === undefined || stats.coldStarts === 0) return h('p', { class: 'empty' }, 'No completed cold starts to take percentiles of yet.');
  return h(
    'table',
    { class: 'percentiles' },
    h('thead', {}, h('tr', {}, ...['phase', 'count', 'p50', 'p90', 'p99', 'max'].map((label) => h('th', { scope: 'col' }, label)))),
    h(
      'tbody',
      {},
      ...PHASES.flatMap((phase) => {
        const phaseStats = stats.phases[phase];
        return phaseStats === undefined ? [] : [statsRow(h('span', {}, h('i', { class: `swatch phase-${phase}` }), phase), phaseStats, PHASE_DESCRIPTIONS[phase])];
      }),
      statsRow('total', stats.total),
    ),
  );
}
