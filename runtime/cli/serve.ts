import { isLogLevel } from '../../shared/log.js';
import { readManifestFile } from '../manifest/parse.js';
import { Runtime, defaultOptions, type RuntimeOptions } from '../runtime.js';
import { BACKENDS, type BackendChoice } from '../state/backend.js';
import { HearthError } from '../../shared/errors.js';
import { bytesOption, intOption, type Command } from '../../shared/command.js';
import fs from 'node:fs';
import { DEFAULT_WORKER_IDS, type IdRange } from '../isolation/identities.js';

const options = {
  manifest: { type: 'string', short: 'm' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  'token-file': { type: 'string' },
  'state-backend': { type: 'string' },
  'stem-cells': { type: 'string' },
  seeds: { type: 'string' },
  'node-perf-maps': { type: 'boolean' },
  colocate: { type: 'string' },
  cache: { type: 'string' },
  'run-dir': { type: 'string' },
  'no-cgroups': { type: 'boolean' },
  'worker-uids': { type: 'string' },
  'max-body': { type: 'string' },
  'max-state': { type: 'string' },
  'start-timeout': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export function runtimeOptions(values: Record<string, unknown>): RuntimeOptions {
  const defaults = defaultOptions();
  const backend = (values['state-backend'] as string | undefined) ?? 'auto';
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--state-backend must be auto, ${BACKENDS.join(', ')} (got ${JSON.stringify(backend)})`);
  }
  const colocation = (values['colocate'] as string | undefined) ?? defaults.colocation;
  if (colocation !== 'auto' && colocation !== 'off') throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--colocate must be auto or off (got ${JSON.stringify(colocation)})`);
  const level = (values['log-level'] as string | undefined) ?? defaults.logLevel;
  if (!isLogLevel(level)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--log-level must be debug, info, warn or error (got ${JSON.stringify(level)})`);
  let token = process.env['HEARTH_TOKEN'];
  const tokenPath = values['token-file'] as string | undefined;
  if (tokenPath !== undefined) {
    try {
      token = fs.readFileSync(tokenPath, 'utf8').trim();
    } catch (error) {
      throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--token-file ${tokenPath}: ${(error as Error).message}`);
    }
    if (token.length < 16) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--token-file ${tokenPath}: the token must be at least 16 characters`);
  }
  return {
    ...defaults,
    host: (values['host'] as string | undefined) ?? defaults.host,
    port: intOption(values, 'port', defaults.port),
    ...(token === undefined ? {} : { token }),
    stateBackend: backend as BackendChoice,
    stemCells: intOption(values, 'stem-cells', defaults.stemCells),
    seeds: intOption(values, 'seeds', defaults.seeds),
    nodePerfMaps: values['node-perf-maps'] === true,
    colocation,
    cacheDir: (values['cache'] as string | undefined) ?? defaults.cacheDir,
    runBase: (values['run-dir'] as string | undefined) ?? defaults.runBase,
    cgroups: values['no-cgroups'] !== true,
    workerIds: idRangeOption(values['worker-uids'] as string | undefined, defaults.workerIds),
    maxBodyBytes: bytesOption(values, 'max-body', defaults.maxBodyBytes),
    maxStateBytes: bytesOption(values, 'max-state', defaults.maxStateBytes),
    startTimeoutMs: intOption(values, 'start-timeout', defaults.startTimeoutMs, 1),
    logLevel: level,
  };
}

/** --worker-uids FIRST-LAST: ids from 1 to 2^31 - 1, where no account lives. */
function idRangeOption(text: string | undefined, fallback: IdRange): IdRange {
  if (text === undefined) return fallback;
  const match = /^(\d+)-(\d+)$/.exec(text);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (match === null || first < 1 || last < first || last > 2 ** 31 - 1) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--worker-uids must be FIRST-LAST, from 1 to ${2 ** 31 - 1} (got ${JSON.stringify(text)})`);
  }
  return { first, count: last - first + 1 };
}

export const SERVE_OPTIONS_HELP = `  --host ADDR            address to listen on (default 127.0.0.1; anything else exposes invoke without a token)
  -p, --port N           port (default 8700; 0 picks a free one)
  --token-file FILE      read the control API token from FILE (default $HEARTH_TOKEN, else a random one
                         written to <run-dir>/port-<port>.token, mode 0600)
  --state-backend KIND   auto (default), hugetlb, thp or tmpfs: where state lives (see README, "State")
  --stem-cells N         pre-started Node workers per V8 flag set (default 1; 0 disables)
  --seeds N              processes kept ready to exec workers, each already in its cgroup (default 2;
                         0 spawns every worker directly)
  --node-perf-maps       Node workers write V8 perf maps (/tmp/perf-PID.map, removed 10 s after the
                         worker exits), so the agent's CPU profiles name JavaScript frames
  --colocate MODE        auto (default): while the runtime and its workers take less than one CPU,
                         hold them on the one the runtime runs on, so that handing a request to a
                         worker and back costs context switches, not wakeups of another CPU; they
                         get every CPU back once they need more (README, "Co-location"). off: never
  --cache DIR            build outputs (default $HEARTH_CACHE, else /var/cache/hearth as root, where
                         workers of other users can reach them, else ~/.cache/hearth)
  --run-dir DIR          per-instance files (default /run/hearth as root)
  --no-cgroups           do not put workers in memory and pids cgroups (memory limits then go
                         unenforced; a worker's children can outlive it)
  --worker-uids A-B      where functions without isolation.user get a uid (and gid) of their own,
                         as root (default ${DEFAULT_WORKER_IDS.first}-${DEFAULT_WORKER_IDS.first + DEFAULT_WORKER_IDS.count - 1}); no account may live there
  --max-body SIZE        largest request body (default 6MiB)
  --max-state SIZE       largest state file (default and most: 4GiB)
  --start-timeout MS     how long a worker may take to become ready (default 10000)
  --log-level LEVEL      debug, info (default), warn or error`;

export const serve: Command<typeof options> = {
  name: 'serve',
  summary: 'run the runtime in the foreground',
  usage: 'hearth serve [--manifest hearth.json] [options]',
  help: `Runs the Hearth runtime: keeps warm pools of workers, maps each function's state into
them read-only, and serves the HTTP API until SIGINT or SIGTERM, then stops every worker
and undoes every host change it made (mounts, huge page reservations, cgroups). Each
worker runs in a sandbox: as root, a uid of its function's own; always no_new_privs, a
seccomp filter, its memory and pids limits (SECURITY.md).

Options:
  -m, --manifest FILE    deploy the functions in FILE (hearth.json) at start
${SERVE_OPTIONS_HELP}

API (all under the listen address):
  POST /v1/functions/NAME/invoke        invoke (no token)
  GET|PUT|PATCH|DELETE /v1/functions[/NAME]   control (Authorization: Bearer TOKEN)
  PUT /v1/functions/NAME/state          upload a new state version (token)
  GET /v1/workers, GET /v1/events       workers and the event log (token)
  GET /metrics, /healthz, /readyz`,
  options,
  async run(values) {
    const runtime = new Runtime(runtimeOptions(values));
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        runtime.log.warn(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      runtime.log.info(`${signal}: stopping (again to force)`);
      void runtime.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    await runtime.start();
    const manifest = values['manifest'] as string | undefined;
    if (manifest !== undefined) {
      try {
        await runtime.deploy(readManifestFile(manifest));
      } catch (error) {
        await runtime.stop();
        throw error;
      }
    }
    await new Promise(() => undefined);
    return 0;
  },
};
