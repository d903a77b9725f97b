// Typed wrapper around the hearth_native N-API addon (native/src/*.c).
// Every function is synchronous; errors are Error objects with `code`
// (e.g. 'ENOENT'), `errno` (positive, as in os.constants.errno) and `syscall`.

import { constants as bufferConstants } from 'node:buffer';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SpawnOptions {
  /** Path of the executable; no PATH search. A relative path is resolved by
   * the kernel after the chdir to `cwd`, as with posix_spawn. */
  file: string;
  /** Full argv including argv[0]. */
  argv: string[];
  /** Exactly the child's environment, "KEY=VALUE" entries. */
  env: string[];
  /** Child fd i receives a dup of parent fd fds[i]; -1 leaves it closed.
   * Length >= 3. Every other fd is closed in the child. */
  fds: number[];
  /** chdir in the child before exec. */
  cwd?: string;
  /** fds open for writing on cgroup.procs files (one per hierarchy, at most
   * 4): the child moves itself into each before exec, so it is limited from
   * its first instruction. */
  cgroupProcsFds?: number[];
  /** Signal the child gets when the spawning thread dies; default 9
   * (SIGKILL); 0 disables. */
  pdeathsig?: number;
  /** Default true: the child gets its own session and process group. */
  setsid?: boolean;
  /** The worker sandbox the child enters before its chdir and exec; none when absent. */
  sandbox?: SandboxOptions;
  /** The CPUs the child may run on; absent: the spawning thread's, which it inherits. */
  cpus?: number[];
}

/**
 * The ids a worker takes (absent: keep the current ones) and its RLIMIT_NPROC (absent or 0:
 * leave it), from native/sandbox/sandbox.h.
 */
export interface SandboxIds {
  uid?: number;
  gid?: number;
  nproc?: number;
}

/** The worker sandbox: its ids, and whether to install the seccomp filter. no_new_privs and RLIMIT_CORE 0 come with it always. */
export interface SandboxOptions extends SandboxIds {
  seccomp: boolean;
}

export interface SpawnResult {
  pid: number;
  /** CLOEXEC pidfd; hand it to watchExit, which reaps the child and closes it. */
  pidfd: number;
}

interface Addon {
  spawn(
    file: string,
    argv: string[],
    env: string[],
    fds: number[],
    cwd: string | null,
    cgroupProcsFds: number[],
    pdeathsig: number,
    setsid: boolean,
    sandbox: SandboxOptions | null,
    cpus: number[] | null,
  ): SpawnResult;
  enterSandbox(sandbox: SandboxIds, parentPid: number): void;
  setAffinity(tid: number, cpus: number[]): void;
  getAffinity(tid: number): number[];
  currentCpu(): number;
  hideFromSiblings(): void;
  watchExit(pidfd: number, onExit: (code: number | null, signal: string | null) => void): void;
  socketpair(): [number, number];
  sendWithFds(sock: number, data: Uint8Array, fds: number[]): void;
  recvWithFd(sock: number, maxBytes: number): { data: Buffer; fd: number };
  memfdCreate(name: string, hugetlb: boolean): number;
  fallocate(fd: number, length: number): void;
  sealReadOnly(fd: number): void;
  mmap(fd: number, length: number, writable: boolean, populate: boolean): ArrayBuffer;
  mapState(fd: number, length: number, populate: boolean): SharedArrayBuffer;
  munmap(buffer: ArrayBuffer): void;
  markStateMapped(bytes: number): number;
  markReady(): number;
  markInvokeStart(id: number): void;
  markInvokeEnd(id: number): void;
}

const BUILD_OUTPUT = 'native/build/Release';

/** The build output, found from wherever this module runs (dist/native/, or a bundle in dist/runtime/sdk/node/). */
function findBuildDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, BUILD_OUTPUT);
    if (existsSync(path.join(candidate, 'hearth_native.node'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`native addon not built: run \`npm run setup\` (no ${BUILD_OUTPUT}/hearth_native.node above ${fileURLToPath(import.meta.url)})`);
    dir = parent;
  }
}

const BUILD_DIR = findBuildDir();
/** The addon's file: the agent attaches uprobes to its hearth_marker_* functions. */
export const ADDON_FILE = path.join(BUILD_DIR, 'hearth_native.node');
const addon = createRequire(import.meta.url)(ADDON_FILE) as Addon;

/** The seed executable (native/seed/seed.c), built beside the addon. */
export const SEED_BINARY = path.join(BUILD_DIR, 'hearth-seed');

/** Start a process without forking Node: the event loop is blocked only
 * until the child has exec'd. Throws if any pre-exec step or execve fails
 * (e.g. `spawn /x/y: execve: No such file or directory`, code 'ENOENT',
 * syscall 'execve', path '/x/y'); the failed child is already reaped. */
export function spawn(opts: SpawnOptions): SpawnResult {
  return addon.spawn(
    opts.file,
    opts.argv,
    opts.env,
    opts.fds,
    opts.cwd ?? null,
    opts.cgroupProcsFds ?? [],
    opts.pdeathsig ?? 9,
    opts.setsid ?? true,
    opts.sandbox ?? null,
    opts.cpus ?? null,
  );
}

/** Lets thread `tid` (0: the calling one) run only on `cpus`. Errors name the thread, with
 * code 'ESRCH' when it is gone and 'EPERM' when it is another user's and this process may not
 * change it. */
export function setAffinity(tid: number, cpus: number[]): void {
  addon.setAffinity(tid, cpus);
}

