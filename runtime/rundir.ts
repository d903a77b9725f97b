import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../shared/log.js';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One directory per runtime instance, named by its pid. Instances of runtimes that died
 * without cleaning up are handed to `cleanStale` callbacks, then removed.
 */
export class RunDir {
  readonly dir: string;

  private constructor(readonly base: string, private readonly log: Logger) {
    this.dir = path.join(base, String(process.pid));
  }

  static create(base: string, log: Logger, cleanStale: Array<(staleDir: string, pid: number) => void>): RunDir {
    fs.mkdirSync(base, { recursive: true, mode: 0o755 });
    for (const name of fs.readdirSync(base)) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
      const staleDir = path.join(base, name);
      log.warn(`cleaning up after runtime ${pid}, which exited without shutting down (${staleDir})`);
      for (const clean of cleanStale) {
        try {
          clean(staleDir, pid);
        } catch (error) {
          log.warn(`cleanup of ${staleDir}: ${(error as Error).message}`);
        }
      }
      fs.rmSync(staleDir, { recursive: true, force: true });
    }
    // Per-port token links whose runtime is gone.
    for (const name of fs.readdirSync(base)) {
      const link = path.join(base, name);
      if (/^port-\d+\.token$/.test(name) && !fs.existsSync(link)) fs.rmSync(link, { force: true });
    }
    const runDir = new RunDir(base, log);
    // Searchable but not listable by others: a worker with a uid of its own writes its profiling
    // run's files in a directory below, which is its own; the token file stays mode 0600.
    fs.mkdirSync(runDir.dir, { recursive: true, mode: 0o711 });
    return runDir;
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  remove(): void {
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch (error) {
      this.log.warn(`could not remove ${this.dir}: ${(error as Error).message}`);
    }
  }
}
