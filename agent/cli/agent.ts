import v8 from 'node:v8';
import { isLogLevel } from '../../shared/log.js';
import { resolveToken } from '../../shared/local.js';
import { HearthError } from '../../shared/errors.js';
import { choiceOption, intOption, type Command } from '../../shared/command.js';
import { AGENT_NICE, runAsBackgroundTask } from '../scheduling.js';
import { Agent, DEFAULT_AGENT_PORT, defaultAgentOptions } from '../agent.js';
import { SYSCALL_HOOK_MODES } from '../probes/syscall-demand.js';
import { DEFAULT_COLD_MAX_PER_SECOND, DEFAULT_PROFILER_OPTIONS } from '../profile/profiler.js';
import { isPolicyName, POLICY_NAMES } from '../tuner/policies/by-name.js';
import { DEFAULT_TUNER_OPTIONS, type LiveTunerOptions } from '../tuner/live/live-tuner.js';
import { TUNER_MODES, type TunerMode } from '../tuner/live/metrics.js';

const options = {
  runtime: { type: 'string' },
  token: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  'syscall-probes': { type: 'string' },
  'probe-invocations': { type: 'boolean' },
  'probe-package-inits': { type: 'boolean' },
  'no-profile': { type: 'boolean' },
  'profile-cold-hz': { type: 'string' },
  'profile-steady-hz': { type: 'string' },
  'profile-cold-every': { type: 'string' },
  'profile-cold-max-per-second': { type: 'string' },
  'faro-url': { type: 'string' },
  tuner: { type: 'string' },
  'tuner-policy': { type: 'string' },
  'tuner-compression': { type: 'string' },
  'tuner-memory-price': { type: 'string' },
  'tuner-core-mb': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export const agent: Command<typeof options> = {
  name: 'agent',
  summary: 'run the eBPF agent beside a runtime',
  usage: 'hearth agent [--runtime URL] [--token TOKEN] [--port N] [--tuner on|dry-run|off] [options]',
  help: `Runs the agent: eBPF programs (bpf/coldstart.bpf.c, loaded through libbpf) follow every
process the runtime starts from its birth, probe the Go runtime, Node and the SDKs' marker
functions, and join what they see with the runtime's events into one record per cold start:
every phase (fork, exec, runtime_init, user_init, state_mapped, ready, first_response), its
duration and where it was measured. Serves them, with CPU profiles and a web UI (open
http://127.0.0.1:${DEFAULT_AGENT_PORT}/: waterfalls, percentiles, pools, flamegraphs), and tunes each
function's pool (warm minimum, pre-warms, keep-alive, spare workers) from what it measures (--tuner), until SIGINT
or SIGTERM, then detaches every probe. It runs as a background task (SCHED_BATCH, nice 10):
workers come first.

Needs root, or CAP_BPF + CAP_PERFMON (plus read access to the runtime's binaries and /proc),
and CAP_SYS_ADMIN for uprobes (the Go, Node and SDK probes; without it phases come from kernel
events only). Beside a runtime in another container (a Kubernetes pod) it also needs the host's
PID namespace and CAP_SYS_PTRACE: it opens the runtime's files through /proc/PID/root. See
README, "Agent", SECURITY.md and deploy/agent.yaml.

Options:
  --runtime URL            the runtime to follow (default http://127.0.0.1:8700)
  --token TOKEN            its control token (default $HEARTH_TOKEN, else the local runtime's token
                           file); on the command line it is visible to every local user, functions
                           included, in /proc/PID/cmdline: prefer the other two
  --host ADDR, -p N        the agent's own API (default 127.0.0.1:${DEFAULT_AGENT_PORT}): the web UI at /,
                           /metrics, /v1/coldstarts, /v1/phases, /v1/exits, /v1/probes,
                           /v1/pool, /v1/profiles, /v1/gc, /v1/tuner/status, /v1/tuner/decisions,
                           /healthz, /collect, PUT /v1/probes {"attached": false|true} (detaches
                           every probe and clock, and attaches them again) and PUT /v1/tuner/mode
                           (these two with the token)
  --syscall-probes MODE    the hooks on syscalls that see the first mmap of fd 4 and the first
                           write on fd 3 of any binary cost every syscall on the host ~125 ns while
                           attached (a Go cold start ~250 µs); auto (default) attaches them only
                           while a deployed function lacks the SDKs' markers (an exec function),
                           on keeps them attached, off never attaches them (phases of such a
                           function then end at exec, plus the runtime's ready and response)
  --probe-invocations      also probe every invocation's start and end (a uprobe hit per call)
  --probe-package-inits    also probe runtime.doInit1 (where Go package initialisation begins)
  --no-profile             do not sample the workers' CPU (no profiles, flamegraphs or GC share)
  --profile-cold-hz N      sampling rate while a worker starts, exec to ready (default ${DEFAULT_PROFILER_OPTIONS.coldHz}),
                           on a clock per process the runtime starts, ticking only while it runs
  --profile-cold-every N   sample the start of one in N of the processes the runtime starts
                           (default 1: every one). Such a clock adds to each context switch of
                           the process it follows, most on virtual machines whose timer writes
                           trap (14 µs on the VM of bench/results/profile.md, where the Go example
                           switches about 23 times from exec to ready); the cold-start profile
                           then aggregates fewer starts
  --profile-cold-max-per-second N
                           open at most N of those clocks a second (default ${DEFAULT_COLD_MAX_PER_SECOND}):
                           each costs the agent ~0.15 ms of CPU, so under a storm of cold starts
                           the rest start unsampled (hearth_profile_cold_clocks_over_budget_total)
  --profile-steady-hz N    sampling rate of warm workers (default ${DEFAULT_PROFILER_OPTIONS.steadyHz}); see hearth profile --help
  --faro-url URL           where the web UI sends its telemetry (Grafana Faro: errors, web vitals,
                           events), e.g. a Grafana Alloy faro.receiver at http://HOST:12347/collect
                           (allow the agent's origin in its cors_allowed_origins); default: the
                           agent's own /collect, which counts it in /metrics (hearth_agent_faro_*)
  --tuner MODE             the pool tuner (README, "Tuner"): on (default) applies its decisions to
                           the runtime, dry-run only recommends them, off does nothing; switch it
                           later with hearth tuner mode; see hearth tuner status and hearth tuner log
  --tuner-policy NAME      ${POLICY_NAMES.join(', ')} (default hearth; the
                           others are the baselines it is compared with)
  --tuner-memory-price P   the hearth policy's price of one MB of idle worker for one second, in ms
                           of cold-start latency (default 1/122880: a 2.5 ms start of a 512 MB worker
                           is worth 10 minutes of it idle); higher keeps fewer workers
  --tuner-core-mb MB       the hearth policy prices a worker start as the host's CPU for its duration,
                           a core costing as much as this much memory (default 1769, AWS Lambda's
                           ratio); higher makes spare workers, whose misses still start a worker,
                           rarer and keep-alives longer
  --tuner-compression C    for trace replays C times faster than real time: the policy's windows
                           shrink by C (default 1)
  --log-level LEVEL        debug, info (default), warn or error`,
  options,
  async run(values) {
    const defaults = defaultAgentOptions();
    const runtimeUrl = ((values['runtime'] as string | undefined) ?? process.env['HEARTH_URL'] ?? defaults.runtimeUrl).replace(/\/$/, '');
    let token: string;
    try {
      token = resolveToken(runtimeUrl, values['token'] as string | undefined);
    } catch (error) {
      throw new HearthError('HEARTH_ERR_UNAUTHORIZED', (error as Error).message);
    }
    const level = (values['log-level'] as string | undefined) ?? 'info';
    if (!isLogLevel(level)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--log-level must be debug, info, warn or error (got ${JSON.stringify(level)})`);
    if (values['token'] !== undefined) process.stderr.write('hearth agent: --token is visible to every local user in /proc/PID/cmdline for as long as the agent runs; pass it in HEARTH_TOKEN, or let the agent read the runtime\'s token file\n');
    const faroUrl = (values['faro-url'] as string | undefined) ?? null;
    if (faroUrl !== null && !isHttpUrl(faroUrl)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--faro-url must be an http or https URL (got ${JSON.stringify(faroUrl)})`);
    const instance = new Agent({
      ...defaults,
      tuner: tunerOptions(values),
      runtimeUrl,
      token,
      host: (values['host'] as string | undefined) ?? defaults.host,
      port: intOption(values, 'port', defaults.port),
      syscalls: choiceOption(values, 'syscall-probes', SYSCALL_HOOK_MODES, 'auto'),
      probes: { invocations: values['probe-invocations'] === true, packageInits: values['probe-package-inits'] === true },
      profile:
        values['no-profile'] === true
          ? null
          : {
              coldHz: intOption(values, 'profile-cold-hz', DEFAULT_PROFILER_OPTIONS.coldHz, 1),
              steadyHz: intOption(values, 'profile-steady-hz', DEFAULT_PROFILER_OPTIONS.steadyHz, 1),
              coldEvery: intOption(values, 'profile-cold-every', 1, 1),
              coldMaxPerSecond: intOption(values, 'profile-cold-max-per-second', DEFAULT_COLD_MAX_PER_SECOND, 1),
            },
      faroUrl,
      logLevel: level,
    });
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) process.exit(130);
      stopping = true;
      instance.log.info(`${signal}: detaching probes`);
      void instance.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // A sidecar's memory is what it costs every host: V8 lets the heap grow up to four times
    // past the agent's ~20 MB of live objects (RSS under load 170 MB). A fixed growth of half
    // keeps it near 125 MB; --optimize-for-size did too, but collected so much more often that
    // the agent took 2.3% of a core under `npm run bench -- agent`'s load against 1.6%.
    v8.setFlagsFromString('--heap-growing-percent=50');
    const problems = runAsBackgroundTask();
    if (problems.length === 0) instance.log.info(`running as a background task (SCHED_BATCH, nice ${AGENT_NICE}) so that workers come first`);
    else instance.log.warn(`could not lower the agent's priority, it may slow cold starts down: ${problems.join('; ')}`);
    try {
      await instance.start();
    } catch (error) {
      await instance.stop();
      throw error;
    }
    await new Promise(() => undefined);
    return 0;
  },
};

