import type http from 'node:http';
import { HearthError } from '../../shared/errors.js';

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

/**
 * Answers a request that sets one field of a small JSON object body: `parse` turns the field
 * into a value or the error to answer, and what `apply` resolves to is the answer. A throw
 * from `apply` answers 503, its message after `failure(value)`.
 */
export function putField<T>(req: http.IncomingMessage, res: http.ServerResponse, field: string, maxBytes: number, parse: (value: unknown) => T | HearthError, apply: (value: T) => Promise<unknown>, failure: (value: T) => string): void {
  readBody(req, maxBytes).then(
    async (body) => {
      if (body === undefined) return sendError(res, new HearthError('HEARTH_ERR_BODY_TOO_LARGE', `the body may be at most ${maxBytes} bytes`));
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (error) {
        return sendError(res, new HearthError('HEARTH_ERR_BAD_REQUEST', `the body is not JSON: ${(error as Error).message}`));
      }
      const value = parse(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>)[field] : undefined);
      if (value instanceof HearthError) return sendError(res, value);
      try {
        sendJson(res, 200, await apply(value));
      } catch (error) {
        sendError(res, new HearthError('HEARTH_ERR_UNAVAILABLE', `${failure(value)}: ${(error as Error).message}`));
      }
    },
    () => res.destroy(),
  );
}
