// The manifest parser (runtime/manifest/parse.ts): a hearth.json as text. Documented outcome
// (README, "Manifest"): a list of functions with every default filled in, or one HearthError
// HEARTH_ERR_MANIFEST_INVALID that names the file and the field.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifest } from '../../../runtime/manifest/parse.js';
import type { FunctionSpec } from '../../../runtime/manifest/spec.js';
import { check, refusedWithCode, type FuzzTarget } from './target.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const SOURCE = { label: 'hearth.json', baseDir: '/srv/functions' };

/** What a parsed function must satisfy, whatever the input. */
function checkSpec(spec: FunctionSpec, input: Record<string, unknown>): void {
  check(spec.pool.min <= spec.pool.max, `${spec.name}: pool.min ${spec.pool.min} > pool.max ${spec.pool.max}`);
  check(spec.limits.recycleMemoryMb <= spec.limits.memoryMb, `${spec.name}: recycleMemoryMb over memoryMb`);
  check(path.isAbsolute(spec.entry), `${spec.name}: entry ${spec.entry} is not absolute`);
  for (const value of [...Object.values(spec.pool), ...Object.values(spec.limits), ...Object.values(spec.gc)]) {
    check(Number.isSafeInteger(value), `${spec.name}: a number setting is ${value}`);
  }
  // Every variable the manifest declares reaches the worker, under its own name.
  const declared = (input['env'] ?? {}) as Record<string, unknown>;
  check(Object.keys(spec.env).length === Object.keys(declared).length, `${spec.name}: env has ${JSON.stringify(Object.keys(spec.env))}, the manifest declared ${JSON.stringify(Object.keys(declared))}`);
  for (const [name, value] of Object.entries(spec.env)) check(Object.hasOwn(spec.env, name) && declared[name] === value, `${spec.name}: env.${name} changed`);
}

export const target: FuzzTarget = {
  maxLength: 16 * 1024,
  json: true,
  dictionary: ['functions', 'version', 'name', 'kind', 'entry', 'args', 'state', 'pool', 'limits', 'gc', 'env', 'min', 'max', 'keepAliveMs', 'maxQueued', 'memoryMb', 'timeoutMs', 'concurrency', 'maxInvocations', 'recycleMemoryMb', 'gogc', 'memoryLimitMb', 'maxOldSpaceMb', 'maxSemiSpaceMb', 'go', 'node', 'exec', 'HEARTH_SDK_TIMING', 'HEARTH_STATE_POPULATE', 'HEARTH_FUNCTION', '__proto__', 'constructor', 'toString', 'a-b_c'],
  seeds() {
    const example = fs.readFileSync(path.join(ROOT, 'examples/hearth.json'));
    const full = {
      functions: [
        {
          name: 'lookup',
          kind: 'go',
          entry: 'go-lookup',
          args: ['--fast'],
          state: '.cache/lookup-1g.bin',
          pool: { min: 1, max: 4, keepAliveMs: 60000, maxQueued: 256 },
          limits: { memoryMb: 128, timeoutMs: 5000, concurrency: 1, maxInvocations: 0, recycleMemoryMb: 115 },
          gc: { gogc: 100, memoryLimitMb: 100 },
          env: { LOG_LEVEL: 'info', HEARTH_SDK_TIMING: '1' },
        },
        { name: 'node-fn', kind: 'node', entry: '/abs/index.ts', gc: { maxOldSpaceMb: 64, maxSemiSpaceMb: 8 } },
      ],
    };
    return [example, Buffer.from(JSON.stringify(full)), Buffer.from('{"functions":[]}')];
  },
  run(data) {
    let specs: FunctionSpec[];
    try {
      specs = parseManifest(data.toString('utf8'), SOURCE);
    } catch (error) {
      refusedWithCode(error, 'HEARTH_ERR_MANIFEST_INVALID');
      check((error as Error).message.startsWith('hearth.json'), `the error does not name the file: ${(error as Error).message}`);
      return 'refused';
    }
    const functions = (JSON.parse(data.toString('utf8')) as { functions: Array<Record<string, unknown>> }).functions;
    check(specs.length === functions.length, `${functions.length} functions in, ${specs.length} out`);
    specs.forEach((spec, index) => checkSpec(spec, functions[index]!));
    check(new Set(specs.map((spec) => spec.name)).size === specs.length, 'duplicate names accepted');
    return 'ok';
  },
};
