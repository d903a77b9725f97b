import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ToolProfileRequest, ToolProfileRun } from '../../shared/tool-profiles.js';
import type { Registry } from '../registry.js';
import { cannotReach } from '../isolation/access.js';
import { prepareRunDir } from './files.js';
import { ToolProfileSession } from './session.js';

/** Finished runs kept (and, when they are under the run directory, their files); older ones are forgotten. */
const KEPT_RUNS = 16;

export interface ToolProfilesDeps {
  registry: Registry;
  /** Where runs keep their files unless the caller names a directory. */
  baseDir: string;
  nextInvocationId(): number;
  log: Logger;
}

/** The runtime's profiling runs with Node's tools: at most one under way per function. */
export class ToolProfiles {
  private readonly sessions = new Map<string, ToolProfileSession>();
  private started = 0;

  constructor(private readonly deps: ToolProfilesDeps) {}

  /** Starts a run of `fn`: it must be a deployed Node function with no run under way. */
  start(fn: string, request: ToolProfileRequest): ToolProfileSession {
    const pool = this.deps.registry.get(fn);
    if (pool === undefined) throw new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `no function named ${fn} is deployed`, { details: { function: fn } });
    const { kind } = pool.current.spec;
    if (kind !== 'node') throw new HearthError('HEARTH_ERR_BAD_REQUEST', `tool: ${request.tool} profiles Node functions; ${fn} is of kind ${kind} (its CPU profile is the agent's: hearth profile ${fn} --steady)`, { details: { field: 'tool', function: fn } });
    const active = [...this.sessions.values()].find((session) => session.run.function === fn && !session.ended);
    if (active !== undefined) {
      throw new HearthError('HEARTH_ERR_PROFILE_BUSY', `function ${fn} is already being profiled with ${active.run.tool} (run ${active.run.id}, ${active.run.status})`, { details: { function: fn, run: active.run.id } });
    }
    const id = `${fn}-${++this.started}`;
    if (request.dir === undefined) fs.mkdirSync(this.deps.baseDir, { recursive: true, mode: 0o711 });
    const dir = request.dir ?? path.join(this.deps.baseDir, id);
    prepareRunDir(dir);
    // The profiled worker writes its data here as its own user.
    const { uid, gid } = pool.current.identity;
    if (uid !== undefined && gid !== undefined) {
      fs.chownSync(dir, uid, gid);
      const why = cannotReach(dir, 'execute', uid, gid);
      if (why !== undefined) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `dir: ${fn}'s workers run as uid ${uid} and cannot reach ${dir}: ${why}`, { details: { field: 'dir' } });
    }
    const { idle, busy } = pool.snapshot();
    const session = new ToolProfileSession({
      id,
      pool,
      tool: request.tool,
      seconds: request.seconds,
      // One more worker among the ready ones gets its fair share unless told otherwise.
      share: request.share ?? 1 / (idle + busy + 1),
      load: request.load === undefined ? undefined : Buffer.from(request.load),
      dir,
      nextInvocationId: this.deps.nextInvocationId,
      log: this.deps.log,
    });
    this.sessions.set(id, session);
    void session.finished.then(() => this.forgetOld());
    return session;
  }

  list(): ToolProfileRun[] {
    return [...this.sessions.values()].map((session) => session.run);
  }

  get(id: string): ToolProfileSession {
    const session = this.sessions.get(id);
    if (session === undefined) throw new HearthError('HEARTH_ERR_NOT_FOUND', `no profiling run ${JSON.stringify(id)} (runs held: ${[...this.sessions.keys()].join(', ') || 'none'})`);
    return session;
  }

  /** Where one of a run's files is; only the files the run lists are served. */
  file(id: string, name: string): string {
    const session = this.get(id);
    const { run } = session;
    if (!run.files.some((file) => file.name === name)) {
      throw new HearthError('HEARTH_ERR_NOT_FOUND', `profiling run ${id} has no file ${JSON.stringify(name)} (${session.ended ? `files: ${run.files.map((file) => file.name).join(', ')}` : `it is ${run.status}`})`);
    }
    return path.join(run.dir, name);
  }

  /** Ends every run (the runtime is stopping); their workers are stopped with the rest. */
  close(): void {
    for (const session of this.sessions.values()) session.cancel();
  }

  private forgetOld(): void {
    for (const [id, session] of this.sessions) {
      if (this.sessions.size <= KEPT_RUNS) return;
      if (!session.ended) continue;
      this.sessions.delete(id);
      if (path.dirname(session.run.dir) === this.deps.baseDir) fs.rmSync(session.run.dir, { recursive: true, force: true });
    }
  }
}
