// State imports that go wrong: a file truncated, grown or rewritten while it is read, a
// directory, a read error from the disk (EIO), a file the runtime may not read (EACCES), a
// state over the store's limit, and a full tmpfs. Each is refused with a coded error naming
// the file; the function's previous version keeps serving its old state; nothing of the
// failed import stays in the store.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { parseFunction } from '../../runtime/manifest/parse.js';
import { exited } from '../helpers/agent-process.js';
import { EXAMPLES, FIXTURES, ROOT, TEST_CACHE, TestRuntime, freePort, makeStateFile, waitFor } from '../helpers/harness.js';

const MIB = 1024 * 1024;
/** Large enough that the import reports progress (every 128 MiB) before it ends; sparse, so cheap. */
const BIG = 256 * MIB;
const MAX_STATE = BIG + 32 * MIB;

let rt: TestRuntime;
let runBase: string;
let scratch: string;
const original = makeStateFile(4 * MIB, 31);
const GO = `${FIXTURES}/go-misbehave`;

test.before(async () => {
  runBase = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-state-faults-run-'));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-state-faults-'));
  // thp alone: the backend on a tmpfs this runtime mounts, which a test can make full.
  rt = await TestRuntime.start({ stateBackend: 'thp', stemCells: 0, runBase, maxStateBytes: MAX_STATE });
  await rt.deploy({ name: 'fn', kind: 'go', entry: GO, state: original, pool: { min: 1, max: 1 } });
});

test.after(async () => {
  await rt.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const thpMount = (): string => path.join(runBase, String(process.pid), 'thp');

function storeBytes(): number {
  const stats = fs.statfsSync(thpMount());
  return (stats.blocks - stats.bfree) * stats.bsize;
}

/** This process's fds onto state memory being written: the store's tmpfs, or memfds. */
function stateFds(): string[] {
  return fs.readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(thpMount()) || target.includes('hearth-state') ? [target] : [];
    } catch {
      return [];
    }
  });
}

function sparseFile(name: string, bytes: number): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, bytes);
  return file;
}

const originalHead = fs.readFileSync(original).subarray(0, 16).toString('hex');

/**
 * Deploys a new version of `fn` with `file` as its state, runs `during(file)` once the import
 * is under way (after its first progress report), and expects the deploy to be refused with
 * `code` and a message naming the file that matches `message`. Then: the previous version
 * still serves its own state, and the store holds what it held before.
 */
async function expectRefused(file: string, code: string, message: RegExp, during?: (file: string) => void): Promise<void> {
  const pool = rt.runtime.registry.get('fn')!;
  const version = pool.current.version;
  const stateId = pool.current.state!.id;
  const used = storeBytes();
  const fds = stateFds();
  let interfered = false;
  const spec = parseFunction({ name: 'fn', kind: 'go', entry: GO, state: file, pool: { min: 1, max: 1 } }, { label: 'test', baseDir: ROOT });
  const onProgress = (line: string): void => {
    if (during === undefined || interfered || !/^state \d+% /.test(line) || line.startsWith('state 100%')) return;
    interfered = true;
    during(file);
  };
  await assert.rejects(rt.runtime.registry.deploy(spec, { onProgress }), (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.includes(file), `the message names the file: ${error.message}`);
    assert.match(error.message, message);
    return true;
  });
  if (during !== undefined) assert.ok(interfered, 'the file was changed while it was imported');
  assert.equal(pool.current.version, version, 'the previous version is still current');
  assert.equal(pool.current.state!.id, stateId);
  const response = await rt.invoke('fn', 'state:0');
  assert.equal(response.status, 200, response.text);
  assert.equal(response.text, originalHead, 'the previous version serves its own state');
  assert.equal(storeBytes(), used, 'nothing of the failed import is left in the store');
  assert.deepEqual(stateFds(), fds, 'no fd of the failed import is left open');
}

test('a file truncated while it is imported: HEARTH_ERR_STATE_CHANGED, where it ended', async () => {
  await expectRefused(sparseFile('truncated.bin', BIG), 'HEARTH_ERR_STATE_CHANGED', /was truncated while importing: ended at \d+ of 268435456 bytes/, (file) => fs.truncateSync(file, MIB));
});

test('a file that grows while it is imported: HEARTH_ERR_STATE_CHANGED', async () => {
  await expectRefused(sparseFile('grown.bin', BIG), 'HEARTH_ERR_STATE_CHANGED', /changed while it was being imported; the previous version stays/, (file) => fs.appendFileSync(file, 'more'));
});

test('a file rewritten in place while it is imported: HEARTH_ERR_STATE_CHANGED', async () => {
  await expectRefused(sparseFile('rewritten.bin', BIG), 'HEARTH_ERR_STATE_CHANGED', /changed while it was being imported/, (file) => {
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('new bytes'), 0, 9, 0);
    fs.closeSync(fd);
  });
});

test('a directory, or a missing file: HEARTH_ERR_STATE_READ', async () => {
  await expectRefused(scratch, 'HEARTH_ERR_STATE_READ', /not a regular file/);
  await expectRefused(path.join(scratch, 'missing.bin'), 'HEARTH_ERR_STATE_READ', /ENOENT/);
});

