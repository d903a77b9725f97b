import type { ProfileToolName } from '../../shared/tool-profiles.js';
import { clinicDoctor } from './clinic-doctor.js';
import { clinicFlame } from './clinic-flame.js';
import type { ProfileTool } from './tool.js';
import { zeroX } from './zerox.js';

export const PROFILE_TOOL_IMPLEMENTATIONS: Record<ProfileToolName, ProfileTool> = {
  '0x': zeroX,
  'clinic-doctor': clinicDoctor,
  'clinic-flame': clinicFlame,
};
