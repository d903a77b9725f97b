import type http from 'node:http';
import { asHearthError, HearthError } from '../../shared/errors.js';

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Every error response: the HTTP status of its code, a JSON body that says what happened, Retry-After when it helps. */
export function sendError(res: http.ServerResponse, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const error = asHearthError(value);
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const retryAfter = error.details['retryAfterSeconds'];
  const extra: http.OutgoingHttpHeaders = { ...headers };
  if (typeof retryAfter === 'number') extra['retry-after'] = String(retryAfter);
  sendJson(res, error.status, error.toJSON(), extra);
}

/**
 * Answers with what `work` returns: as JSON, or, when the client accepts
 * `application/x-ndjson`, as a stream of {"progress": ...} lines (work is handed the way to
 * send them) ending in {"result": ...} or {"error": ...}.
 */
export async function respondWithProgress(req: http.IncomingMessage, res: http.ServerResponse, work: (progress?: (message: string) => void) => Promise<unknown>): Promise<void> {
  if (!(req.headers.accept ?? '').includes('application/x-ndjson')) {
    sendJson(res, 200, await work());
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const line = (value: unknown): boolean => res.write(JSON.stringify(value) + '\n');
  try {
    line({ result: await work((progress) => line({ progress })) });
  } catch (error) {
    line(asHearthError(error).toJSON());
  }
  res.end();
}

export interface BodyLimits {
  maxBytes: number;
}

/** Reads a whole request body, refusing (413) one longer than the limit before reading it when the length is declared. */
export function readBody(req: http.IncomingMessage, maxBytes: number, done: (error: HearthError | undefined, body: Buffer) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const length = Number(declared);
    if (!Number.isSafeInteger(length) || length < 0) return done(new HearthError('HEARTH_ERR_BAD_REQUEST', `bad Content-Length ${JSON.stringify(declared)}`), EMPTY);
    if (length > maxBytes) return done(tooLarge(length, maxBytes), EMPTY);
  }
  const chunks: Buffer[] = [];
  let received = 0;
  let failed = false;
  req.on('data', (chunk: Buffer) => {
    if (failed) return;
    received += chunk.length;
    if (received > maxBytes) {
      failed = true;
      done(tooLarge(received, maxBytes), EMPTY);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (!failed) done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  });
  req.on('error', (error) => {
    if (failed) return;
    failed = true;
    done(new HearthError('HEARTH_ERR_BAD_REQUEST', `reading the request body: ${error.message}`), EMPTY);
  });
}

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new HearthError('HEARTH_ERR_BAD_REQUEST', 'the request body is empty; a JSON object is expected');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(bytes: number, limit: number): HearthError {
  return new HearthError('HEARTH_ERR_BODY_TOO_LARGE', `the request body (${bytes} bytes or more) exceeds the limit of ${limit} bytes`, {
    details: { limit },
  });
}

const EMPTY = Buffer.alloc(0);
