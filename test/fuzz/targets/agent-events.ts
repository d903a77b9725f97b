// The agent's two event decoders and what consumes them. The first byte picks which:
//  - ring: struct hearth_event records as the ring buffer hands them over (agent/probes/events.ts),
//    each record's length from the input (a short or overlong record included), then the
//    phase tracker, which joins them by pid with a few runtime events;
//  - runtime: the NDJSON of GET /v1/events, cut into chunks anywhere, through the agent's
//    line reader and event decoder (agent/runtime-client.ts), then the phase tracker.
// Documented outcome: events decoded and tracked, or refused with EventDecodeError or
// RuntimeEventError naming the problem (the agent counts or reconnects and keeps running).
import { PhaseTracker } from '../../../agent/phases/tracker.js';
import { decodeEvent, decodeExitStatus, encodeEvent, EventDecodeError, EventType, Marker, EVENT_SIZE, type KernelEvent } from '../../../agent/probes/events.js';
import { decodeEventLines } from '../../../agent/runtime-client.js';
import { RuntimeEventError, type RuntimeEvent } from '../../../shared/events.js';
import { LineSplitter } from '../../../shared/ndjson.js';
import { check, refusedWith, type FuzzTarget } from './target.js';

function tracker(): PhaseTracker {
  return new PhaseTracker({ settleNs: 1e6, timeoutNs: 1e9, onRecord: () => undefined, onExit: () => undefined });
}

/** Workers 1-3 of function f as pids 100-102, so that kernel events find workers to join. */
const WORKERS: RuntimeEvent[] = [1, 2, 3].flatMap((workerId): RuntimeEvent[] => [
  { type: 'spawn_requested', seq: workerId * 2 - 1, ts: 1000, function: 'f', workerId, reason: 'cold', requestId: workerId },
  { type: 'worker_spawned', seq: workerId * 2, ts: 2000, function: 'f', workerId, pid: 99 + workerId, binary: '/bin/f', origin: 'seed' },
]);

function runRing(data: Buffer): 'ok' | 'refused' {
  const phases = tracker();
  for (const event of WORKERS) phases.runtime(event);
  let refused = false;
  let latest = 0;
  for (let offset = 0; offset < data.length; ) {
    // Each record: one byte of length (EVENT_SIZE - 8 .. EVENT_SIZE + 7), then the record.
    const length = EVENT_SIZE - 8 + (data[offset]! & 15);
    offset += 1;
    let event: KernelEvent;
    try {
      event = decodeEvent(data, offset, length);
    } catch (error) {
      refusedWith(error, EventDecodeError);
      refused = true;
      offset += length;
      continue;
    }
    offset += length;
    check(Number.isFinite(event.ts) && event.comm.length <= 16, `decoded ${JSON.stringify(event)}`);
    if (event.type === EventType.EXIT) decodeExitStatus(event.arg);
    phases.kernel(event);
    latest = Math.max(latest, event.ts);
  }
  phases.tick(latest + 2e9);
  return refused ? 'refused' : 'ok';
}

function runRuntime(data: Buffer): 'ok' | 'refused' {
  const phases = tracker();
  const lines = new LineSplitter(1 << 12);
  const text = data.toString('utf8');
  let latest = 0;
  try {
    for (let offset = 0; offset < text.length; offset += 23) {
      for (const event of decodeEventLines(lines, text.slice(offset, offset + 23))) {
        phases.runtime(event);
        latest = Math.max(latest, event.ts);
      }
    }
  } catch (error) {
    return refusedWith(error, RuntimeEventError);
  } finally {
    phases.tick(latest + 2e9);
  }
  return 'ok';
}

export const target: FuzzTarget = {
  maxLength: 8192,
  dictionary: ['\n', '{"type":"', '"seq":', '"ts":', '"function":"f"', '"workerId":1', '"pid":100', '"cold":true', '"id":1', '"status":200', '"inflight":[1]', '"oomKilled":false', '"code":null', '"signal":"SIGKILL"', '"reason":"cold"', '"origin":"seed"', '"binary":"/bin/f"', '"kind":"go"', '"version":1', 'spawn_requested', 'worker_spawned', 'worker_ready', 'invoke_start', 'invoke_end', 'worker_exit', 'function_prepared', 'function_deployed', 'function_removed', 'null', '1e308', '-1', '\u0064\u0000\u0000\u0000'],
  seeds() {
    const event = (type: number, pid: number, ts: number, arg = 0, cookie = 0): Buffer => Buffer.concat([Buffer.from([8]), encodeEvent({ ts, type: type as KernelEvent['type'], pid, ppid: 1, tid: pid, arg, arg2: 0, cookie, comm: 'worker' })]);
    const ring = Buffer.concat([
      Buffer.from([0]),
      event(EventType.FORK, 100, 2500),
      event(EventType.EXEC, 100, 3000),
      event(EventType.MARK, 100, 3500, 0, Marker.GO_RUNTIME_MAIN),
      event(EventType.STATE_MMAP, 100, 4000),
      event(EventType.IPC_WRITE, 100, 4500),
      event(EventType.EXIT, 101, 5000, 9),
      event(EventType.OOM, 102, 5100),
    ]);
    const ndjson = [
      ...WORKERS,
      { type: 'worker_ready', seq: 7, ts: 5000, function: 'f', workerId: 1, pid: 100, spawnToReadyMs: 1.2 },
      { type: 'invoke_start', seq: 8, ts: 5100, function: 'f', id: 1, workerId: 1, pid: 100, cold: true },
      { type: 'invoke_end', seq: 9, ts: 5200, function: 'f', id: 1, workerId: 1, pid: 100, cold: true, status: 200 },
      { type: 'worker_exit', seq: 10, ts: 5300, function: 'f', workerId: 2, pid: 101, code: null, signal: 'SIGKILL', reason: 'oom', inflight: [2], oomKilled: true },
      { type: 'function_prepared', seq: 11, ts: 5400, function: 'g', version: 1, kind: 'go', binary: '/bin/g' },
    ]
      .map((line) => JSON.stringify(line))
      .join('\n');
    return [ring, Buffer.concat([Buffer.from([1]), Buffer.from(ndjson + '\n')])];
  },
  run(data) {
    if (data.length === 0) return 'ok';
    return data[0]! % 2 === 0 ? runRing(data.subarray(1)) : runRuntime(data.subarray(1));
  },
};
