// A short run of every fuzz target, so the harness cannot rot: each must execute inputs,
// reach coverage and find no crash in a couple of seconds (the real runs are
// `npm run fuzz`, minutes per target; bench/results/fuzz.md). Nothing is saved.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { fuzzTarget } from '../fuzz/engine/engine.js';
import { fuzzGo, fuzzSeed, libFuzzerMissing } from '../fuzz/engine/native.js';
import { TARGETS } from '../fuzz/targets/index.js';

const SECONDS = 1.5;

for (const info of TARGETS) {
  test(`fuzz smoke: ${info.name}`, async () => {
    const report = await fuzzTarget(info.name, { seconds: SECONDS, save: false, hangMs: 10_000 });
    assert.equal(report.crashes.length, 0, `${info.name}: ${report.crashes.map((crash) => `${crash.kind}: ${crash.message}\n${crash.stack}`).join('\n')}`);
    assert.ok(report.execs >= 100, `${info.name}: only ${report.execs} executions in ${SECONDS} s`);
    assert.ok(report.coverage.branches.covered > 0 && report.coverage.branches.total > 0, `${info.name}: no branch coverage`);
    assert.ok(report.coverage.features > 0, `${info.name}: no coverage features`);
    assert.ok(report.outcomes.ok > 0 && report.outcomes.refused > 0, `${info.name}: outcomes ${JSON.stringify(report.outcomes)}: inputs should both pass and fail`);
  });
}

test('fuzz smoke: go-sdk (go test -fuzz)', async () => {
  const report = await fuzzGo(2, false, false);
  assert.equal(report.crashes.length, 0, report.crashes.map((crash) => crash.message).join('\n'));
  assert.ok(report.execs >= 100, `only ${report.execs} executions`);
  assert.ok(report.coverage.features > 0, JSON.stringify(report.coverage));
});

test('fuzz smoke: seed (libFuzzer, ASan, UBSan)', async () => {
  const missing = await libFuzzerMissing();
  if (missing !== undefined) {
    console.log(`HEARTH-SKIP seed fuzz smoke: ${missing}`);
    return;
  }
  const report = await fuzzSeed(2, false);
  assert.equal(report.crashes.length, 0, report.crashes.map((crash) => crash.message).join('\n'));
  assert.ok(report.execs >= 1000, `only ${report.execs} executions`);
  assert.ok(report.coverage.branches.covered > 0, JSON.stringify(report.coverage));
});

test.run();
