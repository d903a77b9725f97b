// The pool tuner's evaluation (issue 5): two Azure Functions traces replayed against the real
// runtime with real workers, compressed in time, once per policy (always cold, a fixed
// 10-minute keep-alive, the hybrid histogram policy of "Serverless in the Wild", and hearth's
// tuner), each run by the agent's live tuner exactly as in production; the same compressed
// run through the simulator beside it, to show that the two agree, and under other arrival
// seeds, to show how far one replay's luck goes; and the full day of both
// traces at full scale in the simulator alone, hearth at several memory prices too, beside two
// keep-alive references computed in hindsight (keepalive-bound.ts). Per policy: cold-start rate, p50/p99 latency at
// the client, idle worker memory-time.
//
// Scale: a trace minute replays in 60/C seconds (C = --compression, 240 by default: a day in
// 6 minutes); the policies' windows shrink by C, execution times too, cold starts do not (they
// are what a start costs here). Workers hold their trace function's memory divided by 128,
// their own Go runtime's included (measured first, and mapped that much less), and hearth's
// memory price is multiplied by 128, so that a replay MiB stands for 128 trace MiB and its
// decisions are those it would make at full size. The
// busiest functions are thinned (each arrival kept with a fixed probability) to what two cores
// can serve: see TRACES.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bestSettingsCost, clairvoyantCost, fixedKeepAliveCost, traceLevels } from '../agent/tuner/keepalive-bound.js';
import { createPolicy, type PolicyName } from '../agent/tuner/policies/by-name.js';
import { HEARTH_DEFAULTS } from '../agent/tuner/policies/hearth.js';
import { coldStartTotalMs } from '../agent/tuner/policies/policy.js';
import { DEFAULT_TUNER_OPTIONS, eventBatchMs } from '../agent/tuner/live/live-tuner.js';
import { keptShare, replaySchedule, type ReplayOptions, TRACE_MINUTE_MS, traceSlice } from '../agent/tuner/replay.js';
import { simulate, type SimulationOptions, type SimulationResult, type TimedProfile } from '../agent/tuner/simulate.js';
import { readTrace, type Trace } from '../agent/tuner/trace.js';
import type { WorkerSummary } from '../shared/api.js';
import type { Phase } from '../shared/phases.js';
import { cpuSeconds, startAgent, stopAgent } from './lib/agent.js';
import { gcKeys } from './lib/gc-keys.js';
import { writeResults } from './lib/results.js';
import { ServerProcess } from './lib/server.js';
import { median, percentile, round } from './lib/stats.js';
import { heldMemoryKb, monotonicMs, replayLive, replayMemoryKb, TRACE_SLEEP, type LiveOutcome } from './lib/trace-replay.js';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const TRACES_DIR = process.env['HEARTH_TRACES'] ?? path.join(ROOT, 'test/fixtures/traces');

interface TraceSetup {
  key: 'sample20' | 'busy10';
  folder: string;
  /** Its full day is also simulated under hearth at these factors of its memory price (its efficiency frontier about the fixed keep-alive's memory-time). */
  priceFactors: number[];
  /** Each arrival kept with this probability... */
  rateScale: number;
  /** ...and functions whose busiest minute has more arrivals thinned to this. */
  maxPerMinute?: number;
}

/**
 * sample20 is replayed whole but for its three busiest functions, thinned to at most 30
 * arrivals in their busiest minute (one has 850 two-minute invocations every 10 minutes: 850
 * concurrent workers); its rare and periodic functions, the ones keep-alive policies differ
 * on, keep every arrival. busy10 (13 million arrivals a day) keeps 1 arrival in 200, about
 * 150 requests a second at 240×, every one of them a cold start under the always-cold policy.
 */
const TRACES: TraceSetup[] = [
  { key: 'sample20', folder: 'azure2019-sample20', priceFactors: [4, 1, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32], rateScale: 1, maxPerMinute: 30 },
  // Its full day takes the simulator about a minute per policy: only the prices about the fixed keep-alive's memory-time (hearth at its default uses a little more).
  { key: 'busy10', folder: 'azure2019-busy10', priceFactors: [4, 1, 1 / 4, 1 / 16, 1 / 64], rateScale: 0.005 },
];

const POLICIES: { key: string; name: PolicyName }[] = [
  { key: 'always_cold', name: 'always-cold' },
  { key: 'fixed_10min', name: 'fixed-keepalive-10min' },
  { key: 'hybrid_histogram', name: 'hybrid-histogram' },
  { key: 'hearth', name: 'hearth' },
];

const SEED = 42;
/** The replayed slice is simulated under this many other seeds too (seed_spread). */
const SPREAD_SEEDS = 10;
/**
 * A replay MiB stands for this many trace MiB. Small enough that every function's share is
 * above the stand-in's own Go runtime (under 1 MiB of private memory among two dozen of
 * them; the smallest function, 133 MB, gets 1.04 MiB), which at 1024 weighed as most of a
 * gigabyte and made small functions' workers several times dearer than the trace's.
 */
