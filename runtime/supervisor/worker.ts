import net from 'node:net';
import * as native from '../../native/index.js';
import { nowMs } from '../clock.js';
import { HearthError, type ErrorCode } from '../../shared/errors.js';
import {
  decodeJsonPayload,
  decodeReady,
  decodeWorkerError,
  encodeFrame,
  encodeInvokePrefix,
  FrameType,
  frameTypeName,
  ProtocolError,
  SUPPORTED_VERSIONS,
  WorkerRole,
  type Frame,
} from '../ipc/frame.js';
import { Channel } from '../ipc/channel.js';
import type { Logger } from '../../shared/log.js';
import type { StateBlob } from '../state/store.js';
import type { WorkerOrigin } from '../../shared/events.js';
import type { WorkerCgroup } from './cgroup.js';
import { InflightInvocations } from './inflight.js';
import type { WorkerProcess } from './process.js';
import { settle, type Invocation } from './invocation.js';

export type WorkerStatus = 'starting' | 'stem' | 'specialising' | 'ready' | 'draining' | 'exited';

/** What to run: resolved by the pool from a function version (or a stem cell template). */
export interface LaunchSpec {
  fn: string;
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  state?: StateBlob;
  concurrency: number;
  memoryMb: number;
  /** Most tasks (processes and threads) of one worker. */
  pids: number;
  /** Most tasks of all the function's workers together: RLIMIT_NPROC of its uid where no pids cgroup holds them. */
  uidPids: number;
  /** The worker sandbox (SECURITY.md): its ids, the seccomp filter. A stem cell enters its function's at specialisation. */
  sandbox: native.SandboxOptions;
  role: 'worker' | 'stem';
  /**
   * How the worker is asked to stop: by default the SHUTDOWN frame; a worker whose profiler
   * writes its data out on a signal (clinic doctor's sampler: SIGINT) gets that signal instead.
   */
  stopSignal?: NodeJS.Signals;
}

export interface WorkerHooks {
  ready(worker: Worker): void;
  /** A slot became free (an invocation finished or was abandoned by its worker). */
  slotFree(worker: Worker): void;
  /** Called once, after the process is reaped and every in-flight invocation is settled. */
  exited(worker: Worker, info: ExitInfo): void;
  /** Invocation lifecycle, for events and metrics. */
  invocationEnded(worker: Worker, invocation: Invocation, status: number, errorCode?: string): void;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  reason: string;
  /** The worker died before it ever became ready. */
  beforeReady: boolean;
  oomKilled: boolean;
  peakMemoryBytes?: number;
  inflight: number[];
  lastOutput: string[];
}

export interface WorkerContext {
  log: Logger;
  devNull: number;
  maxPayload: number;
  startTimeoutMs: number;
  /** After an invocation's timeout, how long its worker may take to give up before it is killed. */
  timeoutGraceMs: number;
  shutdownGraceMs: number;
  /** Told first when a worker is gone, whatever hooks it is bound to. */
  reaped(worker: Worker): void;
}

const OUTPUT_LINES = 20;
const OUTPUT_LINE_MAX = 4096;
const CONTROL_TIMEOUT_MS = 5000;

