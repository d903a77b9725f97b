// User and group names from the host's account files, for `isolation.user` and
// `isolation.group`. Local files only (/etc/passwd, /etc/group): a name that lives only in
// a directory service must be given as its number.
import fs from 'node:fs';

export interface Account {
  name: string;
  id: number;
  /** Users: the primary group. */
  gid?: number;
}

export const PASSWD_FILE = '/etc/passwd';
export const GROUP_FILE = '/etc/group';

/** The accounts in a passwd or group file (name:password:id[:gid:...]); unreadable or malformed lines are skipped. */
export function readAccounts(file: string): Account[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const accounts: Account[] = [];
  for (const line of text.split('\n')) {
    const [name, , id, gid] = line.split(':');
    if (name === undefined || name === '' || name.startsWith('#') || id === undefined || !/^\d+$/.test(id)) continue;
    accounts.push({ name, id: Number(id), ...(gid !== undefined && /^\d+$/.test(gid) && file === PASSWD_FILE ? { gid: Number(gid) } : {}) });
  }
  return accounts;
}
