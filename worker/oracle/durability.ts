// The durability oracle: what a file may hold after a power cut.
//
// fsync(2)/fdatasync(2) returning 0 (and a clean unmount) make the file's
// whole content and size durable: that is the stable point. Every byte the
// file held at some moment since (each op's effect, as the shadow model saw
// it) is a value a crash may legitimately leave there: the new data may or may
// not have reached the media, per sector, and the metadata that maps it (an
// extent conversion, a size update, a punch) may or may not have been
// committed. A byte no op touched since the stable point must read back
// exactly; a touched one must hold its stable value or a value it held since,
// never anything else (another file's data, a reused block's old content).
//
// The size after recovery is the size of the last commit that held the inode:
// ext4 moves i_disksize as delayed allocation maps blocks at writeback and in
// truncate/fallocate (ext4_update_disksize, under a handle), xfs moves di_size
// at I/O completion (xfs_end_ioend -> xfs_setfilesize) and in setattr; either
// way a committed size is one the file had since the stable point, or one
// between two of them while an extension was being written back. So it lies
// within the range of sizes the file had since the stable point.
//
// The oracle knows nothing of the filesystem's internals nor of bug switches:
// only the program's ops, their results and what the files hold after recovery.

import type { TagRun } from '../sim/byte-runs.js';
import type { ShadowFile } from './shadow.js';

/** Bytes a file held at some moment: a run at off. */
export interface Run {
  off: number;
  data: Uint8Array;
}

export type DurabilityVerdict =
  | { what: 'size'; detail: string }
  /**
   * 'durable': a byte untouched since the stable point changed; 'garbage':
   * neither old nor new. The byte at `pos` is `got`, where `want` was made
   * durable.
   */
  | { what: 'durable' | 'garbage'; detail: string; pos: number; got: number; want: number };

const NO_WORDS = new Int32Array(0);

/**
 * Append to `out` the runs of `cur` that differ from `last` (bytes past the
 * end of `last` differ), each as its offset and a copy. It runs after an op
 * changed a file of a program with a power cut (DurableFile.note tells equal
 * contents by a native memcmp first), and an op changes little of a file:
 * equal spans are skipped a word at a time, and bytes are compared only where
 * words differ.
 */
