// The invocation metrics keep their own counts (the invoke path cannot afford prom-client's
// per-call label hashing) but must print exactly what prom-client's Counter and Histogram
// print for the same observations, bucket edges included.
import assert from 'node:assert/strict';
import client from 'prom-client';
import { test } from 'uvu';
import { InvocationMetrics, type Outcome, type StartKind } from '../../runtime/invocation-metrics.js';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function reference(): { registry: client.Registry; record(fn: string, start: StartKind, outcome: Outcome, seconds: number): void } {
  const registry = new client.Registry();
  const counter = new client.Counter({ name: 'hearth_invocations_total', help: 'Invocations answered, by function, cold or warm start, and outcome.', labelNames: ['function', 'start', 'outcome'], registers: [registry] });
  const histogram = new client.Histogram({ name: 'hearth_invocation_duration_seconds', help: 'Time from request arrival to response, by function and cold or warm start.', labelNames: ['function', 'start'], buckets: BUCKETS, registers: [registry] });
  return {
    registry,
    record(fn, start, outcome, seconds) {
      counter.inc({ function: fn, start, outcome });
      histogram.observe({ function: fn, start }, seconds);
    },
  };
}

test('prints what prom-client prints for the same invocations', async () => {
  const ours = new client.Registry();
  const metrics = new InvocationMetrics(ours);
  const theirs = reference();
  assert.equal(await ours.metrics(), await theirs.registry.metrics(), 'nothing recorded yet');
  // Values on bucket edges, between them, below the first and above the last.
  const seconds = [0, 0.0001, 0.00011, 0.0005, 0.003, 0.01, 0.7, 30, 31, 120];
  const outcomes: Outcome[] = ['ok', 'handler_error', 'timeout', 'crash', 'ok'];
  let i = 0;
  for (const fn of ['echo', 'lookup-node']) {
    for (const start of ['warm', 'cold'] as const) {
      for (const value of seconds) {
        const outcome = outcomes[i++ % outcomes.length]!;
        metrics.record(fn, start, outcome, value);
        theirs.record(fn, start, outcome, value);
      }
    }
  }
  metrics.record('only-warm', 'warm', 'ok', 0.002);
  theirs.record('only-warm', 'warm', 'ok', 0.002);
  const text = await ours.metrics();
  assert.equal(text, await theirs.registry.metrics());
  assert.match(text, /hearth_invocation_duration_seconds_bucket\{le="0.0005",function="echo",start="warm"\} 4\n/);
  assert.match(text, /hearth_invocations_total\{function="only-warm",start="warm",outcome="ok"\} 1\n/);
  assert.doesNotMatch(text, /function="only-warm",start="cold"/, 'a series with no observations is not printed');
});

test('reset empties every series, as the registry expects', async () => {
  const registry = new client.Registry();
  const metrics = new InvocationMetrics(registry);
  metrics.record('echo', 'warm', 'ok', 0.001);
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /function="echo"/);
});

test.run();
