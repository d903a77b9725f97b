// Sustained load on Go, Node and exec functions while workers are SIGKILLed at random, hang,
// exit mid-request or mid-response, or run out of memory. Every request must get exactly one
// answer before its deadline: the handler's own, or a 5xx whose error code names what
// happened to it; afterwards every pool is back at its `min`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'uvu';
import * as native from '../../native/index.js';
import { EXAMPLES, FIXTURES, TestRuntime, sleep, waitFor } from '../helpers/harness.js';
import { LoadClient, errorCode, faultSeed, pick, seededRandom, type Answer } from '../helpers/load.js';

const REQUESTS = Number(process.env['HEARTH_FAULT_REQUESTS'] ?? 10_000);
const CLIENTS = 16;
/** The share of requests that ask their worker to misbehave. */
const FAULT_RATE = 0.02;
const TIMEOUT_MS = 2000;
/** Hangs get a short timeout of their own, so a hung worker is killed (timeout + grace) within a second. */
const HANG_TIMEOUT_MS = 400;
const GRACE_MS = 300;
/** How late past its timeout an answer may come before the request counts as hung. */
const DEADLINE_MARGIN_MS = 1500;
const KILL_EVERY_MS: [number, number] = [50, 250];

interface Expected {
  status: number;
  code: string;
  message: RegExp;
}

/** Faults a request can ask for, and the answer each must get. */
const FAULTS: Record<string, { body: string; query?: string; expect: Expected }> = {
  crash: { body: 'crash', expect: { status: 502, code: 'HEARTH_ERR_WORKER_CRASHED', message: /exited with code 3 while handling invocation/ } },
  partial: { body: 'partial', expect: { status: 502, code: 'HEARTH_ERR_WORKER_CRASHED', message: /exited with code 6 while handling invocation/ } },
  kill: { body: 'kill', expect: { status: 502, code: 'HEARTH_ERR_WORKER_CRASHED', message: /was killed by SIGKILL while handling invocation/ } },
  oom: { body: 'alloc:200', expect: { status: 502, code: 'HEARTH_ERR_WORKER_OOM', message: /exceeded its memory limit/ } },
  hang: { body: 'hang', query: `?timeoutMs=${HANG_TIMEOUT_MS}`, expect: { status: 504, code: 'HEARTH_ERR_INVOKE_TIMEOUT', message: new RegExp(`did not finish within its timeout of ${HANG_TIMEOUT_MS} ms`) } },
  'node-exit': { body: 'exit', expect: { status: 502, code: 'HEARTH_ERR_WORKER_CRASHED', message: /exited with code 4 while handling invocation/ } },
};

/** What a request that did nothing wrong may get when its worker died under it (killed, or a neighbour's fault). */
const COLLATERAL = new Set(['HEARTH_ERR_WORKER_CRASHED', 'HEARTH_ERR_WORKER_OOM', 'HEARTH_ERR_WORKER_PROTOCOL', 'HEARTH_ERR_INVOKE_TIMEOUT']);

interface FunctionUnderLoad {
  spec: Record<string, unknown>;
  min: number;
  faults: string[];
  /** A body unique to the request, and the answer the handler gives it. */
  normal(id: number): { body: string; answer: string };
}

