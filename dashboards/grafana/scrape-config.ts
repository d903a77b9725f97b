// How Prometheus scrapes Hearth: one job for runtimes, one for agents, and a `host` label on
// both. A host's runtime and agent listen on different ports, so their `instance` labels never
// match; `host` (the address without the port) is what the dashboard's host variable selects.

/** Default scrape interval of the example config; the Prometheus data source's timeInterval must equal it for $__rate_interval. */
export const SCRAPE_INTERVAL = '15s';

export interface ScrapeTargets {
  /** host:port of each runtime's HTTP API (it serves /metrics). */
  runtimes: string[];
  /** host:port of each agent's HTTP API. */
  agents: string[];
}

const HOST_FROM_ADDRESS = { source_labels: ['__address__'], regex: '(.+):\\d+', target_label: 'host', replacement: '$1' };

/** A complete Prometheus configuration (prometheus.yml) for these targets. */
export function prometheusConfig(targets: ScrapeTargets, scrapeInterval = SCRAPE_INTERVAL): Record<string, unknown> {
  const job = (name: string, addresses: string[]): Record<string, unknown> => ({ job_name: name, static_configs: [{ targets: addresses }], relabel_configs: [HOST_FROM_ADDRESS] });
  return {
    global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval },
    scrape_configs: [job('hearth-runtime', targets.runtimes), job('hearth-agent', targets.agents)],
  };
}
