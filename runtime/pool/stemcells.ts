import { NODE_WORKER_MAIN } from '../build/artifact.js';
import { DEFAULT_LIMITS } from '../manifest/spec.js';
import type { EventLog } from '../events.js';
import type { Logger } from '../../shared/log.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Worker, WorkerHooks } from '../supervisor/worker.js';
import { BOOT_NICE, canRestorePriority, DEFAULT_NICE, setProcessNice } from '../supervisor/boot-priority.js';
import { hearthEnv } from './version.js';

/** The function name stem cells carry until they are specialised. */
export const STEM_CELL_FUNCTION = '(stem-cell)';
const STEM_MEMORY_MB = 1024;
const MAX_BACKOFF_MS = 30_000;
/**
 * How long after a specialised cell's first answer its replacement starts to boot. Booting
 * at once, even at BOOT_NICE, slowed that answer's way to the client by about 0.7 ms at the
 * median (the boot's page faults and wakeups share the host with it); a boot takes longer
 * than this delay anyway, so a burst loses little.
 */
const REPLACEMENT_DELAY_MS = 30;

interface Flavour {
  flags: string[];
  users: number;
  ready: Worker[];
  starting: number;
  failures: number;
  retry: NodeJS.Timeout | undefined;
  replacement: NodeJS.Timeout | undefined;
}

/**
 * Node stem cells: generic Node workers started ahead of need, one set per combination of
 * V8 flags in use, that become a worker of one function on demand (its code loaded, its
 * state mapped), so a Node cold start costs the specialisation instead of Node's ~30 ms boot.
 * A stem cell serves one function for its whole life.
 */
