import type http from 'node:http';
import type { FunctionStats, RuntimeInfo } from '../../shared/api.js';
import { authorized } from '../../shared/auth.js';
import type { RuntimeEvent, WorkerOrigin } from '../../shared/events.js';
import { nowMs } from '../clock.js';
import type { EventLog } from '../events.js';
import type { ProbeGate } from '../probe-gate.js';
import { HearthError } from '../../shared/errors.js';
import { Checker, parseFunction, parseGc, show } from '../manifest/parse.js';
import type { FunctionKind, GcSpec, PoolSpec } from '../manifest/spec.js';
import type { Registry } from '../registry.js';
import type { ToolProfiles } from '../profile-tools/runs.js';
import { pssWithoutStateMb } from '../supervisor/proc-usage.js';
import { DEFAULT_STATS_TIMEOUT_MS, MAX_STATS_TIMEOUT_MS, gatherFunctionStats } from './function-stats.js';
import { parseJsonBody, readBody, respondWithProgress, sendError, sendJson } from './respond.js';
import { serveToolProfiles, startToolProfile } from './tool-profiles.js';

/** The longest an event stream may hold events back (batchMs). */
const MAX_EVENT_BATCH_MS = 10_000;

export interface ControlContext {
  registry: Registry;
  events: EventLog;
  probeGate: ProbeGate;
  token: string;
  maxBodyBytes: number;
  /** Processes started ahead of need: seeds (any worker) and Node stem cells. */
  spares(): { seedsReady: number; stemCellsReady: number };
  /** Who this runtime is, for the agent: its pid (whose descendants it traces), the seed binary, Node's. */
  info(): RuntimeInfo;
  /** Profiling runs with Node's tools (0x, clinic). */
  toolProfiles: ToolProfiles;
}

export interface WorkerInfo {
  id: number;
  pid: number;
  function: string;
  version: number;
  status: string;
  inflight: number;
  invocations: number;
  sdk: string;
  origin: WorkerOrigin;
  ageMs: number;
  idleMs: number;
  spawnToReadyMs: number | null;
  stateId: string | null;
  /** With ?memory=1: the worker's PSS without its state, MiB (what keeping it idle costs). */
  privateMemoryMb?: number;
}

/** Routes under /v1 other than invoke. `parts` is the path split on "/" after "v1". */
export function handleControl(context: ControlContext, method: string, parts: string[], query: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!authorized(req, context.token)) {
    req.resume();
    return sendError(res, new HearthError('HEARTH_ERR_UNAUTHORIZED', 'the control API needs `Authorization: Bearer <token>` with the runtime\'s token'), { 'www-authenticate': 'Bearer' });
  }
  const [collection, name, sub, extra] = parts;
  const route = `${method} ${collection ?? ''}${name === undefined ? '' : '/:name'}${sub === undefined ? '' : `/${sub}`}`;
  if (extra !== undefined) return notFound(req, res);
  if (collection === 'tool-profiles') return serveToolProfiles(context.toolProfiles, method, name, sub, req, res);
  switch (route) {
    case 'GET functions':
      return sendJson(res, 200, { functions: context.registry.all().map((pool) => context.registry.describe(pool)) });
    case 'GET functions/:name': {
      const pool = context.registry.get(name!);
      if (pool === undefined) return sendError(res, missing(name!));
      return sendJson(res, 200, context.registry.describe(pool));
    }
    case 'PUT functions/:name':
      return withJson(context, req, res, (body) => deploy(context, name!, body, req, res));
    case 'PATCH functions/:name':
      return withJson(context, req, res, async (body) => sendJson(res, 200, await configure(context, name!, body)));
    case 'DELETE functions/:name':
      req.resume();
      return void context.registry.remove(name!).then(
        () => sendJson(res, 200, { removed: name }),
        (error) => sendError(res, error),
      );
    case 'GET functions/:name/stats':
      req.resume();
      return void functionStats(context, name!, query).then(
        (stats) => sendJson(res, 200, stats),
        (error) => sendError(res, error),
      );
    case 'PUT functions/:name/state':
      return uploadState(context, name!, req, res);
    case 'POST functions/:name/profile':
      return withJson(context, req, res, (body) => startToolProfile(context.toolProfiles, name!, body, req, res));
    case 'GET info':
      return sendJson(res, 200, context.info());
    case 'GET workers': {
      const memory = query.get('memory') ?? '0';
      if (memory !== '0' && memory !== '1') return sendError(res, new HearthError('HEARTH_ERR_BAD_REQUEST', `memory must be 0 or 1 (got ${JSON.stringify(memory)})`));
      return sendJson(res, 200, { workers: listWorkers(context.registry, query.get('function') ?? undefined, memory === '1'), ...context.spares() });
    }
    case 'GET events':
      return streamEvents(context, query, req, res);
    case 'POST followers/:name/ack':
      return withJson(context, req, res, (body) => acknowledge(context.probeGate, name!, body, res));
    default:
      if (['functions', 'workers', 'events', 'info', 'followers'].includes(collection ?? '')) {
        req.resume();
        return sendError(res, new HearthError('HEARTH_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on /v1/${parts.join('/')}`));
      }
      return notFound(req, res);
  }
}

export function notFound(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  sendError(res, new HearthError('HEARTH_ERR_NOT_FOUND', `no route for ${req.method} ${req.url}`));
}

function missing(name: string): HearthError {
  return new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `no function named ${name} is deployed`, { details: { function: name } });
}

