// The flame graph panel: Grafana's `flamegraph` visualization fed by the Infinity data source
// from the agent's GET /v1/profiles/FUNCTION?phase=cold|steady&format=grafana, a data frame in
// columns (schema.fields level, value, self, label; data.values one array per field).
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { PanelBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { AGENT_API } from './datasources.js';

/** The fields Grafana's flame graph reads, in the agent's column order (FRAME_TO_ROWS reads them by position). */
export const FLAME_FIELDS = [
  { name: 'level', type: 'number' },
  { name: 'value', type: 'number' },
  { name: 'self', type: 'number' },
  { name: 'label', type: 'string' },
] as const;

/**
 * JSONata (Infinity's backend parser evaluates root selectors with it) that turns the agent's
 * columnar frame into the rows Infinity reads: one object per node of the call tree.
 */
export const FRAME_TO_ROWS = `(
  $columns := data.values;
  $map($columns[0], function($level, $i) {
    {"level": $level, "value": $columns[1][$i], "self": $columns[2][$i], "label": $columns[3][$i]}
  })
)`;

/** The URL the panel reads, relative to the agent data source's base URL. */
export const PROFILE_URL = '/v1/profiles/${profile_function}?phase=${phase}&format=grafana';

/** An Infinity query (the plugin's own JSON model; the SDK has no type for this plugin). */
interface InfinityQuery extends Dataquery {
  refId: string;
  datasource: typeof AGENT_API;
  type: 'json';
  source: 'url';
  parser: 'backend';
  format: 'table';
  url: string;
  url_options: { method: 'GET'; data: '' };
  root_selector: string;
  columns: { selector: string; text: string; type: string }[];
}

export class ProfileQueryBuilder implements Builder<Dataquery> {
  build(): InfinityQuery {
    return {
      refId: 'A',
      datasource: AGENT_API,
      type: 'json',
      source: 'url',
      parser: 'backend',
      format: 'table',
      url: PROFILE_URL,
      url_options: { method: 'GET', data: '' },
      root_selector: FRAME_TO_ROWS,
      columns: FLAME_FIELDS.map((field) => ({ selector: field.name, text: field.name, type: field.type })),
      _implementsDataqueryVariant() {},
    };
  }
}

/** Grafana's core flame graph visualization over the chosen agent's profile of one function. */
export function flameGraph(id: number): PanelBuilder {
  return new PanelBuilder()
    .type('flamegraph')
    .id(id)
    .title('CPU: $profile_function ($phase)')
    .description('Where the function spends its CPU, from the agent\'s kernel sampling: cold, every retained cold start (exec to ready); steady, warm workers over the last 60 s.')
    .datasource(AGENT_API)
    .withTarget(new ProfileQueryBuilder())
    .unit('short')
    .span(24)
    .height(14);
}
