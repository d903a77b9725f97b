// The tuner's decisions over time (GET /v1/tuner/decisions), newest first: what changed,
// how it ended (applied, recommended in a dry run, rolled back, failed), why, and from what.
// An agent without a tuner does not serve the route, and the section says so rather than
// showing anything made up.
import { ApiError, getJson, type TunerDecision } from './api.js';
import { h } from './dom.js';

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

const inputs = (decision: TunerDecision): string =>
  Object.entries(decision.inputs)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');

export function tunerDecisions(decisions: TunerDecision[] | null): HTMLElement {
  if (decisions === null) return h('p', { class: 'empty' }, `${NONE_YET} This agent does not serve /v1/tuner/decisions.`);
  if (decisions.length === 0) return h('p', { class: 'empty' }, NONE_YET);
  const newestFirst = [...decisions].sort((a, b) => b.seq - a.seq);
  return h(
    'table',
    { class: 'decisions' },
    h('thead', {}, h('tr', {}, ...['when', 'function', 'setting', 'change', 'outcome', 'reason', 'inputs'].map((label) => h('th', { scope: 'col' }, label)))),
    h(
      'tbody',
      {},
      ...newestFirst.map((decision) =>
        h(
          'tr',
          {},
          h('td', {}, new Date(decision.unixMs).toLocaleString()),
          h('td', {}, decision.function),
          h('td', {}, decision.kind),
          h('td', {}, decision.change === '' ? '(none)' : decision.change),
          h('td', { class: `outcome ${decision.outcome}` }, decision.error === undefined ? decision.outcome : `${decision.outcome}: ${decision.error}`),
          h('td', {}, decision.reason),
          h('td', { class: 'inputs' }, inputs(decision)),
        ),
      ),
    ),
  );
}
