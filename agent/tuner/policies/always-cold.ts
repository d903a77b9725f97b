// The floor to compare against: no pool at all (min 0, keep-alive 0), so every request
// pays a cold start and no memory is ever held idle.

import { FixedKeepAlivePolicy } from './fixed-keepalive.js';

export function alwaysColdPolicy(): FixedKeepAlivePolicy {
  return new FixedKeepAlivePolicy({ keepAliveMs: 0, name: 'always-cold' });
}