const FUNCTIONS: Record<string, FunctionUnderLoad> = {
  go: {
    spec: { kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { min: 2, max: 6, keepAliveMs: 1000, maxQueued: 1024 }, limits: { timeoutMs: TIMEOUT_MS, memoryMb: 64 } },
    min: 2,
    faults: ['crash', 'partial', 'kill', 'oom', 'hang'],
    normal: (id) => ({ body: `echo:r${id}`, answer: `r${id}` }),
  },
  // Four invocations per worker: one request's fault is its neighbours' too. (No `partial`: its
  // raw half frame would race the SDK's writer serving a neighbour, and the runtime would rightly
  // read the two as one frame.)
  'go-shared': {
    spec: { kind: 'go', entry: `${FIXTURES}/go-misbehave`, pool: { min: 1, max: 3, keepAliveMs: 1000, maxQueued: 1024 }, limits: { timeoutMs: TIMEOUT_MS, memoryMb: 64, concurrency: 4 } },
    min: 1,
    faults: ['crash', 'kill', 'oom', 'hang'],
    normal: (id) => ({ body: `echo:r${id}`, answer: `r${id}` }),
  },
  node: {
    spec: { kind: 'node', entry: `${FIXTURES}/node-echo.mjs`, pool: { min: 2, max: 4, keepAliveMs: 1000, maxQueued: 1024 }, limits: { timeoutMs: TIMEOUT_MS, concurrency: 2 } },
    min: 2,
    faults: ['node-exit', 'hang'],
    normal: (id) => ({ body: `r${id}`, answer: `r${id}` }),
  },
  exec: {
    spec: { kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper`, pool: { min: 2, max: 4, keepAliveMs: 1000, maxQueued: 1024 }, limits: { timeoutMs: TIMEOUT_MS } },
    min: 2,
    faults: [],
    normal: (id) => ({ body: `r${id}`, answer: `R${id}` }),
  },
};

interface Planned {
  id: number;
  fn: string;
  fault: string | undefined;
}

interface Result extends Planned {
  answer: Answer;
  pid: number;
}

const seed = faultSeed('fault/load');

/** The whole run's choices, made up front so that the same seed makes the same requests. */
function plan(random: () => number): Planned[] {
  const names = Object.keys(FUNCTIONS);
  return Array.from({ length: REQUESTS }, (_, id) => {
    const fn = pick(random, names);
    const faults = FUNCTIONS[fn]!.faults;
    const fault = faults.length > 0 && random() < FAULT_RATE ? pick(random, faults) : undefined;
    return { id, fn, fault };
  });
}

/** The runtime's children that are seeds (waiting to exec a worker) rather than workers. */
function seedPids(): number[] {
  const children = fs
    .readdirSync('/proc/self/task')
    .flatMap((task) => fs.readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/))
    .filter((pid) => pid !== '')
    .map(Number);
  return children.filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`) === native.SEED_BINARY;
    } catch {
      return false;
    }
  });
}

/**
 * Judges one result; returns why it is wrong, or undefined. `faultsOn` maps each worker to the
 * requests that asked it to misbehave: they doom whatever else it holds.
 */
function judge(result: Result, killed: ReadonlySet<number>, faultsOn: ReadonlyMap<number, number[]>): string | undefined {
  const { answer, fault, fn, id } = result;
  const where = `request ${id} (${fn}${fault === undefined ? '' : `, fault ${fault}`}, worker ${result.pid || '-'})`;
  if (answer.failure === 'deadline') return `${where} hung: ${answer.detail}`;
  if (answer.failure !== undefined) return `${where} got no response: ${answer.detail}`;
  if (answer.status === 200) {
    if (fault !== undefined) return `${where} asked for a fault but got 200`;
    const expected = FUNCTIONS[fn]!.normal(id).answer;
    return answer.body.toString() === expected ? undefined : `${where} got someone else's answer: ${JSON.stringify(answer.body.toString().slice(0, 80))}, expected ${expected}`;
  }
  const error = errorCode(answer);
  if (error === undefined) return `${where} got ${answer.status} without a JSON error: ${answer.body.toString().slice(0, 200)}`;
  if (answer.status < 500) return `${where} got ${answer.status} ${error.code}: ${error.message}`;
  const own = fault === undefined ? undefined : FAULTS[fault]!.expect;
  if (own !== undefined && answer.status === own.status && error.code === own.code && own.message.test(error.message)) return undefined;
  // Anything else is only right when the worker died under the request for a reason the test caused.
  const doomedByOthers = killed.has(result.pid) || (faultsOn.get(result.pid) ?? []).some((other) => other !== id);
  if (COLLATERAL.has(error.code) && doomedByOthers) return undefined;
  return `${where} got ${answer.status} ${error.code}: ${error.message}`;
}

