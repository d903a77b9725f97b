// Co-location: under a light load the runtime's thread and every thread of its workers are
// held on one CPU; a busy CPU gives them the host's back; what the runtime starts meanwhile
// starts on the host's CPUs. The runtime runs in this process, so its thread is this test's.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as native from '../../native/index.js';
import { withHostAffinity } from '../../runtime/supervisor/colocation.js';
import { processThreads } from '../../runtime/supervisor/threads.js';
import { EXAMPLES, TestRuntime, skipWithout, sleep, waitFor } from '../helpers/harness.js';

const HOST_CPUS = native.getAffinity(0);
const skipped = skipWithout(HOST_CPUS.length < 2 ? `co-location needs two CPUs; this process may use ${HOST_CPUS.join(',')} only` : undefined);

/** Cpus_allowed_list of a thread, as the kernel prints it ("0-1", "1"). */
function allowed(pid: number, tid = pid): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1]!;
}

async function colocatedCpu(rt: TestRuntime): Promise<number | null> {
  return (JSON.parse((await rt.control('GET', '/v1/info')).text) as { colocation: { cpu: number | null } }).colocation.cpu;
}

test('a light load holds the runtime and its workers on one CPU; a busy CPU gives them every CPU back', async () => {
  if (skipped('colocation')) return;
  const hostList = allowed(process.pid);
  const rt = await TestRuntime.start({ stemCells: 0, colocation: 'auto' });
  let hog: ReturnType<typeof spawn> | undefined;
  try {
    await rt.deploy({ name: 'echo', kind: 'go', entry: `${EXAMPLES}/go-echo`, pool: { min: 1, max: 1 } });
    const { cpu } = await waitFor(
      'co-location under a light load',
      async () => {
        // Paced: the client shares this process, and so the runtime's measured load, with the runtime.
        for (let i = 0; i < 20; i++) {
          assert.equal((await rt.invoke('echo', 'x')).status, 200);
          await sleep(5);
        }
        const held = await colocatedCpu(rt);
        return held === null ? undefined : { cpu: held }; // CPU 0 is falsy
      },
      15_000,
    );
    const worker = rt.workerPids('echo')[0]!;
    await waitFor('the worker held too', () => processThreads(worker).every((tid) => allowed(worker, tid) === String(cpu)), 2000);
    assert.equal(allowed(process.pid), String(cpu), "the runtime's thread is held on that CPU");
    assert.ok(processThreads(worker).length >= 2, 'a Go worker has several threads, all held');

    // What the runtime starts meanwhile does not inherit the held CPU.
    const grep = (): string => execFileSync('grep', ['Cpus_allowed_list', '/proc/self/status'], { encoding: 'utf8' }).split(/\s+/)[1]!;
    assert.equal(grep(), String(cpu), 'a plain child of the held thread inherits its CPU');
    assert.equal(withHostAffinity(grep), hostList, 'one started through withHostAffinity gets the host CPUs');
    assert.equal(allowed(process.pid), String(cpu), 'and the thread is held again after it');
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-colocation-')), 'cpus');
    const devNull = fs.openSync('/dev/null', 'r+');
    const { pidfd } = native.spawn({ file: '/bin/sh', argv: ['sh', '-c', `grep Cpus_allowed_list /proc/self/status > ${out}`], env: [], fds: [devNull, devNull, devNull], cpus: HOST_CPUS });
    await new Promise<void>((resolve) => native.watchExit(pidfd, () => resolve()));
    fs.closeSync(devNull);
    assert.equal(fs.readFileSync(out, 'utf8').split(/\s+/)[1], hostList, "the spawn helper's cpus option gives the child the host CPUs");

    // Another process keeping the held CPU busy: the runtime cannot move away from it while held.
    hog = withHostAffinity(() => spawn('taskset', ['-c', String(cpu), process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }));
    await waitFor('the CPUs given back', async () => (await colocatedCpu(rt)) === null, 5000);
    assert.equal(allowed(process.pid), hostList, "the runtime's thread has the host CPUs again");
    for (const tid of processThreads(worker)) assert.equal(allowed(worker, tid), hostList, `worker thread ${tid} has the host CPUs again`);
    assert.equal((await rt.invoke('echo', 'still')).text, 'still');
  } finally {
    hog?.kill('SIGKILL');
    await rt.stop();
  }
  assert.equal(allowed(process.pid), hostList, "stopped, the runtime leaves its thread on the host's CPUs");
});

test('--colocate off: a light load leaves every CPU to everyone', async () => {
  if (skipped('colocation off')) return;
  const hostList = allowed(process.pid);
  const rt = await TestRuntime.start({ stemCells: 0, colocation: 'off' });
  try {
    await rt.deploy({ name: 'echo', kind: 'go', entry: `${EXAMPLES}/go-echo`, pool: { min: 1, max: 1 } });
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      assert.equal((await rt.invoke('echo', 'x')).status, 200);
      await sleep(5);
    }
    assert.deepEqual((JSON.parse((await rt.control('GET', '/v1/info')).text) as { colocation: unknown }).colocation, { mode: 'off', cpu: null });
    assert.equal(allowed(process.pid), hostList);
    const worker = rt.workerPids('echo')[0]!;
    for (const tid of processThreads(worker)) assert.equal(allowed(worker, tid), hostList);
  } finally {
    await rt.stop();
  }
});

test.run();
