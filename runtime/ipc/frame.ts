// The worker protocol's frame codec. PROTOCOL.md in this folder is the contract;
// runtime/sdk/go/wire.go mirrors it for Go workers.

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [1];
export const HEADER_SIZE = 16;
/** Hard cap of the protocol; a runtime may enforce a lower one. */
export const MAX_PAYLOAD = 64 * 1024 * 1024;
/** Ids are at most 2^53 - 1 (Number.MAX_SAFE_INTEGER): the high 32 bits of the u64 at most this. */
const MAX_ID_HIGH = 0x1f_ffff;

export const FrameType = {
  READY: 1,
  INVOKE: 2,
  RESULT: 3,
  ERROR: 4,
  CONTROL: 5,
  CONTROL_REPLY: 6,
  SPECIALISE: 7,
  SHUTDOWN: 8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FrameType).map(([name, value]) => [value, name]));
export function frameTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown(${type})`;
}

/** Smallest payload each type may carry. */
const MIN_PAYLOAD: Record<number, number> = {
  [FrameType.READY]: 8,
  [FrameType.INVOKE]: 8,
  [FrameType.RESULT]: 0,
  [FrameType.ERROR]: 2,
  [FrameType.CONTROL]: 2,
  [FrameType.CONTROL_REPLY]: 2,
  [FrameType.SPECIALISE]: 2,
  [FrameType.SHUTDOWN]: 0,
};

export const WorkerRole = { WORKER: 0, STEM_CELL: 1 } as const;

export interface Frame {
  type: FrameType;
  id: number;
  payload: Buffer;
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export function encodeHeader(type: FrameType, id: number, payloadLength: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(header, type, id, payloadLength);
  return header;
}

/** Writes a frame header at the start of `target` (which the payload then follows). */
export function writeHeader(target: Buffer, type: FrameType, id: number, payloadLength: number): void {
  target.writeUInt32LE(payloadLength, 0);
  target[4] = type;
  target[5] = 0;
  target.writeUInt16LE(0, 6);
  target.writeUInt32LE(id % 0x1_0000_0000, 8);
  target.writeUInt32LE(Math.floor(id / 0x1_0000_0000), 12);
}

/** One buffer holding a whole frame; for small frames, where one write beats two. */
export function encodeFrame(type: FrameType, id: number, payload: Uint8Array = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  writeHeader(frame, type, id, payload.length);
  frame.set(payload, HEADER_SIZE);
  return frame;
}
const EMPTY = new Uint8Array(0);

/** The 8 bytes that precede the body in an INVOKE payload. */
export function encodeInvokePrefix(timeoutMs: number): Buffer {
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32LE(Math.max(0, Math.min(0xffff_ffff, Math.ceil(timeoutMs))), 0);
  prefix.writeUInt32LE(0, 4);
  return prefix;
}

export interface ReadyInfo {
  version: number;
  role: number;
  pid: number;
  sdk: string;
}

export function decodeReady(payload: Buffer): ReadyInfo {
  return {
    version: payload.readUInt16LE(0),
    role: payload.readUInt16LE(2),
    pid: payload.readUInt32LE(4),
    sdk: payload.toString('utf8', 8, Math.min(payload.length, 8 + 256)),
  };
}

export function encodeReadyPayload(info: Omit<ReadyInfo, 'version'> & { version?: number }): Buffer {
  const sdk = Buffer.from(info.sdk, 'utf8');
  const payload = Buffer.allocUnsafe(8 + sdk.length);
  payload.writeUInt16LE(info.version ?? PROTOCOL_VERSION, 0);
  payload.writeUInt16LE(info.role, 2);
  payload.writeUInt32LE(info.pid, 4);
  sdk.copy(payload, 8);
  return payload;
}

export interface InvokeRequest {
  timeoutMs: number;
  body: Buffer;
}

export function decodeInvoke(payload: Buffer): InvokeRequest {
  if (payload.readUInt32LE(4) !== 0) throw new ProtocolError('INVOKE reserved field is not zero');
  return { timeoutMs: payload.readUInt32LE(0), body: payload.subarray(8) };
}

export interface WorkerErrorPayload {
  errorType: string;
  errorMessage: string;
  stackTrace?: string;
}

export function decodeWorkerError(payload: Buffer): WorkerErrorPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new ProtocolError(`ERROR payload is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ProtocolError('ERROR payload is not a JSON object');
  const record = parsed as Record<string, unknown>;
  const result: WorkerErrorPayload = {
    errorType: typeof record['errorType'] === 'string' ? record['errorType'] : 'Error',
    errorMessage: typeof record['errorMessage'] === 'string' ? record['errorMessage'] : 'handler failed without a message',
  };
  if (typeof record['stackTrace'] === 'string') result.stackTrace = record['stackTrace'];
  return result;
}

