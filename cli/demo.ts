// The demo (`npm start`): the runtime with the examples over 1 GiB of real state, the agent
// beside it, forced cold starts, then a time-compressed slice of a real trace (demo-replay.ts),
// and what the agent saw and did: cold starts phase by phase, flamegraphs, the pool and GC
// settings its tuner chose. Here because it runs both programs in one process.
import fs from 'node:fs';
import path from 'node:path';
import { Agent, defaultAgentOptions } from '../agent/agent.js';
import { checkHost } from '../agent/bpf/index.js';
import { percentiles } from '../agent/cli/coldstarts.js';
import { exportProfile } from '../agent/profile/export/index.js';
import type { ProfilePhase } from '../agent/profile/model.js';
import { EXAMPLES_DIR, GIB, LOOKUP_STATE, ensureLookupState } from '../examples/state.js';
import { readManifestFile } from '../runtime/manifest/parse.js';
import { RUNTIME_USER, type FunctionSpec } from '../runtime/manifest/spec.js';
import { Runtime } from '../runtime/runtime.js';
import { formatBytes } from '../runtime/state/store.js';
import { intOption, table, type Command } from '../shared/command.js';
import { HearthError } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { SERVE_OPTIONS_HELP, runtimeOptions } from '../runtime/cli/serve.js';
import { DEMO_MAPPING, DEMO_TRACE, type DemoReplay, demoReplay, describeSlice, type ReplayOutcome, runReplay, type Sample, timedInvoke } from './demo-replay.js';
import { tunerReport } from './demo-tuner.js';

/** How often the demo's tuner asks the GC advisor (the default, once a minute, would hardly answer within the replay). */
const DEMO_GC_EVERY_MS = 10_000;

const options = {
  duration: { type: 'string' },
  'trace-from': { type: 'string' },
  'trace-minutes': { type: 'string' },
  compression: { type: 'string' },
  'cold-starts': { type: 'string' },
  output: { type: 'string', short: 'o' },
  'no-agent': { type: 'boolean' },
  'agent-port': { type: 'string' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'state-backend': { type: 'string' },
  'stem-cells': { type: 'string' },
  cache: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ms = (value: number): string => (Number.isNaN(value) ? '-' : value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`);

function summariseOrigins(samples: Sample[]): string {
  const counts = new Map<string, number>();
  for (const sample of samples) counts.set(sample.cold ? sample.origin : 'warm', (counts.get(sample.cold ? sample.origin : 'warm') ?? 0) + 1);
  return [...counts].map(([origin, count]) => `${count} ${origin}`).join(', ');
}

/**
 * Deploys an example. In a checkout that other users cannot search (one under /root), the
 * examples' own users cannot reach their code: the demo then says so and runs them as the
 * runtime's user, rather than stopping.
 */
async function deployExample(runtime: Runtime, spec: FunctionSpec): Promise<void> {
  const onProgress = (message: string): void => progress(`deploy ${spec.name}: ${message}`);
  try {
    await runtime.registry.deploy(spec, { onProgress });
  } catch (error) {
    if (!(error instanceof HearthError) || error.code !== 'HEARTH_ERR_ISOLATION' || spec.isolation.user !== undefined) throw error;
    process.stderr.write(`${error.message}\n  the demo runs ${spec.name} as the runtime's own user instead; in a checkout every user can search (under /opt, say) it runs as a user of its own\n`);
    await runtime.registry.deploy({ ...spec, isolation: { ...spec.isolation, user: RUNTIME_USER } }, { onProgress });
  }
}

/** A status line: on a terminal it replaces the previous one (end it with a newline to keep it); elsewhere each is a line of its own. */
function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (line.trim() !== '') process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
}

