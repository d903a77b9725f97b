// What CPU profiling costs and how true it is: a busy Go worker's throughput with the agent
// sampling at 19 Hz and 99 Hz against the agent with sampling off, in rotating blocks of one
// run; the same beside `perf record -g`, with both top-10 lists; Go cold starts with the
// 1 kHz cold-start sampling on and off, interleaved; and the error of the 75/25 CPU split of
// the Go and Node test functions.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Profile } from '../agent/profile/model.js';
import { DEFAULT_PROFILER_OPTIONS } from '../agent/profile/profiler.js';
import { LOOKUP_STATE, GIB, ensureLookupState } from '../examples/state.js';
import { measureClockSwitchCost } from './lib/clock-switch-cost.js';
import { coldBlock, settledColdStarts, startAgent, stopAgent, threadsRunNs, warmUp, type AgentProcess } from './lib/agent.js';
import { RawClient } from './lib/http.js';
import { writeResults } from './lib/results.js';
import { EXAMPLES, ServerProcess } from './lib/server.js';
import { median, percentile, round } from './lib/stats.js';

const FIXTURES = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../test/fixtures');
/** One busy request: ~5 ms of CPU, 3/4 in main.burnMajor, 1/4 in main.burnMinor (fine-grained enough to count). */
const BUSY_REQUEST = 'split:5';
/**
 * The split's requests are long: a 5 ms request repeats about twice per 99 Hz sampling period,
 * so samples would fall at the same few phases of it (aliasing) rather than spread over it.
 */
const SPLIT_REQUEST = 'split:400';

interface Options {
  rounds: number;
  blockSeconds: number;
  coldSamples: number;
}

type Config = 'off' | 'hz19' | 'hz99' | 'perf';
const AGENT_ARGS: Record<Exclude<Config, 'perf'>, string[]> = {
  off: ['--no-profile'],
  hz19: ['--profile-steady-hz', '19'],
  hz99: ['--profile-steady-hz', '99'],
};

type ColdMode = 'on' | 'every2' | 'off';
const COLD_MODES: ColdMode[] = ['on', 'every2', 'off'];
const COLD_AGENT_ARGS: Record<ColdMode, string[]> = { on: [], every2: ['--profile-cold-every', '2'], off: AGENT_ARGS.off };

/**
 * The agent learns of a new process within its 100 ms poll and only then opens its clock; back to
 * back, most starts would take a seed born less than that before them, unsampled.
 */
const PAIRED_PAUSE_MS = 250;

/** Which of these cold starts (invocation ids) the agent sampled from exec on, by its records. */
async function profiledStarts(agent: AgentProcess, ids: number[]): Promise<boolean[]> {
  const records = await settledColdStarts<{ requestId: number | null; profiled?: boolean }>(agent, 'lookup');
  const byRequest = new Map(records.map((record) => [record.requestId, record.profiled]));
  return ids.map((id) => {
    const profiled = byRequest.get(id);
    if (profiled === undefined) throw new Error(`the agent has no record of cold start ${id}, or one without "profiled"`);
    return profiled;
  });
}

/** Requests of `fn` answered in `seconds`, from `clients` connections in a closed loop. */
async function requestsIn(server: ServerProcess, fn: string, seconds: number, clients: number, body = BUSY_REQUEST): Promise<number> {
  const connections = await Promise.all(Array.from({ length: clients }, () => RawClient.connect(server.port)));
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    connections.map(async (client) => {
      while (performance.now() < end) {
        const reply = await client.post(`/v1/functions/${fn}/invoke`, body);
        if (reply.status !== 200) throw new Error(`${fn}: HTTP ${reply.status}`);
        done++;
      }
    }),
  );
  for (const client of connections) client.close();
  return done;
}

/**
 * A busy worker's rate over one block, two ways: requests per second of wall-clock time, and
 * requests per second its threads ran, which leaves out what the host stole from them (the
 * rounds' wall-clock rates spread ±8% on this host) and counts the sampling's interrupts.
 */
async function busyRates(server: ServerProcess, fn: string, pid: number, seconds: number): Promise<{ wall: number; run: number }> {
  const before = threadsRunNs(pid);
  const done = await requestsIn(server, fn, seconds, 2);
  return { wall: done / seconds, run: done / ((threadsRunNs(pid) - before) / 1e9) };
}

