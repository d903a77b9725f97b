import { findCppFunction, resolveFunction, resolveGoEntryPoints, type GoEntryPoint } from '../symbols/resolve.js';
import { COOKIE_GO_ABI, COOKIE_ONCE, Marker } from './events.js';

/** One uprobe to attach: where (binary and file offset) and what it reports (its cookie). */
export interface ProbePoint {
  binary: string;
  symbol: string;
  fileOffset: number;
  cookie: number;
}

export interface ProbePlan {
  points: ProbePoint[];
  /** Symbols this binary does not have (an older SDK, a stripped binary without .gopclntab, a plain exec). */
  missing: string[];
}

export interface PlanOptions {
  /**
   * Probe every invocation's start and end too. Off by default: a uprobe costs ~13 µs per
   * hit on this kind of VM, which the warm path would pay twice per request.
   */
  invocations: boolean;
  /**
   * Probe runtime.doInit1, which marks where package initialisation begins. Off by
   * default for the same reason: it is called once per initialised package.
   */
  packageInits: boolean;
}

const GO_MARKERS: Record<GoEntryPoint, { marker: Marker; once: boolean; optional?: keyof PlanOptions }> = {
  runtimeMain: { marker: Marker.GO_RUNTIME_MAIN, once: true },
  doInit: { marker: Marker.GO_INIT, once: true, optional: 'packageInits' },
  mainMain: { marker: Marker.GO_MAIN_MAIN, once: true },
  markStateMapped: { marker: Marker.STATE_MAPPED, once: true },
  markReady: { marker: Marker.READY, once: true },
  markInvokeStart: { marker: Marker.INVOKE_START, once: false, optional: 'invocations' },
  markInvokeEnd: { marker: Marker.INVOKE_END, once: false, optional: 'invocations' },
};

/** Go workers: the runtime's start-up symbols and the SDK's markers (Go register ABI). */
export function planGo(binary: string, options: PlanOptions): ProbePlan {
  const found = resolveGoEntryPoints(binary);
  const plan: ProbePlan = { points: [], missing: [] };
  for (const [role, probe] of Object.entries(GO_MARKERS) as [GoEntryPoint, (typeof GO_MARKERS)[GoEntryPoint]][]) {
    if (probe.optional !== undefined && !options[probe.optional]) continue;
    const symbol = found[role];
    if (symbol === undefined) {
      plan.missing.push(role);
      continue;
    }
    plan.points.push({ binary, symbol: symbol.name, fileOffset: symbol.fileOffset, cookie: probe.marker | COOKIE_GO_ABI | (probe.once ? COOKIE_ONCE : 0) });
  }
  return plan;
}

/** The Node binary: where its environment is loaded (every overload the installed build has). */
export function planNode(binary: string): ProbePlan {
  const overloads = findCppFunction(binary, 'node::LoadEnvironment');
  if (overloads.length === 0) return { points: [], missing: ['node::LoadEnvironment'] };
  return { points: overloads.map((symbol) => ({ binary, symbol: symbol.name, fileOffset: symbol.fileOffset, cookie: Marker.NODE_ENV | COOKIE_ONCE })), missing: [] };
}

const ADDON_MARKERS: { symbol: string; marker: Marker; once: boolean; optional?: keyof PlanOptions }[] = [
  { symbol: 'hearth_marker_state_mapped', marker: Marker.STATE_MAPPED, once: true },
  { symbol: 'hearth_marker_ready', marker: Marker.READY, once: true },
  { symbol: 'hearth_marker_invoke_start', marker: Marker.INVOKE_START, once: false, optional: 'invocations' },
  { symbol: 'hearth_marker_invoke_end', marker: Marker.INVOKE_END, once: false, optional: 'invocations' },
];

/** The Node SDK's native addon: its marker functions (C ABI). */
export function planAddon(binary: string, options: PlanOptions): ProbePlan {
  const plan: ProbePlan = { points: [], missing: [] };
  for (const probe of ADDON_MARKERS) {
    if (probe.optional !== undefined && !options[probe.optional]) continue;
    const symbol = resolveFunction(binary, probe.symbol);
    if (symbol === undefined) plan.missing.push(probe.symbol);
    else plan.points.push({ binary, symbol: symbol.name, fileOffset: symbol.fileOffset, cookie: probe.marker | (probe.once ? COOKIE_ONCE : 0) });
  }
  return plan;
}
