import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import * as native from '../../native/index.js';
import { HearthError, errnoCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Allocation, BackendKind, StateBackends } from './backend.js';

/** One immutable, content-addressed state version. Workers get `fd` (read-only) at spawn. */
export interface StateBlob {
  /** sha256 of the bytes, hex. */
  readonly id: string;
  readonly size: number;
  readonly backend: BackendKind;
  /** Read-only fd; valid while refs > 0. */
  readonly fd: number;
  refs: number;
}

export interface ImportProgress {
  (done: number, total: number): void;
}

const CHUNK = 8 * 1024 * 1024;

/**
 * The state store: imports each state once into shared memory, deduplicated by content,
 * reference-counted by the function versions and workers that use it, and freed when the
 * last of them lets go.
 */
export class StateStore {
  private readonly blobs = new Map<string, StateBlob & { allocation: Pick<Allocation, 'hugePages'> }>();
  /** Source file identity (dev, inode, size, times) to blob id: re-importing an unchanged file costs a stat. */
  private readonly bySource = new Map<string, string>();

  constructor(
    private readonly backends: StateBackends,
    private readonly log: Logger,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.blobs.size;
  }

  list(): StateBlob[] {
    return [...this.blobs.values()];
  }

  /** Imports a file; the returned blob holds one reference for the caller. */
  async importFile(file: string, label: string, onProgress?: ImportProgress): Promise<StateBlob> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (error) {
      throw new HearthError('HEARTH_ERR_STATE_READ', `state file ${file}: ${(error as Error).message}`, {
        cause: error,
        details: { file, errno: errnoCode(error) },
      });
    }
    try {
      const before = await handle.stat();
      if (!before.isFile()) throw new HearthError('HEARTH_ERR_STATE_READ', `state file ${file}: not a regular file`, { details: { file } });
      const sourceKey = `${before.dev}:${before.ino}:${before.size}:${before.mtimeMs}:${before.ctimeMs}`;
      const known = this.bySource.get(sourceKey);
      const knownBlob = known === undefined ? undefined : this.blobs.get(known);
      if (knownBlob !== undefined) {
        knownBlob.refs++;
        return knownBlob;
      }
      let writer: BlobWriter;
      try {
        writer = this.begin(before.size, label);
      } catch (error) {
        throw inFile(file, error);
      }
      try {
        let offset = 0;
        while (offset < before.size) {
          const view = writer.view(offset, Math.min(CHUNK, before.size - offset));
          let read: number;
          try {
            ({ bytesRead: read } = await handle.read(view, 0, view.length, offset));
          } catch (error) {
            throw new HearthError('HEARTH_ERR_STATE_READ', `state file ${file}: read at offset ${offset}: ${(error as Error).message}`, {
              cause: error,
              details: { file, errno: errnoCode(error) },
            });
          }
          if (read === 0) {
            throw new HearthError('HEARTH_ERR_STATE_CHANGED', `state file ${file} was truncated while importing: ended at ${offset} of ${before.size} bytes`, {
              details: { file },
            });
          }
          writer.hashed(view.subarray(0, read));
          offset += read;
          onProgress?.(offset, before.size);
        }
        const after = await handle.stat();
        const grew = (await handle.read(Buffer.alloc(1), 0, 1, before.size)).bytesRead > 0;
        if (grew || after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
          throw new HearthError('HEARTH_ERR_STATE_CHANGED', `state file ${file} changed while it was being imported; the previous version stays`, {
            details: { file },
          });
        }
      } catch (error) {
        writer.abort();
        throw error;
      }
      const blob = writer.finish();
      this.bySource.set(sourceKey, blob.id);
      return blob;
    } finally {
      await handle.close();
    }
  }

  /** Imports `size` bytes from a stream (an upload); the returned blob holds one reference. */
  async importStream(chunks: AsyncIterable<Uint8Array>, size: number, label: string, onProgress?: ImportProgress): Promise<StateBlob> {
    const writer = this.begin(size, label);
    try {
      let offset = 0;
      for await (const chunk of chunks) {
        if (offset + chunk.length > size) {
          throw new HearthError('HEARTH_ERR_BAD_REQUEST', `state upload for ${label} is longer than its declared ${size} bytes`);
        }
        const view = writer.view(offset, chunk.length);
        view.set(chunk);
        writer.hashed(view);
        offset += chunk.length;
        onProgress?.(offset, size);
      }
      if (offset !== size) {
        throw new HearthError('HEARTH_ERR_BAD_REQUEST', `state upload for ${label} ended at ${offset} of its declared ${size} bytes`);
      }
    } catch (error) {
      writer.abort();
      throw error;
    }
    return writer.finish();
  }

  acquire(blob: StateBlob): StateBlob {
    if (blob.refs <= 0) throw new Error(`state ${blob.id.slice(0, 12)} was already freed`);
    blob.refs++;
    return blob;
  }

  release(blob: StateBlob): void {
    const entry = this.blobs.get(blob.id);
    if (entry !== blob || blob.refs <= 0) return;
    blob.refs--;
    if (blob.refs > 0) return;
    this.blobs.delete(blob.id);
    for (const [key, id] of this.bySource) if (id === blob.id) this.bySource.delete(key);
    fs.closeSync(blob.fd);
    this.backends.release(entry.allocation);
    this.log.info(`freed state ${blob.id.slice(0, 12)} (${formatBytes(blob.size)}, ${blob.backend})`);
  }

  /** Frees every blob regardless of references; for shutdown, after all workers are gone. */
  closeAll(): void {
    for (const blob of [...this.blobs.values()]) {
      blob.refs = 1;
      this.release(blob);
    }
  }

  private begin(size: number, label: string): BlobWriter {
    if (!Number.isSafeInteger(size) || size < 0) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `state size ${size} is not a byte count`);
    if (size > this.maxBytes) {
      throw new HearthError('HEARTH_ERR_STATE_TOO_LARGE', `state for ${label} is ${formatBytes(size)}, over the store's limit of ${formatBytes(this.maxBytes)}`, {
        details: { bytes: size, limit: this.maxBytes },
      });
    }
    const allocation = this.backends.allocate(size, label);
    return new BlobWriter(allocation, size, label, this, this.backends, this.log);
  }

  /** Called by a writer that finished: dedup by content, then register. */
  adopt(candidate: StateBlob & { allocation: Pick<Allocation, 'hugePages'> }, label: string, millis: number): StateBlob {
    const existing = this.blobs.get(candidate.id);
    if (existing !== undefined) {
      fs.closeSync(candidate.fd);
      this.backends.release(candidate.allocation);
      existing.refs++;
      this.log.info(`state for ${label} is identical to stored ${candidate.id.slice(0, 12)}; sharing it`);
      return existing;
    }
    this.blobs.set(candidate.id, candidate);
    const rate = millis > 0 ? ` (${formatBytes((candidate.size / millis) * 1000)}/s)` : '';
    this.log.info(`imported state for ${label}: ${candidate.id.slice(0, 12)}, ${formatBytes(candidate.size)} on ${candidate.backend} in ${millis.toFixed(0)} ms${rate}`);
    return candidate;
  }
}

