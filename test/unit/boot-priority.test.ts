// Nice values set on every thread of another process and on its session's autogroup: the
// way stem cells boot at a low priority and are put back before they serve.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'uvu';
import { BOOT_NICE, DEFAULT_NICE, setProcessNice } from '../../runtime/supervisor/boot-priority.js';
import { processNice } from '../helpers/nice.js';

test('every thread and the autogroup of a multi-threaded process go to nice 19 and back to 0', async () => {
  // A Node child has several threads (V8's, libuv's) and, detached, a session of its own.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { detached: true, stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    const pid = child.pid!;
    while (fs.readdirSync(`/proc/${pid}/task`).length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    setProcessNice(pid, BOOT_NICE);
    const low = processNice(pid);
    assert.ok(low.threads.length >= 2, `threads seen: ${low.threads.length}`);
    assert.deepEqual(new Set(low.threads), new Set([BOOT_NICE]), 'every thread at nice 19');
    if (low.autogroup !== undefined) assert.equal(low.autogroup, BOOT_NICE, 'its autogroup at nice 19');
    setProcessNice(pid, DEFAULT_NICE);
    const back = processNice(pid);
    assert.deepEqual(new Set(back.threads), new Set([DEFAULT_NICE]), 'every thread back at nice 0');
    if (back.autogroup !== undefined) assert.equal(back.autogroup, DEFAULT_NICE);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a process that has exited is skipped, not an error', async () => {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.doesNotThrow(() => setProcessNice(child.pid!, BOOT_NICE));
});

test.run();
