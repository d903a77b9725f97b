// What Hearth needs of each of Node's profiling tools: how to start a worker under it, and how
// to turn what the worker leaves behind into the tool's artifacts.
import type { LaunchSpec } from '../supervisor/worker.js';

/** What the post-processing step knows about a finished run. */
export interface RunFacts {
  /** The run's directory: what the worker wrote, and where the artifacts go. */
  dir: string;
  /** The profiled worker's pid (names its V8 log and clinic's folders). */
  pid: number;
  /** The function's JavaScript entry (clinic flame names the application by its directory). */
  entry: string;
  /** A title for the reports. */
  title: string;
  /** How long the worker was profiled. */
  seconds: number;
}

/** What a tool made, relative to the run's directory. */
export interface ToolOutput {
  /** The report a person opens. */
  report: string;
  /** 0x: the sampled stacks (ticks.json) and their rate, for conversion into Hearth's profile model. */
  ticks?: { file: string; hz: number };
}

/**
 * One tool, run the way Hearth runs it: the worker itself is started with the tool's flags and
 * preloads (the tools' own launchers spawn Node with their pipes on fds 3 to 5, where a worker
 * must have its IPC channel and state), and the tool's own processing runs after it exits.
 */
export interface ProfileTool {
  /** The worker's launch with the tool's instrumentation: flags, preloads, environment, stop signal. */
  instrument(launch: LaunchSpec, dir: string): LaunchSpec;
  /** Builds the artifacts from what the worker wrote to `facts.dir` (run in a child process of its own). */
  finish(facts: RunFacts): Promise<ToolOutput>;
}

/** `launch` with Node flags before the worker's script, and extra environment. */
export function withNodeFlags(launch: LaunchSpec, flags: string[], env: Record<string, string> = {}): LaunchSpec {
  const [node, ...rest] = launch.argv;
  return { ...launch, argv: [node!, ...flags, ...rest], env: { ...launch.env, ...env } };
}
