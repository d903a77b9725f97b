import type http from 'node:http';
import { nowMs } from '../clock.js';
import { HearthError } from '../../shared/errors.js';
import type { FunctionPool } from '../pool/pool.js';
import type { Registry } from '../registry.js';
import { newInvocation, type Invocation, type Settlement } from '../supervisor/invocation.js';
import { readBody, sendError } from './respond.js';

export interface InvokeContext {
  registry: Registry;
  maxBodyBytes: number;
  nextInvocationId(): number;
  accepting(): boolean;
}

/** POST /v1/functions/{name}/invoke: the hot path. */
export function handleInvoke(context: InvokeContext, name: string, pool: FunctionPool | undefined, query: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const arrivedAt = nowMs();
  if (pool === undefined) {
    req.resume();
    return sendError(res, new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `no function named ${name} is deployed`, { details: { function: name } }));
  }
  if (!context.accepting()) {
    req.resume();
    return sendError(res, new HearthError('HEARTH_ERR_SHUTTING_DOWN', 'the runtime is shutting down', { details: { retryAfterSeconds: 1 } }));
  }
  let timeoutMs = pool.current.spec.limits.timeoutMs;
  if (query !== '') {
    const requested = parseTimeout(query, timeoutMs);
    if (requested instanceof HearthError) {
      req.resume();
      return sendError(res, requested);
    }
    timeoutMs = requested;
  }
  readBody(req, context.maxBodyBytes, (error, body) => {
    if (error !== undefined) return sendError(res, error, error.code === 'HEARTH_ERR_BODY_TOO_LARGE' ? { connection: 'close' } : {});
    pool.invoke(newInvocation({ id: context.nextInvocationId(), fn: name, body, arrivedAt, deadline: arrivedAt + timeoutMs, done: (outcome, invocation) => respond(res, outcome, invocation) }));
  });
}

function respond(res: http.ServerResponse, outcome: Settlement, invocation: Invocation): void {
  const end = nowMs();
  const headers: http.OutgoingHttpHeaders = { 'x-hearth-invocation': String(invocation.id) };
  if (invocation.pid > 0) {
    const queued = fixed3(invocation.dispatchedAt - invocation.arrivedAt - invocation.startWaitMs);
    headers['x-hearth-start'] = invocation.cold ? 'cold' : 'warm';
    if (invocation.cold) headers['x-hearth-origin'] = invocation.origin;
    headers['x-hearth-worker'] = String(invocation.pid);
    headers['server-timing'] = `queue;dur=${queued}, start;dur=${fixed3(invocation.startWaitMs)}, worker;dur=${fixed3(end - invocation.dispatchedAt)}, total;dur=${fixed3(end - invocation.arrivedAt)}`;
  }
  if (outcome.ok) {
    headers['content-type'] = 'application/octet-stream';
    headers['content-length'] = outcome.body.length;
    res.writeHead(200, headers);
    res.end(outcome.body);
  } else {
    sendError(res, outcome.error, headers);
  }
}

/** `ms.toFixed(3)` at a fraction of its cost: Server-Timing formats four durations per request. */
export function fixed3(ms: number): string {
  const micros = Math.round(ms * 1000);
  const abs = micros < 0 ? -micros : micros;
  const fraction = abs % 1000;
  return `${micros < 0 ? '-' : ''}${(abs - fraction) / 1000}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}

/** The query of an invoke request: only timeoutMs, an integer from 1 to the function's limit. */
export function parseTimeout(query: string, limit: number): number | HearthError {
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (key !== 'timeoutMs') return new HearthError('HEARTH_ERR_BAD_REQUEST', `unknown query parameter ${JSON.stringify(key)} (allowed: timeoutMs)`);
  }
  const text = params.get('timeoutMs');
  if (text === null) return limit;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > limit) {
    return new HearthError('HEARTH_ERR_BAD_REQUEST', `timeoutMs must be an integer from 1 to the function's limit of ${limit} (got ${JSON.stringify(text)})`);
  }
  return value;
}
