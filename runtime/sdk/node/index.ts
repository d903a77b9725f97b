// Hearth's Node.js worker SDK. A function is a module that exports a handler:
//
//   import type { Handler } from 'hearth/sdk';
//   export const handler: Handler = async (request, context) => { ... };
//
// (`export default` works too, as does calling `serve(handler)` while the module loads.)
// The runtime starts the worker, maps the function's state, and calls the handler once
// per invocation. The state is a read-only, zero-copy view of shared memory.

export interface InvocationContext {
  /** The runtime's id for this invocation (also in the response's x-hearth-invocation header). */
  readonly id: number;
  /** Date.now() value by which the runtime stops waiting for an answer. */
  readonly deadline: number;
  /** Aborts at the deadline. */
  readonly signal: AbortSignal;
  /** Milliseconds left before the deadline. */
  remainingMs(): number;
}

/** What a handler may return: bytes as they are, a string as UTF-8, anything else as JSON. */
export type HandlerResult = Uint8Array | string | number | boolean | object | null | undefined;

export type Handler = (request: Buffer, context: InvocationContext) => HandlerResult | Promise<HandlerResult>;

// The worker runs a bundled copy of this module while functions import the package's copy;
// both keep their state in one process-wide slot, so either copy sees what the other set.
interface Slot {
  handler: Handler | undefined;
  state: SharedArrayBuffer | undefined;
}
const SLOT = Symbol.for('hearth.sdk.v1');
const slot: Slot = ((globalThis as Record<symbol, unknown>)[SLOT] as Slot | undefined) ?? ((globalThis as Record<symbol, unknown>)[SLOT] = { handler: undefined, state: undefined } as Slot);

/** Registers the function's handler (for modules that prefer a call over an export). */
export function serve(handler: Handler): void {
  if (typeof handler !== 'function') throw new TypeError('serve(handler): handler must be a function');
  slot.handler = handler;
}

/**
 * The function's state: a read-only SharedArrayBuffer over the shared mapping (writing to
 * it faults), or undefined when the function has none. Wrap it in the view you need,
 * e.g. `new DataView(state())` or `Buffer.from(state(), offset, length)`; nothing is copied.
 */
export function state(): SharedArrayBuffer | undefined {
  return slot.state;
}

/** Internal: used by the worker bootstrap. */
export const internal = {
  setState(buffer: SharedArrayBuffer | undefined): void {
    slot.state = buffer;
  },
  registeredHandler(): Handler | undefined {
    return slot.handler;
  },
};
