// The file formats a profile is exported in, for the agent's API and the CLI. (Grafana's flame
// graph frame is JSON served as it is: grafana.ts.)
import type { Profile } from '../model.js';
import { toFolded } from './folded.js';
import { toHtml } from './html.js';
import { toPprof } from './pprof.js';
import { toSpeedscope } from './speedscope.js';

export const PROFILE_FORMATS = ['pprof', 'folded', 'speedscope', 'html'] as const;
export type ProfileFormat = (typeof PROFILE_FORMATS)[number];

export interface ExportedProfile {
  body: Buffer | string;
  contentType: string;
  /** The file name ending the format is known by, without the leading dot. */
  extension: string;
}

const EXPORTERS: Record<ProfileFormat, (profile: Profile) => ExportedProfile> = {
  pprof: (profile) => ({ body: toPprof(profile), contentType: 'application/octet-stream', extension: 'pb.gz' }),
  folded: (profile) => ({ body: toFolded(profile), contentType: 'text/plain; charset=utf-8', extension: 'folded' }),
  speedscope: (profile) => ({ body: JSON.stringify(toSpeedscope(profile)), contentType: 'application/json', extension: 'speedscope.json' }),
  html: (profile) => ({ body: toHtml(profile), contentType: 'text/html; charset=utf-8', extension: 'html' }),
};

export function exportProfile(profile: Profile, format: ProfileFormat): ExportedProfile {
  return EXPORTERS[format](profile);
}
