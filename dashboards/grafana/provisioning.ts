// Grafana provisioning (its YAML format, apiVersion 1): the data sources the dashboard names by
// uid, and a file provider that loads the dashboard JSON into a "Hearth" folder.
import { AGENT_SOURCE_PREFIX, INFINITY_TYPE, PROMETHEUS } from './datasources.js';
import { SCRAPE_INTERVAL } from './scrape-config.js';

/** Where Grafana reads the dashboard files from (copy dashboards/*.json there). */
export const DASHBOARDS_PATH = '/var/lib/grafana/dashboards/hearth';

export interface AgentEndpoint {
  /** The host's name, as in the `host` label. */
  host: string;
  /** Base URL of that host's agent API, reachable from Grafana. */
  url: string;
}

/** The Prometheus data source, and one Infinity data source per agent for the flame graph. */
export function datasources(prometheusUrl: string, agents: AgentEndpoint[]): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Hearth Prometheus',
        uid: PROMETHEUS.uid,
        type: PROMETHEUS.type,
        access: 'proxy',
        url: prometheusUrl,
        // Grafana's $__rate_interval is at least four of these: it must be the scrape interval.
        jsonData: { timeInterval: SCRAPE_INTERVAL },
      },
      ...agents.map((agent) => ({
        name: `${AGENT_SOURCE_PREFIX} ${agent.host}`,
        uid: `hearth-agent-${agent.host.replace(/[^\w-]/g, '-')}`,
        type: INFINITY_TYPE,
        access: 'proxy',
        // The base URL: the panel's query URLs are relative to it, and Infinity reads no other host.
        url: agent.url,
        jsonData: { allowedHosts: [agent.url] },
      })),
    ],
  };
}

export function dashboardProvider(): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'hearth',
        folder: 'Hearth',
        type: 'file',
        disableDeletion: true,
        // The JSON is generated: edits belong in dashboards/grafana/*.ts.
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: DASHBOARDS_PATH },
      },
    ],
  };
}
