// PromQL the panels share: the dashboard's host and function variables as label matchers, and
// rates over Grafana's rate window.

/** `metric{host=~"$host"}` plus any further matchers: for the agent's own metrics, which have no function. */
export function onHosts(metric: string, ...matchers: string[]): string {
  return `${metric}{${['host=~"$host"', ...matchers].join(',')}}`;
}

/** `metric{host=~"$host",function=~"$function"}` plus any further matchers. */
export function ofFunctions(metric: string, ...matchers: string[]): string {
  return onHosts(metric, 'function=~"$function"', ...matchers);
}

/** Grafana's rate window: at least four scrape intervals, so a rate always has samples to work from. */
const RATE_WINDOW = '$__rate_interval';

export function rate(selector: string): string {
  return `rate(${selector}[${RATE_WINDOW}])`;
}

export function increase(selector: string): string {
  return `increase(${selector}[${RATE_WINDOW}])`;
}

/** `histogram_quantile(q, ...)` of a histogram's buckets, per `by` labels. */
export function quantile(q: number, histogram: string, by: string[]): string {
  return `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (${rate(ofFunctions(`${histogram}_bucket`))}))`;
}

/** Mean of a histogram over the rate window: rate of its sum over rate of its count. */
export function mean(histogram: string, by: string[]): string {
  const summed = (series: string): string => `sum by (${by.join(', ')}) (${rate(ofFunctions(`${histogram}_${series}`))})`;
  return `${summed('sum')} / ${summed('count')}`;
}
