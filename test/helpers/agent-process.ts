// `hearth agent` in its own process, as operators run it, with a chosen set of capabilities.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './harness.js';

export const HEARTH = path.join(ROOT, 'dist/cli/main.js');

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  output(): string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `hearth agent` following the runtime at `runtimeUrl`. `capabilities` limits its
 * bounding set (as root, that is what it gets), e.g. ',+bpf,+perfmon'.
 */
export async function startAgentProcess(runtimeUrl: string, token: string, capabilities: string): Promise<AgentProcess> {
  const port = await freePort();
  const child = spawn('setpriv', [`--bounding-set=-all${capabilities}`, '--', process.execPath, HEARTH, 'agent', '--runtime', runtimeUrl, '--token', token, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
