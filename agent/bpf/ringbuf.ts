// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read directly from its shared memory in JS.
//
// Layout (kernel/bpf/ringbuf.c): page 0 of the map fd is the consumer position (we write it),
// page 1 the producer position, then the data area, which the kernel maps twice back to back
// so a record that wraps the end is still contiguous. Each record starts with an 8-byte header:
// u32 len with BUSY (bit 31: reserved, not yet committed) and DISCARD (bit 30) flags, then u32
// pg_off; the next record starts at round_up(len + 8, 8).
//
// Records are parsed here without any FFI call; the only calls are epoll_wait when there is
// nothing to read, off the main thread.
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  EPOLLIN,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  closeFd,
  epollAdd,
  epollCreate,
  epollWait,
  eventFd,
  eventFdClear,
  eventFdSignal,
  externalBuffer,
  mmap,
  munmap,
  pageSize,
  type Pointer,
} from './libbpf.js';
import { MapType, type BpfMap } from './map.js';

const BUSY = 0x80000000 | 0;
const DISCARD = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const HEADER = 8;
const WAKE_TAG = 1n;

/**
 * Called once per committed record. `data` is the whole (double-mapped) data area and is only
 * valid during the call: copy what you keep. The record is released after the call returns.
 */
export type RecordHandler = (data: Buffer, offset: number, length: number) => void;

export interface RingBufferOptions {
  /** Errors thrown by onRecord inside start()'s loop; by default they are rethrown (uncaught). */
  onError?: (err: unknown) => void;
  /** Longest single epoll_wait in start()'s loop. */
  waitSliceMs?: number;
  /** Records drained before start()'s loop yields to the event loop. */
  maxPerTurn?: number;
}

export class RingBuffer {
  readonly size: number;
  private readonly subject: string;
  private readonly page: number;
  private readonly consumerMap: Pointer;
  private readonly producerMap: Pointer;
  private readonly producerMapLength: number;
  private consumer: BigInt64Array | undefined;
  private producer: BigInt64Array | undefined;
  private headers: Int32Array | undefined;
  private data: Buffer | undefined;
  /** Our copy of the consumer position; we are its only writer. */
  private position: number;
  private readonly epfd: number;
  private readonly wakeFd: number;
  private readonly events = Buffer.alloc(12 * 2);
  private waiting: Promise<number> | undefined;
  private loop: Promise<void> | undefined;
  private running = false;
  private stopRequested = false;
  private loopError: unknown;
  private closed = false;

  constructor(
    private readonly map: BpfMap,
    private readonly onRecord: RecordHandler,
    private readonly options: RingBufferOptions = {},
  ) {
    this.subject = map.subject;
    if (map.type !== MapType.RINGBUF) throw new TypeError(`${this.subject} is not a ring buffer (map type ${map.type})`);
    map.owner.assertOpen(`${this.subject}: ring buffer`);
    this.page = pageSize();
    this.size = map.maxEntries;
    this.producerMapLength = this.page + 2 * this.size;
    const mapped: Array<[Pointer, number]> = [];
    const fds: number[] = [];
    try {
      this.consumerMap = mmap(this.page, PROT_READ | PROT_WRITE, MAP_SHARED, map.fd, 0, `${this.subject} consumer page`);
      mapped.push([this.consumerMap, this.page]);
      this.producerMap = mmap(this.producerMapLength, PROT_READ, MAP_SHARED, map.fd, this.page, `${this.subject} producer page and data`);
      mapped.push([this.producerMap, this.producerMapLength]);
      this.epfd = epollCreate(this.subject);
      fds.push(this.epfd);
      this.wakeFd = eventFd(this.subject);
      fds.push(this.wakeFd);
      epollAdd(this.epfd, map.fd, EPOLLIN, 0n, this.subject);
      epollAdd(this.epfd, this.wakeFd, EPOLLIN, WAKE_TAG, `${this.subject} wakeup eventfd`);
    } catch (err) {
      for (const fd of fds) closeFd(fd, this.subject);
      for (const [pointer, length] of mapped) munmap(pointer, length, this.subject);
      throw err;
    }
    const consumerPage = externalBuffer(this.consumerMap, this.page);
    const producerPages = externalBuffer(this.producerMap, this.producerMapLength);
    this.consumer = new BigInt64Array(consumerPage.buffer, consumerPage.byteOffset, 1);
    this.producer = new BigInt64Array(producerPages.buffer, producerPages.byteOffset, 1);
    this.data = producerPages.subarray(this.page);
    this.headers = new Int32Array(this.data.buffer, this.data.byteOffset, this.data.length >> 2);
    this.position = Number(Atomics.load(this.consumer, 0));
    map.owner.adopt(this);
  }

  /** Bytes consumed since the ring was created (the kernel's consumer_pos). */
  get consumerPosition(): number {
    return this.position;
  }

  /** True when committed or reserved records are waiting. */
  pending(): boolean {
    if (this.producer === undefined) return false;
    return Number(Atomics.load(this.producer, 0)) > this.position;
  }

