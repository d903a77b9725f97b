// A stem cell boots ahead of need: Node's start-up, tens of milliseconds of CPU on several
// threads. Its replacement boots while the cell it replaces answers its first request, so at
// the default priority that boot takes a core from the cold start it follows and from the
// client reading the answer. At nice 19 it runs on what they leave; once ready it is put back
// to nice 0, so its specialisation and its function run at the default priority. Each worker
// leads a session of its own, and with autogroup scheduling a session's nice is what weighs
// against the rest of the host, so both are set.
import fs from 'node:fs';
import os from 'node:os';
import { processThreads } from './threads.js';

export const BOOT_NICE = 19;
export const DEFAULT_NICE = 0;

/** Whether this process can put a worker back to nice 0 after lowering it (that takes CAP_SYS_NICE; root has it). */
export function canRestorePriority(): boolean {
  return process.geteuid?.() === 0;
}

/**
 * Sets the nice value of every thread of `pid` and of its session's autogroup. Threads it starts
 * later inherit their creator's. Threads that exit meanwhile, and a kernel without autogroup,
 * are skipped; any other refusal throws, naming the thread.
 */
export function setProcessNice(pid: number, nice: number): void {
  for (const task of processThreads(pid)) {
    try {
      os.setPriority(task, nice);
    } catch (error) {
      if ((error as { info?: { code?: string } }).info?.code === 'ESRCH') continue;
      throw new Error(`setting thread ${task} of process ${pid} to nice ${nice}: ${(error as Error).message}`, { cause: error });
    }
  }
  try {
    fs.writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return;
    throw new Error(`setting the autogroup of process ${pid} to nice ${nice}: ${(error as Error).message}`, { cause: error });
  }
}