const MEMORY_SCALE = 128;
/** Stand-in workers alive while their baseline is measured: about as many as a replay keeps. */
const STAND_IN_WORKERS = 24;
/** Every replayed function's `pool.max` (the simulator's too): above any burst the thinned traces have. */
const MAX_WORKERS = 256;
/** The phases up to ready: a cold start's cost, as the tuner measures it. */
const COST_PHASES: Phase[] = ['fork', 'exec', 'runtime_init', 'user_init', 'state_mapped', 'ready'];
/** The simulator agrees with the replay when the cold-start rate is within 20% of it (or 0.5 points) and the idle memory-time within 20% (or 1% of the fixed keep-alive's). */
const AGREEMENT = { relative: 0.2, coldRatePoints: 0.005, idleShareOfFixed: 0.01 };

export interface TunerBenchOptions {
  compression: number;
  /** Trace hours replayed against the runtime (24: the whole day; less to try settings out). */
  hours: number;
}

interface PolicyFigures {
  invocations: number;
  cold_starts: number;
  cold_rate: number;
  failed: number;
  p50_ms: number;
  p99_ms: number;
  /** Idle worker memory-time, MiB × seconds (replay time for the compressed runs, trace time for the full day). */
  idle_mem_s: number;
  /** Workers started, for any reason (simulated runs only): what a policy costs the host in starts. */
  worker_starts?: number;
}

interface LiveRun {
  policy: PolicyName;
  outcome: LiveOutcome;
  /** Per function, the agent's median cold-start phases. */
  phases: Map<string, Partial<Record<Phase, number>>>;
  /** Per function, what the live tuner told its policy (cold start, worker memory) and from when, replay ms. */
  profiles: Map<string, TimedProfile[]>;
  /** Per function, its workers idle when the replay began, with when each became idle, replay ms. */
  idleAtStart: Map<string, number[]>;
  agentCpuSeconds: number;
  runtimeCpuSeconds: number;
  decisions: number;
}

