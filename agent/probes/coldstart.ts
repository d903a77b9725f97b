import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../shared/log.js';
import { BpfObject, RingBuffer, sumPerCpuU64, type BpfLink, type BpfMap } from '../bpf/index.js';
import { COOKIE_MARKER_MASK, decodeEvent, EventDecodeError, type KernelEvent } from './events.js';
import type { ProbePlan, ProbePoint } from './targets.js';

/** bpf/build/coldstart.bpf.o, built from bpf/coldstart.bpf.c by scripts/build-bpf.sh. */
export const COLDSTART_OBJECT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../bpf/build/coldstart.bpf.o');

/** Programs that attach by their section (tracepoints), always. */
const TRACEPOINTS = ['handle_fork', 'handle_exec', 'handle_exit', 'handle_oom'];
/**
 * First write on fd 3 (at entry) and first mmap of fd 4 (at exit), for any binary. Raw
 * sys_enter/sys_exit hooks (this host refuses fentry): while attached, every syscall on the
 * host costs ~125 ns more, so they are attached only while some function needs them
 * (SyscallHookDemand).
 */
const SYSCALL_PROGRAMS = ['handle_sys_enter', 'handle_sys_exit'];
const MARKER_PROGRAM = 'handle_marker';

// Layouts from bpf/coldstart.h.
const TRACKED_VALUE_SIZE = 16;
const STAT = { emitted: 0, dropped: 1, trackFull: 2 } as const;

export interface AttachResult {
  binary: string;
  attached: string[];
  /** The markers (Marker ids) of the probes attached. */
  markers: number[];
  missing: string[];
  errors: string[];
}

/**
 * The cold-start probes: open → configure → load → attach → poll → destroy around
 * bpf/coldstart.bpf.o. Kernel events reach `onEvent` decoded, in ring-buffer order.
 */
export class ColdStartProbes {
  private readonly object: BpfObject;
  /** The processes followed (tgid -> struct hearth_tracked): the sampler shares it. */
  readonly tracked: BpfMap;
  private readonly roots: BpfMap;
  private readonly stats: BpfMap;
  private readonly ring: RingBuffer;
  private links: BpfLink[] = [];
  /** The syscall hooks while attached. */
  private syscallLinks: BpfLink[] | undefined;
  /** Each binary's plan, the links attached from it (none while detached), and what attaching it gave. */
  private readonly uprobes = new Map<string, { plan: ProbePlan; links: BpfLink[]; result: AttachResult }>();
  /** Between detach() and reattach(). */
  private detached = false;
  decodeErrors = 0;

  private constructor(
    objectPath: string,
    private readonly log: Logger,
    onEvent: (event: KernelEvent) => void,
    syscalls: boolean,
  ) {
    this.object = BpfObject.open(objectPath);
    try {
      this.object.load();
      this.tracked = this.object.map('hearth_tracked');
      this.roots = this.object.map('hearth_roots');
      this.stats = this.object.map('hearth_stats');
      this.attachTracepoints();
      this.setSyscallHooks(syscalls);
      this.ring = new RingBuffer(
        this.object.map('hearth_events'),
        (data, offset, length) => {
          let event: KernelEvent;
          try {
            event = decodeEvent(data, offset, length);
          } catch (error) {
            if (!(error instanceof EventDecodeError)) throw error;
            this.decodeErrors++;
            return;
          }
          onEvent(event);
        },
      );
    } catch (error) {
      this.object.close();
      throw error;
    }
  }

  static open(log: Logger, onEvent: (event: KernelEvent) => void, options: { objectPath?: string; syscalls: boolean }): ColdStartProbes {
    const objectPath = options.objectPath ?? COLDSTART_OBJECT;
    if (!fs.existsSync(objectPath)) throw new Error(`${objectPath} is missing: build it with scripts/build-bpf.sh (npm run setup)`);
    return new ColdStartProbes(objectPath, log, onEvent, options.syscalls);
  }

  /** Makes these processes the roots whose descendants are traced (replacing the previous roots). */
  setRoots(pids: number[]): void {
    for (const key of this.roots.keys()) this.roots.delete(key);
    for (const pid of pids) this.roots.update(u32(pid), Buffer.from([1]));
  }

  /** Follows processes that already exist (the runtime's children from before the agent started). */
  track(pids: number[], nowNs: number): void {
    for (const pid of pids) {
      const value = Buffer.alloc(TRACKED_VALUE_SIZE);
      value.writeBigUInt64LE(BigInt(nowNs), 0);
      this.tracked.update(u32(pid), value);
    }
  }

