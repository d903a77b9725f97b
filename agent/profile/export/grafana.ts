// A profile as the data frame Grafana's flame graph panel reads ("Data API" of the flame graph
// visualization: fields level, value, self and label in nested-set order), in Grafana's
// data-frame JSON form (DataFrameJSON: schema + columnar values), which JSON data sources pass
// through as it is.
import type { Profile } from '../model.js';
import { callTree, nestedSet } from './tree.js';

export interface GrafanaFieldSchema {
  name: 'level' | 'value' | 'self' | 'label';
  type: 'number' | 'string';
  config?: { unit: string };
}

export interface GrafanaFlameFrame {
  schema: {
    name: string;
    /** Lets Grafana pick the flame graph panel for the frame by itself (Explore does). */
    meta: { preferredVisualisationType: 'flamegraph' };
    fields: GrafanaFieldSchema[];
  };
  /** One column per field, in the order of schema.fields. */
  data: { values: [level: number[], value: number[], self: number[], label: string[]] };
}

/** Counts of samples: the panel's "short" unit, a plain number. */
const SAMPLES = { unit: 'short' };

/**
 * The profile's call tree, depth-first (each node followed by its callees), with a `total`
 * root at level 0; `value` is a node's samples including its callees', `self` its own.
 */
export function toFlameFrame(profile: Profile): GrafanaFlameFrame {
  const rows = nestedSet(callTree(profile));
  return {
    schema: {
      name: `${profile.function} ${profile.phase}`,
      meta: { preferredVisualisationType: 'flamegraph' },
      fields: [
        { name: 'level', type: 'number' },
        { name: 'value', type: 'number', config: SAMPLES },
        { name: 'self', type: 'number', config: SAMPLES },
        { name: 'label', type: 'string' },
      ],
    },
    data: {
      values: [rows.map((row) => row.level), rows.map((row) => row.node.total), rows.map((row) => row.node.self), rows.map((row) => row.node.label)],
    },
  };
}
