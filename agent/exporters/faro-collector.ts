// POST /collect: a Faro-compatible receiver for the web UI's own telemetry (errors, web vitals,
// events). The agent counts what arrives, logs the page's exceptions, and answers 202 as
// Grafana Alloy's faro.receiver does; anything that is too large, too frequent or not Faro's
// shape is refused with a reason and counted.
import type http from 'node:http';
import { HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { FARO_SIGNALS, parseFaroPayload, type FaroPayload, type FaroSignal } from './faro-payload.js';
import { RateLimiter, type RateLimit } from './rate-limit.js';
import { readBody, sendError } from './reply.js';

export const FARO_ITEM_KINDS = [...FARO_SIGNALS, 'traces'] as const;
export type FaroItemKind = FaroSignal | 'traces';
export const FARO_REJECTIONS = ['too_large', 'rate_limited', 'bad_content_type', 'bad_encoding', 'bad_json', 'bad_payload'] as const;
export type FaroRejection = (typeof FARO_REJECTIONS)[number];

/** Where accepted items and refusals are counted (the agent's metrics). */
export interface FaroCounters {
  faroItems(kind: FaroItemKind, count: number): void;
  faroRejected(reason: FaroRejection): void;
}

export interface FaroLimits {
  maxBodyBytes: number;
  /** Per client address. */
  rate: RateLimit;
}

/**
 * A page sends a payload at most every few hundred milliseconds (Faro batches), so 5 a second
 * with bursts of 30 never throttles the UI; 256 KiB holds hundreds of items.
 */
export const DEFAULT_FARO_LIMITS: FaroLimits = { maxBodyBytes: 256 * 1024, rate: { perSecond: 5, burst: 30 } };

/** How much of a text from the page goes into one log line. */
const LOGGED_CHARS = 300;

export class FaroCollector {
  private readonly limiter: RateLimiter;

  constructor(
    private readonly counters: FaroCounters,
    private readonly log: Logger,
    readonly limits: FaroLimits = DEFAULT_FARO_LIMITS,
  ) {
    this.limiter = new RateLimiter(limits.rate);
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const client = req.socket.remoteAddress ?? 'unknown';
    const waitMs = this.limiter.take(client, Date.now());
    if (waitMs > 0) {
      const { perSecond, burst } = this.limits.rate;
      return this.refuse(req, res, 'rate_limited', new HearthError('HEARTH_ERR_RATE_LIMITED', `${client} sent more than ${burst} payloads at once or ${perSecond} a second; retry in ${waitMs} ms`), {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      });
    }
    // Faro's fetch transport sends JSON; a page of another origin can post only form or plain-text bodies without a preflight.
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return this.refuse(req, res, 'bad_content_type', new HearthError('HEARTH_ERR_BAD_REQUEST', `Content-Type ${JSON.stringify(type)} is not accepted: send application/json, as Faro's fetch transport does`));
    const encoding = req.headers['content-encoding'] ?? 'identity';
    if (encoding !== 'identity') return this.refuse(req, res, 'bad_encoding', new HearthError('HEARTH_ERR_BAD_REQUEST', `Content-Encoding ${encoding} is not accepted: send plain JSON (Faro's requestCompression off)`));
    if (Number(req.headers['content-length'] ?? 0) > this.limits.maxBodyBytes) return this.refuse(req, res, 'too_large', this.tooLarge());
    readBody(req, this.limits.maxBodyBytes).then(
      (body) => (body === undefined ? this.refuse(req, res, 'too_large', this.tooLarge()) : this.receive(client, body, req, res)),
      () => res.destroy(),
    );
  }

  private tooLarge(): HearthError {
    return new HearthError('HEARTH_ERR_BODY_TOO_LARGE', `a Faro payload may be at most ${this.limits.maxBodyBytes} bytes`);
  }

  private receive(client: string, body: Buffer, req: http.IncomingMessage, res: http.ServerResponse): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (error) {
      return this.refuse(req, res, 'bad_json', new HearthError('HEARTH_ERR_BAD_REQUEST', `the body is not JSON: ${(error as Error).message}`));
    }
    const payload = parseFaroPayload(parsed);
    if (typeof payload === 'string') return this.refuse(req, res, 'bad_payload', new HearthError('HEARTH_ERR_BAD_REQUEST', `not a Faro payload: ${payload}`));
    this.accept(client, payload);
    res.writeHead(202, { 'content-length': 0 });
    res.end();
  }

  private refuse(req: http.IncomingMessage, res: http.ServerResponse, reason: FaroRejection, error: HearthError, headers: http.OutgoingHttpHeaders = {}): void {
    this.counters.faroRejected(reason);
    req.resume();
    sendError(res, error, headers);
  }

  private accept(client: string, payload: FaroPayload): void {
    for (const kind of FARO_SIGNALS) if (payload[kind].length > 0) this.counters.faroItems(kind, payload[kind].length);
    if (payload.traces.length > 0) this.counters.faroItems('traces', payload.traces.length);
    // The page's own failures matter to whoever runs the agent; the rest is for debugging.
    for (const exception of payload.exceptions) this.log.warn(`the web UI at ${client} failed: ${clip(`${exception.type}: ${exception.value}`)}`);
    const events = payload.events.map((event) => event.name);
    this.log.debug(
      `from ${client}: ${payload.logs.length} logs, ${payload.exceptions.length} exceptions, ${payload.measurements.length} measurements (${clip(payload.measurements.map((item) => item.type).join(', '))}), ` +
        `${events.length} events (${clip(events.join(', '))})`,
    );
  }
}

/** A text from the page as one bounded, single-line JSON string. */
function clip(text: string): string {
  return JSON.stringify(text.length > LOGGED_CHARS ? `${text.slice(0, LOGGED_CHARS)}…` : text);
}
