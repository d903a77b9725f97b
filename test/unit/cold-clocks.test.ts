// Which processes the cold-start clock follows: the runtime's children from their birth until
// the runtime reports them ready or they exit; on every CPU instead when the kernel refuses.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { BpfError, type BpfLink } from '../../agent/bpf/index.js';
import { ColdClocks } from '../../agent/profile/cold-clocks.js';
import { EventType, type KernelEvent } from '../../agent/probes/events.js';
import { createLogger } from '../../shared/log.js';

const RUNTIME = 100;

class FakeSampler {
  readonly open = new Set<number>();
  everyCpu = 0;
  refuse = new Map<number, string>();
  followProcess(pid: number): BpfLink {
    const code = this.refuse.get(pid);
    if (code !== undefined) throw new BpfError('perf_event_open', `cpu-clock of process ${pid}`, 1, code, `perf_event_open failed: ${code}`);
    this.open.add(pid);
    return { destroy: () => this.open.delete(pid) } as unknown as BpfLink;
  }
  sampleColdOnEveryCpu(): void {
    this.everyCpu++;
  }
}

function kernel(type: number, pid: number, ppid = 0): KernelEvent {
  return { ts: 0, type: type as KernelEvent['type'], pid, ppid, tid: pid, arg: 0, arg2: 0, cookie: 0, comm: '' } as KernelEvent;
}

function setup(every?: number, maxPerSecond?: number): { clocks: ColdClocks; sampler: FakeSampler; warnings: string[] } {
  const sampler = new FakeSampler();
  const warnings: string[] = [];
  const clocks = new ColdClocks(sampler, createLogger('warn', (line) => warnings.push(line)), every, maxPerSecond);
  clocks.setRoot(RUNTIME);
  return { clocks, sampler, warnings };
}

test('a child of the runtime is followed from the next flush until the runtime says it is ready', () => {
  const { clocks, sampler } = setup();
  clocks.kernel(kernel(EventType.FORK, 201, RUNTIME));
  clocks.kernel(kernel(EventType.FORK, 301, 201)); // a grandchild: its parent's clock covers it
  assert.deepEqual([...sampler.open], []);
  clocks.flush();
  assert.deepEqual([...sampler.open], [201]);
  assert.deepEqual(clocks.counters(), { followed: 1, overBudget: 0, everyCpu: false });
  clocks.runtime({ type: 'worker_ready', seq: 1, ts: 0, function: 'f', workerId: 1, pid: 201, spawnToReadyMs: 3 });
  assert.deepEqual([...sampler.open], []);
  assert.equal(clocks.counters().followed, 0);
});

test('a worker a request waits for keeps its clock until it has answered (or a second has passed)', () => {
  const { clocks, sampler } = setup();
  for (const pid of [201, 202]) clocks.kernel(kernel(EventType.FORK, pid, RUNTIME));
  clocks.flush(0);
  for (const workerId of [1, 2]) clocks.runtime({ type: 'spawn_requested', seq: workerId, ts: 0, function: 'f', workerId, reason: 'cold' });
  clocks.runtime({ type: 'worker_ready', seq: 3, ts: 0, function: 'f', workerId: 1, pid: 201, spawnToReadyMs: 3 }, 0);
  clocks.runtime({ type: 'worker_ready', seq: 4, ts: 0, function: 'f', workerId: 2, pid: 202, spawnToReadyMs: 3 }, 0);
  assert.deepEqual([...sampler.open].sort(), [201, 202]);
  clocks.runtime({ type: 'invoke_end', seq: 5, ts: 0, function: 'f', id: 7, workerId: 1, pid: 201, cold: true, status: 200, durationMs: 1, latencyMs: 4 });
  assert.deepEqual([...sampler.open], [202]);
  clocks.flush(999);
  assert.deepEqual([...sampler.open], [202]);
  clocks.flush(1000); // never answered: closed anyway
  assert.deepEqual([...sampler.open], []);
});

test('exits close clocks; a process gone or ready before the flush gets none', () => {
  const { clocks, sampler } = setup();
  for (const pid of [201, 202, 203]) clocks.kernel(kernel(EventType.FORK, pid, RUNTIME));
  clocks.kernel(kernel(EventType.EXIT, 202));
  clocks.runtime({ type: 'worker_ready', seq: 1, ts: 0, function: 'f', workerId: 1, pid: 203, spawnToReadyMs: 3 });
  clocks.flush();
  assert.deepEqual([...sampler.open], [201]);
  clocks.kernel(kernel(EventType.EXIT, 201));
  assert.deepEqual([...sampler.open], []);
});

