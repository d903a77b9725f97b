import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { withNodeFlags, type ProfileTool } from './tool.js';
import { v8ProfFlags, writeTicks } from './v8-ticks.js';

const require = createRequire(import.meta.url);

type FlamePaths = Record<'/' | '/systeminfo' | '/samples' | '/inlinedfunctions', string>;
interface ClinicFlame {
  elapsedTime: number;
  visualize(dataDir: string, outputFile: string, done: (error?: Error | null) => void): void;
}

/**
 * clinic flame: 0x underneath (the same V8 tick log, read by the 0x that flame depends on),
 * then flame's own analysis and page. The run's directory holds flame's folder as its
 * collector leaves it (PID.clinic-flame/ and PID.clinic-flame.html).
 */
export const clinicFlame: ProfileTool = {
  instrument: (launch, dir) => withNodeFlags(launch, v8ProfFlags(dir)),
  async finish({ dir, pid, entry, title, seconds }) {
    const fromFlame = createRequire(require.resolve('@clinic/flame'));
    await writeTicks(fromFlame, dir, pid, { entry, title });
    // What flame's collector does once 0x is done: its system info, inlining data and samples in its folder.
    const paths = (fromFlame('./collect/get-logging-paths.js') as (options: object) => FlamePaths)({ path: dir, identifier: pid });
    const systemInfo = fromFlame('./collect/system-info.js') as (zeroXDir: string) => unknown;
    const inlinedFunctions = fromFlame('./collect/inlined-functions.js') as (zeroXDir: string) => unknown;
    fs.mkdirSync(paths['/'], { recursive: true });
    fs.writeFileSync(paths['/systeminfo'], JSON.stringify(systemInfo(dir), null, 2));
    fs.writeFileSync(paths['/inlinedfunctions'], JSON.stringify(inlinedFunctions(dir)));
    fs.renameSync(path.join(dir, 'ticks.json'), paths['/samples']);
    for (const name of fs.readdirSync(dir)) if (name === 'meta.json' || name.endsWith('-v8.log')) fs.rmSync(path.join(dir, name));
    const Flame = fromFlame('./index.js') as new () => ClinicFlame;
    const flame = new Flame();
    flame.elapsedTime = seconds;
    await promisify(flame.visualize.bind(flame))(paths['/'], `${paths['/']}.html`);
    return { report: `${path.basename(paths['/'])}.html` };
  },
};
