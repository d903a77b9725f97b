// GC tuning, measured: the allocation-heavy examples under their memory limit
// (examples/gc.json), each deployed twice in one runtime, one left at the runtime's
// defaults and one tuned by the GC advisor (its advice applied with PATCH, round after
// round until it has nothing more to say), then driven in interleaved blocks: Go, CPU per
// request (the worker's /proc CPU time over the requests it answered), latency, peak
// cgroup memory and OOM kills; Node, throughput and latency.
import { RuntimeClient } from '../agent/runtime-client.js';
import { createGcAdvisor } from '../agent/tuner/gc/advisor.js';
import type { GcAdvice, GcAdvisor, GcSettings } from '../agent/tuner/gc-advice.js';
import type { FunctionStats } from '../shared/api.js';
import { RawClient } from './lib/http.js';
import { refreshTunerGcKeys } from './lib/gc-keys.js';
import { writeResults } from './lib/results.js';
import { EXAMPLES, ServerProcess } from './lib/server.js';
import { median, percentile, round } from './lib/stats.js';

export interface GcBenchOptions {
  /** Interleaved rounds: each runs one block of every configuration, the order alternating. */
  rounds: number;
  blockSeconds: number;
  /** Client connections per block. */
  clients: number;
}

const LIMIT_MB = 256;
const MAX_ADVICE_ROUNDS = 4;
const TUNING_BLOCK_MS = 8000;
/** The advisor's cool-down and windows shortened to the benchmark's blocks; its policy is the default one. */
const ADVISOR_OPTIONS = { cooldownMs: 2000, shareWindowMs: TUNING_BLOCK_MS };

interface Kind {
  kind: 'go' | 'node';
  entry: string;
  concurrency: number;
  body: (i: number) => string;
}

const GO: Kind = { kind: 'go', entry: `${EXAMPLES}/go-recommend`, concurrency: 2, body: (i) => String((i * 7919) % 150_000) };
const NODE: Kind = { kind: 'node', entry: `${EXAMPLES}/node-feed/index.ts`, concurrency: 1, body: (i) => String(i % 10_000) };

interface Block {
  requests: number;
  failed: number;
  seconds: number;
  cpuSeconds: number;
  latenciesMs: number[];
}

interface Series {
  blocks: Block[];
  peakBytes: number;
}

export interface GcBenchFigures {
  gc: {
    go: {
      cpu_per_req_ratio: number;
      /** The lowest and highest of the rounds' ratios. */
      cpu_per_req_ratio_range: [number, number];
      oom_kills: number;
      peak_mb: number;
      limit_mb: number;
      cpu_per_req_ms_default: number;
      cpu_per_req_ms_tuned: number;
      p50_ms_default: number;
      p50_ms_tuned: number;
      p99_ms_default: number;
      p99_ms_tuned: number;
      peak_mb_default: number;
      oom_kills_default: number;
      failed_requests: number;
      requests: number;
      gc_share_default: number;
      gc_share_tuned: number;
      settings: GcSettings;
    };
    node: {
      throughput_ratio: number;
      throughput_ratio_range: [number, number];
      req_per_s_default: number;
      req_per_s_tuned: number;
      p99_ms_default: number;
      p99_ms_tuned: number;
      peak_mb_default: number;
      peak_mb_tuned: number;
      oom_kills: number;
      failed_requests: number;
      requests: number;
      settings: GcSettings;
    };
  };
  advice: { function: string; reason: string; settings: GcSettings; inputs: GcAdvice['inputs'] }[];
  setup: { rounds: number; block_seconds: number; clients: number; limit_mb: number; share_source: string };
}

/** Keeps `clients` requests in flight for `seconds`; per-request latency at the client. */
async function drive(server: ServerProcess, fn: string, kind: Kind, seconds: number, clients: number, offset: number): Promise<Omit<Block, 'cpuSeconds'>> {
  const connections = await Promise.all(Array.from({ length: clients }, () => RawClient.connect(server.port)));
  const latenciesMs: number[] = [];
  let failed = 0;
  let next = offset;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    connections.map(async (client) => {
      while (performance.now() < end) {
        const reply = await client.post(`/v1/functions/${fn}/invoke`, kind.body(next++));
        if (reply.status === 200) latenciesMs.push(reply.ms);
        else failed++;
      }
    }),
  );
  for (const client of connections) client.close();
  return { requests: latenciesMs.length, failed, seconds: (performance.now() - started) / 1000, latenciesMs };
}

function cpuOf(stats: FunctionStats): number {
  return stats.workers.reduce((sum, worker) => sum + (worker.cpuSeconds ?? 0), 0);
}

function peakOf(stats: FunctionStats): number {
  return Math.max(0, ...stats.workers.map((worker) => worker.peakMemoryBytes ?? 0));
}

