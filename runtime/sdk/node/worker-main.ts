// The process every Node worker and stem cell runs: map the state, load the function's
// module, say READY, then answer INVOKE frames until told to stop. PROTOCOL.md in
// runtime/ipc is the contract.
import fs from 'node:fs';
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
import * as native from '../../../native/index.js';
import { Channel } from '../../ipc/channel.js';
import {
  decodeInvoke,
  decodeJsonPayload,
  encodeFrame,
  encodeReadyPayload,
  FrameType,
  HEADER_SIZE,
  MAX_PAYLOAD,
  WorkerRole,
  type Frame,
} from '../../ipc/frame.js';
import { internal, type Handler, type HandlerResult, type InvocationContext } from './index.js';

const SDK_NAME = `node/${process.versions.node}`;
const IPC_FD = intFromEnv('HEARTH_IPC_FD', 3);

function intFromEnv(name: string, fallback?: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') {
    if (fallback !== undefined) return fallback;
    fail(`${name} is not set`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) fail(`${name}=${JSON.stringify(text)} is not a non-negative integer`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`hearth worker: ${message}\n`);
  process.exit(1);
}

function mapState(fd: number, size: number): void {
  const buffer = native.mmap(fd, size, { writable: false, populate: process.env['HEARTH_STATE_POPULATE'] === '1' });
  internal.setState(buffer);
  native.markStateMapped(size);
}

/** A stem cell announces itself, then blocks until the runtime names its function. */
function awaitSpecialisation(): void {
  fs.writeSync(IPC_FD, encodeFrame(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.STEM_CELL, pid: process.pid, sdk: SDK_NAME })));
  let received = Buffer.alloc(0);
  let stateFd = -1;
  while (received.length < HEADER_SIZE || received.length < HEADER_SIZE + received.readUInt32LE(0)) {
    const { data, fd } = native.recvWithFd(IPC_FD, 1 << 20);
    if (fd >= 0) stateFd = fd;
    if (data.length === 0) process.exit(0);
    received = Buffer.concat([received, data]);
    if (received.length >= HEADER_SIZE && received.readUInt32LE(0) > MAX_PAYLOAD) fail('the runtime sent an oversized frame');
  }
  const type = received[4];
  if (type === FrameType.SHUTDOWN) process.exit(0);
  if (type !== FrameType.SPECIALISE) fail(`expected SPECIALISE, got frame type ${type}`);
  const message = JSON.parse(received.toString('utf8', HEADER_SIZE, HEADER_SIZE + received.readUInt32LE(0))) as {
    entry: string;
    env: Record<string, string>;
    stateSize: number;
  };
  Object.assign(process.env, message.env);
  process.env['HEARTH_ENTRY'] = message.entry;
  if (stateFd >= 0) {
    mapState(stateFd, message.stateSize);
    fs.closeSync(stateFd);
  }
}

async function loadHandler(entry: string | undefined): Promise<Handler> {
  if (entry === undefined || entry === '') fail('HEARTH_ENTRY is not set');
  const module = (await import(pathToFileURL(entry).href)) as { handler?: unknown; default?: unknown };
  const handler = internal.registeredHandler() ?? module.handler ?? module.default;
  if (typeof handler !== 'function') {
    fail(`${entry} provides no handler: export a function named handler (or a default export), or call serve(handler)`);
  }
  return handler as Handler;
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

function toBytes(result: HandlerResult): Uint8Array {
  if (result instanceof Uint8Array) return result;
  if (typeof result === 'string') return Buffer.from(result, 'utf8');
  if (result === undefined || result === null) return EMPTY;
  return Buffer.from(JSON.stringify(result), 'utf8');
}
const EMPTY = new Uint8Array(0);

function errorPayload(error: unknown): Buffer {
  const value = error instanceof Error ? { errorType: error.name, errorMessage: error.message, stackTrace: error.stack ?? '' } : { errorType: typeof error, errorMessage: String(error) };
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function serveLoop(handler: Handler): void {
  let inflight = 0;
  let stopping = false;
  const stopIfIdle = (): void => {
    if (stopping && inflight === 0) process.exit(0);
  };
  const answer = (id: number, result: HandlerResult): void => {
    const bytes = toBytes(result);
    if (bytes.length > MAX_PAYLOAD) channel.send(FrameType.ERROR, id, errorPayload(new RangeError(`response of ${bytes.length} bytes exceeds ${MAX_PAYLOAD}`)));
    else channel.send(FrameType.RESULT, id, bytes);
    finish(id);
  };
  const failed = (id: number, error: unknown): void => {
    channel.send(FrameType.ERROR, id, errorPayload(error));
    finish(id);
  };
  const finish = (id: number): void => {
    native.markInvokeEnd(id);
    inflight--;
    stopIfIdle();
  };
  const invoke = (frame: Frame): void => {
    const { timeoutMs, body } = decodeInvoke(frame.payload);
    const id = frame.id;
    inflight++;
    native.markInvokeStart(id);
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = handler(body, new Context(id, Date.now() + timeoutMs));
    } catch (error) {
      return failed(id, error);
    }
    if (result instanceof Promise) result.then((value) => answer(id, value), (error: unknown) => failed(id, error));
    else answer(id, result);
  };
  const control = (frame: Frame): void => {
    const request = decodeJsonPayload(frame);
    let reply: Record<string, unknown>;
    if (request['op'] === 'stats') {
      const heap = v8.getHeapStatistics();
      reply = { ok: true, heapBytes: heap.used_heap_size, heapTotalBytes: heap.total_heap_size, heapLimitBytes: heap.heap_size_limit, externalBytes: heap.external_memory, rssBytes: process.memoryUsage.rss(), node: process.versions.node };
    } else if (request['op'] === 'gc') {
      reply = { ok: false, error: 'V8 heap limits are fixed when a worker starts; the runtime applies new ones to new workers' };
    } else {
      reply = { ok: false, error: `unknown op ${String(request['op'])}` };
    }
    channel.send(FrameType.CONTROL_REPLY, frame.id, Buffer.from(JSON.stringify(reply)));
  };
  const channel = new Channel(IPC_FD, MAX_PAYLOAD, {
    frame(frame) {
      switch (frame.type) {
        case FrameType.INVOKE:
          return invoke(frame);
        case FrameType.CONTROL:
          return control(frame);
        case FrameType.SHUTDOWN:
          stopping = true;
          return stopIfIdle();
        default:
          fail(`unexpected frame type ${frame.type} from the runtime`);
      }
    },
    protocolError(error) {
      fail(`bad frame from the runtime: ${error.message}`);
    },
    closed() {
      process.exit(stopping ? 0 : 1);
    },
  });
  process.on('SIGTERM', () => {
    stopping = true;
    stopIfIdle();
  });
  channel.send(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.WORKER, pid: process.pid, sdk: SDK_NAME }));
  native.markReady();
}

async function main(): Promise<void> {
  if (process.env['HEARTH_ROLE'] === 'stem') {
    awaitSpecialisation();
  } else if (process.env['HEARTH_STATE_FD'] !== undefined) {
    mapState(intFromEnv('HEARTH_STATE_FD'), intFromEnv('HEARTH_STATE_SIZE'));
  }
  serveLoop(await loadHandler(process.env['HEARTH_ENTRY']));
}

void main();
