// The agent's routes for the web UI, without eBPF or a browser: the page and its files from a
// bundle directory (with the Faro endpoint written into the page), what happens without a
// bundle, and GET /v1/pool from the runtime's worker list.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import type { PoolView } from '../../agent/exporters/pool-api.js';
import { UiAssets } from '../../agent/exporters/ui-assets.js';
import type { WorkerList } from '../../shared/api.js';
import { startAgentApi } from '../helpers/agent-api.js';

const PAGE = '<!doctype html><meta name="hearth-faro-url" content="/collect"><script type="module" src="/ui/app.js"></script>';
let bundle = '';

test.before(() => {
  bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-ui-'));
  fs.writeFileSync(path.join(bundle, 'index.html'), PAGE);
  fs.writeFileSync(path.join(bundle, 'app.js'), 'console.log(1);');
  fs.writeFileSync(path.join(bundle, '.inputs.json'), '[]');
});

test.after(() => {
  fs.rmSync(bundle, { recursive: true, force: true });
});

test('the page at /, its files under /ui/, revalidated by ETag; nothing else of the directory', async () => {
  const api = await startAgentApi({ ui: UiAssets.load(null, bundle) });
  try {
    const page = await fetch(`${api.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await page.text(), PAGE, 'the page sends its telemetry to the agent\'s own /collect');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self';.*connect-src 'self'$/);
    const script = await fetch(`${api.url}/ui/app.js`);
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await script.text(), 'console.log(1);');
    const again = await fetch(`${api.url}/ui/app.js`, { headers: { 'if-none-match': script.headers.get('etag')! } });
    assert.equal(again.status, 304);
    for (const route of ['/ui/.inputs.json', '/ui/../index.html', '/ui/missing.js']) assert.equal((await fetch(`${api.url}${route}`)).status, 404, route);
  } finally {
    await api.close();
  }
});

test('--faro-url: the page sends its telemetry there, and its policy allows that origin', async () => {
  const api = await startAgentApi({ ui: UiAssets.load('http://alloy.example:12347/collect?a=1&b="2"', bundle) });
  try {
    const page = await fetch(`${api.url}/`);
    assert.match(await page.text(), /<meta name="hearth-faro-url" content="http:\/\/alloy\.example:12347\/collect\?a=1&amp;b=%222%22">/);
    assert.match(page.headers.get('content-security-policy') ?? '', /connect-src 'self' http:\/\/alloy\.example:12347$/);
  } finally {
    await api.close();
  }
});

test('no bundle: 503 that says how to build it', async () => {
  const api = await startAgentApi({ ui: UiAssets.load(null, path.join(bundle, 'absent')) });
  try {
    const response = await fetch(`${api.url}/`);
    assert.equal(response.status, 503);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'HEARTH_ERR_UNAVAILABLE');
    assert.match(error.message, /^the web UI was not built \(.*\): run `bash scripts\/setup.sh` or `node scripts\/build-ui.mjs`$/);
  } finally {
    await api.close();
  }
});

test('GET /v1/pool: the runtime\'s workers counted per function and state; 503 when the runtime does not answer', async () => {
  const worker = { origin: 'seed' as const, invocations: 1, ageMs: 1500 };
  const list: WorkerList = {
    workers: [
      { pid: 11, spawnToReadyMs: 4.5, function: 'lookup', status: 'idle', ...worker },
      { pid: 12, spawnToReadyMs: 4.5, function: 'lookup', status: 'busy', ...worker },
      { pid: 13, spawnToReadyMs: 4.5, function: 'lookup', status: 'starting', ...worker },
      { pid: 14, spawnToReadyMs: 4.5, function: 'echo', status: 'specialising', ...worker, origin: 'stem-cell' },
      { pid: 15, spawnToReadyMs: 4.5, function: 'echo', status: 'draining', ...worker },
      { pid: 16, spawnToReadyMs: 4.5, function: 'echo', status: 'exited', ...worker },
    ],
    seedsReady: 2,
    stemCellsReady: 1,
  };
  const asked: (string | undefined)[] = [];
  const api = await startAgentApi({
    workers: async (fn) => {
      asked.push(fn);
      return list;
    },
  });
  try {
    const view = (await (await fetch(`${api.url}/v1/pool`)).json()) as PoolView;
    assert.deepEqual(view, {
      functions: [
        { function: 'echo', counts: { warm: 0, busy: 0, starting: 1, draining: 1 }, workers: [{ pid: 14, state: 'starting', origin: 'stem-cell', invocations: 1, ageMs: 1500 }, { pid: 15, state: 'draining', ...worker }] },
        { function: 'lookup', counts: { warm: 1, busy: 1, starting: 1, draining: 0 }, workers: [{ pid: 11, state: 'warm', ...worker }, { pid: 12, state: 'busy', ...worker }, { pid: 13, state: 'starting', ...worker }] },
      ],
      seedsReady: 2,
      stemCellsReady: 1,
    });
    await fetch(`${api.url}/v1/pool?function=lookup`);
    assert.deepEqual(asked, [undefined, 'lookup']);
  } finally {
    await api.close();
  }
  const unreachable = await startAgentApi();
  try {
    const response = await fetch(`${unreachable.url}/v1/pool`);
    assert.equal(response.status, 503);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /^the runtime's workers are unknown: no runtime in this test$/);
  } finally {
    await unreachable.close();
  }
});

test.run();
