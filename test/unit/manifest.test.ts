// Manifest validation: defaults, and errors that name the file and the field.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { parseManifest, readManifestFile } from '../../runtime/manifest/parse.js';
import { DEFAULT_LIMITS, DEFAULT_POOL } from '../../runtime/manifest/spec.js';

const source = { label: '/srv/app/hearth.json', baseDir: '/srv/app' };

function fails(manifest: unknown, message: RegExp): void {
  const text = typeof manifest === 'string' ? manifest : JSON.stringify(manifest);
  assert.throws(
    () => parseManifest(text, source),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'HEARTH_ERR_MANIFEST_INVALID');
      assert.match(error.message, message);
      return true;
    },
  );
}

const fn = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'fn', kind: 'go', entry: 'src', ...extra });

test('defaults fill what a function leaves out; relative paths resolve against the manifest', () => {
  const [spec] = parseManifest(JSON.stringify({ functions: [fn({ state: 'data/table.bin' })] }), source);
  assert.equal(spec!.entry, '/srv/app/src');
  assert.equal(spec!.state, '/srv/app/data/table.bin');
  assert.deepEqual(spec!.pool, DEFAULT_POOL);
  assert.deepEqual(spec!.limits, { ...DEFAULT_LIMITS, recycleMemoryMb: Math.floor(DEFAULT_LIMITS.memoryMb * 0.9) });
  assert.deepEqual(spec!.gc, {});
  assert.deepEqual(spec!.env, {});
  assert.deepEqual(spec!.isolation, { seccomp: true });
  const [custom] = parseManifest(JSON.stringify({ functions: [fn({ pool: { min: 2, max: 8, keepAliveMs: 5 }, limits: { memoryMb: 100, timeoutMs: 50, concurrency: 4 }, gc: { gogc: 200, memoryLimitMb: 90 }, env: { A: 'b' } })] }), source);
  assert.deepEqual(custom!.pool, { min: 2, max: 8, keepAliveMs: 5, spare: 0, maxQueued: DEFAULT_POOL.maxQueued });
  assert.equal(custom!.limits.recycleMemoryMb, 90);
  assert.deepEqual(custom!.gc, { gogc: 200, memoryLimitMb: 90 });
});

test('each bad field is named with its path in the file', () => {
  fails('{"functions": [', /\/srv\/app\/hearth.json: not valid JSON/);
  fails('{\n  "functions": [\n    { "name": "x" oops }\n  ]\n}', /at line 3, column \d+/);
  fails({}, /hearth.json: functions: must be an array/);
  fails({ functions: [], extra: 1 }, /hearth.json: extra: unknown field/);
  fails({ functions: [{ kind: 'go', entry: 'x' }] }, /functions\[0\]\.name: is required/);
  fails({ functions: [fn({ name: 'Bad Name' })] }, /functions\[0\]\.name: must match/);
  fails({ functions: [fn({ kind: 'rust' })] }, /functions\[0\]\.kind: must be one of go, node, exec \(got "rust"\)/);
  fails({ functions: [fn({ entry: '' })] }, /functions\[0\]\.entry: must be a non-empty string/);
  fails({ functions: [fn({ pool: { min: 3, max: 2 } })] }, /functions\[0\]\.pool\.max: must be at least pool\.min \(3\); got 2/);
  fails({ functions: [fn({ pool: { min: 1.5 } })] }, /functions\[0\]\.pool\.min: must be an integer \(got 1\.5\)/);
  fails({ functions: [fn({ pool: { mni: 1 } })] }, /functions\[0\]\.pool\.mni: unknown field \(allowed: min, max, keepAliveMs, spare, maxQueued\)/);
  fails({ functions: [fn({ limits: { memoryMb: 1 } })] }, /functions\[0\]\.limits\.memoryMb: must be between 16 and/);
  fails({ functions: [fn({ limits: { timeoutMs: '5s' } })] }, /functions\[0\]\.limits\.timeoutMs: must be an integer \(got "5s"\)/);
  fails({ functions: [fn({ gc: { maxOldSpaceMb: 100 } })] }, /functions\[0\]\.gc\.maxOldSpaceMb: does not apply to go functions/);
  fails({ functions: [fn({ kind: 'node', gc: { gogc: 100 } })] }, /functions\[0\]\.gc\.gogc: does not apply to node functions/);
  fails({ functions: [fn({ gc: { gcpercent: 100 } })] }, /functions\[0\]\.gc\.gcpercent: unknown field \(allowed: gogc, memoryLimitMb\)/);
  fails({ functions: [fn({ env: { HEARTH_STATE_FD: '9' } })] }, /functions\[0\]\.env\.HEARTH_STATE_FD: HEARTH_\* variables are set by the runtime/);
  fails({ functions: [fn({ env: { 'BAD-NAME': 'x' } })] }, /env\.BAD-NAME: is not a valid environment variable name/);
  fails({ functions: [fn({ env: { A: 1 } })] }, /env\.A: must be a string \(got 1\)/);
  fails({ functions: [fn(), fn({ entry: 'other' })] }, /functions\[1\]\.name: duplicate function name "fn"/);
  fails({ functions: [fn({ args: 'x' })] }, /functions\[0\]\.args: must be an array of strings/);
});

