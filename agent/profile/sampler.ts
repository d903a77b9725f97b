import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, onlineCpus, openCpuClock, openProcessClock, sumPerCpuU64, type BpfLink, type BpfMap } from '../bpf/index.js';

/** bpf/build/profile.bpf.o, built from bpf/profile.bpf.c by scripts/build-bpf.sh. */
export const PROFILE_OBJECT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../bpf/build/profile.bpf.o');

// Layouts from bpf/profile.h.
const SAMPLE_KEY = { pid: 0, userStack: 4, kernelStack: 8, cold: 12, leafReturn: 16 } as const;
const STACK_DEPTH = 127;
const PSTAT = { samples: 0, stackLost: 1, keysFull: 2 } as const;

export interface SamplerOptions {
  /** Rate in the cold-start window (exec to ready) of a worker, per CPU. */
  coldHz: number;
  /** Rate for every other tracked process. */
  steadyHz: number;
  objectPath?: string;
}

/** One kernel aggregate: how often this pid was caught in these stacks, in one window. */
export interface RawSample {
  pid: number;
  cold: boolean;
  /** Instruction pointers, leaf first; empty when the stack could not be stored. */
  user: bigint[];
  kernel: bigint[];
  /** The user stack was lost (stack table full or a hash collision). */
  userLost: boolean;
  /** The word at the user stack pointer: the leaf's return address if it has no frame yet. */
  leafReturn: bigint;
  count: number;
}

export interface SamplerCounters {
  samples: number;
  stackLost: number;
  keysFull: number;
}

/** A program on a clock on every CPU, with its links while attached. */
interface CpuClock {
  program: string;
  hz: number;
  links: BpfLink[];
}

/**
 * CPU sampling of the tracked processes (bpf/profile.bpf.c), counted in the kernel per (pid,
 * stacks, window): a low-rate CPU clock on every CPU, and a high-rate one on each process
 * followed through its start (followProcess), or on every CPU when processes cannot be
 * followed one by one. collect() reads and clears the counts in one call and fetches each
 * distinct stack once.
 */
export class Sampler {
  private readonly object: BpfObject;
  /** Per generation: [samples, stacks]. */
  private readonly generations: [BpfMap, BpfMap][];
  private readonly gen: BpfMap;
  private active = 0;
  /** The clocks on every CPU: the steady rate's, and the cold-start rate's when processes cannot be followed one by one. */
  private readonly cpuClocks: CpuClock[] = [];
  private readonly stats: BpfMap;

  private constructor(objectPath: string, tracked: BpfMap, readonly options: SamplerOptions) {
    this.object = BpfObject.open(objectPath);
    try {
      this.object.reuseMap('hearth_tracked', tracked);
      this.object.load();
      this.generations = [0, 1].map((g) => [this.object.map(`hearth_samples_${g}`), this.object.map(`hearth_stacks_${g}`)]);
      this.gen = this.object.map('hearth_profile_gen');
      this.stats = this.object.map('hearth_profile_stats');
      this.clockOnEveryCpu('sample_steady', options.steadyHz);
    } catch (error) {
      this.object.close();
      throw error;
    }
  }

  /** `tracked` is the cold-start object's process map: the sampler follows the same processes. */
  static open(tracked: BpfMap, options: SamplerOptions): Sampler {
    for (const [name, hz] of [['coldHz', options.coldHz], ['steadyHz', options.steadyHz]] as const) {
      if (!Number.isInteger(hz) || hz < 1 || hz > 10_000) throw new RangeError(`sampler ${name} must be an integer from 1 to 10000 (got ${hz})`);
    }
    const objectPath = options.objectPath ?? PROFILE_OBJECT;
    if (!fs.existsSync(objectPath)) throw new Error(`${objectPath} is missing: build it with scripts/build-bpf.sh (npm run setup)`);
    return new Sampler(objectPath, tracked, options);
  }

  /**
   * Everything counted since the last call. The programs move to the other generation first,
   * so the counts and stacks read here are complete and nothing refers to them afterwards:
   * each stack is read and removed in one call, leaving the table empty for its next turn.
   */
  collect(): RawSample[] {
    const [samples, stacks] = this.generations[this.active]!;
    this.active = 1 - this.active;
    this.gen.update(u32(0), u32(this.active));
    const entries = samples.lookupBatch(samples.maxEntries, true);
    const stackCache = new Map<number, bigint[]>();
    const stack = (id: number): bigint[] => {
      if (id < 0) return [];
      let frames = stackCache.get(id);
      if (frames === undefined) {
        frames = readStack(stacks, id);
        stackCache.set(id, frames);
      }
      return frames;
    };
    const out: RawSample[] = [];
    for (const { key, value } of entries) {
      const userStack = key.readInt32LE(SAMPLE_KEY.userStack);
      const user = stack(userStack);
      out.push({
        pid: key.readUInt32LE(SAMPLE_KEY.pid),
        cold: key.readUInt32LE(SAMPLE_KEY.cold) === 1,
        user,
        kernel: stack(key.readInt32LE(SAMPLE_KEY.kernelStack)),
        userLost: user.length === 0,
        leafReturn: key.readBigUInt64LE(SAMPLE_KEY.leafReturn),
        count: Number(value.readBigUInt64LE(0)),
      });
    }
    return out;
  }

  /**
   * Samples a process at the cold-start rate from now on, with the threads and children it
   * starts, across its exec (sample_cold counts it only between exec and ready). Destroying
   * the link stops it. Throws a BpfError: ESRCH when the process is gone, EACCES or EPERM
   * when the agent may not follow it.
   */
  followProcess(pid: number): BpfLink {
    return this.object.attachPerfEvent('sample_cold', openProcessClock(pid, this.options.coldHz));
  }

  /** Cold-start sampling on every CPU, for every tracked process in its start, from now on. */
  sampleColdOnEveryCpu(): void {
    this.clockOnEveryCpu('sample_cold', this.options.coldHz);
  }

  /** Stops the clocks on every CPU (those following a process are their owners' to destroy) until reattachClocks(). */
  detachClocks(): void {
    for (const clock of this.cpuClocks) {
      for (const link of clock.links) link.destroy();
      clock.links = [];
    }
  }

  reattachClocks(): void {
    for (const clock of this.cpuClocks) this.attachOnEveryCpu(clock);
  }

  counters(): SamplerCounters {
    return {
      samples: Number(sumPerCpuU64(this.stats, PSTAT.samples)),
      stackLost: Number(sumPerCpuU64(this.stats, PSTAT.stackLost)),
      keysFull: Number(sumPerCpuU64(this.stats, PSTAT.keysFull)),
    };
  }

  close(): void {
    this.object.close();
  }

  private clockOnEveryCpu(program: string, hz: number): void {
    const clock: CpuClock = { program, hz, links: [] };
    this.cpuClocks.push(clock);
    this.attachOnEveryCpu(clock);
  }

  private attachOnEveryCpu(clock: CpuClock): void {
    // Each link owns its event's fd from here on (and closes it if the attach fails).
    for (const cpu of onlineCpus()) clock.links.push(this.object.attachPerfEvent(clock.program, openCpuClock(cpu, clock.hz)));
  }
}

/** A stack's instruction pointers, leaf first, up to the first zero; removed from the table. */
function readStack(stacks: BpfMap, id: number): bigint[] {
  const value = stacks.lookupAndDelete(u32(id));
  if (value === undefined) return [];
  const frames: bigint[] = [];
  for (let i = 0; i < STACK_DEPTH; i++) {
    const ip = value.readBigUInt64LE(i * 8);
    if (ip === 0n) break;
    frames.push(ip);
  }
  return frames;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}
