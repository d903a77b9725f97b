// The tuner's routes on the agent's API, without eBPF or a runtime: what an idle tuner
// reports, the checks on its query parameters, and that changing its mode needs the token
// and a valid mode, and leaves the mode as it was when the switch cannot be made.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { startAgentApi } from '../helpers/agent-api.js';

test('status and decisions of a tuner that is off', async () => {
  const api = await startAgentApi();
  try {
    const status = (await (await fetch(`${api.url}/v1/tuner/status`)).json()) as Record<string, unknown>;
    assert.deepEqual([status['mode'], status['policy'], status['functions']], ['off', 'hearth', []]);
    const decisions = (await (await fetch(`${api.url}/v1/tuner/decisions`)).json()) as Record<string, unknown>;
    assert.deepEqual(decisions, { mode: 'off', lastSeq: 0, decisions: [] });
    const bad = await fetch(`${api.url}/v1/tuner/decisions?limit=0`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /^limit must be an integer from 1 to 5000 \(got "0"\)$/);
    assert.equal((await fetch(`${api.url}/v1/tuner/decisions`, { method: 'DELETE', headers: { authorization: `Bearer ${api.token}` } })).status, 405);
    assert.equal((await fetch(`${api.url}/v1/tuner/nothing`)).status, 404);
  } finally {
    await api.close();
  }
});

test('PUT /v1/tuner/mode: the token, then a valid mode; a switch that cannot be made leaves the mode alone', async () => {
  const api = await startAgentApi();
  const put = (body: string, token?: string): Promise<Response> =>
    fetch(`${api.url}/v1/tuner/mode`, { method: 'PUT', body, headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });
  try {
    const anonymous = await put('{"mode":"on"}');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await put('{"mode":"on"}', 'wrong')).status, 401);
    const badMode = await put('{"mode":"fast"}', api.token);
    assert.equal(badMode.status, 400);
    assert.match(((await badMode.json()) as { error: { message: string } }).error.message, /^mode: must be one of on, dry-run, off \(got "fast"\)$/);
    assert.equal((await put('not json', api.token)).status, 400);
    assert.equal((await put('x'.repeat(2000), api.token)).status, 413);
    // No runtime behind this agent: the tuner cannot start following one.
    const unreachable = await put('{"mode":"dry-run"}', api.token);
    assert.equal(unreachable.status, 503);
    assert.match(((await unreachable.json()) as { error: { message: string } }).error.message, /^the tuner could not switch to dry-run: /);
    assert.equal(api.tuner.currentMode, 'off');
    assert.equal((await put('{"mode":"off"}', api.token)).status, 200, 'asking for the mode in force is fine');
  } finally {
    await api.close();
  }
});

test.run();