  /**
   * Hands every committed record to onRecord, releasing each one right after its call; stops
   * at a record still being written (BUSY) or after `max` records. Returns the records handed
   * over (discarded ones are skipped and not counted).
   */
  drain(max = Infinity): number {
    const consumer = this.consumer;
    const producer = this.producer;
    const headers = this.headers;
    const data = this.data;
    if (consumer === undefined || producer === undefined || headers === undefined || data === undefined) throw new Error(`${this.subject}: ring buffer is closed`);
    const size = this.size;
    let position = this.position;
    let delivered = 0;
    try {
      for (;;) {
        const end = Number(Atomics.load(producer, 0));
        if (position >= end) break;
        while (position < end && delivered < max) {
          // Positions grow forever; % keeps exact arithmetic past 2^32 where & would not.
          const offset = position % size;
          const header = Atomics.load(headers, offset >> 2);
          if ((header & BUSY) !== 0) return delivered;
          const length = header & LENGTH_MASK;
          const next = position + ((length + HEADER + 7) & ~7);
          if ((header & DISCARD) === 0) {
            delivered++;
            try {
              this.onRecord(data, offset + HEADER, length);
            } finally {
              // Released even when onRecord throws, so a bad record cannot wedge the ring; but
              // not if onRecord closed us: the pages are gone and touching them would crash.
              if (!this.closed) {
                position = next;
                Atomics.store(consumer, 0, BigInt(next));
              }
            }
            if (this.closed) return delivered;
          } else {
            position = next;
            Atomics.store(consumer, 0, BigInt(next));
          }
        }
        if (delivered >= max) break;
      }
    } finally {
      this.position = position;
    }
    return delivered;
  }

  /** Waits (off the main thread) until records arrive or timeoutMs passes, then drains. */
  async waitAndDrain(timeoutMs: number): Promise<number> {
    if (this.closed) throw new Error(`${this.subject}: ring buffer is closed`);
    if (!this.pending()) {
      this.waiting = epollWait(this.epfd, this.events, timeoutMs, this.subject);
      try {
        await this.waiting;
      } finally {
        this.waiting = undefined;
      }
      if (this.closed) return 0;
    }
    return this.drain(this.options.maxPerTurn ?? Infinity);
  }

  /**
   * Waits and drains in a loop until stop() or close(). While idle the wait occupies one libuv
   * threadpool thread (there are 4 by default: UV_THREADPOOL_SIZE).
   */
  start(): void {
    if (this.closed) throw new Error(`${this.subject}: ring buffer is closed`);
    if (this.loop !== undefined) return;
    this.running = true;
    this.loop = this.run(this.options.waitSliceMs ?? 1000).catch((err: unknown) => {
      this.running = false;
      if (this.stopRequested) this.loopError = err;
      // Nobody is waiting for the loop: fail as loudly as a synchronous throw would.
      else queueMicrotask(() => {
        throw err;
      });
    });
  }

  private async run(sliceMs: number): Promise<void> {
    while (this.running && !this.closed) {
      const skippedWait = this.pending();
      try {
        await this.waitAndDrain(sliceMs);
      } catch (err) {
        if (this.options.onError === undefined || this.closed) throw err;
        this.options.onError(err);
      }
      // A producer that never lets the ring empty must not starve the event loop.
      if (skippedWait) await nextTurn();
    }
  }

  /** Ends start()'s loop promptly (wakes its epoll_wait). Rejects with the loop's error, if any. */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (loop === undefined) return;
    this.stopRequested = true;
    this.running = false;
    if (!this.closed) eventFdSignal(this.wakeFd, this.subject);
    await loop;
    this.loop = undefined;
    this.stopRequested = false;
    // The eventfd stays readable until read, which would turn every later wait into a spin.
    if (!this.closed) eventFdClear(this.wakeFd, this.subject);
    const err = this.loopError;
    this.loopError = undefined;
    if (err !== undefined) throw err;
  }

  /**
   * Unmaps the ring and closes its fds. Idempotent and synchronous; a wait still in flight is
   * woken and its fds are closed once it returns, since closing an fd that epoll_wait is using
   * could leave that thread asleep until its timeout.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.consumer = this.producer = this.headers = undefined;
    this.data = undefined;
    const errors: unknown[] = [];
    const attempt = (fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        errors.push(err);
      }
    };
    attempt(() => munmap(this.consumerMap, this.page, this.subject));
    attempt(() => munmap(this.producerMap, this.producerMapLength, this.subject));
    const closeFds = (): void => {
      attempt(() => closeFd(this.epfd, this.subject));
      attempt(() => closeFd(this.wakeFd, this.subject));
    };
    const waiting = this.waiting;
    if (waiting === undefined) closeFds();
    else {
      attempt(() => eventFdSignal(this.wakeFd, this.subject));
      // Nobody is left to hear about a failed close(2) on our own fds after this returns.
      void waiting.catch(() => 0).finally(() => {
        for (const fd of [this.epfd, this.wakeFd]) {
          try {
            closeFd(fd, this.subject);
          } catch {
            // ignored, see above
          }
        }
      });
    }
    this.map.owner.release(this);
    if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, `${this.subject}: closing the ring buffer failed`);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
