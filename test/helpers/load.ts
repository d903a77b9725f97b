// Load for the fault suites: a seeded random source (so a failing run can be repeated) and an
// HTTP client that gives every request a deadline and reports exactly what came back.
import http from 'node:http';
import { randomInt } from 'node:crypto';

/** The seed of this run: HEARTH_FAULT_SEED when set, else a fresh one; printed so a failure can be replayed. */
export function faultSeed(suite: string): number {
  const given = process.env['HEARTH_FAULT_SEED'];
  const seed = given === undefined ? randomInt(2 ** 31) : Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`HEARTH_FAULT_SEED must be an integer (got ${JSON.stringify(given)})`);
  process.stdout.write(`${suite}: seed ${seed} (HEARTH_FAULT_SEED=${seed} repeats its choices)\n`);
  return seed;
}

/** mulberry32: a small, fast, seedable generator; uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** What one request got: a status and body, or no response (`failure` says why: the deadline, or the connection). */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
  failure?: 'deadline' | 'connection';
  detail?: string;
}

/** Keep-alive HTTP/1.1 to one server, at most `connections` at once. */
export class LoadClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(url: string, connections: number) {
    const parsed = new URL(url);
    this.host = parsed.hostname;
    this.port = Number(parsed.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  }

  /** POSTs `body`; after `deadlineMs` without a complete response the request is abandoned and reported. */
  post(path: string, body: string, deadlineMs: number): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (answer: Omit<Answer, 'ms'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...answer, ms: performance.now() - started });
      };
      const request = http.request({ host: this.host, port: this.port, path, method: 'POST', agent: this.agent, headers: { 'content-length': Buffer.byteLength(body) } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => finish({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', (error) => finish({ status: 0, headers: {}, body: Buffer.alloc(0), failure: 'connection', detail: error.message }));
      });
      const timer = setTimeout(() => {
        finish({ status: 0, headers: {}, body: Buffer.alloc(0), failure: 'deadline', detail: `no complete response within ${deadlineMs} ms` });
        request.destroy();
      }, deadlineMs);
      request.on('error', (error) => finish({ status: 0, headers: {}, body: Buffer.alloc(0), failure: 'connection', detail: error.message }));
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The error code of a Hearth JSON error body, or undefined when the body is not one. */
export function errorCode(answer: Answer): { code: string; message: string } | undefined {
  if (answer.headers['content-type'] !== 'application/json') return undefined;
  try {
    const parsed = JSON.parse(answer.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string') return undefined;
    return { code: parsed.error.code, message: parsed.error.message };
  } catch {
    return undefined;
  }
}
