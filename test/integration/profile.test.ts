// The agent's CPU profiles against workers whose CPU split is known: a Go and a Node function
// that burn 3/4 of their iterations in one function and 1/4 in another, a Go function with a
// slow package init (its cold-start profile), and the GC share of an allocating function
// against one that does not allocate, checked against the Go runtime's own gctrace.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import type { Profile } from '../../agent/profile/model.js';
import type { GcShare } from '../../agent/profile/gc-share.js';
import { FIXTURES, ROOT, TestAgent, TestRuntime, ebpfMissing, sleep, waitFor } from '../helpers/harness.js';
import { assertTimingUnlessStolen, StealMeter } from '../helpers/steal.js';
import { cpuSeconds } from '../../bench/lib/agent.js';

const missing = ebpfMissing();
let rt: TestRuntime;
let agent: TestAgent;
let scratch = '';
const GO_CPU = `${FIXTURES}/go-cpu`;
/** High enough that a few seconds of work give hundreds of samples. */
const STEADY_HZ = 499;

function skipped(name: string): boolean {
  if (missing === undefined) return false;
  process.stdout.write(`HEARTH-SKIP ${name}: ${missing}\n`);
  return true;
}

test.before(async () => {
  if (missing !== undefined) return;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-profile-'));
  rt = await TestRuntime.start({ stemCells: 0, nodePerfMaps: true });
  agent = await TestAgent.start(rt, { profile: { coldHz: 1000, steadyHz: STEADY_HZ } });
  const warm = { pool: { min: 1, max: 1, keepAliveMs: 600_000 } };
  await rt.deploy({ name: 'gosplit', kind: 'go', entry: GO_CPU, ...warm });
  await rt.deploy({ name: 'nodesplit', kind: 'node', entry: `${FIXTURES}/node-cpu.mjs`, ...warm });
  await rt.deploy({ name: 'alloc', kind: 'go', entry: GO_CPU, env: { GODEBUG: 'gctrace=1' }, ...warm });
  await rt.deploy({ name: 'compute', kind: 'go', entry: GO_CPU, env: { GODEBUG: 'gctrace=1' }, ...warm });
  await rt.deploy({ name: 'slowinit', kind: 'go', entry: GO_CPU, env: { FIXTURE_SLOW_INIT_MS: '25' }, pool: { min: 0, max: 1, keepAliveMs: 0 }, limits: { maxInvocations: 1 } });
});

