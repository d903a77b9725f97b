// The CPU profile export formats on a hand-built profile with known totals: folded lines,
// pprof decoded back and read by the machine's `go tool pprof`, speedscope checked against
// speedscope's published JSON schema, Grafana's nested-set frame, and the HTML page's text.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import { Profile as PprofProfile } from 'pprof-format';
import { test } from 'uvu';
import { toFolded } from '../../agent/profile/export/folded.js';
import { toFlameFrame } from '../../agent/profile/export/grafana.js';
import type { ViewerData } from '../../agent/profile/export/html-viewer.js';
import { toHtml } from '../../agent/profile/export/html.js';
import { exportProfile, PROFILE_FORMATS } from '../../agent/profile/export/index.js';
import { toPprof } from '../../agent/profile/export/pprof.js';
import { SPEEDSCOPE_SCHEMA, toSpeedscope } from '../../agent/profile/export/speedscope.js';
import { findGo } from '../../runtime/build/go.js';
import { DURATION_MS, FRAMES, fixtureProfile, PERIOD_NS, SAMPLES, START_UNIX_MS, TOTAL_SAMPLES } from '../helpers/profile-fixture.js';

// test/run.ts counts a test that prints a line starting with this as skipped, not passed.
const SKIP = 'HEARTH-SKIP';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-profile-export-'));
const profile = fixtureProfile();

test('folded: one line per distinct stack, workers merged, names made safe, kernel and unknown frames marked', () => {
  assert.equal(
    toFolded(profile),
    [
      'runtime.main;[unknown] (libfoo.so);weird:name:with</script> 2',
      'runtime.main;main.main;main.compute 8',
      'runtime.main;main.main;syscall.Syscall;entry_SYSCALL_64_[k];do_syscall_64_[k] 3',
      'start_thread;[unknown] 1',
      '',
    ].join('\n'),
  );
  const total = toFolded(profile)
    .trimEnd()
    .split('\n')
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  assert.equal(total, TOTAL_SAMPLES);
});

function decodePprof(body: Buffer): PprofProfile {
  return PprofProfile.decode(gunzipSync(body));
}

test('pprof: decodes back with sample types, period, times, leaf-first locations and labels', () => {
  const decoded = decodePprof(toPprof(profile));
  const text = (index: number | bigint): string => decoded.stringTable.strings[Number(index)]!;
  assert.equal(decoded.stringTable.strings[0], '');
  assert.deepEqual(decoded.sampleType.map((type) => `${text(type.type)}/${text(type.unit)}`), ['samples/count', 'cpu/nanoseconds']);
  assert.equal(`${text(decoded.periodType!.type)}/${text(decoded.periodType!.unit)}`, 'cpu/nanoseconds');
  assert.equal(Number(decoded.period), PERIOD_NS);
  assert.equal(BigInt(decoded.timeNanos), BigInt(START_UNIX_MS) * 1_000_000n);
  assert.equal(Number(decoded.durationNanos), DURATION_MS * 1_000_000);

  const functions = new Map(decoded.function.map((fn) => [Number(fn.id), fn]));
  const locations = new Map(decoded.location.map((location) => [Number(location.id), location]));
  const mappings = new Map(decoded.mapping.map((mapping) => [Number(mapping.id), mapping]));
  for (const ids of [functions.keys(), locations.keys(), mappings.keys()]) for (const id of ids) assert.ok(id > 0, 'pprof IDs start at 1');
  assert.equal(locations.size, 11, 'one location per distinct frame and line');
  assert.equal(functions.size, 10, 'main.compute at two lines is one function');
  assert.deepEqual(
    [...mappings.values()].map((mapping) => [text(mapping.filename), mapping.hasFunctions]).sort(),
    [['/srv/hearth/lookup', true], ['/usr/lib/libbar.so', true], ['/usr/lib/x86_64-linux-gnu/libc.so.6', true], ['/usr/lib/x86_64-linux-gnu/libfoo.so', true], ['[kernel]', true], ['[unknown]', true]],
  );

  assert.equal(decoded.sample.length, SAMPLES.length, 'one pprof sample per worker and stack');
  decoded.sample.forEach((sample, index) => {
    const expected = SAMPLES[index]!;
    assert.deepEqual(sample.value.map(Number), [expected.count, expected.count * PERIOD_NS]);
    const names = sample.locationId.map((id) => {
      const location = locations.get(Number(id))!;
      assert.equal(location.line.length, 1);
      return text(functions.get(Number(location.line[0]!.functionId))!.systemName);
    });
    assert.deepEqual(names, expected.stack.map((frame) => frame.name).reverse(), 'leaf first');
    const labels = Object.fromEntries(sample.label.map((label) => [text(label.key), Number(label.num) === 0 ? text(label.str) : Number(label.num)]));
    assert.deepEqual(labels, { function: 'lookup', phase: 'cold', pid: expected.labels.pid });
  });

  const computeLeaf = locations.get(Number(decoded.sample[0]!.locationId[0]))!;
  const computeFunction = functions.get(Number(computeLeaf.line[0]!.functionId))!;
  assert.equal(text(computeFunction.name), 'main.compute');
  assert.equal(text(computeFunction.filename), FRAMES.compute.file);
  assert.equal(Number(computeLeaf.line[0]!.line), FRAMES.compute.line);
  assert.equal(text(mappings.get(Number(computeLeaf.mappingId))!.filename), FRAMES.compute.module);
  const unknownNames = decoded.function.map((fn) => text(fn.name)).filter((name) => name.startsWith('[unknown]')).sort();
  assert.deepEqual(unknownNames, ['[unknown]', '[unknown] (libfoo.so)']);
});

