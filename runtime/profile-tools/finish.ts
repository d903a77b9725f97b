import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HearthError } from '../../shared/errors.js';
import type { ProfileToolName } from '../../shared/tool-profiles.js';
import type { RunFacts, ToolOutput } from './tool.js';
import { withHostAffinity } from '../supervisor/colocation.js';

const FINISH_MAIN = fileURLToPath(new URL('./finish-main.js', import.meta.url));
/** The most a tool's processing may take: minutes of data take tens of seconds. */
const FINISH_TIMEOUT_MS = 10 * 60_000;
const OUTPUT_LINES_KEPT = 10;

export interface Finishing {
  readonly output: Promise<ToolOutput>;
  /** Stops the processing (the runtime is stopping). */
  kill(): void;
}

/** Runs the tool's post-processing on a finished run in a child process (finish-main.ts); `said` hears its stderr lines. */
export function finishRun(tool: ProfileToolName, facts: RunFacts, said: (line: string) => void): Finishing {
  const child = withHostAffinity(() => spawn(process.execPath, [FINISH_MAIN, JSON.stringify({ tool, ...facts })], { cwd: facts.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  const timer = setTimeout(() => child.kill('SIGKILL'), FINISH_TIMEOUT_MS);
  let stdout = '';
  const lastLines: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.split('\n').filter((item) => item.trim() !== '')) {
      said(line);
      lastLines.push(line);
      if (lastLines.length > OUTPUT_LINES_KEPT) lastLines.shift();
    }
  });
  const output = new Promise<ToolOutput>((resolve, reject) => {
    child.on('error', (error) => reject(new HearthError('HEARTH_ERR_PROFILE_TOOL', `${tool}: cannot start its processing: ${error.message}`, { cause: error })));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(JSON.parse(stdout) as ToolOutput);
      const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}${signal === 'SIGKILL' ? ` (after ${FINISH_TIMEOUT_MS / 1000} s, or the runtime is stopping)` : ''}`;
      reject(new HearthError('HEARTH_ERR_PROFILE_TOOL', `${tool}: processing the data of worker ${facts.pid} ${how}${lastLines.length > 0 ? `: ${lastLines.join(' | ')}` : ''}`));
    });
  });
  return { output, kill: () => child.kill('SIGKILL') };
}
