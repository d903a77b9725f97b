// Where to put a uprobe in a Go function so that the kernel can emulate the probed
// instruction instead of single-stepping it.
//
// Go functions with a frame begin with the stack-bound check, and x86 uprobes cannot emulate
// its cmp: every hit then traps twice (int3, then a single-step out of line), and the first
// hit in a process also maps the out-of-line area. On this machine that is ~15 µs a hit
// against ~0.8 µs for the `push %rbp` that follows the check, which the kernel emulates. The
// check only compares and branches (to morestack, which re-enters the function from the top),
// so probing the push reports the same call with the same argument registers.

/** The stack-bound checks the Go compiler emits, as byte patterns (undefined: any byte). */
const STACK_CHECKS: (number | undefined)[][] = [
  // cmp 0x10(%r14),%rsp
  [0x49, 0x3b, 0x66, 0x10],
  // lea -N(%rsp),%r12 (disp8); cmp 0x10(%r14),%r12
  [0x4c, 0x8d, 0x64, 0x24, undefined, 0x4d, 0x3b, 0x66, 0x10],
  // lea -N(%rsp),%r12 (disp32); cmp 0x10(%r14),%r12
  [0x4c, 0x8d, 0xa4, 0x24, undefined, undefined, undefined, undefined, 0x4d, 0x3b, 0x66, 0x10],
];
const JBE_REL8 = 0x76;
const JBE_REL32 = [0x0f, 0x86];
const PUSH_RBP = 0x55;
/** Enough bytes for the longest check, a jbe rel32 and the push. */
export const GO_PROLOGUE_BYTES = 12 + 6 + 1;

function matches(code: Buffer, at: number, pattern: (number | undefined)[]): boolean {
  if (at + pattern.length > code.length) return false;
  return pattern.every((byte, i) => byte === undefined || code[at + i] === byte);
}

/**
 * The offset, from a Go function's entry, of the `push %rbp` right after its stack-bound
 * check; 0 when the function does not start that way (frameless functions, other compilers),
 * so the probe stays at the entry.
 */
export function pastGoStackCheck(code: Buffer): number {
  for (const check of STACK_CHECKS) {
    if (!matches(code, 0, check)) continue;
    let at = check.length;
    if (code[at] === JBE_REL8) at += 2;
    else if (matches(code, at, JBE_REL32)) at += 6;
    else return 0;
    return code[at] === PUSH_RBP ? at : 0;
  }
  return 0;
}
