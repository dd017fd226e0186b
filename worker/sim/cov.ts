// Coverage feedback for the fuzzer: which code sites a run reached, and in
// which state.
//
// A site is a named point in a kernel-named function ("iomap_write_begin",
// "iomap_write_begin:read-block"). Its id is a hash of the name, not a
// registration order, so two workers (or two builds with the same site names)
// agree on what a coverage point means. State coverage pairs a site with a
// small state class (the folio's flags, the ifs, the extent type), and
// interleaving coverage pairs the frames of two threads at a context switch:
// a fuzzer that keeps programs reaching new pairs explores states and
// interleavings, not just lines.
//
// Alias pairs (alias.ts) have a region of their own past the site, state and
// switch points, so the fuzzer can tell a program that made two contexts meet.
//
// One map per worker thread: the simulator runs one program at a time, and the
// executor clears the map before each run. Points set a byte; the hot path is
// one store.

const SITE_MAP_BITS = 16;
const COV_MASK = (1 << SITE_MAP_BITS) - 1;
/** Alias pairs are points [ALIAS_BASE, ALIAS_BASE + 2^ALIAS_MAP_BITS). */
export const ALIAS_BASE = 1 << SITE_MAP_BITS;
export const ALIAS_MAP_BITS = 14;
export const COV_MAP_SIZE = ALIAS_BASE + (1 << ALIAS_MAP_BITS);

/** An alias pair's point (alias.ts), not a site's. */
export function isAliasPoint(p: number): boolean {
  return p >= ALIAS_BASE;
}

/** The points reached by the current run (1 = reached). */
export const covMap = new Uint8Array(COV_MAP_SIZE);

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Register a site at module load; the id is stable across processes. */
export function covSite(name: string): number {
  return fnv1a(name) & COV_MASK;
}

/** The site was reached. */
export function cov(site: number): void {
  covMap[site] = 1;
}

/** The site was reached in state class `cls` (a small integer). */
export function covState(site: number, cls: number): void {
  covMap[(site ^ Math.imul(cls + 1, 0x9e3779b1) >>> 16) & COV_MASK] = 1;
}

/** A context switch between two code points (top frames of the two threads). */
export function covSwitch(from: string, to: string): void {
  covMap[(fnv1a(from) ^ (fnv1a(to) >>> 3) ^ 0x5bd1e995) & COV_MASK] = 1;
}

export function covReset(): void {
  covMap.fill(0);
}
