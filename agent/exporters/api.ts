import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerList } from '../../shared/api.js';
import { HearthError } from '../../shared/errors.js';
import { authorized } from '../../shared/auth.js';
import { PHASES } from '../../shared/phases.js';
import type { RecordStore } from '../phases/store.js';
import type { FaroCollector } from './faro-collector.js';
import { serveTuner, type TunerApiContext } from './tuner-api.js';
import type { AgentMetrics } from './metrics.js';
import { poolView } from './pool-api.js';
import { serveProfiles, type ProfilesContext } from './profiles-api.js';
import { putField, sendError, sendJson } from './reply.js';
import type { UiAssets } from './ui-assets.js';
import type { PlanKind } from '../probes/plan-worker.js';

export interface ProbeStatus {
  binary: string;
  kind: PlanKind;
  attached: string[];
  /** The SDK's state-mapped and ready markers are among the probes attached. */
  sdkMarkers: boolean;
  missing: string[];
  errors: string[];
}

export interface AgentApiContext extends ProfilesContext {
  /** The runtime's control token: what a request other than a read (or the UI's telemetry) must carry. */
  token: string;
  store: RecordStore;
  metrics: AgentMetrics;
  health(): Record<string, unknown>;
  probes(): ProbeStatus[];
  /** Whether the probes are attached now (PUT /v1/probes {"attached": false} detaches them). */
  attached(): boolean;
  setAttached(attached: boolean): Promise<void>;
  /** The runtime's workers (GET /v1/workers, with the agent's token). */
  workers(fn?: string): Promise<WorkerList>;
  faro: FaroCollector;
  ui: UiAssets;
  /** The live tuner's routes (/v1/tuner/...). */
  tuner: TunerApiContext;
}

const ERROR_CODES: Record<number, string> = { 401: 'HEARTH_ERR_UNAUTHORIZED', 404: 'HEARTH_ERR_NOT_FOUND', 405: 'HEARTH_ERR_METHOD_NOT_ALLOWED', 503: 'HEARTH_ERR_UNAVAILABLE' };

const MAX_ATTACHED_BODY_BYTES = 1024;

function error(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { code: ERROR_CODES[status] ?? 'HEARTH_ERR_BAD_REQUEST', message } });
}

/** PUT /v1/probes {"attached": true|false}: detaches every probe and clock of the agent, or attaches them again. */
function setAttached(context: AgentApiContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const parse = (value: unknown): boolean | HearthError => (typeof value === 'boolean' ? value : new HearthError('HEARTH_ERR_BAD_REQUEST', `attached: must be true or false (got ${JSON.stringify(value)})`));
  putField(req, res, 'attached', MAX_ATTACHED_BODY_BYTES, parse, async (attached) => {
    await context.setAttached(attached);
    return { attached: context.attached(), probes: context.probes() };
  }, (attached) => `the probes could not be ${attached ? 'attached' : 'detached'}`);
}

/**
 * The agent's HTTP API: cold-start records, phase percentiles, exits, probes, the runtime's
 * pools, profiles, metrics, the tuner, and the web UI; read-only but for the UI's telemetry
 * (POST /collect), the probes attached or not (PUT /v1/probes) and the tuner's mode (PUT /v1/tuner/mode).
 * Any other request that is not a GET needs the runtime's token, checked before routing, so a
 * route that changes something is protected from the moment it exists. /collect takes none:
 * the page that posts to it has none to give (a token served to the page is served to anyone
 * who can load it); it only counts and logs, within size and rate limits, and takes only JSON,
 * which a page of another origin cannot send it without a CORS preflight the agent refuses.
 */
