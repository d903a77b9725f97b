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

/**
 * The request's body, or undefined as soon as it grows past `maxBytes`: the answer need not
 * wait for the rest, which is read and dropped so that the client sees that answer.
 */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else resolve(undefined);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
