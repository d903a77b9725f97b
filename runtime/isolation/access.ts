// Whether a worker running as some uid and gid (and no supplementary groups) can reach a
// file the runtime gives it: every directory on the way must let it search, and the file
// must let it read or execute. Checked at deploy, so a function whose code its own user
// cannot read is refused with the directory to fix, instead of failing at its first start.
import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';
import type { WorkerIdentity } from './identities.js';

export type Access = 'read' | 'execute';

/** A file a worker opens or execs by its path. */
export interface WorkerFile {
  file: string;
  access: Access;
}

/** Throws HEARTH_ERR_ISOLATION naming the first file the function's workers could not reach as `identity`. */
export function requireReachable(fn: string, identity: WorkerIdentity, files: WorkerFile[]): void {
  if (identity.uid === undefined || identity.gid === undefined) return;
  for (const { file, access } of files) {
    const why = cannotReach(file, access, identity.uid, identity.gid);
    if (why === undefined) continue;
    throw new HearthError(
      'HEARTH_ERR_ISOLATION',
      `function ${fn}: its workers run as uid ${identity.uid}, gid ${identity.gid}, and cannot ${access} ${file}: ${why}; make it reachable, or set isolation.user`,
      { details: { function: fn, file, field: 'isolation.user' } },
    );
  }
}

const BITS: Record<Access | 'search', number> = { read: 4, execute: 1, search: 1 };

/** Why `uid`/`gid` cannot `access` the file, or undefined when its mode bits allow it (ACLs are not consulted). */
export function cannotReach(file: string, access: Access, uid: number, gid: number): string | undefined {
  const paths = new Set([path.resolve(file)]);
  try {
    paths.add(fs.realpathSync(file));
  } catch (error) {
    return `${file}: ${(error as Error).message}`;
  }
  for (const full of paths) {
    const parts = full.split('/').filter((part) => part !== '');
    for (let depth = 0; depth <= parts.length; depth++) {
      const at = '/' + parts.slice(0, depth).join('/');
      const last = depth === parts.length;
      const needed = last ? access : 'search';
      let stat: fs.Stats;
      try {
        stat = fs.statSync(at);
      } catch (error) {
        return `${at}: ${(error as Error).message}`;
      }
      if (!allows(stat, uid, gid, BITS[needed])) {
        return `${at} (mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${stat.uid}:${stat.gid}) does not let it ${needed === 'search' ? 'search the directory' : needed}`;
      }
    }
  }
  return undefined;
}

function allows(stat: fs.Stats, uid: number, gid: number, bit: number): boolean {
  const shift = stat.uid === uid ? 6 : stat.gid === gid ? 3 : 0;
  return ((stat.mode >> shift) & bit) !== 0;
}