/** One measured block: the function's worker CPU time around the load. */
async function block(server: ServerProcess, client: RuntimeClient, fn: string, kind: Kind, options: GcBenchOptions, offset: number, series: Series): Promise<void> {
  const before = await client.functionStats(fn);
  const load = await drive(server, fn, kind, options.blockSeconds, options.clients, offset);
  const after = await client.functionStats(fn);
  const pids = (stats: FunctionStats): string => stats.workers.map((worker) => worker.pid).sort().join(',');
  if (pids(before) !== pids(after)) throw new Error(`${fn}: its workers changed during a block (${pids(before)} → ${pids(after)}); see the server log`);
  series.blocks.push({ ...load, cpuSeconds: cpuOf(after) - cpuOf(before) });
  series.peakBytes = Math.max(series.peakBytes, peakOf(after));
}

/** Asks the advisor, with load between, and applies its advice until it has none (or MAX_ADVICE_ROUNDS). */
async function tune(server: ServerProcess, client: RuntimeClient, advisor: GcAdvisor, fn: string, kind: Kind, log: GcBenchFigures['advice']): Promise<GcSettings> {
  const look = async (): Promise<GcAdvice | undefined> => {
    const stats = await client.functionStats(fn);
    return advisor.advise({ name: fn, kind: kind.kind, gc: stats.gc, memoryLimitMb: stats.memoryLimitMb }, performance.now());
  };
  await look();
  for (let round = 0; round < MAX_ADVICE_ROUNDS; round++) {
    await drive(server, fn, kind, TUNING_BLOCK_MS / 1000, 2, round * 100_000);
    const advice = await look();
    if (advice === undefined) break;
    process.stderr.write(`tuner-gc: ${fn}: ${advice.reason}\n`);
    log.push({ function: fn, reason: advice.reason, settings: advice.settings, inputs: advice.inputs });
    await server.api('PATCH', `/v1/functions/${fn}`, { gc: advice.settings });
    // Node rolls to new workers: measure only once they alone serve.
    await waitForVersion(server, fn);
    await look();
  }
  return (await client.functionStats(fn)).gc;
}

