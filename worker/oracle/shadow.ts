// The data oracle: an fsx-style shadow of every file, updated with the effect
// each successful op must have had by POSIX and Linux semantics, so that
// every read can be checked against what the file must hold.

import type { FallocMode } from '../prog/types.js';
import { takeBytes, takeBytesToOverwrite } from '../sim/byte-pool.js';
import { ByteRuns, type TagRun } from '../sim/byte-runs.js';

/**
 * What the op applied now puts in the bytes it changes: its own data, the
 * zeroes its effect implies (a file grown past its end, a hole punched), or
 * what crash recovery left. The model turns it into a writer id (model.ts).
 */
export type WriterKind = 'data' | 'zero' | 'recovered';

export class ShadowFile {
  private buf: Uint8Array = new Uint8Array(0);
  /** 1 where the file's content is legitimately unpredictable; null while there is none. */
  private unknown: Uint8Array | null = null;
  /** Byte ranges [start, end, ...] stored through a mapping past EOF, in the EOF page. */
  private pendingPostEof: number[] = [];
  /**
   * Byte ranges [start, end, ...] past EOF where the disk may hold bytes
   * that are not zeroes: what a failed write to the disk carried there (the
   * zeroed tail of the EOF block, say: the disk keeps older bytes), or what
   * was written there before a power cut took the size back. An extension
   * that does not zero them (ext4's direct write) exposes them. Unknown
   * whenever the file grows over them.
   */
  private stalePastEof: number[] = [];
  /**
   * Byte ranges [start, end, ...] of pendingPostEof stored while an
   * extending AIO write was in flight: its completion sets i_size before the
   * iocb completes (xfs_dio_write_end_io, then the workqueue may sleep on the
   * folio lock the fault holds), so the store may have landed inside the new
   * EOF, in blocks page_mkwrite reserved up to it: file data, or past the old
   * EOF. Unknown when the file grows over them.
   */
  private racingPostEof: number[] = [];
  /** Who wrote each byte: a writer id per run (model.ts Writer). */
  private readonly who = new ByteRuns(0);
  size = 0;
  /** Bumped by every change: tells whether anything happened to the file meanwhile. */
  version = 0;
  /** A write to the disk failed: what survives a remount (data and size) is not predictable. */
  lostWrites = false;
  /**
   * The size is not known: a kernel's trace reported an AIO write's
   * completion after ops that changed the file (it may have landed before
   * them). The next size the trace reports is taken (adoptSize).
   */
  sizeUnknown = false;

  /**
   * @param keepsPostEofStores the filesystem does not zero the old EOF page
   * when the file grows (fuse: fuse_write_update_attr() only sets i_size), so
   * bytes stored through a mapping past EOF reappear as file data if the page
   * is still cached then, or read as zeroes if it was written back or evicted:
   * the oracle cannot tell which and does not judge those bytes.
   */
  constructor(
    private readonly keepsPostEofStores = false,
    /**
     * On xfs and ext4, pagecache_isize_extended zeroes those bytes as the file
     * grows, unless writeback cleaned the folio in the window after
     * i_size_write (the race post-eof-stores.ts describes): asked, once the
     * growing op is over, which parts of [from, to) the page cache still holds
     * unzeroed; those are unknown (POSIX leaves them unspecified), the rest
     * must read as zeroes.
     */
    private readonly unzeroedPostEofStores: ((from: number, to: number) => [number, number][]) | null = null,
    /** The writer id of the op being applied, for bytes of that kind. */
    private readonly writer: (kind: WriterKind) => number = () => 0,
  ) {}

  /**
   * Room for n bytes. What lies past the size is not zeroed here: nothing
   * reads it before setSize grows over it, which zeroes the data and marks
   * it known.
   */
  private reserve(n: number): void {
    if (n <= this.buf.length) return;
    let cap = Math.max(4096, this.buf.length * 2);
    while (cap < n) cap *= 2;
    const next = takeBytesToOverwrite(cap);
    next.set(this.buf.subarray(0, this.size));
    this.buf = next;
    if (this.unknown) {
      const m = takeBytesToOverwrite(cap);
      m.set(this.unknown.subarray(0, this.size));
      this.unknown = m;
    }
  }

