// The IPC frame codec: round trips, reads split anywhere, and every rule of PROTOCOL.md.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import {
  decodeInvoke,
  decodeReady,
  decodeWorkerError,
  encodeFrame,
  encodeHeader,
  encodeInvokePrefix,
  encodeReadyPayload,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  ProtocolError,
  type Frame,
} from '../../runtime/ipc/frame.js';

function decodeAll(bytes: Buffer, splits: number[], maxPayload = 1 << 20): Frame[] {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(maxPayload, (frame) => frames.push({ ...frame, payload: Buffer.from(frame.payload) }));
  let offset = 0;
  for (const split of [...splits, bytes.length]) {
    decoder.push(bytes.subarray(offset, split));
    offset = split;
  }
  return frames;
}

test('frames round-trip, whole or split at every byte', () => {
  const stream = Buffer.concat([
    encodeFrame(FrameType.READY, 0, encodeReadyPayload({ role: 0, pid: 1234, sdk: 'go/1.0.0' })),
    encodeFrame(FrameType.INVOKE, 2 ** 40 + 7, Buffer.concat([encodeInvokePrefix(1500), Buffer.from('body')])),
    encodeFrame(FrameType.RESULT, 9),
    encodeFrame(FrameType.SHUTDOWN, 0),
  ]);
  for (let split = 0; split <= stream.length; split++) {
    const frames = decodeAll(stream, [split]);
    assert.equal(frames.length, 4, `split at ${split}`);
    assert.deepEqual(decodeReady(frames[0]!.payload), { version: 1, role: 0, pid: 1234, sdk: 'go/1.0.0' });
    assert.equal(frames[1]!.id, 2 ** 40 + 7);
    const invoke = decodeInvoke(frames[1]!.payload);
    assert.equal(invoke.timeoutMs, 1500);
    assert.equal(invoke.body.toString(), 'body');
    assert.equal(frames[2]!.type, FrameType.RESULT);
    assert.equal(frames[2]!.payload.length, 0);
  }
  const byteByByte = decodeAll(stream, Array.from({ length: stream.length }, (_, index) => index));
  assert.equal(byteByByte.length, 4);
});

test('a large frame spread over many chunks arrives whole', () => {
  const payload = Buffer.alloc(300_000, 7);
  const frame = encodeFrame(FrameType.RESULT, 1, payload);
  const splits = Array.from({ length: 100 }, (_, index) => (index + 1) * 3000);
  const [decoded] = decodeAll(frame, splits);
  assert.deepEqual(decoded!.payload, payload);
});

for (const [name, bytes, message] of [
  ['unknown type', Buffer.from([0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /unknown frame type 99/],
  ['garbage', Buffer.alloc(16, 0xff), /unknown frame type 255/],
  ['non-zero flags', Buffer.from([0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /flags 1/],
  ['reserved bits', Buffer.from([0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /reserved/],
  ['too short for READY', encodeFrame(FrameType.READY, 0, Buffer.alloc(4)), /shorter than 8/],
  ['over the limit', encodeHeader(FrameType.RESULT, 1, (1 << 20) + 1), /exceeds the limit of 1048576/],
] as const) {
  test(`a frame with ${name} is a ProtocolError, raised as soon as the header is in`, () => {
    assert.throws(() => decodeAll(bytes, []), (error: Error) => error instanceof ProtocolError && message.test(error.message));
  });
}

test('INVOKE with a non-zero reserved field, and malformed ERROR payloads, are refused', () => {
  const bad = Buffer.alloc(8);
  bad.writeUInt32LE(1, 4);
  assert.throws(() => decodeInvoke(bad), ProtocolError);
  assert.throws(() => decodeWorkerError(Buffer.from('not json')), ProtocolError);
  assert.throws(() => decodeWorkerError(Buffer.from('"a string"')), ProtocolError);
  assert.deepEqual(decodeWorkerError(Buffer.from('{"errorType":"E","errorMessage":"m","stackTrace":"s"}')), { errorType: 'E', errorMessage: 'm', stackTrace: 's' });
  assert.deepEqual(decodeWorkerError(Buffer.from('{}')), { errorType: 'Error', errorMessage: 'handler failed without a message' });
});

test('the header layout matches PROTOCOL.md byte for byte', () => {
  const header = encodeHeader(FrameType.INVOKE, 0x0102030405, 0x0a0b0c0d);
  assert.equal(header.length, HEADER_SIZE);
  assert.deepEqual([...header], [0x0d, 0x0c, 0x0b, 0x0a, 2, 0, 0, 0, 0x05, 0x04, 0x03, 0x02, 0x01, 0, 0, 0]);
  assert.equal(encodeInvokePrefix(-5).readUInt32LE(0), 0, 'a passed deadline is 0 ms, not negative');
});

test.run();