test.after(async () => {
  if (missing !== undefined) return;
  await agent.stop();
  await rt.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function api(route: string): Promise<Response> {
  const response = await fetch(`${agent.agent.url}${route}`);
  assert.equal(response.status, 200, `${route}: ${response.status} ${await response.clone().text()}`);
  return response;
}

async function profileOf(fn: string, phase: 'cold' | 'steady', seconds?: number): Promise<Profile> {
  return (await (await api(`/v1/profiles/${fn}?phase=${phase}${seconds === undefined ? '' : `&seconds=${seconds}`}`)).json()) as Profile;
}

/** Samples whose stack has a frame matching `name`. */
function samplesIn(profile: Profile, name: RegExp): number {
  return profile.samples.filter((sample) => sample.stack.some((frame) => name.test(frame.name))).reduce((sum, sample) => sum + sample.count, 0);
}

function total(profile: Profile): number {
  return profile.samples.reduce((sum, sample) => sum + sample.count, 0);
}

async function busy(fn: string, request: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const response = await rt.invoke(fn, request);
    assert.equal(response.status, 200, response.text);
  }
}

test('Go: a 75/25 split of CPU between two functions shows within 5 points', async () => {
  if (skipped('profile Go split')) return;
  const started = Date.now();
  await busy('gosplit', 'split:400', 8);
  const profile = await profileOf('gosplit', 'steady', (Date.now() - started) / 1000 + 1);
  const major = samplesIn(profile, /^main\.burnMajor$/);
  const minor = samplesIn(profile, /^main\.burnMinor$/);
  const share = major / (major + minor);
  process.stdout.write(`  Go split: ${major} + ${minor} samples of ${total(profile)}, major share ${(share * 100).toFixed(1)}%\n`);
  assert.ok(major + minor >= 300, `enough samples (${major + minor})`);
  assert.ok(Math.abs(share - 0.75) <= 0.05, `share ${share}`);
  const frame = profile.samples.flatMap((sample) => sample.stack).find((item) => item.name === 'main.burnMajor')!;
  assert.equal(frame.kind, 'go');
  assert.match(frame.file ?? '', /go-cpu\/main\.go$/);
  assert.ok((frame.line ?? 0) > 0, 'Go frames carry a line');
});

test('Node: the same split in JIT-compiled JavaScript, frames named from V8\'s perf map', async () => {
  if (skipped('profile Node split')) return;
  const started = Date.now();
  await busy('nodesplit', 'split:400', 8);
  const profile = await profileOf('nodesplit', 'steady', (Date.now() - started) / 1000 + 1);
  const major = samplesIn(profile, /burnMajor/);
  const minor = samplesIn(profile, /burnMinor/);
  const share = major / (major + minor);
  process.stdout.write(`  Node split: ${major} + ${minor} samples of ${total(profile)}, major share ${(share * 100).toFixed(1)}%\n`);
  assert.ok(major + minor >= 300, `enough samples (${major + minor})`);
  assert.ok(Math.abs(share - 0.75) <= 0.05, `share ${share}`);
  assert.equal(profile.samples.flatMap((sample) => sample.stack).find((item) => /burnMajor/.test(item.name))!.kind, 'js');
});

test('cold-start profile: a slow package init is the top frame of the function\'s code', async () => {
  if (skipped('profile cold start')) return;
  for (let i = 0; i < 8; i++) {
    await waitFor('no slowinit worker', () => rt.workerPids('slowinit').length === 0);
    await busy('slowinit', 'compute:1', 1);
  }
  const profile = await waitFor('cold samples of 8 starts', async () => {
    const current = await profileOf('slowinit', 'cold');
    return total(current) >= 8 * 15 ? current : undefined;
  });
  // Inclusive samples per function of the program itself (package main).
  const inclusive = new Map<string, number>();
  for (const sample of profile.samples) {
    for (const name of new Set(sample.stack.filter((frame) => frame.name.startsWith('main.')).map((frame) => frame.name))) inclusive.set(name, (inclusive.get(name) ?? 0) + sample.count);
  }
  const ranked = [...inclusive.entries()].sort((a, b) => b[1] - a[1]);
  process.stdout.write(`  cold-start profile: ${total(profile)} samples over ${new Set(profile.samples.map((sample) => sample.labels.pid)).size} starts; main.*: ${JSON.stringify(ranked.slice(0, 4))}\n`);
  const slow = inclusive.get('main.slowInit') ?? 0;
  // Its caller (the package's init) and its callee (spin) share its samples, give or take the
  // one that caught a frame being set up: every other function of the program holds less.
  const initChain = /^main\.(init(\.\d+)*|slowInit|spin)$/;
  const outside = ranked.find(([name]) => !initChain.test(name));
  assert.ok(slow >= 0.95 * ranked[0]![1], `the slow init is at the top, with its caller and callee (${JSON.stringify(ranked.slice(0, 4))})`);
  assert.ok(outside === undefined || slow > outside[1], `no function outside the init holds more of the start than the slow init (${JSON.stringify(outside)})`);
  assert.ok(slow / total(profile) > 0.5, `slowInit holds most of the start (${slow} of ${total(profile)})`);
  assert.ok(profile.samples.every((sample) => sample.labels.phase === 'cold'));
  // Sampled through clocks of their own, opened on the seeds they start from: none runs on every CPU.
  const clocks = /^hearth_profile_cold_clocks (-?\d+)$/m.exec(await (await api('/metrics')).text());
  assert.ok(clocks !== null && Number(clocks[1]) >= 1, `the cold-start clock follows the runtime's seeds, not every CPU (hearth_profile_cold_clocks ${clocks?.[1]})`);
  // A start the agent's record calls profiled (sampled from its exec on) has samples: this init
  // spins for many ms. The last start's samples may have been read before the runtime named its
  // worker (its events come in 100 ms batches): they wait for it and count from the next reading.
  await sleep(300);
  const records = ((await (await api('/v1/coldstarts?function=slowinit')).json()) as { coldstarts: { pid: number; profiled?: boolean }[] }).coldstarts;
  const sampledPids = new Set((await profileOf('slowinit', 'cold')).samples.map((sample) => Number(sample.labels.pid)));
  const profiled = records.filter((record) => record.profiled === true);
  assert.ok(records.every((record) => typeof record.profiled === 'boolean'), 'every record says whether its start was profiled');
  assert.ok(profiled.length >= 1, `at least one of ${records.length} starts was sampled from its exec on`);
  for (const record of profiled) assert.ok(sampledPids.has(record.pid), `start of ${record.pid} is called profiled but has no cold samples`);
});

/** The GC's CPU over a window from gctrace lines: each GC's "A+B/C/D+E ms cpu", summed. */
function gctraceCpuMs(lines: string[]): number {
  let sum = 0;
  for (const line of lines) {
    const match = / ([\d.]+)\+([\d.]+)\/([\d.]+)\/([\d.]+)\+([\d.]+) ms cpu/.exec(line);
    if (match !== null) sum += match.slice(1).reduce((total, value) => total + Number(value), 0);
  }
  return sum;
}

test('GC share: an allocating function against a computing one, in line with gctrace', async () => {
  if (skipped('profile GC share')) return;
  const [allocPid] = rt.workerPids('alloc');
  const logStart = rt.logs.length;
  const cpuBefore = cpuSeconds(allocPid!);
  const meter = new StealMeter();
  const started = Date.now();
  await busy('alloc', 'alloc:400', 6);
  const allocCpu = cpuSeconds(allocPid!) - cpuBefore;
  const steal = meter.share();
  await busy('compute', 'compute:400', 6);
  const seconds = (Date.now() - started) / 1000 + 1;
  const { functions } = (await (await api(`/v1/gc?seconds=${seconds}`)).json()) as { functions: GcShare[] };
  const alloc = functions.find((fn) => fn.function === 'alloc')!;
  const compute = functions.find((fn) => fn.function === 'compute')!;
  const traced = gctraceCpuMs(rt.logs.slice(logStart).filter((line) => line.includes(`alloc[${allocPid}]`))) / 1000 / allocCpu;
  process.stdout.write(`  GC share: alloc ${(alloc.share! * 100).toFixed(1)}% of ${alloc.samples} samples (gctrace: ${(traced * 100).toFixed(1)}% of ${allocCpu.toFixed(2)} s CPU), compute ${(compute.share! * 100).toFixed(1)}% of ${compute.samples}\n`);
  assert.ok(alloc.samples >= 200 && compute.samples >= 200, 'enough samples behind both');
  assert.ok(compute.share! < 0.02, `computing without allocating: ${compute.share}`);
  assert.ok(alloc.share! > 5 * Math.max(compute.share!, 0.01), `clearly separated: ${alloc.share} vs ${compute.share}`);
  // gctrace's CPU figures are wall-clock durations of GC phases, which count stolen time; the task's own CPU time leaves it out.
  const gap = Math.abs(alloc.share! - traced);
  assertTimingUnlessStolen('GC share against gctrace', gap <= 0.15 ? [] : [`sampled ${alloc.share} vs gctrace ${traced}`], steal);
  const metrics = await (await api('/metrics')).text();
  assert.match(metrics, /hearth_gc_cpu_share\{function="alloc"\} 0\.\d+/);
  assert.match(metrics, /hearth_profile_samples_total [1-9]/);
});

test('exports: go tool pprof reads the pprof, the folded lines add up, the CLI writes files', async () => {
  if (skipped('profile exports')) return;
  const pprof = path.join(scratch, 'gosplit.pb.gz');
  fs.writeFileSync(pprof, Buffer.from(await (await api('/v1/profiles/gosplit?phase=steady&seconds=600&format=pprof')).arrayBuffer()));
  const top = execFileSync('go', ['tool', 'pprof', '-top', pprof], { encoding: 'utf8' });
  assert.match(top, /main\.burnMajor/);
  const raw = execFileSync('go', ['tool', 'pprof', '-raw', pprof], { encoding: 'utf8' });
  assert.match(raw, /PeriodType: cpu nanoseconds/);
  assert.match(raw, /function:\[gosplit\]/);
  assert.match(raw, /phase:\[steady\]/);
  const json = await profileOf('gosplit', 'steady', 600);
  const folded = await (await api('/v1/profiles/gosplit?phase=steady&seconds=600&format=folded')).text();
  const foldedTotal = folded.trim().split('\n').reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  assert.equal(foldedTotal, total(json));
  const html = path.join(scratch, 'cold.html');
  // Not execFileSync: the agent answering the CLI runs in this process.
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'profile', 'slowinit', '--cold', '-o', html, '--agent', agent.agent.url]);
  assert.match(fs.readFileSync(html, 'utf8'), /main\.slowInit/);
  const bad = await fetch(`${agent.agent.url}/v1/profiles/gosplit?phase=warm`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /phase must be cold or steady/);
  const none = await fetch(`${agent.agent.url}/v1/profiles/nosuch?phase=cold`);
  assert.equal(none.status, 404);
});

test.run();
