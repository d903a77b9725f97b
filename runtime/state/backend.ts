import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as native from '../../native/index.js';
import { HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { HUGE_PAGE_BYTES, HugePagePool, hugePagesFor } from './hugepages.js';

/**
 * Where state bytes live, fastest first (../shared/notes/machine-floors.md §4: making 1 GiB
 * resident costs 0.25 ms on 2 MiB hugetlb pages, 0.6-0.9 ms on a huge= tmpfs, 70-95 ms on
 * 4 KiB tmpfs pages, and each exiting worker pays ~30 ms of munmap on the latter):
 * - hugetlb: a sealed memfd on 2 MiB hugetlb pages;
 * - thp: an unnamed file on a tmpfs this runtime mounted with huge=within_size;
 * - tmpfs: a sealed memfd on 4 KiB shmem pages.
 * memfds and unnamed files vanish with their last fd, so a crash leaves no state files.
 */
export const BACKENDS = ['hugetlb', 'thp', 'tmpfs'] as const;
export type BackendKind = (typeof BACKENDS)[number];
export type BackendChoice = BackendKind | 'auto';

export interface Allocation {
  /** Open read-write; closed by the caller after the bytes are in. */
  fd: number;
  kind: BackendKind;
  /** Size of the backing file: the state size rounded up to the backend's page size. */
  fileSize: number;
  /** Huge pages reserved for this allocation (hugetlb only). */
  hugePages: number;
  /** memfds can be sealed against writes; unnamed tmpfs files cannot (workers get read-only fds either way). */
  sealable: boolean;
}

const O_TMPFILE = 0o20200000;
const THP_DIR = 'thp';

export class StateBackends {
  private readonly order: BackendKind[] = [];
  private thpDir: string | undefined;

  constructor(
    private readonly log: Logger,
    private readonly runDir: string,
    private readonly choice: BackendChoice,
    private readonly hugePool: HugePagePool,
    private readonly isRoot: boolean,
  ) {}

  /** Unmounts the tmpfs a dead runtime left behind. */
  static cleanStale(staleDir: string): void {
    const mount = path.join(staleDir, THP_DIR);
    if (isMountPoint(mount)) execFileSync('umount', ['-l', mount]);
  }

  init(): void {
    const wanted: BackendKind[] = this.choice === 'auto' ? [...BACKENDS] : [this.choice];
    for (const kind of wanted) {
      const missing = this.prepare(kind);
      if (missing === undefined) this.order.push(kind);
      else if (this.choice === kind) throw new HearthError('HEARTH_ERR_NOT_SUPPORTED', `state backend ${kind}: ${missing}`);
      else this.log.info(`state backend ${kind} not used: ${missing}`);
    }
    if (this.order[0] === 'tmpfs') {
      this.log.warn('state lives on 4 KiB tmpfs pages: mapping 1 GiB costs ~80 ms per worker instead of <1 ms; run as root or provide huge pages');
    }
    this.log.info(`state backends, in order of preference: ${this.order.join(', ')}`);
  }

  get preferred(): BackendKind {
    return this.order[0] ?? 'tmpfs';
  }

  /** A writable file for `size` bytes on the best backend that has room. */
  allocate(size: number, label: string): Allocation {
    let lastError: unknown;
    for (const kind of this.order) {
      try {
        const allocation = this.allocateOn(kind, size, label);
        if (allocation !== undefined) return allocation;
      } catch (error) {
        lastError = error;
        this.log.warn(`state ${label}: ${kind} backend failed (${(error as Error).message}); trying the next one`);
      }
    }
    const why = lastError === undefined ? '' : `: ${(lastError as Error).message}`;
    throw new HearthError('HEARTH_ERR_STATE_NO_SPACE', `no state backend has room for ${label} (${size} bytes)${why}`, {
      cause: lastError,
      details: { bytes: size },
    });
  }

  release(allocation: Pick<Allocation, 'hugePages'>): void {
    if (allocation.hugePages > 0) this.hugePool.giveBack(allocation.hugePages);
  }

  /** Undoes what init() did to the host. */
  close(): void {
    this.hugePool.releaseAll();
    if (this.thpDir !== undefined && isMountPoint(this.thpDir)) {
      try {
        execFileSync('umount', ['-l', this.thpDir]);
        this.log.info(`unmounted ${this.thpDir}`);
      } catch (error) {
        this.log.warn(`could not unmount ${this.thpDir}: ${(error as Error).message}`);
      }
    }
  }

  /** Returns why the backend cannot be used, or undefined when it is ready. */
  private prepare(kind: BackendKind): string | undefined {
    switch (kind) {
      case 'hugetlb':
        if (!HugePagePool.present()) return 'the kernel has no 2 MiB huge page pool';
        if (!this.isRoot && this.hugePool.available() === 0) return 'no free huge pages and not root (reserve some with vm.nr_hugepages)';
        return undefined;
      case 'thp': {
        if (!this.isRoot) return 'mounting a huge= tmpfs needs root';
        const mode = readShmemEnabled();
        if (mode === 'deny') return 'transparent huge pages for shmem are denied (shmem_enabled=deny)';
        const dir = path.join(this.runDir, THP_DIR);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        try {
          execFileSync('mount', ['-t', 'tmpfs', '-o', 'huge=within_size,mode=0700', 'hearth-state', dir], { stdio: 'pipe' });
        } catch (error) {
          return `mount -t tmpfs -o huge=within_size failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
        }
        this.thpDir = dir;
        this.log.info(`mounted a tmpfs with huge=within_size at ${dir} for state (unmounted at shutdown)`);
        return undefined;
      }
      case 'tmpfs':
        return undefined;
    }
  }

  private allocateOn(kind: BackendKind, size: number, label: string): Allocation | undefined {
    const fileSize = kind === 'tmpfs' ? size : Math.max(HUGE_PAGE_BYTES, Math.ceil(size / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES);
    switch (kind) {
      case 'hugetlb': {
        const pages = hugePagesFor(fileSize);
        if (!this.hugePool.reserve(pages, `state ${label}`)) return undefined;
        let fd = -1;
        try {
          fd = native.memfdCreate(`hearth-state:${label}`, true);
          fs.ftruncateSync(fd, fileSize);
          native.fallocate(fd, fileSize);
          return { fd, kind, fileSize, hugePages: pages, sealable: true };
        } catch (error) {
          if (fd >= 0) fs.closeSync(fd);
          this.hugePool.giveBack(pages);
          throw error;
        }
      }
      case 'thp': {
        // Allocated now: a full tmpfs must be ENOSPC here, not SIGBUS when the import writes
        // through its mapping (which kills the runtime).
        const fd = fs.openSync(this.thpDir!, O_TMPFILE | fs.constants.O_RDWR, 0o600);
        try {
          fs.ftruncateSync(fd, fileSize);
          native.fallocate(fd, fileSize);
        } catch (error) {
          fs.closeSync(fd);
          throw error;
        }
        return { fd, kind, fileSize, hugePages: 0, sealable: false };
      }
      case 'tmpfs': {
        const fd = native.memfdCreate(`hearth-state:${label}`, false);
        fs.ftruncateSync(fd, fileSize);
        return { fd, kind, fileSize, hugePages: 0, sealable: true };
      }
    }
  }
}

function readShmemEnabled(): string {
  try {
    const text = fs.readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8');
    return /\[(\w+)\]/.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'absent';
  }
}

function isMountPoint(dir: string): boolean {
  try {
    const target = fs.realpathSync(dir);
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === target);
  } catch {
    return false;
  }
}
