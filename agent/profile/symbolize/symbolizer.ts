// Turns the instruction pointers of sampled stacks into frames. User addresses are looked up
// in the process's mappings (kept after it exits), then in the binary mapped there (Go's
// .gopclntab, ELF symbols) or, for anonymous memory, in V8's perf map; kernel addresses in
// /proc/kallsyms. An address that cannot be named still gives a frame, so stacks keep their
// depth and samples are never dropped.
import path from 'node:path';
import { defaultSymbolCache, type SymbolCache } from '../../symbols/cache.js';
import type { Frame } from '../model.js';
import { BinarySymbolsCache, type BinarySymbols } from './elf-symbols.js';
import { DEFAULT_KALLSYMS_PATH, KernelSymbols, UNKNOWN_KERNEL_FRAME } from './kallsyms.js';
import { Memo } from './memo.js';
import { PerfMap } from './perf-map.js';
import { DEFAULT_PROC_ROOT, MapsSnapshot, processStartTime, type Mapping } from './proc-maps.js';

export interface SymbolizerOptions {
  /** Parsed binaries, shared with whoever else reads them (probe resolution). */
  cache?: SymbolCache;
  kallsymsPath?: string;
  /** Where /proc is (tests point it elsewhere). */
  procRoot?: string;
  /** Where Node processes write perf-PID.map. */
  perfMapDir?: string;
  /**
   * How a path in the processes' mount namespace (a mapped file, a perf map) opens here: as
   * it is beside them on one host, through /proc/PID/root from another container.
   */
  openPath?: (file: string) => string;
}

export interface ResolveHint {
  /** The process's main executable, used when its mappings were never read (it exited too soon). */
  binary?: string;
  /** The word at the user stack pointer when the sample was taken (see withFramelessLeafCaller). */
  leafReturn?: bigint;
}

export const UNMAPPED_MODULE = '[unmapped]';
export const ANONYMOUS_MODULE = '[anon]';
export const UNKNOWN_NAME = '[unknown]';

/**
 * A miss re-reads a live process's maps at most this often: frame-pointer unwinding through
 * code built without frame pointers yields garbage addresses, which would otherwise re-read
 * the maps for every stack.
 */
const MISS_REFRESH_INTERVAL_MS = 1000;
/** Distinct problems held until takeErrors(); more are dropped. */
const MAX_PENDING_ERRORS = 100;
/** User addresses are below 2^47; above 2^53 is the kernel half, where no user mapping is. */
const MAX_USER_ADDRESS = BigInt(Number.MAX_SAFE_INTEGER);

interface ProcessState {
  pid: number;
  /** Undefined when the maps were never read: the process was gone before observe(). */
  snapshot: MapsSnapshot | undefined;
  perfMap: PerfMap;
  /** The batch in which the perf map was last brought up to date. */
  perfMapBatch: number;
  /** Symbols per file opened for this process; null when it could not be read. */
  binaries: Map<string, BinarySymbols | null>;
  /** When a miss last re-read the maps. */
  lastMissRefreshMs: number | undefined;
}

export class Symbolizer {
  private readonly binaries: BinarySymbolsCache;
  private readonly kallsymsPath: string;
  private readonly procRoot: string;
  private readonly perfMapDir: string;
  private readonly openPath: (file: string) => string;
  private readonly processes = new Map<number, ProcessState>();
  /** Undefined until first needed; null when kallsyms could not be read. */
  private kernel: KernelSymbols | null | undefined;
  private readonly unknownFrames = new Memo<string, Frame>(256);
  private readonly pendingErrors = new Map<string, Error>();
  private batch = 0;

  constructor(options: SymbolizerOptions = {}) {
    this.binaries = new BinarySymbolsCache(options.cache ?? defaultSymbolCache);
    this.kallsymsPath = options.kallsymsPath ?? DEFAULT_KALLSYMS_PATH;
    this.procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
    this.perfMapDir = options.perfMapDir ?? '/tmp';
    this.openPath = options.openPath ?? ((file) => file);
  }

