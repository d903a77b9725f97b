import http from 'node:http';
import type { FunctionStats, FunctionSummary, PoolSettings, RuntimeInfo, WorkerList } from '../shared/api.js';
import { parseRuntimeEvent, RuntimeEventError, type RuntimeEvent } from '../shared/events.js';
import { LineSplitter } from '../shared/ndjson.js';

export interface Follower {
  /** Tells the runtime that every event up to `seq` has been acted on (a holding follower only). */
  ack(seq: number): Promise<void>;
  stop(): void;
}

export interface FollowOptions {
  since: number;
  /** Let the runtime send what happened at most this often. */
  batchMs: number;
  /** Hold a new binary's first worker until this follower acknowledges its function_prepared event. */
  hold: boolean;
  /** Every invocation's events (the tuner), or only cold starts' (the phases). */
  invocations: 'all' | 'cold';
}

/** What PATCH /v1/functions/NAME changes. */
export interface FunctionPatch {
  pool?: Partial<PoolSettings>;
  gc?: FunctionSummary['gc'];
}

/** No runtime event comes near this; a longer line means the stream is not one. */
const MAX_EVENT_LINE = 1 << 20;

/** The events that `chunk` of GET /v1/events completes; throws RuntimeEventError on a line that is not one. */
export function decodeEventLines(lines: LineSplitter, chunk: string): RuntimeEvent[] {
  let complete: string[];
  try {
    complete = lines.push(chunk);
  } catch (error) {
    throw new RuntimeEventError((error as Error).message);
  }
  return complete.map(parseRuntimeEvent);
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

  /** The runtime's live workers (of one function, or all), and its seeds and stem cells ready; with `memory`, each one's PSS without its state. */
  workers(fn?: string, options: { memory?: boolean } = {}): Promise<WorkerList> {
    const query = [fn === undefined ? '' : `function=${encodeURIComponent(fn)}`, options.memory === true ? 'memory=1' : ''].filter((part) => part !== '').join('&');
    return this.get<WorkerList>(`/v1/workers${query === '' ? '' : `?${query}`}`);
  }

  /** Every ready worker's GC and memory figures (GET /v1/functions/NAME/stats), for the GC tuner. */
  functionStats(name: string, timeoutMs?: number): Promise<FunctionStats> {
    return this.get<FunctionStats>(`/v1/functions/${encodeURIComponent(name)}/stats${timeoutMs === undefined ? '' : `?timeoutMs=${timeoutMs}`}`);
  }

  async functions(): Promise<FunctionSummary[]> {
    return (await this.get<{ functions: FunctionSummary[] }>('/v1/functions')).functions;
  }

  function(name: string): Promise<FunctionSummary> {
    return this.get<FunctionSummary>(`/v1/functions/${encodeURIComponent(name)}`);
  }

  /** Changes a function's pool or GC settings; answers the function as it now is. */
  configure(name: string, patch: FunctionPatch): Promise<FunctionSummary> {
    return this.request<FunctionSummary>('PATCH', `/v1/functions/${encodeURIComponent(name)}`, patch);
  }

  /**
   * Follows GET /v1/events from `since`, reconnecting (from the last event seen) when the
   * stream breaks; the runtime keeps recent events, so a short break loses nothing. Read with
   * node:http rather than fetch: a few events a second never get web streams' per-chunk
   * machinery optimised, and it cost the agent about 0.5 ms of CPU per cold start. The runtime
   * sends what happened at most every `batchMs`, so a busy runtime does not wake us per event.
   */
  follow(options: FollowOptions, onEvent: (event: RuntimeEvent) => void, onState: (connected: boolean, error?: string) => void): Follower {
    let stopped = false;
    let lastSeq = options.since;
    let followerId: string | undefined;
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
      const url = `${this.url}/v1/events?since=${lastSeq}&follow=1&invocations=${options.invocations}&batchMs=${options.batchMs}${options.hold ? '&hold=1' : ''}`;
      const current = http.get(url, { headers: { authorization: `Bearer ${this.token}` } }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          broken(`GET /v1/events: HTTP ${response.statusCode}`);
          return;
        }
        const header = response.headers['x-hearth-follower'];
        followerId = typeof header === 'string' && /^\d+$/.test(header) ? header : undefined;
        onState(true);
        delay = 100;
        response.setEncoding('utf8');
        const lines = new LineSplitter(MAX_EVENT_LINE);
        response.on('data', (chunk: string) => {
          let events: RuntimeEvent[];
          try {
            events = decodeEventLines(lines, chunk);
          } catch (error) {
            if (!(error instanceof RuntimeEventError)) throw error;
            current.destroy();
            broken(`GET /v1/events: ${error.message}`);
            return;
          }
          for (const event of events) {
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
      ack: async (seq) => {
        if (followerId === undefined) return;
        await this.request('POST', `/v1/followers/${followerId}/ack`, { seq });
      },
      stop: () => {
        stopped = true;
        clearTimeout(retry);
        request?.destroy();
      },
    };
  }

  private get<T>(route: string): Promise<T> {
    return this.request<T>('GET', route);
  }

  private async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${this.url}${route}: HTTP ${response.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }
}
