// Module loader hooks that give the fuzzer its coverage: each module under test is
// instrumented with istanbul (statement, branch and function counters) as it is loaded, into
// the global that coverage.ts reads after every execution. Everything else loads unchanged.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What register() hands these hooks: the files (absolute paths) to instrument. */
export interface HookData {
  files: string[];
}

interface Instrumenter {
  instrumentSync(code: string, filename: string): string;
}

export const COVERAGE_GLOBAL = '__hearthFuzzCoverage__';

let wanted = new Set<string>();
let instrumenter: Instrumenter | undefined;

export function initialize(data: HookData): void {
  wanted = new Set(data.files);
  const { createInstrumenter } = createRequire(import.meta.url)('istanbul-lib-instrument') as { createInstrumenter(options: object): Instrumenter };
  instrumenter = createInstrumenter({ coverageVariable: COVERAGE_GLOBAL, esModules: true, compact: true, produceSourceMap: false });
}

type LoadResult = { format?: string | null; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: object) => Promise<LoadResult>;

export async function load(url: string, context: object, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (!url.startsWith('file:') || instrumenter === undefined) return result;
  const file = fileURLToPath(url);
  if (!wanted.has(file) || result.source === undefined || result.source === null) return result;
  const code = typeof result.source === 'string' ? result.source : Buffer.from(result.source as Uint8Array).toString('utf8');
  return { ...result, source: instrumenter.instrumentSync(code, file) };
}
