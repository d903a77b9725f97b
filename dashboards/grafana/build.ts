// Writes the rendered bundle into dashboards/grafana/build/ (replacing what was there).
// Usage: node dist/dashboards/grafana/build.js [OUT_DIR]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderBundle } from './bundle.js';

/** dist/dashboards/grafana/build.js -> dashboards/grafana/build */
const DEFAULT_OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dashboards/grafana/build');

const out = path.resolve(process.argv[2] ?? DEFAULT_OUT);
fs.rmSync(out, { recursive: true, force: true });
const files = renderBundle();
for (const file of files) {
  const target = path.join(out, file.path);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, file.content);
}
process.stdout.write(`dashboards: wrote ${files.length} files to ${out}\n`);
