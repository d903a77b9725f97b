// npm run fuzz -- [target...] [--seconds N] [--no-save] [--seed N]
import { fuzzTarget } from './engine/engine.js';
import { TARGETS } from './targets/index.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 10);
const names = args.filter((arg, index) => !arg.startsWith('--') && args[index - 1] !== '--seconds');
for (const name of names.length > 0 ? names : TARGETS.map((t) => t.name)) {
  const report = await fuzzTarget(name, { seconds, save: false, onProgress: (line) => console.log(line) });
  console.log(JSON.stringify(report, null, 1));
}