export function createAgentApi(context: AgentApiContext): http.Server {
  return http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://agent');
    } catch {
      // "//host:99999/" and the like: the WHATWG parser reads a leading // as a host, and
      // throws, which in a request handler would end the agent.
      req.resume();
      return sendError(res, new HearthError('HEARTH_ERR_BAD_REQUEST', `not a path this API can read: ${JSON.stringify(req.url)}`));
    }
    if (url.pathname === '/collect' && req.method === 'POST') return context.faro.handle(req, res);
    if (req.method !== 'GET' && url.pathname !== '/collect' && !authorized(req, context.token)) {
      req.resume();
      res.setHeader('www-authenticate', 'Bearer');
      return error(res, 401, `${req.method} ${url.pathname} needs \`Authorization: Bearer <token>\` with the runtime's control token`);
    }
    if (serveTuner(context.tuner, req, url, res)) return;
    if (req.method === 'PUT' && url.pathname === '/v1/probes') return setAttached(context, req, res);
    req.resume();
    if (url.pathname === '/collect') return error(res, 405, `${req.method} is not allowed on /collect: POST a Faro payload`);
    if (req.method !== 'GET') return error(res, 405, `${req.method} is not allowed on ${url.pathname}; the agent's API is read-only (but for POST /collect, PUT /v1/probes and PUT /v1/tuner/mode)`);
    const fn = url.searchParams.get('function') ?? undefined;
    switch (url.pathname) {
      case '/':
        return context.ui.serve(req, url.pathname, res);
      case '/healthz':
        return sendJson(res, 200, { ok: true, ...context.health() });
      case '/metrics':
        void context.metrics.render().then(({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        });
        return;
      case '/v1/coldstarts': {
        const limit = Number(url.searchParams.get('limit') ?? '100');
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return error(res, 400, `limit must be an integer from 1 to 10000 (got ${JSON.stringify(url.searchParams.get('limit'))})`);
        const since = url.searchParams.get('since');
        const sinceTs = since === null ? undefined : Number(since);
        if (sinceTs !== undefined && !Number.isFinite(sinceTs)) return error(res, 400, 'since must be a CLOCK_MONOTONIC timestamp in nanoseconds');
        if (url.searchParams.get('follow') === '1') {
          res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
          for (const record of context.store.recent({ ...(fn === undefined ? {} : { fn }), limit, ...(sinceTs === undefined ? {} : { sinceTs }) }).reverse()) res.write(JSON.stringify(record) + '\n');
          const unsubscribe = context.store.subscribe((record) => {
            if (fn === undefined || record.function === fn) res.write(JSON.stringify(record) + '\n');
          });
          const heartbeat = setInterval(() => res.write('\n'), 15_000);
          res.on('close', () => {
            unsubscribe();
            clearInterval(heartbeat);
          });
          return;
        }
        return sendJson(res, 200, { phases: PHASES, coldstarts: context.store.recent({ ...(fn === undefined ? {} : { fn }), limit, ...(sinceTs === undefined ? {} : { sinceTs }) }) });
      }
      case '/v1/phases':
        return sendJson(res, 200, { phases: PHASES, functions: (fn === undefined ? context.store.functions() : [fn]).map((name) => context.store.stats(name)) });
      case '/v1/exits':
        return sendJson(res, 200, { exits: context.store.recentExits(fn) });
      case '/v1/probes':
        return sendJson(res, 200, { attached: context.attached(), probes: context.probes() });
      case '/v1/pool':
        void context.workers(fn).then(
          (list) => sendJson(res, 200, poolView(list)),
          (failure: unknown) => error(res, 503, `the runtime's workers are unknown: ${(failure as Error).message}`),
        );
        return;
      default:
        if (url.pathname.startsWith('/ui/')) return context.ui.serve(req, url.pathname, res);
        if (url.pathname === '/v1/profiles' || url.pathname === '/v1/gc' || url.pathname.startsWith('/v1/profiles/')) {
          return serveProfiles(context, url, res, (status, value) => sendJson(res, status, value), (status, message) => error(res, status, message));
        }
        return error(res, 404, `no route for GET ${url.pathname}`);
    }
  });
}

export function listenAgent(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
