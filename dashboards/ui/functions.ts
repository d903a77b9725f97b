// The functions the agent knows of (from its cold starts, the runtime's pools and its
// profiles), as a list to pick one from.
import type { FunctionStats, PoolView, ProfilesHeld } from './api.js';
import { h } from './dom.js';
import { plural } from './format.js';

export function functionNames(stats: FunctionStats[], pool: PoolView | undefined, profiles: ProfilesHeld | undefined): string[] {
  const names = new Set([...stats.map((entry) => entry.function), ...(pool?.functions.map((entry) => entry.function) ?? []), ...(profiles?.profiles.map((entry) => entry.function) ?? [])]);
  return [...names].sort();
}

export function functionList(names: string[], selected: string | undefined, coldStarts: Map<string, number>, select: (fn: string) => void): HTMLElement {
  if (names.length === 0) return h('p', { class: 'empty' }, 'No functions yet: no cold starts recorded and no live workers.');
  return h(
    'ul',
    {},
    ...names.map((name) => {
      const button = h('button', { type: 'button', 'data-function': name, 'aria-current': name === selected ? 'true' : undefined }, h('span', { class: 'name' }, name), h('span', { class: 'count' }, plural(coldStarts.get(name) ?? 0, 'cold start')));
      button.addEventListener('click', () => select(name));
      return h('li', {}, button);
    }),
  );
}
