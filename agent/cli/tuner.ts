import { intOption, table, type Command } from '../../shared/command.js';
import { HearthError } from '../../shared/errors.js';
import { DEFAULT_RUNTIME_PORT, resolveToken } from '../../shared/local.js';
import { ndjsonLines } from '../../shared/ndjson.js';
import { formatDuration, round } from '../tuner/format.js';
import type { TunerDecision } from '../tuner/live/decision-log.js';
import type { FunctionTunerStatus, TunerStatus } from '../tuner/live/live-tuner.js';
import { TUNER_MODES } from '../tuner/live/metrics.js';
import { formatPool, formatRecommended } from '../tuner/live/status-format.js';
import { AGENT_OPTION_HELP, agentBase, agentGet, agentJson, agentRequest } from './agent-api.js';

const options = {
  agent: { type: 'string' },
  function: { type: 'string', short: 'f' },
  limit: { type: 'string', short: 'n' },
  follow: { type: 'boolean' },
  json: { type: 'boolean' },
  token: { type: 'string' },
  runtime: { type: 'string' },
} as const;

const SUBCOMMANDS = ['status', 'log', 'mode'] as const;

export const tuner: Command<typeof options> = {
  name: 'tuner',
  summary: 'the pool tuner: what it decided and why, its log, its mode',
  usage: 'hearth tuner status [--json] | hearth tuner log [--function F] [-n N] [--follow] [--json] | hearth tuner mode on|dry-run|off [--token T]',
  help: `The agent's pool tuner (README, "Tuner") sets each function's warm minimum, pre-warms,
keep-alive, spare workers and maximum from what the agent measures, and applies the GC advisor's settings
(README, "GC tuning"). Every decision is logged with its inputs and reason.

  hearth tuner status   the mode and policy; per function the settings it started from (the
                        function's own), those in force, the latest recommendation, the
                        measured cold start and worker memory the policy priced, a change
                        being watched for regressions; then each function's reason
  hearth tuner log      the decision log, oldest first: when, function, pool or gc, what
                        changed (before→after), the outcome (applied, recommended in dry-run,
                        rolled-back after a regression, failed with the runtime's error), the
                        reason and the inputs it was computed from
  hearth tuner mode M   on: apply decisions; dry-run: only recommend (and give every function
                        its own settings back); off: stop deciding. Needs the agent's token.

Options:
  -f, --function F   (log) only this function
  -n, --limit N      (log) the newest N decisions (default 50)
  --follow           (log) keep printing decisions as they are made
  --json             print the agent's JSON
  --token TOKEN      (mode) the agent's token: the runtime's control token it was started with
                     (default $HEARTH_TOKEN, else the local runtime's token file)
  --runtime URL      (mode) where that local runtime listens, to find its token file
                     (default http://127.0.0.1:${DEFAULT_RUNTIME_PORT})
${AGENT_OPTION_HELP}`,
  options,
  async run(values, positionals) {
    const [sub, ...rest] = positionals;
    const base = agentBase(values);
    switch (sub) {
      case 'status':
        noMore(sub, rest);
        return status(base, values['json'] === true);
      case 'log':
        noMore(sub, rest);
        return log(base, values);
      case 'mode':
        return mode(base, rest, values);
      default:
        throw new HearthError('HEARTH_ERR_BAD_REQUEST', `hearth tuner: ${sub === undefined ? 'say what to do' : `unknown subcommand ${JSON.stringify(sub)}`}: ${SUBCOMMANDS.join(', ')}\nusage: ${tuner.usage}`);
    }
  },
};

function noMore(sub: string, rest: string[]): void {
  if (rest.length > 0) throw new HearthError('HEARTH_ERR_BAD_REQUEST', `hearth tuner ${sub} takes no arguments (got ${rest.join(' ')})`);
}

