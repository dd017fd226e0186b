// The in-core extent map of one file (the XFS data fork, the ext4 extent
// tree): sorted, non-overlapping runs of file blocks and what backs them.
// Blocks with no extent are holes. Every change bumps the sequence number,
// which iomap uses as the validity cookie (XFS if_seq).
//
// Each change checks the invariant where it touched the list (the extents
// next to the change, so a constant cost): every extent is non-empty and
// starts at or after the end of the one before it, and it has a physical
// block exactly when it is not delalloc. A broken invariant is a bug of the
// simulator's map, not of the kernel: it throws a plain Error.

import { type AliasCell, aliasCell, aliasRead, aliasWrite } from '../alias.js';
import { covSite } from '../cov.js';

const A_LOOKUP = covSite('alias:extent_lookup');
const A_CHANGE = covSite('alias:extent_change');

export const enum ExtState {
  /** Reserved, not allocated: data lives only in the page cache. */
  Delalloc = 1,
  /** Allocated, reads as zeroes until converted. */
  Unwritten = 2,
  /** Allocated and holding data. */
  Written = 3,
}

export interface Extent {
  lblk: number;
  len: number;
  /** First physical block; -1 for delalloc. */
  pblk: number;
  state: ExtState;
}

export class ExtentMap {
  readonly exts: Extent[] = [];
  seq = 0;
  /** Who last looked up and changed the map (alias coverage). */
  readonly alias: AliasCell = aliasCell();

  /**
   * The invariant over extents [from, to] and the boundaries with their
   * neighbours (indices are clamped to the list).
   */
  private checkOrdered(from: number, to: number): void {
    const e = this.exts;
    const lo = Math.max(0, from - 1);
    const hi = Math.min(e.length - 1, to + 1);
    for (let i = lo; i <= hi; i++) {
      const x = e[i]!;
      if (!(x.len > 0) || x.lblk < 0 || (x.state === ExtState.Delalloc) !== (x.pblk < 0)) {
        throw new Error(`extent map: bad extent ${JSON.stringify(x)} at ${i}`);
      }
      const prev = i > lo ? e[i - 1]! : null;
      if (prev !== null && prev.lblk + prev.len > x.lblk) {
        throw new Error(`extent map: ${JSON.stringify(prev)} overlaps or follows ${JSON.stringify(x)} at ${i}`);
      }
    }
  }

  /** The map changed: a new validity cookie. */
  private changed(): void {
    this.seq++;
    aliasWrite(this.alias, A_CHANGE);
  }

