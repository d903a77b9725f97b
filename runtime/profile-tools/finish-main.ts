// The post-processing of one profiling run, in a process of its own: the tools parse tick logs
// and bundle their pages with browserify, seconds of CPU that must not stall the runtime's
// event loop. Argument: the run's facts and tool as JSON; prints the tool's output as JSON.
import type { ProfileToolName } from '../../shared/tool-profiles.js';
import type { RunFacts } from './tool.js';
import { PROFILE_TOOL_IMPLEMENTATIONS } from './tools.js';

const { tool, ...facts } = JSON.parse(process.argv[2] ?? '{}') as RunFacts & { tool: ProfileToolName };
PROFILE_TOOL_IMPLEMENTATIONS[tool].finish(facts).then(
  (output) => process.stdout.write(JSON.stringify(output)),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
