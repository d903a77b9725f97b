// What the agent costs and how true it is: Go cold starts with the agent attached and
// detached, interleaved in blocks in one run; the agent's CPU and memory while the runtime does
// 50 cold starts and 2,000 warm invocations a second; boundary accuracy against the SDK's own
// clock; and completeness (every cold start recorded, no event dropped).
import { LOOKUP_STATE, GIB, ensureLookupState } from '../examples/state.js';
import { RawClient } from './lib/http.js';
import { coldBlock, cpuSeconds, rssMb, setProbesAttached, settledColdStarts, startAgent, stopAgent, warmUp } from './lib/agent.js';
import { writeResults } from './lib/results.js';
import { EXAMPLES, ServerProcess } from './lib/server.js';
import { median, percentile, round } from './lib/stats.js';

/** Seconds of the load before the agent's CPU is measured against its target. */
const SETTLE_SECONDS = 60;
/** Windows of the load after the settling, each `loadSeconds` long; the target is judged on their median. */
const SETTLED_WINDOWS = 3;
/** Cold starts per block of the overhead comparison. */
const COLD_BLOCK = 20;

interface Options {
  samples: number;
  loadSeconds: number;
}

interface Record {
  requestId: number | null;
  pid: number;
  /** Sampled by the cold-start clock from its exec on. */
  profiled?: boolean;
  spawnTs: number;
  phases: { phase: string; startNs: number; durationNs: number }[];
}

function boundary(record: Record, phase: string): number | undefined {
  const timing = record.phases.find((item) => item.phase === phase);
  return timing === undefined ? undefined : record.spawnTs + timing.startNs + timing.durationNs;
}

