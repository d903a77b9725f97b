// Builds the agent's web UI (dashboards/ui) into dist/ui, which the agent serves: type-checks
// it, bundles main.ts and everything it imports (Grafana Faro's web SDK included) into one
// script with esbuild, and copies the page, its styles and its icon beside it. Nothing is fetched when
// the page runs. Skipped when dist/ui is newer than every input; run by scripts/setup.sh.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = path.join(root, 'dashboards/ui');
const out = path.join(root, 'dist/ui');
/** Lists the inputs of the last build; its mtime is when that build finished. */
const stamp = path.join(out, '.inputs.json');
const STATIC_FILES = ['index.html', 'style.css', 'icon.svg'];

function isCurrent() {
  if (!fs.existsSync(stamp)) return false;
  const builtMs = fs.statSync(stamp).mtimeMs;
  const inputs = [...JSON.parse(fs.readFileSync(stamp, 'utf8')), ...fs.readdirSync(source).map((name) => path.join('dashboards/ui', name))];
  return inputs.every((input) => fs.existsSync(path.join(root, input)) && fs.statSync(path.join(root, input)).mtimeMs <= builtMs);
}

/** Modules the UI imports only for their types: esbuild drops them, but they can break the type check. */
function typeImports() {
  const found = new Set();
  for (const name of fs.readdirSync(source).filter((file) => file.endsWith('.ts'))) {
    for (const match of fs.readFileSync(path.join(source, name), 'utf8').matchAll(/from '(\.\.\/[^']+)\.js'/g)) {
      found.add(path.relative(root, path.resolve(source, `${match[1]}.ts`)));
    }
  }
  return [...found];
}

if (!isCurrent()) {
  process.stderr.write('setup: building the web UI into dist/ui\n');
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(source, 'tsconfig.json')], { stdio: 'inherit' });
  } catch {
    process.stderr.write('setup: the web UI (dashboards/ui) does not type-check: see above\n');
    process.exit(1);
  }
  fs.rmSync(out, { recursive: true, force: true });
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const result = await build({
    entryPoints: [path.join(source, 'main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox111', 'safari16'],
    minify: true,
    sourcemap: true,
    metafile: true,
    define: { HEARTH_VERSION: JSON.stringify(version) },
    logLevel: 'error',
  });
  for (const name of STATIC_FILES) fs.copyFileSync(path.join(source, name), path.join(out, name));
  const inputs = [...Object.keys(result.metafile.inputs), ...typeImports(), 'package-lock.json', 'scripts/build-ui.mjs'];
  fs.writeFileSync(stamp, JSON.stringify([...new Set(inputs)].sort(), null, 1));
}
