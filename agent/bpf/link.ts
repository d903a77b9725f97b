// A BPF link: one attachment of a loaded program (to a tracepoint, a uprobe, a perf event).
// Destroying it detaches the program; for perf-event based links it also closes the perf fd.
import { failure, linkDestroy, type Pointer } from './libbpf.js';

export class BpfLink {
  private handle: Pointer | undefined;

  /** Made by BpfObject.attach*; `onDestroy` lets the object forget the link. */
  constructor(
    handle: Pointer,
    /** "object/program -> target", for errors and logs. */
    readonly description: string,
    private readonly onDestroy: (link: BpfLink) => void,
  ) {
    this.handle = handle;
  }

  get destroyed(): boolean {
    return this.handle === undefined;
  }

  /** Idempotent. libbpf frees the link even when detaching reports an error. */
  destroy(): void {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    this.onDestroy(this);
    const err = linkDestroy(handle);
    if (err < 0) throw failure('bpf_link__destroy', this.description, err);
  }

  close(): void {
    this.destroy();
  }
}