export async function tunerBench(options: TunerBenchOptions): Promise<void> {
  const { compression } = options;
  const figures: Record<string, unknown> = {};
  const notes: string[] = [];
  const rows: (string | number)[][] = [];
  const perTrace: Record<string, unknown> = {};
  const baselineKb = await standInBaselineKb();
  progress(`a trace-sleep worker holding nothing: ${round(baselineKb, 0)} KiB of private memory`);
  for (const setup of TRACES) {
    const full = readTrace(path.join(TRACES_DIR, setup.folder));
    const trace = traceSlice(full, 0, Math.round(options.hours * 60));
    const replay: ReplayOptions = { seed: SEED, compression, spread: 'poisson', rateScale: setup.rateScale, ...(setup.maxPerMinute === undefined ? {} : { maxPerMinute: setup.maxPerMinute }) };
    const schedule = replaySchedule(trace, replay);
    const horizonMs = (trace.minutes * TRACE_MINUTE_MS) / compression;
    const names = trace.functions.map((_, i) => `${setup.key}-${String(i).padStart(2, '0')}`);
    progress(`${setup.key}: ${schedule.length} arrivals over ${round(horizonMs / 1000, 0)} s (${trace.minutes} trace minutes at ${compression}×)`);
    const runs: LiveRun[] = [];
    for (const policy of POLICIES) runs.push(await runLive(trace, names, schedule, horizonMs, policy.name, compression, baselineKb));
    // Workers of a function are alike whatever the policy: their memory is the median over every run's samples.
    const memoryMb = names.map((name) => median(runs.flatMap((run) => run.outcome.functions.find((fn) => fn.name === name)!.memorySamples)));
    const measured: Trace = { ...trace, functions: trace.functions.map((fn, i) => ({ ...fn, memoryMb: Number.isFinite(memoryMb[i]!) ? memoryMb[i]! : replayMemoryKb(fn, MEMORY_SCALE) / 1024 })) };
    const phases = measuredPhases(trace, names, runs);
    // Under always-cold every worker retires the moment it is idle: what it then holds until its exit is the time it takes to stop.
    const stops = runs[POLICIES.findIndex((policy) => policy.name === 'always-cold')]!.outcome.untilExitMs;
    const stopMs = stops.length === 0 ? 0 : median(stops);
    const live = Object.fromEntries(POLICIES.map((policy, i) => [policy.key, liveFigures(runs[i]!, measured)]));
    // Each policy's compressed run in the simulator, with the cold starts that run measured (a host busy with cold starts starts workers slower): its
    // requests wait the runtime's spawn-to-ready, its policy is told what the live tuner's was, when it was (the agent's phases, as it measured more),
    // and it starts with the workers that run had idle.
    const simulatedReplay = (policy: PolicyName, run: LiveRun, seed: number): SimulationResult => {
      const starts = coldStarts(trace, run);
      return simulate(measured, createPolicy(policy, { compression, hearth: scaledPrices() }), {
        ...replay,
        seed,
        coldStartMs: starts.median,
        coldStartByFunction: starts.byFunction,
        pricedProfiles: new Map(trace.functions.map((fn, j) => [fn.id, run.profiles.get(names[j]!) ?? []])),
        idleAtStart: new Map(trace.functions.map((fn, j) => [fn.id, run.idleAtStart.get(names[j]!) ?? []])),
        maxWorkers: MAX_WORKERS,
        batchMs: eventBatchMs({ ...DEFAULT_TUNER_OPTIONS, compression }),
        stopMs,
      });
    };
    const simulations = new Map(POLICIES.map((policy, i) => [policy.key, simulatedReplay(policy.name, runs[i]!, SEED)]));
    const simulated = Object.fromEntries([...simulations].map(([key, result]) => [key, simFigures(result)]));
    const agreement = agree(live, simulated);
    progress(`${setup.key}: full day at full scale in the simulator`);
    const fullDay = Object.fromEntries(
      POLICIES.map((policy) => {
        const started = Date.now();
        const result = simulate(full, createPolicy(policy.name, { compression: 1 }), fullDayOptions(phases, stopMs));
        return [policy.key, { ...simFigures(result), seconds: round((Date.now() - started) / 1000, 1) }];
      }),
    );
    const sweep = priceSweep(full, setup.priceFactors, phases, stopMs);
    progress(`${setup.key}: keep-alive references in hindsight`);
    const references = keepAliveReferences(full);
    perTrace[setup.key] = {
      folder: setup.folder,
      rate_scale: setup.rateScale,
      ...(setup.maxPerMinute === undefined ? {} : { max_per_minute: setup.maxPerMinute, thinned: thinnedFunctions(trace, replay, names) }),
      arrivals: schedule.length,
      replay_seconds: round(horizonMs / 1000, 1),
      cold_start_ms: round(coldStartTotalMs(phases.median), 2),
      stop_ms: round(stopMs, 2),
      worker_memory_mb: Object.fromEntries(names.map((name, i) => [name, round(measured.functions[i]!.memoryMb, 2)])),
      live,
      simulated,
      agreement,
      per_function: perFunction(names, runs, simulations, measured),
      seed_spread: seedSpread((policy, seed) => simulatedReplay(policy.name, runs[POLICIES.indexOf(policy)]!, seed)),
      full_day: fullDay,
      price_sweep: sweep,
      keepalive_references: references,
      overhead: Object.fromEntries(POLICIES.map((policy, i) => [policy.key, { agent_cpu_s: round(runs[i]!.agentCpuSeconds, 1), runtime_cpu_s: round(runs[i]!.runtimeCpuSeconds, 1), decisions: runs[i]!.decisions, client_late_p99_ms: round(runs[i]!.outcome.lateP99Ms, 2) }])),
    };
    for (const policy of POLICIES) {
      const l = live[policy.key]!;
      const s = simulated[policy.key]!;
      const f = fullDay[policy.key]!;
      rows.push([setup.key, policy.name, pct(l.cold_rate), pct(s.cold_rate), round(l.p50_ms, 2), round(l.p99_ms, 1), gbs(l.idle_mem_s), gbs(s.idle_mem_s), l.failed, pct(f.cold_rate), gbs(f.idle_mem_s)]);
    }
    const points = sweep.map((point) => `×${round(point.memory_price_factor, 4)}: ${point.cold_starts} cold starts (${pct(point.cold_rate)}) for ${gbs(point.idle_mem_s)} GB·s`).join('; ');
    const fixedDay = fullDay['fixed_10min']!;
    const equalMemory = frontier(sweep, fixedDay).cold_starts_ratio_at_equal_memory;
    notes.push(`${setup.key}, full day, simulated, hearth at other memory prices (factors of its default; lower keeps workers longer): ${points} (fixed keep-alive: ${fixedDay.cold_starts} (${pct(fixedDay.cold_rate)}) for ${gbs(fixedDay.idle_mem_s)} GB·s; hybrid: ${pct(fullDay['hybrid_histogram']!.cold_rate)} for ${gbs(fullDay['hybrid_histogram']!.idle_mem_s)} GB·s). At the fixed keep-alive's memory-time: ${equalMemory === null ? 'outside the sweep' : `${equalMemory} times its cold starts`}.`);
    const starts = POLICIES.map((policy) => `${policy.name} ${fullDay[policy.key]!.worker_starts} (${round(fullDay[policy.key]!.worker_starts! / fixedDay.invocations, 4)})`).join(', ');
    notes.push(`${setup.key}, full day, simulated, workers started (per invocation): ${starts}; hearth at each memory price: ${sweep.map((point) => `×${round(point.memory_price_factor, 4)} ${point.worker_starts}`).join(', ')}.`);
    notes.push(`${setup.key}, full day, keep-alive references in hindsight (agent/tuner/keepalive-bound.ts; its model counts the fixed keep-alive's cold starts as ${references.fixed_10min.cold_starts} for ${gbs(references.fixed_10min.idle_mem_s)} GB·s): at that memory-time, a clairvoyant keep-alive that knows every gap has ${references.clairvoyant.cold_starts_ratio} times its cold starts; the best min and keep-alive per function chosen knowing each hour, ${references.best_hourly_settings.cold_starts_ratio} times; chosen knowing the day, ${references.best_daily_settings.cold_starts_ratio} times.`);
    const spreads = (perTrace[setup.key] as { seed_spread: ReturnType<typeof seedSpread> }).seed_spread;
    const spreadText = POLICIES.filter((policy) => policy.key !== 'always_cold')
      .map((policy) => {
        const { cold_starts: cold, idle_mem_s: idle } = spreads[policy.key]!;
        return `${policy.name} ${cold.median} (${cold.min}-${cold.max}) cold starts for ${gbs(idle.median)} (${gbs(idle.min)}-${gbs(idle.max)}) GB·s`;
      })
      .join('; ');
    notes.push(`${setup.key}, the replayed slice in the simulator under ${SPREAD_SEEDS} other arrival seeds, median (range): ${spreadText}.`);
    notes.push(`${setup.key}: ${agreement.agrees ? 'the simulator agrees with the replay' : `the simulator does NOT agree with the replay on ${agreement.outside.join(', ')}`} (tolerance: cold-start rate within ${AGREEMENT.relative * 100}% or ${AGREEMENT.coldRatePoints * 100} points, idle memory-time within ${AGREEMENT.relative * 100}% or ${AGREEMENT.idleShareOfFixed * 100}% of the fixed keep-alive's). Its workers start as the replay's did and take ${round(stopMs, 1)} ms to stop (median of the replay's always-cold workers, idle from their answer to their exit).`);
  }
  const sample = perTrace['sample20'] as { live: Record<string, PolicyFigures> };
  figures['policies'] = sample.live;
  figures['traces'] = perTrace;
  figures['targets'] = targets(perTrace as Parameters<typeof targets>[0]);
  const gc = gcKeys();
  if (gc !== undefined) figures['gc'] = gc;
  figures['setup'] = { compression, hours: options.hours, seed: SEED, memory_scale: MEMORY_SCALE, stand_in_baseline_kb: round(baselineKb, 0), hearth_memory_price_per_mb_s: scaledPrices().memoryPricePerMbSecond, max_workers: MAX_WORKERS, spread: 'poisson' };
  writeResults(
    'tuner',
    figures,
    { headers: ['trace', 'policy', 'cold rate (replay)', 'cold rate (sim)', 'p50 ms', 'p99 ms', 'idle GB·s (replay)', 'idle GB·s (sim)', 'failed', 'cold rate (full day, sim)', 'idle GB·s (full day, sim)'], rows },
    [
      `Replay: ${options.hours === 24 ? 'the whole day' : `the first ${options.hours} hours`} of each trace at ${compression}× (a trace minute in ${round(60 / compression, 3)} s; the policies' windows and the execution times divided by ${compression}, cold starts real), seed ${SEED}, arrivals spread in each minute as a Poisson process. Real Go workers (bench/functions/trace-sleep) holding their function's trace memory / ${MEMORY_SCALE}, their own ${round(baselineKb, 0)} KiB included; hearth's memory price × ${MEMORY_SCALE} to match. Latency at the client, replay ms. Idle GB·s: idle worker time (from the runtime's events) × the worker's PSS without state, replay seconds; full day: trace memory × trace seconds.`,
      `Thinning: ${TRACES.map((setup) => `${setup.key} keeps ${setup.rateScale === 1 ? 'every arrival' : `1 arrival in ${round(1 / setup.rateScale, 0)}`}${setup.maxPerMinute === undefined ? '' : `, but in functions whose busiest minute has more than ${setup.maxPerMinute} (thinned to ${setup.maxPerMinute} there)`}`).join('; ')}.`,
      ...notes,
      `JSON: policies.* is sample20's replay; traces.<trace>.{live,simulated,agreement,per_function,seed_spread,full_day,price_sweep,keepalive_references,overhead}; targets; gc.* from the last \`npm run bench -- tuner-gc\` (bench/results/tuner-gc.md), which refreshes it when it runs.`,
    ],
  );
}

