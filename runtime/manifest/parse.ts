import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';
import {
  DEFAULT_LIMITS,
  DEFAULT_POOL,
  FUNCTION_KINDS,
  GO_GC_FIELDS,
  NODE_GC_FIELDS,
  type FunctionKind,
  type FunctionSpec,
  type GcSpec,
  type IsolationSpec,
  RUNTIME_USER,
} from './spec.js';

export const FUNCTION_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** HEARTH_* variables a manifest may set: options of the SDKs, not the runtime's own. */
export const SDK_OPTION_VARIABLES = ['HEARTH_SDK_TIMING', 'HEARTH_STATE_POPULATE'];
const TOP_FIELDS = ['functions', 'version'];
const FUNCTION_FIELDS = ['name', 'kind', 'entry', 'args', 'state', 'pool', 'limits', 'gc', 'env', 'isolation'];
const POOL_FIELDS = ['min', 'max', 'keepAliveMs', 'spare', 'maxQueued'];
const LIMIT_FIELDS = ['memoryMb', 'timeoutMs', 'concurrency', 'maxInvocations', 'recycleMemoryMb', 'pids'];
const ISOLATION_FIELDS = ['user', 'group', 'seccomp'];
/** User and group names as useradd(8) allows them. */
const ACCOUNT_NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/;
/** The largest id: 2^32 - 1 is the kernel's "unchanged". */
const MAX_ID = 2 ** 32 - 2;

/** Where a manifest came from, for error messages and resolving relative paths. */
export interface ManifestSource {
  /** Shown in errors: a file path or "request body". */
  label: string;
  /** Relative paths resolve against this directory; when absent they are refused. */
  baseDir?: string;
}

export function readManifestFile(file: string): FunctionSpec[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new HearthError('HEARTH_ERR_MANIFEST_READ', `${file}: ${(error as Error).message}`, { cause: error, details: { file } });
  }
  return parseManifest(text, { label: file, baseDir: path.dirname(path.resolve(file)) });
}

export function parseManifest(text: string, source: ManifestSource): FunctionSpec[] {
  const doc = parseJson(text, source);
  const check = new Checker(source);
  const top = check.object(doc, '');
  check.noUnknown(top, TOP_FIELDS, '');
  if (top['version'] !== undefined && top['version'] !== 1) check.fail('version', `must be 1 (got ${show(top['version'])})`);
  if (!Array.isArray(top['functions'])) check.fail('functions', `must be an array of functions (got ${show(top['functions'])})`);
  const specs = (top['functions'] as unknown[]).map((value, index) => parseFunctionWith(check, value, `functions[${index}]`));
  const seen = new Set<string>();
  specs.forEach((spec, index) => {
    if (seen.has(spec.name)) check.fail(`functions[${index}].name`, `duplicate function name "${spec.name}"`);
    seen.add(spec.name);
  });
  return specs;
}

/** Validates one function object (the body of a deploy request, or a manifest entry). */
export function parseFunction(value: unknown, source: ManifestSource, fieldPrefix = ''): FunctionSpec {
  return parseFunctionWith(new Checker(source), value, fieldPrefix);
}

