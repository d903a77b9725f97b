// What every fuzz target provides. A target feeds one input to the code under test and
// checks the documented outcome: the input is decoded (returns 'ok') or refused with the
// documented, typed error (returns 'refused'). Anything else it throws, and the fuzzer
// records that input as a crash: an error of the wrong kind, an error without a message, a
// decoded value that breaks an invariant.
import { HearthError, type ErrorCode } from '../../../shared/errors.js';

export type Outcome = 'ok' | 'refused';

export interface FuzzTarget {
  /** Valid inputs that start the corpus, made with the code's own encoders where it has them. */
  seeds(): Buffer[];
  /** Feeds one input. */
  run(data: Buffer): Outcome | Promise<Outcome>;
  /** Words the mutator inserts: field names, tokens, magic numbers. */
  dictionary?: readonly string[];
  /** Inputs are JSON documents (the mutator then also edits the parsed document). */
  json?: boolean;
  /** Bytes before the JSON document (a selector) that JSON edits keep. */
  jsonPrefix?: number;
  maxLength: number;
  /** Started once per process before the first input, stopped after the last (servers). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

/** The outcome broke the contract. */
export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * 'refused' when `error` is one of the documented kinds and says what is wrong; otherwise
 * the error goes on to the fuzzer as a crash.
 */
export function refusedWith(error: unknown, ...kinds: ErrorClass[]): 'refused' {
  if (!kinds.some((kind) => error instanceof kind)) throw error;
  if ((error as Error).message.trim() === '') throw new ContractViolation(`a ${(error as Error).name} without a message`);
  return 'refused';
}

export function check(condition: boolean, what: string): void {
  if (!condition) throw new ContractViolation(what);
}

/** 'refused' when `error` is a HearthError with one of these codes and a message; otherwise a crash. */
export function refusedWithCode(error: unknown, ...codes: ErrorCode[]): 'refused' {
  refusedWith(error, HearthError);
  const code = (error as HearthError).code;
  if (!codes.includes(code)) throw new ContractViolation(`refused with ${code}, documented: ${codes.join(' or ')} (${(error as Error).message})`);
  return 'refused';
}