async function waitForVersion(server: ServerProcess, fn: string): Promise<void> {
  const { version } = await server.api<{ version: number }>('GET', `/v1/functions/${fn}`);
  for (let waited = 0; waited < 30_000; waited += 100) {
    const workers = (await server.api<{ workers: { version: number; status: string }[] }>('GET', `/v1/workers?function=${fn}`)).workers;
    if (workers.length > 0 && workers.every((worker) => worker.version === version && (worker.status === 'idle' || worker.status === 'busy'))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${fn}: version ${version} did not take over within 30 s`);
}

const emptySeries = (): Series => ({ blocks: [], peakBytes: 0 });
const all = (series: Series): number[] => series.blocks.flatMap((entry) => entry.latenciesMs);
const sum = (series: Series, pick: (entry: Block) => number): number => series.blocks.reduce((total, entry) => total + pick(entry), 0);

/** Each round's tuned / default, the round's two blocks side by side. */
function ratios(tuned: Series, base: Series, measure: (entry: Block) => number): number[] {
  return tuned.blocks.map((entry, i) => measure(entry) / measure(base.blocks[i]!));
}

/** The median of the rounds' ratios, and their spread. */
function ratio(tuned: Series, base: Series, measure: (entry: Block) => number): { median: number; min: number; max: number } {
  const each = ratios(tuned, base, measure);
  return { median: round(median(each), 4), min: round(Math.min(...each), 4), max: round(Math.max(...each), 4) };
}

/** GC CPU over busy CPU of a Go function's worker between two readings, from the Go runtime's own counters. */
function goGcShare(from: FunctionStats, to: FunctionStats): number {
  const pick = (stats: FunctionStats, key: string): number => Number(stats.workers[0]?.sdk?.[key] ?? NaN);
  return round((pick(to, 'gcCpuSeconds') - pick(from, 'gcCpuSeconds')) / (pick(to, 'busyCpuSeconds') - pick(from, 'busyCpuSeconds')), 4);
}

export async function measureGcTuning(options: GcBenchOptions): Promise<GcBenchFigures> {
  const server = await ServerProcess.start([], { echo: false });
  const client = new RuntimeClient(server.url, server.token);
  try {
    for (const [name, kind] of [['go-default', GO], ['go-tuned', GO], ['node-default', NODE], ['node-tuned', NODE]] as const) {
      await server.deploy({ name, kind: kind.kind, entry: kind.entry, pool: { min: 1, max: 1, keepAliveMs: 3_600_000 }, limits: { memoryMb: LIMIT_MB, concurrency: kind.concurrency, timeoutMs: 10_000 } });
    }
    const advice: GcBenchFigures['advice'] = [];
    const advisor = createGcAdvisor({ runtime: client, options: ADVISOR_OPTIONS });
    process.stderr.write('tuner-gc: tuning go-tuned and node-tuned with the GC advisor\n');
    const goSettings = await tune(server, client, advisor, 'go-tuned', GO, advice);
    const nodeSettings = await tune(server, client, advisor, 'node-tuned', NODE, advice);
    // The defaults get the same warm-up.
    await drive(server, 'go-default', GO, TUNING_BLOCK_MS / 1000, 2, 0);
    await drive(server, 'node-default', NODE, TUNING_BLOCK_MS / 1000, 2, 0);
    const goShareStart = { base: await client.functionStats('go-default'), tuned: await client.functionStats('go-tuned') };

    const series = { goBase: emptySeries(), goTuned: emptySeries(), nodeBase: emptySeries(), nodeTuned: emptySeries() };
    for (let r = 0; r < options.rounds; r++) {
      // ABBA: alternate which goes first, so drift on a shared machine hits both alike.
      const goOrder = r % 2 === 0 ? (['go-default', 'go-tuned'] as const) : (['go-tuned', 'go-default'] as const);
      for (const fn of goOrder) await block(server, client, fn, GO, options, r * 10_000, fn === 'go-default' ? series.goBase : series.goTuned);
      const nodeOrder = r % 2 === 0 ? (['node-default', 'node-tuned'] as const) : (['node-tuned', 'node-default'] as const);
      for (const fn of nodeOrder) await block(server, client, fn, NODE, options, r * 10_000, fn === 'node-default' ? series.nodeBase : series.nodeTuned);
      const last = (s: Series): Block => s.blocks.at(-1)!;
      process.stderr.write(
        `tuner-gc: round ${r + 1}/${options.rounds}: Go CPU/request ${((last(series.goBase).cpuSeconds / last(series.goBase).requests) * 1000).toFixed(3)} → ${((last(series.goTuned).cpuSeconds / last(series.goTuned).requests) * 1000).toFixed(3)} ms; Node ${(last(series.nodeBase).requests / last(series.nodeBase).seconds).toFixed(0)} → ${(last(series.nodeTuned).requests / last(series.nodeTuned).seconds).toFixed(0)} req/s\n`,
      );
    }
    const end = { goBase: await client.functionStats('go-default'), goTuned: await client.functionStats('go-tuned'), nodeBase: await client.functionStats('node-default'), nodeTuned: await client.functionStats('node-tuned') };
    const cpuPerRequest = (entry: Block): number => entry.cpuSeconds / entry.requests;
    const throughput = (entry: Block): number => entry.requests / entry.seconds;
    const ms = (value: number): number => round(value, 3);
    const mb = (bytes: number): number => round(bytes / 1048576, 1);
    const goRatio = ratio(series.goTuned, series.goBase, cpuPerRequest);
    const nodeRatio = ratio(series.nodeTuned, series.nodeBase, throughput);
    const requests = (...list: Series[]): number => list.reduce((total, entry) => total + sum(entry, (one) => one.requests), 0);
    return {
      gc: {
        go: {
          cpu_per_req_ratio: goRatio.median,
          cpu_per_req_ratio_range: [goRatio.min, goRatio.max],
          oom_kills: end.goTuned.oomKills,
          peak_mb: mb(series.goTuned.peakBytes),
          limit_mb: LIMIT_MB,
          cpu_per_req_ms_default: ms((sum(series.goBase, (entry) => entry.cpuSeconds) / sum(series.goBase, (entry) => entry.requests)) * 1000),
          cpu_per_req_ms_tuned: ms((sum(series.goTuned, (entry) => entry.cpuSeconds) / sum(series.goTuned, (entry) => entry.requests)) * 1000),
          p50_ms_default: ms(median(all(series.goBase))),
          p50_ms_tuned: ms(median(all(series.goTuned))),
          p99_ms_default: ms(percentile(all(series.goBase), 99)),
          p99_ms_tuned: ms(percentile(all(series.goTuned), 99)),
          peak_mb_default: mb(series.goBase.peakBytes),
          oom_kills_default: end.goBase.oomKills,
          failed_requests: sum(series.goBase, (entry) => entry.failed) + sum(series.goTuned, (entry) => entry.failed),
          requests: requests(series.goBase, series.goTuned),
          gc_share_default: goGcShare(goShareStart.base, end.goBase),
          gc_share_tuned: goGcShare(goShareStart.tuned, end.goTuned),
          settings: goSettings,
        },
        node: {
          throughput_ratio: nodeRatio.median,
          throughput_ratio_range: [nodeRatio.min, nodeRatio.max],
          req_per_s_default: round(median(series.nodeBase.blocks.map(throughput)), 1),
          req_per_s_tuned: round(median(series.nodeTuned.blocks.map(throughput)), 1),
          p99_ms_default: ms(percentile(all(series.nodeBase), 99)),
          p99_ms_tuned: ms(percentile(all(series.nodeTuned), 99)),
          peak_mb_default: mb(series.nodeBase.peakBytes),
          peak_mb_tuned: mb(series.nodeTuned.peakBytes),
          oom_kills: end.nodeTuned.oomKills,
          failed_requests: sum(series.nodeBase, (entry) => entry.failed) + sum(series.nodeTuned, (entry) => entry.failed),
          requests: requests(series.nodeBase, series.nodeTuned),
          settings: nodeSettings,
        },
      },
      advice,
      setup: { rounds: options.rounds, block_seconds: options.blockSeconds, clients: options.clients, limit_mb: LIMIT_MB, share_source: 'sdk (the benchmark runs no agent)' },
    };
  } finally {
    await server.stop();
  }
}

export async function tunerGc(options: GcBenchOptions): Promise<void> {
  const figures = await measureGcTuning(options);
  const { go, node } = figures.gc;
  const met = (ok: boolean): string => (ok ? 'met' : 'not met');
  const nodeStart = figures.advice.find((entry) => entry.function === 'node-tuned')?.inputs;
  writeResults(
    'tuner-gc',
    { ...figures },
    {
      headers: ['measure', 'default', 'tuned', 'tuned / default', 'target'],
      rows: [
        ['Go: CPU per request (ms, all blocks; ratio: median of per-round ratios [lowest, highest])', go.cpu_per_req_ms_default, go.cpu_per_req_ms_tuned, `${go.cpu_per_req_ratio} [${go.cpu_per_req_ratio_range.join(', ')}]`, `<= 0.70 (${met(go.cpu_per_req_ratio <= 0.7)})`],
        ['Go: p50 / p99 latency (ms, all blocks)', `${go.p50_ms_default} / ${go.p99_ms_default}`, `${go.p50_ms_tuned} / ${go.p99_ms_tuned}`, round(go.p99_ms_tuned / go.p99_ms_default, 3), ''],
        ['Go: GC share of busy CPU over the blocks (runtime/metrics)', go.gc_share_default, go.gc_share_tuned, '', ''],
        [`Go: peak cgroup memory (MiB; limit ${go.limit_mb})`, go.peak_mb_default, go.peak_mb, '', `< ${go.limit_mb} (${met(go.peak_mb < go.limit_mb)})`],
        ['Go: OOM kills', go.oom_kills_default, go.oom_kills, '', `0 (${met(go.oom_kills === 0)})`],
        ['Node: throughput (req/s, median of blocks; ratio: median of per-round ratios [lowest, highest])', node.req_per_s_default, node.req_per_s_tuned, `${node.throughput_ratio} [${node.throughput_ratio_range.join(', ')}]`, '> 1'],
        ['Node: p99 latency (ms, all blocks)', node.p99_ms_default, node.p99_ms_tuned, round(node.p99_ms_tuned / node.p99_ms_default, 3), ''],
        [`Node: peak cgroup memory (MiB; limit ${LIMIT_MB})`, node.peak_mb_default, node.peak_mb_tuned, '', `< ${LIMIT_MB}`],
        ['failed requests (Go, Node), of all measured', '', `${go.failed_requests} of ${go.requests}, ${node.failed_requests} of ${node.requests}`, '', '0'],
      ],
    },
    [
      `Settings the advisor chose: Go ${JSON.stringify(go.settings)}, Node ${JSON.stringify(node.settings)} (defaults: Go's GOGC=100 and no GOMEMLIMIT; V8's own sizing under the ${LIMIT_MB} MiB cgroup${nodeStart === undefined ? '' : `, here a ${nodeStart['semiSpaceMb']} MiB semi-space and a ${nodeStart['heapLimitMb']} MiB heap limit`}).`,
      `Examples: examples/go-recommend (concurrency 2) and examples/node-feed (concurrency 1), one worker each per configuration, limits.memoryMb ${LIMIT_MB}; ${options.clients} client connections per block.`,
      `Tuning: the advisor with its default policy (cool-down and share window shortened to ${TUNING_BLOCK_MS / 1000} s blocks), GC share from the SDKs' figures (the benchmark runs no agent), advice applied with PATCH until it had none; every advice:`,
      ...figures.advice.map((entry) => `- ${entry.function}: ${entry.reason}`),
      `Measurement: ${options.rounds} rounds of ${options.blockSeconds} s blocks, Go and Node in turn, default and tuned alternating which goes first (ABBA). CPU per request: the worker's user + system time (/proc/PID/stat) over the requests it answered in the block. Latency at the client, over every request of every block. Peak memory: the worker's cgroup high-water mark (its whole life, tuning included).`,
    ],
  );
  refreshTunerGcKeys();
}
