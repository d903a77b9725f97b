// Writes the monitoring ConfigMaps of deploy/ (see kubernetes.ts) into the repository.
// Usage: node dist/dashboards/grafana/render-deploy.js [REPOSITORY_ROOT]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderKubernetes } from './kubernetes.js';

/** dist/dashboards/grafana/render-deploy.js -> the repository */
const DEFAULT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const root = path.resolve(process.argv[2] ?? DEFAULT_ROOT);
for (const file of renderKubernetes()) {
  fs.writeFileSync(path.join(root, file.path), file.content);
  process.stdout.write(`wrote ${file.path}\n`);
}
