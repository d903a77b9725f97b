import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface WrkResult {
  rps: number;
  p50_us: number;
  p99_us: number;
  errors: number;
}

/**
 * A load generator from Debian's package of the same name, installed on first use (the
 * benchmarks run as root on a fresh host).
 */
export function ensureTool(name: 'wrk' | 'hey', why: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    process.stderr.write(`installing ${name} (Debian package) for ${why}\n`);
    execFileSync('apt-get', ['install', '-y', '-qq', name], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}

/** wrk, for the HTTP benchmarks. */
export function ensureWrk(): void {
  ensureTool('wrk', 'the HTTP benchmarks');
}

function toMicros(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (match === null) throw new Error(`unexpected wrk latency ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value : match[2] === 'ms' ? value * 1000 : value * 1e6;
}

/** One wrk run posting `body` to `url`; latency percentiles in microseconds. */
export function wrk(url: string, body: string, connections: number, seconds: number): Promise<WrkResult> {
  const script = path.join(os.tmpdir(), `hearth-wrk-${process.pid}.lua`);
  fs.writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], (error, stdout) => {
      if (error !== null) return reject(new Error(`wrk failed: ${error.message}\n${stdout}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
      const p50 = /\n\s+50%\s+(\S+)/.exec(stdout)?.[1];
      const p99 = /\n\s+99%\s+(\S+)/.exec(stdout)?.[1];
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      const errors = non2xx + (socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, value) => sum + Number(value), 0));
      if (Number.isNaN(rps) || p50 === undefined || p99 === undefined) return reject(new Error(`cannot read wrk's output:\n${stdout}`));
      resolve({ rps, p50_us: toMicros(p50), p99_us: toMicros(p99), errors });
    });
  });
}