function withJson(context: ControlContext, req: http.IncomingMessage, res: http.ServerResponse, use: (body: unknown) => unknown): void {
  readBody(req, context.maxBodyBytes, (error, raw) => {
    if (error !== undefined) return sendError(res, error);
    try {
      const result = use(parseJsonBody(raw));
      if (result instanceof Promise) result.catch((failure: unknown) => sendError(res, failure));
    } catch (failure) {
      sendError(res, failure);
    }
  });
}

/**
 * PUT /v1/functions/{name}: deploys or updates. With `Accept: application/x-ndjson` the
 * response streams progress lines ({"progress": ...}) and ends with {"result": ...} or {"error": ...}.
 */
async function deploy(context: ControlContext, name: string, body: unknown, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const object = typeof body === 'object' && body !== null && !Array.isArray(body) ? { name, ...(body as Record<string, unknown>) } : body;
  const spec = parseFunction(object, { label: 'request body' });
  if (spec.name !== name) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `the body names function ${spec.name} but the path names ${name}`);
  await respondWithProgress(req, res, (onProgress) => context.registry.deploy(spec, onProgress === undefined ? {} : { onProgress }));
}

async function configure(context: ControlContext, name: string, body: unknown): Promise<unknown> {
  const pool = context.registry.get(name);
  if (pool === undefined) throw missing(name);
  const patch = parseConfigurePatch(body, pool.settings, pool.current.spec.kind);
  let info: unknown = context.registry.describe(pool);
  if (patch.pool !== undefined) info = context.registry.configurePool(name, patch.pool);
  if (patch.gc !== undefined) info = await context.registry.configureGc(name, patch.gc);
  return info;
}

/** The body of PATCH /v1/functions/{name}: new pool settings (over the current ones) and GC settings for a function of `kind`. */
export function parseConfigurePatch(body: unknown, current: PoolSpec, kind: FunctionKind): { pool?: PoolSpec; gc?: GcSpec } {
  const check = new Checker({ label: 'request body' });
  const patch = check.object(body, '');
  check.noUnknown(patch, ['pool', 'gc'], '');
  const result: { pool?: PoolSpec; gc?: GcSpec } = {};
  if (patch['pool'] !== undefined) {
    const given = check.object(patch['pool'], 'pool');
    check.noUnknown(given, ['min', 'max', 'keepAliveMs', 'spare', 'maxQueued'], 'pool');
    const settings: PoolSpec = {
      min: check.int(given['min'], 'pool.min', current.min, 0, 1024),
      max: check.int(given['max'], 'pool.max', current.max, 1, 1024),
      keepAliveMs: check.int(given['keepAliveMs'], 'pool.keepAliveMs', current.keepAliveMs, 0, 7 * 24 * 3600_000),
      spare: check.int(given['spare'], 'pool.spare', current.spare, 0, 1024),
      maxQueued: check.int(given['maxQueued'], 'pool.maxQueued', current.maxQueued, 0, 1_000_000),
    };
    if (settings.max < settings.min) check.fail('pool.max', `must be at least pool.min (${settings.min}); got ${settings.max}`);
    if (settings.spare > settings.max) check.fail('pool.spare', `must be at most pool.max (${settings.max}); got ${settings.spare}`);
    result.pool = settings;
  }
  if (patch['gc'] !== undefined) result.gc = parseGc(check, patch['gc'], kind, 'gc');
  return result;
}