/** The CPUs thread `tid` (0: the calling one) may run on, ascending. */
export function getAffinity(tid: number): number[] {
  return addon.getAffinity(tid);
}

/** The CPU the calling thread runs on at this moment. */
export function currentCpu(): number {
  return addon.currentCpu();
}

/** Enters the worker sandbox in this process, on every thread (a Node stem cell becoming a
 * worker of one function): its ids and limits. Its seccomp filter it has had since it was
 * started. The parent-death signal (SIGKILL), which a change of ids clears, is armed again for
 * `parentPid`; if that process is already gone, it throws ESRCH (syscall 'parent'). Errors
 * name the failed step as their syscall ('setresuid', 'rlimit', ...). */
export function enterSandbox(sandbox: SandboxIds, parentPid: number): void {
  addon.enterSandbox(sandbox, parentPid);
}

/** Makes this process non-dumpable (PR_SET_DUMPABLE 0): its /proc files then belong to root, so
 * a sibling worker running as the same user cannot read its memory or environment through
 * /proc. An exec resets it: each worker asks for it itself. */
export function hideFromSiblings(): void {
  addon.hideFromSiblings();
}

/** Call onExit once when the child behind pidfd exits: (code, null) for a
 * normal exit, (null, 'SIGKILL') etc. for death by signal. The child is
 * reaped and pidfd closed before onExit runs, so its pid must not be used
 * afterwards. Keeps the event loop alive until then. Once per pidfd. */
export function watchExit(
  pidfd: number,
  onExit: (code: number | null, signal: string | null) => void,
): void {
  addon.watchExit(pidfd, onExit);
}

/** AF_UNIX SOCK_STREAM pair, both ends CLOEXEC. */
export function socketpair(): [number, number] {
  return addon.socketpair();
}

/** One sendmsg of `data` (non-empty) with `fds` attached as SCM_RIGHTS (at
 * most 8; none when empty). Never blocks: throws code 'EAGAIN' when the
 * socket is full, and 'ERR_SHORT_SEND' (with bytesSent) if only part went
 * out, in which case the stream is out of frame. */
export function sendWithFds(sock: number, data: Uint8Array, fds: number[]): void {
  addon.sendWithFds(sock, data, fds);
}

/** Blocking recvmsg of up to maxBytes plus at most one fd (CLOEXEC). An
 * empty `data` means EOF; `fd` is -1 when none came. */
export function recvWithFd(sock: number, maxBytes: number): { data: Buffer; fd: number } {
  return addon.recvWithFd(sock, maxBytes);
}

/** memfd with CLOEXEC and sealing allowed; hugetlb: backed by 2 MiB pages. */
export function memfdCreate(name: string, hugetlb: boolean): number {
  return addon.memfdCreate(name, hugetlb);
}

/** Allocate [0, length) now; on hugetlb a shortage fails here (ENOSPC)
 * instead of as SIGBUS on first touch. */
export function fallocate(fd: number, length: number): void {
  addon.fallocate(fd, length);
}

/** Seal against writes, resizing and further sealing. Fails (EBUSY) while a
 * writable shared mapping of the file exists. */
export function sealReadOnly(fd: number): void {
  addon.sealReadOnly(fd);
}

/** MAP_SHARED mapping of [0, length) of fd as an ArrayBuffer of exactly
 * length bytes (the mapping itself is rounded to the backing's page size,
 * 2 MiB on hugetlbfs). length 0 gives an empty ArrayBuffer. Unmapped by
 * munmap() or when the ArrayBuffer is collected. */
export function mmap(
  fd: number,
  length: number,
  opts: { writable: boolean; populate: boolean },
): ArrayBuffer {
  checkWrappable('mmap', length);
  return addon.mmap(fd, length, opts.writable, opts.populate);
}

// Node backs external ArrayBuffers with a Buffer, so they share its limit (V8 aborts past it).
function checkWrappable(call: string, length: number): void {
  if (length > bufferConstants.MAX_LENGTH) {
    const err = new RangeError(
      `${call}: length ${length} exceeds the largest ArrayBuffer Node can wrap (${bufferConstants.MAX_LENGTH})`,
    ) as RangeError & { code: string };
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
}

/** A worker's state: a read-only MAP_SHARED mapping of [0, length) of fd as a
 * SharedArrayBuffer of exactly length bytes, unmapped when it is collected. Shared
 * because V8 does not count shared memory as external memory: wrapping 1 GiB in an
 * ArrayBuffer forced a full GC (5-8 ms) in a worker with a cgroup-sized heap. */
export function mapState(fd: number, length: number, opts: { populate: boolean }): SharedArrayBuffer {
  checkWrappable('mapState', length);
  return addon.mapState(fd, length, opts.populate);
}

/** Unmap now and detach the ArrayBuffer (byteLength becomes 0, views become
 * empty). Idempotent; TypeError for an ArrayBuffer not returned by mmap(). */
export function munmap(buffer: ArrayBuffer): void {
  addon.munmap(buffer);
}

/** Probe markers: calls into hearth_marker_* in the .node file, where the
 * agent's uprobes attach. */
/** Returns CLOCK_MONOTONIC nanoseconds read just before the marker (for the SDK's timing test mode). */
export function markStateMapped(bytes: number): number {
  return addon.markStateMapped(bytes);
}

/** Returns CLOCK_MONOTONIC nanoseconds read just before the marker. */
export function markReady(): number {
  return addon.markReady();
}

export function markInvokeStart(id: number): void {
  addon.markInvokeStart(id);
}

export function markInvokeEnd(id: number): void {
  addon.markInvokeEnd(id);
}
