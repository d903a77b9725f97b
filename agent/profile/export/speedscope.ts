// A profile as a speedscope file (speedscope's src/lib/file-format-spec.ts; its JSON schema is
// published as file-format-schema.json).
import type { Profile } from '../model.js';
import { compareText, frameLabel, InternTable, placeKey } from './frames.js';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export interface SpeedscopeFrame {
  name: string;
  /** The source file where known, else the module: speedscope shows it beside the name. */
  file: string;
  line?: number;
}

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: 'nanoseconds';
  startValue: number;
  endValue: number;
  /** Stacks as indexes into shared.frames, root first. */
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  name: string;
  exporter: string;
  activeProfileIndex: number;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SpeedscopeSampledProfile[];
}

/**
 * One merged `sampled` profile, not one per worker: a cold-start profile sums hundreds of
 * short-lived workers running the same code, and a list of that many near-identical
 * profiles would hide the picture the sum gives. Identical stacks are merged and sorted,
 * so speedscope's time-order view reads like a flame graph (the samples carry no times).
 */
export function toSpeedscope(profile: Profile): SpeedscopeFile {
  const frames = new InternTable<SpeedscopeFrame>();
  const weights = new Map<string, { stack: number[]; weight: number }>();
  for (const sample of profile.samples) {
    const stack = sample.stack.map((frame) =>
      frames.indexOf(placeKey(frame), () => ({ name: frameLabel(frame), file: frame.file ?? frame.module, ...(frame.line === undefined ? {} : { line: frame.line }) })),
    );
    const key = stack.join(',');
    const known = weights.get(key) ?? { stack, weight: 0 };
    known.weight += sample.count * profile.periodNs;
    weights.set(key, known);
  }
  const byName = (stack: number[]): string => stack.map((index) => frames.rows[index]!.name).join('\n');
  const merged = [...weights.values()].map((entry) => ({ ...entry, order: byName(entry.stack) })).sort((a, b) => compareText(a.order, b.order));
  const name = `${profile.function} (${profile.phase})`;
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    name,
    exporter: 'hearth',
    activeProfileIndex: 0,
    shared: { frames: frames.rows },
    profiles: [
      {
        type: 'sampled',
        name,
        unit: 'nanoseconds',
        startValue: 0,
        endValue: merged.reduce((sum, entry) => sum + entry.weight, 0),
        samples: merged.map((entry) => entry.stack),
        weights: merged.map((entry) => entry.weight),
      },
    ],
  };
}