/** GET /v1/functions/{name}/stats[?timeoutMs=N]: every ready worker's GC and memory figures. */
async function functionStats(context: ControlContext, name: string, query: URLSearchParams): Promise<FunctionStats> {
  const raw = query.get('timeoutMs');
  const timeoutMs = raw === null ? DEFAULT_STATS_TIMEOUT_MS : Number(raw);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_STATS_TIMEOUT_MS) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `timeoutMs must be an integer from 1 to ${MAX_STATS_TIMEOUT_MS} (got ${JSON.stringify(raw)})`, { details: { field: 'timeoutMs' } });
  }
  const pool = context.registry.get(name);
  if (pool === undefined) throw missing(name);
  return gatherFunctionStats(pool, timeoutMs);
}

/** PUT /v1/functions/{name}/state: the body (Content-Length required) becomes the function's new state version. */
function uploadState(context: ControlContext, name: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const declared = req.headers['content-length'];
  const size = Number(declared);
  if (declared === undefined || !Number.isSafeInteger(size) || size < 0) {
    req.resume();
    return sendError(res, new HearthError('HEARTH_ERR_BAD_REQUEST', 'a state upload needs a Content-Length header'), { connection: 'close' });
  }
  if (context.registry.get(name) === undefined) {
    req.resume();
    return sendError(res, missing(name), { connection: 'close' });
  }
  context.registry.replaceState(name, req, size).then(
    (info) => sendJson(res, 200, info),
    (error) => {
      req.resume();
      sendError(res, error, { connection: 'close' });
    },
  );
}

/** The live workers, of one function or all; with `memory`, each one's PSS without its state (a page walk per worker). */
export function listWorkers(registry: Registry, fn?: string, memory = false): WorkerInfo[] {
  const now = nowMs();
  const workers: WorkerInfo[] = [];
  for (const pool of registry.all()) {
    if (fn !== undefined && pool.name !== fn) continue;
    for (const worker of pool.listWorkers()) {
      workers.push({
        id: worker.id,
        pid: worker.pid,
        function: pool.name,
        version: worker.version,
        status: worker.status === 'ready' && worker.busy ? 'busy' : worker.status === 'ready' ? 'idle' : worker.status,
        inflight: worker.inflight.size,
        invocations: worker.invocations,
        sdk: worker.sdk,
        origin: worker.origin,
        ageMs: Math.round(now - worker.spawnedAt),
        idleMs: worker.busy ? 0 : Math.round(now - worker.lastUsedAt),
        spawnToReadyMs: worker.readyAt > 0 ? Number((worker.readyAt - worker.spawnedAt).toFixed(3)) : null,
        stateId: worker.state?.id ?? null,
        ...(memory ? privateMemory(worker.pid) : {}),
      });
    }
  }
  return workers;
}

function privateMemory(pid: number): Pick<WorkerInfo, 'privateMemoryMb'> {
  const mb = pssWithoutStateMb(pid);
  return mb === undefined ? {} : { privateMemoryMb: Number(mb.toFixed(2)) };
}

/**
 * GET /v1/events?since=N[&follow=1][&invocations=cold][&batchMs=N][&hold=1]: NDJSON, one event
 * per line; with follow, the stream stays open. invocations=cold leaves out warm invocations'
 * events and refusals (a follower that only needs cold starts then costs nothing per warm request); batchMs
 * sends what happened at most that often (0, the default: after each turn of the event loop), so
 * that a follower that does not need events at once is not woken per event; function_prepared,
 * which announces a new binary, is sent at once. With hold (and follow), a new binary's first
 * worker waits until this follower acknowledges that event (POST /v1/followers/{id}/ack; the id
 * is in the x-hearth-follower header), for at most two seconds.
 */
