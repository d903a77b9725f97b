// The runtime's side of the worker protocol: bytes a worker writes on its channel, read in
// chunks of any size by FrameDecoder, each frame then decoded as runtime/supervisor/worker.ts
// does. Documented outcome (PROTOCOL.md, "Frames"): frames are delivered whole, or the
// stream is refused with a ProtocolError that names the problem.
import {
  decodeJsonPayload,
  decodeReady,
  decodeWorkerError,
  encodeFrame,
  encodeReadyPayload,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  ProtocolError,
  SUPPORTED_VERSIONS,
  WorkerRole,
  type Frame,
} from '../../../runtime/ipc/frame.js';
import { check, refusedWith, type FuzzTarget } from './target.js';

/** The runtime's own limit is lower than the protocol's; a small one lets the fuzzer reach it. */
const LIMIT = 4096;

/** Chunk sizes for one input: its first byte picks how the stream is cut. */
function chunks(stream: Buffer, pattern: number): Buffer[] {
  const out: Buffer[] = [];
  const step = pattern === 0 ? stream.length || 1 : pattern;
  for (let offset = 0, round = 0; offset < stream.length; round++) {
    const size = Math.max(1, (step * (round + 1)) % 37 || step);
    out.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

/** What the supervisor does with each frame a worker sends. */
function decodeFromWorker(frame: Frame): void {
  switch (frame.type) {
    case FrameType.READY: {
      const info = decodeReady(frame.payload);
      if (!SUPPORTED_VERSIONS.includes(info.version)) throw new ProtocolError(`speaks protocol version ${info.version}`);
      if (info.role !== WorkerRole.WORKER && info.role !== WorkerRole.STEM_CELL) throw new ProtocolError(`READY with unknown role ${info.role}`);
      check(typeof info.sdk === 'string' && info.sdk.length <= 256, 'READY: SDK name not bounded');
      return;
    }
    case FrameType.RESULT:
      return;
    case FrameType.ERROR: {
      const payload = decodeWorkerError(frame.payload);
      check(typeof payload.errorType === 'string' && typeof payload.errorMessage === 'string', 'ERROR: decoded fields are not strings');
      return;
    }
    case FrameType.CONTROL_REPLY:
      decodeJsonPayload(frame);
      return;
    default:
      throw new ProtocolError(`a worker may not send type ${frame.type}`);
  }
}

export const target: FuzzTarget = {
  maxLength: 8192,
  dictionary: ['{}', '{"errorType":"E","errorMessage":"m"}', '"errorType"', '"errorMessage"', '"stackTrace"', '"ok"', 'true', 'go/1.0.0', '\u0001\u0000', '\u00ff\u00ff\u00ff\u00ff'],
  seeds() {
    const ready = encodeFrame(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.WORKER, pid: 4242, sdk: 'go/1.0.0' }));
    const stem = encodeFrame(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.STEM_CELL, pid: 7, sdk: 'node/20' }));
    const result = encodeFrame(FrameType.RESULT, 1, Buffer.from('hello'));
    const error = encodeFrame(FrameType.ERROR, 2, Buffer.from('{"errorType":"TypeError","errorMessage":"boom","stackTrace":"at x"}'));
    const reply = encodeFrame(FrameType.CONTROL_REPLY, 3, Buffer.from('{"ok":true,"gogc":100}'));
    return [
      Buffer.concat([Buffer.from([0]), ready, result, error, reply]),
      Buffer.concat([Buffer.from([1]), stem]),
      Buffer.concat([Buffer.from([5]), ready, encodeFrame(FrameType.RESULT, 2 ** 40, Buffer.alloc(100, 1))]),
    ];
  },
  run(data) {
    if (data.length === 0) return 'ok';
    const stream = data.subarray(1);
    let consumed = 0;
    const decoder = new FrameDecoder(LIMIT, (frame) => {
      check(frame.payload.length <= LIMIT, `a frame of ${frame.payload.length} bytes passed the ${LIMIT}-byte limit`);
      consumed += HEADER_SIZE + frame.payload.length;
      decodeFromWorker(frame);
    });
    try {
      for (const chunk of chunks(stream, data[0]!)) decoder.push(chunk);
    } catch (error) {
      return refusedWith(error, ProtocolError);
    }
    check(consumed <= stream.length, `frames took ${consumed} bytes of ${stream.length}`);
    check(decoder.partial === consumed < stream.length, `${stream.length - consumed} bytes left over but partial is ${decoder.partial}`);
    return 'ok';
  },
};
