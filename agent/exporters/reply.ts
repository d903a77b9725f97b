import type http from 'node:http';
import type { HearthError } from '../../shared/errors.js';

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The agent's error answer: `{"error": {"code": "HEARTH_ERR_...", "message": "..."}}`, like the runtime's. */
export function sendError(res: http.ServerResponse, error: HearthError, headers: http.OutgoingHttpHeaders = {}): void {
  sendJson(res, error.status, error.toJSON(), headers);
}