function streamEvents(context: ControlContext, query: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
  const { events } = context;
  req.resume();
  const parsed = parseEventsQuery(query);
  if (parsed instanceof HearthError) return sendError(res, parsed);
  const { since, invocations, batchMs, follow, hold } = parsed;
  // Everything before `since` and in the backlog below is acknowledged by connecting.
  const holder = hold ? context.probeGate.register(events.lastSeq) : undefined;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', ...(holder === undefined ? {} : { 'x-hearth-follower': String(holder) }) });
  // A follower learns it is connected now, not at the next event.
  res.flushHeaders();
  const wanted = (event: RuntimeEvent): boolean => {
    if (invocations === 'all') return true;
    if (event.type === 'invoke_refused') return false;
    return !((event.type === 'invoke_start' || event.type === 'invoke_end') && !event.cold);
  };
  res.write(events.since(since).filter(wanted).map((event) => JSON.stringify(event) + '\n').join(''));
  if (!follow) return void res.end();
  // Events published during one turn of the event loop go out in one write, after the work
  // that produced them (a cold start in progress is not held up by a write per event).
  let batch: RuntimeEvent[] = [];
  const flush = (): void => {
    const lines = batch.map((event) => JSON.stringify(event) + '\n').join('');
    batch = [];
    res.write(lines);
  };
  const schedule = (): (() => void) => {
    if (batchMs === 0) {
      const immediate = setImmediate(flush);
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(flush, batchMs);
    return () => clearTimeout(timer);
  };
  let cancel = (): void => {};
  const unsubscribe = events.subscribe((event) => {
    if (!wanted(event)) return;
    // A new binary goes out at once: a follower may have to probe it before its first worker starts.
    if (event.type === 'function_prepared' && batchMs > 0) {
      cancel();
      batch.push(event);
      flush();
      return;
    }
    if (batch.length === 0) cancel = schedule();
    batch.push(event);
  });
  const heartbeat = setInterval(() => res.write('\n'), 15_000);
  res.on('close', () => {
    unsubscribe();
    clearInterval(heartbeat);
    cancel();
    if (holder !== undefined) context.probeGate.release(holder);
  });
}

export interface EventsQuery {
  since: number;
  invocations: 'all' | 'cold';
  batchMs: number;
  follow: boolean;
  hold: boolean;
}

/** The query of GET /v1/events, or what is wrong with it. */
export function parseEventsQuery(query: URLSearchParams): EventsQuery | HearthError {
  const since = Number(query.get('since') ?? '0');
  if (!Number.isSafeInteger(since) || since < 0) return new HearthError('HEARTH_ERR_BAD_REQUEST', `since must be a non-negative integer (got ${JSON.stringify(query.get('since'))})`);
  const invocations = query.get('invocations') ?? 'all';
  if (invocations !== 'all' && invocations !== 'cold') return new HearthError('HEARTH_ERR_BAD_REQUEST', `invocations must be all or cold (got ${JSON.stringify(invocations)})`);
  const batchMs = Number(query.get('batchMs') ?? '0');
  if (!Number.isInteger(batchMs) || batchMs < 0 || batchMs > MAX_EVENT_BATCH_MS) return new HearthError('HEARTH_ERR_BAD_REQUEST', `batchMs must be an integer from 0 to ${MAX_EVENT_BATCH_MS} (got ${JSON.stringify(query.get('batchMs'))})`);
  const follow = flag(query, 'follow');
  return { since, invocations, batchMs, follow, hold: follow && flag(query, 'hold') };
}

function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value === '1' || value === 'true';
}

/** POST /v1/followers/{id}/ack {"seq": N}: the follower has acted on every event up to N. */
function acknowledge(gate: ProbeGate, id: string, body: unknown, res: http.ServerResponse): void {
  const seq = parseAckBody(body);
  const holder = Number(id);
  if (!Number.isSafeInteger(holder) || !gate.ack(holder, seq)) throw new HearthError('HEARTH_ERR_NOT_FOUND', `no holding event follower ${JSON.stringify(id)} (its stream must be open with hold=1)`);
  sendJson(res, 200, { follower: holder, acked: seq });
}

/** The `seq` of an acknowledgement body. */
export function parseAckBody(body: unknown): number {
  const seq = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).seq : undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `seq must be a non-negative integer (got ${show(seq)})`);
  return seq;
}