async function status(base: string, json: boolean): Promise<number> {
  const current = await agentJson<TunerStatus>(base, '/v1/tuner/status');
  if (json) {
    process.stdout.write(JSON.stringify(current, null, 2) + '\n');
    return 0;
  }
  const compression = current.compression === 1 ? '' : `, time compressed ${current.compression}×`;
  const following = current.mode === 'off' || current.following ? '' : ' (not following the runtime\'s events right now)';
  process.stdout.write(`tuner ${current.mode}: ${current.policy} policy${compression}${current.gcAdvisor ? ', with GC advice' : ', no GC advisor'}; ${current.decisions} decisions${following}\n`);
  if (current.functions.length === 0) {
    process.stdout.write(current.mode === 'off' ? 'off: no function is tuned (hearth tuner mode on)\n' : 'no functions yet\n');
    return 0;
  }
  const rows = current.functions.map((fn) => [fn.function, formatPool(fn.configured), fn.inForce === null ? '-' : formatPool(fn.inForce), formatRecommended(fn), coldStart(fn), memory(fn), watching(fn)]);
  process.stdout.write(`\n${table(['FUNCTION', 'OWN', 'IN FORCE', 'RECOMMENDED', 'COLD START', 'MEMORY', 'WATCH'], rows)}\n`);
  process.stdout.write('\n(min/max/keep-alive, and spare N when it keeps idle workers beyond those running; a pre-warm as +N in T for D)\n');
  for (const fn of current.functions) {
    if (fn.reason !== null) process.stdout.write(`\n${fn.function}: ${fn.reason}\n`);
    if (fn.lastVerdict !== null) process.stdout.write(`  last watch (${formatDuration(fn.lastVerdict.agoMs)} ago): ${fn.lastVerdict.regressed ? 'REGRESSION, rolled back: ' : ''}${fn.lastVerdict.detail}\n`);
    if (fn.gcHeldForMs !== null) process.stdout.write(`  GC advice held for ${formatDuration(fn.gcHeldForMs)} after a rollback\n`);
  }
  return 0;
}

function coldStart(fn: FunctionTunerStatus): string {
  return `${round(fn.profile.coldStartMs)} ms (${fn.profile.coldStartSource})`;
}

function memory(fn: FunctionTunerStatus): string {
  return `${round(fn.profile.memoryMb)} MB (${fn.profile.memorySource})`;
}

function watching(fn: FunctionTunerStatus): string {
  return fn.watching === null ? '-' : `${fn.watching.settings.join('+')} for ${formatDuration(fn.watching.forMs)}`;
}

async function log(base: string, values: Record<string, unknown>): Promise<number> {
  const fn = values['function'] as string | undefined;
  const limit = intOption(values, 'limit', 50, 1);
  const query = `${fn === undefined ? '' : `function=${encodeURIComponent(fn)}&`}limit=${limit}`;
  const json = values['json'] === true;
  if (values['follow'] === true) {
    const response = await agentGet(base, `/v1/tuner/decisions?${query}&follow=1`);
    for await (const line of ndjsonLines(response.body)) process.stdout.write(json ? line + '\n' : describe(JSON.parse(line) as TunerDecision));
    return 0;
  }
  const { decisions, mode: current } = await agentJson<{ decisions: TunerDecision[]; mode: string }>(base, `/v1/tuner/decisions?${query}`);
  if (json) {
    process.stdout.write(JSON.stringify(decisions, null, 2) + '\n');
    return 0;
  }
  if (decisions.length === 0) {
    process.stdout.write(`no tuner decisions yet${fn === undefined ? '' : ` for ${fn}`} (the tuner is ${current})\n`);
    return 0;
  }
  for (const decision of decisions) process.stdout.write(describe(decision));
  return 0;
}

/** One decision: a line with when, what and how it ended, then its reason and inputs. */
function describe(decision: TunerDecision): string {
  const when = new Date(decision.unixMs).toISOString().replace('T', ' ').slice(0, 23);
  const error = decision.error === undefined ? '' : `\n    error: ${decision.error}`;
  const inputs = Object.entries(decision.inputs)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return `${when}  #${decision.seq}  ${decision.function}  ${decision.kind}  ${decision.outcome}  ${decision.change || '(no change)'}\n    reason: ${decision.reason}${inputs === '' ? '' : `\n    inputs: ${inputs}`}${error}\n`;
}

async function mode(base: string, rest: string[], values: Record<string, unknown>): Promise<number> {
  const [wanted, ...extra] = rest;
  if (wanted === undefined || extra.length > 0 || !(TUNER_MODES as readonly string[]).includes(wanted)) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `hearth tuner mode takes one of ${TUNER_MODES.join(', ')}${wanted === undefined ? '' : ` (got ${[wanted, ...extra].join(' ')})`}`);
  }
  const runtimeUrl = ((values['runtime'] as string | undefined) ?? process.env['HEARTH_URL'] ?? `http://127.0.0.1:${DEFAULT_RUNTIME_PORT}`).replace(/\/$/, '');
  let token: string;
  try {
    token = resolveToken(runtimeUrl, values['token'] as string | undefined);
  } catch (error) {
    throw new HearthError('HEARTH_ERR_UNAUTHORIZED', (error as Error).message);
  }
  const response = await agentRequest(base, '/v1/tuner/mode', { method: 'PUT', body: { mode: wanted }, token });
  const current = (await response.json()) as TunerStatus;
  process.stdout.write(`tuner ${current.mode} (${current.policy} policy)\n`);
  return 0;
}
