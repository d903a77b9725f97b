// The Grafana dashboards against a real Prometheus scraping a real runtime and agent. After a
// workload that moves every panel's metrics (steady requests, forced cold starts, errors, an
// overload, an OOM kill, a crash, a new state version), every PromQL expression of every panel
// must parse and return a series, every variable must list values, the tuner's annotation must
// mark the decisions it made (in dry-run), and the flame graph's request must return the frame Grafana's panel reads, through the
// panel's own Infinity root selector. The bundle's consistency is checked without any of that.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import jsonata from 'jsonata';
import { test } from 'uvu';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DASHBOARD_FILE, renderBundle } from '../../dashboards/grafana/bundle.js';
import { AGENT_API, INFINITY_TYPE } from '../../dashboards/grafana/datasources.js';
import { FLAME_FIELDS } from '../../dashboards/grafana/flamegraph.js';
import {
  allPanels,
  allValues,
  annotationQueries,
  intervalValues,
  labelValuesQueries,
  panelQueries,
  profileRequests,
  rangeSeconds,
  substitute,
  type DashboardJson,
  type PromQuery,
} from '../../dashboards/grafana/queries.js';
import { prometheusConfig } from '../../dashboards/grafana/scrape-config.js';
import { FIXTURES, TestAgent, TestRuntime, ebpfMissing, makeStateFile, sleep, waitFor } from '../helpers/harness.js';

const PROMETHEUS_BIN = '/usr/bin/prometheus';
const SCRAPE_SECONDS = 1;
/** Series the agent records after the fact (an exit's attribution, a cold start's last phase) may lag a scrape or two. */
const SERIES_TIMEOUT_MS = 30_000;

const missing = ebpfMissing() ?? (fs.existsSync(PROMETHEUS_BIN) ? undefined : `${PROMETHEUS_BIN} is not installed (apt-get install prometheus)`);
const bundle = renderBundle();
const dashboard = JSON.parse(bundled(DASHBOARD_FILE)) as DashboardJson;
/** Grafana's values for "All" and its interval variables, over the dashboard's default range. */
const values = { ...allValues(dashboard), ...intervalValues(rangeSeconds(dashboard.time.from), SCRAPE_SECONDS) };

let rt: TestRuntime;
let agent: TestAgent;
let prometheus: Prometheus;
let workloadStart = 0;
let workloadEnd = 0;

function bundled(file: string): string {
  const found = bundle.find((entry) => entry.path === file);
  if (found === undefined) throw new Error(`the bundle has no ${file} (it has ${bundle.map((entry) => entry.path).join(', ')})`);
  return found.content;
}

function skipped(name: string): boolean {
  if (missing === undefined) return false;
  // On a line of its own: uvu prints the previous test's mark without a newline, and the runner counts only lines that start with the marker.
  process.stdout.write(`\nHEARTH-SKIP ${name}: ${missing}\n`);
  return true;
}