export class StemCells {
  private readonly flavours = new Map<string, Flavour>();
  private closed = false;
  /** Stem cells boot at BOOT_NICE while this holds (see boot-priority.ts). */
  private bootLow = canRestorePriority();
  private readonly lowered = new WeakSet<Worker>();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly perFlavour: number,
    private readonly log: Logger,
    private readonly events: EventLog,
  ) {}

  get enabled(): boolean {
    return this.perFlavour > 0;
  }

  /** A function with this flavour is deployed: keep stem cells of it ready. */
  use(flavour: string): void {
    if (!this.enabled) return;
    let entry = this.flavours.get(flavour);
    if (entry === undefined) {
      entry = { flags: flavour === '' ? [] : flavour.split(' '), users: 0, ready: [], starting: 0, failures: 0, retry: undefined, replacement: undefined };
      this.flavours.set(flavour, entry);
    }
    entry.users++;
    this.topUp(entry);
  }

  unuse(flavour: string): void {
    const entry = this.flavours.get(flavour);
    if (entry === undefined) return;
    entry.users--;
    if (entry.users > 0) return;
    this.flavours.delete(flavour);
    clearTimeout(entry.retry);
    clearTimeout(entry.replacement);
    for (const cell of entry.ready) cell.shutdown('no function uses its flavour any more');
  }

  /**
   * A ready stem cell of this flavour, now bound to the caller's hooks; undefined if none is
   * ready. Its replacement boots REPLACEMENT_DELAY_MS after it has answered its first request
   * (or at once if it died): a Node boot is tens of ms of CPU that would otherwise compete
   * with the cold start it is replacing.
   * A cell that became a pre-warmed worker has no first request to wait for: its replacement
   * boots when it is ready.
   */
  take(flavour: string, hooks: WorkerHooks): Worker | undefined {
    const entry = this.flavours.get(flavour);
    const cell = entry?.ready.pop();
    if (entry === undefined || cell === undefined) return undefined;
    cell.rebind({
      ...hooks,
      ready: (worker) => {
        hooks.ready(worker);
        if (!worker.busy) this.topUp(entry);
      },
      slotFree: (worker) => {
        hooks.slotFree(worker);
        this.replaceSoon(entry);
      },
      exited: (worker, info) => {
        hooks.exited(worker, info);
        this.topUp(entry);
      },
    });
    return cell;
  }

  readyCount(): number {
    let count = 0;
    for (const entry of this.flavours.values()) count += entry.ready.length;
    return count;
  }

  close(): void {
    this.closed = true;
    for (const entry of this.flavours.values()) {
      clearTimeout(entry.retry);
      clearTimeout(entry.replacement);
      for (const cell of entry.ready) cell.shutdown('runtime shutting down');
    }
    this.flavours.clear();
  }

  private topUp(entry: Flavour): void {
    if (this.closed || entry.users <= 0 || entry.retry !== undefined) return;
    while (entry.ready.length + entry.starting < this.perFlavour) {
      if (!this.startOne(entry)) return;
    }
  }

  /** Called after every answer of a specialised cell, so cheap when nothing is missing. */
  private replaceSoon(entry: Flavour): void {
    if (entry.replacement !== undefined || entry.ready.length + entry.starting >= this.perFlavour) return;
    entry.replacement = setTimeout(() => {
      entry.replacement = undefined;
      this.topUp(entry);
    }, REPLACEMENT_DELAY_MS);
    entry.replacement.unref();
  }

  private startOne(entry: Flavour): boolean {
    const id = this.supervisor.allocateId();
    this.events.publish({ type: 'spawn_requested', function: STEM_CELL_FUNCTION, workerId: id, reason: 'stem' });
    const hooks: WorkerHooks = {
      ready: (cell) => {
        entry.starting--;
        entry.failures = 0;
        if (this.closed || !this.flavours.has(entry.flags.join(' '))) cell.shutdown('not needed any more');
        else if (this.restorePriority(cell)) entry.ready.push(cell);
      },
      slotFree: () => undefined,
      invocationEnded: () => undefined,
      exited: (cell, info) => {
        const index = entry.ready.indexOf(cell);
        if (index >= 0) entry.ready.splice(index, 1);
        if (this.closed) return;
        if (cell.readyAt === 0) {
          entry.starting = Math.max(0, entry.starting - 1);
          this.failed(entry, `stem cell ${cell.pid} ${info.reason}${info.lastOutput.length ? `: ${info.lastOutput.slice(-2).join(' | ')}` : ''}`);
        } else {
          this.topUp(entry);
        }
      },
    };
    try {
      const cell = this.supervisor.start(
        id,
        {
          fn: STEM_CELL_FUNCTION,
          file: process.execPath,
          argv: [process.execPath, ...entry.flags, NODE_WORKER_MAIN],
          env: { ...hearthEnv(STEM_CELL_FUNCTION, id, 1, undefined), HEARTH_ROLE: 'stem' },
          concurrency: 1,
          memoryMb: STEM_MEMORY_MB,
          pids: DEFAULT_LIMITS.pids,
          uidPids: DEFAULT_LIMITS.pids,
          // Filtered from birth; its function's ids come with its specialisation (it keeps root's until then, to take them).
          sandbox: { seccomp: true },
          role: 'stem',
        },
        hooks,
      );
      entry.starting++;
      this.lowerPriority(cell);
      return true;
    } catch (error) {
      this.failed(entry, (error as Error).message);
      return false;
    }
  }

  private lowerPriority(cell: Worker): void {
    if (!this.bootLow) return;
    try {
      setProcessNice(cell.pid, BOOT_NICE);
      this.lowered.add(cell);
    } catch (error) {
      this.bootLow = false;
      this.log.warn(`stem cells boot at the default priority from now on: ${(error as Error).message}`);
    }
  }

  /** Puts a cell that booted at BOOT_NICE back to the default; a cell that cannot be is shut down. */
  private restorePriority(cell: Worker): boolean {
    if (!this.lowered.delete(cell)) return true;
    try {
      setProcessNice(cell.pid, DEFAULT_NICE);
      return true;
    } catch (error) {
      this.bootLow = false;
      this.log.warn(`stem cell ${cell.pid} shut down, and stem cells boot at the default priority from now on: ${(error as Error).message}`);
      cell.shutdown('its priority could not be restored');
      return false;
    }
  }

  private failed(entry: Flavour, why: string): void {
    entry.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** (entry.failures - 1));
    this.log.warn(`stem cell failed to start (${why}); retrying in ${delay} ms`);
    clearTimeout(entry.retry);
    entry.retry = setTimeout(() => {
      entry.retry = undefined;
      this.topUp(entry);
    }, delay);
    entry.retry.unref();
  }
}
