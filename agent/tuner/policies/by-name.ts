// The pool policies by name, for whoever picks one at run time: the agent (`--tuner-policy`)
// and the tuner benchmark, which runs each of them on the same traffic.

import { alwaysColdPolicy } from './always-cold.js';
import { FixedKeepAlivePolicy } from './fixed-keepalive.js';
import { HearthPolicy, type HearthOptions } from './hearth.js';
import { HybridHistogramPolicy } from './hybrid-histogram.js';
import type { PoolPolicy } from './policy.js';

export const POLICY_NAMES = ['hearth', 'fixed-keepalive-10min', 'hybrid-histogram', 'always-cold'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface PolicySetup {
  /** Trace time per clock time: 1 live, more when replaying a trace faster. */
  compression: number;
  /** Prices for the hearth policy (the others do not price anything). */
  hearth?: Pick<HearthOptions, 'latencyPricePerMs' | 'memoryPricePerMbSecond'>;
}

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

export function createPolicy(name: PolicyName, { compression, hearth = {} }: PolicySetup): PoolPolicy {
  switch (name) {
    case 'hearth':
      return new HearthPolicy({ ...hearth, compression });
    case 'fixed-keepalive-10min':
      return new FixedKeepAlivePolicy({ compression });
    case 'hybrid-histogram':
      return new HybridHistogramPolicy({ compression });
    case 'always-cold':
      return alwaysColdPolicy();
  }
}
