// The only module that calls into libbpf.so.1 and libc.so.6 (through ffi-rs). Internal to
// agent/bpf: every other module there goes through these wrappers, nothing outside imports it.
//
// Struct layouts below are libbpf 1.1's (Debian 12) on x86-64. Every *_opts struct carries its
// own size in `sz`, so newer libbpf versions accept these buffers unchanged.
//
// ffi-rs conventions relied on: a Buffer passed as U8Array is passed in place (the callee reads
// and writes the Buffer's own memory); NULL is BigInt 0n; opaque C pointers are External.
// Each call costs microseconds, so nothing here may sit on a per-event path.
import os from 'node:os';
import { DataType, createExternalBuffer, isNullPointer, load, open, type JsExternal } from 'ffi-rs';
import { BpfError } from './error.js';

/** An opaque C pointer (struct bpf_object *, struct bpf_link *, a mapping, ...). */
export type Pointer = JsExternal;

type Library = 'bpf' | 'c';
interface ErrnoResult {
  value: unknown;
  errnoCode: number;
}

const T = DataType;
let opened = false;

function ensureOpen(): void {
  if (opened) return;
  try {
    open({ library: 'bpf', path: 'libbpf.so.1' });
  } catch (err) {
    throw new Error(`libbpf.so.1 is not installed (apt install libbpf1): ${err instanceof Error ? err.message : String(err)}`);
  }
  open({ library: 'c', path: 'libc.so.6' });
  opened = true;
  // libbpf logs to stderr by default; its failures reach us as errno values and the verifier log
  // arrives through bpf_object_open_opts.kernel_log_buf, so the chatter is only noise.
  invoke('bpf', 'libbpf_set_print', T.BigInt, [T.BigInt], [0n]);
}

const rawLoad = load as unknown as (params: object) => unknown;

function invoke(library: Library, funcName: string, retType: DataType, paramsType: DataType[], paramsValue: unknown[]): unknown {
  ensureOpen();
  return rawLoad({ library, funcName, retType, paramsType, paramsValue });
}

function invokeErrno(library: Library, funcName: string, retType: DataType, paramsType: DataType[], paramsValue: unknown[]): ErrnoResult {
  ensureOpen();
  return rawLoad({ library, funcName, retType, paramsType, paramsValue, errno: true }) as ErrnoResult;
}

// ---- errors ----------------------------------------------------------------------------------

const ERRNO_NAMES = new Map<number, string>([[524, 'ENOTSUPP']]);
for (const [name, code] of Object.entries(os.constants.errno)) if (!ERRNO_NAMES.has(code)) ERRNO_NAMES.set(code, name);