/** One live run of `policy`: a fresh runtime and agent, the trace's functions deployed, the schedule sent. */
async function runLive(trace: Trace, names: string[], schedule: ReturnType<typeof replaySchedule>, horizonMs: number, policy: PolicyName, compression: number, baselineKb: number): Promise<LiveRun> {
  progress(`  ${policy}: starting a runtime and an agent`);
  const server = await ServerProcess.start(['--stem-cells', '0', '--seeds', '8'], { echo: false });
  try {
    for (const [i, fn] of trace.functions.entries()) {
      await server.deploy({
        name: names[i],
        kind: 'go',
        entry: TRACE_SLEEP,
        env: { TRACE_MEMORY_KB: String(heldMemoryKb(fn, MEMORY_SCALE, baselineKb)) },
        // One worker alive when the agent starts: the tuner measures its memory and start before its first decision.
        pool: { min: 1, max: MAX_WORKERS, keepAliveMs: 0, maxQueued: 10_000 },
        limits: { memoryMb: 64, timeoutMs: 120_000 },
      });
    }
    const price = scaledPrices().memoryPricePerMbSecond;
    const agent = await startAgent(server, ['--tuner', 'on', '--tuner-policy', policy, '--tuner-compression', String(compression), '--tuner-memory-price', String(price), '--no-profile']);
    try {
      await waitFor(async () => ((await (await fetch(`${agent.url}/v1/tuner/status`)).json()) as { functions: unknown[] }).functions.length === names.length);
      const agentCpu = cpuSeconds(agent.child.pid!);
      const runtimeCpu = cpuSeconds(server.pid);
      progress(`  ${policy}: replaying ${schedule.length} arrivals`);
      const idleBefore = await idleWorkers(server);
      const profiles = followProfiles(agent.url);
      const outcome = await replayLive(server, names, schedule, horizonMs).finally(() => profiles.stop());
      const phases = new Map<string, Partial<Record<Phase, number>>>();
      for (const name of names) phases.set(name, await agentPhases(agent.url, name));
      const status = (await (await fetch(`${agent.url}/v1/tuner/status`)).json()) as { decisions: number };
      const cold = outcome.functions.reduce((sum, fn) => sum + fn.coldStarts, 0);
      const total = outcome.functions.reduce((sum, fn) => sum + fn.invocations, 0);
      progress(`  ${policy}: ${total} answered in ${round(outcome.wallSeconds, 0)} s, ${pct(cold / total)} cold, p99 ${round(percentile(outcome.latencies, 99), 1)} ms, ${status.decisions} decisions`);
      const idleAtStart = new Map([...idleBefore].map(([fn, since]) => [fn, since.map((at) => at - outcome.startMs)]));
      return { policy, outcome, phases, profiles: profiles.since(outcome.startMs), idleAtStart, agentCpuSeconds: cpuSeconds(agent.child.pid!) - agentCpu, runtimeCpuSeconds: cpuSeconds(server.pid) - runtimeCpu, decisions: status.decisions };
    } finally {
      await stopAgent(agent);
    }
  } finally {
    await server.stop();
  }
}

