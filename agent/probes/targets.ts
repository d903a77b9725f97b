import { findCppFunction, goProbeOffset, resolveFunction, resolveGoEntryPoints, type GoEntryPoint } from '../symbols/resolve.js';
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
   * Probe every invocation's start and end too. Off by default: a uprobe on an instruction
   * the kernel cannot emulate costs ~15 µs per hit on this kind of VM, which the warm path
   * would pay twice per request.
   */
  invocations: boolean;
  /**
   * Probe runtime.doInit1, which marks where package initialisation begins. Off by
   * default for the same reason: it is called once per initialised package.
   */
  packageInits: boolean;
  /**
   * Probe the Go SDK's state-mapped and ready markers. The syscall probes already see a Go
   * worker map fd 4 and write READY on fd 3, and a hit on these markers costs two traps
   * (~15 µs here), so the agent sets this only when the syscall probes are off.
   */
  goSdkMarkers: boolean;
}

const GO_MARKERS: Record<GoEntryPoint, { marker: Marker; once: boolean; optional?: keyof PlanOptions }> = {
  runtimeMain: { marker: Marker.GO_RUNTIME_MAIN, once: true },
  doInit: { marker: Marker.GO_INIT, once: true, optional: 'packageInits' },
  mainMain: { marker: Marker.GO_MAIN_MAIN, once: true },
  markStateMapped: { marker: Marker.STATE_MAPPED, once: true, optional: 'goSdkMarkers' },
  markReady: { marker: Marker.READY, once: true, optional: 'goSdkMarkers' },
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
    plan.points.push({ binary, symbol: symbol.name, fileOffset: goProbeOffset(binary, symbol), cookie: probe.marker | COOKIE_GO_ABI | (probe.once ? COOKIE_ONCE : 0) });
  }
  return plan;
}

/**
 * The Node binary: where its environment is loaded, and where it starts running the main
 * script (the start of user code): every overload the installed build has of each.
 */
export function planNode(binary: string): ProbePlan {
  const plan: ProbePlan = { points: [], missing: [] };
  for (const [name, marker] of [
    ['node::LoadEnvironment', Marker.NODE_ENV],
    ['node::StartExecution', Marker.NODE_MAIN],
  ] as const) {
    const overloads = findCppFunction(binary, name);
    if (overloads.length === 0) plan.missing.push(name);
    for (const symbol of overloads) plan.points.push({ binary, symbol: symbol.name, fileOffset: symbol.fileOffset, cookie: marker | COOKIE_ONCE });
  }
  return plan;
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
