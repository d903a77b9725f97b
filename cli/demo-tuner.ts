// What the agent's tuner chose during the demo's replay, per function: the pool and GC settings
// in force beside the function's own, an active pre-warm, how many decisions, the latest reason.
import type { LiveTuner } from '../agent/tuner/live/live-tuner.js';
import { formatGc, formatPool, formatPrewarm } from '../agent/tuner/live/status-format.js';
import type { FunctionSpec } from '../runtime/manifest/spec.js';
import { table } from '../shared/command.js';

export function tunerReport(tuner: LiveTuner, specs: readonly FunctionSpec[]): string {
  const status = tuner.status();
  const rows: string[][] = [];
  const reasons: string[] = [];
  for (const spec of specs) {
    const own = formatPool(spec.pool);
    const fn = status.functions.find((candidate) => candidate.function === spec.name);
    if (fn === undefined) {
      rows.push([spec.name, own, 'not tuned', '-', formatGc(spec.gc), formatGc(spec.gc), '0']);
      reasons.push(`${spec.name}: the tuner has not seen this function`);
      continue;
    }
    const decisions = tuner.decisions.list({ function: spec.name });
    const byKind = (kind: string): number => decisions.filter((decision) => decision.kind === kind).length;
    const latest = decisions.at(-1);
    rows.push([
      spec.name,
      own,
      fn.inForce === null ? '-' : formatPool(fn.inForce),
      formatPrewarm(fn) || '-',
      formatGc(spec.gc),
      formatGc(fn.gc),
      decisions.length === 0 ? '0: none, own settings kept' : `${decisions.length} (${byKind('pool')} pool, ${byKind('gc')} gc)`,
    ]);
    reasons.push(
      latest === undefined
        ? `${spec.name}: no decision: the policy's choice never differed from the function's own settings`
        : `${spec.name}: #${latest.seq} ${latest.kind} ${latest.outcome}${latest.change === '' ? '' : ` (${latest.change})`}: ${latest.reason}`,
    );
  }
  const compression = status.compression === 1 ? '' : `, windows compressed ${status.compression}× like the replay`;
  return (
    `What the tuner chose (${status.mode}, ${status.policy} policy${compression}${status.gcAdvisor ? ', with GC advice' : ''}; hearth tuner status, hearth tuner log):\n\n` +
    table(['FUNCTION', 'OWN POOL', 'IN FORCE', 'PRE-WARM', 'OWN GC', 'GC IN FORCE', 'DECISIONS'], rows) +
    '\n\n(pool: min/max/keep-alive, and spare N when it keeps idle workers beyond those running; a pre-warm: +N workers in T for D)\nLatest decision and why:\n' +
    reasons.map((line) => `  ${line}`).join('\n') +
    '\n'
  );
}