/** Each function's idle workers (those its deploy started, which have served nothing), with when each became idle, monotonicMs(). */
async function idleWorkers(server: ServerProcess): Promise<Map<string, number[]>> {
  const now = monotonicMs();
  const { workers } = await server.api<{ workers: WorkerSummary[] }>('GET', '/v1/workers');
  const idle = new Map<string, number[]>();
  for (const worker of workers) {
    if (worker.status !== 'idle' || worker.invocations > 0 || worker.spawnToReadyMs === null) continue;
    idle.set(worker.function, [...(idle.get(worker.function) ?? []), now - worker.ageMs + worker.spawnToReadyMs]);
  }
  return idle;
}

/** How often the live tuner's profiles are read during a replay, ms: a quarter of a trace minute at 60×. */
const PROFILE_POLL_MS = 250;

/**
 * The live tuner's profile of each function (GET /v1/tuner/status), read every
 * PROFILE_POLL_MS while a replay runs, a change kept with the moment it was seen.
 */
function followProfiles(agentUrl: string): { stop(): void; since(startMs: number): Map<string, TimedProfile[]> } {
  const seen = new Map<string, TimedProfile[]>();
  let failed: Error | undefined;
  const read = async (): Promise<void> => {
    const at = monotonicMs();
    const status = (await (await fetch(`${agentUrl}/v1/tuner/status`)).json()) as { functions: { function: string; profile: { coldStartMs: number; memoryMb: number } }[] };
    for (const { function: fn, profile } of status.functions) {
      const list = seen.get(fn) ?? [];
      const last = list[list.length - 1];
      if (last === undefined || last.coldStartMs['ready'] !== profile.coldStartMs || last.memoryMb !== profile.memoryMb) list.push({ atMs: at, coldStartMs: { ready: profile.coldStartMs }, memoryMb: profile.memoryMb });
      seen.set(fn, list);
    }
  };
  // A read that fails is made again at the next poll; only a replay with none is lost.
  const remember = (error: Error): void => void (failed = error);
  let reading = read().catch(remember);
  const timer = setInterval(() => {
    reading = reading.then(read).catch(remember);
  }, PROFILE_POLL_MS);
  return {
    stop: () => clearInterval(timer),
    since: (startMs) => {
      if (seen.size === 0) throw new Error(`reading the live tuner's profiles (${agentUrl}/v1/tuner/status): ${failed?.message ?? 'no function listed'}`);
      return new Map([...seen].map(([fn, list]) => [fn, list.map((profile) => ({ ...profile, atMs: profile.atMs - startMs }))]));
    },
  };
}

/**
 * The private memory (PSS without state) of an idle trace-sleep worker that maps nothing
 * more, among STAND_IN_WORKERS of them: a replay has dozens of such workers alive, which
 * share their binary's pages, and PSS divides shared pages among the processes mapping
 * them. The median over every worker in 5 readings.
 */
