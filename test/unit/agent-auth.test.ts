// The agent's API on a real socket: reads and the UI's telemetry need no token; any other
// request needs the runtime's, before it is routed, so every route that changes something
// (today none but /collect; tomorrow whatever is added) is protected by default.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { API_TOKEN, startAgentApi, type ApiUnderTest } from '../helpers/agent-api.js';

let api: ApiUnderTest;

test.before(async () => {
  api = await startAgentApi();
});

test.after(async () => {
  await api.close();
});

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

const ROUTES = ['/', '/metrics', '/healthz', '/v1/coldstarts', '/v1/phases', '/v1/exits', '/v1/probes', '/v1/pool', '/v1/profiles', '/v1/profiles/lookup', '/v1/gc', '/v1/tuner/decisions', '/no/such/route'];
const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];

test('every request but a read and POST /collect is refused without the token: 401 before any routing', async () => {
  for (const route of ROUTES) {
    for (const method of WRITES) {
      for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${API_TOKEN}`, API_TOKEN]) {
        const response = await fetch(`${api.url}${route}`, { method, headers: authorization === undefined ? {} : { authorization }, body: '{}' });
        assert.equal(response.status, 401, `${method} ${route} with ${authorization ?? 'no authorization'}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer');
        const error = await errorOf(response);
        assert.equal(error.code, 'HEARTH_ERR_UNAUTHORIZED');
        assert.equal(error.message, `${method} ${route} needs \`Authorization: Bearer <token>\` with the runtime's control token`);
      }
    }
  }
});

test('with the token a write reaches the router, which has no route that changes anything yet: 405', async () => {
  for (const method of WRITES) {
    const response = await fetch(`${api.url}/v1/coldstarts`, { method, headers: { authorization: `Bearer ${API_TOKEN}` } });
    assert.equal(response.status, 405, method);
    assert.equal((await errorOf(response)).code, 'HEARTH_ERR_METHOD_NOT_ALLOWED');
  }
});

test('reads need no token', async () => {
  for (const route of ['/healthz', '/metrics', '/v1/coldstarts', '/v1/phases', '/v1/exits', '/v1/probes']) {
    assert.equal((await fetch(`${api.url}${route}`)).status, 200, route);
  }
});

test('the web UI\'s telemetry needs none: its page has no token to give', async () => {
  const response = await fetch(`${api.url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ meta: {}, events: [] }) });
  assert.equal(response.status, 202);
});

test.run();