  /** The bytes [off, off+len) clipped to the size. */
  view(off: number, len: number): Uint8Array {
    const end = Math.min(off + len, this.size);
    return end > off ? this.buf.subarray(off, end) : this.buf.subarray(0, 0);
  }

  private markKnown(from: number, to: number): void {
    if (this.unknown && to > from) this.unknown.fill(0, from, to);
  }

  /** The content of [off, off+len) cannot be predicted any more (racing writers). */
  forget(off: number, len: number): void {
    this.markUnknown(off, Math.min(off + len, this.size));
  }

  /** A write of [off, off+len) to the disk failed: unknown inside EOF now, past it once the file grows over it. */
  forgetFailedWrite(off: number, len: number): void {
    this.forget(off, len);
    const from = Math.max(off, this.size);
    if (off + len > from) this.stalePastEof.push(from, off + len);
  }

  /** Past the size, up to `to`, the disk may hold bytes written before a power cut took the size back. */
  stalePastSize(to: number): void {
    if (to > this.size) this.stalePastEof.push(this.size, to);
  }

  /**
   * The file grows over [from, to): where it meets `spans` ([start, end, ...]:
   * bytes the disk may hold stale, stores that may have landed inside an
   * extension in flight) it is unknown.
   */
  private growOverUnknownSpans(spans: readonly number[], from: number, to: number): void {
    for (let i = 0; i < spans.length; i += 2) this.markUnknown(Math.max(spans[i]!, from), Math.min(spans[i + 1]!, to));
  }

  private markUnknown(from: number, to: number): void {
    if (to <= from) return;
    if (!this.unknown) this.unknown = takeBytes(this.buf.length);
    this.unknown.fill(1, from, to);
  }

  private setSize(n: number): void {
    this.version++;
    if (n > this.size) {
      this.reserve(n);
      this.buf.fill(0, this.size, n);
      this.who.set(this.size, n, this.writer('zero'));
      this.markKnown(this.size, n);
      this.growOverPostEofStores(this.size, n);
      this.growOverUnknownSpans(this.stalePastEof, this.size, n);
      this.growOverUnknownSpans(this.racingPostEof, this.size, n);
    } else if (n < this.size) {
      this.markKnown(n, this.size);
      // Truncation zeroes the rest of the new EOF folio and drops the pages past it.
      this.pendingPostEof = [];
      this.racingPostEof = [];
    }
    this.size = n;
  }

  /** The file grows over [from, to): what was stored past the old EOF becomes zeroes, or unknown. */
  private growOverPostEofStores(from: number, to: number): void {
    const p = this.pendingPostEof;
    if (p.length === 0) return;
    const rest: number[] = [];
    for (let i = 0; i < p.length; i += 2) {
      const a = p[i]!;
      const b = p[i + 1]!;
      const lo = Math.max(a, from);
      const hi = Math.min(b, to);
      if (lo >= hi) {
        rest.push(a, b);
        continue;
      }
      if (this.keepsPostEofStores) this.markUnknown(lo, hi);
      else if (this.unzeroedPostEofStores) for (const [x, y] of this.unzeroedPostEofStores(lo, hi)) this.markUnknown(x, y);
      if (hi < b) rest.push(hi, b);
    }
    this.pendingPostEof = rest;
  }

  write(off: number, src: Uint8Array, srcUnknown: Uint8Array | null = null): void {
    this.setSize(Math.max(this.size, off + src.length));
    this.buf.set(src, off);
    this.who.set(off, off + src.length, this.writer('data'));
    this.markKnown(off, off + src.length);
    if (srcUnknown) for (let i = 0; i < srcUnknown.length; i++) if (srcUnknown[i]) this.markUnknown(off + i, off + i + 1);
  }

