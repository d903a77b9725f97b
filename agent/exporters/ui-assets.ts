// The agent's web UI: the static bundle that scripts/build-ui.mjs builds from dashboards/ui
// into dist/ui, read once when the agent starts and served at / and /ui/<file>.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HearthError } from '../../shared/errors.js';
import { sendError } from './reply.js';

/** Where the bundle is, beside the compiled agent (dist/agent/exporters -> dist/ui). */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** The page's Faro endpoint as dashboards/ui/index.html declares it: the agent's own /collect. */
const FARO_META = '<meta name="hearth-faro-url" content="/collect">';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export class UiAssets {
  private constructor(
    private readonly assets: Map<string, Asset>,
    /** Why there is no UI, when there is none. */
    readonly missing: string | undefined,
    private readonly policy: string,
  ) {}

  /**
   * Reads the bundle in `dir`. `faroUrl` is where the page sends its telemetry: the agent's
   * /collect, or a Grafana Alloy faro.receiver (--faro-url).
   */
  static load(faroUrl: string | null, dir = UI_DIR): UiAssets {
    const assets = new Map<string, Asset>();
    const policy = contentSecurityPolicy(faroUrl);
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((name) => CONTENT_TYPES[path.extname(name)] !== undefined);
    } catch (error) {
      return new UiAssets(assets, `the web UI was not built (${(error as Error).message}): run \`bash scripts/setup.sh\` or \`node scripts/build-ui.mjs\``, policy);
    }
    for (const name of names) {
      let body = fs.readFileSync(path.join(dir, name));
      if (name === 'index.html') {
        const html = body.toString('utf8');
        if (!html.includes(FARO_META)) return new UiAssets(assets, `${path.join(dir, name)} has no ${FARO_META}: rebuild the web UI (node scripts/build-ui.mjs)`, policy);
        // A parsed URL's href has its quotes and angle brackets percent-encoded: only & needs escaping.
        if (faroUrl !== null) body = Buffer.from(html.replace(FARO_META, `<meta name="hearth-faro-url" content="${new URL(faroUrl).href.replace(/&/g, '&amp;')}">`));
      }
      assets.set(name, { body, type: CONTENT_TYPES[path.extname(name)]!, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
    }
    return new UiAssets(assets, assets.has('index.html') ? undefined : `the web UI was not built (no index.html in ${dir}): run \`node scripts/build-ui.mjs\``, policy);
  }

  /** GET / (the page) and /ui/<file> (its script, styles and source map). */
  serve(req: http.IncomingMessage, pathname: string, res: http.ServerResponse): void {
    if (this.missing !== undefined) return sendError(res, new HearthError('HEARTH_ERR_UNAVAILABLE', this.missing));
    const name = pathname === '/' ? 'index.html' : pathname.slice('/ui/'.length);
    const asset = this.assets.get(name);
    if (asset === undefined) return sendError(res, new HearthError('HEARTH_ERR_NOT_FOUND', `the web UI has no file ${JSON.stringify(name)}`));
    // Revalidated on every load, so a rebuilt UI shows at once; unchanged files cost a 304.
    const headers = { etag: asset.etag, 'cache-control': 'no-cache', 'content-security-policy': this.policy, 'x-content-type-options': 'nosniff' };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': asset.type, 'content-length': asset.body.length });
    res.end(asset.body);
  }
}

/**
 * Everything comes from the agent (no CDN: the UI works offline); telemetry may also go to a
 * configured Faro receiver. The flamegraph is an inline page in a sandboxed frame, which
 * inherits this policy: it needs inline script and style.
 */
function contentSecurityPolicy(faroUrl: string | null): string {
  const connect = faroUrl === null ? "'self'" : `'self' ${new URL(faroUrl).origin}`;
  return `default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src ${connect}`;
}