/** The sum of every series of a counter in Prometheus text. */
function sumOf(metrics: string, name: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

test(`${REQUESTS} requests across Go, Node and exec functions under random faults: one clear answer each, pools recover`, async () => {
  const random = seededRandom(seed);
  const requests = plan(random);
  const killerRandom = seededRandom(seed ^ 0x5eed);
  const rt = await TestRuntime.start({ stemCells: 1, seeds: 2, timeoutGraceMs: GRACE_MS });
  const client = new LoadClient(rt.url, CLIENTS);
  try {
    for (const [name, fn] of Object.entries(FUNCTIONS)) await rt.deploy({ name, ...fn.spec });
    const results: Result[] = [];
    const killed = new Set<number>();
    let running = true;
    // The killer: now and then a random worker or idle seed gets SIGKILL.
    const killer = (async () => {
      let seeds = 0;
      while (running) {
        await sleep(KILL_EVERY_MS[0] + killerRandom() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]));
        const useSeed = killerRandom() < 0.15;
        const candidates = (useSeed ? seedPids() : rt.workerPids()).sort((a, b) => a - b);
        if (!running || candidates.length === 0) continue;
        const victim = pick(killerRandom, candidates);
        killed.add(victim);
        if (useSeed) seeds++;
        try {
          process.kill(victim, 'SIGKILL');
        } catch {
          // it exited on its own meanwhile
        }
      }
      return seeds;
    })();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < requests.length) {
          const planned = requests[next++]!;
          const fault = planned.fault === undefined ? undefined : FAULTS[planned.fault]!;
          const body = fault?.body ?? FUNCTIONS[planned.fn]!.normal(planned.id).body;
          const timeout = fault?.query === undefined ? TIMEOUT_MS : HANG_TIMEOUT_MS;
          const answer = await client.post(`/v1/functions/${planned.fn}/invoke${fault?.query ?? ''}`, body, timeout + DEADLINE_MARGIN_MS);
          results.push({ ...planned, answer, pid: Number(answer.headers['x-hearth-worker'] ?? 0) });
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    running = false;
    const seedsKilled = await killer;

    const faultsOn = new Map<number, number[]>();
    for (const result of results) if (result.fault !== undefined && result.pid > 0) faultsOn.set(result.pid, [...(faultsOn.get(result.pid) ?? []), result.id]);
    const wrong = results.map((result) => judge(result, killed, faultsOn)).filter((why): why is string => why !== undefined);
    const byOutcome = new Map<string, number>();
    for (const result of results) {
      const key = result.answer.status === 200 ? '200' : `${result.answer.status} ${errorCode(result.answer)?.code ?? result.answer.failure ?? '?'}`;
      byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
    }
    const late = Math.max(0, ...results.filter((result) => result.answer.status === 504).map((result) => result.answer.ms - (result.fault === 'hang' ? HANG_TIMEOUT_MS : TIMEOUT_MS)));
    process.stdout.write(
      `fault/load: ${results.length} requests in ${seconds.toFixed(1)} s (${(results.length / seconds).toFixed(0)}/s); ` +
        `${requests.filter((request) => request.fault !== undefined).length} faults asked, ${killed.size} processes killed (${seedsKilled} seeds); ` +
        `outcomes ${JSON.stringify(Object.fromEntries(byOutcome))}; latest 504 came ${late.toFixed(0)} ms after its timeout\n`,
    );
    assert.equal(results.length, REQUESTS, `seed ${seed}: every request was sent once`);
    assert.deepEqual(wrong.slice(0, 20), [], `seed ${seed}: ${wrong.length} requests were answered wrongly (first 20 shown)`);
    assert.ok(killed.size >= 20, `seed ${seed}: the killer ran (${killed.size} kills)`);
    // The runtime's own books agree: each request ended exactly once, as an outcome or a refusal.
    const metrics = (await rt.runtime.metrics.render()).body;
    assert.equal(sumOf(metrics, 'hearth_invocations_total') + sumOf(metrics, 'hearth_rejected_total'), REQUESTS, `seed ${seed}: the runtime counted each request once`);

    for (const [name, fn] of Object.entries(FUNCTIONS)) {
      await waitFor(
        `seed ${seed}: ${name} back at pool.min ${fn.min}`,
        () => {
          const pool = rt.runtime.registry.get(name)!;
          const snapshot = pool.snapshot();
          return snapshot.idle === fn.min && snapshot.busy + snapshot.starting + snapshot.draining + snapshot.queued === 0 && pool.listWorkers().length === fn.min;
        },
        20_000,
      );
    }
    await waitFor(`seed ${seed}: seeds and stem cells replaced`, () => rt.runtime.seedsReady() === 2 && rt.runtime.stemCellsReady() >= 1, 10_000).catch((error: Error) => {
      const said = rt.logged(/seed|stem cell/).slice(-10).join('\n');
      throw new Error(`${error.message}: ${rt.runtime.seedsReady()} seeds and ${rt.runtime.stemCellsReady()} stem cells ready; the runtime said:\n${said}`);
    });
    // And the recovered pools serve.
    for (const [name, fn] of Object.entries(FUNCTIONS)) {
      const { body, answer } = fn.normal(REQUESTS);
      const response = await rt.invoke(name, body);
      assert.equal(response.text, answer, `seed ${seed}: ${name} serves after the run`);
    }
  } finally {
    client.close();
    await rt.stop();
  }
});

test.run();
