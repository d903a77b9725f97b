// POST /collect, the agent's Faro receiver, on a real socket: a Faro payload is accepted (202)
// and counted by kind; a body over the limit (declared or streamed), a body that is not JSON by
// its Content-Type (what a page of another origin could send without a preflight), bad JSON, a
// payload not of Faro's shape, a compressed body and a client over its rate are refused with a
// reason that is counted too.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'uvu';
import { startAgentApi, metric, type ApiUnderTest } from '../helpers/agent-api.js';

const LIMITS = { maxBodyBytes: 4096, rate: { perSecond: 1, burst: 3 } };
let api: ApiUnderTest;

test.before.each(async () => {
  api = await startAgentApi({ faroLimits: LIMITS });
});

test.after.each(async () => {
  await api.close();
});

/** What Faro's web SDK sends: meta, then arrays of signals (TransportBody in @grafana/faro-core). */
function faroPayload(): Record<string, unknown> {
  const timestamp = new Date().toISOString();
  return {
    meta: { sdk: { name: '@grafana/faro-web-sdk', version: '2.12.1' }, app: { name: 'hearth-agent-ui', version: '0.1.0' }, session: { id: 'abc' }, page: { url: 'http://127.0.0.1:8701/' } },
    events: [
      { name: 'function_selected', domain: 'browser', attributes: { function: 'lookup' }, timestamp },
      { name: 'flamegraph_opened', attributes: { function: 'lookup', phase: 'cold' }, timestamp },
    ],
    measurements: [{ type: 'web-vitals', values: { fcp: 83.2 }, timestamp }],
    logs: [{ level: 'warn', message: 'slow', context: {}, timestamp }],
    exceptions: [{ type: 'TypeError', value: 'x is undefined\nsecond line', stacktrace: { frames: [] }, timestamp }],
  };
}

function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${api.url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

async function metrics(): Promise<string> {
  return (await api.metrics.render()).body;
}

test('a Faro payload: 202, its items counted by kind, the page\'s exception logged on one line', async () => {
  const response = await post(JSON.stringify(faroPayload()));
  assert.equal(response.status, 202);
  assert.equal(await response.text(), '');
  const text = await metrics();
  assert.equal(metric(text, 'hearth_agent_faro_items_total{kind="events"}'), 2);
  assert.equal(metric(text, 'hearth_agent_faro_items_total{kind="measurements"}'), 1);
  assert.equal(metric(text, 'hearth_agent_faro_items_total{kind="logs"}'), 1);
  assert.equal(metric(text, 'hearth_agent_faro_items_total{kind="exceptions"}'), 1);
  assert.equal(metric(text, 'hearth_agent_faro_items_total{kind="traces"}'), 0);
  assert.equal(metric(text, 'hearth_agent_faro_rejected_total{reason="bad_json"}'), 0, 'refusals are counted from 0');
  assert.ok(api.logs.some((line) => / warn .*the web UI at 127\.0\.0\.1 failed: "TypeError: x is undefined\\nsecond line"$/.test(line)), api.logs.join('\n'));
  assert.ok(api.logs.some((line) => /2 events \("function_selected, flamegraph_opened"\)/.test(line)));
});

test('too large: 413 when the declared length is over the limit, and when a chunked body grows past it', async () => {
  const declared = await post(JSON.stringify({ meta: {}, logs: [{ level: 'info', message: 'x'.repeat(LIMITS.maxBodyBytes), timestamp: '' }] }));
  assert.equal(declared.status, 413);
  assert.deepEqual(await errorOf(declared), { code: 'HEARTH_ERR_BODY_TOO_LARGE', message: `a Faro payload may be at most ${LIMITS.maxBodyBytes} bytes` });

  const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(`${api.url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    for (let i = 0; i < 8; i++) request.write('x'.repeat(1024));
    request.end();
  });
  assert.equal(streamed.status, 413);
  assert.match(streamed.body, /HEARTH_ERR_BODY_TOO_LARGE/);
  assert.equal(metric(await metrics(), 'hearth_agent_faro_rejected_total{reason="too_large"}'), 2);
});

test('not JSON by its type, bad JSON, a payload not of Faro\'s shape, a compressed body: 400 with what is wrong', async () => {
  const cases: [body: string, headers: Record<string, string>, message: RegExp][] = [
    ['{"meta": {}}', { 'content-type': 'text/plain' }, /^Content-Type "text\/plain" is not accepted: send application\/json/],
    ['{"meta": {}}', { 'content-type': 'application/x-www-form-urlencoded' }, /^Content-Type "application\/x-www-form-urlencoded" is not accepted/],
    ['{"meta": {', {}, /^the body is not JSON: /],
    ['[]', {}, /^not a Faro payload: the body must be a JSON object/],
    ['{"events": []}', {}, /^not a Faro payload: `meta` must be an object$/],
    ['{"meta": {}, "events": {}}', {}, /^not a Faro payload: `events` must be an array$/],
    ['{"meta": {}, "events": [{"timestamp": "t"}]}', {}, /^not a Faro payload: events\[0\]\.name must be a string$/],
    ['{"meta": {}, "events": [{"name": "e", "timestamp": "t", "attributes": {"n": 1}}]}', {}, /^not a Faro payload: events\[0\]\.attributes\.n must be a string$/],
    ['{"meta": {}, "measurements": [{"type": "web-vitals", "timestamp": "t", "values": {"lcp": "slow"}}]}', {}, /measurements\[0\]\.values\.lcp must be a finite number$/],
    ['{"meta": {}, "traces": []}', {}, /`traces` must be an object with a `resourceSpans` array$/],
    ['{"meta": {}}', { 'content-encoding': 'gzip' }, /^Content-Encoding gzip is not accepted/],
  ];
  // The rate limit is not under test here.
  await api.close();
  api = await startAgentApi({ faroLimits: { ...LIMITS, rate: { perSecond: 100, burst: cases.length } } });
  for (const [body, headers, message] of cases) {
    const response = await post(body, headers);
    assert.equal(response.status, 400, body);
    const error = await errorOf(response);
    assert.equal(error.code, 'HEARTH_ERR_BAD_REQUEST');
    assert.match(error.message, message, body);
  }
  const text = await metrics();
  assert.equal(metric(text, 'hearth_agent_faro_rejected_total{reason="bad_content_type"}'), 2);
  assert.equal(metric(text, 'hearth_agent_faro_rejected_total{reason="bad_encoding"}'), 1);
});

test('rate: a burst is accepted, then 429 with Retry-After until a token is back', async () => {
  const body = JSON.stringify({ meta: {}, events: [] });
  for (let i = 0; i < LIMITS.rate.burst; i++) assert.equal((await post(body)).status, 202, `request ${i + 1} of the burst`);
  const limited = await post(body);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '1');
  const error = await errorOf(limited);
  assert.equal(error.code, 'HEARTH_ERR_RATE_LIMITED');
  assert.match(error.message, /^127\.0\.0\.1 sent more than 3 payloads at once or 1 a second; retry in \d+ ms$/);
  assert.equal(metric(await metrics(), 'hearth_agent_faro_rejected_total{reason="rate_limited"}'), 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await post(body)).status, 202, 'a token is back after a second');
});

test('only POST: GET /collect is 405', async () => {
  const response = await fetch(`${api.url}/collect`);
  assert.equal(response.status, 405);
  assert.match((await errorOf(response)).message, /^GET is not allowed on \/collect: POST a Faro payload$/);
});

test.run();
