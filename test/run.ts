// Runs every test suite, each in its own process, and prints one summary line:
// "N passed, N failed" (", N skipped" when any were). Usage: node dist/test/run.js [filter...]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from '../runtime/build/go.js';
import { cannotReach } from '../runtime/isolation/access.js';

const DIST_TEST = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(DIST_TEST, '../..');
const SUITE_TIMEOUT_MS = 10 * 60_000;
/** Printed by tests that cannot run here; each is counted as skipped, never as passed. */
export const SKIP_MARKER = 'HEARTH-SKIP';

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

function findSuites(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findSuites(full));
    else if (entry.name.endsWith('.test.js')) found.push(full);
  }
  return found.sort();
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer): void => {
      const text = chunk.toString();
      output += text;
      process.stdout.write(text);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => {
      output += `\nsuite timed out after ${SUITE_TIMEOUT_MS / 1000} s\n`;
      child.kill('SIGKILL');
    }, SUITE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function runUvuSuite(file: string): Promise<Tally> {
  const name = path.relative(DIST_TEST, file);
  process.stdout.write(`\n=== ${name}\n`);
  const { code, output } = await run(process.execPath, ['--enable-source-maps', file], ROOT);
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const staticSkips = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
  // Anywhere in a line: uvu prints its progress dots in front of a test's own output.
  const dynamicSkips = output.split(SKIP_MARKER + ' ').length - 1;
  if (Number.isNaN(total) || Number.isNaN(passed)) {
    process.stdout.write(`=== ${name}: no summary (exit ${code}); counted as 1 failure\n`);
    return { passed: 0, failed: 1, skipped: 0 };
  }
  const failed = total - passed - staticSkips + (code !== 0 && total === passed + staticSkips ? 1 : 0);
  return { passed: passed - dynamicSkips, failed, skipped: staticSkips + dynamicSkips };
}

/** The Go SDK's own tests, counted per top-level test. */
async function runGoSuite(): Promise<Tally> {
  process.stdout.write(`\n=== go test (runtime/sdk/go)\n`);
  const go = findGo();
  if (go === undefined) {
    process.stdout.write('go test: the go tool is missing; counted as 1 failure\n');
    return { passed: 0, failed: 1, skipped: 0 };
  }
  const { code, output } = await run(go, ['test', '-count=1', '-json', './...'], path.join(ROOT, 'runtime/sdk/go'));
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as { Action: string; Test?: string };
    if (event.Test === undefined || event.Test.includes('/')) continue;
    if (event.Action === 'pass') tally.passed++;
    else if (event.Action === 'fail') tally.failed++;
    else if (event.Action === 'skip') tally.skipped++;
  }
  if (code !== 0 && tally.failed === 0) tally.failed = 1;
  return tally;
}

/** Set in the suites' environment when they run from a view of the checkout (below). */
const CHECKOUT_VIEW = 'HEARTH_TEST_CHECKOUT_VIEW';
/** Who the reachability check stands for: a user with no rights of its own, as a worker's is. */
const NOBODY = 65534;

/**
 * As root, workers run as users of their own, and read the checkout's code (the SDK, the
 * addon, test fixtures) as those users. A checkout below a directory other users cannot
 * search (a 0700 home or mktemp directory) would have every deploy refused, rightly. Then the
 * suites run from a bind mount of the checkout on a directory anyone can search, made in a
 * private mount namespace so that the host's mounts stay as they were. Returns the exit code,
 * or undefined when the checkout is reachable as it is.
 */
function runFromReachableView(args: string[]): number | undefined {
  if (process.getuid?.() !== 0 || process.env[CHECKOUT_VIEW] !== undefined) return undefined;
  const closed = cannotReach(fileURLToPath(import.meta.url), 'read', NOBODY, NOBODY);
  if (closed === undefined) return undefined;
  const view = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-checkout-'));
  fs.chmodSync(view, 0o755);
  process.stdout.write(`test: workers run as users of their own and cannot reach this checkout (${closed}); the suites run from a view of it at ${view}, bind-mounted in a private mount namespace\n`);
  try {
    const script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ROOT, view, process.execPath, path.join(view, path.relative(ROOT, fileURLToPath(import.meta.url))), ...args], {
      stdio: 'inherit',
      env: { ...process.env, [CHECKOUT_VIEW]: view },
    });
    if (result.error !== undefined) throw new Error(`unshare failed: ${result.error.message}`);
    return result.status ?? 1;
  } finally {
    fs.rmdirSync(view);
  }
}

async function main(): Promise<void> {
  const viewExit = runFromReachableView(process.argv.slice(2));
  if (viewExit !== undefined) {
    process.exitCode = viewExit;
    return;
  }
  const filters = process.argv.slice(2);
  const selected = (name: string): boolean => filters.length === 0 || filters.some((filter) => name.includes(filter));
  const total: Tally = { passed: 0, failed: 0, skipped: 0 };
  const add = (tally: Tally): void => {
    total.passed += tally.passed;
    total.failed += tally.failed;
    total.skipped += tally.skipped;
  };
  for (const file of findSuites(DIST_TEST)) if (selected(path.relative(DIST_TEST, file))) add(await runUvuSuite(file));
  if (selected('go-sdk')) add(await runGoSuite());
  process.stdout.write(`\n${total.passed} passed, ${total.failed} failed${total.skipped > 0 ? `, ${total.skipped} skipped` : ''}\n`);
  process.exitCode = total.failed === 0 ? 0 : 1;
}

void main();
