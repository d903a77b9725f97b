// Bearer tokens on the control APIs: the runtime's, and the agent's mutating routes (which
// take the same token the agent uses to reach the runtime).
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

/** Constant-time bearer token check. */
export function authorized(req: http.IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  if (match === null) return false;
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}
