// A profile as folded stacks, the input of Brendan Gregg's flamegraph.pl and of inferno:
// one line per distinct stack, `root;caller;...;leaf count`.
import type { Frame, Profile } from '../model.js';
import { frameLabel } from './frames.js';

/** flamegraph.pl's mark of a kernel frame (it colours them apart with --color=java and others). */
const KERNEL_SUFFIX = '_[k]';

/** `;` separates frames and a newline ends the line: neither may stand in a name. */
function foldedName(frame: Frame): string {
  const name = frameLabel(frame).replace(/[;\r\n]/g, ':');
  return frame.kind === 'kernel' ? `${name}${KERNEL_SUFFIX}` : name;
}

/** The folded lines, one per distinct stack (workers merged), sorted, each ending in a newline. */
export function toFolded(profile: Profile): string {
  const counts = new Map<string, number>();
  for (const sample of profile.samples) {
    const stack = sample.stack.map(foldedName).join(';');
    counts.set(stack, (counts.get(stack) ?? 0) + sample.count);
  }
  return [...counts.keys()]
    .sort()
    .map((stack) => `${stack} ${counts.get(stack)}\n`)
    .join('');
}
