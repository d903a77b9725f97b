// The flamegraph page's script. It runs in the browser: html.ts embeds this function's source
// in the page, so it must stay self-contained (no imports, no outer variables, DOM only).

/** What html.ts embeds as JSON for the viewer. */
export interface ViewerData {
  title: string;
  /** One sample stands for this much CPU time. */
  periodNs: number;
  /** The texts rows point into. */
  strings: string[];
  /**
   * The call tree in nested-set order (tree.ts): level, total samples, self samples, then
   * indexes into `strings` of the label, the module, the frame kind ('' on the root) and the
   * source file (-1 when unknown).
   */
  rows: Array<[level: number, total: number, self: number, label: number, module: number, kind: number, file: number]>;
}

/** Draws the flamegraph into the page's #graph, its colour key into #legend, and wires zoom, search and tooltips. */
export function flamegraphViewer(data: ViewerData): void {
  const ROW_HEIGHT = 18;
  /** Boxes narrower than this many pixels are not drawn: they could not be seen or clicked. */
  const MIN_WIDTH = 1;
  /** Colour per frame kind (model.ts), and the root's (''). */
  const HUES: Record<string, [hue: number, saturation: number]> = { go: [190, 60], native: [25, 85], kernel: [350, 65], js: [50, 80], unknown: [0, 0], '': [220, 10] };

  interface FlameNode {
    index: number;
    level: number;
    total: number;
    self: number;
    name: string;
    module: string;
    kind: string;
    file: string;
    /** Offset in samples from the left edge of the whole graph. */
    x: number;
    parent: number;
  }

  const text = (index: number): string => (index < 0 ? '' : (data.strings[index] ?? ''));
  const nodes: FlameNode[] = [];
  const lastAtLevel: number[] = [];
  const nextX: number[] = [0];
  for (const [level, total, self, label, module, kind, file] of data.rows) {
    // A node starts where its previous sibling ended, or at its parent's left edge.
    const x = nextX[level] ?? 0;
    const node: FlameNode = { index: nodes.length, level, total, self, name: text(label), module: text(module), kind: text(kind), file: text(file), x, parent: level === 0 ? -1 : (lastAtLevel[level - 1] ?? -1) };
    nodes.push(node);
    lastAtLevel[level] = node.index;
    nextX[level] = x + total;
    nextX[level + 1] = x;
  }
  const root = nodes[0];
  if (root === undefined) return;
  const grandTotal = root.total;

  const byId = <T extends HTMLElement>(id: string): T => {
    const element = document.getElementById(id);
    if (element === null) throw new Error(`the page has no #${id}`);
    return element as T;
  };
  const graph = byId<HTMLDivElement>('graph');
  const tip = byId<HTMLDivElement>('tip');
  const search = byId<HTMLInputElement>('search');
  const matched = byId<HTMLSpanElement>('matched');
  const zoomed = byId<HTMLSpanElement>('zoomed');
  const reset = byId<HTMLButtonElement>('reset');
  const legend = byId<HTMLUListElement>('legend');

  let focus: FlameNode = root;
  let query = '';

  const percent = (samples: number): string => `${((100 * samples) / grandTotal).toFixed(1)}%`;
  const cpu = (samples: number): string => {
    const ms = (samples * data.periodNs) / 1e6;
    return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 10 ? 0 : 1)} ms`;
  };
  /** The kind's hue, varied a little by name so that neighbours stand apart. */
  const color = (kind: string, name: string): string => {
    const [hue, saturation] = HUES[kind] ?? HUES['unknown']!;
    let hash = 0;
    for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
    return `hsl(${hue + (Math.abs(hash) % 16) - 8}, ${saturation}%, ${62 + (Math.abs(hash >> 4) % 16)}%)`;
  };
  const isMatch = (node: FlameNode): boolean => query !== '' && node.name.toLowerCase().includes(query);

  function draw(): void {
    const width = graph.clientWidth;
    const scale = width / focus.total;
    const callers = new Set<number>();
    for (let at = focus.parent; at >= 0; at = nodes[at]!.parent) callers.add(at);
    const boxes = document.createDocumentFragment();
    let depth = 0;
    for (const node of nodes) {
      const inFocus = node.level >= focus.level && node.x >= focus.x && node.x < focus.x + focus.total;
      // The focused node's callers span the whole width, as in flamegraph.pl's zoom.
      const left = inFocus ? (node.x - focus.x) * scale : 0;
      const boxWidth = inFocus ? node.total * scale : callers.has(node.index) ? width : 0;
      if (boxWidth < MIN_WIDTH) continue;
      const box = document.createElement('div');
      box.className = `frame${isMatch(node) ? ' match' : ''}${inFocus ? '' : ' caller'}`;
      box.dataset['index'] = String(node.index);
      box.style.cssText = `left:${left}px;width:${boxWidth}px;top:${node.level * ROW_HEIGHT}px;background:${color(node.kind, node.name)}`;
      box.textContent = node.name;
      boxes.appendChild(box);
      depth = Math.max(depth, node.level + 1);
    }
    graph.replaceChildren(boxes);
    graph.style.height = `${depth * ROW_HEIGHT}px`;
    graph.classList.toggle('searching', query !== '');
    zoomed.textContent = focus === root ? '' : `zoomed into ${focus.name} (${percent(focus.total)})`;
    reset.disabled = focus === root;
  }

  /** The matched share counts each sample once: a match under another match adds nothing. */
  function showMatches(): void {
    if (query === '') {
      matched.textContent = '';
      return;
    }
    const underMatch: boolean[] = [];
    let samples = 0;
    for (const node of nodes) {
      const parentCovered = node.parent >= 0 && (underMatch[node.parent] ?? false);
      if (isMatch(node) && !parentCovered) samples += node.total;
      underMatch[node.index] = parentCovered || isMatch(node);
    }
    matched.textContent = `matched ${samples} of ${grandTotal} samples (${percent(samples)})`;
  }

  const nodeAt = (target: EventTarget | null): FlameNode | undefined => {
    const index = target instanceof HTMLElement ? target.dataset['index'] : undefined;
    return index === undefined ? undefined : nodes[Number(index)];
  };

  graph.addEventListener('click', (event) => {
    const node = nodeAt(event.target);
    if (node === undefined) return;
    focus = node;
    // The box under the pointer is another one after the redraw: the next move shows it.
    tip.hidden = true;
    draw();
  });
  graph.addEventListener('mousemove', (event) => {
    const node = nodeAt(event.target);
    if (node === undefined) {
      tip.hidden = true;
      return;
    }
    const where = [node.module, node.kind === '' ? '' : `(${node.kind})`].filter((part) => part !== '').join(' ');
    tip.textContent = [
      node.name,
      where,
      node.file,
      `${node.total} samples, ${cpu(node.total)} CPU (${percent(node.total)})`,
      `self: ${node.self} samples (${percent(node.self)})`,
    ]
      .filter((line) => line !== '')
      .join('\n');
    tip.hidden = false;
    const right = event.clientX + 16 + tip.offsetWidth > window.innerWidth;
    tip.style.left = `${right ? event.clientX - 16 - tip.offsetWidth : event.clientX + 16}px`;
    tip.style.top = `${event.clientY + 16}px`;
  });
  graph.addEventListener('mouseleave', () => {
    tip.hidden = true;
  });
  search.addEventListener('input', () => {
    query = search.value.trim().toLowerCase();
    showMatches();
    draw();
  });
  reset.addEventListener('click', () => {
    focus = root;
    draw();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && document.activeElement !== search) reset.click();
  });
  window.addEventListener('resize', draw);
  for (const kind of Object.keys(HUES).filter((kind) => kind !== '')) {
    const item = document.createElement('li');
    const swatch = document.createElement('i');
    swatch.style.background = color(kind, '');
    item.append(swatch, kind);
    legend.appendChild(item);
  }
  draw();
}