test('a process that exited before its clock opened (ESRCH) is skipped quietly', () => {
  const { clocks, sampler, warnings } = setup();
  sampler.refuse.set(201, 'ESRCH');
  clocks.adopt([201, 202]);
  clocks.flush();
  assert.deepEqual([...sampler.open], [202]);
  assert.deepEqual(warnings, []);
  assert.equal(sampler.everyCpu, 0);
});

test('a refusal (EACCES) moves cold-start sampling to every CPU once, closing the clocks held', () => {
  const { clocks, sampler, warnings } = setup();
  clocks.adopt([201]);
  clocks.flush();
  sampler.refuse.set(202, 'EACCES');
  clocks.kernel(kernel(EventType.FORK, 202, RUNTIME));
  clocks.kernel(kernel(EventType.FORK, 203, RUNTIME));
  clocks.flush();
  assert.equal(sampler.everyCpu, 1);
  assert.deepEqual([...sampler.open], []);
  assert.deepEqual(clocks.counters(), { followed: 0, overBudget: 0, everyCpu: true });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /every CPU.*EACCES.*CAP_SYS_PTRACE/);
  clocks.kernel(kernel(EventType.FORK, 204, RUNTIME));
  clocks.flush();
  assert.deepEqual([...sampler.open], []);
  assert.equal(sampler.everyCpu, 1);
});

test('a start is sampled from its exec only if the clock was open by then; asked once', () => {
  const { clocks } = setup(2);
  clocks.kernel(kernel(EventType.FORK, 201, RUNTIME));
  clocks.kernel(kernel(EventType.FORK, 202, RUNTIME)); // not followed (every = 2)
  clocks.kernel(kernel(EventType.FORK, 203, RUNTIME));
  clocks.kernel(kernel(EventType.EXEC, 203)); // exec'd before its clock opened
  clocks.flush();
  for (const pid of [201, 202]) clocks.kernel(kernel(EventType.EXEC, pid));
  assert.equal(clocks.sampledFromExec(201), true);
  assert.equal(clocks.sampledFromExec(201), false);
  assert.equal(clocks.sampledFromExec(202), false);
  assert.equal(clocks.sampledFromExec(203), false);
  clocks.kernel(kernel(EventType.EXEC, 203)); // exec'd again, followed now
  clocks.kernel(kernel(EventType.FORK, 203, 999)); // then the pid is reused before anyone asked
  assert.equal(clocks.sampledFromExec(203), false);
});

test('with every = 3, the first and then every third process the runtime starts is followed', () => {
  const { clocks, sampler } = setup(3);
  clocks.adopt([201, 202]);
  clocks.flush();
  for (let pid = 203; pid <= 208; pid++) clocks.kernel(kernel(EventType.FORK, pid, RUNTIME));
  clocks.flush();
  assert.deepEqual([...sampler.open].sort(), [201, 204, 207]);
  assert.throws(() => new ColdClocks(sampler, createLogger('warn', () => undefined), 0), /every must be a positive integer \(got 0\)/);
});

test('at most maxPerSecond clocks open a second: a burst beyond them starts unsampled, counted', () => {
  const { clocks, sampler } = setup(1, 4);
  const born = (from: number, count: number): void => {
    for (let pid = from; pid < from + count; pid++) clocks.kernel(kernel(EventType.FORK, pid, RUNTIME));
  };
  born(201, 6);
  clocks.flush(0);
  assert.deepEqual([...sampler.open].sort(), [201, 202, 203, 204], 'a second\'s worth at once');
  assert.equal(clocks.counters().overBudget, 2);
  born(301, 3);
  clocks.flush(500); // half a second refills two
  assert.deepEqual([...sampler.open].filter((pid) => pid > 300).sort(), [301, 302]);
  born(401, 9);
  clocks.flush(10_000); // long idle refills no more than a second's worth
  assert.equal([...sampler.open].filter((pid) => pid > 400).length, 4);
  assert.equal(clocks.counters().overBudget, 2 + 1 + 5);
  assert.throws(() => new ColdClocks(sampler, createLogger('warn', () => undefined), 1, 0), /maxPerSecond must be positive \(got 0\)/);
});

test.run();