test('a state over the store\'s limit (--max-state): HEARTH_ERR_STATE_TOO_LARGE', async () => {
  await expectRefused(sparseFile('huge.bin', MAX_STATE + 1), 'HEARTH_ERR_STATE_TOO_LARGE', /over the store's limit of 288 MiB/);
});

test('a disk that fails mid-import (EIO): HEARTH_ERR_STATE_READ with the offset', async () => {
  const missing = ['mkfs.ext4', 'python3', 'losetup'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0 || !fs.existsSync('/dev/loop-control')) {
    process.stdout.write(`HEARTH-SKIP state import EIO: needs loop devices, mkfs.ext4 and python3 (missing: ${missing.join(', ') || '/dev/loop-control'})\n`);
    return;
  }
  // An ext4 filesystem on a loop device; "shutting it down" (FS_IOC_SHUTDOWN) makes every read fail with EIO.
  const image = path.join(scratch, 'disk.img');
  const mount = path.join(scratch, 'disk');
  fs.mkdirSync(mount);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 64 * MIB);
  execFileSync('mkfs.ext4', ['-q', '-F', image]);
  execFileSync('mount', ['-o', 'loop', image, mount]);
  try {
    const file = path.join(mount, 'state.bin');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, BIG);
    const shutdown = 'import fcntl, os, struct, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nfcntl.ioctl(fd, 0x8004587D, struct.pack("I", 2))  # FS_IOC_SHUTDOWN, NOLOGFLUSH';
    await expectRefused(file, 'HEARTH_ERR_STATE_READ', /read at offset \d+: EIO/, () => execFileSync('python3', ['-c', shutdown, mount]));
  } finally {
    execFileSync('umount', ['-l', mount]);
  }
});

test('a full tmpfs: HEARTH_ERR_STATE_NO_SPACE, and the runtime lives on', async () => {
  // Shrink the store's tmpfs to what it holds plus 8 MiB; the new state needs 16.
  const used = storeBytes();
  execFileSync('mount', ['-o', `remount,size=${used + 8 * MIB}`, thpMount()]);
  // An upload is written through a mapping on the runtime's own thread, where a full tmpfs
  // would be SIGBUS (the runtime killed); a file is read into it, where it would be EFAULT.
  const upload = await fetch(`${rt.url}/v1/functions/fn/state`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${rt.runtime.token}`, 'content-length': String(16 * MIB) },
    body: fs.readFileSync(makeStateFile(16 * MIB, 32)),
  });
  assert.equal(upload.status, 507);
  assert.match(((await upload.json()) as { error: { code: string; message: string } }).error.message, /no state backend has room for fn \(16777216 bytes\): fallocate: No space left on device/);
  assert.equal((await rt.invoke('fn', 'state:0')).text, originalHead, 'the previous version serves its own state');
  await expectRefused(makeStateFile(16 * MIB, 32), 'HEARTH_ERR_STATE_NO_SPACE', /no state backend has room for fn \(16777216 bytes\): fallocate: No space left on device/);
  // Room again: the same import goes through.
  execFileSync('mount', ['-o', `remount,size=${used + 64 * MIB}`, thpMount()]);
  await rt.deploy({ name: 'fn', kind: 'go', entry: GO, state: makeStateFile(16 * MIB, 32), pool: { min: 1, max: 1 } });
  assert.equal((await rt.invoke('fn', 'state:0')).text, fs.readFileSync(makeStateFile(16 * MIB, 32)).subarray(0, 16).toString('hex'));
});

test('a file the runtime may not read (EACCES), through the control API of a runtime without CAP_DAC_OVERRIDE', async () => {
  const secret = path.join(scratch, 'secret.bin');
  fs.copyFileSync(original, secret);
  fs.chownSync(secret, 65534, 65534);
  fs.chmodSync(secret, 0o600);
  const readable = makeStateFile(MIB, 33);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-state-eacces-run-'));
  const tokenFile = path.join(scratch, 'token');
  const token = 'state-faults-token-0123456789';
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Root, but without the capabilities that let root read other users' files.
  const server = spawn(
    'setpriv',
    ['--bounding-set=-dac_override,-dac_read_search', '--', process.execPath, path.join(ROOT, 'dist/cli/main.js'), 'serve', '--port', String(port), '--run-dir', base, '--cache', TEST_CACHE, '--token-file', tokenFile, '--stem-cells', '0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const put = async (fn: Record<string, unknown>): Promise<{ status: number; body: { error?: { code: string; message: string; file?: string } } }> => {
    const response = await fetch(`${url}/v1/functions/${String(fn['name'])}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(fn) });
    return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string } } };
  };
  try {
    await waitFor('the runtime to listen', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true, 20_000);
    const upper = { name: 'upper', kind: 'exec', entry: `${EXAMPLES}/exec-upper/upper` };
    assert.equal((await put({ ...upper, state: readable })).status, 200, log);
    const refused = await put({ ...upper, state: secret });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'HEARTH_ERR_STATE_READ');
    assert.match(refused.body.error!.message, new RegExp(`state file ${secret}: EACCES`));
    assert.equal(refused.body.error?.file, secret);
    const response = await fetch(`${url}/v1/functions/upper/invoke`, { method: 'POST', body: 'state:0:16' });
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), fs.readFileSync(readable).subarray(0, 16), 'the previous version serves its own state');
  } finally {
    server.kill('SIGTERM');
    assert.equal(await exited(server), 0, log);
    assert.deepEqual(fs.readdirSync(base), [], 'the runtime left nothing in its run directory');
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test.run();
