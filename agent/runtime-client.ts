import type { FunctionSummary, RuntimeInfo } from '../shared/api.js';
import type { RuntimeEvent } from '../shared/events.js';
import { ndjsonLines } from '../shared/ndjson.js';
import type { Logger } from '../shared/log.js';

export interface Follower {
  stop(): void;
}

/** The agent's view of one runtime: its identity, its functions, and its event stream. */
export class RuntimeClient {
  constructor(
    readonly url: string,
    private readonly token: string,
    private readonly log: Logger,
  ) {}

  info(): Promise<RuntimeInfo> {
    return this.get<RuntimeInfo>('/v1/info');
  }

  async functions(): Promise<FunctionSummary[]> {
    return (await this.get<{ functions: FunctionSummary[] }>('/v1/functions')).functions;
  }

  /**
   * Follows GET /v1/events from `since`, reconnecting (from the last event seen) when the
   * stream breaks; the runtime keeps recent events, so a short break loses nothing.
   */
  follow(since: number, onEvent: (event: RuntimeEvent) => void, onState: (connected: boolean, error?: string) => void): Follower {
    let stopped = false;
    let lastSeq = since;
    let controller: AbortController | undefined;
    const run = async (): Promise<void> => {
      let delay = 100;
      while (!stopped) {
        controller = new AbortController();
        try {
          const response = await fetch(`${this.url}/v1/events?since=${lastSeq}&follow=1`, {
            headers: { authorization: `Bearer ${this.token}` },
            signal: controller.signal,
          });
          if (!response.ok || response.body === null) throw new Error(`GET /v1/events: HTTP ${response.status}`);
          onState(true);
          delay = 100;
          for await (const line of ndjsonLines(response.body)) {
            const event = JSON.parse(line) as RuntimeEvent;
            if (event.seq > lastSeq + 1 && lastSeq > 0) this.log.warn(`runtime events ${lastSeq + 1}..${event.seq - 1} were lost (the runtime's ring moved on)`);
            lastSeq = event.seq;
            onEvent(event);
          }
          throw new Error('the runtime closed the event stream');
        } catch (error) {
          if (stopped) return;
          onState(false, (error as Error).message);
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(5000, delay * 2);
        }
      }
    };
    void run();
    return {
      stop: () => {
        stopped = true;
        controller?.abort();
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