export function changedRuns(last: Uint8Array, cur: Uint8Array, out: Run[]): void {
  const common = Math.min(last.length, cur.length);
  const aligned = last.byteOffset % 4 === 0 && cur.byteOffset % 4 === 0;
  const words = aligned ? common >> 2 : 0;
  const lw = aligned ? new Int32Array(last.buffer, last.byteOffset, words) : NO_WORDS;
  const cw = aligned ? new Int32Array(cur.buffer, cur.byteOffset, words) : NO_WORDS;
  for (let i = 0; i < cur.length; ) {
    if ((i & 3) === 0 && i < words << 2) {
      let w = i >> 2;
      while (w < words && lw[w] === cw[w]) w++;
      if ((w << 2) !== i) {
        i = w << 2;
        continue;
      }
    }
    if (i < common && cur[i] === last[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < cur.length && !(j < common && cur[j] === last[j])) j++;
    out.push({ off: i, data: cur.slice(i, j) });
    i = j;
  }
}

/** The shadow's state at one moment (see DurableFile.capture). */
export interface StableCapture {
  content: Uint8Array;
  /** Who wrote each byte of it (the shadow's writer ids). */
  writers: TagRun[];
  unknown: Uint8Array | null;
  lostWrites: boolean;
}

/**
 * What made the file's content durable at its stable point: the kernel call
 * whose promise a durability verdict says was broken, whatever filesystem
 * recovered (a finding's site: one bug, one signature on xfs and ext4 alike).
 * sync_filesystem also stands for the state the program began in and what
 * recovery left, both on disk when the program saw them.
 */
export type StableBy = 'vfs_fsync_range' | 'sync_filesystem';

export class DurableFile {
  /** The call that made the stable point durable. */
  stableBy: StableBy = 'sync_filesystem';
  /** The content at the stable point. */
  private stable: Uint8Array = new Uint8Array(0);
  /** Who wrote each byte of it: a verdict names whose durable bytes were lost. */
  private stableWriters: TagRun[] = [];
  /** What the file held after each change since the stable point, as the runs that changed. */
  private runs: Run[] = [];
  /** The content as last noted, to find what the next change touched. */
  private last: Uint8Array = new Uint8Array(0);
  /** 1 where the content was unpredictable at some moment since the stable point; null: none. */
  private wild: Uint8Array | null = null;
  private minSize = 0;
  private maxSize = 0;
  /** A write to the disk failed since the stable point: the recovered size is not predictable. */
  private sizeUnknown = false;
  /**
   * The lowest offset a collapse or insert range shifted blocks from since the
   * stable point (Infinity: none). Until the shift commits, a block keeps its
   * old place in the committed map while new data may reach it through its new
   * place (an overwrite changes no metadata, so nothing orders the two): past
   * this offset a byte may hold anything the file held past it since.
   */
  private shiftFrom = Infinity;

  /** After an op: record what the shadow holds now where it differs from what was last noted. */
  note(shadow: ShadowFile): void {
    const now = shadow.view(0, shadow.size);
    // Most ops leave most files as they were: no copy then.
    if (now.length !== this.last.length || Buffer.compare(now, this.last) !== 0) this.noteChanged(now.slice());
    const u = shadow.unknownIn(0, now.length);
    if (u) {
      if (!this.wild || this.wild.length < now.length) {
        const w = new Uint8Array(Math.max(now.length, this.wild?.length ?? 0));
        if (this.wild) w.set(this.wild);
        this.wild = w;
      }
      // Unknown bytes come in runs: find each run's start natively, then walk it.
      const wild = this.wild;
      for (let i = u.indexOf(1); i >= 0; i = u.indexOf(1, i)) {
        while (i < u.length && u[i]) wild[i++] = 1;
      }
    }
    if (shadow.lostWrites) this.sizeUnknown = true;
  }

  /** The content changed since last noted: keep what changed, and the new content. */
  private noteChanged(cur: Uint8Array): void {
    const last = this.last;
    changedRuns(last, cur, this.runs);
    // A shrink zeroes what it cuts off, in the page cache (the partial block at
    // the new EOF, the tail of the EOF folio at writeback) and from there on disk,
    // possibly before the smaller size is committed: zeroes there are a value too.
    if (cur.length < last.length) this.runs.push({ off: cur.length, data: new Uint8Array(last.length - cur.length) });
    this.last = cur;
    this.minSize = Math.min(this.minSize, cur.length);
    this.maxSize = Math.max(this.maxSize, cur.length);
  }

  /** A collapse or insert range at `off` ran (or may have, when it failed part-way). */
  noteShift(off: number): void {
    this.shiftFrom = Math.min(this.shiftFrom, off);
  }

  /** What the shadow holds now, to be made stable after an fsync that began here. */
  static capture(shadow: ShadowFile): StableCapture {
    return { content: shadow.contents(), writers: shadow.writerRuns(), unknown: shadow.unknownIn(0, shadow.size), lostWrites: shadow.lostWrites };
  }

  /**
   * An fsync that began at `at` succeeded: the file as it was then is durable.
   * What changed while it ran (an AIO completing) is noted after, as changes
   * since the stable point: fsync covers the writes completed before it.
   */
  makeStable(at: StableCapture, now: ShadowFile, by: StableBy): void {
    this.reset(at.content, at.writers);
    this.stableBy = by;
    if (at.unknown) this.wild = at.unknown;
    this.sizeUnknown = at.lostWrites;
    this.note(now);
  }

  /** The largest size the file had since the stable point. */
  get largestSize(): number {
    return this.maxSize;
  }

  /** The writer id of the stable point's byte at pos (0: the zeroes nobody wrote). */
  stableWriterAt(pos: number): number {
    return this.stableWriters.find(([a, b]) => pos >= a && pos < b)?.[2] ?? 0;
  }

  /** Start over from content known to be on disk (what recovery left), written by `writers`. */
  reset(content: Uint8Array, writers: TagRun[]): void {
    this.stableBy = 'sync_filesystem';
    this.stable = content;
    this.stableWriters = writers;
    this.last = content;
    this.runs = [];
    this.wild = null;
    this.minSize = this.maxSize = content.length;
    this.sizeUnknown = false;
    this.shiftFrom = Infinity;
  }

  /** Every byte value the file held at or past `from` since the stable point. */
  private valuesFrom(from: number): Uint8Array {
    const seen = new Uint8Array(256);
    for (let i = from; i < this.stable.length; i++) seen[this.stable[i]!] = 1;
    for (const r of this.runs) {
      for (let i = Math.max(0, from - r.off); i < r.data.length; i++) seen[r.data[i]!] = 1;
    }
    seen[0] = 1;
    return seen;
  }

  /** Some byte at or past `from` was unpredictable since the stable point. */
  private wildFrom(from: number): boolean {
    const w = this.wild;
    if (!w) return false;
    for (let i = from; i < w.length; i++) if (w[i]) return true;
    return false;
  }

  /** Judge what recovery left; null when it is a state a crash may leave. */
  judge(got: Uint8Array): DurabilityVerdict | null {
    if (!this.sizeUnknown && (got.length < this.minSize || got.length > this.maxSize)) {
      return {
        what: 'size',
        detail: `recovered size ${got.length}, but the file was between ${this.minSize} and ${this.maxSize} bytes since it was last made durable`,
      };
    }
    const shifted = this.shiftFrom < got.length ? this.valuesFrom(this.shiftFrom) : null;
    // A byte that was unpredictable past the shift (a write in flight at the
    // cut) may show at any shifted place, as the known values do.
    const shiftedWild = shifted !== null && this.wildFrom(this.shiftFrom);
    for (let i = 0; i < got.length; i++) {
      const v = got[i]!;
      const old = i < this.stable.length ? this.stable[i]! : 0;
      if (v === old || this.wild?.[i]) continue;
      if (shifted && i >= this.shiftFrom && (shifted[v] || shiftedWild)) continue;
      let touched = false;
      let seen = false;
      for (const r of this.runs) {
        if (i < r.off || i >= r.off + r.data.length) continue;
        touched = true;
        if (r.data[i - r.off] === v) {
          seen = true;
          break;
        }
      }
      if (seen) continue;
      if (!touched) {
        return { what: 'durable', pos: i, got: v, want: old, detail: `byte ${i} is 0x${v.toString(16)}, but 0x${old.toString(16)} was made durable there and nothing changed it since` };
      }
      return { what: 'garbage', pos: i, got: v, want: old, detail: `byte ${i} is 0x${v.toString(16)}: neither its durable value 0x${old.toString(16)} nor any value written there since` };
    }
    return null;
  }
}