export const demo: Command<typeof options> = {
  name: 'demo',
  summary: 'run the demo (what `npm start` runs)',
  usage: 'hearth demo [--duration SECONDS] [--trace-minutes N] [--compression C] [--cold-starts N] [serve options]',
  help: `Starts the runtime with the examples deployed (a Go function and a Node/TypeScript function
over the same 1 GiB lookup table, generated once into examples/.cache, and a plain C binary)
and the agent beside it (as root, when the host offers eBPF). Forces a few cold starts of each
function (for the phases and the cold-start flamegraphs), then replays a slice of a real
trace: the Azure Functions 2019 sample in test/fixtures/traces/azure2019-sample20, three of
its functions mapped onto the examples:

${DEMO_MAPPING.map((mapping) => `  ${mapping.traceFunction.slice(0, 8)} → ${mapping.example.padEnd(11)} ${mapping.pattern}`).join('\n')}

By default trace minutes 0–180 (the first three hours of its day) at 150× (a trace minute in
0.4 s): about 72 s. Arrivals within a trace minute are spread as a Poisson process (seeded, so
every run sends the same schedule); the examples do their own work, so the trace's execution
times are not replayed. The agent's tuner runs during the replay with the same compression,
so its windows shrink alike. A progress line on stderr shows the trace minute reached and the
requests sent, answered, cold and failed. Then it prints per function the replay's requests
and latency, the cold starts phase by phase (p50/p99), the pool and GC settings the tuner
chose beside the function's own with its latest reason, the flamegraph files (cold-start and
steady-state, one HTML file each per function) and the URLs of the web UI and /metrics, and
keeps serving until Ctrl-C (or for --duration seconds). Ctrl-C removes every worker, mapping,
mount and BPF link.

Options:
  --duration SECONDS     stop by itself this many seconds after the report
  --trace-minutes N      trace minutes to replay (default 180)
  --trace-from MINUTE    the slice's first trace minute, 0–1439 (default 0: midnight)
  --compression C        trace time per replay time (default 150: 180 minutes in 72 s)
  --cold-starts N        forced cold starts per function before the replay (default 20)
  -o, --output DIR       where the flamegraphs go (default ./hearth-demo)
  --no-agent             run without the agent (no phases, no tuner, no flamegraphs)
  --agent-port N         the agent's API and metrics (default 8701)
  -p, --port N           port (default 8700)
${SERVE_OPTIONS_HELP.split('\n').filter((line) => /--(host|state-backend|stem-cells|cache|log-level)|^\s{10,}/.test(line)).join('\n')}`,
  options,
  async run(values) {
    const coldStarts = intOption(values, 'cold-starts', 20, 1);
    const duration = values['duration'] === undefined ? undefined : intOption(values, 'duration', 0);
    const replay = demoReplay(intOption(values, 'trace-from', 0), intOption(values, 'trace-minutes', 180, 1), intOption(values, 'compression', 150, 1));
    const output = path.resolve((values['output'] as string | undefined) ?? 'hearth-demo');
    const runtime = new Runtime({ ...runtimeOptions({ 'log-level': 'warn', ...values }), nodePerfMaps: true });
    let agent: Agent | undefined;
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= (agent?.stop() ?? Promise.resolve()).then(() => runtime.stop()));
    process.on('SIGINT', () => void stop().then(() => process.exit(0)));
    process.on('SIGTERM', () => void stop().then(() => process.exit(0)));

    progress('preparing the 1 GiB lookup table (generated once)…');
    await ensureLookupState(LOOKUP_STATE, GIB, (line) => progress(line));
    await runtime.start();
    const agentNote = await startAgent(values, runtime, replay.compression, (started) => (agent = started));
    const specs = readManifestFile(path.join(EXAMPLES_DIR, 'hearth.json'));
    for (const spec of specs) {
      const started = performance.now();
      await deployExample(runtime, spec);
      progress(`deployed ${spec.name} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }

    const body = (fn: string): string => (fn === 'upper' ? 'hello from the demo' : String(Math.floor(Math.random() * 16_777_216)));
    const forced = new Map<string, Sample[]>();
    for (const spec of specs) forced.set(spec.name, await forceColdStarts(runtime, spec, coldStarts, () => body(spec.name)));
    // The tuner follows the replay only: the forced cold starts above set pools it should not learn from.
    const tunerNote = await agent?.tuner.setMode('on').then(
      () => '',
      (error: Error) => `The tuner did not start, so it chose nothing: ${error.message}\n`,
    );
    progress(`replaying ${path.basename(DEMO_TRACE)}, ${describeSlice(replay)}\n`);
    const replayed = await runReplay(runtime.url, replay, body, (line, final) => progress(final ? `${line}\n` : line));

    let report = `\nHearth demo: ${replayed.functions.reduce((sum, fn) => sum + fn.sent, 0)} requests replayed from ${path.basename(DEMO_TRACE)}, ${describeSlice(replay)} (took ${replayed.wallSeconds.toFixed(0)} s; latency at the client, p50 / p99)\n\n`;
    report += replayTable(runtime, specs, replay, replayed) + '\n';
    const failures = replayed.functions.flatMap((fn) => fn.errors.map((error) => `  ${fn.name}: ${error}`));
    if (failures.length > 0) report += `\nFailed requests (the first few of each function):\n${failures.join('\n')}\n`;
    report += `\nForced cold starts before the replay: ${coldStarts} per function, each request to an empty pool\n\n${coldStartTable(specs, forced)}\n`;
    if (agent !== undefined) {
      // Let the last cold starts settle into records and the last samples be read.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const stats = agent.store.functions().map((fn) => agent!.store.stats(fn));
      report += `\nCold starts phase by phase, measured in the kernel by the agent (ms; hearth coldstarts for each one):\n\n${percentiles(stats)}\n`;
      report += `\n${tunerNote || tunerReport(agent.tuner, specs)}`;
      const files = writeFlamegraphs(agent, specs.map((spec) => spec.name), output);
      report += files.length === 0 ? '\nNo CPU samples yet, so no flamegraphs.\n' : `\nFlamegraphs (open in a browser):\n${files.map((file) => `  ${file}`).join('\n')}\n`;
    } else {
      report += `\n${agentNote}\n`;
    }
    process.stdout.write(
      report +
        `\nThe runtime is serving at ${runtime.url}\n` +
        `  curl -X POST ${runtime.url}/v1/functions/lookup/invoke -d 12345\n` +
        `  ${runtime.url}/metrics\n` +
        `  control API token: ${runtime.options.runBase}/port-${new URL(runtime.url).port}.token (hearth ls, hearth workers)\n` +
        (agent === undefined ? '' : `The agent's web UI (cold-start waterfalls, pools, flamegraphs): ${agent.url}/\n  and its API: ${agent.url}/metrics, ${agent.url}/v1/coldstarts, ${agent.url}/v1/profiles, ${agent.url}/v1/tuner/status (hearth coldstarts, hearth profile, hearth tuner)\n`) +
        (duration === undefined ? 'Ctrl-C stops it and removes every worker, mapping and mount.\n' : `Stopping in ${duration} s.\n`),
    );
    if (duration !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, duration * 1000));
      await stop();
      return 0;
    }
    await new Promise(() => undefined);
    return 0;
  },
};