  /**
   * Snapshots the process's mappings while it is alive, so its samples resolve after it exits.
   * Calling again keeps the snapshot unless `refresh` is set or the pid now belongs to another
   * process. A process that runs `binary`, a self-contained executable (static, at fixed
   * addresses: Go's default build), needs none and is left alone: reading /proc twice per
   * worker was a fifth of the agent's main thread under 50 cold starts a second. Never
   * throws: a process that is gone is left as it was, and what could not be read is reported
   * by takeErrors().
   */
  observe(pid: number, options: { refresh?: boolean; binary?: string } = {}): void {
    if (options.binary !== undefined && options.binary !== '' && this.load(this.openPath(options.binary), path.basename(options.binary))?.selfContained === true) return;
    this.track(pid, options.refresh === true);
  }

  /**
   * The frames of one sample, root first: the user stack from its outermost caller to the
   * leaf, then the kernel stack likewise. `user` and `kernel` are leaf first, as the kernel
   * gives them. Frames are shared between results: do not modify them.
   */
  resolve(pid: number, user: readonly bigint[], kernel: readonly bigint[], hint: ResolveHint = {}): Frame[] {
    const state = this.processes.get(pid) ?? this.track(pid, false);
    const frames: Frame[] = [];
    let hinted: BinarySymbols | null | undefined;
    const mainExecutable = (): BinarySymbols | null => {
      if (hinted === undefined) hinted = hint.binary === undefined || hint.binary === '' ? null : this.load(this.openPath(hint.binary), path.basename(hint.binary));
      return hinted;
    };
    const stack = this.withFramelessLeafCaller(state, user, hint.leafReturn, mainExecutable);
    for (let i = stack.length - 1; i >= 0; i--) frames.push(this.userFrame(state, callSite(stack[i]!, i === 0), mainExecutable));
    for (let i = kernel.length - 1; i >= 0; i--) frames.push(this.kernelFrame(callSite(kernel[i]!, i === 0)));
    return frames;
  }

  /**
   * Starts a batch of samples (one collection): each process's perf map is brought up to date
   * once in it, before its first JIT frame is resolved, so that code which replaced other code
   * since the last batch is named as what it is now.
   */
  newBatch(): void {
    this.batch++;
  }

  /** Drops what is kept for a process (its snapshot and perf map). */
  forget(pid: number): void {
    this.processes.delete(pid);
  }

  /** What could not be read since the last call (a binary, kallsyms, maps, a perf map), each once. */
  takeErrors(): Error[] {
    const errors = [...this.pendingErrors.values()];
    this.pendingErrors.clear();
    return errors;
  }

  /** The state of a process, its maps read now unless a snapshot of this very process is kept. */
  private track(pid: number, refresh: boolean): ProcessState {
    const known = this.processes.get(pid);
    if (known?.snapshot !== undefined && !refresh) {
      const startTime = this.guard(() => processStartTime(pid, this.procRoot));
      if (startTime === undefined || startTime === known.snapshot.startTime) return known;
    }
    const snapshot = this.guard(() => MapsSnapshot.take(pid, this.procRoot));
    // Gone (keep what was read), or the same process read again.
    if (known !== undefined && (snapshot === undefined || snapshot.startTime === known.snapshot?.startTime)) {
      known.snapshot = snapshot ?? known.snapshot;
      return known;
    }
    const state: ProcessState = {
      pid,
      snapshot,
      perfMap: new PerfMap(this.openPath(path.join(this.perfMapDir, `perf-${pid}.map`))),
      perfMapBatch: -1,
      binaries: new Map(),
      lastMissRefreshMs: undefined,
    };
    this.processes.set(pid, state);
    return state;
  }

  private userFrame(state: ProcessState, address: bigint, mainExecutable: () => BinarySymbols | null): Frame {
    if (address > MAX_USER_ADDRESS) return this.unknownFrame(UNMAPPED_MODULE);
    const at = Number(address);
    const place = this.place(state, at, mainExecutable);
    if ('binary' in place) return (place.vaddr === undefined ? undefined : place.binary.frameAt(place.vaddr)) ?? this.unknownFrame(place.binary.module);
    if (place.kind === 'jit') return this.jitFrame(state, at) ?? this.unknownFrame(place.module);
    return this.unknownFrame(place.module);
  }

