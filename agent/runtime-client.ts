import http from 'node:http';
import type { FunctionSummary, RuntimeInfo } from '../shared/api.js';
import type { RuntimeEvent } from '../shared/events.js';

export interface Follower {
  stop(): void;
}

/** The agent's view of one runtime: its identity, its functions, and its event stream. */
export class RuntimeClient {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  info(): Promise<RuntimeInfo> {
    return this.get<RuntimeInfo>('/v1/info');
  }

  async functions(): Promise<FunctionSummary[]> {
    return (await this.get<{ functions: FunctionSummary[] }>('/v1/functions')).functions;
  }

  /**
   * Follows GET /v1/events from `since`, reconnecting (from the last event seen) when the
   * stream breaks; the runtime keeps recent events, so a short break loses nothing. Read with
   * node:http rather than fetch: a few events a second never get web streams' per-chunk
   * machinery optimised, and it cost the agent about 0.5 ms of CPU per cold start. The runtime
   * sends what happened at most every `batchMs`, so a busy runtime does not wake us per event.
   */
  follow(since: number, batchMs: number, onEvent: (event: RuntimeEvent) => void, onState: (connected: boolean, error?: string) => void): Follower {
    let stopped = false;
    let lastSeq = since;
    let request: http.ClientRequest | undefined;
    let retry: NodeJS.Timeout | undefined;
    let delay = 100;
    const broken = (message: string): void => {
      if (stopped || request === undefined) return;
      request = undefined;
      onState(false, message);
      retry = setTimeout(connect, delay);
      delay = Math.min(5000, delay * 2);
    };
    const connect = (): void => {
      // Warm invocations do not concern cold starts: leave them out at the source.
      const url = `${this.url}/v1/events?since=${lastSeq}&follow=1&invocations=cold&batchMs=${batchMs}`;
      const current = http.get(url, { headers: { authorization: `Bearer ${this.token}` } }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          broken(`GET /v1/events: HTTP ${response.statusCode}`);
          return;
        }
        onState(true);
        delay = 100;
        response.setEncoding('utf8');
        let pending = '';
        response.on('data', (chunk: string) => {
          pending += chunk;
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            if (line.trim() === '') continue;
            let event: RuntimeEvent;
            try {
              event = JSON.parse(line) as RuntimeEvent;
            } catch {
              current.destroy();
              broken(`GET /v1/events: a line that is not JSON: ${line.slice(0, 120)}`);
              return;
            }
            lastSeq = event.seq;
            onEvent(event);
          }
        });
        response.on('end', () => broken('the runtime closed the event stream'));
        response.on('error', (error) => broken(error.message));
      });
      current.on('error', (error) => broken(error.message));
      request = current;
    };
    connect();
    return {
      stop: () => {
        stopped = true;
        clearTimeout(retry);
        request?.destroy();
      },
    };
  }

  private async get<T>(route: string): Promise<T> {
    const response = await fetch(`${this.url}${route}`, { headers: { authorization: `Bearer ${this.token}` } });
    const text = await response.text();
    if (!response.ok) throw new Error(`GET ${this.url}${route}: HTTP ${response.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }
}