/** `go tool pprof -top` rows: function → [flat, cum]. */
function topRows(output: string): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const line of output.split('\n')) {
    const match = /^\s*(\S+)\s+\S+%\s+\S+%\s+(\S+)\s+\S+%\s+(.+)$/.exec(line);
    if (match !== null) rows.set(match[3]!, [match[1]!, match[2]!]);
  }
  return rows;
}

test('pprof: the machine\'s go tool pprof reads it (-top and -raw)', () => {
  const go = findGo();
  if (go === undefined) {
    console.log(`${SKIP} go tool pprof reads Hearth's pprof: the go tool is missing (scripts/setup.sh installs it)`);
    return;
  }
  const file = path.join(tmp, 'lookup-cold.pb.gz');
  fs.writeFileSync(file, toPprof(profile));
  const pprof = (flag: string): string => execFileSync(go, ['tool', 'pprof', flag, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  const top = pprof('-top');
  assert.match(top, /Showing nodes accounting for 140ms, 100% of 140ms total/);
  const rows = topRows(top);
  assert.deepEqual(rows.get('main.compute'), ['80ms', '80ms']);
  assert.deepEqual(rows.get('do_syscall_64'), ['30ms', '30ms']);
  assert.deepEqual(rows.get('entry_SYSCALL_64'), ['0', '30ms']);
  assert.deepEqual(rows.get('[unknown] (libfoo.so)'), ['0', '20ms']);
  assert.deepEqual(rows.get('[unknown]'), ['10ms', '10ms']);
  assert.deepEqual(rows.get('runtime.main'), ['0', '130ms']);
  assert.deepEqual(rows.get('start_thread'), ['0', '10ms']);

  const raw = pprof('-raw');
  assert.match(raw, /PeriodType: cpu nanoseconds\nPeriod: 10000000\n/);
  assert.match(raw, /samples\/count cpu\/nanoseconds\n/);
  const counts = [...raw.matchAll(/^\s+(\d+)\s+(\d+): [\d ]+$/gm)].map((match) => [Number(match[1]), Number(match[2])]);
  assert.deepEqual(counts, SAMPLES.map((sample) => [sample.count, sample.count * PERIOD_NS]));
  assert.equal(raw.match(/function:\[lookup\] phase:\[cold\]/g)?.length, SAMPLES.length);
  assert.match(raw, /pid:\[101\]/);
  assert.match(raw, /main\.compute \/src\/lookup\/main\.go:40/);
  assert.match(raw, /main\.compute \/src\/lookup\/main\.go:41/);
});

test('speedscope: valid against the published schema, one merged profile in nanoseconds', () => {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(fs.readFileSync(require.resolve('speedscope/dist/release/file-format-schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true }).compile(schema);
  const file = toSpeedscope(profile);
  // Validated as a file would be read: after a JSON round trip.
  assert.ok(validate(JSON.parse(JSON.stringify(file))), JSON.stringify(validate.errors));

  assert.equal(file.$schema, SPEEDSCOPE_SCHEMA);
  assert.equal(file.profiles.length, 1);
  const [sampled] = file.profiles;
  assert.equal(sampled!.unit, 'nanoseconds');
  assert.equal(sampled!.samples.length, 5, 'the same stack in two workers is one sample');
  assert.equal(sampled!.weights.reduce((sum, weight) => sum + weight, 0), TOTAL_SAMPLES * PERIOD_NS);
  assert.equal(sampled!.endValue - sampled!.startValue, TOTAL_SAMPLES * PERIOD_NS);
  assert.equal(file.shared.frames.length, 11, 'one frame per distinct function and line');
  const stacks = sampled!.samples.map((stack, index) => [stack.map((frame) => file.shared.frames[frame]!.name).join(';'), sampled!.weights[index]]);
  assert.deepEqual(stacks[1], ['runtime.main;main.main;main.compute', 7 * PERIOD_NS]);
  assert.deepEqual(
    file.shared.frames.find((frame) => frame.name === 'main.main'),
    { name: 'main.main', file: '/src/lookup/main.go', line: 12 },
  );
  assert.deepEqual(
    file.shared.frames.find((frame) => frame.name === 'do_syscall_64'),
    { name: 'do_syscall_64', file: '[kernel]' },
  );
});

test('grafana: the nested-set frame of the known tree, in samples', () => {
  const frame = toFlameFrame(profile);
  assert.deepEqual(frame.schema.fields.map((field) => [field.name, field.type]), [['level', 'number'], ['value', 'number'], ['self', 'number'], ['label', 'string']]);
  assert.equal(frame.schema.meta.preferredVisualisationType, 'flamegraph');
  const [level, value, self, label] = frame.data.values;
  const rows = label.map((name, index) => [level[index], name, value[index], self[index]]);
  assert.deepEqual(rows, [
    [0, 'total', 14, 0],
    [1, 'runtime.main', 13, 0],
    [2, '[unknown] (libfoo.so)', 2, 0],
    [3, 'weird;name\nwith</script>', 2, 2],
    [2, 'main.main', 11, 0],
    [3, 'main.compute', 8, 8],
    [3, 'syscall.Syscall', 3, 0],
    [4, 'entry_SYSCALL_64', 3, 0],
    [5, 'do_syscall_64', 3, 3],
    [1, 'start_thread', 1, 0],
    [2, '[unknown]', 1, 1],
  ]);
  // Every value is its self plus its children's values: children are the following rows one
  // level deeper, up to the next row at the node's level or above.
  level.forEach((depth, index) => {
    let children = 0;
    for (let next = index + 1; next < level.length && level[next]! > depth; next++) if (level[next] === depth + 1) children += value[next]!;
    assert.equal(value[index], self[index]! + children, `row ${index}`);
  });
  assert.equal(JSON.parse(JSON.stringify(frame)).data.values.length, 4);
});

test('html: self-contained (nothing to load from the network), data embedded, </script escaped', () => {
  const html = toHtml(profile);
  assert.doesNotMatch(html, /https?:\/\//i);
  assert.doesNotMatch(html, /\s(src|href)\s*=/i);
  assert.doesNotMatch(html, /<link|@import|url\(/i);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  assert.equal(html.match(/<\/script/gi)?.length, 2, 'only the two scripts\' own closing tags');
  const json = /<script type="application\/json" id="profile-data">(.*?)<\/script>/s.exec(html)?.[1];
  assert.ok(json !== undefined, 'the page embeds its data');
  const data = JSON.parse(json) as ViewerData;
  assert.equal(data.title, 'lookup (cold)');
  assert.equal(data.rows.length, 11);
  assert.deepEqual(data.rows[0]!.slice(0, 3), [0, TOTAL_SAMPLES, 0]);
  const compute = data.rows.find((row) => data.strings[row[3]] === 'main.compute')!;
  assert.deepEqual([compute[1], compute[2], data.strings[compute[4]], data.strings[compute[5]], data.strings[compute[6]]], [8, 8, FRAMES.compute.module, 'go', FRAMES.compute.file]);
  assert.ok(data.strings.includes('weird;name\nwith</script>'));
  assert.match(html, /<title>lookup \(cold\): CPU flamegraph<\/title>/);
});

test('exportProfile: every format with its content type and file extension', () => {
  const exported = Object.fromEntries(PROFILE_FORMATS.map((format) => [format, exportProfile(profile, format)]));
  assert.deepEqual(
    Object.fromEntries(Object.entries(exported).map(([format, { contentType, extension }]) => [format, [contentType, extension]])),
    {
      pprof: ['application/octet-stream', 'pb.gz'],
      folded: ['text/plain; charset=utf-8', 'folded'],
      speedscope: ['application/json', 'speedscope.json'],
      html: ['text/html; charset=utf-8', 'html'],
    },
  );
  assert.ok(Buffer.isBuffer(exported['pprof']!.body));
  assert.equal(decodePprof(exported['pprof']!.body as Buffer).sample.length, SAMPLES.length);
  assert.equal(exported['folded']!.body, toFolded(profile));
  assert.deepEqual(JSON.parse(exported['speedscope']!.body as string), toSpeedscope(profile));
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
