// One function's live pool (GET /v1/pool): how many workers are warm, busy, starting or
// draining, and each worker.
import type { PoolState } from '../../agent/exporters/pool-api.js';
import type { PoolView } from './api.js';
import { h } from './dom.js';
import { age } from './format.js';

const STATES: PoolState[] = ['warm', 'busy', 'starting', 'draining'];

export function pool(view: PoolView, fn: string): HTMLElement {
  const current = view.functions.find((entry) => entry.function === fn);
  const counts = h('ul', { class: 'counts' }, ...STATES.map((state) => h('li', { class: `state-${state}`, 'data-state': state }, h('strong', {}, current?.counts[state] ?? 0), ` ${state}`)));
  if (current === undefined) return h('div', {}, counts, h('p', { class: 'empty' }, 'No live workers.'));
  return h(
    'div',
    {},
    counts,
    h(
      'table',
      { class: 'workers' },
      h('thead', {}, h('tr', {}, ...['pid', 'state', 'started from', 'invocations', 'age'].map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, ...current.workers.map((worker) => h('tr', { 'data-pid': String(worker.pid) }, h('td', { class: 'num' }, worker.pid), h('td', { class: `state-${worker.state}` }, worker.state), h('td', {}, worker.origin), h('td', { class: 'num' }, worker.invocations), h('td', { class: 'num' }, age(worker.ageMs))))),
    ),
  );
}
