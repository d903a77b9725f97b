// The call tree of a profile (stacks merged per function from the root down), and its
// nested-set form: what the flame graphs (Grafana's frame, the HTML page) are drawn from.
import type { Frame, Profile } from '../model.js';
import { compareText, frameLabel, functionKey } from './frames.js';

/** The root's label, as Grafana's and Pyroscope's flame graphs name it. */
export const ROOT_LABEL = 'total';

export interface CallNode {
  /** Absent on the root, which stands for every sample of the profile. */
  frame?: Frame;
  /** frameLabel of the frame; ROOT_LABEL on the root. */
  label: string;
  /** Samples in which this node is on the stack: its own and its callees'. */
  total: number;
  /** Samples in which this node is the leaf: the CPU was in it. */
  self: number;
  /** Sorted by label, as flamegraph.pl sorts, so that the same profile draws the same way. */
  children: CallNode[];
}

interface GrowingNode {
  frame?: Frame;
  total: number;
  self: number;
  children: Map<string, GrowingNode>;
}

/** Every sample's stack merged into one tree; the same function under the same caller is one node. */
export function callTree(profile: Profile): CallNode {
  const root: GrowingNode = { total: 0, self: 0, children: new Map() };
  for (const sample of profile.samples) {
    let node = root;
    node.total += sample.count;
    for (const frame of sample.stack) {
      const key = functionKey(frame);
      let child = node.children.get(key);
      if (child === undefined) {
        child = { frame, total: 0, self: 0, children: new Map() };
        node.children.set(key, child);
      }
      child.total += sample.count;
      node = child;
    }
    node.self += sample.count;
  }
  return settle(root);
}

/** The finished node: child maps become arrays sorted by label. */
function settle(node: GrowingNode): CallNode {
  const children = [...node.children.values()].map(settle).sort((a, b) => compareText(a.label, b.label));
  const label = node.frame === undefined ? ROOT_LABEL : frameLabel(node.frame);
  return { frame: node.frame, label, total: node.total, self: node.self, children };
}

export interface NestedSetRow {
  /** Depth: 0 for the root, 1 for the outermost callers. */
  level: number;
  node: CallNode;
}

/**
 * The tree in depth-first pre-order with each node's depth: a node's descendants follow it
 * until the next row at its level or above, so no child lists are needed (Grafana's layout).
 */
export function nestedSet(root: CallNode): NestedSetRow[] {
  const rows: NestedSetRow[] = [];
  const pending: NestedSetRow[] = [{ level: 0, node: root }];
  while (pending.length > 0) {
    const row = pending.pop()!;
    rows.push(row);
    for (let i = row.node.children.length - 1; i >= 0; i--) pending.push({ level: row.level + 1, node: row.node.children[i]! });
  }
  return rows;
}
