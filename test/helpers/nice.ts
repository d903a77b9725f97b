import fs from 'node:fs';
import { statField } from '../../shared/proc-stat.js';

/** The nice value of each thread of `pid`, and of its autogroup when the kernel has autogroups. */
export function processNice(pid: number): { threads: number[]; autogroup: number | undefined } {
  const threads = fs.readdirSync(`/proc/${pid}/task`).map((tid) => Number(statField(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'), 19)));
  let autogroup: number | undefined;
  try {
    autogroup = Number(/nice (-?\d+)/.exec(fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { threads, autogroup };
}
