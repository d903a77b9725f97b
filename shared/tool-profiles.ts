// The runtime's API for profiling runs with Node's own tools (0x, clinic doctor, clinic flame):
// POST /v1/functions/NAME/profile starts one; GET /v1/tool-profiles[/ID[/FILE]] lists runs,
// describes one, or serves one of its files. The CLI (`hearth profile --with`) reads these shapes.

export const PROFILE_TOOLS = ['0x', 'clinic-doctor', 'clinic-flame'] as const;
export type ProfileToolName = (typeof PROFILE_TOOLS)[number];

/** The shortest and longest run a caller may ask for, in seconds. */
export const TOOL_PROFILE_SECONDS = { min: 1, max: 600 } as const;

/** The body of POST /v1/functions/NAME/profile. */
export interface ToolProfileRequest {
  tool: ProfileToolName;
  seconds: number;
  /** A request body sent to the profiled worker again and again while the function has no traffic of its own. */
  load?: string;
  /** The fraction of the function's invocations offered to the profiled worker (default: its fair share, 1 / (ready workers + 1)). */
  share?: number;
  /** An absolute directory on the runtime's host for the artifacts (default: under the runtime's run directory, gone when it stops). */
  dir?: string;
}

export type ToolProfileStatus = 'starting' | 'profiling' | 'stopping' | 'processing' | 'done' | 'failed';

export interface ToolProfileFile {
  /** Path relative to the run's directory ('/'-separated). */
  name: string;
  bytes: number;
}

/** One run, as GET /v1/tool-profiles/ID describes it and the POST's result carries it. */
export interface ToolProfileRun {
  id: string;
  function: string;
  tool: ProfileToolName;
  status: ToolProfileStatus;
  /** The profiled worker's pid (0 before it started). */
  pid: number;
  seconds: number;
  share: number;
  /** Wall-clock start of the profiled window, Unix milliseconds, and how long the worker served (0 while it has not begun). */
  startUnixMs: number;
  durationMs: number;
  /** Invocations the profiled worker answered: the function's own, routed to it, and the generated workload. */
  invocations: { routed: number; generated: number; failed: number };
  dir: string;
  files: ToolProfileFile[];
  /** The file a person opens: the tool's HTML report. */
  report?: string;
  /** 0x: V8's ticks as 0x writes them (ticks.json), and the rate they were sampled at. */
  ticks?: { file: string; hz: number };
  error?: string;
}
