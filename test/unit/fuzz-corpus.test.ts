// Replays every committed fuzz input through its target: the seeds, the saved corpus
// (test/fuzz/corpus/<target>/) and the regression inputs (test/fuzz/regressions/<target>/),
// each checked against the documented outcome (decoded, or refused with the documented
// typed error; never another exception, never a hang). A regression input's name ends in
// the outcome it must have: .ok (decoded) or .refused. The Go SDK's corpus is replayed by
// go test (testdata/fuzz), the seed's by the fuzz smoke test.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'uvu';
import { CORPUS_DIR, readInputs, REGRESSIONS_DIR } from '../fuzz/engine/engine.js';
import { TARGETS } from '../fuzz/targets/index.js';
import type { FuzzTarget } from '../fuzz/targets/target.js';

/** Any one input may take this long (the HTTP targets wait for their answer). */
const INPUT_MS = 5000;

async function withinTime<T>(what: string, work: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${INPUT_MS} ms`)), INPUT_MS)));
  try {
    return await Promise.race([Promise.resolve().then(work), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

for (const info of TARGETS) {
  test(`fuzz target ${info.name}: seeds, corpus and regressions have their documented outcome`, async () => {
    const { target } = (await import(new URL(info.module, new URL('../fuzz/targets/', import.meta.url)).href)) as { target: FuzzTarget };
    await target.setup?.();
    try {
      const regressions = readInputs(path.join(REGRESSIONS_DIR, info.name));
      const corpus = readInputs(path.join(CORPUS_DIR, info.name));
      const inputs = [...target.seeds().map((data, index) => ({ file: `seed ${index}`, data })), ...corpus, ...regressions];
      for (const { file, data } of inputs) {
        const outcome = await withinTime(file, () => target.run(data));
        const expected = /\.(ok|refused)$/.exec(file)?.[1];
        if (expected !== undefined) assert.equal(outcome, expected, `${path.basename(file)}: ${outcome}`);
      }
      if (info.name !== 'agent-faro' && info.name !== 'runtime-http') assert.ok(regressions.length > 0, `${info.name} has regression inputs`);
      assert.ok(inputs.length >= regressions.length + 2);
    } finally {
      await target.teardown?.();
    }
  });
}

test.run();
