// Every error Hearth reports to a user carries a stable code from this table.
// docs/errors.md lists the same codes; test/unit/errors.test.ts keeps the two in sync.
// A retired code is never reused.

export const ERROR_CODES = {
  HEARTH_ERR_MANIFEST_READ: { status: 400, summary: 'the manifest file could not be read' },
  HEARTH_ERR_MANIFEST_INVALID: { status: 400, summary: 'a manifest field is missing or has a bad value' },
  HEARTH_ERR_FUNCTION_NOT_FOUND: { status: 404, summary: 'no function with that name is deployed' },
  HEARTH_ERR_BAD_REQUEST: { status: 400, summary: 'the request is malformed' },
  HEARTH_ERR_BODY_TOO_LARGE: { status: 413, summary: 'the request body is larger than the limit' },
  HEARTH_ERR_UNAUTHORIZED: { status: 401, summary: 'the control API needs a valid bearer token' },
  HEARTH_ERR_NOT_FOUND: { status: 404, summary: 'no such route' },
  HEARTH_ERR_METHOD_NOT_ALLOWED: { status: 405, summary: 'the route does not accept that method' },
  HEARTH_ERR_QUEUE_FULL: { status: 429, summary: 'the function\'s queue is full' },
  HEARTH_ERR_QUEUE_TIMEOUT: { status: 503, summary: 'no worker became free before the request\'s deadline' },
  HEARTH_ERR_UNAVAILABLE: { status: 503, summary: 'the function cannot start workers right now' },
  HEARTH_ERR_SHUTTING_DOWN: { status: 503, summary: 'the runtime is shutting down' },
  HEARTH_ERR_INVOKE_TIMEOUT: { status: 504, summary: 'the invocation ran past its timeout' },
  HEARTH_ERR_WORKER_CRASHED: { status: 502, summary: 'the worker died while handling the request' },
  HEARTH_ERR_WORKER_PROTOCOL: { status: 502, summary: 'the worker broke the IPC protocol and was killed' },
  HEARTH_ERR_WORKER_OOM: { status: 502, summary: 'the worker exceeded its memory limit and was killed' },
  HEARTH_ERR_HANDLER: { status: 500, summary: 'the function\'s handler returned an error' },
  HEARTH_ERR_SPAWN: { status: 503, summary: 'a worker process could not be started' },
  HEARTH_ERR_WORKER_START: { status: 503, summary: 'a worker exited or timed out before it was ready' },
  HEARTH_ERR_STATE_READ: { status: 400, summary: 'the state file could not be read' },
  HEARTH_ERR_STATE_CHANGED: { status: 409, summary: 'the state file changed while it was being imported' },
  HEARTH_ERR_STATE_TOO_LARGE: { status: 413, summary: 'the state is larger than the store allows' },
  HEARTH_ERR_STATE_NO_SPACE: { status: 507, summary: 'the state store has no room for the state' },
  HEARTH_ERR_BUILD: { status: 400, summary: 'the function\'s code could not be built' },
  HEARTH_ERR_CONTROL: { status: 502, summary: 'a worker did not accept a control request' },
  HEARTH_ERR_NOT_SUPPORTED: { status: 501, summary: 'the host lacks a feature this needs' },
  HEARTH_ERR_INTERNAL: { status: 500, summary: 'an unexpected failure inside the runtime' },
  HEARTH_ERR_RATE_LIMITED: { status: 429, summary: 'the client sent more requests than its rate limit allows' },
  HEARTH_ERR_PROFILE_BUSY: { status: 409, summary: 'a profiling run with a tool is already under way for the function' },
  HEARTH_ERR_PROFILE_TOOL: { status: 500, summary: 'a profiling tool failed to collect or process its data' },
  HEARTH_ERR_ISOLATION: { status: 400, summary: 'a function\'s workers cannot run as its isolation asks: an unknown user or group, a user the runtime cannot switch to, or code that user cannot read' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HearthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra machine-readable facts (field, file, function, ...) that the API returns beside the message. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HearthError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details ?? {};
  }

  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** One "not supported" error that says what the host lacks and what would provide it. */
export class NotSupportedError extends HearthError {
  constructor(readonly feature: string, readonly needs: string) {
    super('HEARTH_ERR_NOT_SUPPORTED', `${feature} is not supported here: needs ${needs}`, { details: { feature, needs } });
  }
}

export function isHearthError(value: unknown): value is HearthError {
  return value instanceof HearthError;
}

/** Wraps anything thrown into a HearthError, keeping HearthErrors as they are. */
export function asHearthError(value: unknown, code: ErrorCode = 'HEARTH_ERR_INTERNAL'): HearthError {
  if (value instanceof HearthError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new HearthError(code, message, { cause: value });
}

/** The HearthError an API answered with (its JSON body `{"error": {"code", "message"}}`), for clients. */
export function errorFrom(parsed: unknown, status: number): HearthError {
  const error = (parsed as { error?: { code?: string; message?: string } }).error;
  const code = error?.code !== undefined && error.code in ERROR_CODES ? (error.code as ErrorCode) : 'HEARTH_ERR_INTERNAL';
  return new HearthError(code, error?.message ?? `HTTP ${status}`);
}

export function errnoCode(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && 'code' in value && typeof value.code === 'string') return value.code;
  return undefined;
}