export function decodeJsonPayload(frame: Frame): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.payload.toString('utf8'));
  } catch (error) {
    throw new ProtocolError(`${frameTypeName(frame.type)} payload is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError(`${frameTypeName(frame.type)} payload is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Incremental frame parser. Chunks are kept as a list and joined once per frame,
 * so a large frame spread over many reads costs one copy, not one per read.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the started frame needs in all, once its header is in and checked; 0 before. */
  private needed = 0;

  constructor(
    private readonly maxPayload: number,
    private readonly onFrame: (frame: Frame) => void,
  ) {
    if (maxPayload > MAX_PAYLOAD) throw new RangeError(`maxPayload ${maxPayload} exceeds the protocol's ${MAX_PAYLOAD}`);
  }

  /** Feeds bytes; calls onFrame for each complete frame; throws ProtocolError on a bad frame. */
  push(chunk: Buffer): void {
    let data: Buffer;
    if (this.buffered === 0) {
      data = chunk;
    } else {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (!this.hasWholeFrame()) return;
      data = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      this.needed = 0;
    }
    let offset = 0;
    while (data.length - offset >= HEADER_SIZE) {
      const length = this.checkHeader(data, offset);
      const end = offset + HEADER_SIZE + length;
      if (end > data.length) break;
      const type = data[offset + 4] as FrameType;
      const id = data.readUInt32LE(offset + 8) + data.readUInt32LE(offset + 12) * 0x1_0000_0000;
      offset = end;
      this.onFrame({ type, id, payload: data.subarray(end - length, end) });
    }
    if (offset < data.length) {
      this.chunks = [data.subarray(offset)];
      this.buffered = data.length - offset;
    }
  }

  /** True while a frame has been started but not completed. */
  get partial(): boolean {
    return this.buffered > 0;
  }

  private hasWholeFrame(): boolean {
    if (this.needed === 0) {
      if (this.buffered < HEADER_SIZE) return false;
      // Checked once per frame: re-joining a header split over many small reads at every
      // read would make a frame that arrives in n pieces cost n² work.
      const head = this.chunks[0]!.length >= HEADER_SIZE ? this.chunks[0]! : Buffer.concat(this.chunks.slice(0, HEADER_SIZE), HEADER_SIZE);
      this.needed = HEADER_SIZE + this.checkHeader(head, 0);
    }
    return this.buffered >= this.needed;
  }

  private checkHeader(data: Buffer, offset: number): number {
    const length = data.readUInt32LE(offset);
    const type = data[offset + 4]!;
    const minPayload = MIN_PAYLOAD[type];
    if (minPayload === undefined) throw new ProtocolError(`unknown frame type ${type}`);
    if (data[offset + 5] !== 0) throw new ProtocolError(`${frameTypeName(type)} frame has flags ${data[offset + 5]} (must be 0)`);
    if (data.readUInt16LE(offset + 6) !== 0) throw new ProtocolError(`${frameTypeName(type)} frame has non-zero reserved bits`);
    if (length > this.maxPayload) {
      throw new ProtocolError(`${frameTypeName(type)} frame of ${length} bytes exceeds the limit of ${this.maxPayload}`);
    }
    if (length < minPayload) throw new ProtocolError(`${frameTypeName(type)} frame of ${length} bytes is shorter than ${minPayload}`);
    if (data.readUInt32LE(offset + 12) > MAX_ID_HIGH) {
      throw new ProtocolError(`${frameTypeName(type)} frame has id ${data.readBigUInt64LE(offset + 8)}, over the largest id a peer can echo exactly (2^53 - 1)`);
    }
    return length;
  }
}