/** Debian's Prometheus on a free loopback port, with its own temporary storage. */
class Prometheus {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** Kills Prometheus if this process exits without stopping it (a failed run leaves nothing behind). */
    private readonly killOnExit: () => void,
  ) {}

  static async start(config: Record<string, unknown>): Promise<Prometheus> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-prometheus-'));
    const configFile = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(configFile, stringifyYaml(config));
    const port = await freePort();
    const child = spawn(PROMETHEUS_BIN, [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => void output.push(...chunk.toString().trimEnd().split('\n'));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const server = new Prometheus(`http://127.0.0.1:${port}`, child, dir, killOnExit);
    await waitFor('Prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${output.slice(-5).join(' | ')}`);
      return (await fetch(`${server.url}/-/ready`).catch(() => undefined))?.ok;
    });
    return server;
  }

  private async api<T>(route: string): Promise<{ data?: T; error?: string }> {
    const response = await fetch(`${this.url}${route}`);
    const body = (await response.json()) as { status: string; data?: T; error?: string };
    return body.status === 'success' ? { data: body.data as T } : { error: `${response.status} ${body.error ?? 'no error message'}` };
  }

  /** A range query, as Grafana runs an annotation's: the number of series with a point in [start, end], or why it failed. */
  async queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<{ series: number; error?: string }> {
    const answer = await this.api<{ result: unknown[] }>(`/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${startS}&end=${endS}&step=${stepS}`);
    return answer.error === undefined ? { series: answer.data!.result.length } : { series: 0, error: answer.error };
  }

  /** An instant query at the current time: the number of series, or why it failed. */
  async query(expr: string): Promise<{ series: number; error?: string }> {
    const answer = await this.api<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return answer.error === undefined ? { series: answer.data!.result.length } : { series: 0, error: answer.error };
  }

  async labelValues(label: string, selector: string): Promise<string[]> {
    const answer = await this.api<string[]>(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(selector)}`);
    if (answer.error !== undefined) throw new Error(`label values of ${label} for ${selector}: ${answer.error}`);
    return answer.data!;
  }

  async targets(): Promise<{ scrapeUrl: string; health: string; lastScrape: string; lastError: string }[]> {
    const answer = await this.api<{ activeTargets: { scrapeUrl: string; health: string; lastScrape: string; lastError: string }[] }>('/api/v1/targets');
    if (answer.error !== undefined) throw new Error(`targets: ${answer.error}`);
    return answer.data!.activeTargets;
  }

  async stop(): Promise<void> {
    process.off('exit', this.killOnExit);
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function hostPort(url: string): string {
  return new URL(url).host;
}

async function expectStatus(fn: string, body: string, status: number): Promise<void> {
  const response = await rt.invoke(fn, body);
  assert.equal(response.status, status, `${fn} ${body}: ${response.status} ${response.text}`);
}

/** Moves every panel's metrics at least once. */
async function workload(): Promise<void> {
  // Warm requests: rates, latency, the steady-state profile and the GC share.
  for (let i = 0; i < 150; i++) await expectStatus('cpu', 'compute:5', 200);
  // Cold starts: the worker retires after each request, so the next one waits for a new worker.
  for (let i = 0; i < 4; i++) {
    await waitFor('no coldcpu worker', () => rt.workerPids('coldcpu').length === 0);
    await expectStatus('coldcpu', 'compute:2', 200);
  }
  await expectStatus('misbehave', 'error', 500);
  await expectStatus('misbehave', 'panic', 500);
  // One worker, no queue: of two requests at once, one is refused.
  const overload = await Promise.all([rt.invoke('noqueue', 'sleep:300'), rt.invoke('noqueue', 'sleep:300')]);
  assert.deepEqual(overload.map((response) => response.status).sort(), [200, 429]);
  await expectStatus('misbehave', 'alloc:200', 502);
  await expectStatus('misbehave', 'crash', 502);
  const state = fs.readFileSync(makeStateFile(1 << 20, 32));
  const upload = await fetch(`${rt.url}/v1/functions/cpu/state`, { method: 'PUT', headers: { authorization: `Bearer ${rt.runtime.token}`, 'content-length': String(state.length) }, body: state });
  assert.equal(upload.status, 200, await upload.text());
}

test.before(async () => {
  if (missing !== undefined) return;
  rt = await TestRuntime.start({ stemCells: 0 });
  // The tuner only recommends (the workload needs the pools it sets), which counts its decisions all the same.
  agent = await TestAgent.start(rt, { profile: { coldHz: 1000, steadyHz: 199 }, tuner: { mode: 'dry-run' } });
  prometheus = await Prometheus.start(prometheusConfig({ runtimes: [hostPort(rt.url)], agents: [hostPort(agent.agent.url)] }, `${SCRAPE_SECONDS}s`));
  const warm = { min: 1, max: 1, keepAliveMs: 600_000 };
  await rt.deploy({ name: 'cpu', kind: 'go', entry: `${FIXTURES}/go-cpu`, state: makeStateFile(1 << 20, 31), pool: warm, gc: { gogc: 100, memoryLimitMb: 100 } });
  // A slow package init gives each cold start enough CPU samples for a cold-start profile.
  await rt.deploy({ name: 'coldcpu', kind: 'go', entry: `${FIXTURES}/go-cpu`, env: { FIXTURE_SLOW_INIT_MS: '20' }, pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1 } });
  await rt.deploy({ name: 'misbehave', kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: warm, limits: { memoryMb: 64 } });
  await rt.deploy({ name: 'noqueue', kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { ...warm, maxQueued: 0 } });
  workloadStart = Date.now();
  await workload();
  await waitFor('the tuner to recommend something', () => agent.agent.tuner.decisions.lastSeq > 0);
  workloadEnd = Date.now();
});

test.after(async () => {
  if (missing !== undefined) return;
  await prometheus.stop();
  await agent.stop();
  await rt.stop();
});

/** Waits until Prometheus has scraped both targets a rate window after the workload ended. */
async function scrapedSinceWorkload(): Promise<void> {
  const after = workloadEnd + Number.parseInt(values.__rate_interval, 10) * 1000;
  await waitFor(
    'Prometheus to scrape the runtime and the agent after the workload',
    async () => {
      const targets = await prometheus.targets();
      const down = targets.filter((target) => target.health === 'down');
      if (down.length > 0) throw new Error(`scrapes failing: ${down.map((target) => `${target.scrapeUrl}: ${target.lastError}`).join('; ')}`);
      return targets.length === 2 && targets.every((target) => Date.parse(target.lastScrape) > after);
    },
    SERIES_TIMEOUT_MS,
  );
}

/** Runs the queries until each returns a series or the time is up; a query that does not parse fails at once. */
async function queriesWithoutSeries(queries: PromQuery[]): Promise<PromQuery[]> {
  const deadline = Date.now() + SERIES_TIMEOUT_MS;
  let pending = queries;
  for (;;) {
    const answers = await Promise.all(pending.map(async (query) => ({ query, answer: await prometheus.query(query.expr) })));
    const failed = answers.filter(({ answer }) => answer.error !== undefined);
    assert.deepEqual(failed.map(({ query, answer }) => `${query.origin}: ${answer.error}\n  ${query.expr}`), [], 'queries Prometheus refused');
    pending = answers.filter(({ answer }) => answer.series === 0).map(({ query }) => query);
    if (pending.length === 0 || Date.now() > deadline) return pending;
    await sleep(1000);
  }
}

test('the bundle: every data source the dashboard names is provisioned, panel ids are unique', () => {
  const provisioned = parseYaml(bundled('provisioning/datasources/hearth.yaml')) as { datasources: { uid: string; type: string; url: string; jsonData: Record<string, unknown> }[] };
  const uids = new Set(provisioned.datasources.map((source) => source.uid));
  const infinity = provisioned.datasources.filter((source) => source.type === INFINITY_TYPE);
  assert.ok(infinity.length > 0, 'an Infinity data source for the agent');
  for (const source of infinity) assert.deepEqual(source.jsonData['allowedHosts'], [source.url], 'Infinity may read the agent and nothing else');
  const named = [
    ...allPanels(dashboard).flatMap((panel) => [panel.datasource, ...(panel.targets ?? []).map((target) => (target as { datasource?: { uid?: string } }).datasource)]),
    ...dashboard.annotations.list.map((annotation) => annotation.datasource),
  ].flatMap((ref) => (ref?.uid === undefined ? [] : [ref.uid]));
  for (const uid of new Set(named)) assert.ok(uids.has(uid) || uid === AGENT_API.uid, `data source ${uid} is provisioned`);
  const agentVariable = dashboard.templating.list.find((variable) => `\${${variable.name}}` === AGENT_API.uid);
  assert.equal(agentVariable?.query, INFINITY_TYPE, 'the agent variable lists Infinity data sources');
  const ids = dashboard.panels.map((panel) => panel.id);
  assert.equal(new Set(ids).size, ids.length, `panel ids are unique: ${ids.join(', ')}`);
  const providers = parseYaml(bundled('provisioning/dashboards/hearth.yaml')) as { apiVersion: number; providers: { type: string; folder: string }[] };
  assert.equal(providers.apiVersion, 1);
  assert.equal(providers.providers[0]?.folder, 'Hearth');
  const scrape = parseYaml(bundled('prometheus/prometheus.yml')) as { scrape_configs: { job_name: string }[] };
  assert.deepEqual(scrape.scrape_configs.map((job) => job.job_name), ['hearth-runtime', 'hearth-agent']);
});

test('every query of every panel parses and returns series from a real Prometheus', async () => {
  if (skipped('dashboards panel queries')) return;
  const started = Date.now();
  await scrapedSinceWorkload();
  const queries = panelQueries(dashboard).map((query) => ({ ...query, expr: substitute(query.expr, values) }));
  const empty = await queriesWithoutSeries(queries);
  assert.deepEqual(empty.map((query) => `${query.origin} returned no series:\n  ${query.expr}`), [], 'panels without data');
  const panels = new Set(queries.map((query) => query.origin.replace(/ query \w+$/, ''))).size;
  process.stdout.write(`  ${panels} panels, ${queries.length} queries: every one returned series (${((Date.now() - started) / 1000).toFixed(1)} s after the workload)\n`);
});

test('every variable lists values: the host, and each function the workload ran', async () => {
  if (skipped('dashboards variables')) return;
  for (const { variable, selector, label } of labelValuesQueries(dashboard)) {
    const listed = await prometheus.labelValues(label, substitute(selector, values));
    assert.ok(listed.length > 0, `variable ${variable} (label_values(${selector}, ${label})) lists nothing`);
    if (variable === 'host') assert.deepEqual(listed, ['127.0.0.1'], 'the runtime and the agent of one host share its host label');
    if (variable === 'function') assert.deepEqual(listed, ['coldcpu', 'cpu', 'misbehave', 'noqueue']);
  }
});

test('the tuner annotation marks the decisions the tuner made during the workload', async () => {
  if (skipped('dashboards annotations')) return;
  await scrapedSinceWorkload();
  for (const query of annotationQueries(dashboard)) {
    // Asked again until the time is up, as the panels' queries are: a scrape reported done may not be queryable yet.
    const deadline = Date.now() + SERIES_TIMEOUT_MS;
    for (;;) {
      const answer = await prometheus.queryRange(substitute(query.expr, values), Math.floor(workloadStart / 1000) - 60, Math.ceil(Date.now() / 1000), Number.parseInt(values.__interval, 10));
      assert.equal(answer.error, undefined, `${query.origin}: ${answer.error}`);
      if (answer.series > 0) break;
      assert.ok(Date.now() < deadline, `${query.origin}: no mark, though the tuner made ${agent.agent.tuner.decisions.lastSeq} decisions`);
      await sleep(1000);
    }
  }
});

test('the flame graph: the agent serves the frame Grafana reads, and the Infinity root selector turns it into its rows', async () => {
  if (skipped('dashboards flame graph')) return;
  const [request, ...others] = profileRequests(dashboard);
  assert.ok(request !== undefined && others.length === 0, 'one profile query');
  // Per phase, a function that has samples of it: every start of coldcpu burns 20 ms in init.
  for (const [phase, fn] of [['cold', 'coldcpu'], ['steady', 'cpu']] as const) {
    const url = `${agent.agent.url}${substitute(request.url, { ...values, profile_function: fn, phase })}`;
    const response = await waitFor(`${phase} samples of ${fn}`, async () => {
      const answer = await fetch(url);
      return answer.status === 200 ? answer : undefined;
    });
    const frame = (await response.json()) as { schema: { fields: { name: string; type: string }[] }; data: { values: unknown[][] } };
    assert.deepEqual(frame.schema.fields.map(({ name, type }) => ({ name, type })), FLAME_FIELDS.map(({ name, type }) => ({ name, type })));
    const [level, value, self, label] = frame.data.values as [number[], number[], number[], string[]];
    const rows = level.length;
    assert.ok(rows > 1, `${url}: a call tree below the root`);
    for (const column of frame.data.values) assert.equal(column.length, rows, 'columns of one length');
    assert.equal(level[0], 0, 'the root comes first');
    assert.equal(
      self.reduce((sum, count) => sum + count, 0),
      value[0],
      'the root holds every sample',
    );
    assert.ok(
      value.every((total, i) => total >= self[i]!),
      'a node holds at least its own samples',
    );
    const parsed = (await jsonata(request.rootSelector).evaluate(frame)) as Record<string, unknown> | Record<string, unknown>[];
    const table = Array.isArray(parsed) ? parsed : [parsed];
    assert.equal(table.length, rows, 'one row per node');
    for (const column of request.columns) {
      for (const row of table) assert.equal(typeof row[column.selector], column.type, `column ${column.selector} of ${JSON.stringify(row)}`);
    }
    assert.deepEqual({ ...table[1] }, { level: level[1], value: value[1], self: self[1], label: label[1] });
    process.stdout.write(`  ${phase} profile of ${fn}: ${rows} nodes, ${value[0]} samples\n`);
  }
});

test.run();
