// The CPU sampler against the real kernel: a clock of its own on one process, opened before
// that process execs, follows it into the new program and samples it only there (its cold-start
// window), and collect() reads each stack once and leaves the stack table empty.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'uvu';
import { ColdStartProbes } from '../../agent/probes/coldstart.js';
import { Sampler } from '../../agent/profile/sampler.js';
import { createLogger } from '../../shared/log.js';
import { ebpfMissing } from '../helpers/harness.js';

const missing = ebpfMissing();

/** The loaded stack-trace maps of ours and the entries they hold, from bpftool. */
function stackTables(): { tables: number; held: number } {
  const maps = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  const tables = maps.filter((entry) => entry.name !== undefined && /^hearth_stacks_/.test(entry.name));
  let held = 0;
  for (const map of tables) held += (JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(map.id)], { encoding: 'utf8' })) as unknown[]).length;
  return { tables: tables.length, held };
}

test('a clock per process follows it across exec, samples only its start, and collect() empties the stack table', async () => {
  if (missing !== undefined) {
    process.stdout.write(`HEARTH-SKIP sampler: ${missing}\n`);
    return;
  }
  const probes = ColdStartProbes.open(createLogger('error'), () => undefined, { syscalls: false });
  const sampler = Sampler.open(probes.tracked, { coldHz: 999, steadyHz: 1 });
  try {
    // Waits for a line (not sampled: no exec yet), then execs a shell that counts for a while.
    const child = spawn('sh', ['-c', 'read go; exec sh -c \'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done\''], { stdio: ['pipe', 'ignore', 'inherit'] });
    const pid = child.pid!;
    probes.track([pid], Number(process.hrtime.bigint()));
    const link = sampler.followProcess(pid);
    child.stdin.write('go\n');
    await once(child, 'exit');
    link.destroy();
    const samples = sampler.collect();
    const cold = samples.filter((sample) => sample.pid === pid && sample.cold).reduce((sum, sample) => sum + sample.count, 0);
    const steady = samples.filter((sample) => sample.pid === pid && !sample.cold).reduce((sum, sample) => sum + sample.count, 0);
    process.stdout.write(`  sampler: ${cold} cold-start samples of the exec'd program at 999 Hz, ${steady} steady\n`);
    assert.ok(cold >= 20, `the clock opened before the exec samples the new program (${cold} samples)`);
    const withStacks = samples.filter((sample) => sample.pid === pid && sample.user.length > 0).reduce((sum, sample) => sum + sample.count, 0);
    assert.ok(withStacks >= cold / 2, `the stacks were read (${withStacks} of ${cold} samples have a user stack)`);
    assert.deepEqual(stackTables(), { tables: 2, held: 0 }, 'each stack read was removed in the same call');
  } finally {
    sampler.close();
    probes.close();
  }
});

test.run();
