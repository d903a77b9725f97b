import net from 'node:net';

export interface Reply {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  ms: number;
}

/** The runtime's own time for the request, arrival to response (the Server-Timing total); NaN without one. */
export function serverTotalMs(reply: Reply): number {
  return Number(/total;dur=([\d.]+)/.exec(reply.headers.get('server-timing') ?? '')?.[1] ?? NaN);
}

/**
 * One keep-alive HTTP/1.1 connection with the least client work possible, so that the
 * latency measured is the server's: a prebuilt request, a minimal response parser.
 */
export class RawClient {
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((reply: Omit<Reply, 'ms'>) => void) | undefined;
  private failing: ((error: Error) => void) | undefined;
  /** The server closed the connection (an idle keep-alive timed out): it takes no more requests. */
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('close', () => {
      this.closed = true;
      this.failing?.(new Error('the server closed the connection before it answered'));
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  async post(path: string, body: string | Buffer): Promise<Reply> {
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const head = Buffer.from(`POST ${path} HTTP/1.1\r\nHost: bench\r\nContent-Length: ${payload.length}\r\n\r\n`);
    const started = performance.now();
    const reply = await new Promise<Omit<Reply, 'ms'>>((resolve, reject) => {
      if (this.closed) return reject(new Error('the connection is closed'));
      this.waiting = resolve;
      this.failing = reject;
      this.socket.write(Buffer.concat([head, payload]));
    });
    return { ...reply, ms: performance.now() - started };
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === undefined) return;
    const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get('content-length') ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = this.buffer.subarray(end + 4 + length);
    const resolve = this.waiting;
    this.waiting = undefined;
    this.failing = undefined;
    resolve({ status, headers, body: Buffer.from(body) });
  }
}
