import fs from 'node:fs';
import { statField } from '../../shared/proc-stat.js';

/** The nice value of each thread of `pid` (a thread that exits while they are read is left out), and of its autogroup when the kernel has autogroups. */
export function processNice(pid: number): { threads: number[]; autogroup: number | undefined } {
  const threads = fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    const stat = unlessGone(() => fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
    return stat === undefined ? [] : [Number(statField(stat, 19))];
  });
  const autogroup = unlessGone(() => Number(/nice (-?\d+)/.exec(fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]));
  return { threads, autogroup };
}

/** What `read` returns, or undefined when the thread behind the /proc file exits first: gone before the open (ENOENT) or between open and read (ESRCH). */
function unlessGone<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code !== 'ENOENT' && code !== 'ESRCH') throw error;
    return undefined;
  }
}
