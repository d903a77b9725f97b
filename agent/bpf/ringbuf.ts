// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read directly from its shared memory in JS.
//
// Layout (kernel/bpf/ringbuf.c): page 0 of the map fd is the consumer position (we write it),
// page 1 the producer position, then the data area, which the kernel maps twice back to back
// so a record that wraps the end is still contiguous. Each record starts with an 8-byte header:
// u32 len with BUSY (bit 31: reserved, not yet committed) and DISCARD (bit 30) flags, then u32
// pg_off; the next record starts at round_up(len + 8, 8).
//
// Records are parsed here without any FFI call. The owner drains when it is awake anyway (on a
// timer, or when related events arrive): looking costs one atomic load. Waiting in epoll_wait
// instead means an ffi-rs call on a fresh OS thread per wakeup, which cost the agent about
// 0.3 ms of CPU per wakeup on this machine: more than handling the records it delivered.
import { MAP_SHARED, PROT_READ, PROT_WRITE, externalBuffer, mmap, munmap, pageSize, type Pointer } from './libbpf.js';
import { MapType, type BpfMap } from './map.js';

const BUSY = 0x80000000 | 0;
const DISCARD = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const HEADER = 8;

/**
 * Called once per committed record. `data` is the whole (double-mapped) data area and is only
 * valid during the call: copy what you keep. The record is released after the call returns.
 */
export type RecordHandler = (data: Buffer, offset: number, length: number) => void;

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
  private closed = false;

  constructor(
    private readonly map: BpfMap,
    private readonly onRecord: RecordHandler,
  ) {
    this.subject = map.subject;
    if (map.type !== MapType.RINGBUF) throw new TypeError(`${this.subject} is not a ring buffer (map type ${map.type})`);
    map.owner.assertOpen(`${this.subject}: ring buffer`);
    this.page = pageSize();
    this.size = map.maxEntries;
    this.producerMapLength = this.page + 2 * this.size;
    this.consumerMap = mmap(this.page, PROT_READ | PROT_WRITE, MAP_SHARED, map.fd, 0, `${this.subject} consumer page`);
    try {
      this.producerMap = mmap(this.producerMapLength, PROT_READ, MAP_SHARED, map.fd, this.page, `${this.subject} producer page and data`);
    } catch (err) {
      munmap(this.consumerMap, this.page, this.subject);
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

  /** Unmaps the ring. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.consumer = this.producer = this.headers = undefined;
    this.data = undefined;
    const errors: unknown[] = [];
    for (const [pointer, length, what] of [
      [this.consumerMap, this.page, 'consumer page'],
      [this.producerMap, this.producerMapLength, 'producer page and data'],
    ] as const) {
      try {
        munmap(pointer, length, `${this.subject} ${what}`);
      } catch (err) {
        errors.push(err);
      }
    }
    this.map.owner.release(this);
    if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, `${this.subject}: closing the ring buffer failed`);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
