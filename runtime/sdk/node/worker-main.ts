// The process every Node worker and stem cell runs: map the state, load the function's
// module, say READY, then answer INVOKE frames until told to stop. PROTOCOL.md in
// runtime/ipc is the contract. Bundled into worker.cjs at build time.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as native from '../../../native/index.js';
import { internal, type Handler } from './index.js';
import { InvokeLoop } from './loop.js';
import { awaitSpecialisation, warmUp } from './stem.js';

const IPC_FD = intFromEnv('HEARTH_IPC_FD', 3);
/** The runtime, read at start: a stem cell's parent-death signal is armed for it again after its ids change. */
const RUNTIME_PID = process.ppid;

// Timing test mode (HEARTH_SDK_TIMING=1): the SDK's own CLOCK_MONOTONIC readings (hrtime is
// that clock) at start, and from the state-mapped and ready markers (the addon reads the clock
// just before each), printed on one stderr line for tests to compare with the agent's probes
// on the same calls. For a stem cell, "main" is the specialisation.
interface Clock {
  main: bigint;
  state: number;
}
const startClock = (env: NodeJS.ProcessEnv | Record<string, string>): Clock | undefined =>
  env['HEARTH_SDK_TIMING'] === '1' ? { main: process.hrtime.bigint(), state: 0 } : undefined;
let stateMappedAt = 0;
let clock = startClock(process.env);

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
  const buffer = native.mapState(fd, size, { populate: process.env['HEARTH_STATE_POPULATE'] === '1' });
  internal.setState(buffer);
  stateMappedAt = native.markStateMapped(size);
}

/** CommonJS entries are required (no ES loader to start); ES modules are imported. */
async function loadModule(entry: string): Promise<{ handler?: unknown; default?: unknown }> {
  if (entry.endsWith('.mjs')) return import(pathToFileURL(entry).href);
  try {
    return createRequire(entry)(entry) as { handler?: unknown; default?: unknown };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw error;
    return import(pathToFileURL(entry).href);
  }
}

async function loadHandler(entry: string | undefined): Promise<Handler> {
  if (entry === undefined || entry === '') fail('HEARTH_ENTRY is not set');
  const module = await loadModule(entry);
  const handler = internal.registeredHandler() ?? module.handler ?? module.default;
  if (typeof handler !== 'function') {
    fail(`${entry} provides no handler: export a function named handler (or a default export), or call serve(handler)`);
  }
  return handler as Handler;
}

async function main(): Promise<void> {
  native.hideFromSiblings();
  if (process.env['HEARTH_ROLE'] === 'stem') {
    await warmUp();
    const specialisation = awaitSpecialisation(IPC_FD, fail);
    clock = startClock(specialisation.env);
    try {
      native.enterSandbox(specialisation.sandbox, RUNTIME_PID);
    } catch (error) {
      fail(`entering the worker sandbox: ${(error as Error).message}`);
    }
    Object.assign(process.env, specialisation.env);
    process.env['HEARTH_ENTRY'] = specialisation.entry;
    if (specialisation.stateFd >= 0) {
      mapState(specialisation.stateFd, specialisation.stateSize);
      fs.closeSync(specialisation.stateFd);
    }
  } else if (process.env['HEARTH_STATE_FD'] !== undefined) {
    mapState(intFromEnv('HEARTH_STATE_FD'), intFromEnv('HEARTH_STATE_SIZE'));
  }
  if (clock !== undefined) clock.state = stateMappedAt;
  const loop = new InvokeLoop(IPC_FD, await loadHandler(process.env['HEARTH_ENTRY']), {
    markers: true,
    stopped: () => process.exit(0),
    closed: (stopping) => process.exit(stopping ? 0 : 1),
    protocolError: (error) => fail(`bad frame from the runtime: ${error.message}`),
  });
  process.on('SIGTERM', () => loop.stop());
  const readyAt = loop.ready();
  if (clock !== undefined) process.stderr.write(`hearth-sdk-timing main=${clock.main} state=${clock.state} ready=${readyAt}\n`);
}


void main();