test('isolation: a uid or user name, a gid or group name, "runtime", the seccomp switch; never root', () => {
  const isolation = (value: unknown): unknown => parseManifest(JSON.stringify({ functions: [fn({ isolation: value })] }), source)[0]!.isolation;
  assert.deepEqual(isolation({ user: 1500, group: 'www-data', seccomp: false }), { user: 1500, group: 'www-data', seccomp: false });
  assert.deepEqual(isolation({ user: 'app' }), { user: 'app', seccomp: true });
  assert.deepEqual(isolation({ user: 'runtime' }), { user: 'runtime', seccomp: true });
  assert.equal(parseManifest(JSON.stringify({ functions: [fn({ limits: { pids: 32 } })] }), source)[0]!.limits.pids, 32);
  fails({ functions: [fn({ isolation: { user: 0 } })] }, /functions\[0\]\.isolation\.user: must not be 0 \(root\): use "runtime" to run workers as the runtime's own user/);
  fails({ functions: [fn({ isolation: { user: 'root' } })] }, /functions\[0\]\.isolation\.user: must not be root/);
  fails({ functions: [fn({ isolation: { group: 0 } })] }, /functions\[0\]\.isolation\.group: must not be 0 \(root\)$/);
  fails({ functions: [fn({ isolation: { user: -1 } })] }, /isolation\.user: must be a user id from 1 to 4294967294, a user name, or "runtime" for the runtime's own user \(got -1\)/);
  fails({ functions: [fn({ isolation: { user: 2 ** 32 - 1 } })] }, /isolation\.user: must be a user id from 1 to 4294967294/);
  fails({ functions: [fn({ isolation: { user: 'Bad User' } })] }, /isolation\.user: must be a user id, a user name, or "runtime" for the runtime's own user \(got "Bad User"\)/);
  fails({ functions: [fn({ isolation: { group: 'runtime:x' } })] }, /isolation\.group: must be a group id, a group name \(got "runtime:x"\)/);
  fails({ functions: [fn({ isolation: { user: 'runtime', group: 100 } })] }, /isolation\.group: does not apply when user is "runtime"/);
  fails({ functions: [fn({ isolation: { seccomp: 'off' } })] }, /isolation\.seccomp: must be true or false \(got "off"\)/);
  fails({ functions: [fn({ isolation: { uid: 5 } })] }, /isolation\.uid: unknown field \(allowed: user, group, seccomp\)/);
  fails({ functions: [fn({ limits: { pids: 0 } })] }, /functions\[0\]\.limits\.pids: must be between 1 and 4194304 \(got 0\)/);
});

test('a manifest file that cannot be read says so with its path', () => {
  assert.throws(() => readManifestFile('/nonexistent/hearth.json'), (error: Error & { code?: string }) => error.code === 'HEARTH_ERR_MANIFEST_READ' && /\/nonexistent\/hearth.json: ENOENT/.test(error.message));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-manifest-'));
  const file = path.join(dir, 'hearth.json');
  fs.writeFileSync(file, JSON.stringify({ functions: [fn({ pool: { max: 0 } })] }));
  assert.throws(() => readManifestFile(file), new RegExp(`${file}: functions\\[0\\]\\.pool\\.max: must be between 1 and 1024 \\(got 0\\)`));
  fs.rmSync(dir, { recursive: true });
});

test('the examples manifest is valid', () => {
  const specs = readManifestFile(path.resolve('examples/hearth.json'));
  assert.deepEqual(specs.map((spec) => spec.kind), ['go', 'node', 'exec']);
});

test.run();
