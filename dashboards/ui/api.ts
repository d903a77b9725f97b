// The agent's public API as the page reads it (same origin: the agent serves the page). The
// shapes are the agent's own types, so a change there that the page does not follow fails
// the build.
import type { PoolView } from '../../agent/exporters/pool-api.js';
import type { FunctionStats } from '../../agent/phases/store.js';
import type { ColdStartRecord } from '../../agent/phases/tracker.js';
import type { ProfileSummary } from '../../agent/profile/store.js';
import type { TunerDecision } from '../../agent/tuner/live/decision-log.js';

export type { ColdStartRecord, FunctionStats, PoolView, ProfileSummary, TunerDecision };

/** GET /healthz. */
export interface Health {
  runtimeConnected: boolean;
  runtimePid: number | null;
  probesAttached: number;
  coldStarts: number;
}

/** GET /v1/profiles. */
export interface ProfilesHeld {
  profiling: boolean;
  /** Why there are no profiles, when profiling is off. */
  reason?: string;
  profiles: ProfileSummary[];
}

/** An answer other than 2xx, with the agent's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function get(route: string): Promise<Response> {
  const response = await fetch(route, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (response.ok) return response;
  const text = await response.text();
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    // not the agent's JSON error: keep the text as it came
  }
  throw new ApiError(response.status, `GET ${route}: HTTP ${response.status}: ${message}`);
}

export async function getJson<T>(route: string): Promise<T> {
  return (await (await get(route)).json()) as T;
}

export async function getText(route: string): Promise<string> {
  return (await get(route)).text();
}
