import { execFile } from 'node:child_process';

/** What one hey run saw: every request it sent, by how it ended. */
export interface HeyResult {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** Responses by HTTP status. */
  statuses: Map<number, number>;
  /** Requests that hit hey's own timeout: no response within it. */
  timeouts: number;
  /** Requests that ended with any other error (connection refused or reset): no response. */
  failures: number;
  /** Requests cut off because the run's time was up (hey cancels what is in flight): not the server's doing. */
  cancelled: number;
  errorLines: string[];
}

export interface HeyOptions {
  url: string;
  body: string;
  seconds: number;
  /** Concurrent connections (hey's workers). */
  connections: number;
  /** Requests a second across all connections; undefined for as fast as the server answers. */
  rate?: number;
  timeoutSeconds: number;
}

/** One run of hey (Debian's package): POSTs `body` on keep-alive connections for `seconds`. */
export function hey(options: HeyOptions): Promise<HeyResult> {
  const args = ['-z', `${options.seconds}s`, '-c', String(options.connections), '-t', String(options.timeoutSeconds), '-m', 'POST', '-T', 'application/octet-stream', '-d', options.body];
  // hey's -q is per connection.
  if (options.rate !== undefined) args.push('-q', (options.rate / options.connections).toFixed(3));
  return new Promise((resolve, reject) => {
    execFile('hey', [...args, options.url], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      if (error !== null) return reject(new Error(`hey failed: ${error.message}\n${stdout}`));
      try {
        resolve(parseHey(stdout));
      } catch (parseError) {
        reject(parseError as Error);
      }
    });
  });
}

export function parseHey(text: string): HeyResult {
  const seconds = (label: string): number => {
    const match = new RegExp(`${label} in ([\\d.]+) secs`).exec(text);
    if (match === null) throw new Error(`hey printed no ${label} latency:\n${text}`);
    return Number(match[1]) * 1000;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  if (Number.isNaN(rps)) throw new Error(`cannot read hey's output:\n${text}`);
  const statuses = new Map<number, number>();
  for (const match of text.matchAll(/^\s+\[(\d{3})\]\s+(\d+) responses$/gm)) statuses.set(Number(match[1]), Number(match[2]));
  let timeouts = 0;
  let failures = 0;
  let cancelled = 0;
  const errorLines: string[] = [];
  const errors = text.slice(text.indexOf('Error distribution:') >= 0 ? text.indexOf('Error distribution:') : text.length);
  for (const match of errors.matchAll(/^\s+\[(\d+)\]\s+(.+)$/gm)) {
    const count = Number(match[1]);
    const what = match[2]!;
    errorLines.push(`${count} ${what}`);
    if (/Client\.Timeout exceeded|timeout awaiting/i.test(what)) timeouts += count;
    else if (/context canceled|request canceled(?! while)/.test(what)) cancelled += count;
    else failures += count;
  }
  const answered = [...statuses.values()].reduce((sum, count) => sum + count, 0);
  return { requests: answered + timeouts + failures + cancelled, rps, p50_ms: seconds('50%'), p99_ms: seconds('99%'), statuses, timeouts, failures, cancelled, errorLines };
}
