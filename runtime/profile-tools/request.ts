import { PROFILE_TOOLS, TOOL_PROFILE_SECONDS, type ProfileToolName, type ToolProfileRequest } from '../../shared/tool-profiles.js';
import { Checker, show } from '../manifest/parse.js';

const FIELDS = ['tool', 'seconds', 'load', 'share', 'dir'];

/** Validates the body of POST /v1/functions/NAME/profile; errors name the field. */
export function parseToolProfileRequest(body: unknown): ToolProfileRequest {
  const check: Checker = new Checker({ label: 'request body' });
  const fields = check.object(body, '');
  check.noUnknown(fields, FIELDS, '');
  const tool = check.string(fields['tool'], 'tool');
  if (!(PROFILE_TOOLS as readonly string[]).includes(tool)) check.fail('tool', `must be one of ${PROFILE_TOOLS.join(', ')} (got ${JSON.stringify(tool)})`);
  if (fields['seconds'] === undefined) check.fail('seconds', 'is required');
  const request: ToolProfileRequest = { tool: tool as ProfileToolName, seconds: check.int(fields['seconds'], 'seconds', 0, TOOL_PROFILE_SECONDS.min, TOOL_PROFILE_SECONDS.max) };
  const { load, share, dir } = fields;
  if (load !== undefined) {
    if (typeof load !== 'string') check.fail('load', `must be a string: the request body to send (got ${show(load)})`);
    request.load = load;
  }
  if (share !== undefined) {
    if (typeof share !== 'number' || !(share > 0 && share <= 1)) check.fail('share', `must be a number above 0 and at most 1 (got ${show(share)})`);
    request.share = share;
  }
  if (dir !== undefined) request.dir = check.path(dir, 'dir');
  return request;
}
