import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import * as native from '../../native/index.js';
import type { Logger } from '../../shared/log.js';
import type { Cgroups, WorkerCgroup } from './cgroup.js';
import { ExitLatch, type ExitListener, type WorkerProcess } from './process.js';

// The activation message of native/seed/seed.c (its header comment is the contract).
const MAGIC = 0x32445348;
/** uid or gid: keep the seed's own. */
const KEEP_ID = 0xffffffff;
const SANDBOX_SECCOMP = 1;
const SEED_MEMORY_MB = 64;
/** A seed is one process until it execs its worker, whose limit it then gets. */
const SEED_PIDS = 8;
const MAX_FAILURES = 3;
const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, value]) => [value, name]));

export interface Activation {
  file: string;
  argv: string[];
  env: string[];
  cwd?: string;
  /** fds to pass, and the fd number each gets in the worker. */
  fds: number[];
  targets: number[];
  /** The ids and limits the seed takes before it execs; `seccomp` must be true: a seed has had the filter since it started. */
  sandbox: native.SandboxOptions;
}

export function encodeActivation(activation: Activation): Buffer {
  const { fds, targets, argv, env, sandbox } = activation;
  if (fds.length !== targets.length) throw new RangeError('every passed fd needs a target');
  const head = Buffer.alloc(24 + 1 + fds.length + 4);
  head.writeUInt32LE(MAGIC, 4);
  head.writeUInt32LE(sandbox.uid ?? KEEP_ID, 8);
  head.writeUInt32LE(sandbox.gid ?? KEEP_ID, 12);
  head.writeUInt32LE(sandbox.nproc ?? 0, 16);
  head.writeUInt32LE(sandbox.seccomp ? SANDBOX_SECCOMP : 0, 20);
  head.writeUInt8(fds.length, 24);
  targets.forEach((target, index) => head.writeUInt8(target, 25 + index));
  head.writeUInt16LE(argv.length, 25 + fds.length);
  head.writeUInt16LE(env.length, 27 + fds.length);
  const strings = [activation.file, activation.cwd ?? '', ...argv, ...env];
  for (const text of strings) if (text.includes('\0')) throw new RangeError(`NUL byte in ${JSON.stringify(text.slice(0, 40))}`);
  const message = Buffer.concat([head, Buffer.from(strings.join('\0') + '\0', 'utf8')]);
  message.writeUInt32LE(message.length, 0);
  return message;
}

/**
 * A seed: a tiny process already in its own memory cgroup, waiting to exec a worker.
 * It reports "R" when ready, "E<errno>:<step>" when something failed (one line each), and its control
 * socket closes when it execs (close-on-exec) or exits.
 */
export class Seed implements WorkerProcess {
  readonly origin = 'seed';
  status: 'starting' | 'ready' | 'activated' | 'exited' = 'starting';
  startFailure: string | undefined;
  private readonly latch = new ExitLatch();
  private readonly socket: net.Socket;
  private file = '';
  private pending = '';

  constructor(
    readonly pid: number,
    pidfd: number,
    private readonly control: number,
    readonly cgroup: WorkerCgroup | undefined,
    private readonly events: { ready(seed: Seed): void; failed(seed: Seed, why: string): void; exited(seed: Seed, was: Seed['status']): void },
  ) {
    this.socket = new net.Socket({ fd: control, readable: true, writable: false });
    this.socket.on('data', (chunk: Buffer) => {
      const lines = (this.pending + chunk.toString('utf8')).split('\n');
      this.pending = lines.pop()!.slice(0, 256);
      for (const line of lines) this.onMessage(line);
    });
    this.socket.on('error', () => undefined);
    native.watchExit(pidfd, (code, signal) => {
      const was = this.status;
      this.status = 'exited';
      this.socket.destroy();
      // Once activated, the cgroup belongs to the worker, which reads its OOM count first.
      if (was !== 'activated') this.cgroup?.remove();
      this.events.exited(this, was);
      this.latch.exited(code, signal);
    });
  }

  onExit(listener: ExitListener): void {
    this.latch.listen(listener);
  }

  /** Sends the worker's program, environment and fds; the seed execs it. */
  activate(activation: Activation): void {
    if (this.status !== 'ready') throw new Error(`seed ${this.pid} is ${this.status}`);
    this.status = 'activated';
    this.file = activation.file;
    native.sendWithFds(this.control, encodeActivation(activation), activation.fds);
  }

  /** Retires an idle seed: it sees end of file and exits 0. */
  retire(): void {
    if (this.status === 'exited') return;
    this.socket.destroy();
  }

