// A BPF object file (.bpf.o, CO-RE) through its life: open -> load -> attach -> poll -> close.
// The object owns everything made from it (links, ring buffers) and close() releases all of it;
// every open object is also closed on process exit, and on SIGINT/SIGTERM once
// closeAllOnSignals() is called.
import nodePath from 'node:path';
import { BpfLink } from './link.js';
import {
  closeFd,
  failure,
  findMap,
  findProgram,
  listNames,
  objectClose,
  objectLoad,
  objectOpenFile,
  programAttach,
  programAttachPerfEvent,
  programAttachUprobe,
  mapInfo,
  mapReuseFd,
  type Pointer,
} from './libbpf.js';
import { BpfMap, type ResourceOwner } from './map.js';

/** The verifier log of a failed program load: the reason is in its last lines. */
const LOG_BUFFER_BYTES = 1 << 20;
const LOG_TAIL_LINES = 20;

export class BpfProgram {
  /** Made by BpfObject.program(). */
  constructor(
    readonly name: string,
    /** @internal the struct bpf_program * */
    readonly handle: Pointer,
  ) {}
}

interface Closable {
  close(): void;
}

const openObjects = new Set<BpfObject>();
let exitHookInstalled = false;

export class BpfObject implements ResourceOwner {
  /** The file's base name, used in errors ("loader-check.bpf.o/lc_exec"). */
  readonly name: string;
  private handle: Pointer | undefined;
  private logBuffer: Buffer | undefined;
  private loaded = false;
  private readonly programs = new Map<string, BpfProgram>();
  private readonly maps = new Map<string, BpfMap>();
  /** Links first, so producers stop before the ring buffers they write to are unmapped. */
  private readonly links = new Set<BpfLink>();
  private readonly resources = new Set<Closable>();

  private constructor(
    /** Absolute path of the .bpf.o file. */
    readonly path: string,
    handle: Pointer,
    logBuffer: Buffer,
  ) {
    this.name = nodePath.basename(path);
    this.handle = handle;
    this.logBuffer = logBuffer;
  }

