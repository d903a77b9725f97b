import { HearthError } from '../../shared/errors.js';
import { DEFAULT_AGENT_PORT } from '../agent.js';

export const AGENT_OPTION_HELP = `  --agent URL        the agent's API (default http://127.0.0.1:${DEFAULT_AGENT_PORT})`;

/** The agent's API base URL from --agent, else the local default. */
export function agentBase(values: Record<string, unknown>): string {
  return ((values['agent'] as string | undefined) ?? `http://127.0.0.1:${DEFAULT_AGENT_PORT}`).replace(/\/$/, '');
}

/** GET on the agent's API; an unreachable agent or an error answer becomes a HearthError that says what happened. */
export function agentGet(base: string, route: string): Promise<Response> {
  return agentRequest(base, route);
}

/** A request to the agent's API (a JSON body and the token for mutating routes); errors as agentGet's. */
export async function agentRequest(base: string, route: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${base}${route}`, {
      method: init.method ?? 'GET',
      headers: { ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
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
    const code = response.status === 404 ? 'HEARTH_ERR_NOT_FOUND' : response.status === 401 ? 'HEARTH_ERR_UNAUTHORIZED' : response.status === 400 ? 'HEARTH_ERR_BAD_REQUEST' : 'HEARTH_ERR_UNAVAILABLE';
    throw new HearthError(code, `${base}${route}: HTTP ${response.status}: ${message}`);
  }
  return response;
}

export async function agentJson<T>(base: string, route: string): Promise<T> {
  return (await (await agentGet(base, route)).json()) as T;
}