/** Top functions by self samples from `perf report`. */
function perfTop(file: string, count: number): { name: string; pct: number }[] {
  const text = execFileSync('perf', ['report', '-i', file, '--stdio', '--no-children', '-g', 'none', '--sort', 'sym', '-q', '--percent-limit', '0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return text
    .split('\n')
    .map((line) => /^\s*([\d.]+)%\s+\[[.k]\]\s+(.+?)\s*$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .slice(0, count)
    .map((match) => ({ name: match[2]!, pct: Number(match[1]) }));
}

/** Top functions by self (leaf) samples of one of our profiles. */
function ourTop(profile: Profile, count: number): { name: string; pct: number }[] {
  const self = new Map<string, number>();
  let total = 0;
  for (const sample of profile.samples) {
    const leaf = sample.stack[sample.stack.length - 1]!;
    self.set(leaf.name, (self.get(leaf.name) ?? 0) + sample.count);
    total += sample.count;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, samples]) => ({ name, pct: round((samples / total) * 100, 2) }));
}

/** The share of samples in burnMajor among those in either burn function, in percent. */
function splitShare(profile: Profile): { share: number; samples: number } {
  const count = (pattern: RegExp): number => profile.samples.filter((sample) => sample.stack.some((frame) => pattern.test(frame.name))).reduce((sum, sample) => sum + sample.count, 0);
  const major = count(/burnMajor/);
  const minor = count(/burnMinor/);
  return { share: (major / (major + minor)) * 100, samples: major + minor };
}

async function steadyProfile(agent: AgentProcess, fn: string, seconds: number): Promise<Profile> {
  const response = await fetch(`${agent.url}/v1/profiles/${fn}?phase=steady&seconds=${seconds}`);
  if (!response.ok) throw new Error(`profile of ${fn}: HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as Profile;
}

export async function profileBench(options: Options): Promise<void> {
  await ensureLookupState(LOOKUP_STATE, GIB, (line) => process.stderr.write(`${line}\n`));
  const server = await ServerProcess.start(['--stem-cells', '0', '--node-perf-maps'], { echo: false });
  const perfFile = path.join(os.tmpdir(), `hearth-bench-perf-${process.pid}.data`);
  try {
    // One worker, one request at a time: it keeps one core busy, the other core runs the rest.
    await server.deploy({ name: 'busy', kind: 'go', entry: `${FIXTURES}/go-cpu`, pool: { min: 1, max: 1, keepAliveMs: 3_600_000 }, limits: { concurrency: 1 } });
    await server.deploy({ name: 'nodebusy', kind: 'node', entry: `${FIXTURES}/node-cpu.mjs`, pool: { min: 1, max: 1, keepAliveMs: 3_600_000 }, limits: { concurrency: 1 } });
    await server.deploy({ name: 'lookup', kind: 'go', entry: `${EXAMPLES}/go-lookup`, state: LOOKUP_STATE, pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1, memoryMb: 256 } });
    const [busyWorker] = await server.workers('busy');
    await requestsIn(server, 'busy', 2, 2); // warm-up

    // 1. Steady-state cost: rounds of four blocks, the order rotating each round.
    const rates: Record<Config, number[]> = { off: [], hz19: [], hz99: [], perf: [] };
    const runRates: Record<Config, number[]> = { off: [], hz19: [], hz99: [], perf: [] };
    const ratios: Record<Exclude<Config, 'off'>, number[]> = { hz19: [], hz99: [], perf: [] };
    const wallRatios: Record<Exclude<Config, 'off'>, number[]> = { hz19: [], hz99: [], perf: [] };
    const orders: Config[][] = [['off', 'hz19', 'hz99', 'perf'], ['hz99', 'perf', 'off', 'hz19'], ['perf', 'off', 'hz19', 'hz99'], ['hz19', 'hz99', 'perf', 'off']];
    let ours99: Profile | undefined;
    for (let round = 0; round < options.rounds; round++) {
      const measured: Partial<Record<Config, { wall: number; run: number }>> = {};
      for (const config of orders[round % orders.length]!) {
        if (config === 'perf') {
          const agent = await startAgent(server, AGENT_ARGS.off);
          const recorder = spawn('perf', ['record', '-F', '99', '-g', '-p', String(busyWorker!.pid), '-o', perfFile, '--', 'sleep', String(options.blockSeconds + 1)], { stdio: 'ignore' });
          await new Promise((resolve) => setTimeout(resolve, 500));
          measured.perf = await busyRates(server, 'busy', busyWorker!.pid, options.blockSeconds);
          await new Promise((resolve) => recorder.once('exit', resolve));
          await stopAgent(agent);
          continue;
        }
        const agent = await startAgent(server, AGENT_ARGS[config]);
        measured[config] = await busyRates(server, 'busy', busyWorker!.pid, options.blockSeconds);
        if (config === 'hz99') ours99 = await steadyProfile(agent, 'busy', options.blockSeconds + 1);
        await stopAgent(agent);
      }
      for (const config of ['off', 'hz19', 'hz99', 'perf'] as const) {
        rates[config].push(measured[config]!.wall);
        runRates[config].push(measured[config]!.run);
      }
      for (const config of ['hz19', 'hz99', 'perf'] as const) {
        ratios[config].push(measured[config]!.run / measured.off!.run);
        wallRatios[config].push(measured[config]!.wall / measured.off!.wall);
      }
      const show = (config: Config): string => `${measured[config]!.wall.toFixed(1)} (${measured[config]!.run.toFixed(1)})`;
      process.stderr.write(`profile: round ${round + 1}/${options.rounds}: req/s (per second run) off ${show('off')}, 19 Hz ${show('hz19')}, 99 Hz ${show('hz99')}, perf record ${show('perf')}\n`);
    }
    const perfTop10 = perfTop(perfFile, 10);
    const ourTop10 = ourTop(ours99!, 10);

    // 2. Cold starts with the agent's defaults (1 kHz cold-start sampling), on one in two, and off:
    // blocks in groups of three, the order rotating per group.
    const client = await RawClient.connect(server.port);
    const block = 25;
    const cold: Record<ColdMode, number[]> = { on: [], every2: [], off: [] };
    // The every2 blocks' starts, by whether the agent sampled them: a comparison within blocks.
    const paired: Record<'sampled' | 'unsampled', number[]> = { sampled: [], unsampled: [] };
    let onSampled = 0;
    // The one-in-two blocks run twice as many starts: they split into sampled and unsampled
    // halves, and the p99 of each half should rest on more than its two or three slowest starts.
    const wanted = (mode: ColdMode): number => (mode === 'every2' ? 2 * options.coldSamples : options.coldSamples);
    for (let round = 0; COLD_MODES.some((mode) => cold[mode].length < wanted(mode)); round++) {
      const mode = COLD_MODES[(round + Math.floor(round / COLD_MODES.length)) % COLD_MODES.length]!;
      if (cold[mode].length >= wanted(mode)) continue;
      const agent = await startAgent(server, COLD_AGENT_ARGS[mode]);
      const key = (): string => String(Math.floor(Math.random() * (GIB / 64)));
      await warmUp(server, client, 'lookup', key);
      // In the paired blocks the seeds wait long enough for the agent to follow every other one.
      const starts = await coldBlock(server, client, block, 'lookup', key, mode === 'every2' ? PAIRED_PAUSE_MS : 0);
      cold[mode].push(...starts.ms);
      if (mode !== 'off') {
        const profiled = await profiledStarts(agent, starts.ids);
        if (mode === 'on') onSampled += profiled.filter(Boolean).length;
        else profiled.forEach((sampled, i) => paired[sampled ? 'sampled' : 'unsampled'].push(starts.ms[i]!));
      }
      await stopAgent(agent);
      process.stderr.write(`profile: cold starts ${cold[mode].length}/${wanted(mode)} ${mode}; p50 ms: ${COLD_MODES.map((m) => `${m} ${cold[m].length > 0 ? median(cold[m]).toFixed(2) : '-'}`).join(', ')}\n`);
    }
    client.close();
    // Why sampling costs what it does: the cold-start clock at each switch of the process it follows.
    const switchCost = measureClockSwitchCost(DEFAULT_PROFILER_OPTIONS.coldHz);

    // 3. Split accuracy, at 99 Hz over 10 s of work each.
    const agent = await startAgent(server, AGENT_ARGS.hz99);
    await requestsIn(server, 'busy', 10, 1, SPLIT_REQUEST);
    const go = splitShare(await steadyProfile(agent, 'busy', 11));
    await requestsIn(server, 'nodebusy', 10, 1, SPLIT_REQUEST);
    const node = splitShare(await steadyProfile(agent, 'nodebusy', 11));
    await stopAgent(agent);

    const loss = (config: 'hz19' | 'hz99' | 'perf'): number => round(1 - median(ratios[config]), 4);
    const wallLoss = (config: 'hz19' | 'hz99' | 'perf'): number => round(1 - median(wallRatios[config]), 4);
    const figures = {
      steady: {
        loss_19hz: loss('hz19'),
        loss_99hz: loss('hz99'),
        loss_perf_record_99hz: loss('perf'),
        wall_loss_19hz: wallLoss('hz19'),
        wall_loss_99hz: wallLoss('hz99'),
        wall_loss_perf_record_99hz: wallLoss('perf'),
        off_req_per_run_s: round(median(runRates.off), 1),
        hz19_req_per_run_s: round(median(runRates.hz19), 1),
        hz99_req_per_run_s: round(median(runRates.hz99), 1),
        perf_req_per_run_s: round(median(runRates.perf), 1),
        off_req_per_s: round(median(rates.off), 1),
        hz19_req_per_s: round(median(rates.hz19), 1),
        hz99_req_per_s: round(median(rates.hz99), 1),
        perf_req_per_s: round(median(rates.perf), 1),
        rounds: options.rounds,
        block_seconds: options.blockSeconds,
      },
      cold: {
        // What sampling adds to a start it samples: sampled against unsampled starts of the same blocks.
        added_ratio: round(median(paired.sampled) / median(paired.unsampled), 4),
        added_p99_ratio: round(percentile(paired.sampled, 99) / percentile(paired.unsampled, 99), 4),
        // The agent with sampling on against --no-profile, block against block (most starts unsampled).
        block_ratio: round(median(cold.on) / median(cold.off), 4),
        block_p99_ratio: round(percentile(cold.on, 99) / percentile(cold.off, 99), 4),
        on_p50_ms: round(median(cold.on)),
        off_p50_ms: round(median(cold.off)),
        on_p99_ms: round(percentile(cold.on, 99)),
        off_p99_ms: round(percentile(cold.off, 99)),
        added_us: round((median(paired.sampled) - median(paired.unsampled)) * 1000, 0),
        samples_each: cold.on.length,
        on_sampled_share: round(onSampled / cold.on.length, 3),
        every_2: {
          sampled_p50_ms: round(median(paired.sampled)),
          unsampled_p50_ms: round(median(paired.unsampled)),
          sampled_p99_ms: round(percentile(paired.sampled, 99)),
          unsampled_p99_ms: round(percentile(paired.unsampled, 99)),
          sampled: paired.sampled.length,
          unsampled: paired.unsampled.length,
        },
        clock_switch: {
          none_us: round(switchCost.none),
          process_clock_us: round(switchCost.process_clock),
          process_clock_1hz_us: round(switchCost.process_clock_1hz),
          cpu_clocks_us: round(switchCost.cpu_clocks),
          added_us: round(switchCost.process_clock - switchCost.none),
        },
      },
      split: {
        go_error_points: round(Math.abs(go.share - 75), 2),
        node_error_points: round(Math.abs(node.share - 75), 2),
        go_share_pct: round(go.share, 2),
        node_share_pct: round(node.share, 2),
        go_samples: go.samples,
        node_samples: node.samples,
      },
      top10: { hearth_99hz: ourTop10, perf_record_99hz: perfTop10 },
    };
    const pct = (value: number): string => `${(value * 100).toFixed(2)}%`;
    writeResults(
      'profile',
      figures,
      {
        headers: ['measure', 'value', 'target'],
        rows: [
          ['busy Go worker, req per second run: off / 19 Hz / 99 Hz / perf record -F 99 -g', `${figures.steady.off_req_per_run_s} / ${figures.steady.hz19_req_per_run_s} / ${figures.steady.hz99_req_per_run_s} / ${figures.steady.perf_req_per_run_s}`, ''],
          ['throughput loss at 19 Hz (per second run; median of per-round ratios)', pct(figures.steady.loss_19hz), '< 1%'],
          ['throughput loss at 99 Hz (per second run)', pct(figures.steady.loss_99hz), '< 3%'],
          ['throughput loss under perf record -F 99 -g (per second run)', pct(figures.steady.loss_perf_record_99hz), ''],
          ['busy Go worker, req/s of wall-clock time: off / 19 Hz / 99 Hz / perf record', `${figures.steady.off_req_per_s} / ${figures.steady.hz19_req_per_s} / ${figures.steady.hz99_req_per_s} / ${figures.steady.perf_req_per_s}`, ''],
          ['wall-clock throughput loss at 19 Hz / 99 Hz / perf record', `${pct(figures.steady.wall_loss_19hz)} / ${pct(figures.steady.wall_loss_99hz)} / ${pct(figures.steady.wall_loss_perf_record_99hz)}`, ''],
          ['Go cold start sampled at 1 kHz from exec / not, p50 (ms; one process in two followed, same blocks)', `${figures.cold.every_2.sampled_p50_ms} (n=${figures.cold.every_2.sampled}) / ${figures.cold.every_2.unsampled_p50_ms} (n=${figures.cold.every_2.unsampled}): ratio ${figures.cold.added_ratio}, +${figures.cold.added_us} µs`, '< 1.05'],
          ['the same, p99 (ms)', `${figures.cold.every_2.sampled_p99_ms} / ${figures.cold.every_2.unsampled_p99_ms} (ratio ${figures.cold.added_p99_ratio})`, '< 1.05'],
          ['Go cold start p50 / p99, agent with its defaults / --no-profile, block against block (ms)', `${figures.cold.on_p50_ms} / ${figures.cold.off_p50_ms} (ratio ${figures.cold.block_ratio}); ${figures.cold.on_p99_ms} / ${figures.cold.off_p99_ms} (ratio ${figures.cold.block_p99_ratio})`, ''],
          ['share of those starts sampled from exec (back to back)', `${(figures.cold.on_sampled_share * 100).toFixed(1)}%`, ''],
          [`one switch in and out of a process followed by a ${DEFAULT_PROFILER_OPTIONS.coldHz} Hz clock / 1 Hz / none / clocks on every CPU (µs)`, `${figures.cold.clock_switch.process_clock_us} / ${figures.cold.clock_switch.process_clock_1hz_us} / ${figures.cold.clock_switch.none_us} / ${figures.cold.clock_switch.cpu_clocks_us} (+${figures.cold.clock_switch.added_us})`, ''],
          ['75/25 split measured, Go (share, error in points)', `${figures.split.go_share_pct}%, ${figures.split.go_error_points}`, '<= 5'],
          ['75/25 split measured, Node', `${figures.split.node_share_pct}%, ${figures.split.node_error_points}`, '<= 5'],
          ...ourTop10.map((entry, i) => [`top ${i + 1} by self samples: Hearth | perf record`, `${entry.name} ${entry.pct}% | ${perfTop10[i]?.name ?? '-'} ${perfTop10[i]?.pct ?? ''}%`, '']),
        ],
      },
      [
        `Steady state: test/fixtures/go-cpu, one worker at concurrency 1 kept busy by 2 connections (${BUSY_REQUEST} per request), ${options.rounds} rounds of ${options.blockSeconds} s blocks (agent with --no-profile, 19 Hz, 99 Hz, and --no-profile beside perf record -F 99 -g on the worker), block order rotating per round; loss = 1 - median of each round's ratio to its own off block, in requests per second the worker's threads ran (schedstat: without time the host stole, with the interrupts that hit them), and beside it in requests per wall-clock second. The agent samples the processes the runtime starts at 1 kHz in their cold-start windows throughout.`,
        `Cold starts: examples/go-lookup (1 GiB state), ${block}-start blocks with the agent's sampling on (its defaults), on one process in two that the runtime starts (--profile-cold-every 2; these blocks run twice the starts) and off (--no-profile), in groups of three whose order rotates per group; latency at the client. In the one-in-two blocks each start waits ${PAIRED_PAUSE_MS} ms with no worker (so that the agent, which polls every 100 ms, has followed every other seed by then) and is classed by the agent's record of it (\`profiled\`: sampled from its exec on): cold.added_ratio compares sampled and unsampled starts under the same conditions. Block against block, the agent's other effects and the host's drift between blocks (a few hundred µs either way from run to run) weigh as much as the sampling of the starts that were sampled. Each block follows 3 unmeasured cold starts and 1.5 s (past the agent's first profile collection, where it reads kallsyms and the binary's symbols once in its life).`,
        `Clock cost per switch: bench/native/clock-switch-cost.c, two processes pinned to one CPU pass a byte over pipes (10,000 round trips, each switching the follower in and out once), median of 15 rounds with the configurations rotating: no clock, a clock following the follower (what the agent opens per cold start) at ${DEFAULT_PROFILER_OPTIONS.coldHz} Hz and at 1 Hz, and a ${DEFAULT_PROFILER_OPTIONS.coldHz} Hz clock on every CPU.`,
        `Split: 10 s of ${SPLIT_REQUEST} requests per function at 99 Hz; share of samples in burnMajor among samples in either burn function.`,
      ],
    );
  } finally {
    fs.rmSync(perfFile, { force: true });
    fs.rmSync(`${perfFile}.old`, { force: true });
    await server.stop();
  }
}
