import { HearthError, errorFrom } from '../../shared/errors.js';
import { resolveToken } from '../../shared/local.js';
import { DEFAULT_PORT } from '../runtime.js';

export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

export const CLIENT_HELP = `  --url URL        the runtime's address (default $HEARTH_URL or http://127.0.0.1:${DEFAULT_PORT})
  --token TOKEN    control API token (default $HEARTH_TOKEN, else the token file the local runtime wrote)`;

/** A small client for the runtime's HTTP API. */
export class Client {
  readonly url: string;
  private tokenValue: string | undefined;

  constructor(values: Record<string, unknown>) {
    this.url = String(values['url'] ?? process.env['HEARTH_URL'] ?? `http://127.0.0.1:${DEFAULT_PORT}`).replace(/\/$/, '');
    this.tokenValue = values['token'] as string | undefined;
  }

  /** The token from the flag, the environment, or the file the runtime on this host wrote for its port. */
  token(): string {
    try {
      this.tokenValue ??= resolveToken(this.url, undefined);
    } catch (error) {
      throw new HearthError('HEARTH_ERR_UNAUTHORIZED', (error as Error).message);
    }
    return this.tokenValue;
  }

  async request(method: string, path: string, options: { body?: BodyInit; headers?: Record<string, string>; auth?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth !== false) headers['authorization'] = `Bearer ${this.token()}`;
    try {
      return await fetch(`${this.url}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: options.body, duplex: 'half' } as RequestInit) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new HearthError('HEARTH_ERR_UNAVAILABLE', `cannot reach the runtime at ${this.url}: ${cause?.code ?? cause?.message ?? (error as Error).message} (is \`hearth serve\` running?)`);
    }
  }

  /** A JSON request that throws the server's error message on failure. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HearthError('HEARTH_ERR_INTERNAL', `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) throw errorFrom(parsed, response.status);
    return parsed as T;
  }
}
