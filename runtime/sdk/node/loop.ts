import type { Duplex } from 'node:stream';
import * as native from '../../../native/index.js';
import { Channel } from '../../ipc/channel.js';
import { decodeInvoke, decodeJsonPayload, encodeReadyPayload, FrameType, frameTypeName, MAX_PAYLOAD, ProtocolError, WorkerRole, type Frame } from '../../ipc/frame.js';
import { GcAccounting } from './gc-stats.js';
import type { Handler, HandlerResult, InvocationContext } from './index.js';

export const SDK_NAME = `node/${process.versions.node}`;

export interface LoopOptions {
  /** Call the probe markers (off for the stem cell's warm-up, which is not real work). */
  markers: boolean;
  /** Asked to stop and nothing is in flight. */
  stopped(): void;
  /** The channel closed; `stopping` says whether that was asked for. */
  closed(stopping: boolean): void;
  protocolError(error: ProtocolError): void;
}

class Context implements InvocationContext {
  private abort: AbortSignal | undefined;
  constructor(
    readonly id: number,
    readonly deadline: number,
  ) {}
  get signal(): AbortSignal {
    this.abort ??= AbortSignal.timeout(Math.max(0, this.deadline - Date.now()));
    return this.abort;
  }
  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }
}

const EMPTY = new Uint8Array(0);

function toBytes(result: HandlerResult): Uint8Array {
  if (result instanceof Uint8Array) return result;
  if (typeof result === 'string') return Buffer.from(result, 'utf8');
  if (result === undefined || result === null) return EMPTY;
  return Buffer.from(JSON.stringify(result), 'utf8');
}

function errorPayload(error: unknown): Buffer {
  const value = error instanceof Error ? { errorType: error.name, errorMessage: error.message, stackTrace: error.stack ?? '' } : { errorType: typeof error, errorMessage: String(error) };
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Answers INVOKE and CONTROL frames on one channel with one handler (PROTOCOL.md, "Life of a worker"). */
export class InvokeLoop {
  readonly channel: Channel;
  private inflight = 0;
  private stopping = false;
  private readonly gc = new GcAccounting();

  constructor(
    endpoint: number | Duplex,
    private readonly handler: Handler,
    private readonly options: LoopOptions,
  ) {
    this.channel = new Channel(endpoint, MAX_PAYLOAD, {
      frame: (frame) => this.onFrame(frame),
      protocolError: (error) => options.protocolError(error),
      closed: () => options.closed(this.stopping),
    });
  }

  /** Tells the runtime this worker serves from now on; returns the ready marker's clock reading (0 without markers). */
  ready(): number {
    this.channel.send(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.WORKER, pid: process.pid, sdk: SDK_NAME }));
    return this.options.markers ? native.markReady() : 0;
  }

  stop(): void {
    this.stopping = true;
    if (this.inflight === 0) this.options.stopped();
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.INVOKE:
        return this.invoke(frame);
      case FrameType.CONTROL:
        return this.control(frame);
      case FrameType.SHUTDOWN:
        return this.stop();
      default:
        // Thrown through the channel, which closes itself and reports it like any bad frame.
        throw new ProtocolError(`the runtime may not send ${frameTypeName(frame.type)} frames to a worker`);
    }
  }

  private invoke(frame: Frame): void {
    const { timeoutMs, body } = decodeInvoke(frame.payload);
    const id = frame.id;
    this.inflight++;
    if (this.options.markers) native.markInvokeStart(id);
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = this.handler(body, new Context(id, Date.now() + timeoutMs));
    } catch (error) {
      return this.failed(id, error);
    }
    if (result instanceof Promise) result.then((value) => this.answer(id, value), (error: unknown) => this.failed(id, error));
    else this.answer(id, result);
  }

  private answer(id: number, result: HandlerResult): void {
    const bytes = toBytes(result);
    if (bytes.length > MAX_PAYLOAD) this.channel.send(FrameType.ERROR, id, errorPayload(new RangeError(`response of ${bytes.length} bytes exceeds ${MAX_PAYLOAD}`)));
    else this.channel.send(FrameType.RESULT, id, bytes);
    this.finish(id);
  }

  private failed(id: number, error: unknown): void {
    this.channel.send(FrameType.ERROR, id, errorPayload(error));
    this.finish(id);
  }

  private finish(id: number): void {
    if (this.options.markers) native.markInvokeEnd(id);
    this.inflight--;
    if (this.stopping && this.inflight === 0) this.options.stopped();
  }

  private control(frame: Frame): void {
    const request = decodeJsonPayload(frame);
    let reply: Record<string, unknown>;
    if (request['op'] === 'stats') {
      reply = this.gc.stats();
    } else if (request['op'] === 'gc') {
      reply = { ok: false, error: 'V8 heap limits are fixed when a worker starts; the runtime applies new ones to new workers' };
    } else {
      reply = { ok: false, error: `unknown op ${String(request['op'])}` };
    }
    this.channel.send(FrameType.CONTROL_REPLY, frame.id, Buffer.from(JSON.stringify(reply)));
  }
}
