import type { Artifact } from '../build/artifact.js';
import type { WorkerIdentity } from '../isolation/identities.js';
import type { FunctionSpec } from '../manifest/spec.js';
import { PROTOCOL_VERSION } from '../ipc/frame.js';
import type { StateBlob } from '../state/store.js';
import type { LaunchSpec } from '../supervisor/worker.js';
import { NODE_WORKER_MAIN } from '../build/artifact.js';

/** One deployed version of a function: its spec, what it runs and its state. Immutable. */
export interface FunctionVersion {
  readonly version: number;
  readonly spec: FunctionSpec;
  readonly artifact: Artifact;
  readonly state: StateBlob | undefined;
  /** Who its workers run as. */
  readonly identity: WorkerIdentity;
}

/**
 * The worker's whole environment: the manifest's variables plus Hearth's own. Nothing of
 * the runtime's environment leaks in (an inherited NODE_EXTRA_CA_CERTS alone costs ~45 ms
 * on every Node start).
 */
export function workerEnv(version: FunctionVersion, workerId: number): Record<string, string> {
  const { spec, state } = version;
  const env: Record<string, string> = { ...spec.env };
  if (spec.kind === 'go') {
    if (spec.gc.gogc !== undefined) env['GOGC'] = spec.gc.gogc < 0 ? 'off' : String(spec.gc.gogc);
    if (spec.gc.memoryLimitMb !== undefined) env['GOMEMLIMIT'] = `${spec.gc.memoryLimitMb}MiB`;
  }
  Object.assign(env, hearthEnv(spec.name, workerId, spec.limits.concurrency, state));
  if (version.artifact.entry !== undefined) env['HEARTH_ENTRY'] = version.artifact.entry;
  return env;
}

export function hearthEnv(fn: string, workerId: number, concurrency: number, state: StateBlob | undefined): Record<string, string> {
  const env: Record<string, string> = {
    HEARTH_PROTOCOL: String(PROTOCOL_VERSION),
    HEARTH_FUNCTION: fn,
    HEARTH_WORKER_ID: String(workerId),
    HEARTH_IPC_FD: '3',
    HEARTH_CONCURRENCY: String(concurrency),
  };
  if (state !== undefined) {
    env['HEARTH_STATE_FD'] = '4';
    env['HEARTH_STATE_SIZE'] = String(state.size);
    env['HEARTH_STATE_ID'] = state.id;
  }
  return env;
}

export function launchFor(version: FunctionVersion, workerId: number): LaunchSpec {
  const { spec, artifact } = version;
  const argv = artifact.entry !== undefined ? [artifact.file, ...(artifact.nodeFlags ?? []), NODE_WORKER_MAIN] : [artifact.file, ...artifact.args];
  return {
    fn: spec.name,
    file: artifact.file,
    argv,
    env: workerEnv(version, workerId),
    ...(version.state === undefined ? {} : { state: version.state }),
    concurrency: spec.limits.concurrency,
    memoryMb: spec.limits.memoryMb,
    pids: spec.limits.pids,
    uidPids: spec.limits.pids * spec.pool.max,
    sandbox: { ...version.identity, seccomp: spec.isolation.seccomp },
    role: 'worker',
  };
}

/**
 * Functions can use a stem cell only when nothing they need is fixed at Node's start: not
 * their V8 flags, not their NODE_ or UV_ variables, not the absence of the seccomp filter
 * (a stem cell has it from its start).
 */
export function stemCellFlavour(version: FunctionVersion): string | undefined {
  if (version.artifact.entry === undefined || !version.spec.isolation.seccomp) return undefined;
  if (Object.keys(version.spec.env).some((key) => key.startsWith('NODE_') || key.startsWith('UV_'))) return undefined;
  return (version.artifact.nodeFlags ?? []).join(' ');
}
