import fs from 'node:fs';

/** The nice value of each thread of `pid`, and of its autogroup when the kernel has autogroups. */
export function processNice(pid: number): { threads: number[]; autogroup: number | undefined } {
  const threads = fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Field 19 is nice; fields are counted from the pid, and the command (field 2) may hold spaces.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
  let autogroup: number | undefined;
  try {
    autogroup = Number(/nice (-?\d+)/.exec(fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { threads, autogroup };
}
