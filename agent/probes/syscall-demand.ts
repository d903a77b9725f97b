// Whether the syscall hooks (the first mmap of fd 4 and the first write on fd 3 of any
// binary) should be attached. They tax every syscall on the host (~125 ns each here, about
// 250 µs of a Go cold start), and the SDKs' markers already report both moments of the
// workers that use them; so by default (auto) the hooks are attached only while a deployed
// function has workers that report neither: an exec function, or a binary without the SDK.

export type SyscallHookMode = 'auto' | 'on' | 'off';

export const SYSCALL_HOOK_MODES: readonly SyscallHookMode[] = ['auto', 'on', 'off'];

export class SyscallHookDemand {
  /** Functions whose current version's workers carry no probed state and ready markers. */
  private readonly needing = new Set<string>();

  /** `apply(on)` attaches or detaches the hooks; it is called only when that should change. */
  constructor(
    private readonly mode: SyscallHookMode,
    private readonly apply: (on: boolean, reason: string) => void,
  ) {}

  /** A function's version is about to start workers; `markers`: they report state and ready through probed SDK markers. */
  prepared(fn: string, markers: boolean): void {
    const before = this.wanted();
    if (markers) this.needing.delete(fn);
    else this.needing.add(fn);
    this.update(before, markers ? `${fn} reports through SDK markers` : `${fn} has no SDK markers`);
  }

  removed(fn: string): void {
    const before = this.wanted();
    this.needing.delete(fn);
    this.update(before, `${fn} was removed`);
  }

  /** Whether the hooks should be attached now. */
  wanted(): boolean {
    return this.mode === 'on' || (this.mode === 'auto' && this.needing.size > 0);
  }

  /** Functions that need the hooks, by name. */
  get functions(): string[] {
    return [...this.needing].sort();
  }

  private update(before: boolean, reason: string): void {
    const now = this.wanted();
    if (now !== before) this.apply(now, reason);
  }
}
