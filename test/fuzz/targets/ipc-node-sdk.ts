// The Node SDK's side of the worker protocol: bytes from the runtime, read by the SDK's
// InvokeLoop (INVOKE, CONTROL, SHUTDOWN) over an in-memory stream, or, for a stem cell, by
// decodeSpecialisation (the SPECIALISE message). Documented outcome (PROTOCOL.md): every
// INVOKE is answered, every CONTROL replied to; a bad frame is a ProtocolError (the worker
// exits with it), a bad SPECIALISE a clear message before the stem cell exits.
import { Duplex } from 'node:stream';
import { encodeFrame, encodeInvokePrefix, FrameType, ProtocolError } from '../../../runtime/ipc/frame.js';
import { InvokeLoop } from '../../../runtime/sdk/node/loop.js';
import { decodeSpecialisation } from '../../../runtime/sdk/node/stem.js';
import { check, ContractViolation, refusedWith, type FuzzTarget } from './target.js';

/** What a stem cell does when it must give up: print the message and exit. */
class StemCellExit extends Error {
  override name = 'StemCellExit';
}

function runWorker(stream: Buffer): 'ok' | 'refused' {
  let protocolError: unknown;
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const loop = new InvokeLoop(socket, (request) => request, {
    markers: false,
    stopped: () => undefined,
    closed: () => undefined,
    protocolError: (error) => {
      protocolError ??= error;
    },
  });
  for (let offset = 0; offset < stream.length && loop.channel.isOpen; offset += 7) socket.emit('data', stream.subarray(offset, offset + 7));
  if (protocolError === undefined) return 'ok';
  refusedWith(protocolError, ProtocolError);
  check(!loop.channel.isOpen, `the channel stays open after a protocol error (${(protocolError as Error).message})`);
  return 'refused';
}

function runStemCell(stream: Buffer): 'ok' | 'refused' {
  const fail = (message: string): never => {
    if (message.trim() === '') throw new ContractViolation('a stem cell gave up without saying why');
    throw new StemCellExit(message);
  };
  try {
    const message = decodeSpecialisation(stream, fail);
    if (message === undefined || message === 'shutdown') return 'ok';
    check(typeof message.entry === 'string' && message.entry !== '', `SPECIALISE accepted with entry ${JSON.stringify(message.entry)}`);
    check(typeof message.env === 'object' && message.env !== null && Object.values(message.env).every((value) => typeof value === 'string'), 'SPECIALISE accepted with an env that is not strings');
    check(Number.isSafeInteger(message.stateSize) && message.stateSize >= 0, `SPECIALISE accepted with stateSize ${JSON.stringify(message.stateSize)}`);
    check(Object.values(message.sandbox).every((id) => Number.isSafeInteger(id) && id! >= 0 && id! <= 0xffff_ffff), `SPECIALISE accepted with sandbox ${JSON.stringify(message.sandbox)}`);
    return 'ok';
  } catch (error) {
    return refusedWith(error, StemCellExit);
  }
}

export const target: FuzzTarget = {
  maxLength: 8192,
  dictionary: ['{"op":"stats"}', '{"op":"gc","gogc":50}', '"op"', '"entry"', '"env"', '"stateSize"', '"stateId"', '"concurrency"', '"function"', '"sandbox"', '"uid"', '"gid"', '"nproc"', '"/tmp/fn.js"', '{}', '\u0002\u0000\u0000\u0000'],
  seeds() {
    const invoke = encodeFrame(FrameType.INVOKE, 1, Buffer.concat([encodeInvokePrefix(1000), Buffer.from('ping')]));
    const control = encodeFrame(FrameType.CONTROL, 2, Buffer.from('{"op":"stats"}'));
    const gc = encodeFrame(FrameType.CONTROL, 3, Buffer.from('{"op":"gc","gogc":50}'));
    const shutdown = encodeFrame(FrameType.SHUTDOWN, 0);
    const specialise = encodeFrame(FrameType.SPECIALISE, 0, Buffer.from(JSON.stringify({ function: 'upper', entry: '/srv/fn/index.js', env: { LOG_LEVEL: 'info' }, stateSize: 4096, stateId: 'ab12', concurrency: 1, sandbox: { uid: 1900000001, gid: 1900000001 } })));
    return [Buffer.concat([Buffer.from([0]), invoke, control, gc, invoke, shutdown]), Buffer.concat([Buffer.from([1]), specialise]), Buffer.concat([Buffer.from([1]), shutdown])];
  },
  run(data) {
    if (data.length === 0) return 'ok';
    return data[0]! % 2 === 0 ? runWorker(data.subarray(1)) : runStemCell(data.subarray(1));
  },
};