function parseFunctionWith(check: Checker, value: unknown, at: string): FunctionSpec {
  const fn = check.object(value, at);
  check.noUnknown(fn, FUNCTION_FIELDS, at);
  const name = check.string(fn['name'], join(at, 'name'));
  if (!FUNCTION_NAME.test(name)) {
    check.fail(join(at, 'name'), `must match ${FUNCTION_NAME} (lower-case letters, digits, - and _, starting with a letter; got ${show(name)})`);
  }
  const kind = check.string(fn['kind'], join(at, 'kind')) as FunctionKind;
  if (!FUNCTION_KINDS.includes(kind)) check.fail(join(at, 'kind'), `must be one of ${FUNCTION_KINDS.join(', ')} (got ${show(kind)})`);
  const entry = check.path(fn['entry'], join(at, 'entry'));
  const args = fn['args'] === undefined ? [] : check.stringArray(fn['args'], join(at, 'args'));
  const state = fn['state'] === undefined ? undefined : check.path(fn['state'], join(at, 'state'));

  const poolAt = join(at, 'pool');
  const pool = fn['pool'] === undefined ? {} : check.object(fn['pool'], poolAt);
  check.noUnknown(pool, POOL_FIELDS, poolAt);
  const min = check.int(pool['min'], join(poolAt, 'min'), DEFAULT_POOL.min, 0, 1024);
  const max = check.int(pool['max'], join(poolAt, 'max'), Math.max(DEFAULT_POOL.max, min), 1, 1024);
  if (max < min) check.fail(join(poolAt, 'max'), `must be at least pool.min (${min}); got ${max}`);
  const keepAliveMs = check.int(pool['keepAliveMs'], join(poolAt, 'keepAliveMs'), DEFAULT_POOL.keepAliveMs, 0, 7 * 24 * 3600_000);
  const spare = check.int(pool['spare'], join(poolAt, 'spare'), DEFAULT_POOL.spare, 0, 1024);
  if (spare > max) check.fail(join(poolAt, 'spare'), `must be at most pool.max (${max}); got ${spare}`);
  const maxQueued = check.int(pool['maxQueued'], join(poolAt, 'maxQueued'), DEFAULT_POOL.maxQueued, 0, 1_000_000);

  const limitsAt = join(at, 'limits');
  const limits = fn['limits'] === undefined ? {} : check.object(fn['limits'], limitsAt);
  check.noUnknown(limits, LIMIT_FIELDS, limitsAt);
  const memoryMb = check.int(limits['memoryMb'], join(limitsAt, 'memoryMb'), DEFAULT_LIMITS.memoryMb, 16, 1024 * 1024);
  const recycleMemoryMb = check.int(limits['recycleMemoryMb'], join(limitsAt, 'recycleMemoryMb'), Math.floor(memoryMb * 0.9), 0, memoryMb);

  return {
    name,
    kind,
    entry,
    args,
    ...(state === undefined ? {} : { state }),
    pool: { min, max, keepAliveMs, spare, maxQueued },
    limits: {
      memoryMb,
      timeoutMs: check.int(limits['timeoutMs'], join(limitsAt, 'timeoutMs'), DEFAULT_LIMITS.timeoutMs, 1, 3_600_000),
      concurrency: check.int(limits['concurrency'], join(limitsAt, 'concurrency'), DEFAULT_LIMITS.concurrency, 1, 1024),
      maxInvocations: check.int(limits['maxInvocations'], join(limitsAt, 'maxInvocations'), DEFAULT_LIMITS.maxInvocations, 0, Number.MAX_SAFE_INTEGER),
      recycleMemoryMb,
      pids: check.int(limits['pids'], join(limitsAt, 'pids'), DEFAULT_LIMITS.pids, 1, 4_194_304),
    },
    gc: parseGc(check, fn['gc'], kind, join(at, 'gc')),
    env: parseEnv(check, fn['env'], join(at, 'env')),
    isolation: parseIsolation(check, fn['isolation'], join(at, 'isolation')),
  };
}

function parseIsolation(check: Checker, value: unknown, at: string): IsolationSpec {
  if (value === undefined) return { seccomp: true };
  const isolation = check.object(value, at);
  check.noUnknown(isolation, ISOLATION_FIELDS, at);
  const result: IsolationSpec = { seccomp: true };
  if (isolation['user'] !== undefined) result.user = parseAccount(check, isolation['user'], join(at, 'user'), 'user');
  if (isolation['group'] !== undefined) {
    if (result.user === RUNTIME_USER) check.fail(join(at, 'group'), `does not apply when user is "${RUNTIME_USER}" (workers keep the runtime's user and group)`);
    result.group = parseAccount(check, isolation['group'], join(at, 'group'), 'group');
  }
  if (isolation['seccomp'] !== undefined) {
    if (typeof isolation['seccomp'] !== 'boolean') check.fail(join(at, 'seccomp'), `must be true or false (got ${show(isolation['seccomp'])})`);
    result.seccomp = isolation['seccomp'];
  }
  return result;
}

/** A uid or gid (never 0: root), or a user or group name (resolved at deploy). */
function parseAccount(check: Checker, value: unknown, field: string, what: 'user' | 'group'): number | string {
  const runtime = what === 'user' ? `, or "${RUNTIME_USER}" for the runtime's own user` : '';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > MAX_ID) check.fail(field, `must be a ${what} id from 1 to ${MAX_ID}, a ${what} name${runtime} (got ${show(value)})`);
    if (value === 0) check.fail(field, `must not be 0 (root)${what === 'user' ? `: use "${RUNTIME_USER}" to run workers as the runtime's own user` : ''}`);
    return value;
  }
  if (typeof value !== 'string' || !(ACCOUNT_NAME.test(value) || (what === 'user' && value === RUNTIME_USER))) {
    check.fail(field, `must be a ${what} id, a ${what} name${runtime} (got ${show(value)})`);
  }
  if (value === 'root') check.fail(field, `must not be root${what === 'user' ? `: use "${RUNTIME_USER}" to run workers as the runtime's own user` : ''}`);
  return value;
}

