// What a dashboard's JSON asks its data sources for, with Grafana's variables substituted the
// way Grafana does: the PromQL of every panel, annotation and variable, and the Infinity
// requests of the flame graph. The integration test runs them against a real Prometheus and agent.

interface TargetJson {
  refId?: string;
  expr?: string;
  url?: string;
  root_selector?: string;
  columns?: { selector: string; text: string; type: string }[];
}

interface PanelJson {
  type: string;
  id?: number;
  title: string;
  panels?: PanelJson[];
  targets?: TargetJson[];
  datasource?: { type?: string; uid?: string };
}

interface VariableJson {
  type: string;
  name: string;
  query?: unknown;
  includeAll?: boolean;
  allValue?: string;
}

export interface DashboardJson {
  time: { from: string; to: string };
  panels: PanelJson[];
  templating: { list: VariableJson[] };
  annotations: { list: { name: string; expr?: string; datasource?: { uid?: string } }[] };
}

export interface PromQuery {
  /** Where the query comes from: a panel's title and refId, an annotation or a variable. */
  origin: string;
  expr: string;
}

export interface ProfileRequest {
  origin: string;
  url: string;
  rootSelector: string;
  columns: { selector: string; text: string; type: string }[];
}

export interface LabelValuesQuery {
  variable: string;
  /** The series selector and the label of `label_values(selector, label)`. */
  selector: string;
  label: string;
}

/** Every panel, rows' collapsed panels included, rows themselves excluded. */
export function allPanels(dashboard: DashboardJson): PanelJson[] {
  return dashboard.panels.flatMap((panel) => (panel.type === 'row' ? (panel.panels ?? []) : [panel]));
}

export function panelQueries(dashboard: DashboardJson): PromQuery[] {
  return allPanels(dashboard).flatMap((panel) => (panel.targets ?? []).flatMap((target) => (target.expr === undefined ? [] : [{ origin: `panel "${panel.title}" query ${target.refId}`, expr: target.expr }])));
}

export function annotationQueries(dashboard: DashboardJson): PromQuery[] {
  return dashboard.annotations.list.flatMap((annotation) => (annotation.expr === undefined ? [] : [{ origin: `annotation "${annotation.name}"`, expr: annotation.expr }]));
}

export function profileRequests(dashboard: DashboardJson): ProfileRequest[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) =>
      target.url === undefined ? [] : [{ origin: `panel "${panel.title}" query ${target.refId}`, url: target.url, rootSelector: target.root_selector ?? '', columns: target.columns ?? [] }],
    ),
  );
}

export function labelValuesQueries(dashboard: DashboardJson): LabelValuesQuery[] {
  return dashboard.templating.list.flatMap((variable) => {
    if (variable.type !== 'query' || typeof variable.query !== 'string') return [];
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.query);
    if (match === null) throw new Error(`variable ${variable.name}: ${JSON.stringify(variable.query)} is not label_values(selector, label)`);
    return [{ variable: variable.name, selector: match[1]!, label: match[2]! }];
  });
}

/** What "All" stands for in each variable that offers it. */
export function allValues(dashboard: DashboardJson): Record<string, string> {
  return Object.fromEntries(dashboard.templating.list.filter((variable) => variable.includeAll === true).map((variable) => [variable.name, variable.allValue ?? '']));
}

/**
 * Replaces $name and ${name} (and ${name:format}) with their values, as Grafana does before a
 * query leaves the browser. A variable without a value is an error: the query would go out broken.
 */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for the variable ${whole} in ${JSON.stringify(text)}`);
    return value;
  });
}

/** Grafana's built-in interval variables (a type, not an interface, so it passes as a Record). */
export type IntervalValues = { __interval: string; __interval_ms: string; __rate_interval: string; __range: string; __range_s: string };

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a relative time like `now-6h`. */
export function rangeSeconds(from: string): number {
  const match = /^now-(\d+)([smhdw])$/.exec(from);
  if (match === null) throw new Error(`time range ${JSON.stringify(from)} is not now-<N><s|m|h|d|w>`);
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

/**
 * Grafana's interval variables for a panel `maxDataPoints` wide over `range` seconds, with the
 * data source's scrape interval: $__interval is range / points (whole seconds, at least one
 * scrape), and $__rate_interval is max($__interval + scrape, 4 × scrape).
 */
export function intervalValues(range: number, scrape: number, maxDataPoints = 1000): IntervalValues {
  const interval = Math.max(Math.ceil(range / maxDataPoints), scrape);
  return {
    __interval: `${interval}s`,
    __interval_ms: String(interval * 1000),
    __rate_interval: `${Math.max(interval + scrape, 4 * scrape)}s`,
    __range: `${range}s`,
    __range_s: String(range),
  };
}
