import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as native from '../../../native/index.js';
import { Channel } from '../../ipc/channel.js';
import { decodeJsonPayload, encodeFrame, encodeInvokePrefix, encodeReadyPayload, FrameType, frameTypeName, HEADER_SIZE, MAX_PAYLOAD, ProtocolError, WorkerRole } from '../../ipc/frame.js';
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
  const requireHere = createRequire(hereUrl);
  requireHere('./index.cjs');
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
  // Functions require the SDK by package name. V8 compiles a regular expression to machine code
  // on its second use, so resolving twice leaves the exports matching compiled and package.json cached.
  for (let round = 0; round < 2; round++) requireHere.resolve('hearth/sdk');
  collectGarbage(requireHere);
}

/**
 * A full collection now, while nothing waits: the warm-up leaves the young generation nearly
 * full, and a scavenge would otherwise fall inside the specialisation (about 1 ms here).
 * `gc` is exposed only to the context made for this call, then the flag is cleared. The
 * modules are loaded here, not at the top, so a worker started from scratch does not pay for them.
 */
function collectGarbage(requireHere: NodeRequire): void {
  const v8 = requireHere('node:v8') as typeof import('node:v8');
  const vm = requireHere('node:vm') as typeof import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  try {
    (vm.runInNewContext('gc') as () => void)();
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** A stem cell announces itself, then blocks until the runtime names its function. */
export function awaitSpecialisation(ipcFd: number, fail: (message: string) => never): Specialisation {
  fs.writeSync(ipcFd, encodeFrame(FrameType.READY, 0, encodeReadyPayload({ role: WorkerRole.STEM_CELL, pid: process.pid, sdk: SDK_NAME })));
  let received = Buffer.alloc(0);
  let stateFd = -1;
  for (;;) {
    const { data, fd } = native.recvWithFd(ipcFd, 1 << 20);
    if (fd >= 0) stateFd = fd;
    if (data.length === 0) process.exit(0);
    received = Buffer.concat([received, data]);
    if (received.length >= HEADER_SIZE && received.readUInt32LE(0) > MAX_PAYLOAD) fail('the runtime sent an oversized frame');
    const message = decodeSpecialisation(received, fail);
    if (message === 'shutdown') process.exit(0);
    if (message !== undefined) return { ...message, stateFd };
  }
}

/**
 * The first frame of what a stem cell has received: its SPECIALISE message, 'shutdown', or
 * undefined while incomplete. A frame that is neither, or a message with a missing or
 * mistyped field, ends the stem cell with a message naming what was wrong.
 */
export function decodeSpecialisation(received: Buffer, fail: (message: string) => never): Omit<Specialisation, 'stateFd'> | 'shutdown' | undefined {
  if (received.length < HEADER_SIZE || received.length < HEADER_SIZE + received.readUInt32LE(0)) return undefined;
  const type = received[4]!;
  if (type === FrameType.SHUTDOWN) return 'shutdown';
  if (type !== FrameType.SPECIALISE) fail(`expected SPECIALISE, got ${frameTypeName(type)}`);
  try {
    const message = decodeJsonPayload({ type, id: 0, payload: received.subarray(HEADER_SIZE, HEADER_SIZE + received.readUInt32LE(0)) });
    const { entry, env, stateSize, sandbox } = message;
    if (typeof entry !== 'string' || entry === '') throw new ProtocolError(`SPECIALISE entry must be a non-empty string (got ${JSON.stringify(entry)})`);
    if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new ProtocolError(`SPECIALISE env must be an object (got ${JSON.stringify(env)})`);
    for (const [name, value] of Object.entries(env)) {
      if (typeof value !== 'string') throw new ProtocolError(`SPECIALISE env.${name} must be a string (got ${JSON.stringify(value)})`);
    }
    if (!Number.isSafeInteger(stateSize) || (stateSize as number) < 0) throw new ProtocolError(`SPECIALISE stateSize must be a non-negative integer (got ${JSON.stringify(stateSize)})`);
    return { entry, env: env as Record<string, string>, sandbox: decodeSandboxIds(sandbox), stateSize: stateSize as number };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return fail(`bad SPECIALISE from the runtime: ${error.message}`);
  }
}

/** SPECIALISE's `sandbox`: the worker's uid, gid and RLIMIT_NPROC, each optional, each a u32. */
function decodeSandboxIds(sandbox: unknown): native.SandboxIds {
  if (typeof sandbox !== 'object' || sandbox === null || Array.isArray(sandbox)) throw new ProtocolError(`SPECIALISE sandbox must be an object (got ${JSON.stringify(sandbox)})`);
  const ids: native.SandboxIds = {};
  for (const [name, value] of Object.entries(sandbox)) {
    if (name !== 'uid' && name !== 'gid' && name !== 'nproc') throw new ProtocolError(`SPECIALISE sandbox.${name} is not a sandbox field (uid, gid, nproc)`);
    if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 0xffff_ffff) throw new ProtocolError(`SPECIALISE sandbox.${name} must be an integer from 0 to 2^32 - 1 (got ${JSON.stringify(value)})`);
    ids[name] = value as number;
  }
  return ids;
}