/** Validates a `gc` object for a function of the given kind. */
export function parseGc(check: Checker, value: unknown, kind: FunctionKind, at: string): GcSpec {
  if (value === undefined) return {};
  const gc = check.object(value, at);
  const allowed: readonly string[] = kind === 'go' ? GO_GC_FIELDS : kind === 'node' ? NODE_GC_FIELDS : [];
  for (const key of Object.keys(gc)) {
    if (allowed.includes(key)) continue;
    const known = [...GO_GC_FIELDS, ...NODE_GC_FIELDS] as string[];
    check.fail(join(at, key), known.includes(key) ? `does not apply to ${kind} functions` : `unknown field (allowed: ${allowed.join(', ') || 'none'})`);
  }
  const result: GcSpec = {};
  if (gc['gogc'] !== undefined) result.gogc = check.int(gc['gogc'], join(at, 'gogc'), 100, -1, 100_000);
  if (gc['memoryLimitMb'] !== undefined) result.memoryLimitMb = check.int(gc['memoryLimitMb'], join(at, 'memoryLimitMb'), 0, 1, 1024 * 1024);
  if (gc['maxOldSpaceMb'] !== undefined) result.maxOldSpaceMb = check.int(gc['maxOldSpaceMb'], join(at, 'maxOldSpaceMb'), 0, 8, 1024 * 1024);
  if (gc['maxSemiSpaceMb'] !== undefined) result.maxSemiSpaceMb = check.int(gc['maxSemiSpaceMb'], join(at, 'maxSemiSpaceMb'), 0, 1, 1024);
  return result;
}

function parseEnv(check: Checker, value: unknown, at: string): Record<string, string> {
  if (value === undefined) return {};
  const env = check.object(value, at);
  const result: Array<[string, string]> = [];
  for (const [key, item] of Object.entries(env)) {
    if (!ENV_NAME.test(key)) check.fail(join(at, key), 'is not a valid environment variable name');
    if (key.startsWith('HEARTH_') && !SDK_OPTION_VARIABLES.includes(key)) {
      check.fail(join(at, key), `HEARTH_* variables are set by the runtime (a manifest may set only ${SDK_OPTION_VARIABLES.join(', ')})`);
    }
    if (typeof item !== 'string') check.fail(join(at, key), `must be a string (got ${show(item)})`);
    if (item.includes('\0')) check.fail(join(at, key), 'must not contain NUL bytes');
    result.push([key, item]);
  }
  // fromEntries defines each name as its own property: an assignment would take a variable
  // named __proto__ for the object's prototype and drop it.
  return Object.fromEntries(result);
}

/** Field checks that throw one HearthError naming the source and the field. */
export class Checker {
  constructor(readonly source: ManifestSource) {}

  fail(field: string, problem: string): never {
    const where = field === '' ? this.source.label : `${this.source.label}: ${field}`;
    throw new HearthError('HEARTH_ERR_MANIFEST_INVALID', `${where}: ${problem}`, {
      details: { source: this.source.label, field },
    });
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, `must be an object (got ${show(value)})`);
    return value as Record<string, unknown>;
  }

  noUnknown(value: Record<string, unknown>, allowed: readonly string[], at: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(join(at, key), `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }

  string(value: unknown, field: string): string {
    if (value === undefined) this.fail(field, 'is required');
    if (typeof value !== 'string' || value.length === 0) this.fail(field, `must be a non-empty string (got ${show(value)})`);
    if (value.includes('\0')) this.fail(field, 'must not contain NUL bytes');
    return value;
  }

  stringArray(value: unknown, field: string): string[] {
    if (!Array.isArray(value)) this.fail(field, `must be an array of strings (got ${show(value)})`);
    return value.map((item, index) => {
      if (typeof item !== 'string' || item.includes('\0')) this.fail(`${field}[${index}]`, `must be a string (got ${show(item)})`);
      return item;
    });
  }

  path(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (path.isAbsolute(text)) return path.normalize(text);
    if (this.source.baseDir === undefined) this.fail(field, `must be an absolute path here (got ${show(text)})`);
    return path.resolve(this.source.baseDir, text);
  }

  int(value: unknown, field: string, fallback: number, min: number, max: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value)) this.fail(field, `must be an integer (got ${show(value)})`);
    if (value < min || value > max) this.fail(field, `must be between ${min} and ${max} (got ${value})`);
    return value;
  }
}

function parseJson(text: string, source: ManifestSource): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    let where = '';
    if (position) {
      const before = text.slice(0, Number(position[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
    }
    throw new HearthError('HEARTH_ERR_MANIFEST_INVALID', `${source.label}: not valid JSON${where}: ${message}`, {
      details: { source: source.label },
    });
  }
}

function join(at: string, field: string): string {
  return at === '' ? field : `${at}.${field}`;
}

/** A value as a short text for an error message; never throws, whatever JSON.parse produced. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // JSON.parse takes any depth; JSON.stringify recurses and overflows the stack on it.
    return Array.isArray(value) ? 'an array nested too deeply to show' : 'an object nested too deeply to show';
  }
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
