import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { withHostAffinity } from '../supervisor/colocation.js';

const GO_CANDIDATES = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'];
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** The go tool: from PATH, else the usual install locations. */
export function findGo(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && isExecutable(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return GO_CANDIDATES.find(isExecutable);
}

/**
 * Builds a Go package directory into a static binary under cacheDir, named by the binary's
 * content hash, so rebuilding unchanged code yields the same path (and the same probes).
 * Go's own build cache makes a rebuild of unchanged code cost well under a second.
 */
export async function buildGoPackage(dir: string, cacheDir: string, label: string, log: Logger): Promise<string> {
  const go = findGo();
  if (go === undefined) {
    throw new HearthError('HEARTH_ERR_BUILD', `${label}: building a Go function needs the go tool, which is not in PATH or ${GO_CANDIDATES.join(', ')}`);
  }
  // Absolute: go build runs in the package's directory, and writes -o relative to it.
  const outDir = path.resolve(cacheDir, 'go');
  fs.mkdirSync(outDir, { recursive: true });
  const temp = path.join(outDir, `.build-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const started = performance.now();
  log.info(`${label}: go build in ${dir}`);
  await new Promise<void>((resolve, reject) => {
    withHostAffinity(() => execFile(
      go,
      ['build', '-trimpath', '-o', temp, '.'],
      { cwd: dir, env: { ...process.env, CGO_ENABLED: '0' }, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error === null) return resolve();
        const output = stderr.trim().split('\n').slice(-30).join('\n');
        reject(new HearthError('HEARTH_ERR_BUILD', `${label}: go build in ${dir} failed${error.killed ? ' (timed out)' : ''}:\n${output || error.message}`, { cause: error, details: { dir } }));
      },
    ));
  });
  const digest = createHash('sha256').update(fs.readFileSync(temp)).digest('hex').slice(0, 20);
  const binary = path.join(outDir, `${path.basename(dir)}-${digest}`);
  if (fs.existsSync(binary)) fs.rmSync(temp);
  else fs.renameSync(temp, binary);
  log.info(`${label}: built ${binary} in ${(performance.now() - started).toFixed(0)} ms`);
  return binary;
}

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