/** libbpf_strerror knows both errno values and libbpf's own LIBBPF_ERRNO__* codes (4000+). */
export function strerror(errno: number): string {
  const buf = Buffer.alloc(256);
  invoke('bpf', 'libbpf_strerror', T.I32, [T.I32, T.U8Array, T.U64], [errno, buf, buf.length]);
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

/** `errno` may be given negative (libbpf int APIs return -errno). */
export function failure(call: string, subject: string, errno: number, detail = ''): BpfError {
  const code = Math.abs(errno);
  const name = ERRNO_NAMES.get(code) ?? '';
  const text = code === 0 ? 'failed without an errno' : strerror(code);
  const message = `${call}(${subject}) failed: ${name === '' ? `error ${code}` : name} (${text})${detail === '' ? '' : `\n${detail}`}`;
  return new BpfError(call, subject, code, name, message);
}

// ---- addresses -------------------------------------------------------------------------------

/** memcpy(dst, src, 0) returns dst: the cheapest way to learn where a Buffer's bytes live. */
export function addressOf(buffer: Buffer): bigint {
  return invoke('c', 'memcpy', T.BigInt, [T.U8Array, T.U8Array, T.U64], [buffer, buffer, 0]) as bigint;
}

function pointerValue(pointer: Pointer): bigint {
  return invoke('c', 'memcpy', T.BigInt, [T.External, T.External, T.U64], [pointer, pointer, 0]) as bigint;
}

/** A zero-copy Buffer over native memory; valid only while that memory is (e.g. until munmap). */
export function externalBuffer(pointer: Pointer, length: number): Buffer {
  return createExternalBuffer(pointer, length);
}

// ---- objects and programs --------------------------------------------------------------------

export function objectOpenFile(path: string, logBuf: Buffer): Pointer {
  // struct bpf_object_open_opts (libbpf.h): 80 bytes in 1.1.
  const opts = Buffer.alloc(80);
  opts.writeBigUInt64LE(80n, 0); // sz
  opts.writeBigUInt64LE(addressOf(logBuf), 56); // kernel_log_buf
  opts.writeBigUInt64LE(BigInt(logBuf.length), 64); // kernel_log_size
  // kernel_log_level @72 stays 0: no log for programs that load, and libbpf retries a failed
  // load at level 1 into kernel_log_buf, which is exactly the log we want.
  const r = invokeErrno('bpf', 'bpf_object__open_file', T.External, [T.String, T.U8Array], [path, opts]);
  if (isNullPointer(r.value as Pointer)) throw failure('bpf_object__open_file', path, r.errnoCode);
  return r.value as Pointer;
}

/** Returns 0 or -errno; the caller adds the verifier log to the error. */
export function objectLoad(object: Pointer): number {
  return invoke('bpf', 'bpf_object__load', T.I32, [T.External], [object]) as number;
}

export function objectClose(object: Pointer): void {
  invoke('bpf', 'bpf_object__close', T.Void, [T.External], [object]);
}

export function findProgram(object: Pointer, name: string): Pointer | undefined {
  const r = invoke('bpf', 'bpf_object__find_program_by_name', T.External, [T.External, T.String], [object, name]) as Pointer;
  return isNullPointer(r) ? undefined : r;
}

export function findMap(object: Pointer, name: string): Pointer | undefined {
  const r = invoke('bpf', 'bpf_object__find_map_by_name', T.External, [T.External, T.String], [object, name]) as Pointer;
  return isNullPointer(r) ? undefined : r;
}

/** Before load: the map will be this existing map (fd), shared with another object. 0 or -errno. */
export function mapReuseFd(map: Pointer, fd: number): number {
  return invoke('bpf', 'bpf_map__reuse_fd', T.I32, [T.External, T.I32], [map, fd]) as number;
}

/** Names of every program (or map) in the object, for error messages. */
export function listNames(object: Pointer, kind: 'program' | 'map'): string[] {
  const next = kind === 'program' ? 'bpf_object__next_program' : 'bpf_object__next_map';
  const nameOf = kind === 'program' ? 'bpf_program__name' : 'bpf_map__name';
  const names: string[] = [];
  let item = invoke('bpf', next, T.External, [T.External, T.BigInt], [object, 0n]) as Pointer;
  while (!isNullPointer(item)) {
    names.push(invoke('bpf', nameOf, T.String, [T.External], [item]) as string);
    item = invoke('bpf', next, T.External, [T.External, T.External], [object, item]) as Pointer;
  }
  return names;
}

export function programAttach(program: Pointer, subject: string): Pointer {
  const r = invokeErrno('bpf', 'bpf_program__attach', T.External, [T.External], [program]);
  if (isNullPointer(r.value as Pointer)) throw failure('bpf_program__attach', subject, r.errnoCode);
  return r.value as Pointer;
}

/** Attach at a file offset in `binaryPath` (func_name NULL), entry probe only. */
export function programAttachUprobe(program: Pointer, pid: number, binaryPath: string, fileOffset: number, cookie: bigint, subject: string): Pointer {
  // struct bpf_uprobe_opts (libbpf.h): 40 bytes in 1.1.
  const opts = Buffer.alloc(40);
  opts.writeBigUInt64LE(40n, 0); // sz
  opts.writeBigUInt64LE(BigInt.asUintN(64, cookie), 16); // bpf_cookie
  // retprobe (u8 @24) = 0 and func_name (@32) = NULL: the offset is used as given.
  const r = invokeErrno(
    'bpf',
    'bpf_program__attach_uprobe_opts',
    T.External,
    [T.External, T.I32, T.String, T.U64, T.U8Array],
    [program, pid, binaryPath, fileOffset, opts],
  );
  if (isNullPointer(r.value as Pointer)) throw failure('bpf_program__attach_uprobe_opts', subject, r.errnoCode);
  return r.value as Pointer;
}

/** On success the returned link owns perfFd (bpf_link__destroy closes it). */
export function programAttachPerfEvent(program: Pointer, perfFd: number, subject: string): Pointer {
  const r = invokeErrno('bpf', 'bpf_program__attach_perf_event', T.External, [T.External, T.I32], [program, perfFd]);
  if (isNullPointer(r.value as Pointer)) throw failure('bpf_program__attach_perf_event', subject, r.errnoCode);
  return r.value as Pointer;
}

/** Returns 0 or -errno; the link is freed either way. */
export function linkDestroy(link: Pointer): number {
  return invoke('bpf', 'bpf_link__destroy', T.I32, [T.External], [link]) as number;
}

// ---- maps ------------------------------------------------------------------------------------

export interface MapInfo {
  fd: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export function mapInfo(map: Pointer): MapInfo {
  const u32 = (fn: string): number => invoke('bpf', fn, T.U32, [T.External], [map]) as number;
  return {
    fd: invoke('bpf', 'bpf_map__fd', T.I32, [T.External], [map]) as number,
    type: invoke('bpf', 'bpf_map__type', T.I32, [T.External], [map]) as number,
    keySize: u32('bpf_map__key_size'),
    valueSize: u32('bpf_map__value_size'),
    maxEntries: u32('bpf_map__max_entries'),
  };
}

// The bpf_map_* calls (bpf.h) return 0 or -errno. Key and value Buffers must be exactly the
// map's sizes: the kernel copies that many bytes in or out regardless of the Buffer's length.

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): number {
  return invoke('bpf', 'bpf_map_update_elem', T.I32, [T.I32, T.U8Array, T.U8Array, T.U64], [fd, key, value, flags]) as number;
}

export function mapLookup(fd: number, key: Buffer, value: Buffer): number {
  return invoke('bpf', 'bpf_map_lookup_elem', T.I32, [T.I32, T.U8Array, T.U8Array], [fd, key, value]) as number;
}

export function mapLookupAndDelete(fd: number, key: Buffer, value: Buffer): number {
  return invoke('bpf', 'bpf_map_lookup_and_delete_elem', T.I32, [T.I32, T.U8Array, T.U8Array], [fd, key, value]) as number;
}

export function mapDelete(fd: number, key: Buffer): number {
  return invoke('bpf', 'bpf_map_delete_elem', T.I32, [T.I32, T.U8Array], [fd, key]) as number;
}

/** key undefined asks for the first key. -ENOENT means there is no next key. */
export function mapGetNextKey(fd: number, key: Buffer | undefined, next: Buffer): number {
  if (key === undefined) return invoke('bpf', 'bpf_map_get_next_key', T.I32, [T.I32, T.BigInt, T.U8Array], [fd, 0n, next]) as number;
  return invoke('bpf', 'bpf_map_get_next_key', T.I32, [T.I32, T.U8Array, T.U8Array], [fd, key, next]) as number;
}

/**
 * bpf_map_lookup_batch (or bpf_map_lookup_and_delete_batch): count (u32, in/out) holds the
 * capacity on entry and the number of entries written on return; -ENOENT means "no more after
 * these", with count still valid.
 */
export function mapLookupBatch(fd: number, inBatch: Buffer | undefined, outBatch: Buffer, keys: Buffer, values: Buffer, count: Buffer, andDelete = false): number {
  // struct bpf_map_batch_opts (bpf.h): 24 bytes; elem_flags and flags stay 0.
  const opts = Buffer.alloc(24);
  opts.writeBigUInt64LE(24n, 0);
  const inType = inBatch === undefined ? T.BigInt : T.U8Array;
  return invoke(
    'bpf',
    andDelete ? 'bpf_map_lookup_and_delete_batch' : 'bpf_map_lookup_batch',
    T.I32,
    [T.I32, inType, T.U8Array, T.U8Array, T.U8Array, T.U8Array, T.U8Array],
    [fd, inBatch ?? 0n, outBatch, keys, values, count, opts],
  ) as number;
}

// ---- libc ------------------------------------------------------------------------------------

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
const SYS_perf_event_open = 298; // x86-64
const MAP_FAILED = -1n;

/**
 * Gives the C heap's free memory back to the system (malloc_trim(0): every arena, free pages
 * in the middle too). libbpf's parse of the kernel's BTF at load and the planning of a binary's
 * probes free tens of megabytes that glibc would otherwise keep resident for good.
 */
export function releaseFreeHeap(): void {
  invoke('c', 'malloc_trim', T.I32, [T.U64], [0]);
}

let pageSizeCache: number | undefined;
export function pageSize(): number {
  pageSizeCache ??= invoke('c', 'getpagesize', T.I32, [], []) as number;
  return pageSizeCache;
}

export function mmap(length: number, prot: number, flags: number, fd: number, offset: number, subject: string): Pointer {
  const r = invokeErrno('c', 'mmap', T.External, [T.BigInt, T.U64, T.I32, T.I32, T.I32, T.I64], [0n, length, prot, flags, fd, offset]);
  // MAP_FAILED is (void *)-1, not NULL, so look at the address itself.
  if (pointerValue(r.value as Pointer) === MAP_FAILED) throw failure('mmap', subject, r.errnoCode);
  return r.value as Pointer;
}

export function munmap(pointer: Pointer, length: number, subject: string): void {
  const r = invokeErrno('c', 'munmap', T.I32, [T.External, T.U64], [pointer, length]);
  if ((r.value as number) !== 0) throw failure('munmap', subject, r.errnoCode);
}

export function closeFd(fd: number, subject: string): void {
  const r = invokeErrno('c', 'close', T.I32, [T.I32], [fd]);
  if ((r.value as number) !== 0) throw failure('close', subject, r.errnoCode);
}

/** perf_event_open(2) has no glibc wrapper; syscall() is variadic but takes integers only here. */
export function perfEventOpen(attr: Buffer, pid: number, cpu: number, groupFd: number, flags: number, subject: string): number {
  const r = invokeErrno(
    'c',
    'syscall',
    T.I64,
    [T.I64, T.U8Array, T.I32, T.I32, T.I32, T.U64],
    [SYS_perf_event_open, attr, pid, cpu, groupFd, flags],
  );
  if ((r.value as number) < 0) throw failure('perf_event_open', subject, r.errnoCode);
  return r.value as number;
}

/** sched_setscheduler(2) for one thread, with priority 0 (the only one SCHED_BATCH and SCHED_IDLE take). */
export function setSchedulerPolicy(tid: number, policy: number, subject: string): void {
  const param = Buffer.alloc(4); // struct sched_param { int sched_priority; }
  const r = invokeErrno('c', 'sched_setscheduler', T.I32, [T.I32, T.I32, T.U8Array], [tid, policy, param]);
  if ((r.value as number) !== 0) throw failure('sched_setscheduler', subject, r.errnoCode);
}
