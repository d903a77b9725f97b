// The agent's web UI: per function, its recent cold starts as waterfalls, phase percentiles,
// the live pool, CPU flamegraphs and the tuner's decisions, refreshed every few seconds from
// the agent's public API.
import { getJson, type ColdStartRecord, type FunctionStats, type Health, type PoolView, type ProfilesHeld } from './api.js';
import { byId, h, renderIfChanged } from './dom.js';
import { FlamegraphPanel } from './flamegraph.js';
import { plural } from './format.js';
import { functionList, functionNames } from './functions.js';
import { percentiles } from './percentiles.js';
import { pool } from './pool.js';
import { startTelemetry, track } from './telemetry.js';
import { fetchDecisions, tunerDecisions } from './tuner.js';
import { waterfallLegend, waterfalls } from './waterfall.js';

const REFRESH_MS = 3000;
/** The tuner changes settings rarely: its decisions are read every this many refreshes. */
const TUNER_EVERY = 10;
const RECENT_COLD_STARTS = 20;

startTelemetry();

let selected = selectedInHash();
let refreshes = 0;
let refreshing: Promise<void> | undefined;
let refreshAgain = false;
const flamegraphs = new FlamegraphPanel(byId('profile-buttons'), byId('flamegraph'));
byId('legend').replaceChildren(waterfallLegend());

function selectedInHash(): string | undefined {
  const name = new URLSearchParams(location.hash.slice(1)).get('function');
  return name === null || name === '' ? undefined : name;
}

function select(fn: string): void {
  if (fn === selected) return;
  selected = fn;
  history.replaceState(null, '', `#function=${encodeURIComponent(fn)}`);
  track('function_selected', { function: fn });
  void refresh();
}

function showError(id: string, reason: unknown): void {
  const message = reason instanceof Error ? reason.message : String(reason);
  renderIfChanged(byId(id), `error ${message}`, () => h('p', { class: 'error' }, message));
}

/**
 * A section's content, or what went wrong fetching its data (the other sections still show).
 * With `key`, the section is rebuilt only when its key changes.
 */
function show<T>(id: string, result: PromiseSettledResult<T>, build: (value: T) => Node, key?: (value: T) => string): void {
  if (result.status === 'rejected') return showError(id, result.reason);
  const section = byId(id);
  if (key !== undefined) return renderIfChanged(section, key(result.value), () => build(result.value));
  delete section.dataset['key'];
  section.replaceChildren(build(result.value));
}

function showStatus(health: PromiseSettledResult<Health>, poolView: PromiseSettledResult<PoolView>): void {
  const status = byId('status');
  if (health.status === 'rejected') {
    status.className = 'error';
    status.textContent = `Cannot reach the agent (${(health.reason as Error).message}); retrying every ${REFRESH_MS / 1000} s.`;
    return;
  }
  const { runtimeConnected, runtimePid, coldStarts, probesAttached } = health.value;
  const spares = poolView.status === 'fulfilled' ? `, ${plural(poolView.value.seedsReady, 'seed')} and ${plural(poolView.value.stemCellsReady, 'stem cell')} ready` : '';
  status.className = runtimeConnected ? '' : 'error';
  status.textContent =
    `${runtimeConnected ? `Following runtime ${runtimePid}` : 'Not connected to the runtime'}${spares}; ` +
    `${plural(coldStarts, 'cold start')} recorded, ${plural(probesAttached, 'probe')} attached. Updated ${new Date().toLocaleTimeString()}.`;
}

async function refreshOnce(): Promise<void> {
  const [health, stats, poolView, profiles] = await Promise.allSettled([
    getJson<Health>('/healthz'),
    getJson<{ functions: FunctionStats[] }>('/v1/phases').then((body) => body.functions),
    getJson<PoolView>('/v1/pool'),
    getJson<ProfilesHeld>('/v1/profiles'),
  ]);
  showStatus(health, poolView);
  const statsList = stats.status === 'fulfilled' ? stats.value : [];
  const names = functionNames(statsList, poolView.status === 'fulfilled' ? poolView.value : undefined, profiles.status === 'fulfilled' ? profiles.value : undefined);
  if (selected === undefined || !names.includes(selected)) selected = names[0];
  const coldStartCounts = new Map(statsList.map((entry) => [entry.function, entry.coldStarts]));
  renderIfChanged(byId('functions'), JSON.stringify([names, selected, [...coldStartCounts]]), () => functionList(names, selected, coldStartCounts, select));
  if (refreshes++ % TUNER_EVERY === 0) {
    const [decisions] = await Promise.allSettled([fetchDecisions()]);
    show('tuner-view', decisions, tunerDecisions, (value) => JSON.stringify(value));
  }
  const fn = selected;
  byId('detail').hidden = fn === undefined;
  if (fn === undefined) return;
  byId('function-name').textContent = fn;
  const [records] = await Promise.allSettled([getJson<{ coldstarts: ColdStartRecord[] }>(`/v1/coldstarts?function=${encodeURIComponent(fn)}&limit=${RECENT_COLD_STARTS}`)]);
  show('waterfalls', records, (body) => waterfalls(body.coldstarts), (body) => JSON.stringify([fn, body.coldstarts.map((record) => record.spawnTs)]));
  const statsOf = (list: FunctionStats[]): FunctionStats | undefined => list.find((entry) => entry.function === fn);
  show('percentiles', stats, (list) => percentiles(statsOf(list)), (list) => JSON.stringify([fn, statsOf(list)]));
  show('pool-view', poolView, (view) => pool(view, fn));
  if (profiles.status === 'fulfilled') flamegraphs.update(fn, profiles.value);
  else showError('profile-buttons', profiles.reason);
}

/** One refresh at a time; a request for another while one runs (a new selection) runs right after it. */
function refresh(): Promise<void> {
  if (refreshing !== undefined) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = refreshOnce().finally(() => {
    refreshing = undefined;
    if (refreshAgain) {
      refreshAgain = false;
      void refresh();
    }
  });
  return refreshing;
}

window.addEventListener('hashchange', () => {
  const fn = selectedInHash();
  if (fn !== undefined) select(fn);
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void refresh();
});
setInterval(() => {
  if (document.visibilityState === 'visible') void refresh();
}, REFRESH_MS);
void refresh();
