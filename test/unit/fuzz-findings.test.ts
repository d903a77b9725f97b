// What fuzzing found, each pinned with the error it must now give (the inputs themselves are
// replayed by fuzz-corpus.test.ts): clear, typed, naming what is wrong.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'uvu';
import { decodeEvent, EventDecodeError } from '../../agent/probes/events.js';
import { parseAckBody } from '../../runtime/api/control.js';
import { encodeFrame, encodeHeader, FrameDecoder, FrameType, ProtocolError } from '../../runtime/ipc/frame.js';
import { parseManifest } from '../../runtime/manifest/parse.js';
import { parseToolProfileRequest } from '../../runtime/profile-tools/request.js';
import { InvokeLoop } from '../../runtime/sdk/node/loop.js';
import { decodeSpecialisation } from '../../runtime/sdk/node/stem.js';
import { HearthError } from '../../shared/errors.js';
import { parseRuntimeEvent, RuntimeEventError } from '../../shared/events.js';
import { LineSplitter } from '../../shared/ndjson.js';

const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

test('a frame id over 2^53 - 1 is a ProtocolError that names it; 2^53 - 1 is decoded', () => {
  const header = encodeHeader(FrameType.RESULT, 0, 0);
  header.writeBigUInt64LE(2n ** 53n, 8);
  assert.throws(() => new FrameDecoder(1024, () => undefined).push(header), (error: Error) => error instanceof ProtocolError && /id 9007199254740992, over the largest id/.test(error.message));
  const ids: number[] = [];
  new FrameDecoder(1024, (frame) => ids.push(frame.id)).push(encodeFrame(FrameType.RESULT, Number.MAX_SAFE_INTEGER));
  assert.deepEqual(ids, [Number.MAX_SAFE_INTEGER]);
});

test('a frame whose header arrives a byte at a time, then its payload in 20,000 pieces, arrives once', () => {
  const frame = encodeFrame(FrameType.RESULT, 3, Buffer.alloc(20_000, 9));
  const frames: number[] = [];
  const decoder = new FrameDecoder(1 << 20, (decoded) => frames.push(decoded.payload.length));
  for (let offset = 0; offset < frame.length; offset++) decoder.push(frame.subarray(offset, offset + 1));
  assert.deepEqual(frames, [20_000]);
});

test('the Node SDK closes its channel with a ProtocolError on a frame type the runtime may not send', () => {
  const errors: unknown[] = [];
  const socket = new Duplex({ read() {}, write: (_chunk, _encoding, callback) => callback() });
  const loop = new InvokeLoop(socket, () => 'x', { markers: false, stopped: () => undefined, closed: () => undefined, protocolError: (error) => errors.push(error) });
  socket.emit('data', encodeFrame(FrameType.RESULT, 1));
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolError && /may not send RESULT/.test(errors[0].message), String(errors[0]));
  assert.equal(loop.channel.isOpen, false);
});

test('a stem cell refuses a SPECIALISE that is not JSON or lacks a field, naming it', () => {
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const specialise = (payload: string): Buffer => encodeFrame(FrameType.SPECIALISE, 0, Buffer.from(payload));
  assert.throws(() => decodeSpecialisation(specialise('{"entry":'), fail), /bad SPECIALISE from the runtime: SPECIALISE payload is not JSON/);
  assert.throws(() => decodeSpecialisation(specialise('null'), fail), /SPECIALISE payload is not a JSON object/);
  assert.throws(() => decodeSpecialisation(specialise('{"entry":"/a.js","env":{"A":1},"stateSize":0}'), fail), /env\.A must be a string \(got 1\)/);
  assert.throws(() => decodeSpecialisation(specialise('{"entry":"/a.js","env":{},"stateSize":-1,"sandbox":{}}'), fail), /stateSize must be a non-negative integer/);
  assert.throws(() => decodeSpecialisation(specialise('{"entry":"/a.js","env":{},"stateSize":0}'), fail), /SPECIALISE sandbox must be an object \(got undefined\)/);
  assert.throws(() => decodeSpecialisation(specialise('{"entry":"/a.js","env":{},"stateSize":0,"sandbox":{"uid":-1}}'), fail), /SPECIALISE sandbox\.uid must be an integer from 0 to 2\^32 - 1 \(got -1\)/);
  assert.throws(() => decodeSpecialisation(specialise('{"entry":"/a.js","env":{},"stateSize":0,"sandbox":{"caps":1}}'), fail), /SPECIALISE sandbox\.caps is not a sandbox field/);
  assert.deepEqual(decodeSpecialisation(specialise('{"entry":"/a.js","env":{"A":"b"},"stateSize":4,"sandbox":{"uid":1900000001,"gid":1900000001}}'), fail), { entry: '/a.js', env: { A: 'b' }, sandbox: { uid: 1900000001, gid: 1900000001 }, stateSize: 4 });
});

test('a deeply nested value is refused with the field it is in, not a stack overflow', () => {
  const manifest = `{"functions":[{"name":"a","kind":${deep(6000)},"entry":"/a"}]}`;
  assert.throws(() => parseManifest(manifest, { label: 'hearth.json' }), (error: Error) => error instanceof HearthError && error.message === 'hearth.json: functions[0].kind: must be a non-empty string (got an array nested too deeply to show)');
  assert.throws(() => parseAckBody(JSON.parse(`{"seq":${deep(6000)}}`)), (error: Error) => error instanceof HearthError && error.code === 'HEARTH_ERR_BAD_REQUEST' && /seq must be/.test(error.message));
  assert.throws(() => parseToolProfileRequest(JSON.parse(`{"tool":"0x","seconds":5,"load":${deep(6000)}}`)), (error: Error) => error instanceof HearthError && /load: must be a string/.test(error.message));
});

test('an environment variable named __proto__ reaches the worker', () => {
  const [spec] = parseManifest('{"functions":[{"name":"a","kind":"exec","entry":"/a","env":{"__proto__":"x","B":"y"}}]}', { label: 'hearth.json' });
  assert.deepEqual(Object.entries(spec!.env), [['__proto__', 'x'], ['B', 'y']]);
  assert.deepEqual(Object.entries({ ...spec!.env }), [['__proto__', 'x'], ['B', 'y']]);
});

test('a ring-buffer record that runs past its data is an EventDecodeError', () => {
  assert.throws(() => decodeEvent(Buffer.alloc(40), 0, 64), (error: Error) => error instanceof EventDecodeError && /runs past the end of the data \(40 bytes\)/.test(error.message));
});

test('a line of the event stream that is not an event is refused by name', () => {
  assert.throws(() => parseRuntimeEvent('null'), (error: Error) => error instanceof RuntimeEventError && /not a JSON object/.test(error.message));
  assert.throws(() => parseRuntimeEvent('5'), RuntimeEventError);
  assert.throws(() => parseRuntimeEvent('{"type":"worker_spawned","seq":4,"ts":1,"function":"f","workerId":1,"binary":"/b","origin":"seed"}'), /worker_spawned 4: pid must be number/);
  assert.throws(() => parseRuntimeEvent('{"type":"nope","seq":1,"ts":1}'), /unknown event type "nope"/);
  const ok = parseRuntimeEvent('{"type":"function_removed","seq":2,"ts":3,"function":"f"}');
  assert.equal(ok.seq, 2);
  assert.throws(() => new LineSplitter(10).push('x'.repeat(11)), /more than 10 characters/);
});

test.run();
