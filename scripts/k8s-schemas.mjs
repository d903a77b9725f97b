// Unpacks Kubernetes' strict JSON schemas from a kubernetes-validate wheel (PyPI) into the
// layout kubeconform reads with -schema-location DIR/{{ .NormalizedKubernetesVersion }}-local-strict/....
// The package's schemas name their shared definitions by an absolute URL
// (https://kubernetes.io/api/_definitions.json, through $id and "/api/_definitions.json#..."),
// which kubeconform would try to download; here every reference is made relative to the file,
// so the definitions load from the directory beside it and nothing is fetched.
// Usage: node scripts/k8s-schemas.mjs WHEEL OUT_DIR VERSION...   (e.g. 1.30.0 1.37.0)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [wheel, out, ...versions] = process.argv.slice(2);
if (wheel === undefined || out === undefined || versions.length === 0) {
  process.stderr.write('usage: node scripts/k8s-schemas.mjs WHEEL OUT_DIR VERSION...\n');
  process.exit(2);
}
const DEFINITIONS_URL = '"/api/_definitions.json#';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-k8s-schemas-'));
try {
  for (const version of versions) {
    const dir = `v${version}-local-strict`;
    const inWheel = `kubernetes_validate/kubernetes-json-schema/${dir}`;
    execFileSync('unzip', ['-q', '-o', wheel, `${inWheel}/*`, '-d', scratch]);
    const source = path.join(scratch, inWheel);
    const target = path.join(out, dir);
    fs.mkdirSync(target, { recursive: true });
    let count = 0;
    for (const name of fs.readdirSync(source)) {
      const schema = JSON.parse(fs.readFileSync(path.join(source, name), 'utf8'));
      delete schema.$id;
      fs.writeFileSync(path.join(target, name), JSON.stringify(schema).replaceAll(DEFINITIONS_URL, '"_definitions.json#'));
      count++;
    }
    if (count === 0) throw new Error(`${wheel} has no schemas for Kubernetes ${version} (${inWheel})`);
    process.stderr.write(`k8s-schemas: ${count} schemas for Kubernetes ${version} in ${target}\n`);
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