  private onMessage(text: string): void {
    if (text === 'R' && this.status === 'starting') {
      this.status = 'ready';
      this.events.ready(this);
      return;
    }
    const match = /^E(\d+):(\w+)$/.exec(text);
    const why = match === null ? `said ${JSON.stringify(text.slice(0, 80))}` : `${match[2]}: ${ERRNO_NAMES.get(-Number(match[1])) ?? ERRNO_NAMES.get(Number(match[1])) ?? `errno ${match[1]}`}`;
    this.startFailure = this.status === 'activated' ? `could not start ${this.file}: ${why}` : `seed ${this.pid} failed: ${why}`;
    if (this.status === 'starting') this.events.failed(this, this.startFailure);
  }
}

/**
 * Seeds kept ready so that a cold start is one message and one exec: no fork on the
 * critical path, no cgroup move (which costs an RCU grace period, 5-20 ms here, the first
 * time after a pause), and no event-loop time in spawn.
 */
export class SeedPool {
  private readonly ready: Seed[] = [];
  private readonly all = new Set<Seed>();
  private starting = 0;
  private failures = 0;
  private nextId = 1;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly target: number,
    private readonly cgroups: Cgroups,
    private readonly devNull: number,
    private readonly log: Logger,
    /** The CPUs a seed starts on (and its workers after it); undefined: the runtime thread's. */
    private readonly cpus: number[] | undefined,
  ) {}

  get available(): number {
    return this.ready.length;
  }

  fill(): void {
    if (this.closed || this.retry !== undefined || this.failures >= MAX_FAILURES) return;
    while (this.ready.length + this.starting < this.target) if (!this.startOne()) return;
  }

  /**
   * The seed that has waited longest, or undefined when none is ready (the caller then spawns
   * directly). Oldest first: the agent learns of a new process within about 100 ms and only
   * then opens the clock that samples its start, so a seed born just before its use would go
   * unprofiled.
   */
  take(): Seed | undefined {
    const seed = this.ready.shift();
    // The replacement starts after the caller's cold start has gone out.
    if (seed !== undefined) setImmediate(() => this.fill());
    return seed;
  }

  /** Retires idle seeds and waits until every seed process is gone. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const idle = [...this.all].filter((seed) => seed.status !== 'activated');
    for (const seed of idle) seed.retire();
    const deadline = Date.now() + 5000;
    while (idle.some((seed) => seed.status !== 'exited') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private startOne(): boolean {
    const [ours, theirs] = native.socketpair();
    let cgroup: WorkerCgroup | undefined;
    let procs: number[] = [];
    try {
      cgroup = this.cgroups.create(`s${this.nextId++}`, SEED_MEMORY_MB, SEED_PIDS);
      procs = cgroup?.openProcs() ?? [];
      const fds = [this.devNull, this.devNull, this.devNull, theirs, ...procs];
      const { pid, pidfd } = native.spawn({ file: native.SEED_BINARY, argv: ['hearth-seed'], env: [], fds, ...(this.cpus === undefined ? {} : { cpus: this.cpus }) });
      const seed = new Seed(pid, pidfd, ours, cgroup, {
        ready: (ready) => {
          this.starting--;
          this.failures = 0;
          if (this.closed) ready.retire();
          else this.ready.push(ready);
        },
        failed: (_seed, why) => this.failed(why),
        exited: (gone, was) => {
          this.all.delete(gone);
          if (this.closed || was === 'activated') return;
          if (was === 'starting') {
            if (gone.startFailure === undefined) this.failed(`seed ${gone.pid} exited before it was ready`);
            return;
          }
          this.ready.splice(this.ready.indexOf(gone), 1);
          this.log.warn(`idle seed ${gone.pid} exited; starting another`);
          this.fill();
        },
      });
      this.all.add(seed);
      this.starting++;
      return true;
    } catch (error) {
      fs.closeSync(ours);
      cgroup?.remove();
      this.failed((error as Error).message);
      return false;
    } finally {
      fs.closeSync(theirs);
      for (const fd of procs) fs.closeSync(fd);
    }
  }

  private failed(why: string): void {
    this.starting = Math.max(0, this.starting - 1);
    this.failures++;
    if (this.failures >= MAX_FAILURES) {
      this.log.warn(`seeds disabled after ${this.failures} failures (${why}); workers are spawned directly`);
      return;
    }
    const delay = 100 * 2 ** this.failures;
    this.log.warn(`a seed failed (${why}); retrying in ${delay} ms`);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.fill();
    }, delay);
    this.retry.unref();
  }
}
