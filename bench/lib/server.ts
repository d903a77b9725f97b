import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopWithBenchmark } from './children.js';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const HEARTH = path.join(ROOT, 'dist/cli/main.js');
export const EXAMPLES = path.join(ROOT, 'examples');

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** A `hearth serve` in its own process, as in production: the client never shares its event loop. */
export class ServerProcess {
  private log = '';
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly token: string,
  ) {}

  /** `echo: false` keeps the server's log out of the benchmark's output (it is still kept, see logText). */
  static async start(args: string[] = [], options: { echo: boolean } = { echo: true }): Promise<ServerProcess> {
    const port = await freePort();
    const token = `bench-${process.pid}-${Date.now()}-token`;
    const tokenFile = path.join(os.tmpdir(), `hearth-bench-${process.pid}.token`);
    fs.writeFileSync(tokenFile, token, { mode: 0o600 });
    const child = spawn(process.execPath, [HEARTH, 'serve', '--port', String(port), '--token-file', tokenFile, '--log-level', 'warn', ...args], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    stopWithBenchmark(child);
    const server = new ServerProcess(child, port, token);
    child.stderr!.on('data', (chunk: Buffer) => {
      server.log += chunk.toString();
      if (options.echo) process.stderr.write(chunk);
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        if ((await fetch(`${server.url}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hearth serve did not start:\n${server.log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    fs.rmSync(tokenFile);
    return server;
  }

  logText(): string {
    return this.log;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async api<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  async deploy(fn: Record<string, unknown>): Promise<void> {
    await this.api('PUT', `/v1/functions/${String(fn['name'])}`, fn);
  }

  async workers(fn: string): Promise<{ pid: number; status: string }[]> {
    return (await this.api<{ workers: { pid: number; status: string }[] }>('GET', `/v1/workers?function=${fn}`)).workers;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}
