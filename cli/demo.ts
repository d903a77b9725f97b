// The demo (`npm start`): the runtime with the examples over 1 GiB of real state, the agent
// beside it, a short workload, and what the agent saw: cold starts phase by phase and
// flamegraphs. Here because it runs both programs in one process.
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

const options = {
  duration: { type: 'string' },
  requests: { type: 'string' },
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

interface Sample {
  ms: number;
  cold: boolean;
  startMs: number;
  origin: string;
}

/** Client-side latency of one invocation, with what the runtime says about it. */
async function timedInvoke(url: string, fn: string, body: string): Promise<Sample> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/functions/${fn}/invoke`, { method: 'POST', body });
  await response.arrayBuffer();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${fn} answered HTTP ${response.status}`);
  const startMs = Number(/start;dur=([\d.]+)/.exec(response.headers.get('server-timing') ?? '')?.[1] ?? 0);
  return { ms, cold: response.headers.get('x-hearth-start') === 'cold', startMs, origin: response.headers.get('x-hearth-origin') ?? '' };
}

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

function progress(line: string): void {
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
}

export const demo: Command<typeof options> = {
  name: 'demo',
  summary: 'run the demo (what `npm start` runs)',
  usage: 'hearth demo [--duration SECONDS] [--requests N] [--cold-starts N] [serve options]',
  help: `Starts the runtime with the examples deployed (a Go function and a Node/TypeScript function
over the same 1 GiB lookup table, generated once into examples/.cache, and a plain C binary)
and the agent beside it (as root, when the host offers eBPF), runs a short workload of warm
invocations and forced cold starts, prints per-function latency and the agent's cold-start
phases, writes flamegraphs (cold-start and steady-state, one HTML file each per function),
then keeps serving until Ctrl-C (or for --duration seconds).

Options:
  --duration SECONDS     stop by itself after the workload and this many seconds
  --requests N           warm invocations per function (default 300)
  --cold-starts N        forced cold starts per function (default 20)
  -o, --output DIR       where the flamegraphs go (default ./hearth-demo)
  --no-agent             run without the agent (no phases, no flamegraphs)
  --agent-port N         the agent's API and metrics (default 8701)
  -p, --port N           port (default 8700)
${SERVE_OPTIONS_HELP.split('\n').filter((line) => /--(host|state-backend|stem-cells|cache|log-level)|^\s{10,}/.test(line)).join('\n')}`,
  options,
  async run(values) {
    const requests = intOption(values, 'requests', 300, 1);
    const coldStarts = intOption(values, 'cold-starts', 20, 1);
    const duration = values['duration'] === undefined ? undefined : intOption(values, 'duration', 0);
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
    const agentNote = await startAgent(values, runtime, (started) => (agent = started));
    const specs = readManifestFile(path.join(EXAMPLES_DIR, 'hearth.json'));
    for (const spec of specs) {
      const started = performance.now();
      await deployExample(runtime, spec);
      progress(`deployed ${spec.name} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }

    const bodies: Record<string, () => string> = {
      lookup: () => String(Math.floor(Math.random() * 16_777_216)),
      'lookup-node': () => String(Math.floor(Math.random() * 16_777_216)),
      upper: () => 'hello from the demo',
    };
    const rows: (string | number)[][] = [];
    for (const spec of specs) {
      const body = bodies[spec.name] ?? (() => '');
      const warm: number[] = [];
      for (let i = 0; i < requests; i++) {
        warm.push((await timedInvoke(runtime.url, spec.name, body())).ms);
        if (i % 50 === 0) progress(`${spec.name}: warm ${i}/${requests}`);
      }
      // Forced cold starts: no idle worker, so each request waits for a fresh one.
      const pool = runtime.registry.get(spec.name)!;
      const saved = pool.settings;
      runtime.registry.configurePool(spec.name, { ...saved, min: 0, keepAliveMs: 0 });
      const cold: Sample[] = [];
      const spares = (): boolean => runtime.seedsReady() > 0 && (spec.kind !== 'node' || runtime.options.stemCells === 0 || runtime.stemCellsReady() > 0);
      for (let i = 0; i < coldStarts; i++) {
        while (pool.listWorkers().length > 0 || !spares()) await new Promise((resolve) => setTimeout(resolve, 5));
        cold.push(await timedInvoke(runtime.url, spec.name, body()));
        progress(`${spec.name}: cold start ${i + 1}/${coldStarts}`);
      }
      runtime.registry.configurePool(spec.name, saved);
      const state = pool.current.state;
      rows.push([
        spec.name,
        spec.kind,
        state === undefined ? '-' : `${formatBytes(state.size)} ${state.backend}`,
        `${ms(percentile(warm, 50))} / ${ms(percentile(warm, 99))}`,
        `${ms(percentile(cold.map((sample) => sample.ms), 50))} / ${ms(percentile(cold.map((sample) => sample.ms), 99))}`,
        ms(percentile(cold.map((sample) => sample.startMs), 50)),
        summariseOrigins(cold),
      ]);
    }
    progress('');
    let report =
      `\nHearth demo: ${requests} warm invocations and ${coldStarts} cold starts per function (latency at the client, p50 / p99)\n\n` +
      table(['FUNCTION', 'KIND', 'STATE', 'WARM', 'COLD', 'START (p50)', 'STARTED FROM'], rows) +
      '\n';
    if (agent !== undefined) {
      // Let the last cold starts settle into records and the last samples be read.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const stats = agent.store.functions().map((fn) => agent!.store.stats(fn));
      report += `\nCold starts phase by phase, measured in the kernel by the agent (ms; hearth coldstarts for each one):\n\n${percentiles(stats)}\n`;
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
        (agent === undefined ? '' : `The agent's web UI (cold-start waterfalls, pools, flamegraphs): ${agent.url}/\n  and its API: ${agent.url}/metrics, ${agent.url}/v1/coldstarts, ${agent.url}/v1/profiles (hearth coldstarts, hearth profile)\n`) +
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

/** Starts the agent in this process when it can run; otherwise says why not. */
async function startAgent(values: Record<string, unknown>, runtime: Runtime, started: (agent: Agent) => void): Promise<string> {
  if (values['no-agent'] === true) return 'The agent was left out (--no-agent).';
  const host = checkHost();
  if (!host.ok) return `The agent did not start, so there are no phases or flamegraphs: ${host.missing}`;
  const defaults = defaultAgentOptions();
  const agent = new Agent({
    ...defaults,
    runtimeUrl: runtime.url,
    token: runtime.token,
    port: intOption(values, 'agent-port', defaults.port),
    logger: createLogger('warn'),
    // The workload empties pools to force cold starts: the tuner only recommends meanwhile.
    tuner: { mode: 'dry-run' },
  });
  try {
    await agent.start();
  } catch (error) {
    await agent.stop();
    return `The agent did not start, so there are no phases or flamegraphs: ${(error as Error).message}`;
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
