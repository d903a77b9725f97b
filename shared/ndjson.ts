/** Splits streamed text into its non-empty lines; a line may arrive over many chunks. */
export class LineSplitter {
  private pending = '';

  /** @param maxLine longest line accepted, in characters: a peer that never sends a newline cannot grow this without bound. */
  constructor(private readonly maxLine = Infinity) {}

  /** The lines that `text` completes. Throws RangeError once an unfinished line is longer than maxLine. */
  push(text: string): string[] {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop() ?? '';
    if (this.pending.length > this.maxLine) throw new RangeError(`a line of more than ${this.maxLine} characters`);
    return lines.filter((line) => line.trim() !== '');
  }

  /** What is left after the last newline, at the end of the stream. */
  rest(): string | undefined {
    return this.pending.trim() === '' ? undefined : this.pending;
  }
}

/** The non-empty lines of a streamed NDJSON body (deploy progress, event streams, cold-start follows). */
export async function* ndjsonLines(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (body === null) return;
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) yield* splitter.push(decoder.decode(chunk, { stream: true }));
  const rest = splitter.rest();
  if (rest !== undefined) yield rest;
}
