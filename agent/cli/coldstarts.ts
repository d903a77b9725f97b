import { intOption, table, type Command } from '../../shared/command.js';
import { ndjsonLines } from '../../shared/ndjson.js';
import { PHASES, type Phase } from '../../shared/phases.js';
import { AGENT_OPTION_HELP, agentBase, agentGet, agentJson } from './agent-api.js';
import type { FunctionStats } from '../phases/store.js';
import type { ColdStartRecord } from '../phases/tracker.js';

const options = {
  agent: { type: 'string' },
  function: { type: 'string', short: 'f' },
  limit: { type: 'string', short: 'n' },
  follow: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const SHORT: Record<Phase, string> = {
  fork: 'FORK',
  exec: 'EXEC',
  runtime_init: 'RUNTIME',
  user_init: 'INIT',
  state_mapped: 'STATE',
  ready: 'READY',
  first_response: 'RESPONSE',
};

function ms(ns: number): string {
  const value = ns / 1e6;
  return value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(0);
}

/** One row per cold start: each phase's duration in ms, with its source as k(ernel)/s(dk)/r(untime). */
function row(record: ColdStartRecord): string[] {
  const cells = PHASES.map((phase) => {
    const timing = record.phases.find((item) => item.phase === phase);
    return timing === undefined ? '-' : `${ms(timing.durationNs)}${timing.source[0]}`;
  });
  return [record.function, String(record.pid), record.origin, record.requestId === null ? '-' : String(record.requestId), ...cells, ms(record.totalNs), record.outcome];
}

const HEADERS = ['FUNCTION', 'PID', 'FROM', 'REQUEST', ...PHASES.map((phase) => SHORT[phase]), 'TOTAL', 'OUTCOME'];

/** Per function and phase: count and p50/p90/p99/max in ms, as a table. */
export function percentiles(stats: FunctionStats[]): string {
  const rows = stats.flatMap((fn) => [
    ...PHASES.filter((phase) => fn.phases[phase] !== undefined).map((phase) => {
      const item = fn.phases[phase]!;
      return [fn.function, phase, item.count, item.p50Ms, item.p90Ms, item.p99Ms, item.maxMs];
    }),
    [fn.function, 'total', fn.total.count, fn.total.p50Ms, fn.total.p90Ms, fn.total.p99Ms, fn.total.maxMs],
  ]);
  return table(['FUNCTION', 'PHASE', 'N', 'P50 MS', 'P90 MS', 'P99 MS', 'MAX MS'], rows);
}

export const coldstarts: Command<typeof options> = {
  name: 'coldstarts',
  summary: 'show recent cold starts, phase by phase, and percentiles',
  usage: 'hearth coldstarts [--function F] [-n N] [--follow] [--json] [--agent URL]',
  help: `Prints the agent's recent cold starts: per phase (${PHASES.join(', ')}) the time in ms
and where it was measured (k = kernel tracepoint or runtime symbol, s = SDK marker, r = the
runtime's own event), the total from the spawn decision to the first response, and then
percentiles per function and phase. A phase that was not observed (a worker from a seed
was forked before the request) shows "-" and its time is in the next phase.

Options:
  -f, --function F   only this function
  -n, --limit N      how many recent cold starts (default 20)
  --follow           keep printing cold starts as they happen
  --json             print the agent's JSON instead of tables
${AGENT_OPTION_HELP}`,
  options,
  async run(values) {
    const base = agentBase(values);
    const fn = values['function'] as string | undefined;
    const limit = intOption(values, 'limit', 20, 1);
    const query = `${fn === undefined ? '' : `function=${encodeURIComponent(fn)}&`}limit=${limit}`;
    const get = <T>(route: string): Promise<T> => agentJson<T>(base, route);
    if (values['follow'] === true) {
      const response = await agentGet(base, `/v1/coldstarts?${query}&follow=1`);
      process.stdout.write(HEADERS.join('  ') + '\n');
      for await (const line of ndjsonLines(response.body)) {
        process.stdout.write(values['json'] === true ? line + '\n' : row(JSON.parse(line) as ColdStartRecord).join('  ') + '\n');
      }
      return 0;
    }
    const { coldstarts: records } = await get<{ coldstarts: ColdStartRecord[] }>(`/v1/coldstarts?${query}`);
    const { functions } = await get<{ functions: FunctionStats[] }>(`/v1/phases${fn === undefined ? '' : `?function=${encodeURIComponent(fn)}`}`);
    if (values['json'] === true) {
      process.stdout.write(JSON.stringify({ coldstarts: records, percentiles: functions }, null, 2) + '\n');
      return 0;
    }
    if (records.length === 0) {
      process.stdout.write('no cold starts recorded yet\n');
      return 0;
    }
    process.stdout.write(`${table(HEADERS, records.map(row))}\n\n${percentiles(functions)}\n`);
    return 0;
  },
};