function tunerOptions(values: Record<string, unknown>): Partial<LiveTunerOptions> {
  const mode = choiceOption<TunerMode>(values, 'tuner', TUNER_MODES, DEFAULT_TUNER_OPTIONS.mode);
  const policy = (values['tuner-policy'] as string | undefined) ?? DEFAULT_TUNER_OPTIONS.policy;
  if (!isPolicyName(policy)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--tuner-policy must be one of ${POLICY_NAMES.join(', ')} (got ${JSON.stringify(policy)})`);
  const compression = positiveNumber(values, 'tuner-compression', 1);
  const price = values['tuner-memory-price'] === undefined ? undefined : positiveNumber(values, 'tuner-memory-price', 0);
  const coreAsMb = values['tuner-core-mb'] === undefined ? undefined : positiveNumber(values, 'tuner-core-mb', 0);
  return { mode, policy, compression, prices: { ...(price === undefined ? {} : { memoryPricePerMbSecond: price }), ...(coreAsMb === undefined ? {} : { coreAsMb }) } };
}

/** A positive number, or a fraction such as 1/122880. */
function positiveNumber(values: Record<string, unknown>, name: string, fallback: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const match = typeof text === 'string' ? /^\s*([\d.e+-]+)\s*(?:\/\s*([\d.e+-]+))?\s*$/.exec(text) : null;
  const value = match === null ? NaN : Number(match[1]) / (match[2] === undefined ? 1 : Number(match[2]));
  if (!(value > 0) || !Number.isFinite(value)) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `--${name} must be a positive number or fraction such as 1/122880 (got ${JSON.stringify(text)})`);
  return value;
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}
