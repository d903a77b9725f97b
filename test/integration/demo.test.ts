// `npm start` runs `hearth demo`: the runtime and the agent over the examples' 1 GiB state, a
// workload, the tables and the flamegraph files. Run as a real process, shortened.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import { ROOT, ebpfMissing } from '../helpers/harness.js';

test('the demo serves the examples, prints latency and phases, and writes flamegraphs', async () => {
  const output = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-demo-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'demo', '--duration', '0', '--requests', '30', '--cold-starts', '4', '--port', '0', '--agent-port', '0', '-o', output], { timeout: 240_000 });
    for (const fn of ['lookup', 'lookup-node', 'upper']) assert.match(stdout, new RegExp(`^${fn}\\s+(go|node|exec)\\s`, 'm'), `${fn} in the latency table`);
    assert.match(stdout, /1\.0 GiB/);
    const missing = ebpfMissing();
    if (missing !== undefined) {
      process.stdout.write(`HEARTH-SKIP demo's agent part: ${missing}\n`);
      assert.match(stdout, /The agent did not start/);
      return;
    }
    assert.match(stdout, /^lookup\s+runtime_init\s+\d+/m, 'Go phases from the kernel');
    assert.match(stdout, /^lookup-node\s+state_mapped\s+\d+/m);
    const ui = /The agent's web UI \(.*\): (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
    assert.ok(ui !== null, 'the demo prints the URL of the UI');
    const cold = path.join(output, 'lookup-cold.html');
    assert.ok(fs.existsSync(cold), `${cold} written`);
    assert.match(fs.readFileSync(cold, 'utf8'), /<html/i);
  } finally {
    fs.rmSync(output, { recursive: true, force: true });
  }
});

test.run();