  /** Attaches a binary's planned uprobes once; later calls for the same binary return the first result. */
  attachPlan(binary: string, plan: ProbePlan): AttachResult {
    const known = this.uprobes.get(binary);
    if (known !== undefined) return known.result;
    // Planned while detached: none of its points is attached until reattach() attaches them all.
    const attached = this.attachPoints(binary, this.detached ? { ...plan, points: [] } : plan);
    this.uprobes.set(binary, { plan, ...attached });
    return attached.result;
  }

  /**
   * Destroys every link (tracepoints, syscall hooks, uprobes): the kernel runs none of these
   * programs until reattach(). The maps, the events not yet drained, and each binary's plan stay.
   */
  detach(): void {
    this.detached = true;
    for (const link of this.links) link.destroy();
    this.links = [];
    this.setSyscallHooks(false);
    for (const entry of this.uprobes.values()) {
      for (const link of entry.links) link.destroy();
      entry.links = [];
    }
  }

  /**
   * Attaches again what detach() removed, each binary from its plan, and answers each binary's
   * result. The processes followed before are forgotten: their exits went unseen meanwhile.
   * Throws when a tracepoint or the syscall hooks refuse; a uprobe that refuses is in its
   * binary's result.
   */
  reattach(syscalls: boolean): AttachResult[] {
    for (const key of [...this.tracked.keys()]) this.tracked.delete(key);
    this.attachTracepoints();
    this.setSyscallHooks(syscalls);
    this.detached = false;
    return [...this.uprobes].map(([binary, entry]) => Object.assign(entry, this.attachPoints(binary, entry.plan)).result);
  }

  /** Attaches the syscall hooks, or detaches them; a failed attach leaves them detached and throws. */
  setSyscallHooks(on: boolean): void {
    if (on === this.syscallHooks) return;
    if (!on) {
      for (const link of this.syscallLinks!) link.destroy();
      this.syscallLinks = undefined;
      return;
    }
    const links: BpfLink[] = [];
    try {
      for (const program of SYSCALL_PROGRAMS) links.push(this.object.attach(program));
    } catch (error) {
      for (const link of links) link.destroy();
      throw error;
    }
    this.syscallLinks = links;
  }

  /** False between detach() and reattach(). */
  get attached(): boolean {
    return !this.detached;
  }

  get syscallHooks(): boolean {
    return this.syscallLinks !== undefined;
  }

  get attachedCount(): number {
    let count = this.links.length + (this.syscallLinks?.length ?? 0);
    for (const entry of this.uprobes.values()) count += entry.links.length;
    return count;
  }

  counters(): { emitted: number; dropped: number; trackFull: number } {
    return {
      emitted: Number(sumPerCpuU64(this.stats, STAT.emitted)),
      dropped: Number(sumPerCpuU64(this.stats, STAT.dropped)),
      trackFull: Number(sumPerCpuU64(this.stats, STAT.trackFull)),
    };
  }

  /**
   * Hands every kernel event waiting in the ring to onEvent. Call it whenever awake anyway:
   * with nothing waiting it costs one atomic load. A handler that throws is logged and the
   * events after it are still delivered.
   */
  drain(): void {
    for (;;) {
      try {
        this.ring.drain();
        return;
      } catch (error) {
        this.log.error(`handling a kernel event: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  close(): void {
    this.object.close();
  }

  private attachTracepoints(): void {
    for (const program of TRACEPOINTS) this.links.push(this.object.attach(program));
  }

  private attachPoints(binary: string, plan: ProbePlan): { links: BpfLink[]; result: AttachResult } {
    const result: AttachResult = { binary, attached: [], markers: [], missing: [...plan.missing], errors: [] };
    const links: BpfLink[] = [];
    for (const point of plan.points) {
      try {
        links.push(this.attachPoint(point));
        result.attached.push(point.symbol);
        result.markers.push(point.cookie & COOKIE_MARKER_MASK);
      } catch (error) {
        result.errors.push(`${point.symbol}: ${(error as Error).message}`);
      }
    }
    return { links, result };
  }

  private attachPoint(point: ProbePoint): BpfLink {
    return this.object.attachUprobe(MARKER_PROGRAM, point.binary, point.fileOffset, point.cookie);
  }
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

/** The runtime's descendants that exist now, from /proc (children files, recursively). */
export function descendantsOf(root: number): number[] {
  const found: number[] = [];
  const visit = (pid: number): void => {
    for (const child of childrenOf(pid)) {
      found.push(child);
      visit(child);
    }
  };
  visit(root);
  return found;
}

/** A process's children that exist now (of every thread of it); none when it is gone. */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const task of tasks) {
    let children: string;
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.trim().split(/\s+/)) {
      if (child !== '') found.push(Number(child));
    }
  }
  return found;
}