/** `count` cold starts of `spec`: with no idle worker, no keep-alive and no spare, each request waits for a fresh worker. The function's own pool settings are back afterwards. */
async function forceColdStarts(runtime: Runtime, spec: FunctionSpec, count: number, body: () => string): Promise<Sample[]> {
  const pool = runtime.registry.get(spec.name)!;
  const saved = pool.settings;
  runtime.registry.configurePool(spec.name, { ...saved, min: 0, keepAliveMs: 0, spare: 0 });
  const cold: Sample[] = [];
  const spares = (): boolean => runtime.seedsReady() > 0 && (spec.kind !== 'node' || runtime.options.stemCells === 0 || runtime.stemCellsReady() > 0);
  try {
    for (let i = 0; i < count; i++) {
      while (pool.listWorkers().length > 0 || !spares()) await new Promise((resolve) => setTimeout(resolve, 5));
      cold.push(await timedInvoke(runtime.url, spec.name, body()));
      progress(`${spec.name}: cold start ${i + 1}/${count}`);
    }
  } finally {
    runtime.registry.configurePool(spec.name, saved);
  }
  return cold;
}

/** Per function: the trace function it replays, requests, failures, cold starts and latency. */
function replayTable(runtime: Runtime, specs: readonly FunctionSpec[], replay: DemoReplay, replayed: ReplayOutcome): string {
  const rows = specs.map((spec) => {
    const state = runtime.registry.get(spec.name)?.current.state;
    const index = DEMO_MAPPING.findIndex((mapping) => mapping.example === spec.name);
    const fn = replayed.functions[index];
    const traced = DEMO_MAPPING[index];
    return [
      spec.name,
      spec.kind,
      state === undefined ? '-' : `${formatBytes(state.size)} ${state.backend}`,
      traced === undefined ? '-' : `${traced.traceFunction.slice(0, 8)} ${traced.pattern.split(':')[0]}`,
      fn === undefined ? '-' : `${fn.answered}/${fn.sent}`,
      fn?.failed ?? '-',
      fn?.coldStarts ?? '-',
      fn === undefined ? '-' : `${ms(percentile(fn.warmMs, 50))} / ${ms(percentile(fn.warmMs, 99))}`,
      fn === undefined ? '-' : `${ms(percentile(fn.coldMs, 50))} / ${ms(percentile(fn.coldMs, 99))}`,
    ];
  });
  const patterns = DEMO_MAPPING.map((mapping, i) => `  ${mapping.traceFunction.slice(0, 8)} → ${mapping.example}: ${mapping.pattern}; ${replay.trace.functions[i]!.invocations} calls in the slice`).join('\n');
  return `${table(['FUNCTION', 'KIND', 'STATE', 'TRACE FUNCTION', 'ANSWERED', 'FAILED', 'COLD', 'WARM', 'COLD LATENCY'], rows)}\n\n${patterns}`;
}