  /** Where an address is: in a binary (at a file address), in JIT code, or somewhere unnamed. */
  private place(state: ProcessState, at: number, mainExecutable: () => BinarySymbols | null): { binary: BinarySymbols; vaddr: number | undefined } | { kind: 'jit' | 'none'; module: string } {
    let mapping = state.snapshot?.find(at);
    if (mapping === undefined && this.refreshAfterMiss(state)) mapping = state.snapshot?.find(at);
    if (mapping === undefined) {
      if (state.snapshot === undefined) {
        const main = mainExecutable();
        if (main !== null && main.absolute && main.loads(at)) return { binary: main, vaddr: at };
      }
      return { kind: 'jit', module: UNMAPPED_MODULE };
    }
    if (mapping.kind === 'anonymous') return { kind: 'jit', module: ANONYMOUS_MODULE };
    if (mapping.kind === 'special') return { kind: 'none', module: mapping.path };
    const symbols = this.mappedBinary(state, mapping);
    if (symbols === null) return { kind: 'none', module: path.basename(mapping.path) };
    return { binary: symbols, vaddr: symbols.fileAddress(at, mapping) };
  }

  /**
   * A frame-pointer walk skips the caller of a leaf that has not pushed its frame yet (a
   * frameless Go leaf, or a PC in a prologue): the frame pointer is still the caller's. Go's
   * pcsp table says when that is so; then the return address is the word at SP.
   */
  private withFramelessLeafCaller(state: ProcessState, user: readonly bigint[], leafReturn: bigint | undefined, mainExecutable: () => BinarySymbols | null): readonly bigint[] {
    if (leafReturn === undefined || leafReturn === 0n || user.length === 0 || user[0]! > MAX_USER_ADDRESS || leafReturn === user[1]) return user;
    const place = this.place(state, Number(user[0]!), mainExecutable);
    if (!('binary' in place) || place.vaddr === undefined || !place.binary.returnAddressAtSp(place.vaddr)) return user;
    return [user[0]!, leafReturn, ...user.slice(1)];
  }

  private kernelFrame(address: bigint): Frame {
    if (this.kernel === undefined) this.kernel = this.guard(() => KernelSymbols.load(this.kallsymsPath)) ?? null;
    return this.kernel?.frameAt(address) ?? UNKNOWN_KERNEL_FRAME;
  }

  private jitFrame(state: ProcessState, address: number): Frame | undefined {
    if (state.perfMapBatch !== this.batch) {
      state.perfMapBatch = this.batch;
      this.guard(() => state.perfMap.refresh());
    }
    return this.guard(() => state.perfMap.frameAt(address));
  }

  private mappedBinary(state: ProcessState, mapping: Mapping): BinarySymbols | null {
    // A deleted file is still reachable through the process's map_files while it runs.
    const file = mapping.deleted ? path.join(this.procRoot, String(state.pid), 'map_files', `${mapping.start.toString(16)}-${mapping.end.toString(16)}`) : this.openPath(mapping.path);
    let symbols = state.binaries.get(file);
    if (symbols === undefined) {
      symbols = this.load(file, path.basename(mapping.path));
      state.binaries.set(file, symbols);
    }
    return symbols;
  }

  private load(file: string, module: string): BinarySymbols | null {
    return this.guard(() => this.binaries.get(file, module)) ?? null;
  }

  /** Re-reads a live process's maps after an address was in none of them (code mapped since). */
  private refreshAfterMiss(state: ProcessState): boolean {
    const now = Date.now();
    if (state.snapshot === undefined || (state.lastMissRefreshMs !== undefined && now - state.lastMissRefreshMs < MISS_REFRESH_INTERVAL_MS)) return false;
    state.lastMissRefreshMs = now;
    const fresh = this.guard(() => MapsSnapshot.take(state.pid, this.procRoot));
    // Gone, or the pid is another process's now: the snapshot stays the best account.
    if (fresh === undefined || fresh.startTime !== state.snapshot.startTime) return false;
    state.snapshot = fresh;
    return true;
  }

  private unknownFrame(module: string): Frame {
    let frame = this.unknownFrames.get(module);
    if (frame === undefined) {
      frame = { name: UNKNOWN_NAME, module, kind: 'unknown' };
      this.unknownFrames.set(module, frame);
    }
    return frame;
  }

  /** Runs a read; a failure is held for takeErrors() and reads as undefined. */
  private guard<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (this.pendingErrors.size < MAX_PENDING_ERRORS) this.pendingErrors.set(failure.message, failure);
      return undefined;
    }
  }
}

/**
 * The address to look up for a stack entry. Every entry but the leaf is a return address, the
 * instruction after a call: one byte back is the call itself, which gives the line of the call
 * and keeps a call at the very end of a function (to a function that never returns) in it.
 */
function callSite(address: bigint, leaf: boolean): bigint {
  return leaf ? address : address - 1n;
}
