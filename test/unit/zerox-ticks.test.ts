// 0x's ticks in Hearth's profile model: every kind of code V8 logs becomes a frame the export
// formats understand, equal stacks are counted once, idle ticks are left out.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { toFolded } from '../../agent/profile/export/folded.js';
import { profileFromTicks, type TickFrame } from '../../agent/profile/zerox-ticks.js';

const script: TickFrame = { name: ' file:///srv/fn/main.mjs:1:1', type: 'JS' };
const handler: TickFrame = { name: 'handler file:///srv/fn/main.mjs:30:30', type: 'JS' };
const burn: TickFrame = { name: 'burn /srv/fn/lib.js:12:19', type: 'JS' };
const builtin: TickFrame = { name: 'Builtin: ArrayPrototypePush', type: 'CODE' };
const write: TickFrame = { name: '__write@@GLIBC_2.2.5', type: 'CPP' };
const libc: TickFrame = { name: '/usr/lib/x86_64-linux-gnu/libc.so.6', type: 'SHARED_LIB' };

const SOURCE = { function: 'fn', pid: 42, hz: 1000, startUnixMs: 1_700_000_000_000, durationMs: 4000 };

test('frames: JavaScript named as the perf maps name it, V8 code, C symbols without their version, unnamed library code', () => {
  const profile = profileFromTicks([[script, handler, burn], [script, handler, builtin, write, libc]], SOURCE);
  const [first, second] = profile.samples.map((sample) => sample.stack);
  assert.deepEqual(first, [
    { name: '(anonymous) /srv/fn/main.mjs:1', module: '[jit]', kind: 'js', file: '/srv/fn/main.mjs', line: 1 },
    { name: 'handler /srv/fn/main.mjs:30', module: '[jit]', kind: 'js', file: '/srv/fn/main.mjs', line: 30 },
    { name: 'burn /srv/fn/lib.js:12', module: '[jit]', kind: 'js', file: '/srv/fn/lib.js', line: 12 },
  ]);
  assert.deepEqual(second!.slice(2), [
    { name: 'Builtin: ArrayPrototypePush', module: '[jit]', kind: 'native' },
    { name: '__write', module: '[native]', kind: 'native' },
    { name: '[unknown]', module: '/usr/lib/x86_64-linux-gnu/libc.so.6', kind: 'unknown' },
  ]);
});

test('equal stacks are counted once, idle ticks are left out, and the profile carries the run\'s facts', () => {
  const profile = profileFromTicks([[script, burn], [], [script, burn], [script, handler]], SOURCE);
  assert.deepEqual(
    profile.samples.map((sample) => sample.count),
    [2, 1],
  );
  assert.deepEqual(profile.samples[0]!.labels, { function: 'fn', phase: 'steady', pid: 42 });
  assert.equal(profile.frequencyHz, 1000);
  assert.equal(profile.periodNs, 1_000_000);
  assert.equal(profile.durationMs, 4000);
  assert.equal(toFolded(profile), '(anonymous) /srv/fn/main.mjs:1;burn /srv/fn/lib.js:12 2\n(anonymous) /srv/fn/main.mjs:1;handler /srv/fn/main.mjs:30 1\n');
});

test.run();
