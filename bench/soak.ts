// A long run at a steady 80% of peak throughput, the runtime and the agent each in its own
// process as in production: Go and Node functions over shared state, an exec function, and a
// Go function whose workers are recycled all along (so cold starts, cgroups and seeds churn
// the whole time). It measures peak throughput first, then runs for N minutes while sampling
// the runtime's and the agent's memory and fds; what it reports: every request accounted for
// (answered 200, answered otherwise, no answer, no answer within the timeout), the memory
// slopes by least squares, p99 per minute, fd growth.
import path from 'node:path';
import { GIB, ensureLookupState, EXAMPLES_DIR } from '../examples/state.js';
import { fdCount, rssMb, startAgent, stopAgent } from './lib/agent.js';
import { hey, type HeyResult } from './lib/hey.js';
import { writeResults } from './lib/results.js';
import { EXAMPLES, ServerProcess } from './lib/server.js';
import { round, slope } from './lib/stats.js';
import { ensureTool } from './lib/wrk.js';

interface Options {
  minutes: number;
  peakSeconds: number;
}

const SHARE_OF_PEAK = 0.8;
const SAMPLE_EVERY_MS = 5000;
/** Far past any function's timeout (5 s): a request without an answer by then is hung. */
const CLIENT_TIMEOUT_S = 15;
const STATE_BYTES = GIB / 16;

interface Load {
  name: string;
  spec: Record<string, unknown>;
  body: string;
  connections: number;
}

function loads(state: string): Load[] {
  const limits = { timeoutMs: 5000 };
  return [
    { name: 'lookup', spec: { kind: 'go', entry: `${EXAMPLES}/go-lookup`, state, pool: { min: 2, max: 2 }, limits: { ...limits, concurrency: 8, memoryMb: 128 } }, body: '12345', connections: 16 },
    { name: 'lookup-node', spec: { kind: 'node', entry: `${EXAMPLES}/node-lookup/index.ts`, state, pool: { min: 1, max: 2 }, limits: { ...limits, concurrency: 8, memoryMb: 256 } }, body: '12345', connections: 8 },
    { name: 'upper', spec: { kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 2, max: 2 }, limits: { ...limits, memoryMb: 32 } }, body: 'soak', connections: 4 },
    // A new worker every 5,000 invocations, for as long as the soak runs.
    { name: 'recycled', spec: { kind: 'go', entry: `${EXAMPLES}/go-echo`, pool: { min: 1, max: 2 }, limits: { ...limits, concurrency: 8, maxInvocations: 5000 } }, body: 'x'.repeat(64), connections: 8 },
  ];
}

interface Tally {
  requests: number;
  ok: number;
  wrongStatus: number;
  lost: number;
  hung: number;
  cancelled: number;
  errors: string[];
}

function add(tally: Tally, result: HeyResult): void {
  tally.requests += result.requests;
  tally.ok += result.statuses.get(200) ?? 0;
  tally.wrongStatus += [...result.statuses].filter(([status]) => status !== 200).reduce((sum, [, count]) => sum + count, 0);
  tally.lost += result.failures;
  tally.hung += result.timeouts;
  tally.cancelled += result.cancelled;
  tally.errors.push(...result.errorLines);
}

const emptyTally = (): Tally => ({ requests: 0, ok: 0, wrongStatus: 0, lost: 0, hung: 0, cancelled: 0, errors: [] });

/** Every function's load at once, for `seconds`; rates per function, or none for as fast as it goes. */
function runAll(server: ServerProcess, functions: Load[], seconds: number, rates?: Map<string, number>): Promise<HeyResult[]> {
  return Promise.all(
    functions.map((load) =>
      hey({ url: `${server.url}/v1/functions/${load.name}/invoke`, body: load.body, seconds, connections: load.connections, timeoutSeconds: CLIENT_TIMEOUT_S, ...(rates === undefined ? {} : { rate: rates.get(load.name)! }) }),
    ),
  );
}

interface Sample {
  minute: number;
  runtimeRss: number;
  agentRss: number;
  runtimeFds: number;
  agentFds: number;
}

