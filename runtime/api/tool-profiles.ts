import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';
import type { ToolProfileRun } from '../../shared/tool-profiles.js';
import { parseToolProfileRequest } from '../profile-tools/request.js';
import type { ToolProfiles } from '../profile-tools/runs.js';
import { respondWithProgress, sendError, sendJson } from './respond.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
};

/**
 * POST /v1/functions/{name}/profile {"tool", "seconds", "load"?, "share"?, "dir"?}: runs the
 * function's worker under the tool and answers with the finished run (with
 * `Accept: application/x-ndjson`, progress lines first).
 */
export async function startToolProfile(runs: ToolProfiles, name: string, body: unknown, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const session = runs.start(name, parseToolProfileRequest(body));
  await respondWithProgress(req, res, async (progress): Promise<ToolProfileRun> => {
    if (progress !== undefined) session.onProgress(progress);
    const run = await session.finished;
    if (session.failure !== undefined) throw session.failure;
    return run;
  });
}

/** GET /v1/tool-profiles: every run held; /ID: one run; /ID/FILE: one of its files (FILE's "/" sent as %2F). */
export function serveToolProfiles(runs: ToolProfiles, method: string, id: string | undefined, file: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  if (method !== 'GET') return sendError(res, new HearthError('HEARTH_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on /v1/tool-profiles (start a run with POST /v1/functions/NAME/profile)`), { allow: 'GET' });
  if (id === undefined) return sendJson(res, 200, { runs: runs.list() });
  if (file === undefined) return sendJson(res, 200, runs.get(id).run);
  const where = runs.file(id, file);
  const { size } = fs.statSync(where);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[path.extname(where)] ?? 'application/octet-stream',
    'content-length': size,
    'content-disposition': `attachment; filename="${path.basename(where).replace(/[^\w.-]/g, '_')}"`,
  });
  fs.createReadStream(where)
    .on('error', (error) => res.destroy(error))
    .pipe(res);
}
