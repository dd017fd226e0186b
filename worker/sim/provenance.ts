// Byte provenance: for any byte of a folio, a disk sector, a FUSE server's
// file or a read's user buffer, which op (thread, index) and which kernel
// path last wrote it. A finding's signature names its cause from it: whose
// write the reader should have seen, and what replaced it
// (worker/exec/cause.ts).
//
// Off unless a run asks for it (RunOptions.provenance): the machine then has
// a recorder, active for the run, and every place the sim moves file bytes
// tells it what it did (a copy keeps the tags, a copy from user space, a
// zeroing or a read from storage makes new ones). The tags live beside the
// memory, one run list per buffer (byte-runs.ts), keyed by the buffer's
// ArrayBuffer, so a subarray of a folio or of a disk chunk finds them too.
//
// Besides the tags, the recorder keeps the moments dirty data was thrown
// away without reaching storage (a dirty folio truncated, writeback skipping
// dirty bytes, a read over dirty bytes): those name the cause when the reader
// saw a hole or older data where a write should be.
//
// It observes only: nothing in the sim reads it back, so a run does the same
// with it or without it.

import { ByteRuns, type TagRun } from './byte-runs.js';
import type { Sched } from './sched.js';

/** How bytes came to be where they are. */
export type ProvPath =
  /** a device or server byte nothing ever wrote */
  | 'never'
  /** page allocator memory nothing initialised */
  | 'uninit'
  /** copied from user space by a buffered write (or a copy_file_range) */
  | 'write'
  /** a store through a shared mapping */
  | 'store'
  /** a direct write's data, from user space */
  | 'dio'
  /** zeroed by the kernel (fn says where: writeback at EOF, write_begin, zero range, truncate, ...) */
  | 'zero'
  /** zeroes a read returned for a hole or an unwritten extent */
  | 'hole'
  /** read from storage (the disk, a FUSE server): `from` is the tag the storage held */
  | 'read';

export interface ProvTag {
  id: number;
  path: ProvPath;
  /** The kernel function that put the bytes there. */
  fn: string;
  /** The sim thread it ran in ('t0', 'flush', 'kswapd', ...); '' in a completion. */
  thread: string;
  /** That thread's op (a kernel thread: its pass); -1 in a completion. */
  op: number;
  /**
   * A 'read': the tag of the bytes it read. A write or direct write from a
   * buffer the kernel filled (copy_file_range's): the tag of the bytes it
   * copied. Else -1.
   */
  from: number;
}

/** Paths that put bytes in memory that storage does not hold until they are written back. */
const UNSTORED_PATHS: ReadonlySet<ProvPath> = new Set(['write', 'store', 'dio', 'zero']);

export const TAG_NEVER = 0;
export const TAG_UNINIT = 1;

/**
 * Dirty bytes that went without reaching storage (dropped with their folio,
 * skipped by writeback, read over from storage), or (kept) cached bytes a
 * direct write left in the page cache over what it wrote.
 */
export type DropHow = 'dropped' | 'skipped' | 'reread' | 'kept';

export interface ProvDrop {
  /** Tags made before it: a tag with an id below was older. */
  seq: number;
  /** Its place among drops and shifts (Provenance.shifts): which shifts came after it. */
  order: number;
  ino: number;
  how: DropHow;
  fn: string;
  /** The tags thrown away (kept: left in the cache), over file offsets. */
  runs: TagRun[];
}

export class Provenance {
  readonly tags: ProvTag[] = [
    { id: TAG_NEVER, path: 'never', fn: '', thread: '', op: -1, from: -1 },
    { id: TAG_UNINIT, path: 'uninit', fn: '', thread: '', op: -1, from: -1 },
  ];
  readonly drops: ProvDrop[] = [];
  /**
   * Collapse (-1) and insert (+1) ranges, in order: where a byte of a file
   * is now is not where an earlier drop saw it (positionThen).
   */
  readonly shifts: { order: number; ino: number; off: number; len: number; dir: 1 | -1 }[] = [];
  /** Orders drops and shifts. */
  private clock = 0;
  /** Reads that failed with no I/O error to say why: the file and the kernel function that failed it, in order. */
  readonly readFailures: { ino: number; pos: number; fn: string }[] = [];
  /** When each tag's bytes first reached storage (a device or a server): the tag count then. */
  readonly landed = new Map<number, number>();
  private readonly mem = new Map<ArrayBufferLike, ByteRuns>();