  /** Index of the first extent that ends after lblk. */
  private firstEndingAfter(lblk: number): number {
    const e = this.exts;
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = e[mid]!;
      if (x.lblk + x.len <= lblk) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The extent covering lblk, or null and the length of the hole starting there (Infinity if none follows). */
  lookup(lblk: number): { ext: Extent | null; holeLen: number } {
    aliasRead(this.alias, A_LOOKUP);
    const i = this.firstEndingAfter(lblk);
    const x = this.exts[i];
    if (x && x.lblk <= lblk) return { ext: x, holeLen: 0 };
    return { ext: null, holeLen: x ? x.lblk - lblk : Infinity };
  }

  /**
   * Remove [lblk, lblk+len) from the map, splitting extents at the edges.
   * Returns the removed pieces (for freeing allocated blocks).
   */
  remove(lblk: number, len: number): Extent[] {
    const end = lblk + len;
    const removed: Extent[] = [];
    const keep: Extent[] = [];
    let i = this.firstEndingAfter(lblk);
    const start = i;
    for (; i < this.exts.length; i++) {
      const x = this.exts[i]!;
      if (x.lblk >= end) break;
      const xEnd = x.lblk + x.len;
      if (x.lblk < lblk) keep.push({ ...x, len: lblk - x.lblk });
      const cutStart = Math.max(x.lblk, lblk);
      const cutEnd = Math.min(xEnd, end);
      removed.push({ lblk: cutStart, len: cutEnd - cutStart, pblk: x.pblk < 0 ? -1 : x.pblk + (cutStart - x.lblk), state: x.state });
      if (xEnd > end) keep.push({ lblk: end, len: xEnd - end, pblk: x.pblk < 0 ? -1 : x.pblk + (end - x.lblk), state: x.state });
    }
    if (removed.length > 0 || keep.length > 0) {
      this.exts.splice(start, i - start, ...keep);
      this.checkOrdered(start, start + keep.length - 1);
      this.changed();
    }
    return removed;
  }

  /** Map [lblk, lblk+len) to pblk.. in the given state, replacing what was there. */
  set(lblk: number, len: number, pblk: number, state: ExtState): Extent[] {
    const removed = this.remove(lblk, len);
    const i = this.firstEndingAfter(lblk);
    this.exts.splice(i, 0, { lblk, len, pblk, state });
    this.merge(i);
    this.checkOrdered(i - 1, i);
    this.changed();
    return removed;
  }

  /** Merge extent i with contiguous neighbours of the same state. */
  private merge(i: number): void {
    const e = this.exts;
    const contiguous = (a: Extent, b: Extent): boolean =>
      a.state === b.state && a.lblk + a.len === b.lblk && (a.pblk < 0 ? b.pblk < 0 : a.pblk + a.len === b.pblk);
    if (i + 1 < e.length && contiguous(e[i]!, e[i + 1]!)) {
      e[i]!.len += e[i + 1]!.len;
      e.splice(i + 1, 1);
    }
    if (i > 0 && contiguous(e[i - 1]!, e[i]!)) {
      e[i - 1]!.len += e[i]!.len;
      e.splice(i, 1);
    }
  }

  /** Change the state of every extent piece in [lblk, lblk+len) that is in state `from`. */
  convert(lblk: number, len: number, from: ExtState, to: ExtState): void {
    const end = lblk + len;
    const pieces: Extent[] = [];
    for (let i = this.firstEndingAfter(lblk); i < this.exts.length; i++) {
      const x = this.exts[i]!;
      if (x.lblk >= end) break;
      if (x.state !== from) continue;
      const s = Math.max(x.lblk, lblk);
      const t = Math.min(x.lblk + x.len, end);
      pieces.push({ lblk: s, len: t - s, pblk: x.pblk < 0 ? -1 : x.pblk + (s - x.lblk), state: to });
    }
    for (const p of pieces) this.set(p.lblk, p.len, p.pblk, p.state);
  }

  /** Move every extent at or after lblk by delta blocks (collapse: negative, insert: positive). */
  shift(lblk: number, delta: number): void {
    for (const x of this.exts) if (x.lblk >= lblk) x.lblk += delta;
    // A collapse brings the tail next to what precedes it: merge where contiguous (xfs_bmse_merge).
    for (let i = this.exts.length - 1; i > 0; i--) this.merge(i);
    this.checkOrdered(0, this.exts.length - 1);
    this.changed();
  }

  /** Split the extent that straddles lblk so that an extent starts there. */
  splitAt(lblk: number): void {
    const { ext } = this.lookup(lblk);
    if (!ext || ext.lblk === lblk) return;
    const i = this.exts.indexOf(ext);
    const tail: Extent = { lblk, len: ext.lblk + ext.len - lblk, pblk: ext.pblk < 0 ? -1 : ext.pblk + (lblk - ext.lblk), state: ext.state };
    ext.len = lblk - ext.lblk;
    this.exts.splice(i + 1, 0, tail);
    this.checkOrdered(i, i + 1);
    this.changed();
  }

  /** True if any block in [lblk, lblk+len) is mapped or reserved. */
  hasAny(lblk: number, len: number): boolean {
    aliasRead(this.alias, A_LOOKUP);
    const i = this.firstEndingAfter(lblk);
    const x = this.exts[i];
    return x !== undefined && x.lblk < lblk + len;
  }
}
