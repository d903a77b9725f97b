// `npm start` runs `hearth demo`: the runtime and the agent over the examples' 1 GiB state,
// forced cold starts, a replay of a trace slice, the tables (the tuner's choices among them) and
// the flamegraph files. Run as a real process, with a shorter replay (60 trace minutes in 30 s).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import { ROOT, ebpfMissing } from '../helpers/harness.js';

test('the demo replays a trace slice against the examples, prints latency, phases and the tuner\'s choices, and writes flamegraphs', async () => {
  const output = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-demo-'));
  try {
    const args = ['demo', '--duration', '0', '--trace-minutes', '60', '--compression', '120', '--cold-starts', '4', '--port', '0', '--agent-port', '0', '-o', output];
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), ...args], { timeout: 240_000 });
    const replayed = /^Hearth demo: (\d+) requests replayed from azure2019-sample20, trace minutes 0–60 /m.exec(stdout);
    assert.ok(replayed !== null && Number(replayed[1]) > 0, `the replay's summary line with its request count\n${stdout}`);
    const functions = ['lookup', 'lookup-node', 'upper'];
    let answeredTotal = 0;
    for (const fn of functions) {
      const row = new RegExp(`^${fn}\\s+(go|node|exec)\\s.*\\s(\\d+)/(\\d+)\\s+(\\d+)\\s+(\\d+)\\s`, 'm').exec(stdout);
      assert.ok(row !== null, `${fn} in the replay table\n${stdout}`);
      const [answered, sent, failed] = [Number(row[2]), Number(row[3]), Number(row[4])];
      assert.ok(sent > 0, `${fn}: its trace function sent requests`);
      assert.equal(failed, 0, `${fn}: ${failed} of ${sent} requests failed\n${stdout}`);
      assert.equal(answered, sent, `${fn}: every request answered`);
      answeredTotal += answered;
    }
    assert.equal(answeredTotal, Number(replayed![1]));
    // The progress display (not a terminal here: a line every few seconds), ending at the slice's last minute.
    const last = /^replay: trace minute 60\/60, (\d+) requests sent, (\d+) answered, (\d+) cold starts, (\d+) errors$/m.exec(stderr);
    assert.ok(last !== null, `the replay's last progress line\n${stderr}`);
    assert.equal(Number(last[1]), answeredTotal);
    assert.equal(Number(last[4]), 0);
    assert.ok((stderr.match(/^replay: trace minute \d+\/60,/gm) ?? []).length >= 3, 'progress lines during the replay');
    assert.match(stdout, /1\.0 GiB/);
    const missing = ebpfMissing();
    if (missing !== undefined) {
      process.stdout.write(`HEARTH-SKIP demo's agent part: ${missing}\n`);
      assert.match(stdout, /The agent did not start/);
      return;
    }
    assert.match(stdout, /^lookup\s+runtime_init\s+\d+/m, 'Go phases from the kernel');
    assert.match(stdout, /^lookup-node\s+state_mapped\s+\d+/m);
    // The tuner's choices: own pool and the pool in force for every function, and a latest decision or a plain "none".
    const tuner = stdout.slice(stdout.indexOf('What the tuner chose'));
    assert.match(tuner, /^What the tuner chose \(on, hearth policy, windows compressed 120× like the replay/m);
    const pool = '\\d+/\\d+/[\\d.]+ (ms|s|min|h)';
    for (const fn of functions) {
      assert.match(tuner, new RegExp(`^${fn}\\s+${pool}\\s+${pool}\\s.*\\s(\\d+ \\(\\d+ pool, \\d+ gc\\)|0: none, own settings kept)$`, 'm'), `${fn} in the tuner table\n${tuner}`);
      assert.match(tuner, new RegExp(`^  ${fn}: (#\\d+ (pool|gc) |no decision)`, 'm'), `${fn}'s latest decision`);
    }
    assert.match(tuner, /^lookup\s+1\/4\/1 min\s.*gogc=100 memoryLimitMb=100/m, 'the manifest\'s own pool and GC settings beside those in force');
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
