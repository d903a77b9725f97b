// Profiling runs with Node's own tools, end to end: a real runtime, the hearth CLI as a child
// process, and 0x, clinic doctor and clinic flame running on a dedicated worker of a Node
// function (test/fixtures/node-cpu.mjs: 3/4 of its CPU in burnMajor, 1/4 in burnMinor)
// beside its pool, while the test's own traffic goes on.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import type { Profile } from '../../agent/profile/model.js';
import { findGo } from '../../runtime/build/go.js';
import type { RuntimeEvent } from '../../shared/events.js';
import type { ToolProfileRun } from '../../shared/tool-profiles.js';
import { EXAMPLES, FIXTURES, ROOT, TestRuntime, waitFor } from '../helpers/harness.js';

const HEARTH = path.join(ROOT, 'dist/cli/main.js');
const FN = 'nodesplit';
let rt: TestRuntime;
let scratch = '';

test.before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-profile-tools-'));
  rt = await TestRuntime.start({ stemCells: 0 });
  await rt.deploy({ name: FN, kind: 'node', entry: `${FIXTURES}/node-cpu.mjs`, pool: { min: 1, max: 1, keepAliveMs: 600_000 } });
  await rt.deploy({ name: 'upper', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper` });
});

test.after(async () => {
  await rt.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function hearth(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HEARTH, ...args, '--runtime', rt.url, '--token', rt.runtime.token], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
  });
}

/** The function's own traffic: `connections` clients invoking back to back until stopped. */
function traffic(body: string, connections: number): { stop(): Promise<{ answered: number; failures: string[] }> } {
  let running = true;
  let answered = 0;
  const failures: string[] = [];
  const client = async (): Promise<void> => {
    while (running) {
      const response = await rt.invoke(FN, body);
      if (response.status === 200) answered++;
      else failures.push(`${response.status} ${response.text}`);
    }
  };
  const clients = Array.from({ length: connections }, client);
  return {
    async stop() {
      running = false;
      await Promise.all(clients);
      return { answered, failures };
    },
  };
}

/** The one run the runtime holds for this tool, as GET /v1/tool-profiles describes it. */
async function runOf(tool: string): Promise<ToolProfileRun> {
  const { runs } = (await rt.control('GET', '/v1/tool-profiles')).json<{ runs: ToolProfileRun[] }>();
  return runs.find((run) => run.tool === tool)!;
}

/** The profiled worker left cleanly, with nothing in flight, and the pool is its own size again. */
async function assertRetiredCleanly(pid: number): Promise<void> {
  const exit = await waitFor(`worker ${pid}'s exit event`, () => rt.events.find((event): event is Extract<RuntimeEvent, { type: 'worker_exit' }> => event.type === 'worker_exit' && event.pid === pid));
  assert.equal(exit.code, 0, exit.reason);
  assert.deepEqual(exit.inflight, []);
  assert.equal(rt.workerPids(FN).length, 1, 'the pool is back to its one worker');
  assert.ok(!rt.workerPids(FN).includes(pid));
}

/** Samples whose stack has a frame whose name matches. */
function samplesIn(profile: Profile, name: RegExp): number {
  return profile.samples.filter((sample) => sample.stack.some((frame) => name.test(frame.name))).reduce((sum, sample) => sum + sample.count, 0);
}

test('0x on a worker beside the pool under real traffic: flamegraph, a 3:1 split in the converted profile, pprof that go tool pprof reads, no request failed', async () => {
  const out = path.join(scratch, '0x');
  const load = traffic('split:20', 2);
  const result = await hearth(['profile', FN, '--with', '0x', '--seconds', '4', '-o', out, '--format', 'pprof']);
  const { answered, failures } = await load.stop();
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(failures, [], 'no request failed during the run');
  assert.match(result.stderr, /nodesplit: profiling worker \d+ for 4 s: 50% of nodesplit's invocations/);
  assert.match(result.stderr, /nodesplit: processing 0x's data/);
  const run = await runOf('0x');
  process.stdout.write(`  0x: ${answered} requests answered, ${run.invocations.routed} by the profiled worker ${run.pid}, ${run.invocations.generated} generated\n`);
  assert.ok(run.invocations.routed >= 20, `the profiled worker took a share of the traffic (${run.invocations.routed})`);
  assert.equal(run.invocations.generated, 0, 'no generated workload: the function had traffic of its own');

  const html = fs.readFileSync(path.join(out, 'flamegraph.html'), 'utf8');
  assert.ok(html.length > 100_000 && html.includes('burnMajor'), '0x\'s flamegraph page, with the function in it');
  for (const file of ['ticks.json', 'meta.json']) assert.ok(fs.existsSync(path.join(out, file)), file);
  assert.ok(fs.readdirSync(out).some((name) => /^isolate-.*-v8\.log$/.test(name)), 'V8\'s tick log');

  const profile = JSON.parse(fs.readFileSync(path.join(out, 'profile.json'), 'utf8')) as Profile;
  const major = samplesIn(profile, /^burnMajor /);
  const minor = samplesIn(profile, /^burnMinor /);
  const share = major / (major + minor);
  process.stdout.write(`  0x split: ${major} + ${minor} ticks, major share ${(share * 100).toFixed(1)}%\n`);
  assert.ok(major + minor >= 300, `enough ticks (${major + minor})`);
  assert.ok(Math.abs(share - 0.75) <= 0.1, `share ${share}`);
  assert.equal(profile.frequencyHz, 1000);
  assert.equal(profile.samples.flatMap((sample) => sample.stack).find((frame) => /^burnMajor /.test(frame.name))!.kind, 'js');

  const go = findGo();
  assert.ok(go !== undefined, 'go is installed (scripts/setup.sh)');
  const top = await promisify(execFile)(go, ['tool', 'pprof', '-top', path.join(out, 'profile.pb.gz')]);
  assert.match(top.stdout, /burnMajor/, 'go tool pprof -top reads the exported profile');
  await assertRetiredCleanly(run.pid);
});

/** A clinic run with a generated workload (the function has no traffic of its own): the run, its page, and its folder as copied. */
async function clinicRun(tool: 'clinic-doctor' | 'clinic-flame'): Promise<{ run: ToolProfileRun; html: string; folder: string }> {
  const out = path.join(scratch, tool);
  const result = await hearth(['profile', FN, '--with', tool, '--seconds', '2', '--load', 'split:5', '-o', out]);
  assert.equal(result.code, 0, result.stderr);
  const run = await runOf(tool);
  process.stdout.write(`  ${tool}: ${run.invocations.generated} generated invocations; ${run.files.map((file) => `${file.name} (${file.bytes} bytes)`).join(', ')}\n`);
  assert.ok(run.invocations.generated > 20, 'the generated workload kept the worker busy');
  assert.equal(run.report, `${run.pid}.${tool}.html`);
  const html = fs.readFileSync(path.join(out, run.report!), 'utf8');
  assert.ok(html.length > 100_000, `${tool}'s page`);
  return { run, html, folder: path.join(out, `${run.pid}.${tool}`) };
}

test('clinic doctor with a generated workload: its page and its data', async () => {
  const { run, folder } = await clinicRun('clinic-doctor');
  for (const data of ['processstat', 'traceevent', 'systeminfo']) assert.ok(fs.statSync(path.join(folder, `${run.pid}.clinic-doctor-${data}`)).size > 0, data);
  await assertRetiredCleanly(run.pid);
});

test('clinic flame with a generated workload: its page, with the function in it, and its samples', async () => {
  const { run, html, folder } = await clinicRun('clinic-flame');
  assert.ok(html.includes('burnMajor'));
  assert.ok(fs.statSync(path.join(folder, `${run.pid}.clinic-flame-samples`)).size > 0, 'flame\'s samples');
  await assertRetiredCleanly(run.pid);
});

test('bad requests are refused with the field named; one run per function at a time', async () => {
  const refused = async (body: unknown, fn = FN): Promise<{ status: number; message: string }> => {
    const response = await rt.control('POST', `/v1/functions/${fn}/profile`, body);
    return { status: response.status, message: response.json<{ error: { message: string } }>().error.message };
  };
  assert.match((await refused({ tool: 'perf', seconds: 2 })).message, /request body: tool: must be one of 0x, clinic-doctor, clinic-flame \(got "perf"\)/);
  assert.match((await refused({ tool: '0x' })).message, /seconds: is required/);
  assert.match((await refused({ tool: '0x', seconds: 601 })).message, /seconds: must be between 1 and 600 \(got 601\)/);
  assert.match((await refused({ tool: '0x', seconds: 2, share: 2 })).message, /share: must be a number above 0 and at most 1 \(got 2\)/);
  assert.match((await refused({ tool: '0x', seconds: 2, dir: 'relative' })).message, /dir: must be an absolute path/);
  assert.match((await refused({ tool: '0x', seconds: 2, colour: 1 })).message, /colour: unknown field/);
  const taken = path.join(scratch, 'taken');
  fs.mkdirSync(taken);
  fs.writeFileSync(path.join(taken, 'x'), '');
  assert.match((await refused({ tool: '0x', seconds: 2, dir: taken })).message, /dir: .* is not empty/);
  assert.deepEqual(await refused({ tool: '0x', seconds: 2 }, 'nothing'), { status: 404, message: 'no function named nothing is deployed' });
  const exec = await refused({ tool: 'clinic-doctor', seconds: 2 }, 'upper');
  assert.equal(exec.status, 400);
  assert.match(exec.message, /tool: clinic-doctor profiles Node functions; upper is of kind exec/);

  const first = rt.control('POST', `/v1/functions/${FN}/profile`, { tool: 'clinic-doctor', seconds: 1 });
  await waitFor('the first run', async () => (await rt.control('GET', '/v1/tool-profiles')).json<{ runs: ToolProfileRun[] }>().runs.some((run) => run.status === 'starting' || run.status === 'profiling'));
  const busy = await refused({ tool: '0x', seconds: 1 });
  assert.equal(busy.status, 409);
  assert.match(busy.message, /function nodesplit is already being profiled with clinic-doctor \(run nodesplit-\d+, (starting|profiling)\)/);
  const done = (await first).json<ToolProfileRun>();
  assert.equal(done.status, 'done');
  const escape = await rt.control('GET', `/v1/tool-profiles/${done.id}/${encodeURIComponent('../../token')}`);
  assert.equal(escape.status, 404, 'only the run\'s own files are served');
  await assertRetiredCleanly(done.pid);
});

test('a run under way when the runtime stops ends with it and leaves nothing behind', async () => {
  const own = await TestRuntime.start({ stemCells: 0 });
  await own.deploy({ name: FN, kind: 'node', entry: `${FIXTURES}/node-cpu.mjs`, pool: { min: 1, max: 1 } });
  const response = fetch(`${own.url}/v1/functions/${FN}/profile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${own.runtime.token}`, accept: 'application/x-ndjson' },
    body: JSON.stringify({ tool: 'clinic-doctor', seconds: 60, load: 'split:5' }),
  });
  await waitFor('the run to be profiling', async () => (await own.control('GET', '/v1/tool-profiles')).json<{ runs: ToolProfileRun[] }>().runs[0]?.status === 'profiling');
  const stopped = own.stop();
  const lines = (await (await response).text()).trim().split('\n');
  await stopped;
  assert.match(lines[lines.length - 1]!, /"code":"HEARTH_ERR_SHUTTING_DOWN","message":"the runtime stopped during the run"/);
});

test('the CLI checks its flags before asking the runtime', async () => {
  const tool = await hearth(['profile', FN, '--with', 'perf', '--seconds', '2']);
  assert.equal(tool.code, 2);
  assert.match(tool.stderr, /--with must be one of 0x, clinic-doctor, clinic-flame \(got "perf"\)/);
  const seconds = await hearth(['profile', FN, '--with', '0x']);
  assert.match(seconds.stderr, /--seconds must be a whole number from 1 to 600 with --with \(got null\)/);
  const format = await hearth(['profile', FN, '--with', 'clinic-flame', '--seconds', '2', '--format', 'pprof']);
  assert.match(format.stderr, /--format converts 0x's ticks; clinic-flame makes an HTML report only/);
  const cold = await hearth(['profile', FN, '--with', '0x', '--seconds', '2', '--cold']);
  assert.match(cold.stderr, /--cold is about the agent's own profiles; it does not go with --with/);
});

test.run();
