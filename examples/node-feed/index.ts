// A Node/TypeScript function that builds a user's feed: per request it makes a few
// thousand short-lived objects (candidate events, scored entries, strings) and keeps the
// last few feeds for deduplication, so much of what it allocates lives just long enough
// to outlast a small young generation. Under a memory limit Node sizes V8's semi-space
// from the limit (1 MiB at 256 MiB), and scavenges then take a large share of its CPU;
// --max-semi-space-size trades memory for that CPU (examples/gc.json; the GC tuner
// chooses it).
//
// Request: a user id (decimal). Response: {"user", "entries": [{"id", "title", "score"}, ...]}.
import type { Handler } from 'hearth/sdk';

const CANDIDATES = 2000;
const SHOWN = 20;
/** Feeds kept for deduplication: what makes young objects survive a scavenge or two. */
const RECENT = 32;
const KINDS = ['post', 'photo', 'video', 'link', 'event'] as const;

interface Candidate {
  id: number;
  kind: (typeof KINDS)[number];
  author: string;
  tags: string[];
  age: number;
}

interface Entry {
  id: number;
  title: string;
  score: number;
}

const recent: Entry[][] = [];
/** How many of the recent feeds hold each id. */
const recentIds = new Map<number, number>();

function candidates(user: number): Candidate[] {
  const list: Candidate[] = [];
  let x = (user * 2654435761) >>> 0 || 1;
  for (let i = 0; i < CANDIDATES; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    list.push({ id: x % 1_000_000, kind: KINDS[x % KINDS.length]!, author: `user-${x % 5000}`, tags: [`t${x % 7}`, `t${x % 11}`], age: x % 86_400 });
  }
  return list;
}

function remember(feed: Entry[]): void {
  recent.push(feed);
  for (const entry of feed) recentIds.set(entry.id, (recentIds.get(entry.id) ?? 0) + 1);
  if (recent.length <= RECENT) return;
  for (const entry of recent.shift()!) {
    const count = recentIds.get(entry.id)! - 1;
    if (count === 0) recentIds.delete(entry.id);
    else recentIds.set(entry.id, count);
  }
}

export const handler: Handler = (request) => {
  const user = Number(request.toString('utf8').trim());
  if (!Number.isSafeInteger(user) || user < 0) throw new RangeError(`want a user id, got ${JSON.stringify(request.toString('utf8').slice(0, 40))}`);
  const scored = candidates(user)
    .filter((candidate) => candidate.kind !== 'link')
    .map((candidate) => ({ id: candidate.id, title: `${candidate.author} shared a ${candidate.kind} [${candidate.tags.join(', ')}]`, score: 1 / (1 + candidate.age / 3600) + candidate.tags.length / 10 }))
    .sort((a, b) => b.score - a.score || a.id - b.id);
  const entries = scored.filter((entry) => !recentIds.has(entry.id)).slice(0, SHOWN);
  remember(scored.slice(0, 200));
  return { user, entries };
};
