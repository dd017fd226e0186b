// A tag per byte, kept as runs: [start, next start) holds one tag. Byte
// provenance (provenance.ts) keeps one of these per buffer, and the oracle's
// shadow one per file (who wrote each byte), so that a run of a thousand
// bytes written at once costs one entry, not a thousand.
//
// The runs cover [0, Infinity): the last run goes on forever. Adjacent runs
// never hold the same tag.

/** A run of one tag: [start, end). */
export type TagRun = [start: number, end: number, tag: number];

/** The one piece `set` replaces its range by (read only during the call: no allocation per set). */
const ONE_RUN: TagRun = [0, 0, 0];
const ONE_PIECE: readonly TagRun[] = [ONE_RUN];

export class ByteRuns {
  /** starts[k] is where run k begins; starts[0] is 0. */
  private starts: number[] = [0];
  private tags: number[];

  constructor(initial: number) {
    this.tags = [initial];
  }

  /** The index of the run holding pos. */
  private find(pos: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The tag of the byte at pos. */
  get(pos: number): number {
    return this.tags[this.find(pos)]!;
  }

  /** Tag every byte of [a, b). */
  set(a: number, b: number, tag: number): void {
    if (b <= a) return;
    ONE_RUN[0] = a;
    ONE_RUN[1] = b;
    ONE_RUN[2] = tag;
    this.replace(a, b, ONE_PIECE);
  }

  /** The runs over [a, b), clipped to it. */
  runs(a: number, b: number): TagRun[] {
    const out: TagRun[] = [];
    if (b <= a) return out;
    const s = this.starts;
    for (let k = this.find(a); k < s.length && s[k]! < b; k++) {
      const end = k + 1 < s.length ? s[k + 1]! : Infinity;
      out.push([Math.max(a, s[k]!), Math.min(b, end), this.tags[k]!]);
    }
    return out;
  }

  /** Copy the tags of src's [from, from+n) over [to, to+n), each mapped through `map` when given. */
  copyFrom(src: ByteRuns, from: number, to: number, n: number, map?: (tag: number) => number): void {
    if (n <= 0) return;
    const shift = to - from;
    const pieces = src.runs(from, from + n).map(([a, b, t]): TagRun => [a + shift, b + shift, map ? map(t) : t]);
    this.replace(to, to + n, pieces);
  }

  /**
   * Replace [a, b) by pieces that tile it exactly, in order: the runs from
   * the one holding a to the one holding b give way to the kept head of the
   * first, the pieces and the rest of the last, merged where neighbours hold
   * the same tag. Built in shared scratch arrays and moved into place, since
   * every write to a shadow file comes here.
   */
  private replace(a: number, b: number, pieces: readonly TagRun[]): void {
    const s = this.starts;
    const t = this.tags;
    const first = this.find(a);
    // The run holding b (the first byte kept) goes on from b with its tag.
    const last = b === Infinity ? s.length - 1 : this.find(b);
    const ns = NEW_STARTS;
    const nt = NEW_TAGS;
    let n = 0;
    if (s[first]! < a) {
      ns[n] = s[first]!;
      nt[n++] = t[first]!;
    }
    // A piece with the tag before it continues that run (the one before `first`, when nothing is new yet).
    let prev = first > 0 ? t[first - 1]! : NaN;
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k]!;
      if ((n > 0 ? nt[n - 1]! : prev) === p[2]) continue;
      ns[n] = p[0];
      nt[n++] = p[2];
    }
    prev = n > 0 ? nt[n - 1]! : prev;
    if (b !== Infinity && prev !== t[last]) {
      ns[n] = b;
      nt[n++] = t[last]!;
      prev = t[last]!;
    }
    // The run after the replaced ones may continue the last new one.
    const through = last + 1 < t.length && t[last + 1] === prev ? last + 1 : last;
    spliceInto(s, first, through - first + 1, ns, n);
    spliceInto(t, first, through - first + 1, nt, n);
  }
}

/** Where replace() builds the runs it puts in (shared: it never nests). */
const NEW_STARTS: number[] = [];
const NEW_TAGS: number[] = [];

/** arr.splice(at, del, ...src.slice(0, n)), in place: no arrays made, no spread. */
function spliceInto(arr: number[], at: number, del: number, src: readonly number[], n: number): void {
  const len = arr.length;
  const shift = n - del;
  if (shift > 0) {
    // Grow by pushing first, so the array never has holes.
    for (let k = 0; k < shift; k++) arr.push(0);
    for (let i = len - 1; i >= at + del; i--) arr[i + shift] = arr[i]!;
  } else if (shift < 0) {
    for (let i = at + del; i < len; i++) arr[i + shift] = arr[i]!;
    arr.length = len + shift;
  }
  for (let i = 0; i < n; i++) arr[at + i] = src[i]!;
}