/** Writes one new blob through a writable mapping, hashing as it goes. */
class BlobWriter {
  private readonly mapping: ArrayBuffer;
  private readonly hash: Hash = createHash('sha256');
  private readonly started = performance.now();
  private done = false;

  constructor(
    private readonly allocation: Allocation,
    private readonly size: number,
    private readonly label: string,
    private readonly store: StateStore,
    private readonly backends: StateBackends,
    private readonly log: Logger,
  ) {
    try {
      this.mapping = native.mmap(allocation.fd, size, { writable: true, populate: false });
    } catch (error) {
      this.abort();
      throw new HearthError('HEARTH_ERR_STATE_NO_SPACE', `mapping ${size} bytes for state ${label}: ${(error as Error).message}`, { cause: error });
    }
  }

  view(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.mapping, offset, length);
  }

  hashed(bytes: Uint8Array): void {
    this.hash.update(bytes);
  }

  finish(): StateBlob {
    this.done = true;
    native.munmap(this.mapping);
    const id = this.hash.digest('hex');
    let readOnly: number;
    try {
      if (this.allocation.sealable) native.sealReadOnly(this.allocation.fd);
      readOnly = fs.openSync(`/proc/self/fd/${this.allocation.fd}`, 'r');
    } catch (error) {
      fs.closeSync(this.allocation.fd);
      this.backends.release(this.allocation);
      throw new HearthError('HEARTH_ERR_INTERNAL', `sealing state ${this.label}: ${(error as Error).message}`, { cause: error });
    }
    fs.closeSync(this.allocation.fd);
    const blob = { id, size: this.size, backend: this.allocation.kind, fd: readOnly, refs: 1, allocation: this.allocation };
    return this.store.adopt(blob, this.label, performance.now() - this.started);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      if (this.mapping !== undefined) native.munmap(this.mapping);
      fs.closeSync(this.allocation.fd);
    } finally {
      this.backends.release(this.allocation);
      this.log.debug(`discarded the partial import of state ${this.label}`);
    }
  }
}

/** The same error, its message naming the state file it was about. */
function inFile(file: string, error: unknown): unknown {
  if (!(error instanceof HearthError)) return error;
  return new HearthError(error.code, `state file ${file}: ${error.message}`, { cause: error.cause, details: { ...error.details, file } });
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
