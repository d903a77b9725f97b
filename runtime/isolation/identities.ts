import { CAP_SETGID, CAP_SETUID, effectiveCapabilities } from '../../shared/capabilities.js';
import { HearthError } from '../../shared/errors.js';
import { RUNTIME_USER, type FunctionSpec } from '../manifest/spec.js';
import { GROUP_FILE, PASSWD_FILE, readAccounts } from './accounts.js';

/** The ids a function's workers take; an absent one stays the runtime's own. */
export interface WorkerIdentity {
  uid?: number;
  gid?: number;
}

/** Where functions without an `isolation.user` get a uid of their own (as root). */
export interface IdRange {
  first: number;
  count: number;
}

/**
 * 1,900,000,000 to 1,900,999,999: above the ranges systemd (up to 1,879,048,191 for
 * containers) and the usual subordinate-id ranges hand out, below 2^31 (where programs
 * that keep ids in a signed int go wrong). No account should live there.
 */
export const DEFAULT_WORKER_IDS: IdRange = { first: 1_900_000_000, count: 1_000_000 };

/**
 * Who each function's workers run as. As root (with CAP_SETUID and CAP_SETGID) every
 * function gets a uid and gid of its own from a range, the same for the same name (a hash
 * of it, stepping past ids already taken), unless its manifest names a user; otherwise
 * workers stay the runtime's own user, and only a manifest naming that user is accepted.
 */
export class WorkerIdentities {
  /** Function name to the uid it was given, explicit or from the range. */
  private readonly uids = new Map<string, number>();

  constructor(
    readonly canSwitch: boolean,
    readonly own: { uid: number; gid: number },
    readonly range: IdRange,
  ) {}

  static detect(range: IdRange = DEFAULT_WORKER_IDS): WorkerIdentities {
    const own = { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
    const capabilities = effectiveCapabilities();
    return new WorkerIdentities(own.uid === 0 && capabilities.has(CAP_SETUID) && capabilities.has(CAP_SETGID), own, range);
  }

  /** The runtime's start-up line about it. */
  describe(): string {
    if (this.canSwitch) return `workers run as a uid of their function's own (${this.range.first}-${this.range.first + this.range.count - 1}, or the manifest's isolation.user)`;
    const why = this.own.uid === 0 ? 'it lacks CAP_SETUID or CAP_SETGID' : 'switching users needs root';
    return `workers run as this runtime's user (uid ${this.own.uid}, gid ${this.own.gid}): ${why}; each still gets no_new_privs, the seccomp filter and its limits`;
  }

  /** The identity of a function's workers; throws HEARTH_ERR_ISOLATION naming the field when it cannot be had. */
  assign(spec: FunctionSpec): WorkerIdentity {
    const { user, group } = spec.isolation;
    const fail = (field: 'user' | 'group', problem: string): never => {
      throw new HearthError('HEARTH_ERR_ISOLATION', `function ${spec.name}: isolation.${field}: ${problem}`, { details: { function: spec.name, field: `isolation.${field}` } });
    };
    if (user === RUNTIME_USER) return {};
    const named = user === undefined ? undefined : resolveUser(user, (problem) => fail('user', problem));
    const uid = named?.uid ?? (this.canSwitch ? this.dedicatedUid(spec.name) : this.own.uid);
    const gid = group !== undefined ? resolveGroup(group, (problem) => fail('group', problem)) : (named?.gid ?? (this.canSwitch ? uid : this.own.gid));
    if (!this.canSwitch) {
      if (uid !== this.own.uid) fail('user', `workers cannot run as uid ${uid}: ${this.describeNoSwitch()}`);
      if (gid !== this.own.gid) fail('group', `workers cannot run as gid ${gid}: ${this.describeNoSwitch()}`);
      return {};
    }
    this.uids.set(spec.name, uid);
    return { uid, gid };
  }

  /** The function is gone: its uid from the range may go to another. */
  release(name: string): void {
    this.uids.delete(name);
  }

  private describeNoSwitch(): string {
    return this.own.uid === 0 ? 'the runtime lacks CAP_SETUID or CAP_SETGID' : `switching users needs root (the runtime runs as uid ${this.own.uid})`;
  }

  private dedicatedUid(name: string): number {
    const taken = new Set<number>(readAccounts(PASSWD_FILE).map((account) => account.id));
    for (const [other, uid] of this.uids) if (other !== name) taken.add(uid);
    const start = fnv1a(name) % this.range.count;
    for (let step = 0; step < this.range.count; step++) {
      const uid = this.range.first + ((start + step) % this.range.count);
      if (!taken.has(uid)) return uid;
    }
    throw new HearthError('HEARTH_ERR_ISOLATION', `function ${name}: every uid from ${this.range.first} to ${this.range.first + this.range.count - 1} is taken`, { details: { function: name, field: 'isolation.user' } });
  }
}

function resolveUser(user: number | string, fail: (problem: string) => never): { uid: number; gid?: number } {
  const accounts = readAccounts(PASSWD_FILE);
  if (typeof user === 'number') {
    const known = accounts.find((account) => account.id === user);
    return { uid: user, ...(known?.gid === undefined ? {} : { gid: known.gid }) };
  }
  const account = accounts.find((entry) => entry.name === user);
  if (account === undefined) return fail(`no user named ${JSON.stringify(user)} in ${PASSWD_FILE} (give its uid instead)`);
  if (account.id === 0) return fail(`${JSON.stringify(user)} is uid 0 (root): use "${RUNTIME_USER}" to run workers as the runtime's own user`);
  return { uid: account.id, ...(account.gid === undefined ? {} : { gid: account.gid }) };
}

function resolveGroup(group: number | string, fail: (problem: string) => never): number {
  if (typeof group === 'number') return group;
  const account = readAccounts(GROUP_FILE).find((entry) => entry.name === group);
  if (account === undefined) return fail(`no group named ${JSON.stringify(group)} in ${GROUP_FILE} (give its gid instead)`);
  if (account.id === 0) return fail(`${JSON.stringify(group)} is gid 0 (root)`);
  return account.id;
}

/** 32-bit FNV-1a: a stable spread of names over the range. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}
