// A profile as one self-contained HTML page with an interactive flamegraph: the data as
// embedded JSON, the viewer (html-viewer.ts) as an inline script, nothing fetched. The page's
// Content-Security-Policy forbids every load, so a browser proves it needs no network.
import type { Profile } from '../model.js';
import { InternTable } from './frames.js';
import { flamegraphViewer, type ViewerData } from './html-viewer.js';
import { callTree, nestedSet } from './tree.js';

const STYLE = `
body{margin:0;font:13px system-ui,sans-serif;color:#222;background:#fff}
header{padding:8px 12px;border-bottom:1px solid #ddd}
h1{margin:0 0 2px;font-size:16px}
.summary{margin:0 0 6px;color:#555}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center}
#search{width:22em;padding:2px 4px}
#matched{color:#a000a0}
#zoomed{color:#555}
#legend{display:flex;gap:12px;margin:6px 0 0;padding:0;list-style:none;color:#555}
#legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border:1px solid #999}
#graph{position:relative;margin:8px 12px;overflow:hidden}
.frame{position:absolute;height:17px;box-sizing:border-box;padding:0 3px;border-right:1px solid #fff;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;font:11px/17px ui-monospace,monospace;cursor:pointer}
.frame:hover{outline:1px solid #222;z-index:1}
.caller{opacity:.65}
#graph.searching .frame:not(.match){background:#ddd!important;color:#777}
.frame.match{background:#e600e6!important;color:#fff}
#tip{position:fixed;z-index:2;max-width:70ch;padding:4px 6px;border:1px solid #999;background:#fffbe6;white-space:pre-line;font-size:12px;pointer-events:none}
`;

/** The profile's call tree as the viewer's compact rows, texts shared through one table. */
function viewerData(profile: Profile): ViewerData {
  const strings = new InternTable<string>();
  const text = (value: string): number => strings.indexOf(value, () => value);
  const rows = nestedSet(callTree(profile)).map(({ level, node }): ViewerData['rows'][number] => [
    level,
    node.total,
    node.self,
    text(node.label),
    text(node.frame?.module ?? ''),
    text(node.frame?.kind ?? ''),
    node.frame?.file === undefined ? -1 : text(node.frame.file),
  ]);
  return { title: `${profile.function} (${profile.phase})`, periodNs: profile.periodNs, strings: strings.rows, rows };
}

/** JSON that can stand inside <script>: no `<` at all, so no `</script` or `<!--` ends it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function summary(profile: Profile): string {
  const samples = profile.samples.reduce((sum, sample) => sum + sample.count, 0);
  const workers = new Set(profile.samples.map((sample) => sample.labels.pid)).size;
  const cpuMs = (samples * profile.periodNs) / 1e6;
  return `${samples} samples at ${profile.frequencyHz} Hz (${cpuMs.toFixed(1)} ms of CPU) in ${workers} worker${workers === 1 ? '' : 's'}, ` +
    `${(profile.durationMs / 1000).toFixed(1)} s from ${new Date(profile.startUnixMs).toISOString()}`;
}

/** The page: header with search, reset and colour key, the graph, and the viewer script. */
export function toHtml(profile: Profile): string {
  const data = viewerData(profile);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}: CPU flamegraph</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(data.title)}: CPU flamegraph</h1>
<p class="summary">${escapeHtml(summary(profile))}. Click a frame to zoom into it; Esc or reset zooms out.</p>
<div class="controls">
<input id="search" type="search" placeholder="search functions (substring)" autocomplete="off" spellcheck="false">
<span id="matched"></span>
<button id="reset" type="button" disabled>reset zoom</button>
<span id="zoomed"></span>
</div>
<ul id="legend"></ul>
</header>
<div id="graph"></div>
<div id="tip" hidden></div>
<script type="application/json" id="profile-data">${scriptJson(data)}</script>
<script>
(${flamegraphViewer.toString()})(JSON.parse(document.getElementById('profile-data').textContent));
</script>
</body>
</html>
`;
}
