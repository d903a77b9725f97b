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

/** The two jobs; on Kubernetes also the `app.kubernetes.io/name` of their pods (deploy/). */
export const RUNTIME_JOB = 'hearth-runtime';
export const AGENT_JOB = 'hearth-agent';
/** The name of the runtime's and the agent's API port in their pods (deploy/). */
export const KUBERNETES_PORT_NAME = 'http';

const HOST_FROM_ADDRESS = { source_labels: ['__address__'], regex: '(.+):\\d+', target_label: 'host', replacement: '$1' };

/** A complete Prometheus configuration (prometheus.yml) for these targets. */
export function prometheusConfig(targets: ScrapeTargets, scrapeInterval = SCRAPE_INTERVAL): Record<string, unknown> {
  const job = (name: string, addresses: string[]): Record<string, unknown> => ({ job_name: name, static_configs: [{ targets: addresses }], relabel_configs: [HOST_FROM_ADDRESS] });
  return withGlobals([job(RUNTIME_JOB, targets.runtimes), job(AGENT_JOB, targets.agents)], scrapeInterval);
}

/**
 * The same two jobs on Kubernetes: every runtime and agent pod in `namespace`, found through
 * the API (Prometheus needs to list pods there), scraped on its `http` port. `host` is the
 * node's name, which a node's runtime and agent share.
 */
export function kubernetesPrometheusConfig(namespace: string, scrapeInterval = SCRAPE_INTERVAL): Record<string, unknown> {
  const job = (name: string): Record<string, unknown> => ({
    job_name: name,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] } }],
    relabel_configs: [
      { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name', '__meta_kubernetes_pod_container_port_name'], regex: `${name};${KUBERNETES_PORT_NAME}`, action: 'keep' },
      { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'host' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
    ],
  });
  return withGlobals([job(RUNTIME_JOB), job(AGENT_JOB)], scrapeInterval);
}

function withGlobals(jobs: Record<string, unknown>[], scrapeInterval: string): Record<string, unknown> {
  return { global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval }, scrape_configs: jobs };
}
