// Raw HTTP requests to the agent's real API server (agent/exporters/api.ts) in this process:
// routes, query strings, the web UI's files and its telemetry receiver (POST /collect, Faro
// payloads). Behind it: a real record store, metrics, Faro collector (with no rate limit, so
// that inputs are not refused for coming fast) and web UI bundle, and a real profile store
// holding a few samples of function "lookup" in place of the kernel sampler; no runtime (its
// pool answers with an empty list).
import type http from 'node:http';
import { createAgentApi, listenAgent } from '../../../agent/exporters/api.js';
import { FaroCollector } from '../../../agent/exporters/faro-collector.js';
import { AgentMetrics } from '../../../agent/exporters/metrics.js';
import { UiAssets } from '../../../agent/exporters/ui-assets.js';
import { RecordStore } from '../../../agent/phases/store.js';
import type { Frame } from '../../../agent/profile/model.js';
import type { Profiler } from '../../../agent/profile/profiler.js';
import { ProfileStore } from '../../../agent/profile/store.js';
import { createLogger } from '../../../shared/log.js';
import { checkAnswer, exchange, outcomeOf, watchUncaught } from './raw-http.js';
import type { FuzzTarget } from './target.js';
import { offlineTuner } from '../../helpers/agent-api.js';

/** The profiler's surface the API reads, over a real store with samples in both phases. */
function profilerWithSamples(): Profiler {
  const store = new ProfileStore({ cold: 1000, steady: 19 });
  const frame = (name: string): Frame => ({ name, module: '/bin/lookup', kind: 'go', file: 'main.go', line: 7 });
  for (const phase of ['cold', 'steady'] as const) {
    store.add({ stack: [frame('runtime.main'), frame('main.main'), frame('main.lookup')], count: 5, labels: { function: 'lookup', phase, pid: 100 }, unixMs: Date.now() });
    store.add({ stack: [frame('runtime.main'), frame('runtime.gcBgMarkWorker')], count: 2, labels: { function: 'lookup', phase, pid: 100 }, unixMs: Date.now() });
  }
  const profiler = { options: { coldHz: 1000, steadyHz: 19 }, collect: () => undefined, profile: store.profile.bind(store), summary: store.summary.bind(store), gcShares: () => [] };
  return profiler as unknown as Profiler;
}

let server: http.Server | undefined;
let port = 0;
let attached = true;

const FARO = JSON.stringify({
  meta: { app: { name: 'hearth-ui' }, session: { id: 's1' } },
  logs: [{ level: 'info', message: 'hello', timestamp: '2026-01-01T00:00:00Z' }],
  exceptions: [{ type: 'TypeError', value: 'x is undefined', timestamp: '2026-01-01T00:00:00Z' }],
  measurements: [{ type: 'web-vitals', values: { lcp: 1200 }, timestamp: '2026-01-01T00:00:00Z' }],
  events: [{ name: 'click', attributes: { id: 'b' }, timestamp: '2026-01-01T00:00:00Z' }],
  traces: { resourceSpans: [] },
});

export const target: FuzzTarget = {
  maxLength: 4096,
  dictionary: ['GET ', 'POST ', 'PUT ', 'HEAD ', 'OPTIONS ', ' HTTP/1.1\r\n', '\r\n', '\r\n\r\n', 'Host: x\r\n', 'Content-Length: ', 'Content-Encoding: gzip\r\n', 'Transfer-Encoding: chunked\r\n', 'If-None-Match: ', '/collect', '/v1/coldstarts', '/v1/phases', '/v1/exits', '/v1/probes', '/v1/pool', '/v1/profiles', '/v1/profiles/', '/v1/gc', '/v1/tuner/status', '/v1/tuner/decisions', '/v1/tuner/mode', '"attached"', '/ui/', '/healthz', '/metrics', '?limit=', '?since=', '&follow=1', '&function=', '&seconds=', '&phase=steady', '&format=', '%2F', '%ZZ', '%E0%A4%A', '//', '..', '[', '@', '#', 'http://', '"meta"', '"logs"', '"exceptions"', '"measurements"', '"events"', '"traces"', '"resourceSpans"', '"timestamp"', '"values"', '"attributes"'],
  async setup() {
    watchUncaught();
    const log = createLogger('error', () => undefined);
    const profiler = profilerWithSamples();
    const metrics = new AgentMetrics(() => ({ emitted: 0, dropped: 0, trackFull: 0, decodeErrors: 0, attached: 0, tracked: 0 }), () => false);
    server = createAgentApi({
      store: new RecordStore(),
      metrics,
      health: () => ({ runtimeConnected: false }),
      probes: () => [],
      attached: () => attached,
      setAttached: async (value) => {
        attached = value;
      },
      profiler: () => profiler,
      profilerError: () => undefined,
      workers: async () => ({ workers: [], seedsReady: 0, stemCellsReady: 0 }),
      token: 'fuzz-target-token-0123456789',
      faro: new FaroCollector(metrics, log, { maxBodyBytes: 2048, rate: { perSecond: 1e9, burst: 1e9 } }),
      ui: UiAssets.load(null),
      tuner: { tuner: offlineTuner(metrics, log) },
    });
    port = (await listenAgent(server, '127.0.0.1', 0)).port;
  },
  async teardown() {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  },
  seeds() {
    const get = (target: string): Buffer => Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    return [
      Buffer.from(`POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(FARO)}\r\n\r\n${FARO}`),
      get('/v1/coldstarts?limit=10&function=lookup&since=0'),
      get('/v1/phases?function=lookup'),
      get('/v1/exits'),
      get('/v1/probes'),
      get('/v1/pool?function=a'),
      get('/v1/profiles/lookup?phase=steady&seconds=30&format=folded'),
      get('/v1/profiles/lookup?phase=cold&format=pprof'),
      get('/v1/profiles'),
      get('/v1/gc?seconds=10'),
      get('/'),
      get('/ui/app.js'),
      get('/healthz'),
    ];
  },
  async run(data) {
    return outcomeOf(checkAnswer(await exchange(port, data)));
  },
};
