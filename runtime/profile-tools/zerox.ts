import { createRequire } from 'node:module';
import { withNodeFlags, type ProfileTool } from './tool.js';
import { V8_PROF_HZ, v8ProfFlags, writeTicks } from './v8-ticks.js';

const require = createRequire(import.meta.url);

type Render = (options: Record<string, unknown>) => Promise<unknown>;

/**
 * 0x: V8's tick log, 0x's own processing and its flamegraph page. The run's directory is laid
 * out as 0x's profile folder (tick log, ticks.json, meta.json, flamegraph.html), so
 * `0x --visualize-only DIR` works on it.
 */
export const zeroX: ProfileTool = {
  instrument: (launch, dir) => withNodeFlags(launch, v8ProfFlags(dir)),
  async finish({ dir, pid, entry, title }) {
    const ticks = await writeTicks(require, dir, pid, { entry, title });
    // 0x's renderer, given the ticks already read (its public entry would read the log again).
    const render = require('0x/lib/render') as Render;
    await render({ ticks, inlined: {}, folder: dir, workingDir: dir, name: 'flamegraph', title, pathToNodeBinary: process.execPath, kernelTracing: false });
    return { report: 'flamegraph.html', ticks: { file: 'ticks.json', hz: V8_PROF_HZ } };
  },
};
