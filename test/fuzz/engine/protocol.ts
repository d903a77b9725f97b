// What the fuzzing thread and its watcher share: options in, messages out, and the input
// being run in shared memory (so a hang can be saved even though its thread never returns).
import type { CoverageFigures } from './coverage.js';
import type { Outcome } from '../targets/target.js';

export interface WorkerOptions {
  targetModule: string;
  instrumentFiles: string[];
  seconds: number;
  maxExecs: number;
  seed: number;
  /** Saved corpus and regression inputs, run after the target's seeds. */
  initial: Uint8Array[];
  /** Int32Array[0]: executions started. */
  progress: SharedArrayBuffer;
  /** Int32Array[0]: length, then the bytes of the input being run. */
  current: SharedArrayBuffer;
}

export interface CrashReport {
  kind: 'crash' | 'hang' | 'out-of-memory';
  signature: string;
  message: string;
  stack: string;
  input: Buffer;
  count: number;
}

export type WorkerMessage =
  | { type: 'progress'; execs: number; corpus: number; coverage: CoverageFigures }
  | { type: 'crash'; crash: CrashReport }
  | { type: 'done'; execs: number; outcomes: Record<Outcome, number>; coverage: CoverageFigures; corpus: Buffer[]; initialCorpus: number; added: number }
  | { type: 'fatal'; message: string };

export function currentBuffer(maxLength: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 + maxLength);
}

export function writeCurrent(shared: SharedArrayBuffer, input: Buffer): void {
  const length = Math.min(input.length, shared.byteLength - 4);
  new Int32Array(shared, 0, 1)[0] = length;
  new Uint8Array(shared, 4, length).set(input.subarray(0, length));
}

export function readCurrent(shared: SharedArrayBuffer): Buffer {
  const length = new Int32Array(shared, 0, 1)[0]!;
  return Buffer.from(new Uint8Array(shared, 4, length));
}