export async function soak(options: Options): Promise<void> {
  ensureTool('hey', 'the soak benchmark');
  const state = await ensureLookupState(path.join(EXAMPLES_DIR, '.cache', 'lookup-64m.bin'), STATE_BYTES, (line) => process.stderr.write(`${line}\n`));
  const functions = loads(state);
  const server = await ServerProcess.start([], { echo: false });
  try {
    for (const load of functions) await server.deploy({ name: load.name, ...load.spec });
    const agent = await startAgent(server);
    try {
      // 1. Peak: every function as fast as it answers, all at once.
      const peak = await runAll(server, functions, options.peakSeconds);
      const peakTally = emptyTally();
      peak.forEach((result) => add(peakTally, result));
      const rates = new Map(functions.map((load, index) => [load.name, peak[index]!.rps * SHARE_OF_PEAK]));
      const peakRps = peak.reduce((sum, result) => sum + result.rps, 0);
      process.stderr.write(`soak: peak ${peakRps.toFixed(0)} req/s (${functions.map((load, index) => `${load.name} ${peak[index]!.rps.toFixed(0)}`).join(', ')}); running at ${SHARE_OF_PEAK * 100}% for ${options.minutes} min\n`);

      // 2. The soak: a minute at a time, sampling both processes every few seconds.
      const samples: Sample[] = [];
      const started = Date.now();
      const sample = (): void => {
        samples.push({ minute: (Date.now() - started) / 60_000, runtimeRss: rssMb(server.pid), agentRss: rssMb(agent.child.pid!), runtimeFds: fdCount(server.pid), agentFds: fdCount(agent.child.pid!) });
      };
      sample();
      const sampler = setInterval(sample, SAMPLE_EVERY_MS);
      const tally = emptyTally();
      const minutes: { minute: number; rps: number; p99_ms: Record<string, number> }[] = [];
      try {
        for (let minute = 1; minute <= options.minutes; minute++) {
          const results = await runAll(server, functions, 60, rates);
          results.forEach((result) => add(tally, result));
          const rps = results.reduce((sum, result) => sum + result.rps, 0);
          minutes.push({ minute, rps: round(rps, 0), p99_ms: Object.fromEntries(functions.map((load, index) => [load.name, round(results[index]!.p99_ms, 2)])) });
          const last = samples.at(-1)!;
          process.stderr.write(`soak: minute ${minute}/${options.minutes}: ${rps.toFixed(0)} req/s, p99 ${functions.map((load, index) => `${load.name} ${results[index]!.p99_ms.toFixed(1)}`).join(', ')} ms; runtime ${last.runtimeRss.toFixed(0)} MB, ${last.runtimeFds} fds; agent ${last.agentRss.toFixed(0)} MB, ${last.agentFds} fds\n`);
        }
      } finally {
        clearInterval(sampler);
      }
      sample();

      const perMinute = (pick: (entry: Sample) => number): number => round(slope(samples.map((entry) => [entry.minute, pick(entry)] as const)), 3);
      const secondHalf = samples.filter((entry) => entry.minute >= options.minutes / 2);
      const p99Spread = Object.fromEntries(
        functions.map((load) => {
          const values = minutes.map((entry) => entry.p99_ms[load.name]!);
          return [load.name, round(Math.max(...values) / Math.min(...values), 2)];
        }),
      );
      const first = samples[0]!;
      const last = samples.at(-1)!;
      const figures = {
        requests: tally.requests,
        lost: tally.lost,
        hung: tally.hung,
        wrong_status: tally.wrongStatus,
        runtime_rss_slope_mb_per_min: perMinute((entry) => entry.runtimeRss),
        agent_rss_slope_mb_per_min: perMinute((entry) => entry.agentRss),
        runtime_rss_slope_second_half_mb_per_min: round(slope(secondHalf.map((entry) => [entry.minute, entry.runtimeRss] as const)), 3),
        agent_rss_slope_second_half_mb_per_min: round(slope(secondHalf.map((entry) => [entry.minute, entry.agentRss] as const)), 3),
        runtime_rss_mb: { first: round(first.runtimeRss, 1), last: round(last.runtimeRss, 1), max: round(Math.max(...samples.map((entry) => entry.runtimeRss)), 1) },
        agent_rss_mb: { first: round(first.agentRss, 1), last: round(last.agentRss, 1), max: round(Math.max(...samples.map((entry) => entry.agentRss)), 1) },
        runtime_fds: { first: first.runtimeFds, last: last.runtimeFds, max: Math.max(...samples.map((entry) => entry.runtimeFds)) },
        agent_fds: { first: first.agentFds, last: last.agentFds, max: Math.max(...samples.map((entry) => entry.agentFds)) },
        runtime_fd_slope_per_min: perMinute((entry) => entry.runtimeFds),
        agent_fd_slope_per_min: perMinute((entry) => entry.agentFds),
        peak_rps: round(peakRps, 0),
        target_rps: round(peakRps * SHARE_OF_PEAK, 0),
        achieved_rps: round(tally.requests / (options.minutes * 60), 0),
        p99_ms_per_minute: minutes,
        p99_max_over_min: p99Spread,
        cut_at_run_end: tally.cancelled,
        errors: tally.errors.slice(0, 20),
        peak_phase: { requests: peakTally.requests, wrong_status: peakTally.wrongStatus, lost: peakTally.lost, hung: peakTally.hung, per_function_rps: Object.fromEntries(functions.map((load, index) => [load.name, round(peak[index]!.rps, 0)])) },
        setup: {
          minutes: options.minutes,
          peak_seconds: options.peakSeconds,
          share_of_peak: SHARE_OF_PEAK,
          sample_every_s: SAMPLE_EVERY_MS / 1000,
          samples: samples.length,
          client: `hey, ${functions.reduce((sum, load) => sum + load.connections, 0)} keep-alive connections, per-request timeout ${CLIENT_TIMEOUT_S} s`,
          functions: functions.map((load) => `${load.name}: ${String(load.spec['kind'])} ${path.basename(String(load.spec['entry']))}, ${JSON.stringify(load.spec['pool'])}, ${JSON.stringify(load.spec['limits'])}, ${load.connections} connections`),
        },
      };
      const p99Row = (name: string): (string | number)[] => [`p99 ${name} (ms), minute 1 … ${options.minutes}`, minutes.map((entry) => entry.p99_ms[name]).join(' · '), `max/min ${p99Spread[name]}`];
      writeResults(
        'soak',
        figures,
        {
          headers: ['measure', 'value', 'note'],
          rows: [
            ['requests', figures.requests, `at ${figures.achieved_rps} req/s; peak ${figures.peak_rps}, target ${figures.target_rps}`],
            ['lost (no response)', figures.lost, ''],
            ['hung (no response within 15 s)', figures.hung, ''],
            ['wrong status (not 200)', figures.wrong_status, ''],
            ['runtime RSS slope (MB/min), whole run / second half', `${figures.runtime_rss_slope_mb_per_min} / ${figures.runtime_rss_slope_second_half_mb_per_min}`, `${figures.runtime_rss_mb.first} → ${figures.runtime_rss_mb.last} MB`],
            ['agent RSS slope (MB/min), whole run / second half', `${figures.agent_rss_slope_mb_per_min} / ${figures.agent_rss_slope_second_half_mb_per_min}`, `${figures.agent_rss_mb.first} → ${figures.agent_rss_mb.last} MB`],
            ['runtime fds, first → last (max)', `${figures.runtime_fds.first} → ${figures.runtime_fds.last} (${figures.runtime_fds.max})`, `slope ${figures.runtime_fd_slope_per_min}/min`],
            ['agent fds, first → last (max)', `${figures.agent_fds.first} → ${figures.agent_fds.last} (${figures.agent_fds.max})`, `slope ${figures.agent_fd_slope_per_min}/min`],
            ...functions.map((load) => p99Row(load.name)),
          ],
        },
        [
          `\`hearth serve\` and \`hearth agent\` in their own processes; load from hey (Debian), one hey per function, all at once. Peak: ${options.peakSeconds} s as fast as each function answers; then each function at ${SHARE_OF_PEAK * 100}% of its own peak, one 60 s hey run per minute (hey paces each connection, so a slow answer delays the next request: p99 is a closed-loop figure).`,
          `Functions: ${figures.setup.functions.join('; ')}. State: a ${STATE_BYTES / 1024 ** 2} MiB lookup table shared by both lookups.`,
          `Memory and fds sampled every ${SAMPLE_EVERY_MS / 1000} s (${samples.length} samples) from /proc; slopes by least squares over the samples.`,
          'The machine has 2 cores, shared by the runtime, its workers, the agent and the load generator, and by other work on the host during the run: peak and p99 move with it.',
        ],
      );
    } finally {
      await stopAgent(agent);
    }
  } finally {
    await server.stop();
  }
}
