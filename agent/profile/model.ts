// The common profile model: what the sampler produces (and 0x's ticks convert into), and what
// every export format (pprof, folded, speedscope, HTML, Grafana's flame graph frame) reads.

/** Where a frame's code lives: decides how it was symbolised and how it is drawn. */
export type FrameKind = 'go' | 'native' | 'kernel' | 'js' | 'unknown';

export interface Frame {
  /** Function name; for an unknown frame, `[unknown]` or the raw address, never empty. */
  name: string;
  /** The file the code came from (a binary, a shared library, `[kernel]`, `[jit]`), never empty. */
  module: string;
  kind: FrameKind;
  /** Source file and line, when the symbol source has them (Go's pclntab). */
  file?: string;
  line?: number;
}

/** Which window a sample was taken in. */
export type ProfilePhase = 'cold' | 'steady';

export interface ProfileSample {
  /** Root (outermost caller) first, leaf (where the CPU was) last. Never empty. */
  stack: Frame[];
  /** How many times this exact stack was sampled in this worker in this phase. */
  count: number;
  labels: { function: string; phase: ProfilePhase; pid: number };
}

export interface Profile {
  function: string;
  phase: ProfilePhase;
  /** Sampling rate; one sample stands for periodNs of CPU time (1e9 / frequencyHz). */
  frequencyHz: number;
  periodNs: number;
  /** Wall-clock start of the window the samples cover, in Unix milliseconds, and its length. */
  startUnixMs: number;
  durationMs: number;
  samples: ProfileSample[];
}
