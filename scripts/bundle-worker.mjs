// Bundles the Node worker (dist/runtime/sdk/node/worker-main.js and what it imports) into
// one CommonJS file, dist/runtime/sdk/node/worker.cjs: every Node cold start loads it, and
// one CJS file loads about 9 ms faster than the same code as a tree of ES modules. Also
// builds the SDK as CommonJS (index.cjs), which functions compiled to CommonJS require:
// Node 20 cannot require() an ES module, and require() skips the ES loader (~5 ms).
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // CommonJS has no import.meta; the bundle's own URL stands in for it.
  define: { 'import.meta.url': 'bundleUrl' },
  banner: { js: "const bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'error',
};

await build({ ...common, entryPoints: ['dist/runtime/sdk/node/worker-main.js'], outfile: 'dist/runtime/sdk/node/worker.cjs' });
await build({ ...common, entryPoints: ['dist/runtime/sdk/node/index.js'], outfile: 'dist/runtime/sdk/node/index.cjs' });
