// The agent watches cold starts and must not be what slows them down. Its wakeups (a drain of
// the ring and a batch of runtime events every 100 ms) would otherwise preempt a starting
// worker on a small host, since a task that slept is favoured when it wakes. As a batch task
// at nice 10 it runs when a core is free instead; its records are as exact as before, because
// the kernel timestamps every event and the agent only reads them later.
import fs from 'node:fs';
import os from 'node:os';
import { setSchedulerPolicy } from './bpf/index.js';

const SCHED_BATCH = 3;
export const AGENT_NICE = 10;

/**
 * Makes every thread of this process a SCHED_BATCH task at nice AGENT_NICE (threads started
 * later inherit both). Returns what could not be changed, one line per thread; empty when all were.
 */
export function runAsBackgroundTask(): string[] {
  const problems: string[] = [];
  for (const task of fs.readdirSync('/proc/self/task')) {
    const tid = Number(task);
    try {
      setSchedulerPolicy(tid, SCHED_BATCH, `thread ${tid}`);
      os.setPriority(tid, AGENT_NICE);
    } catch (error) {
      problems.push(`thread ${tid}: ${(error as Error).message}`);
    }
  }
  return problems;
}
