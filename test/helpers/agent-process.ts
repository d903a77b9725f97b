// `hearth agent` in its own process, as operators run it beside a runtime.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT, freePort } from './harness.js';

export const HEARTH = path.join(ROOT, 'dist/cli/main.js');

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  output(): string;
}

/**
 * Starts `hearth agent` against the runtime at `runtimeUrl`. `capabilities` (setpriv syntax,
 * e.g. ',+bpf,+perfmon') limits its bounding set, which as root is what it gets; undefined
 * leaves them all. `port` defaults to a free one. The tuner is off unless `tuner` names a
 * mode: the tests set the pools they measure.
 */
export async function startAgent(runtimeUrl: string, token: string, options: { capabilities?: string; port?: number; tuner?: 'on' | 'dry-run' | 'off' } = {}): Promise<AgentProcess> {
  const port = options.port ?? (await freePort());
  // The token goes in its environment, which only its own user can read, not on its command line.
  const agent = [process.execPath, HEARTH, 'agent', '--runtime', runtimeUrl, '--port', String(port), '--tuner', options.tuner ?? 'off'];
  const [command, ...args] = options.capabilities === undefined ? agent : ['setpriv', `--bounding-set=-all${options.capabilities}`, '--', ...agent];
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEARTH_TOKEN: token } });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

/** Whether the agent answers and follows its runtime. */
export async function agentFollows(agent: AgentProcess): Promise<boolean> {
  try {
    return ((await (await fetch(`${agent.url}/healthz`)).json()) as { runtimeConnected: boolean }).runtimeConnected;
  } catch {
    return false;
  }
}

export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