function coldStartTable(specs: readonly FunctionSpec[], forced: Map<string, Sample[]>): string {
  const rows = specs.map((spec) => {
    const cold = forced.get(spec.name) ?? [];
    return [
      spec.name,
      `${ms(percentile(cold.map((sample) => sample.ms), 50))} / ${ms(percentile(cold.map((sample) => sample.ms), 99))}`,
      ms(percentile(cold.map((sample) => sample.startMs), 50)),
      summariseOrigins(cold),
    ];
  });
  return table(['FUNCTION', 'COLD', 'START (p50)', 'STARTED FROM'], rows);
}

/** Starts the agent in this process when it can run; otherwise says why not. */
async function startAgent(values: Record<string, unknown>, runtime: Runtime, compression: number, started: (agent: Agent) => void): Promise<string> {
  if (values['no-agent'] === true) return 'The agent was left out (--no-agent).';
  const host = checkHost();
  if (!host.ok) return `The agent did not start, so there are no phases, tuner or flamegraphs: ${host.missing}`;
  const defaults = defaultAgentOptions();
  const agent = new Agent({
    ...defaults,
    runtimeUrl: runtime.url,
    token: runtime.token,
    port: intOption(values, 'agent-port', defaults.port),
    // Off until the replay: then on, its windows compressed like the replay's clock, and the GC advisor asked often enough to answer within it.
    tuner: { ...defaults.tuner, mode: 'off', compression, gcEveryMs: DEMO_GC_EVERY_MS },
    logger: createLogger('warn'),
  });
  try {
    await agent.start();
  } catch (error) {
    await agent.stop();
    return `The agent did not start, so there are no phases, tuner or flamegraphs: ${(error as Error).message}`;
  }
  started(agent);
  progress(`agent: tracing the runtime's workers, serving ${agent.url}\n`);
  return '';
}

/** Each function's cold-start and steady-state flamegraph that has samples, as HTML files. */
function writeFlamegraphs(agent: Agent, functions: string[], dir: string): string[] {
  const profiler = agent.profiler;
  if (profiler === undefined) return [];
  profiler.collect();
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const fn of functions) {
    for (const phase of ['cold', 'steady'] as ProfilePhase[]) {
      const profile = profiler.profile(fn, phase);
      if (profile.samples.length === 0) continue;
      const { body, extension } = exportProfile(profile, 'html');
      const file = path.join(dir, `${fn}-${phase}.${extension}`);
      fs.writeFileSync(file, body);
      files.push(`${file}  (${profile.samples.reduce((sum, sample) => sum + sample.count, 0)} samples, ${phase === 'cold' ? 'cold starts' : 'warm workers'})`);
    }
  }
  return files;
}
