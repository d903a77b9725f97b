// Who a function's workers run as: a uid of its own from the range (stable per name, stepping
// past taken ids) when the runtime can switch users, the manifest's user or group by number or
// by name, and clear refusals naming the field when it cannot be had; and the deploy-time check
// that the worker's user can reach the files it runs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { cannotReach, requireReachable } from '../../runtime/isolation/access.js';
import { readAccounts, PASSWD_FILE } from '../../runtime/isolation/accounts.js';
import { WorkerIdentities } from '../../runtime/isolation/identities.js';
import { parseFunction } from '../../runtime/manifest/parse.js';

const spec = (name: string, isolation?: unknown) => parseFunction({ name, kind: 'exec', entry: '/bin/true', ...(isolation === undefined ? {} : { isolation }) }, { label: 'test' });
const RANGE = { first: 1_900_000_000, count: 1000 };
const asRoot = () => new WorkerIdentities(true, { uid: 0, gid: 0 }, RANGE);
const asUser = () => new WorkerIdentities(false, { uid: 1000, gid: 1000 }, RANGE);

function refused(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(error.code, 'HEARTH_ERR_ISOLATION');
    assert.match(error.message, message);
    return true;
  });
}

test('as root: each function a uid (and gid) of its own from the range, the same for the same name', () => {
  const identities = asRoot();
  const a = identities.assign(spec('alpha'));
  const b = identities.assign(spec('beta'));
  assert.ok(a.uid! >= RANGE.first && a.uid! < RANGE.first + RANGE.count, `${a.uid} in the range`);
  assert.equal(a.gid, a.uid);
  assert.notEqual(a.uid, b.uid);
  assert.deepEqual(identities.assign(spec('alpha')), a, 'a new version keeps its uid');
  assert.deepEqual(asRoot().assign(spec('alpha')), a, 'and so does the next runtime');
});

test('as root: a hash collision steps to the next free uid; a released uid is free again', () => {
  const identities = new WorkerIdentities(true, { uid: 0, gid: 0 }, { first: 1_900_000_000, count: 2 });
  const a = identities.assign(spec('alpha')).uid!;
  const b = identities.assign(spec('beta')).uid!;
  assert.notEqual(a, b);
  refused(() => identities.assign(spec('gamma')), /^function gamma: every uid from 1900000000 to 1900000001 is taken$/);
  identities.release('alpha');
  assert.equal(identities.assign(spec('gamma')).uid, a);
});

test('as root: the manifest\'s user and group, by number or name; a named user brings its primary group', () => {
  const identities = asRoot();
  const nobody = readAccounts(PASSWD_FILE).find((account) => account.name === 'nobody')!;
  assert.deepEqual(identities.assign(spec('a', { user: 'nobody' })), { uid: nobody.id, gid: nobody.gid });
  assert.deepEqual(identities.assign(spec('b', { user: 4242 })), { uid: 4242, gid: 4242 });
  assert.deepEqual(identities.assign(spec('c', { user: 4242, group: 'nogroup' })).uid, 4242);
  assert.deepEqual(identities.assign(spec('d', { user: 'runtime' })), {}, 'runtime: no switch');
  refused(() => identities.assign(spec('e', { user: 'no-such-user' })), /^function e: isolation\.user: no user named "no-such-user" in \/etc\/passwd \(give its uid instead\)$/);
  refused(() => identities.assign(spec('f', { group: 'no-such-group' })), /^function f: isolation\.group: no group named "no-such-group" in \/etc\/group \(give its gid instead\)$/);
});

test('not root: workers stay the runtime\'s user; a manifest asking for another is refused with why', () => {
  const identities = asUser();
  assert.deepEqual(identities.assign(spec('a')), {});
  assert.deepEqual(identities.assign(spec('b', { user: 1000 })), {}, 'its own uid is fine');
  refused(() => identities.assign(spec('c', { user: 4242 })), /^function c: isolation\.user: workers cannot run as uid 4242: switching users needs root \(the runtime runs as uid 1000\)$/);
  refused(() => identities.assign(spec('d', { group: 4242 })), /^function d: isolation\.group: workers cannot run as gid 4242/);
  assert.match(identities.describe(), /^workers run as this runtime's user \(uid 1000, gid 1000\): switching users needs root; each still gets no_new_privs, the seccomp filter and its limits$/);
});

test('reachability: every directory on the way must be searchable and the file readable, by mode bits', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-reach-'));
  try {
    const file = path.join(dir, 'entry.js');
    fs.writeFileSync(file, '');
    fs.chmodSync(dir, 0o700);
    fs.chmodSync(file, 0o644);
    assert.match(cannotReach(file, 'read', 4242, 4242) ?? '', new RegExp(`^${dir} \\(mode 0700, owner 0:0\\) does not let it search the directory$`));
    assert.equal(cannotReach(file, 'read', 0, 0), undefined, 'its owner can');
    fs.chmodSync(dir, 0o711);
    assert.equal(cannotReach(file, 'read', 4242, 4242), undefined, 'search is enough on the way');
    assert.match(cannotReach(file, 'execute', 4242, 4242) ?? '', /entry\.js \(mode 0644, owner 0:0\) does not let it execute$/);
    fs.chownSync(file, 0, 4242);
    fs.chmodSync(file, 0o640);
    assert.equal(cannotReach(file, 'read', 4243, 4242), undefined, 'the group bits apply to its gid');
    refused(() => requireReachable('fn', { uid: 4243, gid: 4243 }, [{ file, access: 'read' }]), new RegExp(`^function fn: its workers run as uid 4243, gid 4243, and cannot read ${file}: .* does not let it read; make it reachable, or set isolation\\.user$`));
    requireReachable('fn', {}, [{ file, access: 'read' }]);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test.run();
