// Closed-loop load for tests: `clients` requests in flight at all times for a while, every
// response's status counted.

export interface LoadResult {
  requests: number;
  /** Responses by HTTP status. */
  statuses: Map<number, number>;
  /** Bodies of the responses that were not 200, the first few. */
  failures: string[];
}

export async function closedLoop(url: string, clients: number, ms: number, body: (i: number) => string): Promise<LoadResult> {
  const result: LoadResult = { requests: 0, statuses: new Map(), failures: [] };
  const end = Date.now() + ms;
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        const response = await fetch(url, { method: 'POST', body: body(next++) });
        const text = await response.text();
        result.requests++;
        result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1);
        if (response.status !== 200 && result.failures.length < 5) result.failures.push(`${response.status} ${text.slice(0, 300)}`);
      }
    }),
  );
  return result;
}

/** Responses other than 200. */
export function failed(result: LoadResult): number {
  return result.requests - (result.statuses.get(200) ?? 0);
}
