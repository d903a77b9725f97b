import { HearthError } from '../../shared/errors.js';
import { DEFAULT_AGENT_PORT } from '../agent.js';

export const AGENT_OPTION_HELP = `  --agent URL        the agent's API (default http://127.0.0.1:${DEFAULT_AGENT_PORT})`;

/** The agent's API base URL from --agent, else the local default. */
export function agentBase(values: Record<string, unknown>): string {
  return ((values['agent'] as string | undefined) ?? `http://127.0.0.1:${DEFAULT_AGENT_PORT}`).replace(/\/$/, '');
}

/** GET on the agent's API; an unreachable agent or an error answer becomes a HearthError that says what happened. */
export async function agentGet(base: string, route: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${base}${route}`);
  } catch (error) {
    throw new HearthError('HEARTH_ERR_UNAVAILABLE', `cannot reach the agent at ${base}: ${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message} (is \`hearth agent\` running?)`);
  }
  if (!response.ok) {
    const text = await response.text();
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not the agent's JSON error: show the text as it came
    }
    throw new HearthError(response.status === 404 ? 'HEARTH_ERR_NOT_FOUND' : 'HEARTH_ERR_UNAVAILABLE', `${base}${route}: HTTP ${response.status}: ${message}`);
  }
  return response;
}

export async function agentJson<T>(base: string, route: string): Promise<T> {
  return (await (await agentGet(base, route)).json()) as T;
}
