// Recent cold starts of one function as waterfalls: one row per cold start, one bar per phase
// placed at its start and sized by its duration, on a scale shared by every row so that rows
// compare at a glance. Each bar is coloured by phase and marked with where its end was
// measured: k(ernel), s(DK marker) or r(untime event).
import { PHASE_DESCRIPTIONS, PHASES, type PhaseSource } from '../../shared/phases.js';
import type { ColdStartRecord } from './api.js';
import { h } from './dom.js';
import { msFromNs } from './format.js';

const SOURCE_NAMES: Record<PhaseSource, string> = { kernel: 'kernel', sdk: 'SDK marker', runtime: 'runtime event' };

/** The colour key: each phase, and what the letters on the bars mean. */
export function waterfallLegend(): HTMLElement {
  return h(
    'div',
    { class: 'legend' },
    h('ul', {}, ...PHASES.map((phase) => h('li', { title: PHASE_DESCRIPTIONS[phase] }, h('i', { class: `swatch phase-${phase}` }), phase))),
    h('p', {}, 'Letters on the bars: where the phase\'s end was measured: k = kernel, s = SDK marker, r = runtime event.'),
  );
}

export function waterfalls(records: ColdStartRecord[]): HTMLElement {
  if (records.length === 0) return h('p', { class: 'empty' }, 'No cold starts recorded for this function yet.');
  const scaleNs = Math.max(...records.map((record) => record.totalNs));
  return h(
    'div',
    { class: 'waterfalls' },
    h('div', { class: 'scale' }, h('span', {}, '0'), h('span', {}, msFromNs(scaleNs))),
    ...records.map((record) => row(record, scaleNs)),
  );
}

function row(record: ColdStartRecord, scaleNs: number): HTMLElement {
  const request = record.requestId === null ? 'pre-warmed' : `request ${record.requestId}`;
  const outcome = record.outcome === 'served' ? '' : ` · ${record.outcome.replace('_', ' ')}`;
  return h(
    'div',
    { class: `coldstart outcome-${record.outcome}`, 'data-pid': String(record.pid), 'data-request': record.requestId === null ? undefined : String(record.requestId) },
    h(
      'div',
      { class: 'label' },
      h('strong', {}, msFromNs(record.totalNs)),
      ` pid ${record.pid} · ${request} · ${record.origin}${outcome}`,
      record.error === undefined ? null : h('span', { class: 'error' }, ` ${record.error}`),
    ),
    h('div', { class: 'track' }, ...record.phases.map((timing) => {
      const title = `${timing.phase}: ${msFromNs(timing.durationNs)}, measured by the ${SOURCE_NAMES[timing.source]} (${PHASE_DESCRIPTIONS[timing.phase]})`;
      const bar = h('span', { class: `bar phase-${timing.phase}`, title, 'data-phase': timing.phase, 'data-source': timing.source }, timing.source[0]!);
      bar.style.left = `${(timing.startNs / scaleNs) * 100}%`;
      bar.style.width = `${(timing.durationNs / scaleNs) * 100}%`;
      return bar;
    })),
    h(
      'details',
      {},
      h('summary', {}, 'phases'),
      h('table', { class: 'phases' }, ...record.phases.map((timing) => h('tr', {}, h('td', {}, h('i', { class: `swatch phase-${timing.phase}` }), timing.phase), h('td', { class: 'num' }, msFromNs(timing.durationNs)), h('td', {}, SOURCE_NAMES[timing.source])))),
    ),
  );
}