/** Steady load for `seconds`: `coldRate` cold starts and `warmRate` warm invocations per second. */
async function load(server: ServerProcess, seconds: number, coldRate: number, warmRate: number): Promise<{ cold: number; warm: number }> {
  const clients = await Promise.all(Array.from({ length: 8 }, () => RawClient.connect(server.port)));
  const coldClient = await RawClient.connect(server.port);
  const end = Date.now() + seconds * 1000;
  const counts = { cold: 0, warm: 0 };
  // Paced: one call every 1000/perSecond ms on this connection, catching up after a slow one.
  const paced = async (client: RawClient, fn: string, kind: keyof typeof counts, perSecond: number): Promise<void> => {
    const interval = 1000 / perSecond;
    let next = Date.now();
    while (Date.now() < end) {
      await client.post(`/v1/functions/${fn}/invoke`, 'ping');
      counts[kind]++;
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  await Promise.all([paced(coldClient, 'burst', 'cold', coldRate), ...clients.map((client) => paced(client, 'echo', 'warm', warmRate / clients.length))]);
  for (const client of [...clients, coldClient]) client.close();
  return { cold: counts.cold / seconds, warm: counts.warm / seconds };
}

export async function agentBench(options: Options): Promise<void> {
  await ensureLookupState(LOOKUP_STATE, GIB, (line) => process.stderr.write(`${line}\n`));
  // Info level: the workers' timing lines are logged at info.
  const server = await ServerProcess.start(['--stem-cells', '0', '--log-level', 'info'], { echo: false });
  try {
    await server.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: LOOKUP_STATE, env: { HEARTH_SDK_TIMING: '1' }, pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1, memoryMb: 256 } });
    const client = await RawClient.connect(server.port);

    // 1. Overhead: one agent whose probes are attached and detached (PUT /v1/probes) in blocks
    // of cold starts, in the order ABBA ABBA ... so that a drift in the machine's speed weighs
    // on both sides alike. Detached, every link of the agent is gone and it neither ticks nor
    // follows the runtime's events: nothing of it runs in the kernel, the runtime or its own
    // process. Switching takes milliseconds where starting an agent takes seconds, so the sides
    // alternate every few hundred milliseconds, and there is time for thousands of starts:
    // medians over a few hundred move by ±30 µs from run to run here, as much as the target.
    const attached: number[] = [];
    const detached: number[] = [];
    /** The same starts as the runtime timed them (Server-Timing total): without the client's own share. */
    const serverAttached: number[] = [];
    const serverDetached: number[] = [];
    /** Median of each block, in run order, with its side. */
    const blockMedians: { withAgent: boolean; ms: number }[] = [];
    const tracedIds = new Set<number>();
    const records = new Map<number, Record>();
    const rounds = 4 * Math.ceil(options.samples / (2 * COLD_BLOCK));
    const key = (): string => String(Math.floor(Math.random() * (GIB / 64)));
    const agent = await startAgent(server);
    // Past the agent's first profile collection, where it reads kallsyms and the binary's symbols once in its life.
    await warmUp(server, client, 'lookup', key);
    // The store keeps a function's latest 2,000 records: read them before each detach.
    const collect = async (): Promise<void> => {
      for (const record of await settledColdStarts<Record>(agent, 'lookup')) if (record.requestId !== null && tracedIds.has(record.requestId)) records.set(record.requestId, record);
    };
    let attachedNow = true;
    for (let round = 0; round < rounds; round++) {
      const withAgent = round % 4 === 0 || round % 4 === 3;
      if (withAgent !== attachedNow) {
        if (!withAgent) await collect();
        await setProbesAttached(agent, server.token, withAgent);
        attachedNow = withAgent;
        // The first start after a switch is not measured, on either side.
        await coldBlock(server, client, 1, 'lookup', key);
      }
      const block = await coldBlock(server, client, COLD_BLOCK, 'lookup', key);
      (withAgent ? attached : detached).push(...block.ms);
      (withAgent ? serverAttached : serverDetached).push(...block.serverMs);
      blockMedians.push({ withAgent, ms: median(block.ms) });
      if (withAgent) for (const id of block.ids) tracedIds.add(id);
      if (round % 20 === 19 || round === rounds - 1) process.stderr.write(`agent: ${attached.length}/${options.samples} attached, p50 so far ${median(attached).toFixed(3)} ms attached, ${median(detached).toFixed(3)} ms detached\n`);
    }
    await collect();
    await stopAgent(agent);
    client.close();
    const lost = tracedIds.size - records.size;

    // 2. Accuracy: the agent's boundaries against the SDK's own readings (from the workers' stderr).
    const sdk = new Map<number, { main: number; state: number; ready: number }>();
    for (const match of server.logText().matchAll(/\[(\d+)\] hearth-sdk-timing main=(\d+) state=(\d+) ready=(\d+)/g)) {
      sdk.set(Number(match[1]), { main: Number(match[2]), state: Number(match[3]), ready: Number(match[4]) });
    }
    const errorsUs: number[] = [];
    for (const record of records.values()) {
      const own = sdk.get(record.pid);
      if (own === undefined) continue;
      for (const [phase, value] of [['user_init', own.main], ['state_mapped', own.state], ['ready', own.ready]] as const) {
        const at = boundary(record, phase);
        if (at !== undefined) errorsUs.push(Math.abs(at - value) / 1000);
      }
    }

    // 3. The agent's own cost under 50 cold starts/s and 2,000 warm invocations/s.
    await server.deploy({ name: 'echo', kind: 'go', entry: `${EXAMPLES}/go-echo`, pool: { min: 2, max: 2 }, limits: { concurrency: 16 } });
    await server.deploy({ name: 'burst', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 0, max: 4, keepAliveMs: 0 }, limits: { maxInvocations: 1 } });
    const loadAgent = await startAgent(server);
    const pid = loadAgent.child.pid!;
    // Under a new load V8 spends the first minute compiling the agent's hot paths (a quarter
    // of its CPU in the first 20 s, by perf): the first window is reported as such, and the
    // target is judged on a window after SETTLE_SECONDS of the load, as a sidecar runs for days.
    const cpuUnderLoad = async (): Promise<{ pct: number; rates: { cold: number; warm: number } }> => {
      const cpuBefore = cpuSeconds(pid);
      const started = Date.now();
      const rates = await load(server, options.loadSeconds, 50, 2000);
      return { pct: ((cpuSeconds(pid) - cpuBefore) / ((Date.now() - started) / 1000)) * 100, rates };
    };
    const first = await cpuUnderLoad();
    await load(server, Math.max(SETTLE_SECONDS - options.loadSeconds, 0), 50, 2000);
    // Consecutive windows of one steady load differ by ±0.4 points here: the median of a few.
    const settled: { pct: number; rates: { cold: number; warm: number } }[] = [];
    for (let window = 0; window < SETTLED_WINDOWS; window++) settled.push(await cpuUnderLoad());
    const cpuPct = median(settled.map((window) => window.pct));
    const rates = settled[settled.length - 1]!.rates;
    const rss = rssMb(pid);
    const metrics = await (await fetch(`${loadAgent.url}/metrics`)).text();
    const dropped = Number(/hearth_agent_events_dropped_total (\d+)/.exec(metrics)?.[1] ?? NaN);
    await stopAgent(loadAgent);

    const overheadMs = median(attached) - median(detached);
    // Beside the pooled medians: each attached block against the detached block run next to
    // it (ABBA: rounds 0-1, 2-3, ...), the median of those differences, which a drift slower
    // than two blocks cannot move.
    const pairedMs: number[] = [];
    for (let i = 0; i + 1 < blockMedians.length; i += 2) {
      const [first, second] = [blockMedians[i]!, blockMedians[i + 1]!];
      pairedMs.push(first.withAgent ? first.ms - second.ms : second.ms - first.ms);
    }
    const figures = {
      overhead: {
        median_ratio: round(median(attached) / median(detached), 4),
        median_us: round(overheadMs * 1000, 1),
        paired_median_us: round(median(pairedMs) * 1000, 1),
        block_pairs: pairedMs.length,
        attached_p50_ms: round(median(attached)),
        detached_p50_ms: round(median(detached)),
        attached_p99_ms: round(percentile(attached, 99)),
        detached_p99_ms: round(percentile(detached, 99)),
        samples_each: attached.length,
        server_median_ratio: round(median(serverAttached) / median(serverDetached), 4),
        server_median_us: round((median(serverAttached) - median(serverDetached)) * 1000, 1),
        server_attached_p50_ms: round(median(serverAttached)),
        server_detached_p50_ms: round(median(serverDetached)),
        sampled_share: round([...records.values()].filter((record) => record.profiled === true).length / records.size, 3),
      },
      accuracy: { p99_us: round(percentile(errorsUs, 99), 1), p50_us: round(percentile(errorsUs, 50), 1), comparisons: errorsUs.length },
      completeness: { lost: lost + dropped, cold_starts: tracedIds.size, records: records.size, events_dropped: dropped },
      agent: { cpu_pct: round(cpuPct, 2), cpu_pct_windows: settled.map((window) => round(window.pct, 2)), cpu_pct_first_window: round(first.pct, 2), settle_s: SETTLE_SECONDS, rss_mb: round(rss, 1), load_cold_per_s: round(rates.cold, 1), load_warm_per_s: round(rates.warm, 0), seconds: options.loadSeconds },
    };
    writeResults(
      'agent',
      figures,
      {
        headers: ['measure', 'value', 'target'],
        rows: [
          ['Go cold start p50, agent attached / detached (ms)', `${figures.overhead.attached_p50_ms} / ${figures.overhead.detached_p50_ms}`, ''],
          ['median overhead (ratio, µs)', `${figures.overhead.median_ratio}, ${figures.overhead.median_us} µs`, '<= 1.03 and <= 150 µs'],
          [`  the same, median over ${figures.overhead.block_pairs} pairs of neighbouring blocks of the difference of their medians (µs)`, figures.overhead.paired_median_us, ''],
          ['  the same starts as the runtime timed them (Server-Timing total), p50 attached / detached (ms); overhead (ratio, µs)', `${figures.overhead.server_attached_p50_ms} / ${figures.overhead.server_detached_p50_ms}; ${figures.overhead.server_median_ratio}, ${figures.overhead.server_median_us} µs`, ''],
          ['share of the attached starts CPU-sampled from exec (record.profiled)', `${(figures.overhead.sampled_share * 100).toFixed(1)}%`, ''],
          ['p99 attached / detached (ms)', `${figures.overhead.attached_p99_ms} / ${figures.overhead.detached_p99_ms}`, ''],
          ['boundary accuracy vs the SDK\'s clock, p99 (µs)', figures.accuracy.p99_us, '<= 200'],
          ['cold starts without a record, plus events dropped', figures.completeness.lost, '0'],
          [`agent CPU at ${figures.agent.load_cold_per_s} cold + ${figures.agent.load_warm_per_s} warm /s (% of one core), median of ${SETTLED_WINDOWS} windows of ${options.loadSeconds} s after ${SETTLE_SECONDS} s of it`, `${figures.agent.cpu_pct} (${figures.agent.cpu_pct_windows.join(', ')})`, '< 2'],
          [`  the same, over the first ${options.loadSeconds} s of the load`, figures.agent.cpu_pct_first_window, ''],
          ['agent RSS (MB)', figures.agent.rss_mb, '< 150'],
        ],
      },
      [
        `${attached.length} cold starts of examples/go-lookup (1 GiB state) each way, in blocks of ${COLD_BLOCK} ordered attached, detached, detached, attached, ...: one agent, its probes detached and attached again (PUT /v1/probes) between blocks, the first start after each switch not measured; latency at the client (a raw HTTP/1.1 connection), and beside it the runtime's own timing of the same starts (Server-Timing total, from the request's arrival to its answer). The agent starts 3 cold starts and 1.5 s before the first block (past its first profile collection, where it reads kallsyms and the binary's symbols once in its life).`,
        `Accuracy: |agent boundary - SDK reading| for main.main, state mapped and ready (${errorsUs.length} comparisons).`,
      ],
    );
  } finally {
    await server.stop();
  }
}
