// Decodes struct hearth_event records from the ring buffer. Mirrors bpf/coldstart.h
// (offsets in the comments there); a change to one is a change to both.

export const EventType = {
  FORK: 1,
  EXEC: 2,
  EXIT: 3,
  STATE_MMAP: 4,
  IPC_WRITE: 5,
  MARK: 6,
  OOM: 7,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

export const Marker = {
  GO_RUNTIME_MAIN: 1,
  GO_INIT: 2,
  GO_MAIN_MAIN: 3,
  NODE_ENV: 4,
  STATE_MAPPED: 5,
  READY: 6,
  INVOKE_START: 7,
  INVOKE_END: 8,
  NODE_MAIN: 9,
} as const;
export type Marker = (typeof Marker)[keyof typeof Marker];

/** A uprobe's cookie: its marker in the low bits, flags above (bpf/coldstart.h, HEARTH_COOKIE_*). */
export const COOKIE_MARKER_MASK = 0xffff;
export const COOKIE_ONCE = 1 << 16;
export const COOKIE_GO_ABI = 1 << 17;

export const EVENT_SIZE = 64;

export interface KernelEvent {
  /** CLOCK_MONOTONIC nanoseconds. */
  ts: number;
  type: EventType;
  pid: number;
  ppid: number;
  tid: number;
  arg: number;
  arg2: number;
  cookie: number;
  comm: string;
}

export class EventDecodeError extends Error {
  override name = 'EventDecodeError';
}

/** Reads one record; throws EventDecodeError for a record that cannot be one of ours. */
export function decodeEvent(data: Buffer, offset: number, length: number): KernelEvent {
  if (length < EVENT_SIZE) throw new EventDecodeError(`ring buffer record of ${length} bytes is shorter than an event (${EVENT_SIZE})`);
  if (offset < 0 || offset + EVENT_SIZE > data.length) throw new EventDecodeError(`ring buffer record at ${offset} runs past the end of the data (${data.length} bytes)`);
  const type = data.readUInt32LE(offset + 8);
  if (type < EventType.FORK || type > EventType.OOM) throw new EventDecodeError(`unknown event type ${type}`);
  const commEnd = data.indexOf(0, offset + 48);
  const comm = data.toString('latin1', offset + 48, commEnd < 0 || commEnd > offset + 64 ? offset + 64 : commEnd);
  return {
    ts: Number(data.readBigUInt64LE(offset)),
    type: type as EventType,
    pid: data.readUInt32LE(offset + 12),
    ppid: data.readUInt32LE(offset + 16),
    tid: data.readUInt32LE(offset + 20),
    arg: Number(data.readBigUInt64LE(offset + 24)),
    arg2: Number(data.readBigUInt64LE(offset + 32)),
    cookie: data.readUInt32LE(offset + 40),
    comm,
  };
}

/** The inverse, for tests of the decoder and the phase tracker. */
export function encodeEvent(event: KernelEvent): Buffer {
  const data = Buffer.alloc(EVENT_SIZE);
  data.writeBigUInt64LE(BigInt(event.ts), 0);
  data.writeUInt32LE(event.type, 8);
  data.writeUInt32LE(event.pid, 12);
  data.writeUInt32LE(event.ppid, 16);
  data.writeUInt32LE(event.tid, 20);
  data.writeBigUInt64LE(BigInt(event.arg), 24);
  data.writeBigUInt64LE(BigInt(event.arg2), 32);
  data.writeUInt32LE(event.cookie, 40);
  data.write(event.comm.slice(0, 15), 48, 'latin1');
  return data;
}

/** Wait status as the kernel stores it in task->exit_code. */
export function decodeExitStatus(status: number): { code: number | null; signal: number | null } {
  const signal = status & 0x7f;
  return signal === 0 ? { code: (status >> 8) & 0xff, signal: null } : { code: null, signal };
}
