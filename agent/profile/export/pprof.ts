// A profile as gzipped profile.proto, what `go tool pprof` and Pyroscope read (google/pprof
// proto/profile.proto), encoded by DataDog's pprof-format.
import { gzipSync } from 'node:zlib';
import {
  Function as PprofFunction,
  Label,
  Location,
  Mapping,
  Profile as PprofProfile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import type { Frame, Profile } from '../model.js';
import { frameLabel, InternTable, placeKey } from './frames.js';

const NANOS_PER_MS = 1_000_000n;

/**
 * The profile's samples, one per worker and stack, each valued as `samples/count` and
 * `cpu/nanoseconds` (count × period), labelled with function, phase and pid. Locations are
 * leaf first, as pprof wants them; IDs of mappings, functions and locations start at 1.
 */
export function toPprof(profile: Profile): Buffer {
  const strings = new StringTable();
  const tables = new PprofTables(strings);
  const label = { function: strings.dedup('function'), phase: strings.dedup('phase'), pid: strings.dedup('pid') };
  const samples = profile.samples.map(
    (sample) =>
      new Sample({
        locationId: sample.stack.map((frame) => tables.locationId(frame)).reverse(),
        value: [sample.count, sample.count * profile.periodNs],
        label: [
          new Label({ key: label.function, str: strings.dedup(sample.labels.function) }),
          new Label({ key: label.phase, str: strings.dedup(sample.labels.phase) }),
          new Label({ key: label.pid, num: sample.labels.pid }),
        ],
      }),
  );
  const cpuNanoseconds = new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') });
  const encoded = new PprofProfile({
    sampleType: [new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }), cpuNanoseconds],
    sample: samples,
    mapping: tables.mappings.rows,
    location: tables.locations.rows,
    function: tables.functions.rows,
    stringTable: strings,
    // Nanoseconds since 1970 pass 2^53: BigInt keeps them exact.
    timeNanos: BigInt(Math.round(profile.startUnixMs)) * NANOS_PER_MS,
    durationNanos: BigInt(Math.round(profile.durationMs)) * NANOS_PER_MS,
    periodType: cpuNanoseconds,
    period: profile.periodNs,
  }).encode();
  return gzipSync(encoded);
}

/** The mapping, function and location tables, each row added the first time a frame needs it. */
class PprofTables {
  readonly mappings = new InternTable<Mapping>();
  readonly functions = new InternTable<PprofFunction>();
  readonly locations = new InternTable<Location>();

  constructor(private readonly strings: StringTable) {}

  locationId(frame: Frame): number {
    return 1 + this.locations.indexOf(placeKey(frame), (index) => new Location({
      id: index + 1,
      mappingId: this.mappingId(frame.module),
      line: [{ functionId: this.functionId(frame), line: frame.line ?? 0 }],
    }));
  }

  /** One mapping per module; its symbols are already resolved, so pprof never looks for them. */
  private mappingId(module: string): number {
    return 1 + this.mappings.indexOf(module, (index) => new Mapping({ id: index + 1, filename: this.strings.dedup(module), hasFunctions: true }));
  }

  /** One function per name and source file (unknown frames named with their module, so they stay apart). */
  private functionId(frame: Frame): number {
    const name = frameLabel(frame);
    const file = frame.file ?? '';
    return 1 + this.functions.indexOf(JSON.stringify([name, frame.name, file]), (index) => new PprofFunction({
      id: index + 1,
      name: this.strings.dedup(name),
      systemName: this.strings.dedup(frame.name),
      filename: this.strings.dedup(file),
    }));
  }
}
