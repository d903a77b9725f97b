// The tuner's decisions over time (GET /v1/tuner/decisions), newest first. An agent without a
// tuner does not serve the route, and the section says so rather than showing anything made up.
import { ApiError, getJson } from './api.js';
import { h } from './dom.js';

/** What the section reads of a decision (DESIGN.md: one change of pool or GC settings, with its inputs and reason). */
export interface TunerDecision {
  unixMs?: number;
  function?: string;
  change?: unknown;
  reason?: string;
  inputs?: unknown;
}

const NONE_YET = 'No tuner decisions yet.';

/** The decisions, or null when this agent has no tuner. */
export async function fetchDecisions(): Promise<TunerDecision[] | null> {
  try {
    return (await getJson<{ decisions: TunerDecision[] }>('/v1/tuner/decisions')).decisions;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

const detail = (value: unknown): string => (value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value));

export function tunerDecisions(decisions: TunerDecision[] | null): HTMLElement {
  if (decisions === null) return h('p', { class: 'empty' }, `${NONE_YET} This agent does not serve /v1/tuner/decisions.`);
  if (decisions.length === 0) return h('p', { class: 'empty' }, NONE_YET);
  const newestFirst = [...decisions].sort((a, b) => (b.unixMs ?? 0) - (a.unixMs ?? 0));
  return h(
    'table',
    { class: 'decisions' },
    h('thead', {}, h('tr', {}, ...['when', 'function', 'change', 'reason', 'inputs'].map((label) => h('th', { scope: 'col' }, label)))),
    h(
      'tbody',
      {},
      ...newestFirst.map((decision) =>
        h('tr', {}, h('td', {}, decision.unixMs === undefined ? '' : new Date(decision.unixMs).toLocaleString()), h('td', {}, decision.function ?? ''), h('td', {}, detail(decision.change)), h('td', {}, decision.reason ?? ''), h('td', { class: 'inputs' }, detail(decision.inputs))),
      ),
    ),
  );
}
