import { nodeFlags, prepareArtifact, workerFiles, type Artifact } from './build/artifact.js';
import { requireReachable } from './isolation/access.js';
import type { WorkerIdentities, WorkerIdentity } from './isolation/identities.js';
import { HearthError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { RUNTIME_USER, type FunctionSpec, type GcSpec, type PoolSpec } from './manifest/spec.js';
import { FunctionPool, type PoolDeps, type PoolSnapshot } from './pool/pool.js';
import type { FunctionVersion } from './pool/version.js';
import type { ProbeGate } from './probe-gate.js';
import type { ImportProgress, StateBlob } from './state/store.js';

export interface FunctionInfo {
  name: string;
  kind: FunctionSpec['kind'];
  version: number;
  entry: string;
  binary: string;
  state: { id: string; bytes: number; backend: string } | null;
  pool: PoolSpec;
  limits: FunctionSpec['limits'];
  gc: GcSpec;
  status: PoolSnapshot;
}

export interface DeployOptions {
  onProgress?: (message: string) => void;
}

/**
 * The deployed functions. Deploys, updates and removals of one function are serialised;
 * a new version goes live only after one of its workers has started, so a broken update
 * is refused while the previous version keeps serving.
 */
export class Registry {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly busy = new Map<string, Promise<unknown>>();
  private nextVersion = 1;

  constructor(
    private readonly deps: PoolDeps & { cacheDir: string; probeGate: ProbeGate; identities: WorkerIdentities },
    private readonly log: Logger,
  ) {}

  get(name: string): FunctionPool | undefined {
    return this.pools.get(name);
  }

  names(): string[] {
    return [...this.pools.keys()].sort();
  }

  all(): FunctionPool[] {
    return [...this.pools.values()];
  }

  /** Deploys a new function or a new version of an existing one (code, state and settings). */
  deploy(spec: FunctionSpec, options: DeployOptions = {}): Promise<FunctionInfo> {
    return this.serialise(spec.name, async () => {
      const progress = options.onProgress ?? (() => undefined);
      progress(`preparing ${spec.kind} code from ${spec.entry}`);
      const artifact = await prepareArtifact(spec, this.deps.cacheDir, this.log);
      const identity = this.deps.identities.assign(spec);
      try {
        requireReachable(spec.name, identity, workerFiles(artifact));
        if (spec.isolation.user === RUNTIME_USER && process.getuid?.() === 0) this.log.warn(`function ${spec.name}: its workers run as root (isolation.user "${RUNTIME_USER}")`);
        let state: StateBlob | undefined;
        if (spec.state !== undefined) {
          progress(`importing state ${spec.state}`);
          state = await this.deps.store.importFile(spec.state, spec.name, importProgress(progress));
        }
        return await this.install(spec, artifact, identity, state, progress);
      } catch (error) {
        // A function that never went live gives back the uid it was lent.
        if (!this.pools.has(spec.name)) this.deps.identities.release(spec.name);
        throw error;
      }
    });
  }

  /** Replaces a function's state with uploaded bytes; everything else stays. */
  replaceState(name: string, chunks: AsyncIterable<Uint8Array>, size: number, options: DeployOptions = {}): Promise<FunctionInfo> {
    return this.serialise(name, async () => {
      const pool = this.require(name);
      const progress = options.onProgress ?? (() => undefined);
      const state = await this.deps.store.importStream(chunks, size, name, importProgress(progress));
      const { spec, artifact, identity } = pool.current;
      return this.install({ ...spec, state: `(uploaded ${state.id.slice(0, 12)})` }, artifact, identity, state, progress);
    });
  }

  remove(name: string): Promise<void> {
    return this.serialise(name, async () => {
      const pool = this.require(name);
      await pool.remove(`function ${name} removed`);
      this.pools.delete(name);
      this.deps.identities.release(name);
      if (pool.current.state !== undefined) this.deps.store.release(pool.current.state);
      this.deps.events.publish({ type: 'function_removed', function: name });
      this.log.info(`removed function ${name}`);
    });
  }

  configurePool(name: string, settings: PoolSpec): FunctionInfo {
    const pool = this.require(name);
    if (settings.max < settings.min) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `pool.max (${settings.max}) must be at least pool.min (${settings.min})`);
    pool.configure(settings);
    this.log.info(`function ${name}: pool set to ${JSON.stringify(settings)}`);
    return this.describe(pool);
  }

  /**
   * Changes GC settings. Go workers apply them live through a control message (no restart);
   * Node's heap limits are fixed at start, so Node functions roll to a new version whose
   * workers are all ready before the old ones stop taking requests.
   */
  configureGc(name: string, gc: GcSpec): Promise<FunctionInfo> {
    return this.serialise(name, async () => {
      const pool = this.require(name);
      const { spec, artifact, state, identity } = pool.current;
      // The pool settings in force (perhaps changed by PATCH) carry over, not the manifest's.
      const updated: FunctionSpec = { ...spec, pool: { ...pool.settings }, gc: { ...spec.gc, ...gc } };
      if (spec.kind === 'node') {
        const flags = { ...artifact, nodeFlags: nodeFlags(updated) };
        if (state !== undefined) this.deps.store.acquire(state);
        // As many new workers as are running start before the switch, so capacity never dips.
        return this.install(updated, flags, identity, state, () => undefined, Math.max(1, Math.min(pool.liveWorkers, pool.settings.max)));
      }
      const version: FunctionVersion = { version: pool.current.version, spec: updated, artifact, state, identity };
      pool.current = version;
      if (spec.kind === 'go') {
        const request = { op: 'gc', ...(gc.gogc === undefined ? {} : { gogc: gc.gogc }), ...(gc.memoryLimitMb === undefined ? {} : { memoryLimitMb: gc.memoryLimitMb }) };
        const workers = pool.listWorkers().filter((worker) => worker.status === 'ready' || worker.status === 'draining');
        const results = await Promise.allSettled(workers.map((worker) => worker.control(request)));
        const failed = results.filter((result) => result.status === 'rejected');
        if (failed.length > 0) this.log.warn(`function ${name}: ${failed.length} of ${workers.length} workers did not take the new GC settings; they keep the old ones until recycled`);
        this.log.info(`function ${name}: GC set to ${JSON.stringify(updated.gc)} on ${workers.length - failed.length} live workers`);
      }
      return this.describe(pool);
    });
  }

  describe(pool: FunctionPool): FunctionInfo {
    const { spec, artifact, state, version } = pool.current;
    return {
      name: spec.name,
      kind: spec.kind,
      version,
      entry: spec.entry,
      binary: artifact.entry ?? artifact.file,
      state: state === undefined ? null : { id: state.id, bytes: state.size, backend: state.backend },
      pool: pool.settings,
      limits: spec.limits,
      gc: spec.gc,
      status: pool.snapshot(),
    };
  }

  /** Waits for pending deploys, then removes every function. */
  async removeAll(): Promise<void> {
    await Promise.allSettled([...this.busy.values()]);
    await Promise.all(this.names().map((name) => this.remove(name).catch(() => undefined)));
  }

  private require(name: string): FunctionPool {
    const pool = this.pools.get(name);
    if (pool === undefined) throw new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `no function named ${name} is deployed`, { details: { function: name } });
    return pool;
  }

  /** Starts one worker of the new version; only if it becomes ready does the version go live. */
  private async install(spec: FunctionSpec, artifact: Artifact, identity: WorkerIdentity, state: StateBlob | undefined, progress: (message: string) => void, workers = 1): Promise<FunctionInfo> {
    const version: FunctionVersion = { version: this.nextVersion++, spec, artifact, state, identity };
    const announced = this.deps.events.publish({
      type: 'function_prepared',
      function: spec.name,
      version: version.version,
      kind: spec.kind,
      binary: artifact.file,
      ...(artifact.entry === undefined ? {} : { entry: artifact.entry }),
    });
    // A tracer following the runtime probes the new binary before its first worker starts.
    if (this.deps.probeGate.holderCount > 0) progress('waiting for tracers to probe the new binary');
    await this.deps.probeGate.wait(announced, `function ${spec.name} version ${version.version}`);
    const existing = this.pools.get(spec.name);
    const pool = existing ?? new FunctionPool(version, this.deps);
    progress(`starting ${workers === 1 ? 'a worker' : `${workers} workers`} of version ${version.version}`);
    try {
      await pool.prepare(version, workers);
    } catch (error) {
      if (state !== undefined) this.deps.store.release(state);
      if (existing === undefined) await pool.remove('its first version failed to start');
      throw error;
    }
    if (existing === undefined) {
      this.pools.set(spec.name, pool);
      pool.activate(version);
    } else {
      const previous = existing.current;
      existing.activate(version);
      if (previous.state !== undefined) this.deps.store.release(previous.state);
    }
    this.deps.events.publish({ type: 'function_deployed', function: spec.name, version: version.version, ...(state === undefined ? {} : { stateId: state.id }) });
    this.log.info(`function ${spec.name}: version ${version.version} is live${existing === undefined ? '' : ' (previous version draining)'}`);
    return this.describe(pool);
  }

  private serialise<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.busy.set(name, settled);
    void settled.then(() => {
      if (this.busy.get(name) === settled) this.busy.delete(name);
    });
    return next;
  }
}

function importProgress(progress: (message: string) => void): ImportProgress {
  let lastReported = 0;
  return (done, total) => {
    if (done !== total && done - lastReported < 128 * 1024 * 1024) return;
    lastReported = done;
    progress(`state ${Math.round((done / Math.max(total, 1)) * 100)}% (${Math.round(done / 1048576)} of ${Math.round(total / 1048576)} MiB)`);
  };
}
