import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuntimeMetrics } from '../metrics.js';
import { FUNCTION_NAME } from '../manifest/parse.js';
import { HearthError } from '../../shared/errors.js';
import { handleControl, notFound, type ControlContext } from './control.js';
import { handleInvoke, type InvokeContext } from './invoke.js';
import { sendError, sendJson } from './respond.js';

export interface ApiContext extends InvokeContext, ControlContext {
  metrics: RuntimeMetrics;
  ready(): boolean;
}

const INVOKE_PREFIX = '/v1/functions/';
const INVOKE_SUFFIX = '/invoke';

/** The runtime's HTTP API: invoke, control (token), health and metrics. */
export function createApiServer(context: ApiContext): http.Server {
  const server = http.createServer((req, res) => {
    try {
      route(context, req, res);
    } catch (error) {
      sendError(res, error);
    }
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

function route(context: ApiContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
  const method = req.method ?? 'GET';

  // The hot path first, without splitting or allocating more than the name.
  if (path.startsWith(INVOKE_PREFIX) && path.endsWith(INVOKE_SUFFIX)) {
    const name = path.slice(INVOKE_PREFIX.length, path.length - INVOKE_SUFFIX.length);
    // A deployed name was checked when it was deployed; only an unknown one is checked here.
    const pool = context.registry.get(name);
    if (pool === undefined && !FUNCTION_NAME.test(name)) {
      req.resume();
      return sendError(res, new HearthError('HEARTH_ERR_BAD_REQUEST', `${JSON.stringify(decodeSafely(name))} is not a valid function name`));
    }
    if (method !== 'POST') {
      req.resume();
      return sendError(res, new HearthError('HEARTH_ERR_METHOD_NOT_ALLOWED', 'invoke a function with POST'), { allow: 'POST' });
    }
    return handleInvoke(context, name, pool, query, req, res);
  }
  switch (path) {
    case '/healthz':
      req.resume();
      return sendJson(res, 200, { ok: true });
    case '/readyz':
      req.resume();
      return context.ready() ? sendJson(res, 200, { ready: true }) : sendJson(res, 503, { ready: false });
    case '/metrics':
      req.resume();
      void context.metrics.render().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        (error) => sendError(res, error),
      );
      return;
  }
  if (path.startsWith('/v1/')) {
    const parts = path.slice(4).split('/').map(decodeSafely);
    if (parts[parts.length - 1] === '') parts.pop();
    return handleControl(context, method, parts, new URLSearchParams(query), req, res);
  }
  notFound(req, res);
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
