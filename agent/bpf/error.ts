// The one error type of agent/bpf: every failed libbpf or libc call surfaces as a BpfError that
// names the call, what it was called on, and the errno, so a log line alone is enough to act on.

export class BpfError extends Error {
  constructor(
    /** The C function that failed, e.g. "bpf_object__load". */
    readonly call: string,
    /** What it was called on: an object path, "object/program", "object/map", a binary path. */
    readonly subject: string,
    /** Positive errno (or libbpf's own LIBBPF_ERRNO__* code). */
    readonly errno: number,
    /** Symbolic name, e.g. "ENOENT"; "" when the code has none. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BpfError';
  }
}
