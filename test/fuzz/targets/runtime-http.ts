// Raw HTTP requests to the runtime's real API server (runtime/api/server.ts) in this process:
// routing, methods, the token, query strings, Content-Length, bodies. Behind the server, the
// registry holds one function, "echo", whose pool answers at once with the request body; a
// deploy is validated but not started; echo is a Go function, so a profiling run (Node only)
// is refused before it would start a tool. Everything in front of the registry is real.
import http from 'node:http';
import { createApiServer, listen, type ApiContext } from '../../../runtime/api/server.js';
import { EventLog } from '../../../runtime/events.js';
import { parseFunction } from '../../../runtime/manifest/parse.js';
import type { FunctionSpec } from '../../../runtime/manifest/spec.js';
import { RuntimeMetrics } from '../../../runtime/metrics.js';
import { ProbeGate } from '../../../runtime/probe-gate.js';
import { ToolProfiles } from '../../../runtime/profile-tools/runs.js';
import type { Registry } from '../../../runtime/registry.js';
import { settle, type Invocation } from '../../../runtime/supervisor/invocation.js';
import { HearthError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { checkAnswer, exchange, outcomeOf, watchUncaught } from './raw-http.js';
import type { FuzzTarget } from './target.js';

const TOKEN = 'fuzz-token';
const ECHO: FunctionSpec = parseFunction({ name: 'echo', kind: 'go', entry: '/srv/echo', pool: { min: 0, max: 2 } }, { label: 'fuzz' });

/** One deployed function whose pool echoes; the rest of the registry's surface, without processes. */
function fakeRegistry(): Registry {
  const pool = {
    name: 'echo',
    current: { spec: ECHO },
    settings: ECHO.pool,
    invoke: (invocation: Invocation) => settle(invocation, { ok: true, body: invocation.body }),
    listWorkers: () => [],
  };
  const missing = (name: string): HearthError => new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `no function named ${name} is deployed`);
  const registry = {
    get: (name: string) => (name === 'echo' ? pool : undefined),
    all: () => [pool],
    describe: () => ({ name: 'echo', kind: 'go', pool: ECHO.pool }),
    deploy: async (spec: FunctionSpec) => ({ name: spec.name, deployed: false }),
    configurePool: (_name: string, settings: unknown) => ({ pool: settings }),
    configureGc: async (_name: string, gc: unknown) => ({ gc }),
    remove: async (name: string) => {
      if (name !== 'echo') throw missing(name);
    },
    replaceState: (_name: string, req: http.IncomingMessage) =>
      new Promise((resolve, reject) => {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('end', () => resolve({ bytes }));
        req.on('error', reject);
      }),
  };
  return registry as unknown as Registry;
}

let server: http.Server | undefined;
let port = 0;

export const target: FuzzTarget = {
  maxLength: 4096,
  dictionary: ['GET ', 'POST ', 'PUT ', 'PATCH ', 'DELETE ', 'HEAD ', ' HTTP/1.1\r\n', '\r\n', '\r\n\r\n', 'Host: x\r\n', `Authorization: Bearer ${TOKEN}\r\n`, 'Authorization: Bearer \r\n', 'Content-Length: ', 'Transfer-Encoding: chunked\r\n', 'Accept: application/x-ndjson\r\n', 'Connection: keep-alive\r\n', '/v1/functions/echo/invoke', '/v1/functions/', '/v1/functions/echo', '/v1/functions/echo/state', '/v1/functions/echo/profile', '/v1/workers', '/v1/events', '/v1/info', '/v1/followers/1/ack', '/v1/tool-profiles/', '/healthz', '/readyz', '/metrics', '?timeoutMs=', '?since=0&follow=0', '&batchMs=', '&function=', '%2F', '%ZZ', '%00', '..', '//', '{"seq":1}', '{"pool":{"min":1}}', '{"tool":"0x","seconds":1}', '{"kind":"node","entry":"/a.js"}', '0\r\n\r\n'],
  async setup() {
    watchUncaught();
    const log = createLogger('error', () => undefined);
    const registry = fakeRegistry();
    const context: ApiContext = {
      registry,
      events: new EventLog(),
      probeGate: new ProbeGate(log),
      token: TOKEN,
      maxBodyBytes: 1024,
      spares: () => ({ seedsReady: 0, stemCellsReady: 0 }),
      info: () => ({ pid: process.pid }) as unknown as ReturnType<ApiContext['info']>,
      toolProfiles: new ToolProfiles({ registry, baseDir: '/nonexistent/hearth-fuzz', nextInvocationId: () => 1, log }),
      metrics: new RuntimeMetrics(() => [], () => [], () => []),
      ready: () => true,
      nextInvocationId: (() => {
        let id = 0;
        return () => ++id;
      })(),
      accepting: () => true,
    };
    server = createApiServer(context);
    port = (await listen(server, '127.0.0.1', 0)).port;
  },
  async teardown() {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  },
  seeds() {
    const request = (head: string, body = ''): Buffer => Buffer.from(`${head}\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return [
      request('POST /v1/functions/echo/invoke?timeoutMs=500 HTTP/1.1', 'hello'),
      request('GET /v1/functions HTTP/1.1'),
      request('GET /v1/functions/echo HTTP/1.1'),
      request('PUT /v1/functions/fn2 HTTP/1.1', '{"kind":"node","entry":"/srv/a.js","pool":{"max":2}}'),
      request('PATCH /v1/functions/echo HTTP/1.1', '{"pool":{"min":1,"max":2},"gc":{"gogc":50}}'),
      request('GET /v1/events?since=0&invocations=cold&batchMs=10 HTTP/1.1'),
      request('POST /v1/followers/1/ack HTTP/1.1', '{"seq":3}'),
      request('GET /v1/workers?function=echo HTTP/1.1'),
      request('PUT /v1/functions/echo/state HTTP/1.1', 'state bytes'),
      request('GET /v1/tool-profiles/abc/file%2Fname HTTP/1.1'),
      request('POST /v1/functions/echo/profile HTTP/1.1', '{"tool":"0x","seconds":1}'),
      request('DELETE /v1/functions/nope HTTP/1.1'),
      Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n'),
    ];
  },
  async run(data) {
    return outcomeOf(checkAnswer(await exchange(port, data)));
  },
};
