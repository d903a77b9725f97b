import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../shared/log.js';

/**
 * Per-worker memory and task limits. cgroup v2 where the unified hierarchy has the memory
 * controller, the v1 memory controller otherwise (the host this was built on has v1 memory
 * and pids beside an empty v2 hierarchy), none when neither is usable (then limits are not
 * enforced, and the runtime says so at start-up). The pids controller (a fork bomb's bound)
 * is used in the same hierarchy as memory, or in v1 beside a v2 memory controller; without
 * one, workers with their own uid get RLIMIT_NPROC instead (the supervisor's choice).
 */
export type CgroupMode = 'v2' | 'v1' | 'none';

export interface WorkerCgroup {
  readonly dir: string;
  /** cgroup.procs of each hierarchy the group spans, open for writing: the spawn helper or seed writes the child's pid into each before exec. */
  openProcs(): number[];
  setMemoryLimit(megabytes: number): void;
  /** Most tasks (processes and threads) in the group; nothing where no pids controller is used. */
  setPidsLimit(count: number): void;
  /** OOM kills recorded in this group so far. */
  oomKills(): number;
  /** Memory charged to the group now, in bytes. */
  currentBytes(): number;
  /** Highest memory use seen, in bytes. */
  peakBytes(): number;
  /** Kills whatever is still in the group (what the worker forked), then removes it. */
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
    /** The parent group in the pids hierarchy: the same as `parent` on v2, its own directory on v1; undefined without the controller. */
    private readonly pidsParent: string | undefined,
    readonly reason: string,
    private readonly log: Logger,
  ) {}

  static detect(log: Logger, disabled = false): Cgroups {
    if (disabled) return new Cgroups('none', undefined, undefined, 'disabled by --no-cgroups', log);
    const membership = readMembership();
    const name = `${PREFIX}${process.pid}-${++instances}`;
    const v2 = findV2(membership);
    if (v2 !== undefined) {
      const parent = path.join(v2.dir, name);
      try {
        fs.mkdirSync(parent);
        fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+memory');
      } catch (error) {
        fs.rmSync(parent, { recursive: false, force: true });
        log.warn(`cgroup v2 at ${v2.dir} has the memory controller but Hearth could not use it: ${(error as Error).message}`);
      }
      if (fs.existsSync(parent)) {
        const pids = enableV2Pids(parent) ? parent : createV1Parent(membership, 'pids', name);
        return new Cgroups('v2', parent, pids, `cgroup v2 memory controller at ${parent}; ${describePids(pids)}`, log);
      }
    }
    const v1 = membership.get('memory');
    if (v1 !== undefined && fs.existsSync(path.join(V1_ROOT, 'memory', 'cgroup.procs'))) {
      let parent: string | undefined;
      try {
        parent = createV1Parent(membership, 'memory', name, true);
      } catch (error) {
        return new Cgroups('none', undefined, undefined, `cgroup v1 memory controller present but unusable: ${(error as Error).message}`, log);
      }
      const pids = createV1Parent(membership, 'pids', name);
      return new Cgroups('v1', parent, pids, `cgroup v1 memory controller at ${parent}; ${describePids(pids)}`, log);
    }
    return new Cgroups('none', undefined, undefined, 'no usable memory cgroup controller (v2 or v1)', log);
  }

  /** Removes the groups of a runtime process that is no longer running. */
  static cleanStale(pid: number): void {
    const membership = readMembership();
    const homes: string[] = [];
    for (const controller of ['memory', 'pids']) {
      const v1 = membership.get(controller);
      if (v1 !== undefined) homes.push(path.join(V1_ROOT, controller, v1));
    }
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

  /** Whether worker groups limit their number of tasks (the pids controller). */
  get pidsEnforced(): boolean {
    return this.pidsParent !== undefined;
  }

  /** A fresh group for one worker, or undefined when limits are not enforced. */
  create(name: string, memoryMb: number, pids: number): WorkerCgroup | undefined {
    if (this.parent === undefined) return undefined;
    const dir = path.join(this.parent, name);
    fs.mkdirSync(dir);
    const pidsDir = this.pidsParent === undefined || this.pidsParent === this.parent ? undefined : path.join(this.pidsParent, name);
    const group = this.mode === 'v2' ? new V2Group(dir, this.pidsParent === this.parent, pidsDir) : new V1Group(dir, pidsDir);
    try {
      if (pidsDir !== undefined) fs.mkdirSync(pidsDir);
      group.setMemoryLimit(memoryMb);
      group.setPidsLimit(pids);
    } catch (error) {
      group.remove();
      throw error;
    }
    return group;
  }

  close(): void {
    if (this.parent !== undefined) removeTree(this.parent, this.log);
    if (this.pidsParent !== undefined && this.pidsParent !== this.parent) removeTree(this.pidsParent, this.log);
  }
}

