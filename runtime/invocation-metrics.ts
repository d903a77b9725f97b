import type client from 'prom-client';

export type StartKind = 'cold' | 'warm';
export type Outcome = 'ok' | 'handler_error' | 'timeout' | 'crash' | 'rejected';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Durations {
  fn: string;
  start: StartKind;
  /** Per bucket, the observations that fell in it (not yet cumulative); the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

interface Count {
  fn: string;
  start: StartKind;
  outcome: Outcome;
  count: number;
}

interface Series {
  counts: Map<string, Count>;
  durations: Partial<Record<StartKind, Durations>>;
}

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * hearth_invocations_total and hearth_invocation_duration_seconds, recorded on every request.
 * prom-client's own Counter and Histogram validate and hash their labels on every call (about
 * 1.5 µs per request on the invoke path); here a request costs a map lookup and a few
 * increments, and the series are assembled only when /metrics is read. The values have
 * prom-client's shape, so its registry prints them exactly as its own metrics.
 */
export class InvocationMetrics {
  private byFunction = new Map<string, Series>();
  // Every series in the order it first appeared, which is the order prom-client prints.
  private counts: Count[] = [];
  private durations: Durations[] = [];

  constructor(registry: client.Registry) {
    registry.registerMetric(
      this.metric('hearth_invocations_total', 'Invocations answered, by function, cold or warm start, and outcome.', 'counter', () => this.counterValues()),
    );
    registry.registerMetric(
      this.metric('hearth_invocation_duration_seconds', 'Time from request arrival to response, by function and cold or warm start.', 'histogram', () => this.histogramValues()),
    );
  }

  record(fn: string, start: StartKind, outcome: Outcome, seconds: number): void {
    let series = this.byFunction.get(fn);
    if (series === undefined) {
      series = { counts: new Map(), durations: {} };
      this.byFunction.set(fn, series);
    }
    const key = start === 'warm' ? outcome : `cold/${outcome}`;
    const counter = series.counts.get(key);
    if (counter === undefined) {
      const created = { fn, start, outcome, count: 1 };
      series.counts.set(key, created);
      this.counts.push(created);
    } else {
      counter.count++;
    }
    let histogram = series.durations[start];
    if (histogram === undefined) {
      histogram = { fn, start, counts: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 };
      series.durations[start] = histogram;
      this.durations.push(histogram);
    }
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > BUCKETS[bucket]!) bucket++;
    histogram.counts[bucket]!++;
    histogram.sum += seconds;
    histogram.count++;
  }

  private counterValues(): Value[] {
    return this.counts.map(({ fn, start, outcome, count }) => ({ labels: { function: fn, start, outcome }, value: count }));
  }

  private histogramValues(): Value[] {
    const name = 'hearth_invocation_duration_seconds';
    const values: Value[] = [];
    for (const { fn, start, counts, sum, count } of this.durations) {
      let cumulative = 0;
      BUCKETS.forEach((le, index) => {
        cumulative += counts[index]!;
        values.push({ labels: { le, function: fn, start }, value: cumulative, metricName: `${name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', function: fn, start }, value: count, metricName: `${name}_bucket` });
      values.push({ labels: { function: fn, start }, value: sum, metricName: `${name}_sum` });
      values.push({ labels: { function: fn, start }, value: count, metricName: `${name}_count` });
    }
    return values;
  }

  private reset(): void {
    this.byFunction = new Map();
    this.counts = [];
    this.durations = [];
  }

  /** A metric as prom-client's registry reads one: get() and reset(). */
  private metric(name: string, help: string, type: 'counter' | 'histogram', values: () => Value[]): client.Metric {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
      reset: () => this.reset(),
    };
    return metric as unknown as client.Metric;
  }
}
