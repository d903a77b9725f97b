// Panel factories: every Prometheus panel of the dashboard is a time series or a stat, with its
// queries, unit and a description that says what the numbers mean.
import { GraphDrawStyle, LegendDisplayMode, LegendPlacement, SortOrder, StackingMode, TooltipDisplayMode, VizLegendOptionsBuilder, StackingConfigBuilder, VizTooltipOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeSeriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { PROMETHEUS } from './datasources.js';

export interface Query {
  expr: string;
  /** Grafana's legend template, e.g. `{{function}} p99`. */
  legend: string;
}

export interface PanelSpec {
  /** Fixed, so links to a panel (viewPanel=ID) and annotation filters survive regeneration. */
  id: number;
  title: string;
  description: string;
  /** A Grafana unit id: reqps, s, bytes, percentunit, short... */
  unit: string;
  queries: Query[];
  /** Grid columns out of 24. */
  width?: number;
}

export interface TimeSeriesSpec extends PanelSpec {
  /** Stack the series (parts of one whole: workers by state, phases of a cold start). */
  stacked?: boolean;
  /** Bars for sparse events (a cold start, an OOM kill), where lines would draw between gaps. */
  bars?: boolean;
}

const HEIGHT = 8;

function targets(queries: Query[], instant: boolean): DataqueryBuilder[] {
  return queries.map((query, index) => {
    const target = new DataqueryBuilder().datasource(PROMETHEUS).refId(String.fromCharCode(65 + index)).expr(query.expr).legendFormat(query.legend);
    return instant ? target.instant() : target.range();
  });
}

/** What every panel has, whatever its visualization. */
function described<T extends TimeSeriesPanelBuilder | StatPanelBuilder>(panel: T, spec: PanelSpec, instant: boolean): T {
  panel.id(spec.id).title(spec.title).description(spec.description).datasource(PROMETHEUS).targets(targets(spec.queries, instant)).unit(spec.unit).span(spec.width ?? 12).height(HEIGHT);
  return panel;
}

export function timeSeries(spec: TimeSeriesSpec): TimeSeriesPanelBuilder {
  const panel = described(new TimeSeriesPanelBuilder(), spec, false)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
    .fillOpacity(spec.stacked === true || spec.bars === true ? 60 : 10);
  if (spec.stacked === true) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (spec.bars === true) panel.drawStyle(GraphDrawStyle.Bars);
  return panel;
}

/** A single number per series, read at the end of the dashboard's range. */
export function stat(spec: PanelSpec): StatPanelBuilder {
  return described(new StatPanelBuilder(), spec, true);
}
