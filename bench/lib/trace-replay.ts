// A trace replayed against a real runtime: each trace function becomes a deployed function of
// real Go workers (bench/functions/trace-sleep) that sleep for the sampled execution time and
// hold the trace's memory scaled down; arrivals are sent on schedule from a pool of keep-alive
// connections; every answer's latency and cold/warm mark is kept, and idle worker time is read
// from the runtime's event log.
import http from 'node:http';
import path from 'node:path';
import { type Arrival, sendOnSchedule } from '../../agent/tuner/replay.js';
import type { TraceFunction } from '../../agent/tuner/trace.js';
import type { RuntimeEvent } from '../../shared/events.js';
import { RawClient } from './http.js';
import { percentile } from './stats.js';
import { IdleTime } from './idle-time.js';
import type { ServerProcess } from './server.js';

export const TRACE_SLEEP = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../bench/functions/trace-sleep');

/** The private memory a replayed worker of `fn` stands for: its trace memory divided by the scale, in KiB. */
export function replayMemoryKb(fn: TraceFunction, memoryScale: number): number {
  return Math.round((fn.memoryMb * 1024) / memoryScale);
}

/**
 * What a worker of `fn` must map beside its own (the stand-in's Go runtime, `baselineKb`)
 * so that in all it holds its share; a function whose share is below the baseline holds
 * nothing more.
 */
export function heldMemoryKb(fn: TraceFunction, memoryScale: number, baselineKb: number): number {
  return Math.max(0, replayMemoryKb(fn, memoryScale) - Math.round(baselineKb));
}

export interface FunctionOutcome {
  name: string;
  invocations: number;
  coldStarts: number;
  failed: number;
  idleSeconds: number;
  /** PSS without state of its idle workers, MiB, sampled from GET /v1/workers?memory=1 every second. */
  memorySamples: number[];
  /** Its workers' starts, spawn decision to ready (the runtime's events), ms. */
  readyMs: number[];
}

export interface LiveOutcome {
  functions: FunctionOutcome[];
  /** Client latency of every answered request, replay ms. */
  latencies: number[];
  /** How late the sends were against the schedule (the client's own lag), ms. */
  lateP99Ms: number;
  /** Idle periods that ended with the worker's exit, ms (IdleTime.untilExitMs). */
  untilExitMs: number[];
  wallSeconds: number;
  /** The replay clock's 0 (the trace's first minute), monotonicMs(). */
  startMs: number;
}

const MEMORY_SAMPLE_MS = 1000;
/** The replay starts this long after everything is ready. */
const LEAD_MS = 500;

export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Sends `schedule` to the deployed functions `names` on time; measures what each request saw, and idle worker time from the runtime's events. */
export async function replayLive(server: ServerProcess, names: readonly string[], schedule: readonly Arrival[], horizonMs: number): Promise<LiveOutcome> {
  const t0 = monotonicMs() + LEAD_MS;
  const idle = new IdleTime(t0 * 1e6, (t0 + horizonMs) * 1e6);
  const ready = new Map<string, number[]>(names.map((name) => [name, []]));
  // From the log's first event: the workers the deploys started are idle from their ready events on.
  const follower = follow(server, 0, (event) => {
    idle.take(event);
    if (event.type === 'worker_ready' && event.ts >= t0 * 1e6) ready.get(event.function)?.push(event.spawnToReadyMs);
  });
  const memory = new Map<string, number[]>(names.map((name) => [name, []]));
  const sampler = setInterval(() => {
    void server.api<{ workers: { function: string; status: string; privateMemoryMb?: number }[] }>('GET', '/v1/workers?memory=1').then(
      ({ workers }) => {
        for (const worker of workers) if (worker.status === 'idle' && worker.privateMemoryMb !== undefined) memory.get(worker.function)?.push(worker.privateMemoryMb);
      },
      () => undefined,
    );
  }, MEMORY_SAMPLE_MS);
  const counts = names.map(() => ({ invocations: 0, coldStarts: 0, failed: 0 }));
  const latencies: number[] = [];
  const late: number[] = [];
  const connections = new Connections(server.port);
  await connections.open(64);
  const inFlight = new Set<Promise<void>>();
  const send = (arrival: Arrival): void => {
    late.push(monotonicMs() - t0 - arrival.at);
    const request = connections.post(`/v1/functions/${names[arrival.fn]}/invoke`, String(arrival.durationUs)).then(
      (reply) => {
        const count = counts[arrival.fn]!;
        count.invocations++;
        if (reply.status !== 200) count.failed++;
        else latencies.push(reply.ms);
        if (reply.headers.get('x-hearth-start') === 'cold') count.coldStarts++;
      },
      () => {
        counts[arrival.fn]!.failed++;
      },
    );
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };
  const started = Date.now();
  await sendOnSchedule(schedule, t0, monotonicMs, send);
  await Promise.all(inFlight);
  // Idle time is counted up to the end of the trace.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + horizonMs - monotonicMs()) + 200));
  clearInterval(sampler);
  follower.destroy();
  connections.close();
  const idleSeconds = idle.seconds();
  return {
    functions: names.map((name, i) => ({ name, ...counts[i]!, idleSeconds: idleSeconds.get(name) ?? 0, memorySamples: memory.get(name)!, readyMs: ready.get(name)! })),
    latencies,
    lateP99Ms: percentile(late, 99),
    untilExitMs: idle.untilExitMs,
    wallSeconds: (Date.now() - started) / 1000,
    startMs: t0,
  };
}

/** Keep-alive connections to the runtime, one request at a time each, opened as bursts need them. */
class Connections {
  private readonly free: RawClient[] = [];
  private readonly all: RawClient[] = [];

  constructor(private readonly port: number) {}

  async open(count: number): Promise<void> {
    for (let i = 0; i < count; i++) this.release(await this.connect());
  }

  async post(route: string, body: string): Promise<Awaited<ReturnType<RawClient['post']>>> {
    let client = this.free.pop();
    while (client?.closed === true) client = this.free.pop();
    client ??= await this.connect();
    try {
      return await client.post(route, body);
    } finally {
      this.release(client);
    }
  }

  close(): void {
    for (const client of this.all) client.close();
  }

  private async connect(): Promise<RawClient> {
    const client = await RawClient.connect(this.port);
    this.all.push(client);
    return client;
  }

  private release(client: RawClient): void {
    this.free.push(client);
  }
}

/** Follows the runtime's event log with every invocation, from `since`. */
function follow(server: ServerProcess, since: number, onEvent: (event: RuntimeEvent) => void): http.ClientRequest {
  const request = http.get(`${server.url}/v1/events?since=${since}&follow=1&invocations=all&batchMs=50`, { headers: { authorization: `Bearer ${server.token}` } }, (response) => {
    response.setEncoding('utf8');
    let pending = '';
    response.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onEvent(JSON.parse(line) as RuntimeEvent);
    });
  });
  request.on('error', () => undefined);
  return request;
}
