// Processes a benchmark starts that must not outlive it. A runner stopped by SIGTERM or
// SIGINT passes SIGTERM on (a runtime stops its workers, an agent detaches its programs),
// waits for them to exit, then exits itself. Ctrl-C reaches the whole process group anyway;
// a SIGTERM sent to the runner alone used to leave them running, and an orphaned agent's
// programs stay in the kernel.
import type { ChildProcess } from 'node:child_process';

/** How long the runner waits for its children to stop before it exits regardless. */
const STOP_TIMEOUT_MS = 10_000;

const live = new Set<ChildProcess>();
let handling = false;

export function stopWithBenchmark(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (handling) return;
  handling = true;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void passOn(signal));
}

async function passOn(signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const running = [...live].filter((child) => child.exitCode === null && child.signalCode === null);
  const exited = running.map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of running) child.kill('SIGTERM');
  await Promise.race([Promise.all(exited), new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))]);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