  /** The machine's scheduler, once it exists: who runs now is who a new tag names. */
  private sched: Sched | null = null;

  /** A collapse (dir -1) or insert (+1) range of [off, off+len) moved the rest of file `ino`. */
  shifted(ino: number, off: number, len: number, dir: 1 | -1): void {
    this.shifts.push({ order: ++this.clock, ino, off, len, dir });
  }

  /**
   * Where the byte of file `ino` now at pos was at drop `d`: the shifts
   * since, undone newest first; -1 for a byte an insert made since (it was
   * nowhere).
   */
  positionThen(ino: number, pos: number, d: { order: number }): number {
    let p = pos;
    for (let i = this.shifts.length - 1; i >= 0 && p >= 0; i--) {
      const sh = this.shifts[i]!;
      if (sh.order < d.order) break;
      if (sh.ino !== ino || p < sh.off) continue;
      if (sh.dir < 0) p += sh.len;
      else p = p < sh.off + sh.len ? -1 : p - sh.len;
    }
    return p;
  }

  attach(sched: Sched): void {
    this.sched = sched;
  }

  /** The runs of a buffer's memory (absolute byte offsets in its ArrayBuffer). */
  private runsOf(buf: Uint8Array): ByteRuns {
    let r = this.mem.get(buf.buffer);
    if (!r) this.mem.set(buf.buffer, (r = new ByteRuns(TAG_UNINIT)));
    return r;
  }

  /** A new tag for what the current thread (its current op) does now. */
  fresh(path: ProvPath, fn: string): number {
    const t = this.sched?.current ?? null;
    return this.push({ id: this.tags.length, path, fn, thread: t?.name ?? '', op: t ? t.op : -1, from: -1 });
  }

  private push(tag: ProvTag): number {
    this.tags.push(tag);
    return tag.id;
  }

  /** buf[from, to) holds `tag` (new memory: TAG_UNINIT; a device's or a server's never-written bytes: TAG_NEVER). */
  setTag(buf: Uint8Array, from: number, to: number, tag: number): void {
    if (to > from) this.runsOf(buf).set(buf.byteOffset + from, buf.byteOffset + to, tag);
  }

  /** buf[from, to) now holds bytes the current op put there by `path` in `fn`. */
  mark(buf: Uint8Array, from: number, to: number, path: ProvPath, fn: string): void {
    if (to <= from) return;
    this.runsOf(buf).set(buf.byteOffset + from, buf.byteOffset + to, this.fresh(path, fn));
  }

  /**
   * dst[dstOff, dstOff+n) was copied in by the current op from src[srcOff,
   * srcOff+n) by `path` in `fn`: new bytes of the op, each run remembering
   * what it copied when the source is memory the sim filled (a
   * copy_file_range's buffer, read from the source file), not a user buffer.
   */
  copyIn(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number, path: ProvPath, fn: string): void {
    if (n <= 0) return;
    const t = this.sched?.current ?? null;
    const runs = this.runsOf(dst);
    for (const [a, b, from] of this.runsOf(src).runs(src.byteOffset + srcOff, src.byteOffset + srcOff + n)) {
      const tag = this.push({ id: this.tags.length, path, fn, thread: t?.name ?? '', op: t ? t.op : -1, from: from === TAG_UNINIT ? -1 : from });
      const to = dst.byteOffset + dstOff + (a - src.byteOffset - srcOff);
      runs.set(to, to + (b - a), tag);
    }
  }