  static open(file: string): BpfObject {
    const resolved = nodePath.resolve(file);
    const logBuffer = Buffer.alloc(LOG_BUFFER_BYTES);
    // libbpf keeps the log buffer's address until load, so the object holds the Buffer.
    const object = new BpfObject(resolved, objectOpenFile(resolved, logBuffer), logBuffer);
    openObjects.add(object);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', closeAllBpfObjects);
    }
    return object;
  }

  get closed(): boolean {
    return this.handle === undefined;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Verifies and loads every program and creates the maps. A failed load closes the object. */
  load(): void {
    const handle = this.live('load');
    if (this.loaded) return;
    const err = objectLoad(handle);
    const log = this.logBuffer;
    this.logBuffer = undefined;
    if (err < 0) {
      const tail = log === undefined ? '' : logTail(log);
      this.close();
      throw failure('bpf_object__load', this.path, err, tail === '' ? 'verifier log: (empty)' : `verifier log (last lines):\n${tail}`);
    }
    this.loaded = true;
  }

  /** Before load: this object's map `name` becomes `map` (another object's), shared by fd. */
  reuseMap(name: string, map: BpfMap): void {
    const handle = this.live(`map ${name}`);
    if (this.loaded) throw new Error(`${this.name}/${name}: a map can be shared only before load()`);
    const found = findMap(handle, name);
    if (found === undefined) throw new Error(`${this.name} has no map "${name}" (it has: ${listNames(handle, 'map').join(', ') || 'none'})`);
    const err = mapReuseFd(found, map.fd);
    if (err < 0) throw failure('bpf_map__reuse_fd', `${this.name}/${name} <- ${map.subject}`, err);
  }

  program(name: string): BpfProgram {
    const handle = this.live(`program ${name}`);
    let program = this.programs.get(name);
    if (program === undefined) {
      const found = findProgram(handle, name);
      if (found === undefined) throw new Error(`${this.name} has no program "${name}" (it has: ${listNames(handle, 'program').join(', ') || 'none'})`);
      program = new BpfProgram(name, found);
      this.programs.set(name, program);
    }
    return program;
  }

  map(name: string): BpfMap {
    const handle = this.live(`map ${name}`);
    if (!this.loaded) throw new Error(`${this.name}/${name}: maps have fds only after load()`);
    let map = this.maps.get(name);
    if (map === undefined) {
      const found = findMap(handle, name);
      if (found === undefined) throw new Error(`${this.name} has no map "${name}" (it has: ${listNames(handle, 'map').join(', ') || 'none'})`);
      map = new BpfMap(this, name, mapInfo(found));
      this.maps.set(name, map);
    }
    return map;
  }

  /** Attach by section name: tp_btf/, fentry/, fexit/, raw_tp/ and friends know their target. */
  attach(programName: string): BpfLink {
    const program = this.attachable(programName);
    const subject = `${this.name}/${programName}`;
    return this.track(programAttach(program.handle, subject), subject);
  }

  /**
   * An entry uprobe at a file offset (not a virtual address) in binaryPath, for pid (-1: every
   * process that maps the file). The cookie is what the program's bpf_get_attach_cookie() returns.
   */
  attachUprobe(programName: string, binaryPath: string, fileOffset: number, cookie: number | bigint, pid = -1): BpfLink {
    const program = this.attachable(programName);
    if (!Number.isSafeInteger(fileOffset) || fileOffset < 0) throw new RangeError(`bad uprobe file offset ${fileOffset}`);
    const target = `${binaryPath}+0x${fileOffset.toString(16)}${pid === -1 ? '' : ` pid ${pid}`}`;
    const subject = `${this.name}/${programName} -> ${target}`;
    return this.track(programAttachUprobe(program.handle, pid, binaryPath, fileOffset, BigInt(cookie), subject), subject);
  }

  /** Attach to an open perf event (perf.ts). The link then owns perfFd; on failure it is closed. */
  attachPerfEvent(programName: string, perfFd: number): BpfLink {
    const subject = `${this.name}/${programName} -> perf event fd ${perfFd}`;
    let link: Pointer;
    try {
      link = programAttachPerfEvent(this.attachable(programName).handle, perfFd, subject);
    } catch (err) {
      try {
        closeFd(perfFd, subject);
      } catch {
        // the attach error is the one worth reporting
      }
      throw err;
    }
    return this.track(link, subject);
  }

  /**
   * Destroys every link, closes every ring buffer, then the object (its programs and maps).
   * Idempotent. Everything is released even when a step fails; the failures are thrown after.
   */
  close(): void {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    openObjects.delete(this);
    const errors: unknown[] = [];
    for (const resource of [...this.links, ...this.resources]) {
      try {
        resource.close();
      } catch (err) {
        errors.push(err);
      }
    }
    this.links.clear();
    this.resources.clear();
    this.programs.clear();
    this.maps.clear();
    this.logBuffer = undefined;
    objectClose(handle);
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${this.name}: ${errors.length} failures while closing`);
  }

  // ResourceOwner, for maps and the ring buffers made from them.
  assertOpen(what: string): void {
    if (this.handle === undefined) throw new Error(`${what}: ${this.name} is closed`);
  }

  adopt(resource: Closable): void {
    this.resources.add(resource);
  }

  release(resource: Closable): void {
    this.resources.delete(resource);
  }

  private live(what: string): Pointer {
    if (this.handle === undefined) throw new Error(`${this.name}: ${what}: the object is closed`);
    return this.handle;
  }

  private attachable(programName: string): BpfProgram {
    if (!this.loaded) throw new Error(`${this.name}/${programName}: attach before load()`);
    return this.program(programName);
  }

  private track(handle: Pointer, description: string): BpfLink {
    const link = new BpfLink(handle, description, (gone) => this.links.delete(gone));
    this.links.add(link);
    return link;
  }
}

function logTail(log: Buffer): string {
  const end = log.indexOf(0);
  const text = log.toString('utf8', 0, end < 0 ? log.length : end).trimEnd();
  if (text === '') return '';
  return text.split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

/**
 * Closes every BpfObject still open (links, ring buffers, programs, maps). Safe from exit,
 * signal and uncaughtException handlers: synchronous, idempotent, and it does not throw.
 * Returns the errors it swallowed.
 */
export function closeAllBpfObjects(): unknown[] {
  const errors: unknown[] = [];
  for (const object of [...openObjects]) {
    try {
      object.close();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}

let signalHooksInstalled = false;

/**
 * For processes without their own shutdown path: on SIGINT/SIGTERM close every object, then die
 * of the same signal (unless something else also handles it). The kernel would free unpinned
 * programs with the process anyway; this makes the detach orderly and prompt.
 */
export function closeAllOnSignals(): void {
  if (signalHooksInstalled) return;
  signalHooksInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      closeAllBpfObjects();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** How many objects are open, for leak checks. */
export function openBpfObjectCount(): number {
  return openObjects.size;
}
