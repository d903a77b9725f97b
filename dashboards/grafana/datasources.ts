// The data sources the dashboard reads, by the uids and types the provisioning files give them.
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** The Prometheus that scrapes every runtime's and agent's /metrics. */
export const PROMETHEUS: DataSourceRef = { type: 'prometheus', uid: 'hearth-prometheus' };

/** Grafana's Infinity plugin: reads JSON over HTTP, here the agent's profile API. */
export const INFINITY_TYPE = 'yesoreyeram-infinity-datasource';

/** The name prefix of the provisioned per-host agent data sources (the `agent` variable lists them). */
export const AGENT_SOURCE_PREFIX = 'Hearth agent';

/** The agent chosen in the `agent` variable: one Infinity data source per host, since every host runs its own agent. */
export const AGENT_API: DataSourceRef = { type: INFINITY_TYPE, uid: '${agent}' };
