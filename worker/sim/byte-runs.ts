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

  /** Replace [a, b) by pieces that tile it exactly, in order. */
  private replace(a: number, b: number, pieces: readonly TagRun[]): void {
    const s = this.starts;
    const t = this.tags;
    const first = this.find(a);
    // The run holding b (the first byte kept) goes on from b with its tag.
    const last = b === Infinity ? s.length - 1 : this.find(b);
    const newStarts: number[] = [];
    const newTags: number[] = [];
    if (s[first]! < a) {
      newStarts.push(s[first]!);
      newTags.push(t[first]!);
    }
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k]!;
      if (newTags.length > 0 && newTags[newTags.length - 1] === p[2]) continue;
      newStarts.push(p[0]);
      newTags.push(p[2]);
    }
    if (b !== Infinity && newTags[newTags.length - 1] !== t[last]) {
      newStarts.push(b);
      newTags.push(t[last]!);
    }
    s.splice(first, last - first + 1, ...newStarts);
    t.splice(first, last - first + 1, ...newTags);
    // The new runs may continue the run before them, or the one after.
    const after = first + newTags.length;
    if (after < t.length && t[after] === t[after - 1]) {
      s.splice(after, 1);
      t.splice(after, 1);
    }
    if (first > 0 && t[first] === t[first - 1]) {
      s.splice(first, 1);
      t.splice(first, 1);
    }
  }
}
