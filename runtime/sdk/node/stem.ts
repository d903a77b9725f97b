import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as native from '../../../native/index.js';
import { Channel } from '../../ipc/channel.js';
import { encodeFrame, encodeInvokePrefix, encodeReadyPayload, FrameType, HEADER_SIZE, MAX_PAYLOAD, WorkerRole } from '../../ipc/frame.js';
import { InvokeLoop, SDK_NAME } from './loop.js';

export interface Specialisation {
  entry: string;
  env: Record<string, string>;
  /** The function's ids and limits, taken before its code loads (the filter is in place since the stem cell's start). */
  sandbox: native.SandboxIds;
  stateSize: number;
  /** The state fd that came with the message, or -1. */
  stateFd: number;
}

const WARM_UP_ROUNDS = 200;

// The URL of this code as it runs: dist/runtime/sdk/node/worker.cjs (a bundle) or stem.js beside index.js.
const hereUrl = import.meta.url;

/**
 * Runs the invoke path on a private socketpair before the stem cell says it is ready, so
 * that the code a cold start runs (the ES module loader, the frame codec, the channel, the
 * loop) is already loaded and compiled when the first real request arrives.
 */
export async function warmUp(): Promise<void> {
  // Functions load the SDK; loading both of its copies now leaves only resolution for later.
  await import(new URL('./index.js', hereUrl).href);
  createRequire(hereUrl)('./index.cjs');
  const [inner, outer] = native.socketpair();
  const replies = [(request: Buffer) => request, () => 'text', () => ({ json: true })];
  const loop = new InvokeLoop(inner, (request) => replies[request.length % replies.length]!(request), {
    markers: false,
    stopped: () => undefined,
    closed: () => undefined,
    protocolError: (error) => {
      throw error;
    },
  });
  let answered = 0;
  await new Promise<void>((resolve) => {
    const peer = new Channel(outer, MAX_PAYLOAD, {
      frame: () => {
        if (++answered < WARM_UP_ROUNDS) return;
        peer.close('warm-up done');
        resolve();
      },
      protocolError: (error) => {
        throw error;
      },
      closed: () => undefined,
    });
    for (let id = 1; id <= WARM_UP_ROUNDS; id++) peer.send(FrameType.INVOKE, id, encodeInvokePrefix(1000), Buffer.alloc(id % 7));
  });
  loop.channel.close('warm-up done');
  // Functions require the SDK by package name: resolve it once so the lookup is compiled and its package.json cached.
  createRequire(hereUrl).resolve('hearth/sdk');
}

/** A stem cell announces itself, then blocks until the runtime names its function. */
export function awaitSpecialisation(ipcFd: number, fail: (message: string) => never): Specialisation {
  fs.writeSync(ipcFd, encodeFrame(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.STEM_CELL, pid: process.pid, sdk: SDK_NAME })));
  let received = Buffer.alloc(0);
  let stateFd = -1;
  while (received.length < HEADER_SIZE || received.length < HEADER_SIZE + received.readUInt32LE(0)) {
    const { data, fd } = native.recvWithFd(ipcFd, 1 << 20);
    if (fd >= 0) stateFd = fd;
    if (data.length === 0) process.exit(0);
    received = Buffer.concat([received, data]);
    if (received.length >= HEADER_SIZE && received.readUInt32LE(0) > MAX_PAYLOAD) fail('the runtime sent an oversized frame');
  }
  const type = received[4];
  if (type === FrameType.SHUTDOWN) process.exit(0);
  if (type !== FrameType.SPECIALISE) fail(`expected SPECIALISE, got frame type ${type}`);
  const message = JSON.parse(received.toString('utf8', HEADER_SIZE, HEADER_SIZE + received.readUInt32LE(0))) as Omit<Specialisation, 'stateFd'>;
  return { entry: message.entry, env: message.env, sandbox: message.sandbox, stateSize: message.stateSize, stateFd };
}
