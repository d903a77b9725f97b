// A BPF map of a loaded object, read and written from user space with key/value Buffers.
// Every operation is one FFI call (microseconds), so maps are for control data and periodic
// reads; per-event data goes through a ring buffer (ringbuf.ts).
import os from 'node:os';
import { possibleCpus } from './cpus.js';
import { failure, mapDelete, mapGetNextKey, mapLookup, mapLookupAndDelete, mapLookupBatch, mapUpdate, type MapInfo } from './libbpf.js';

/** Update flags (uapi/linux/bpf.h). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** enum bpf_map_type (uapi/linux/bpf.h), the values agent/bpf cares about. */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  RINGBUF: 27,
} as const;

const PER_CPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, 21 /* PERCPU_CGROUP_STORAGE */]);
const ENOENT = os.constants.errno.ENOENT;

/** What owns a map (its BpfObject): map fds are only valid while it is open. */
export interface ResourceOwner {
  readonly name: string;
  assertOpen(what: string): void;
  adopt(resource: { close(): void }): void;
  release(resource: { close(): void }): void;
}

export interface MapEntry {
  key: Buffer;
  value: Buffer;
}

export class BpfMap {
  readonly fd: number;
  readonly type: number;
  readonly keySize: number;
  /** As declared; per-CPU maps return valueBufferSize bytes per lookup. */
  readonly valueSize: number;
  readonly maxEntries: number;

  /** Made by BpfObject.map() after load. */
  constructor(
    readonly owner: ResourceOwner,
    readonly name: string,
    info: MapInfo,
  ) {
    this.fd = info.fd;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
  }

  /** "object/map", as used in errors. */
  get subject(): string {
    return `${this.owner.name}/${this.name}`;
  }

  get perCpu(): boolean {
    return PER_CPU_TYPES.has(this.type);
  }

  /** Bytes a lookup returns: per-CPU maps hold one 8-byte-aligned slot per possible CPU. */
  get valueBufferSize(): number {
    return this.perCpu ? roundUp8(this.valueSize) * possibleCpus().length : this.valueSize;
  }

  update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    this.check('bpf_map_update_elem', key, this.keySize, 'key');
    this.check('bpf_map_update_elem', value, this.valueBufferSize, 'value');
    const err = mapUpdate(this.fd, key, value, flags);
    if (err < 0) throw failure('bpf_map_update_elem', this.subject, err);
  }

  lookup(key: Buffer): Buffer | undefined {
    return this.read('bpf_map_lookup_elem', mapLookup, key);
  }

  /** The value, removed in the same call (hash and stack-trace maps); undefined when the key was not there. */
  lookupAndDelete(key: Buffer): Buffer | undefined {
    return this.read('bpf_map_lookup_and_delete_elem', mapLookupAndDelete, key);
  }

  /** False when the key was not there. */
  delete(key: Buffer): boolean {
    this.check('bpf_map_delete_elem', key, this.keySize, 'key');
    const err = mapDelete(this.fd, key);
    if (err === -ENOENT) return false;
    if (err < 0) throw failure('bpf_map_delete_elem', this.subject, err);
    return true;
  }

  /** Every key, one FFI call per key; use lookupBatch() for big maps. */
  keys(keySize = this.keySize): Buffer[] {
    this.owner.assertOpen(`${this.subject}: bpf_map_get_next_key`);
    if (keySize !== this.keySize) throw new TypeError(`${this.subject}: key size is ${this.keySize}, not ${keySize}`);
    const keys: Buffer[] = [];
    let previous: Buffer | undefined;
    for (;;) {
      const next = Buffer.alloc(keySize);
      const err = mapGetNextKey(this.fd, previous, next);
      if (err === -ENOENT) return keys;
      if (err < 0) throw failure('bpf_map_get_next_key', this.subject, err);
      keys.push(next);
      previous = next;
    }
  }

  /**
   * Every entry via bpf_map_lookup_batch, `chunk` entries per call. Hash maps refuse a chunk
   * smaller than their fullest bucket (ENOSPC), so the default reads everything in one call.
   * With `andDelete`, each entry read is removed in the same call (a hash map then restarts
   * empty, while programs keep adding to it: nothing is counted twice or lost between reads).
   */
  lookupBatch(chunk = this.maxEntries, andDelete = false): MapEntry[] {
    const call = andDelete ? 'bpf_map_lookup_and_delete_batch' : 'bpf_map_lookup_batch';
    this.owner.assertOpen(`${this.subject}: ${call}`);
    const valueSize = this.valueBufferSize;
    const entries: MapEntry[] = [];
    // The batch cursor is a u32 bucket index for hash maps and a key for arrays.
    const cursorSize = Math.max(this.keySize, 8);
    let inBatch: Buffer | undefined;
    for (;;) {
      const outBatch = Buffer.alloc(cursorSize);
      const keys = Buffer.alloc(this.keySize * chunk);
      const values = Buffer.alloc(valueSize * chunk);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(chunk, 0);
      const err = mapLookupBatch(this.fd, inBatch, outBatch, keys, values, count, andDelete);
      if (err < 0 && err !== -ENOENT) throw failure(call, this.subject, err);
      const n = count.readUInt32LE(0);
      for (let i = 0; i < n; i++) {
        entries.push({
          key: Buffer.from(keys.subarray(i * this.keySize, (i + 1) * this.keySize)),
          value: Buffer.from(values.subarray(i * valueSize, (i + 1) * valueSize)),
        });
      }
      if (err === -ENOENT || n === 0) return entries;
      inBatch = outBatch;
    }
  }

  private read(call: string, op: (fd: number, key: Buffer, value: Buffer) => number, key: Buffer): Buffer | undefined {
    this.check(call, key, this.keySize, 'key');
    const value = Buffer.alloc(this.valueBufferSize);
    const err = op(this.fd, key, value);
    if (err === -ENOENT) return undefined;
    if (err < 0) throw failure(call, this.subject, err);
    return value;
  }

  private check(call: string, buffer: Buffer, size: number, what: string): void {
    this.owner.assertOpen(`${this.subject}: ${call}`);
    // The kernel reads or writes exactly `size` bytes at the Buffer's address: a shorter
    // Buffer would be overrun.
    if (buffer.length !== size) throw new TypeError(`${this.subject}: ${what} must be ${size} bytes, got ${buffer.length}`);
  }
}

/** One u64 slot of a per-CPU array (or hash) map, one value per possible CPU. */
export function perCpuU64(map: BpfMap, index: number): bigint[] {
  if (!map.perCpu) throw new TypeError(`${map.subject} is not a per-CPU map`);
  if (map.valueSize < 8) throw new TypeError(`${map.subject}: values are ${map.valueSize} bytes, not a u64`);
  const key = Buffer.alloc(map.keySize);
  key.writeUInt32LE(index, 0);
  const value = map.lookup(key);
  if (value === undefined) throw new RangeError(`${map.subject}: no entry ${index}`);
  const stride = roundUp8(map.valueSize);
  return possibleCpus().map((_, slot) => value.readBigUInt64LE(slot * stride));
}

/** A u64 counter kept per CPU, summed over every possible CPU. */
export function sumPerCpuU64(map: BpfMap, index: number): bigint {
  return perCpuU64(map, index).reduce((sum, value) => sum + value, 0n);
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}
