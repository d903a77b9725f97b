// The dashboard's variables: which hosts and functions the panels show, and which agent,
// function and phase the flame graph reads.
import { CustomVariableBuilder, DatasourceVariableBuilder, QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import { AGENT_SOURCE_PREFIX, INFINITY_TYPE, PROMETHEUS } from './datasources.js';

/** Every value, as a regex: the panels match labels with =~, so "All" must match anything. */
const ALL = '.*';

function labelValues(name: string, label: string, query: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .datasource(PROMETHEUS)
    .query(`label_values(${query}, ${label})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
}

/** Hosts: the `host` label the scrape config gives a host's runtime and agent alike. */
export const hostVariable = labelValues('host', 'host', 'hearth_invocations_total').label('Host').multi(true).includeAll(true).allValue(ALL);

export const functionVariable = labelValues('function', 'function', 'hearth_invocations_total{host=~"$host"}').label('Function').multi(true).includeAll(true).allValue(ALL);

/** One agent's profile API (a provisioned Infinity data source per host). */
export const agentVariable = new DatasourceVariableBuilder('agent').label('Agent API').type(INFINITY_TYPE).regex(`/^${AGENT_SOURCE_PREFIX}/`);

/** The function whose profile the flame graph shows: one at a time, among those the agent has seen start. */
export const profileFunctionVariable = labelValues('profile_function', 'function', 'hearth_coldstarts_total{host=~"$host"}').label('Profile of');

export const phaseVariable = new CustomVariableBuilder('phase').label('Phase').values('cold,steady');
