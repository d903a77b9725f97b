import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../shared/log.js';

export const HUGE_PAGE_BYTES = 2 * 1024 * 1024;
const POOL_DIR = '/sys/kernel/mm/hugepages/hugepages-2048kB';
const RECORD = 'hugepages-added';

export function hugePagesFor(bytes: number): number {
  return Math.ceil(bytes / HUGE_PAGE_BYTES);
}

function readCount(name: string): number {
  return Number(fs.readFileSync(path.join(POOL_DIR, name), 'utf8').trim());
}

/**
 * The host's 2 MiB huge page pool. When the runtime may change it (root), it raises
 * nr_hugepages by exactly what a state needs, says so, records the change in its run
 * directory, and gives the pages back when the state is freed or at shutdown; a runtime
 * that died without giving them back is cleaned up by the next one (see `cleanStale`).
 */
export class HugePagePool {
  private added = 0;

  constructor(
    private readonly log: Logger,
    private readonly mayChangeHost: boolean,
    private readonly recordFile: string,
  ) {}

  static present(): boolean {
    return fs.existsSync(path.join(POOL_DIR, 'nr_hugepages'));
  }

  /** Undoes the reservation a dead runtime recorded in its run directory. */
  static cleanStale(log: Logger) {
    return (staleDir: string, pid: number): void => {
      const file = path.join(staleDir, RECORD);
      if (!fs.existsSync(file)) return;
      const pages = Number(fs.readFileSync(file, 'utf8').trim());
      if (!Number.isInteger(pages) || pages <= 0) return;
      const total = readCount('nr_hugepages');
      fs.writeFileSync(path.join(POOL_DIR, 'nr_hugepages'), String(Math.max(0, total - pages)));
      log.info(`gave back ${pages} huge pages that runtime ${pid} had reserved (nr_hugepages ${total} -> ${readCount('nr_hugepages')})`);
    };
  }

  static recordName(): string {
    return RECORD;
  }

  available(): number {
    return readCount('free_hugepages') - readCount('resv_hugepages');
  }

  /** Makes `pages` free huge pages available, raising nr_hugepages if allowed. False if it cannot. */
  reserve(pages: number, forWhat: string): boolean {
    const shortfall = pages - this.available();
    if (shortfall <= 0) return true;
    if (!this.mayChangeHost) return false;
    const before = readCount('nr_hugepages');
    fs.writeFileSync(path.join(POOL_DIR, 'nr_hugepages'), String(before + shortfall));
    const got = readCount('nr_hugepages') - before;
    this.added += got;
    this.writeRecord();
    if (got < shortfall) {
      this.log.warn(`asked the kernel for ${shortfall} more huge pages for ${forWhat}, got ${got} (memory too fragmented)`);
      this.giveBack(got);
      return false;
    }
    this.log.info(`reserved ${got} huge pages (${(got * 2) | 0} MiB) for ${forWhat}: nr_hugepages ${before} -> ${before + got}`);
    return true;
  }

  /** Returns up to `pages` of the pages this runtime added; pages still in use are freed by the kernel later. */
  giveBack(pages: number): void {
    const count = Math.min(pages, this.added);
    if (count <= 0) return;
    const before = readCount('nr_hugepages');
    fs.writeFileSync(path.join(POOL_DIR, 'nr_hugepages'), String(Math.max(0, before - count)));
    this.added -= count;
    this.writeRecord();
    this.log.info(`gave back ${count} huge pages: nr_hugepages ${before} -> ${readCount('nr_hugepages')}`);
  }

  releaseAll(): void {
    this.giveBack(this.added);
  }

  private writeRecord(): void {
    if (this.added > 0) fs.writeFileSync(this.recordFile, String(this.added));
    else fs.rmSync(this.recordFile, { force: true });
  }
}
