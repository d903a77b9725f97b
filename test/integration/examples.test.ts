// The shipped examples, with the real 1 GiB lookup table: every answer matches the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'uvu';
import { GIB, LOOKUP_STATE, ensureLookupState } from '../../examples/state.js';
import { readManifestFile } from '../../runtime/manifest/parse.js';
import { EXAMPLES, TestRuntime } from '../helpers/harness.js';

let rt: TestRuntime;

test.before(async () => {
  await ensureLookupState(LOOKUP_STATE, GIB, (line) => process.stdout.write(`${line}\n`));
  rt = await TestRuntime.start();
  for (const spec of readManifestFile(path.join(EXAMPLES, 'hearth.json'))) await rt.runtime.registry.deploy(spec);
});

test.after(async () => {
  await rt.stop();
});

function expectedRecord(fd: number, key: number): string {
  const record = Buffer.alloc(64);
  fs.readSync(fd, record, 0, 64, key * 64);
  assert.equal(record.readBigUInt64LE(0), BigInt(key));
  return record.subarray(8).toString('hex');
}

test('one 1 GiB import serves both lookup functions, on huge pages when the host has them', () => {
  assert.equal(rt.logged(/imported state for/).length, 1);
  const go = rt.runtime.registry.get('lookup')!.current.state!;
  const node = rt.runtime.registry.get('lookup-node')!.current.state!;
  assert.equal(go, node, 'the same content-addressed blob');
  assert.equal(go.size, GIB);
  assert.equal(go.backend, 'hugetlb');
});

test('Go and Node lookups match the file at random keys, cold and warm', async () => {
  const fd = fs.openSync(LOOKUP_STATE, 'r');
  try {
    const keys = [0, 1, 16_777_215, ...Array.from({ length: 20 }, () => Math.floor(Math.random() * 16_777_216))];
    for (const key of keys) {
      const expected = expectedRecord(fd, key);
      for (const fn of ['lookup', 'lookup-node']) {
        const response = await rt.invoke(fn, String(key));
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(response.json(), { key, value: expected }, `${fn} key ${key}`);
      }
    }
    const outOfRange = await rt.invoke('lookup', '16777216');
    assert.equal(outOfRange.status, 500);
    assert.match(outOfRange.text, /out of range/);
  } finally {
    fs.closeSync(fd);
  }
});

test('the Node example, compiled at deploy, requires the SDK by the path it resolves to, not by package name', () => {
  const compiled = fs.readFileSync(rt.runtime.registry.get('lookup-node')!.current.artifact.entry!, 'utf8');
  const sdk = createRequire(path.join(EXAMPLES, 'node-lookup/index.ts')).resolve('hearth/sdk');
  assert.ok(path.isAbsolute(sdk), sdk);
  assert.ok(compiled.includes(`require(${JSON.stringify(sdk)})`), `the compiled entry requires ${sdk}`);
  assert.ok(!compiled.includes('require("hearth/sdk")'), 'no package lookup left for the worker');
});

test('a Go worker can read all 1 GiB of its state', async () => {
  const response = await rt.invoke('lookup', '{"op":"scan"}');
  assert.equal(response.status, 200, response.text);
  const scan = response.json<{ bytes: number; sum: string; ns: number }>();
  assert.equal(scan.bytes, GIB);
  assert.match(scan.sum, /^[0-9a-f]{16}$/);
  assert.ok(scan.ns > 0);
});

test('the exec example answers without any SDK', async () => {
  const response = await rt.invoke('upper', 'plain binary');
  assert.equal(response.text, 'PLAIN BINARY');
});

test.run();