/** A v1 group of the pids hierarchy beside a worker's memory group (v1 or v2). */
function v1PidsLimit(pidsDir: string | undefined, count: number): void {
  if (pidsDir !== undefined) fs.writeFileSync(path.join(pidsDir, 'pids.max'), String(count));
}

class V1Group implements WorkerCgroup {
  constructor(
    readonly dir: string,
    private readonly pidsDir: string | undefined,
  ) {}
  openProcs(): number[] {
    return openProcsOf([this.dir, this.pidsDir]);
  }
  setMemoryLimit(megabytes: number): void {
    fs.writeFileSync(path.join(this.dir, 'memory.limit_in_bytes'), String(megabytes * 1024 * 1024));
  }
  setPidsLimit(count: number): void {
    v1PidsLimit(this.pidsDir, count);
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
    removeGroup(this.dir, this.pidsDir);
  }
}

class V2Group implements WorkerCgroup {
  constructor(
    readonly dir: string,
    /** The pids controller is on in this hierarchy. */
    private readonly pids: boolean,
    /** Else a v1 pids group, if the host has one. */
    private readonly pidsDir: string | undefined,
  ) {}
  openProcs(): number[] {
    return openProcsOf([this.dir, this.pidsDir]);
  }
  setMemoryLimit(megabytes: number): void {
    const bytes = megabytes * 1024 * 1024;
    // memory.high at 90% makes the kernel reclaim and throttle before the hard limit kills.
    fs.writeFileSync(path.join(this.dir, 'memory.max'), String(bytes));
    fs.writeFileSync(path.join(this.dir, 'memory.high'), String(Math.floor(bytes * 0.9)));
  }
  setPidsLimit(count: number): void {
    if (this.pids) fs.writeFileSync(path.join(this.dir, 'pids.max'), String(count));
    else v1PidsLimit(this.pidsDir, count);
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
    removeGroup(this.dir, this.pidsDir);
  }
}

const V1_ROOT = '/sys/fs/cgroup';

function openProcsOf(dirs: (string | undefined)[]): number[] {
  const fds: number[] = [];
  try {
    for (const dir of dirs) if (dir !== undefined) fds.push(fs.openSync(path.join(dir, 'cgroup.procs'), 'w'));
  } catch (error) {
    for (const fd of fds) fs.closeSync(fd);
    throw error;
  }
  return fds;
}

/** Kills what is left in a worker's group (its memory group holds every task of it), then removes the group and its pids twin. */
function removeGroup(dir: string, pidsDir: string | undefined): void {
  removeDir(dir, true);
  if (pidsDir !== undefined) removeDir(pidsDir, true);
}

/** This runtime's parent group in a v1 hierarchy; undefined when the host has none (unless `required`, which throws). */
function createV1Parent(membership: Map<string, string>, controller: string, name: string, required = false): string | undefined {
  const where = membership.get(controller);
  const root = path.join(V1_ROOT, controller);
  if (where === undefined || !fs.existsSync(path.join(root, 'cgroup.procs'))) {
    if (required) throw new Error(`no v1 ${controller} hierarchy`);
    return undefined;
  }
  const parent = path.join(root, where, name);
  try {
    fs.mkdirSync(parent);
    return parent;
  } catch (error) {
    if (required) throw error;
    return undefined;
  }
}

function enableV2Pids(parent: string): boolean {
  try {
    fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+pids');
    return true;
  } catch {
    return false;
  }
}

function describePids(pidsParent: string | undefined): string {
  return pidsParent === undefined ? 'no pids controller (workers with their own uid get RLIMIT_NPROC instead)' : `pids controller at ${pidsParent}`;
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

/**
 * rmdir of a cgroup fails with EBUSY for a moment after its last task exits; retry briefly,
 * killing anything still in it first when `kill` is set (a worker's children, which a pids
 * limit keeps from multiplying faster than they are killed).
 */
function removeDir(dir: string, kill = false): void {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (kill) killMembers(dir);
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
    try {
      removeDir(child, true);
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
