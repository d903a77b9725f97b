// Building DOM nodes without innerHTML: every text from the API goes in as text, never markup.

type Child = Node | string | number | null | undefined | false;

export interface Attributes {
  class?: string;
  title?: string;
  [name: string]: string | undefined;
}

/** An element with attributes and children; null, undefined and false children are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/** The element with this id, which index.html must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`index.html has no #${id}`);
  return element as T;
}

/**
 * Replaces the container's content with build()'s only when `key` differs from the last one:
 * open details, focus and a click in progress survive refreshes that change nothing.
 */
export function renderIfChanged(container: HTMLElement, key: string, build: () => Node): void {
  if (container.dataset['key'] === key) return;
  container.dataset['key'] = key;
  container.replaceChildren(build());
}
