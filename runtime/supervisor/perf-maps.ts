import fs from 'node:fs';
import path from 'node:path';

/**
 * V8 writes /tmp/perf-PID.map (address, size, name of each JIT-compiled function) so that a
 * sampling profiler can name JavaScript frames; the second flag gives interpreted frames a
 * native frame of their own. Both are allowed in NODE_OPTIONS.
 */
export const NODE_PERF_MAP_FLAGS = ['--perf-basic-prof-only-functions', '--interpreted-frames-native-stack'];

/** A profiler reads a worker's last samples shortly after it exits: keep its map that long. */
const KEEP_AFTER_EXIT_MS = 10_000;

/** Node workers' perf maps when profiling is on: the flags at start, the files gone after exit. */
export class NodePerfMaps {
  private readonly pending = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly dir = '/tmp',
    private readonly keepMs = KEEP_AFTER_EXIT_MS,
  ) {}

  /** The worker's environment with the flags added to any NODE_OPTIONS of its own. */
  withFlags(env: Record<string, string>): Record<string, string> {
    const own = env['NODE_OPTIONS'];
    return { ...env, NODE_OPTIONS: [own, ...NODE_PERF_MAP_FLAGS].filter((part) => part !== undefined && part !== '').join(' ') };
  }

  fileOf(pid: number): string {
    return path.join(this.dir, `perf-${pid}.map`);
  }

  /** Removes the worker's map a little later. */
  exited(pid: number): void {
    clearTimeout(this.pending.get(pid));
    const timer = setTimeout(() => this.remove(pid), this.keepMs);
    timer.unref();
    this.pending.set(pid, timer);
  }

  /** Removes every map still waiting (the runtime is stopping). */
  close(): void {
    for (const pid of [...this.pending.keys()]) this.remove(pid);
  }

  private remove(pid: number): void {
    clearTimeout(this.pending.get(pid));
    this.pending.delete(pid);
    fs.rmSync(this.fileOf(pid), { force: true });
  }
}
