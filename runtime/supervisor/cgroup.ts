import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../shared/log.js';

/**
 * Per-worker memory limits. cgroup v2 where the unified hierarchy has the memory controller,
 * the v1 memory controller otherwise (the host this was built on has v1 memory beside an
 * empty v2 hierarchy), none when neither is usable (then limits are not enforced, and the
 * runtime says so at start-up).
 */
export type CgroupMode = 'v2' | 'v1' | 'none';

export interface WorkerCgroup {
  readonly dir: string;
  /** Open cgroup.procs for writing; the spawn helper writes the child's pid into it before exec. */
  openProcs(): number;
  setMemoryLimit(megabytes: number): void;
  /** OOM kills recorded in this group so far. */
  oomKills(): number;
  /** Memory charged to the group now, in bytes. */
  currentBytes(): number;
  /** Highest memory use seen, in bytes. */
  peakBytes(): number;
  remove(): void;
}

const PREFIX = 'hearth-';
/** Runtimes in one process (tests, embedders) each get their own parent group. */
let instances = 0;

export class Cgroups {
  private constructor(
    readonly mode: CgroupMode,
    /** This runtime's parent group, holding one child per worker. */
    private readonly parent: string | undefined,
    readonly reason: string,
    private readonly log: Logger,
  ) {}

  static detect(log: Logger, disabled = false): Cgroups {
    if (disabled) return new Cgroups('none', undefined, 'disabled by --no-cgroups', log);
    const membership = readMembership();
    const name = `${PREFIX}${process.pid}-${++instances}`;
    const v2 = findV2(membership);
    if (v2 !== undefined) {
      const parent = path.join(v2.dir, name);
      try {
        fs.mkdirSync(parent);
        fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+memory');
        return new Cgroups('v2', parent, `cgroup v2 memory controller at ${parent}`, log);
      } catch (error) {
        fs.rmSync(parent, { recursive: false, force: true });
        log.warn(`cgroup v2 at ${v2.dir} has the memory controller but Hearth could not use it: ${(error as Error).message}`);
      }
    }
    const v1 = membership.get('memory');
    if (v1 !== undefined && fs.existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
      const parent = path.join('/sys/fs/cgroup/memory', v1, name);
      try {
        fs.mkdirSync(parent);
        return new Cgroups('v1', parent, `cgroup v1 memory controller at ${parent}`, log);
      } catch (error) {
        return new Cgroups('none', undefined, `cgroup v1 memory controller present but unusable: ${(error as Error).message}`, log);
      }
    }
    return new Cgroups('none', undefined, 'no usable memory cgroup controller (v2 or v1)', log);
  }

  /** Removes the groups of a runtime process that is no longer running. */
  static cleanStale(pid: number): void {
    const membership = readMembership();
    const homes: string[] = [];
    const v1 = membership.get('memory');
    if (v1 !== undefined) homes.push(path.join('/sys/fs/cgroup/memory', v1));
    const v2 = findV2(membership);
    if (v2 !== undefined) homes.push(v2.dir);
    for (const home of homes) {
      if (!fs.existsSync(home)) continue;
      for (const entry of fs.readdirSync(home)) if (entry.startsWith(`${PREFIX}${pid}-`)) removeTree(path.join(home, entry));
    }
  }

  /** This runtime's parent group, if limits are enforced. */
  get dir(): string | undefined {
    return this.parent;
  }

  get enforced(): boolean {
    return this.mode !== 'none';
  }

  /** A fresh group for one worker, or undefined when limits are not enforced. */
  create(name: string, memoryMb: number): WorkerCgroup | undefined {
    if (this.parent === undefined) return undefined;
    const dir = path.join(this.parent, name);
    fs.mkdirSync(dir);
    const group = this.mode === 'v2' ? new V2Group(dir) : new V1Group(dir);
    try {
      group.setMemoryLimit(memoryMb);
    } catch (error) {
      group.remove();
      throw error;
    }
    return group;
  }

  close(): void {
    if (this.parent !== undefined) removeTree(this.parent, this.log);
  }
}

class V1Group implements WorkerCgroup {
  constructor(readonly dir: string) {}
  openProcs(): number {
    return fs.openSync(path.join(this.dir, 'cgroup.procs'), 'w');
  }
  setMemoryLimit(megabytes: number): void {
    fs.writeFileSync(path.join(this.dir, 'memory.limit_in_bytes'), String(megabytes * 1024 * 1024));
  }
  oomKills(): number {
    return readKeyed(path.join(this.dir, 'memory.oom_control'), 'oom_kill');
  }
  currentBytes(): number {
    return readNumber(path.join(this.dir, 'memory.usage_in_bytes'));
  }
  peakBytes(): number {
    return readNumber(path.join(this.dir, 'memory.max_usage_in_bytes'));
  }
  remove(): void {
    removeDir(this.dir);
  }
}

class V2Group implements WorkerCgroup {
  constructor(readonly dir: string) {}
  openProcs(): number {
    return fs.openSync(path.join(this.dir, 'cgroup.procs'), 'w');
  }
  setMemoryLimit(megabytes: number): void {
    const bytes = megabytes * 1024 * 1024;
    // memory.high at 90% makes the kernel reclaim and throttle before the hard limit kills.
    fs.writeFileSync(path.join(this.dir, 'memory.max'), String(bytes));
    fs.writeFileSync(path.join(this.dir, 'memory.high'), String(Math.floor(bytes * 0.9)));
  }
  oomKills(): number {
    return readKeyed(path.join(this.dir, 'memory.events'), 'oom_kill');
  }
  currentBytes(): number {
    return readNumber(path.join(this.dir, 'memory.current'));
  }
  peakBytes(): number {
    return readNumber(path.join(this.dir, 'memory.peak'));
  }
  remove(): void {
    removeDir(this.dir);
  }
}

function readMembership(): Map<string, string> {
  const membership = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, where] = line.split(':');
    if (controllers === undefined || where === undefined) continue;
    if (controllers === '') membership.set('', where);
    for (const controller of controllers.split(',')) if (controller !== '') membership.set(controller, where);
  }
  return membership;
}

function findV2(membership: Map<string, string>): { dir: string } | undefined {
  const where = membership.get('');
  if (where === undefined) return undefined;
  for (const mount of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      const controllers = fs.readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8').split(/\s+/);
      if (controllers.includes('memory')) return { dir: path.join(mount, where) };
    } catch {
      // not a cgroup2 mount
    }
  }
  return undefined;
}

function readNumber(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function readKeyed(file: string, key: string): number {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((row) => row.startsWith(`${key} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

/** rmdir of a cgroup fails with EBUSY for a moment after its last task exits; retry briefly. */
function removeDir(dir: string): void {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

function removeTree(dir: string, log?: Logger): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const child = path.join(dir, entry.name);
    killMembers(child);
    try {
      removeDir(child);
    } catch (error) {
      log?.warn(`could not remove cgroup ${child}: ${(error as Error).message}`);
    }
  }
  try {
    removeDir(dir);
  } catch (error) {
    log?.warn(`could not remove cgroup ${dir}: ${(error as Error).message}`);
  }
}

function killMembers(dir: string): void {
  try {
    for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
      if (pid.trim() !== '') process.kill(Number(pid), 'SIGKILL');
    }
  } catch {
    // the group is already empty or gone
  }
}