  /** dst[dstOff, dstOff+n) was copied from src[srcOff, srcOff+n): the tags go with the bytes. */
  copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
    if (n <= 0) return;
    this.runsOf(dst).copyFrom(this.runsOf(src), src.byteOffset + srcOff, dst.byteOffset + dstOff, n);
  }

  /** buf[from, to) was just read from storage by `fn`: each byte's tag becomes a read of what storage held. */
  derive(buf: Uint8Array, from: number, to: number, fn: string): void {
    if (to <= from) return;
    const runs = this.runsOf(buf);
    const made = new Map<number, number>();
    const map = (t: number): number => {
      let d = made.get(t);
      // A completion reads: the tag belongs to no thread.
      if (d === undefined) made.set(t, (d = this.push({ id: this.tags.length, path: 'read', fn, thread: '', op: -1, from: t })));
      return d;
    };
    runs.copyFrom(runs, buf.byteOffset + from, buf.byteOffset + from, to - from, map);
  }

  /** The tags of buf[from, to), over offsets relative to buf[0] plus `base`. */
  runsIn(buf: Uint8Array, from: number, to: number, base = 0): TagRun[] {
    const shift = base - buf.byteOffset;
    return this.runsOf(buf).runs(buf.byteOffset + from, buf.byteOffset + to).map(([a, b, t]): TagRun => [a + shift, b + shift, t]);
  }

  /** The tag of buf[i]. */
  tagAt(buf: Uint8Array, i: number): number {
    return this.runsOf(buf).get(buf.byteOffset + i);
  }

  /** Dirty bytes of file `ino` at file offset `pos` (buf[from, to)) went without reaching storage. */
  dropped(ino: number, pos: number, buf: Uint8Array, from: number, to: number, how: DropHow, fn: string): void {
    if (to <= from) return;
    this.drops.push({ seq: this.tags.length, order: ++this.clock, ino, how, fn, runs: this.runsIn(buf, from, to, pos - from) });
  }

  /**
   * Bytes of file `ino` at file offset `pos` (buf[from, to)) are about to be
   * taken for clean with no storage holding them: those a write, a store or
   * a zeroing put there that never reached storage (bytes read from storage
   * are there already). Recorded when there are any.
   */
  droppedUnstored(ino: number, pos: number, buf: Uint8Array, from: number, to: number, how: DropHow, fn: string): void {
    if (to <= from) return;
    const runs = this.runsIn(buf, from, to, pos - from).filter(([, , t]) => UNSTORED_PATHS.has(this.tags[t]!.path) && !this.landed.has(t));
    if (runs.length > 0) this.drops.push({ seq: this.tags.length, order: ++this.clock, ino, how, fn, runs });
  }

  /** buf[from, to) was written to storage: its tags landed there now (the first time counts). */
  stored(buf: Uint8Array, from: number, to: number): void {
    for (const [, , t] of this.runsOf(buf).runs(buf.byteOffset + from, buf.byteOffset + to)) {
      if (!this.landed.has(t)) this.landed.set(t, this.tags.length);
    }
  }

  /**
   * A direct write of file `ino` completed (in `fn`) with cached bytes still
   * over what it wrote: buf[from, to) of a folio, at file offset `at`.
   */
  kept(ino: number, at: number, buf: Uint8Array, from: number, to: number, fn: string): void {
    if (to <= from) return;
    this.drops.push({ seq: this.tags.length, order: ++this.clock, ino, how: 'kept', fn, runs: this.runsIn(buf, from, to, at - from) });
  }

  /** The tag a 'read' was made from, back to the bytes' origin. */
  origin(tag: number): ProvTag {
    let t = this.tags[tag]!;
    while (t.path === 'read' && t.from >= 0) t = this.tags[t.from]!;
    return t;
  }
}

let active: Provenance | null = null;

/** The recorder of the run under way, or null when it runs without one. */
export function provenance(): Provenance | null {
  return active;
}

/** Run fn with `p` recording (null: none). */
export function withProvenance<T>(p: Provenance | null, fn: () => T): T {
  const before = active;
  active = p;
  try {
    return fn();
  } finally {
    active = before;
  }
}
