import { randomBytes } from 'node:crypto';
import * as native from '../native/index.js';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createApiServer, listen } from './api/server.js';
import { nowMs } from './clock.js';
import { HearthError } from '../shared/errors.js';
import { EventLog } from './events.js';
import { ProbeGate } from './probe-gate.js';
import { createLogger, type Logger, type LogLevel } from '../shared/log.js';
import type { FunctionSpec } from './manifest/spec.js';
import { RuntimeMetrics } from './metrics.js';
import { StemCells } from './pool/stemcells.js';
import { Registry } from './registry.js';
import { RunDir } from './rundir.js';
import { DEFAULT_RUNTIME_PORT, defaultRunBase, tokenFile } from '../shared/local.js';
import { StateBackends, type BackendChoice } from './state/backend.js';
import { HugePagePool } from './state/hugepages.js';
import { StateStore } from './state/store.js';
import { Cgroups } from './supervisor/cgroup.js';
import { DEFAULT_WORKER_IDS, WorkerIdentities, type IdRange } from './isolation/identities.js';
import type { ColocationMode } from './supervisor/colocation.js';
import { Supervisor } from './supervisor/supervisor.js';
import { ToolProfiles } from './profile-tools/runs.js';

export interface RuntimeOptions {
  host: string;
  port: number;
  /** Bearer token for the control API; generated when absent. */
  token?: string;
  runBase: string;
  cacheDir: string;
  stateBackend: BackendChoice;
  maxStateBytes: number;
  maxBodyBytes: number;
  maxPayloadBytes: number;
  stemCells: number;
  /** Seed processes kept ready for cold starts (native/seed/seed.c); 0 spawns every worker directly. */
  seeds: number;
  /** Node workers write V8 perf maps (/tmp/perf-PID.map), so the agent's profiles name JavaScript frames. */
  nodePerfMaps: boolean;
  /**
   * Hold the runtime's thread and its workers on one CPU while their load fits it (README,
   * "Co-location"). Processes started from the runtime's thread by anything else inherit
   * that CPU: an embedder that starts them should turn it off, or start them in
   * withHostAffinity (runtime/supervisor/colocation.ts).
   */
  colocation: ColocationMode;
  startTimeoutMs: number;
  timeoutGraceMs: number;
  shutdownGraceMs: number;
  cgroups: boolean;
  /** Where functions without isolation.user get a uid of their own, when the runtime can switch users. */
  workerIds: IdRange;
  logLevel: LogLevel;
  logger?: Logger;
}

export const DEFAULT_PORT = DEFAULT_RUNTIME_PORT;
export const HEARTH_VERSION = '0.1.0';
/** How often deadlines are checked: the resolution of 503/504 answers. */
const DEADLINE_SWEEP_MS = 5;

export function defaultOptions(): RuntimeOptions {
  return {
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    runBase: defaultRunBase(),
    // Workers with a uid of their own exec built binaries from here: root's home is closed to them.
    cacheDir: process.env['HEARTH_CACHE'] ?? (process.getuid?.() === 0 ? '/var/cache/hearth' : path.join(os.homedir(), '.cache', 'hearth')),
    stateBackend: 'auto',
    // One state is written through one ArrayBuffer, and Node 20 caps those at 4 GiB.
    maxStateBytes: 4 * 1024 ** 3,
    maxBodyBytes: 6 * 1024 * 1024,
    maxPayloadBytes: 64 * 1024 * 1024,
    stemCells: 1,
    seeds: 2,
    nodePerfMaps: false,
    colocation: 'auto',
    startTimeoutMs: 10_000,
    timeoutGraceMs: 1000,
    shutdownGraceMs: 5000,
    cgroups: true,
    workerIds: DEFAULT_WORKER_IDS,
    logLevel: 'info',
  };
}


/** The host runtime: state store, supervisor, pools and the HTTP API, started and stopped as one. */
export class Runtime {
  readonly log: Logger;
  readonly events = new EventLog();
  private probeGate!: ProbeGate;
  readonly token: string;
  registry!: Registry;
  metrics!: RuntimeMetrics;
  private runDir!: RunDir;
  private backends!: StateBackends;
  private store!: StateStore;
  private cgroups!: Cgroups;
  private supervisor!: Supervisor;
  private stemCells!: StemCells;
  private toolProfiles!: ToolProfiles;
  private server: http.Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private deadlines: NodeJS.Timeout | undefined;
  private nextInvocation = 1;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  url = '';
  private tokenPath: string | undefined;

  /** Seeds started and waiting to become workers. */
  seedsReady(): number {
    return this.supervisor?.seedsReady ?? 0;
  }

  /** Stem cells started and waiting to be specialised. */
  stemCellsReady(): number {
    return this.stemCells?.readyCount() ?? 0;
  }

  /** The parent memory cgroup of this runtime's workers, when limits are enforced. */
  get cgroupDir(): string | undefined {
    return this.cgroups?.dir;
  }