  fill(off: number, len: number, byte: number): void {
    this.setSize(Math.max(this.size, off + len));
    this.buf.fill(byte, off, off + len);
    this.who.set(off, off + len, this.writer('data'));
    this.markKnown(off, off + len);
  }

  /**
   * A store through a mapping: bytes past EOF are not part of the file (yet).
   * `extensionInFlightTo`: an AIO write in flight may grow the file to there
   * before the store lands (racingPostEof).
   */
  storeMapped(off: number, len: number, byte: number, extensionInFlightTo = 0): void {
    // A change like any write: an AIO read in flight meanwhile may see either side.
    this.version++;
    const end = Math.min(off + len, this.size);
    if (end > off) {
      // A change like any other: a read in flight meanwhile may see either side of it.
      this.version++;
      this.buf.fill(byte, off, end);
      this.who.set(off, end, this.writer('data'));
      this.markKnown(off, end);
    }
    const past = Math.max(off, this.size);
    if (off + len > past) this.pendingPostEof.push(past, off + len);
    const racing = Math.min(off + len, extensionInFlightTo);
    if (racing > past) this.racingPostEof.push(past, racing);
  }

  /**
   * Bytes a buffered write copied into the page cache but the filesystem did
   * not take (a FUSE server's short WRITE reply): the cached folio keeps them,
   * and if it is dirty (an mmap store) writeback sends them to the server
   * later, so they may or may not become file data. Past EOF they are like
   * stores through a mapping past EOF.
   */
  copiedNotWritten(off: number, len: number): void {
    this.forget(off, len);
    const past = Math.max(off, this.size);
    if (off + len > past) this.pendingPostEof.push(past, off + len);
  }

  /** The unknown-mask of [off, off+len), or null when all of it is known. */
  unknownIn(off: number, len: number): Uint8Array | null {
    const u = this.unknown;
    if (!u) return null;
    const end = Math.min(off + len, this.size);
    if (end <= off || u.subarray(off, end).indexOf(1) < 0) return null;
    return u.slice(off, end);
  }

  /**
   * First offset (relative to off) where got differs from the file, skipping
   * unknown bytes; -1 if none. got must lie within the size.
   */
  firstDifferenceAt(off: number, got: Uint8Array): number {
    const want = this.view(off, got.length);
    const d = firstDifference(got, want);
    if (d < 0 || !this.unknown) return d;
    const u = this.unknown;
    for (let i = d; i < got.length; i++) if (got[i] !== want[i] && !u[off + i]) return i;
    return -1;
  }

  /** Bytes past the size are never read: growing the file zeroes them first (setSize). */
  truncate(size: number): void {
    this.setSize(size);
    this.sizeUnknown = false;
  }

  /** The size a trace observed, taken while the size was unknown: what it grows by is unknown too. */
  adoptSize(size: number): void {
    const from = this.size;
    this.truncate(size);
    if (size > from) this.forget(from, size - from);
  }

  private zero(off: number, len: number): void {
    const end = Math.min(off + len, this.size);
    if (end > off) {
      this.buf.fill(0, off, end);
      this.who.set(off, end, this.writer('zero'));
      this.markKnown(off, end);
    }
  }

  /**
   * A shift the filesystem accepted starts or ends past the size the shadow
   * holds: the size was unknown (a kernel's trace, an extension racing
   * another change). Grow to it, the bytes in between unknown.
   */
  private reachUnknown(end: number): void {
    if (end <= this.size) return;
    const old = this.size;
    this.setSize(end);
    this.markUnknown(old, end);
  }

