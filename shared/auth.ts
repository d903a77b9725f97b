// The bearer token check of both programs' HTTP APIs: the runtime's control API and the
// agent's mutating requests take the runtime's token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

/** Whether the request carries `Authorization: Bearer <token>`; compared in constant time (hashes of equal length). */
export function authorized(req: http.IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  if (match === null) return false;
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}
