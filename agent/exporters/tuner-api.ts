// The live tuner on the agent's API:
//   GET /v1/tuner/status                     mode, policy, and per function the settings it started from,
//                                            those in force, the latest recommendation and why, its
//                                            measured costs, a change being watched
//   GET /v1/tuner/decisions[?function=F][&limit=N][&since=SEQ][&follow=1]
//                                            the decision log, oldest first; with follow, NDJSON as they come
//   PUT /v1/tuner/mode {"mode": "on"|"dry-run"|"off"}   needs the agent's token (the runtime's control token it was given)
import type http from 'node:http';
import { HearthError } from '../../shared/errors.js';
import type { LiveTuner } from '../tuner/live/live-tuner.js';
import { TUNER_MODES, type TunerMode } from '../tuner/live/metrics.js';
import { putField, sendError, sendJson } from './reply.js';

export interface TunerApiContext {
  tuner: LiveTuner;
}

const MAX_MODE_BODY_BYTES = 1024;
const DEFAULT_DECISIONS = 200;
const MAX_DECISIONS = 5000;

/** True when the route is the tuner's (and has been answered). */
export function serveTuner(context: TunerApiContext, req: http.IncomingMessage, url: URL, res: http.ServerResponse): boolean {
  if (!url.pathname.startsWith('/v1/tuner/') && url.pathname !== '/v1/tuner') return false;
  const route = `${req.method} ${url.pathname}`;
  if (route === 'PUT /v1/tuner/mode') {
    setMode(context, req, res);
    return true;
  }
  req.resume();
  switch (route) {
    case 'GET /v1/tuner/status':
      sendJson(res, 200, context.tuner.status());
      return true;
    case 'GET /v1/tuner/decisions':
      decisions(context, url, res);
      return true;
    default: {
      const known = ['/v1/tuner/status', '/v1/tuner/decisions', '/v1/tuner/mode'].includes(url.pathname);
      const allowed = url.pathname === '/v1/tuner/mode' ? 'PUT' : 'GET';
      sendError(res, known ? new HearthError('HEARTH_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname} (${allowed} is)`) : new HearthError('HEARTH_ERR_NOT_FOUND', `no route for ${req.method} ${url.pathname}`));
      return true;
    }
  }
}

function decisions(context: TunerApiContext, url: URL, res: http.ServerResponse): void {
  const fn = url.searchParams.get('function') ?? undefined;
  const limit = integer(url, 'limit', DEFAULT_DECISIONS, 1, MAX_DECISIONS);
  const since = integer(url, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
  if (limit instanceof HearthError) return sendError(res, limit);
  if (since instanceof HearthError) return sendError(res, since);
  const log = context.tuner.decisions;
  const recent = log.list({ ...(fn === undefined ? {} : { function: fn }), since, limit });
  if (url.searchParams.get('follow') !== '1') return sendJson(res, 200, { mode: context.tuner.currentMode, lastSeq: log.lastSeq, decisions: recent });
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.write(recent.map((decision) => JSON.stringify(decision) + '\n').join(''));
  const unsubscribe = log.subscribe((decision) => {
    if (fn === undefined || decision.function === fn) res.write(JSON.stringify(decision) + '\n');
  });
  const heartbeat = setInterval(() => res.write('\n'), 15_000);
  res.on('close', () => {
    unsubscribe();
    clearInterval(heartbeat);
  });
}

function setMode(context: TunerApiContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  putField(req, res, 'mode', MAX_MODE_BODY_BYTES, parseMode, async (mode) => {
    await context.tuner.setMode(mode);
    return context.tuner.status();
  }, (mode) => `the tuner could not switch to ${mode}`);
}

function parseMode(mode: unknown): TunerMode | HearthError {
  if (typeof mode !== 'string' || !(TUNER_MODES as readonly string[]).includes(mode)) {
    return new HearthError('HEARTH_ERR_BAD_REQUEST', `mode: must be one of ${TUNER_MODES.join(', ')} (got ${JSON.stringify(mode)})`);
  }
  return mode as TunerMode;
}

function integer(url: URL, name: string, fallback: number, min: number, max: number): number | HearthError {
  const text = url.searchParams.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) return new HearthError('HEARTH_ERR_BAD_REQUEST', `${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  return value;
}
