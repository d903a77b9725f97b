// The agent's HTTP API alone, on a real socket, without eBPF: for the routes that do not need
// the kernel (the web UI, /collect, /v1/pool). Everything it is given can be replaced.
import type { AddressInfo } from 'node:net';
import { createAgentApi, listenAgent, type AgentApiContext } from '../../agent/exporters/api.js';
import { FaroCollector, type FaroLimits } from '../../agent/exporters/faro-collector.js';
import { AgentMetrics } from '../../agent/exporters/metrics.js';
import { UiAssets } from '../../agent/exporters/ui-assets.js';
import { RecordStore } from '../../agent/phases/store.js';
import { RuntimeClient } from '../../agent/runtime-client.js';
import { LiveTuner } from '../../agent/tuner/live/live-tuner.js';
import { createLogger, type Logger } from '../../shared/log.js';

export interface ApiUnderTest {
  url: string;
  metrics: AgentMetrics;
  /** Off, with no runtime behind it: its routes answer from what it holds (nothing). */
  tuner: LiveTuner;
  /** The token its mutating routes take. */
  token: string;
  /** What the agent logged (debug and up). */
  logs: string[];
  close(): Promise<void>;
}

/** The token the API under test takes for requests other than reads. */
export const API_TOKEN = 'agent-api-test-token';

/** A tuner that is off, with a runtime that is not there: anything it asks of it fails. */
export function offlineTuner(metrics: AgentMetrics, log: Logger): LiveTuner {
  return new LiveTuner({ mode: 'off' }, { runtime: new RuntimeClient('http://127.0.0.1:9', API_TOKEN), coldStartPhases: () => undefined, registry: metrics.registry, log });
}

export async function startAgentApi(options: { faroLimits?: FaroLimits; ui?: UiAssets; workers?: AgentApiContext['workers'] } = {}): Promise<ApiUnderTest> {
  const logs: string[] = [];
  let attached = true;
  const log = createLogger('debug', (line) => logs.push(line));
  const metrics = new AgentMetrics(() => ({ emitted: 0, dropped: 0, trackFull: 0, decodeErrors: 0, attached: 0, tracked: 0 }), () => false);
  const tuner = offlineTuner(metrics, log);
  const server = createAgentApi({
    token: API_TOKEN,
    store: new RecordStore(),
    metrics,
    health: () => ({ runtimeConnected: false, runtimePid: null, probesAttached: 0, coldStarts: 0 }),
    probes: () => [],
    attached: () => attached,
    setAttached: async (value) => {
      attached = value;
    },
    profiler: () => undefined,
    profilerError: () => 'not started in this test',
    workers: options.workers ?? (() => Promise.reject(new Error('no runtime in this test'))),
    faro: new FaroCollector(metrics, log, options.faroLimits),
    ui: options.ui ?? UiAssets.load(null),
    tuner: { tuner },
  });
  const address: AddressInfo = await listenAgent(server, '127.0.0.1', 0);
  return {
    url: `http://127.0.0.1:${address.port}`,
    metrics,
    tuner,
    token: API_TOKEN,
    logs,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The value of one series in the agent's /metrics text, e.g. metric(text, 'hearth_agent_faro_items_total{kind="events"}'). */
export function metric(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}
