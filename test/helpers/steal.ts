// CPU stolen from this VM by its hypervisor, from /proc/stat. A check of microsecond timings
// or of wall-clock CPU figures cannot tell a stolen moment from the thing it measures: such a
// check says, with the figure, when the host stole too much for it to mean anything.
import assert from 'node:assert/strict';
import fs from 'node:fs';

/** Above this share of the host's CPU time stolen during a measurement, its timings are the hypervisor's as much as ours. */
export const MAX_STEAL = 0.05;

/** Measures the share of CPU time stolen from now until `share()` is called. */
export class StealMeter {
  private readonly start = hostJiffies();

  share(): number {
    const end = hostJiffies();
    return (end.steal - this.start.steal) / Math.max(end.total - this.start.total, 1);
  }
}

/** The host's jiffies spent running other guests (steal) and in all. */
function hostJiffies(): { steal: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { steal: fields[7] ?? 0, total: fields.reduce((sum, value) => sum + value, 0) };
}

/**
 * Fails the test on any miss of a timing check, unless the host stole more than `MAX_STEAL`
 * of the CPU while it was measured: then one HEARTH-SKIP line (the runner counts it as one
 * skipped test) names the check, its misses and the steal.
 */
export function assertTimingUnlessStolen(check: string, misses: readonly string[], steal: number): void {
  const stolen = `host steal ${(steal * 100).toFixed(1)}%`;
  if (misses.length > 0 && steal > MAX_STEAL) process.stdout.write(`HEARTH-SKIP ${check}: ${misses.join(', ')} while the host stole more than ${MAX_STEAL * 100}% of the CPU (${stolen})\n`);
  else assert.deepEqual(misses, [], `${check} (${stolen})`);
}