interface PendingControl {
  resolve(reply: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** One worker process: its spawn, handshake, invocations, output and death. */
export class Worker {
  status: WorkerStatus = 'starting';
  pid = 0;
  fn: string;
  state: StateBlob | undefined;
  concurrency: number;
  /** Invocations answered so far. */
  invocations = 0;
  /** When the start began: the spawn, or a stem cell's specialisation. */
  spawnedAt = nowMs();
  readyAt = 0;
  lastUsedAt = nowMs();
  /** Opaque to the worker; the pool uses it to tell function versions apart. */
  version = 0;
  origin: WorkerOrigin;
  sdk = '';
  /** Set by the pool: the worker is in its list of workers with free slots. */
  listed = false;

  readonly inflight = new InflightInvocations();
  private readonly abandoned = new Map<number, NodeJS.Timeout>();
  private readonly controls = new Map<number, PendingControl>();
  private nextControlId = 1;
  private readonly channel: Channel;
  private readonly ipcFd: number;
  private readonly output: net.Socket;
  private readonly lastOutput: string[] = [];
  private partialLine = '';
  private startTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private killReason: { text: string; code: ErrorCode } | undefined;
  private exitNotified = false;
  private readonly stopSignal: NodeJS.Signals | undefined;
  /** Became an ordinary worker (stem cells only after specialisation). */
  private reachedReady = false;

  constructor(
    readonly id: number,
    launch: LaunchSpec,
    private readonly process: WorkerProcess,
    channels: { ipc: number; output: number },
    private readonly cgroup: WorkerCgroup | undefined,
    private readonly context: WorkerContext,
    private hooks: WorkerHooks,
  ) {
    this.fn = launch.fn;
    this.state = launch.state;
    this.concurrency = launch.concurrency;
    this.pid = process.pid;
    this.origin = process.origin;
    this.ipcFd = channels.ipc;
    this.stopSignal = launch.stopSignal;
    this.channel = new Channel(channels.ipc, context.maxPayload, {
      frame: (frame) => this.onFrame(frame),
      protocolError: (error) => this.kill(`sent a bad frame: ${error.message}`, 'HEARTH_ERR_WORKER_PROTOCOL'),
      closed: () => this.channelClosed(),
    });
    this.output = new net.Socket({ fd: channels.output, readable: true, writable: false });
    this.output.setEncoding('utf8');
    this.output.on('data', (text: string) => this.onOutput(text));
    this.output.on('error', () => undefined);
    process.onExit((code, signal) => this.exited(code, signal));
    this.armStartTimer();
  }

  get freeSlots(): number {
    return this.status === 'ready' ? this.concurrency - this.inflight.size - this.abandoned.size : 0;
  }

  get busy(): boolean {
    return this.inflight.size + this.abandoned.size > 0;
  }

  /** Rebinds a stem cell to the function it is specialised for. */
  rebind(hooks: WorkerHooks): void {
    this.hooks = hooks;
  }

  invoke(invocation: Invocation): void {
    if (this.status !== 'ready') throw new Error(`worker ${this.id} is ${this.status}, not ready`);
    invocation.dispatchedAt = nowMs();
    invocation.workerId = this.id;
    invocation.pid = this.pid;
    this.inflight.add(invocation);
    this.lastUsedAt = invocation.dispatchedAt;
    const remaining = invocation.deadline - invocation.dispatchedAt;
    this.channel.send(FrameType.INVOKE, invocation.id, encodeInvokePrefix(remaining), invocation.body);
  }

  /** Times out the invocations whose deadline has passed (called by the runtime's deadline sweep). */
  expire(now: number): void {
    for (const invocation of this.inflight.list()) if (invocation.deadline <= now) this.timedOut(invocation);
  }

  /** Sends a control request (gc, stats) and waits for the reply, at most `timeoutMs`. */
  control(request: Record<string, unknown>, timeoutMs = CONTROL_TIMEOUT_MS): Promise<Record<string, unknown>> {
    if (this.status !== 'ready' && this.status !== 'draining') {
      return Promise.reject(new HearthError('HEARTH_ERR_CONTROL', `worker ${this.id} is ${this.status}`));
    }
    const id = this.nextControlId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.controls.delete(id);
        reject(new HearthError('HEARTH_ERR_CONTROL', `worker ${this.pid} did not answer control request ${JSON.stringify(request)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.controls.set(id, { resolve, reject, timer });
      this.channel.send(FrameType.CONTROL, id, Buffer.from(JSON.stringify(request)));
    });
  }

  /** Memory charged to the worker's cgroup now and at most so far, in bytes; undefined without cgroups. */
  memory(): { currentBytes: number; peakBytes: number } | undefined {
    if (this.cgroup === undefined || this.status === 'exited') return undefined;
    return { currentBytes: this.cgroup.currentBytes(), peakBytes: this.cgroup.peakBytes() };
  }

  /** Specialises a stem cell: its function's code, state, ids and limits travel in one message. */
  specialise(launch: LaunchSpec, entry: string, sandbox: native.SandboxIds): void {
    if (this.status !== 'stem') throw new Error(`worker ${this.id} is ${this.status}, not a stem cell`);
    if (!this.channel.idle) throw new Error(`stem cell ${this.id} has unsent output; cannot pass an fd`);
    this.fn = launch.fn;
    this.state = launch.state;
    this.concurrency = launch.concurrency;
    this.origin = 'stem-cell';
    this.status = 'specialising';
    this.spawnedAt = nowMs();
    this.cgroup?.setMemoryLimit(launch.memoryMb);
    this.cgroup?.setPidsLimit(launch.pids);
    const message = encodeFrame(
      FrameType.SPECIALISE,
      0,
      Buffer.from(
        JSON.stringify({
          function: launch.fn,
          entry,
          env: launch.env,
          stateSize: launch.state?.size ?? 0,
          stateId: launch.state?.id ?? '',
          concurrency: launch.concurrency,
          sandbox,
        }),
      ),
    );
    native.sendWithFds(this.ipcFd, message, launch.state === undefined ? [] : [launch.state.fd]);
    this.armStartTimer();
  }

  /** Graceful stop: no new work; in-flight invocations finish; SIGKILL after the grace period. */
  shutdown(reason: string): void {
    if (this.status === 'exited') return;
    const wasReady = this.status === 'ready' || this.status === 'stem';
    this.status = 'draining';
    if (wasReady && this.stopSignal === undefined) this.channel.send(FrameType.SHUTDOWN, 0);
    else this.signal(this.stopSignal ?? 'SIGTERM');
    this.context.log.debug(`worker ${this.pid} of ${this.fn}: shutting down (${reason})`);
    this.killTimer ??= setTimeout(() => this.kill(`did not exit within ${this.context.shutdownGraceMs} ms of shutdown`, 'HEARTH_ERR_WORKER_CRASHED'), this.context.shutdownGraceMs);
  }

  /** Stops dispatching to this worker; it exits once in-flight work is done. */
  retire(reason: string): void {
    if (this.status !== 'ready') return;
    if (!this.busy) this.shutdown(reason);
    else this.status = 'draining';
  }

  kill(reason: string, code: ErrorCode): void {
    if (this.status === 'exited') return;
    this.killReason ??= { text: reason, code };
    if (this.status !== 'draining') this.status = 'draining';
    this.signal('SIGKILL');
  }

  private signal(name: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    try {
      process.kill(this.pid, name);
    } catch {
      // already gone; the exit watcher reports it
    }
  }

  /**
   * A worker asked to stop closes its channel on the way out. Otherwise the channel's end
   * usually means the process is dying: give the exit watcher a moment to report how,
   * and kill the worker if it lingers without its channel.
   */
  private channelClosed(): void {
    if (this.status === 'draining' || this.status === 'exited') return;
    this.status = 'draining';
    clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => this.kill('closed its IPC channel', 'HEARTH_ERR_WORKER_CRASHED'), 200);
  }

  private armStartTimer(): void {
    clearTimeout(this.startTimer);
    this.startTimer = setTimeout(() => {
      if (this.status === 'starting' || this.status === 'specialising') {
        this.kill(`was not ready within ${this.context.startTimeoutMs} ms`, 'HEARTH_ERR_WORKER_START');
      }
    }, this.context.startTimeoutMs);
  }

  private onFrame(frame: Frame): void {
    try {
      switch (frame.type) {
        case FrameType.READY:
          return this.onReady(frame);
        case FrameType.RESULT:
        case FrameType.ERROR:
          return this.onAnswer(frame);
        case FrameType.CONTROL_REPLY:
          return this.onControlReply(frame);
        default:
          throw new ProtocolError(`a worker may not send ${frameTypeName(frame.type)}`);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.channel.close(`protocol error: ${error.message}`);
      this.kill(`sent a bad frame: ${error.message}`, 'HEARTH_ERR_WORKER_PROTOCOL');
    }
  }

  private onReady(frame: Frame): void {
    const info = decodeReady(frame.payload);
    if (!SUPPORTED_VERSIONS.includes(info.version)) {
      throw new ProtocolError(`speaks protocol version ${info.version}; this runtime supports ${SUPPORTED_VERSIONS.join(', ')}`);
    }
    this.sdk = info.sdk;
    if (info.role === WorkerRole.STEM_CELL) {
      if (this.status !== 'starting') throw new ProtocolError(`sent a stem cell READY while ${this.status}`);
      clearTimeout(this.startTimer);
      this.status = 'stem';
      this.readyAt = nowMs();
      this.hooks.ready(this);
      return;
    }
    if (info.role !== WorkerRole.WORKER) throw new ProtocolError(`READY with unknown role ${info.role}`);
    if (this.status !== 'starting' && this.status !== 'specialising') throw new ProtocolError(`sent READY twice`);
    clearTimeout(this.startTimer);
    this.status = 'ready';
    this.reachedReady = true;
    this.readyAt = nowMs();
    this.lastUsedAt = this.readyAt;
    this.hooks.ready(this);
  }

  private onAnswer(frame: Frame): void {
    const invocation = this.inflight.get(frame.id);
    if (invocation === undefined) {
      const graceTimer = this.abandoned.get(frame.id);
      if (graceTimer === undefined) throw new ProtocolError(`answered invocation ${frame.id}, which it was not given`);
      clearTimeout(graceTimer);
      this.abandoned.delete(frame.id);
      this.afterAnswer();
      return;
    }
    const payload = frame.type === FrameType.ERROR ? decodeWorkerError(frame.payload) : undefined;
    this.inflight.delete(frame.id);
    this.invocations++;
    this.lastUsedAt = nowMs();
    if (payload === undefined) {
      this.hooks.invocationEnded(this, invocation, 200);
      settle(invocation, { ok: true, body: frame.payload });
    } else if (this.lastUsedAt >= invocation.deadline) {
      // The handler gave up at its deadline (as a context should) before the deadline sweep came round.
      const error = this.timeoutError(invocation, `; the handler said: ${payload.errorMessage}`);
      this.hooks.invocationEnded(this, invocation, error.status, error.code);
      settle(invocation, { ok: false, error });
    } else {
      const error = new HearthError('HEARTH_ERR_HANDLER', `${this.fn}: ${payload.errorMessage}`, {
        details: { function: this.fn, errorType: payload.errorType, ...(payload.stackTrace === undefined ? {} : { stackTrace: payload.stackTrace }) },
      });
      this.hooks.invocationEnded(this, invocation, error.status, error.code);
      settle(invocation, { ok: false, error, errorType: payload.errorType });
    }
    this.afterAnswer();
  }

  private afterAnswer(): void {
    if (this.status === 'draining' && !this.busy) this.shutdown('drained');
    else if (this.status === 'ready') this.hooks.slotFree(this);
  }

  private onControlReply(frame: Frame): void {
    const pending = this.controls.get(frame.id);
    if (pending === undefined) {
      // Ids are handed out in order: one below the next was sent, and its caller gave up on it.
      if (frame.id >= 1 && frame.id < this.nextControlId) return;
      throw new ProtocolError(`answered control request ${frame.id}, which it was not sent`);
    }
    this.controls.delete(frame.id);
    clearTimeout(pending.timer);
    const reply = decodeJsonPayload(frame);
    if (reply['ok'] === true) pending.resolve(reply);
    else pending.reject(new HearthError('HEARTH_ERR_CONTROL', `worker ${this.pid} refused the control request: ${String(reply['error'] ?? 'no reason given')}`));
  }

  private timeoutError(invocation: Invocation, more = ''): HearthError {
    const limit = Math.round(invocation.deadline - invocation.arrivedAt);
    return new HearthError('HEARTH_ERR_INVOKE_TIMEOUT', `${this.fn}: invocation ${invocation.id} did not finish within its timeout of ${limit} ms${more}`, {
      details: { function: this.fn, timeoutMs: limit },
    });
  }

  private timedOut(invocation: Invocation): void {
    if (!this.inflight.delete(invocation.id)) return;
    const error = this.timeoutError(invocation);
    this.hooks.invocationEnded(this, invocation, error.status, error.code);
    settle(invocation, { ok: false, error });
    // The slot stays taken until the worker gives up on it; if it does not, it is killed.
    this.abandoned.set(
      invocation.id,
      setTimeout(
        () => this.kill(`did not stop invocation ${invocation.id} within ${this.context.timeoutGraceMs} ms of its timeout`, 'HEARTH_ERR_INVOKE_TIMEOUT'),
        this.context.timeoutGraceMs,
      ),
    );
  }

  private onOutput(text: string): void {
    const lines = (this.partialLine + text).split('\n');
    this.partialLine = (lines.pop() ?? '').slice(0, OUTPUT_LINE_MAX);
    for (const raw of lines) {
      const line = raw.length > OUTPUT_LINE_MAX ? `${raw.slice(0, OUTPUT_LINE_MAX)}…` : raw;
      this.lastOutput.push(line);
      if (this.lastOutput.length > OUTPUT_LINES) this.lastOutput.shift();
      this.context.log.info(`${this.fn}[${this.pid}] ${line}`);
    }
  }

  private exited(code: number | null, signal: string | null): void {
    const beforeReady = !this.reachedReady;
    this.status = 'exited';
    clearTimeout(this.startTimer);
    clearTimeout(this.killTimer);
    for (const timer of this.abandoned.values()) clearTimeout(timer);
    this.channel.close('the worker exited');
    // Let the output socket drain what the worker printed last, then report.
    const finish = (): void => this.reportExit(code, signal, beforeReady);
    if (!this.output.destroyed) {
      this.output.once('close', finish);
      setTimeout(() => this.output.destroy(), 50).unref();
    } else {
      finish();
    }
  }

  private reportExit(code: number | null, signal: string | null, beforeReady: boolean): void {
    if (this.exitNotified) return;
    this.exitNotified = true;
    if (this.partialLine !== '') this.onOutput('\n');
    const oomKilled = signal === 'SIGKILL' && (this.cgroup?.oomKills() ?? 0) > 0;
    const peakMemoryBytes = this.cgroup?.peakBytes();
    this.cgroup?.remove();
    let reason: string;
    let errorCode: ErrorCode;
    if (oomKilled) {
      reason = `exceeded its memory limit and was killed by the kernel's OOM killer (peak ${Math.round((peakMemoryBytes ?? 0) / 1048576)} MiB)`;
      errorCode = 'HEARTH_ERR_WORKER_OOM';
    } else if (this.process.startFailure !== undefined) {
      reason = this.process.startFailure;
      errorCode = 'HEARTH_ERR_WORKER_START';
    } else if (this.killReason !== undefined) {
      reason = this.killReason.text;
      errorCode = this.killReason.code;
    } else {
      reason = code !== null ? `exited with code ${code}` : `was killed by ${signal}`;
      errorCode = beforeReady ? 'HEARTH_ERR_WORKER_START' : 'HEARTH_ERR_WORKER_CRASHED';
    }
    const lost = this.inflight.list();
    const tail = this.lastOutput.slice(-3).join(' | ');
    for (const invocation of lost) {
      const error = new HearthError(errorCode === 'HEARTH_ERR_WORKER_START' ? 'HEARTH_ERR_WORKER_CRASHED' : errorCode, `${this.fn}: worker ${this.pid} ${reason} while handling invocation ${invocation.id}${tail === '' ? '' : `; last output: ${tail}`}`, {
        details: { function: this.fn, pid: this.pid },
      });
      this.hooks.invocationEnded(this, invocation, error.status, error.code);
      settle(invocation, { ok: false, error });
    }
    this.inflight.clear();
    for (const pending of this.controls.values()) {
      clearTimeout(pending.timer);
      pending.reject(new HearthError('HEARTH_ERR_CONTROL', `worker ${this.pid} ${reason} before answering a control request`));
    }
    this.controls.clear();
    this.context.reaped(this);
    this.hooks.exited(this, {
      code,
      signal,
      reason,
      beforeReady,
      oomKilled,
      ...(peakMemoryBytes === undefined ? {} : { peakMemoryBytes }),
      inflight: lost.map((invocation) => invocation.id),
      lastOutput: [...this.lastOutput],
    });
  }
}
