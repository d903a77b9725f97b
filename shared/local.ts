// Where a local runtime can be found: its default address and the token file it leaves for
// clients on the same host (the CLI, the agent).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_RUNTIME_PORT = 8700;

/** Where runtimes keep per-instance files (token, mounts, records of host changes). */
export function defaultRunBase(): string {
  if (process.getuid?.() === 0) return '/run/hearth';
  return path.join(process.env['XDG_RUNTIME_DIR'] ?? os.tmpdir(), `hearth-${process.getuid?.() ?? 'user'}`);
}

/** Where the runtime listening on `port` leaves its token for local clients (a link to a mode-0600 file). */
export function tokenFile(runBase: string, port: number): string {
  return path.join(runBase, `port-${port}.token`);
}

/**
 * The control token for the runtime at `url`: the given one, else $HEARTH_TOKEN, else the
 * file the runtime on this host wrote for that port. Throws a message that says which to use.
 */
export function resolveToken(url: string, given: string | undefined): string {
  if (given !== undefined) return given;
  if (process.env['HEARTH_TOKEN'] !== undefined) return process.env['HEARTH_TOKEN'];
  const port = Number(new URL(url).port || 80);
  const file = tokenFile(defaultRunBase(), port);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(`no control API token: pass --token or set HEARTH_TOKEN; ${file}, where a local runtime on port ${port} keeps it, is missing (is \`hearth serve\` running on this host?)`);
  }
}