async function standInBaselineKb(): Promise<number> {
  const server = await ServerProcess.start(['--stem-cells', '0'], { echo: false });
  try {
    await server.deploy({ name: 'stand-in', kind: 'go', entry: TRACE_SLEEP, env: { TRACE_MEMORY_KB: '0' }, pool: { min: STAND_IN_WORKERS, max: STAND_IN_WORKERS, keepAliveMs: 0 }, limits: { memoryMb: 64 } });
    const readings: number[] = [];
    const deadline = Date.now() + 30_000;
    for (let round = 0; round < 5; ) {
      if (Date.now() > deadline) throw new Error(`${STAND_IN_WORKERS} idle trace-sleep workers did not report their memory within 30 s`);
      const { workers } = await server.api<{ workers: { status: string; privateMemoryMb?: number }[] }>('GET', '/v1/workers?memory=1');
      const idle = workers.filter((worker) => worker.status === 'idle' && worker.privateMemoryMb !== undefined);
      if (idle.length === STAND_IN_WORKERS) {
        readings.push(...idle.map((worker) => worker.privateMemoryMb! * 1024));
        round++;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return median(readings);
  } finally {
    await server.stop();
  }
}

async function agentPhases(url: string, fn: string): Promise<Partial<Record<Phase, number>>> {
  const { functions } = (await (await fetch(`${url}/v1/phases?function=${fn}`)).json()) as { functions: { coldStarts: number; phases: Partial<Record<Phase, { p50Ms: number }>> }[] };
  const phases: Partial<Record<Phase, number>> = {};
  for (const phase of COST_PHASES) {
    const measured = functions[0]?.phases[phase];
    if (measured !== undefined) phases[phase] = measured.p50Ms;
  }
  return phases;
}

/** A run's cold starts as its requests waited for them: per function, the median spawn-to-ready of its workers (the runtime's events). */
function coldStarts(trace: Trace, run: LiveRun): { byFunction: Map<string, Partial<Record<Phase, number>>>; median: Partial<Record<Phase, number>> } {
  const byFunction = new Map<string, Partial<Record<Phase, number>>>();
  trace.functions.forEach((fn, i) => {
    const ready = run.outcome.functions[i]!.readyMs;
    if (ready.length > 0) byFunction.set(fn.id, { ready: median(ready) });
  });
  return { byFunction, median: { ready: median(run.outcome.functions.flatMap((fn) => fn.readyMs)) } };
}

/** Per function, the median of each phase over every run that measured it; and their median for the functions none measured. */
function measuredPhases(trace: Trace, names: string[], runs: LiveRun[]): { byFunction: Map<string, Partial<Record<Phase, number>>>; median: Partial<Record<Phase, number>> } {
  const byFunction = new Map<string, Partial<Record<Phase, number>>>();
  const all: Partial<Record<Phase, number[]>> = {};
  trace.functions.forEach((fn, i) => {
    const phases: Partial<Record<Phase, number>> = {};
    for (const phase of COST_PHASES) {
      const values = runs.flatMap((run) => (run.phases.get(names[i]!)?.[phase] === undefined ? [] : [run.phases.get(names[i]!)![phase]!]));
      if (values.length === 0) continue;
      phases[phase] = median(values);
      (all[phase] ??= []).push(phases[phase]!);
    }
    if (Object.keys(phases).length > 0) byFunction.set(fn.id, phases);
  });
  const typical: Partial<Record<Phase, number>> = {};
  for (const phase of COST_PHASES) if (all[phase] !== undefined) typical[phase] = median(all[phase]!);
  return { byFunction, median: typical };
}

function liveFigures(run: LiveRun, measured: Trace): PolicyFigures {
  const functions = run.outcome.functions;
  const invocations = functions.reduce((sum, fn) => sum + fn.invocations, 0);
  const coldStarts = functions.reduce((sum, fn) => sum + fn.coldStarts, 0);
  return {
    invocations,
    cold_starts: coldStarts,
    cold_rate: invocations === 0 ? 0 : coldStarts / invocations,
    failed: functions.reduce((sum, fn) => sum + fn.failed, 0),
    p50_ms: round(percentile(run.outcome.latencies, 50), 3),
    p99_ms: round(percentile(run.outcome.latencies, 99), 3),
    idle_mem_s: round(functions.reduce((sum, fn, i) => sum + fn.idleSeconds * measured.functions[i]!.memoryMb, 0), 0),
  };
}

/**
 * The replayed slice in the simulator under SPREAD_SEEDS other arrival seeds, per policy:
 * how far its cold starts and idle memory-time move with the luck of the arrivals, which
 * one replay cannot show.
 */
function seedSpread(simulated: (policy: (typeof POLICIES)[number], seed: number) => SimulationResult): Record<string, { cold_starts: Spread; idle_mem_s: Spread }> {
  const seeds = Array.from({ length: SPREAD_SEEDS }, (_, i) => SEED + 1 + i);
  return Object.fromEntries(
    POLICIES.map((policy) => {
      const results = seeds.map((seed) => simulated(policy, seed));
      return [policy.key, { cold_starts: spread(results.map((result) => result.coldStarts)), idle_mem_s: spread(results.map((result) => result.idleMbSeconds)) }];
    }),
  );
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  return { median: round(median(values), 1), min: round(Math.min(...values), 1), max: round(Math.max(...values), 1) };
}

/** Per policy and function, the replay's figures beside the simulator's: [replay, simulated]. */
function perFunction(names: string[], runs: LiveRun[], simulations: Map<string, SimulationResult>, measured: Trace): Record<string, Record<string, Record<string, [number, number]>>> {
  return Object.fromEntries(
    POLICIES.map((policy, i) => {
      const live = runs[i]!.outcome.functions;
      const simulated = simulations.get(policy.key)!.perFunction;
      const figures = names.map((name, j) => [
        name,
        {
          cold_starts: [live[j]!.coldStarts, simulated[j]!.coldStarts],
          worker_starts: [live[j]!.readyMs.length, simulated[j]!.spawns],
          idle_mem_s: [round(live[j]!.idleSeconds * measured.functions[j]!.memoryMb, 1), round(simulated[j]!.idleMbSeconds, 1)],
        },
      ]);
      return [policy.key, Object.fromEntries(figures)];
    }),
  );
}

function simFigures(result: SimulationResult): PolicyFigures {
  return {
    invocations: result.invocations,
    cold_starts: result.coldStarts,
    cold_rate: result.coldStartRate,
    failed: 0,
    p50_ms: round(result.p50Ms, 3),
    p99_ms: round(result.p99Ms, 3),
    idle_mem_s: round(result.idleMbSeconds, 0),
    worker_starts: result.spawns,
  };
}

function agree(live: Record<string, PolicyFigures>, simulated: Record<string, PolicyFigures>): { agrees: boolean; outside: string[]; per_policy: Record<string, { cold_rate_ratio: number; idle_mem_ratio: number }> } {
  const outside: string[] = [];
  const floor = AGREEMENT.idleShareOfFixed * live['fixed_10min']!.idle_mem_s;
  const perPolicy: Record<string, { cold_rate_ratio: number; idle_mem_ratio: number }> = {};
  for (const policy of POLICIES) {
    const l = live[policy.key]!;
    const s = simulated[policy.key]!;
    const coldOk = Math.abs(s.cold_rate - l.cold_rate) <= Math.max(AGREEMENT.relative * l.cold_rate, AGREEMENT.coldRatePoints);
    const idleOk = Math.abs(s.idle_mem_s - l.idle_mem_s) <= Math.max(AGREEMENT.relative * l.idle_mem_s, floor);
    if (!coldOk) outside.push(`${policy.name} cold-start rate`);
    if (!idleOk) outside.push(`${policy.name} idle memory-time`);
    perPolicy[policy.key] = { cold_rate_ratio: round(s.cold_rate / l.cold_rate, 3), idle_mem_ratio: round(s.idle_mem_s / l.idle_mem_s, 3) };
  }
  return { agrees: outside.length === 0, outside, per_policy: perPolicy };
}

/** The simulator's options for a trace's full day at full scale, with the cold starts and the worker stop time the replays measured. */
function fullDayOptions(phases: ReturnType<typeof measuredPhases>, stopMs: number): SimulationOptions {
  return { seed: SEED, compression: 1, spread: 'poisson', coldStartMs: phases.median, coldStartByFunction: phases.byFunction, stopMs, batchMs: eventBatchMs({ ...DEFAULT_TUNER_OPTIONS, compression: 1 }) };
}

interface SweepPoint extends PolicyFigures {
  memory_price_factor: number;
}

/** The full day under hearth at each of `factors` times its default memory price. */
function priceSweep(full: Trace, factors: number[], phases: ReturnType<typeof measuredPhases>, stopMs: number): SweepPoint[] {
  return factors.map((factor) => {
    progress(`  hearth at ${round(factor, 4)} × its memory price, full day`);
    const policy = createPolicy('hearth', { compression: 1, hearth: { memoryPricePerMbSecond: HEARTH_DEFAULTS.memoryPricePerMbSecond * factor } });
    const result = simulate(full, policy, fullDayOptions(phases, stopMs));
    return { memory_price_factor: round(factor, 5), ...simFigures(result) };
  });
}

interface Reference {
  cold_starts: number;
  /** Of the fixed keep-alive's, in the same model. */
  cold_starts_ratio: number;
}

interface KeepAliveReferences {
  /** The fixed 10-minute keep-alive in the references' model (which counts more cold starts than the simulator does). */
  fixed_10min: { cold_starts: number; idle_mem_s: number };
  clairvoyant: Reference;
  /** The best `min` and keep-alive per function for each hour, and for the whole day, chosen knowing it. */
  best_hourly_settings: Reference;
  best_daily_settings: Reference;
}

/** The full day's keep-alive references in hindsight, at the fixed 10-minute keep-alive's memory-time. */
function keepAliveReferences(full: Trace): KeepAliveReferences {
  const functions = traceLevels(full, { seed: SEED, compression: 1, spread: 'poisson' });
  const fixed = fixedKeepAliveCost(functions, 10 * 60_000);
  const dayMs = full.minutes * TRACE_MINUTE_MS;
  const reference = (cost: { coldStarts: number }): Reference => ({ cold_starts: cost.coldStarts, cold_starts_ratio: round(cost.coldStarts / fixed.coldStarts, 3) });
  return {
    fixed_10min: { cold_starts: fixed.coldStarts, idle_mem_s: round(fixed.idleMbMs / 1000, 0) },
    clairvoyant: reference(clairvoyantCost(functions, fixed.idleMbMs)),
    best_hourly_settings: reference(bestSettingsCost(functions, fixed.idleMbMs, 60 * TRACE_MINUTE_MS, dayMs)),
    best_daily_settings: reference(bestSettingsCost(functions, fixed.idleMbMs, dayMs, dayMs)),
  };
}

/**
 * The full-day frontier against a baseline: the prices at which hearth has fewer cold starts
 * for no more idle memory-time, and its cold starts per baseline cold start at the baseline's
 * idle memory-time (interpolated between the two sweep points around it, linearly in
 * log(memory-time); undefined when the sweep does not reach it).
 */
function frontier(sweep: SweepPoint[], baseline: PolicyFigures): { dominates_at_price_factors: number[]; cold_starts_ratio_at_equal_memory: number | null } {
  const dominatesAt = sweep.filter((point) => point.cold_starts < baseline.cold_starts && point.idle_mem_s <= baseline.idle_mem_s).map((point) => point.memory_price_factor);
  const sorted = [...sweep].sort((a, b) => a.idle_mem_s - b.idle_mem_s);
  const above = sorted.findIndex((point) => point.idle_mem_s >= baseline.idle_mem_s);
  let ratio: number | null = null;
  if (above > 0) {
    const [low, high] = [sorted[above - 1]!, sorted[above]!];
    const t = (Math.log(baseline.idle_mem_s) - Math.log(low.idle_mem_s)) / (Math.log(high.idle_mem_s) - Math.log(low.idle_mem_s));
    ratio = round((low.cold_starts + t * (high.cold_starts - low.cold_starts)) / baseline.cold_starts, 3);
  }
  return { dominates_at_price_factors: dominatesAt, cold_starts_ratio_at_equal_memory: ratio };
}

/** Pareto dominance (fewer cold starts, no more idle memory-time) in the replay, per trace. */
function targets(perTrace: Record<string, { live: Record<string, PolicyFigures>; seed_spread: ReturnType<typeof seedSpread>; full_day: Record<string, PolicyFigures>; price_sweep: SweepPoint[]; keepalive_references: KeepAliveReferences }>): Record<string, unknown> {
  const dominates = (a: PolicyFigures, b: PolicyFigures): boolean => a.cold_starts < b.cold_starts && a.idle_mem_s <= b.idle_mem_s;
  const dominatesMedian = (a: { cold_starts: Spread; idle_mem_s: Spread }, b: { cold_starts: Spread; idle_mem_s: Spread }): boolean => a.cold_starts.median < b.cold_starts.median && a.idle_mem_s.median <= b.idle_mem_s.median;
  return Object.fromEntries(
    Object.entries(perTrace).map(([key, trace]) => {
      const hearth = trace.live['hearth']!;
      const fixed = trace.live['fixed_10min']!;
      const hybrid = trace.live['hybrid_histogram']!;
      return [
        key,
        {
          dominates_fixed_10min: dominates(hearth, fixed),
          dominates_hybrid_histogram: dominates(hearth, hybrid),
          cold_starts_vs_fixed: round(fixed.cold_starts / Math.max(1, hearth.cold_starts), 2),
          // The same slice's medians over other arrival seeds, in the simulator.
          over_seeds: { dominates_fixed_10min: dominatesMedian(trace.seed_spread['hearth']!, trace.seed_spread['fixed_10min']!), dominates_hybrid_histogram: dominatesMedian(trace.seed_spread['hearth']!, trace.seed_spread['hybrid_histogram']!) },
          idle_mem_vs_fixed: round(hearth.idle_mem_s / fixed.idle_mem_s, 3),
          full_day: {
            fixed_10min: { ...frontier(trace.price_sweep, trace.full_day['fixed_10min']!), clairvoyant_ratio_at_equal_memory: trace.keepalive_references.clairvoyant.cold_starts_ratio, best_hourly_settings_ratio_at_equal_memory: trace.keepalive_references.best_hourly_settings.cold_starts_ratio, best_daily_settings_ratio_at_equal_memory: trace.keepalive_references.best_daily_settings.cold_starts_ratio },
            hybrid_histogram: frontier(trace.price_sweep, trace.full_day['hybrid_histogram']!),
          },
        },
      ];
    }),
  );
}

function thinnedFunctions(trace: Trace, replay: ReplayOptions, names: string[]): Record<string, number> {
  return Object.fromEntries(trace.functions.flatMap((fn, i) => (keptShare(fn, replay) < 1 ? [[names[i]!, round(keptShare(fn, replay), 4)]] : [])));
}

function scaledPrices(): { memoryPricePerMbSecond: number } {
  return { memoryPricePerMbSecond: HEARTH_DEFAULTS.memoryPricePerMbSecond * MEMORY_SCALE };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the agent\'s tuner to list every function');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function pct(fraction: number): string {
  return `${round(fraction * 100, 2)}%`;
}

function gbs(mbSeconds: number): number {
  return round(mbSeconds / 1024, 1);
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}