  fallocate(mode: FallocMode, off: number, len: number): void {
    switch (mode) {
      case 'punch':
        this.zero(off, len);
        return;
      case 'zero':
        this.zero(off, len);
        this.setSize(Math.max(this.size, off + len));
        return;
      case 'zero_keep':
        this.zero(off, len);
        return;
      case 'collapse': {
        this.reachUnknown(off + len);
        this.buf.copyWithin(off, off + len, this.size);
        this.who.copyFrom(this.who, off + len, off, this.size - off - len);
        this.unknown?.copyWithin(off, off + len, this.size);
        this.truncate(this.size - len);
        // Stale bytes the disk holds past EOF move down with their blocks.
        this.stalePastEof = shiftSpans(this.stalePastEof, off, -len);
        return;
      }
      case 'insert': {
        this.reachUnknown(off);
        const size = this.size;
        // What growing marks unknown past the old size, the shifted tail covers.
        const hadUnknown = this.unknown !== null;
        this.setSize(size + len);
        this.buf.copyWithin(off + len, off, size);
        this.who.copyFrom(this.who, off, off + len, size - off);
        this.buf.fill(0, off, off + len);
        this.who.set(off, off + len, this.writer('zero'));
        if (hadUnknown) {
          this.unknown!.copyWithin(off + len, off, size);
          this.markKnown(off, off + len);
        }
        this.stalePastEof = shiftSpans(this.stalePastEof, off, len);
        return;
      }
      case 'alloc':
      case 'unshare':
        this.setSize(Math.max(this.size, off + len));
        return;
      case 'keep_size':
        return;
    }
  }

  /**
   * The file holds exactly `content` now (what crash recovery left): nothing
   * unknown, nothing pending. Stale bytes the disk may hold past EOF (a
   * failed write's bio that landed there) stay past the recovered size: the
   * cut may have kept them, and a file that grows over them shows them.
   */
  reset(content: Uint8Array): void {
    this.version++;
    this.buf = new Uint8Array(0);
    this.unknown = null;
    this.pendingPostEof = [];
    this.racingPostEof = [];
    this.stalePastEof = clipSpansFrom(this.stalePastEof, content.length);
    this.size = 0;
    this.lostWrites = false;
    this.sizeUnknown = false;
    this.reserve(content.length);
    this.buf.set(content);
    this.who.set(0, Infinity, this.writer('recovered'));
    this.size = content.length;
  }

  /** The writer id of the byte at pos (model.ts Writer). */
  writerAt(pos: number): number {
    return this.who.get(pos);
  }

  /** Who wrote each byte inside the size now, as [start, end, writer id] runs (a copy). */
  writerRuns(): TagRun[] {
    return this.who.runs(0, this.size);
  }

  contents(): Uint8Array {
    return this.buf.slice(0, this.size);
  }
}

/** Index of the first differing byte, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  // Buffer.compare is a native memcmp and takes plain Uint8Arrays: no copies, no wrappers.
  if (a.length === b.length && Buffer.compare(a, b) === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/**
 * Spans [start, end, ...] moved with the blocks a collapse or an insert
 * shifted at `off` by `delta` bytes: a collapse (delta < 0) drops what lay in
 * [off, off - delta) and moves what lay past it down; an insert moves what lay
 * at or past off up. What lay below off stays.
 */
export function shiftSpans(spans: readonly number[], off: number, delta: number): number[] {
  const out: number[] = [];
  const movedFrom = delta < 0 ? off - delta : off;
  for (let i = 0; i < spans.length; i += 2) {
    const a = spans[i]!;
    const b = spans[i + 1]!;
    if (a < off) out.push(a, Math.min(b, off));
    const from = Math.max(a, movedFrom);
    if (b > from) out.push(from + delta, b + delta);
  }
  return out;
}

/** Spans [from, to) as flat pairs, cut to what lies at or past `at`. */
function clipSpansFrom(spans: readonly number[], at: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < spans.length; i += 2) {
    const from = Math.max(spans[i]!, at);
    if (spans[i + 1]! > from) out.push(from, spans[i + 1]!);
  }
  return out;
}