  constructor(readonly options: RuntimeOptions) {
    this.log = options.logger ?? createLogger(options.logLevel);
    // Hex, not base64url: a token that began with '-' would read as an option on a command line.
    this.token = options.token ?? randomBytes(24).toString('hex');
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('a runtime starts once');
    const { options, log } = this;
    const isRoot = process.getuid?.() === 0;
    this.runDir = RunDir.create(options.runBase, log, [HugePagePool.cleanStale(log), StateBackends.cleanStale, (_dir, pid) => Cgroups.cleanStale(pid)]);
    this.cgroups = Cgroups.detect(log.child('limits'), !options.cgroups);
    if (this.cgroups.enforced) log.info(`worker memory limits: ${this.cgroups.reason}`);
    else log.warn(`worker memory limits are NOT enforced: ${this.cgroups.reason}`);
    const identities = WorkerIdentities.detect(options.workerIds);
    if (identities.canSwitch) log.info(identities.describe());
    else log.warn(identities.describe());
    const hugePool = new HugePagePool(log.child('state'), isRoot, this.runDir.path(HugePagePool.recordName()));
    this.backends = new StateBackends(log.child('state'), this.runDir.dir, options.stateBackend, hugePool, isRoot);
    this.backends.init();
    this.store = new StateStore(this.backends, log.child('state'), options.maxStateBytes);
    this.supervisor = new Supervisor(this.cgroups, log.child('worker'), {
      maxPayload: options.maxPayloadBytes,
      startTimeoutMs: options.startTimeoutMs,
      timeoutGraceMs: options.timeoutGraceMs,
      shutdownGraceMs: options.shutdownGraceMs,
      seeds: options.seeds,
      nodePerfMaps: options.nodePerfMaps,
      colocation: options.colocation,
    });
    this.probeGate = new ProbeGate(log.child('probes'));
    this.stemCells = new StemCells(this.supervisor, options.stemCells, log.child('stem-cells'), this.events);
    this.metrics = new RuntimeMetrics(
      () => this.registry.all().map((pool) => pool.snapshot()),
      () => this.registry.all().flatMap((pool) => (pool.current.state === undefined ? [] : [{ fn: pool.name, id: pool.current.state.id, bytes: pool.current.state.size, backend: pool.current.state.backend }])),
      () => this.registry.all().map((pool) => ({ fn: pool.name, gc: pool.current.spec.gc })),
    );
    this.registry = new Registry(
      {
        supervisor: this.supervisor,
        store: this.store,
        events: this.events,
        metrics: this.metrics,
        stemCells: this.stemCells,
        log: log.child('pool'),
        cacheDir: options.cacheDir,
        probeGate: this.probeGate,
        identities,
      },
      log.child('registry'),
    );
    this.toolProfiles = new ToolProfiles({ registry: this.registry, baseDir: this.runDir.path('tool-profiles'), nextInvocationId: () => this.nextInvocation++, log: log.child('profile') });
    this.ticker = setInterval(() => {
      const now = nowMs();
      for (const pool of this.registry.all()) pool.tick(now);
    }, 250);
    this.deadlines = setInterval(() => {
      const now = nowMs();
      for (const pool of this.registry.all()) pool.expire(now);
    }, DEADLINE_SWEEP_MS);
    this.server = createApiServer({
      registry: this.registry,
      events: this.events,
      probeGate: this.probeGate,
      metrics: this.metrics,
      token: this.token,
      maxBodyBytes: options.maxBodyBytes,
      nextInvocationId: () => this.nextInvocation++,
      accepting: () => this.state === 'running',
      ready: () => this.state === 'running',
      spares: () => ({ seedsReady: this.seedsReady(), stemCellsReady: this.stemCellsReady() }),
      toolProfiles: this.toolProfiles,
      info: () => ({
        pid: process.pid,
        version: HEARTH_VERSION,
        node: process.version,
        seedBinary: native.SEED_BINARY,
        nodeBinary: process.execPath,
        nodeAddon: native.ADDON_FILE,
        lastEventSeq: this.events.lastSeq,
        colocation: this.supervisor.colocation.status(),
      }),
    });
    try {
      const address = await listen(this.server, options.host, options.port);
      this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      // The token lives in this instance's run directory; a per-port link lets the CLI find it.
      fs.writeFileSync(this.runDir.path('token'), this.token + '\n', { mode: 0o600 });
      this.tokenPath = tokenFile(options.runBase, address.port);
      fs.rmSync(this.tokenPath, { force: true });
      fs.symlinkSync(path.join(String(process.pid), 'token'), this.tokenPath);
    } catch (error) {
      await this.stop();
      throw new HearthError('HEARTH_ERR_INTERNAL', `cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
    }
    this.state = 'running';
    if (options.host !== '127.0.0.1' && options.host !== '::1' && options.host !== 'localhost') {
      log.warn(`listening on ${options.host}, beyond loopback: invocations need no token; put a proxy with authentication in front`);
    }
    log.info(`listening on ${this.url} (control API token in ${this.tokenPath})`);
  }

  async deploy(specs: FunctionSpec[]): Promise<void> {
    for (const spec of specs) await this.registry.deploy(spec, { onProgress: (message) => this.log.info(`${spec.name}: ${message}`) });
  }

  /** Stops taking requests, lets in-flight ones finish, stops every worker, and undoes every host change. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    clearInterval(this.ticker);
    const closing = this.server === undefined ? Promise.resolve() : new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server?.closeIdleConnections();
    // Pools stop starting workers and answer what is queued; workers finish what is in
    // flight (deadlines still apply) within the grace period, then are killed.
    if (this.registry !== undefined) {
      const error = new HearthError('HEARTH_ERR_SHUTTING_DOWN', 'the runtime is shutting down', { details: { retryAfterSeconds: 1 } });
      for (const pool of this.registry.all()) pool.close(error);
      this.stemCells.close();
      this.toolProfiles.close();
    }
    if (this.supervisor !== undefined) {
      await this.supervisor.stopAll('runtime shutting down');
      this.supervisor.close();
    }
    clearInterval(this.deadlines);
    await this.registry?.removeAll();
    this.store?.closeAll();
    this.backends?.close();
    this.cgroups?.close();
    this.server?.closeAllConnections();
    await closing;
    if (this.tokenPath !== undefined) fs.rmSync(this.tokenPath, { force: true });
    this.runDir?.remove();
    this.state = 'stopped';
    this.log.info('stopped');
  }
}
