// The phases of a cold start, declared once; the agent's records, metrics, API, CLI and UI
// all use this list. A cold start begins when the runtime decides it needs a new worker
// (`spawn`) and ends with that worker's first response. Each phase is named by the
// boundary that ends it:
//
//   spawn ─fork─▶ forked ─exec─▶ exec'd ─runtime_init─▶ runtime up ─user_init─▶ user code starts
//         ─state_mapped─▶ state mapped ─ready─▶ ready ─first_response─▶ answered
//
// A boundary that was not observed (a worker started from a seed was forked before the
// request; a stem cell had exec'd long before; an exec binary has no runtime symbols) is
// absent, and its phase's time is counted in the next phase that was observed.

export const PHASES = ['fork', 'exec', 'runtime_init', 'user_init', 'state_mapped', 'ready', 'first_response'] as const;
export type Phase = (typeof PHASES)[number];

/** Where a boundary's timestamp came from. */
export type PhaseSource = 'kernel' | 'sdk' | 'runtime';

export const PHASE_DESCRIPTIONS: Record<Phase, string> = {
  fork: 'until the process exists (sched_process_fork)',
  exec: 'until the worker program is exec\'d (sched_process_exec)',
  runtime_init: 'language runtime start-up (Go: to runtime.main; Node: to node::LoadEnvironment)',
  user_init: 'until user code starts (Go: runtime.main to main.main, the package inits; Node: to node::StartExecution)',
  state_mapped: 'until the state is mapped (SDK marker, or the first mmap of fd 4)',
  ready: 'until the worker reports ready (SDK marker, or its first write on fd 3)',
  first_response: 'the first invocation, until its response',
};
