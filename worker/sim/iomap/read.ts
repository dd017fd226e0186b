// The iomap buffered read path (fs/iomap/buffered-io.c): ->read_folio.
//
// The folio stays locked from the start of the read until folio_end_read().
// Blocks that need no I/O (holes, unwritten, new, past EOF) are zeroed and
// marked uptodate at once; the rest go to the filesystem's read_folio_range
// (a bio, or a FUSE READ). read_bytes_pending is pre-charged with the whole
// folio and the submitter subtracts what it did not submit, so whoever brings
// it to zero ends the read.

import { offsetIn } from '../bits.js';
import { warn, warnOn } from '../checks.js';
import type { Co } from '../sched.js';
import { folioClass, folioEndRead, folioTestError, folioUnlock, folioZeroSegment } from '../mm/folio.js';
import { folioIfs, ifsAlloc, ifsBlockUptodate, ifsIsFullyUptodate, ifsSetRangeUptodate, iomapSetRangeUptodate, noteDirtyLoss } from './ifs.js';
import { iomapIterate, newIomapIter } from './iter.js';
import { covSite, covState } from '../cov.js';
import { ifsClass } from './ifs.js';
import { type Folio, PG_error } from '../include/pagemap.js';
import type { Inode } from '../include/fs.js';
import { IOMAP_F_NEW, IOMAP_MAPPED, type Iomap, type IomapIter, type IomapOps, iomapIterAdvance, iomapLength } from '../include/iomap.js';

const C_FINISH_READ = covSite('iomap_finish_folio_read');
const C_READ_END = covSite('iomap_read_end');
const C_READ_ITER = covSite('iomap_read_folio_iter');
const C_READ_ZERO = covSite('iomap_read_folio_iter:zero');
const C_READ_SUBMIT = covSite('iomap_read_folio_iter:submit');

/** struct iomap_read_ops: how mapped ranges are read. Completion calls iomapFinishFolioRead. */
export interface IomapReadOps {
  readFolioRange(iter: IomapIter, folio: Folio, pos: number, len: number): number;
}

/** iomap_block_needs_zeroing */
export function iomapBlockNeedsZeroing(inode: Inode, srcmap: Iomap, pos: number): boolean {
  return srcmap.type !== IOMAP_MAPPED || (srcmap.flags & IOMAP_F_NEW) !== 0 || pos >= inode.iSize;
}

/** Bytes to drop from the end of a range ending at endPos when `blocks` whole-or-partial blocks go. */
function iomapBytesToTruncate(endPos: number, blkbits: number, blocks: number): number {
  const blockOffset = endPos & ((1 << blkbits) - 1);
  if (!blockOffset) return blocks << blkbits;
  return ((blocks - 1) << blkbits) + blockOffset;
}

/**
 * iomap_adjust_read_range: skip leading uptodate blocks, stop before trailing
 * ones, and split at the block holding i_size so blocks wholly past EOF are
 * handled (zeroed) separately. Returns [pos, poff, plen].
 */
export function iomapAdjustReadRange(inode: Inode, folio: Folio, pos0: number, length: number): [number, number, number] {
  const ifs = folioIfs(folio);
  const isize = inode.iSize;
  const bits = inode.blkbits;
  const bsize = 1 << bits;
  let pos = pos0;
  let poff = pos - folio.pos;
  let plen = Math.min(folio.size - poff, length);
  const origPlen = plen;
  let first = poff >> bits;
  let last = (poff + plen - 1) >> bits;
  if (ifs) {
    let next = first;
    while (next <= last && ifsBlockUptodate(ifs, next)) next++;
    const skipped = next - first;
    if (skipped) {
      const bytesSkipped = (skipped << bits) - offsetIn(pos, bsize);
      pos += bytesSkipped;
      poff += bytesSkipped;
      plen -= bytesSkipped;
    }
    first = next;
    next++;
    if (next <= last) {
      while (next <= last && !ifsBlockUptodate(ifs, next)) next++;
      if (next <= last) {
        plen -= iomapBytesToTruncate(pos + plen, bits, last - next + 1);
        last = next - 1;
      }
    }
  }
  if (pos0 <= isize && pos0 + origPlen > isize) {
    const end = (isize - 1 - folio.pos) >> bits;
    if (first <= end && last > end) plen -= iomapBytesToTruncate(pos + plen, bits, last - end);
  }
  return [pos, poff, Math.max(plen, 0)];
}

/** iomap_finish_folio_read: a submitted range completed. */
export function iomapFinishFolioRead(inode: Inode, folio: Folio, off: number, len: number, error: number): void {
  const ifs = folioIfs(folio);
  let uptodate = error === 0;
  let finished = true;
  // Bug switch write-begin-read-not-uptodate: the 2020 completion flagged a
  // failed read with PG_error (iomap_read_page_end_io), which later marking honours.
  if (error && inode.fs.bugs.has('write-begin-read-not-uptodate')) folio.flags |= PG_error;
  if (folioTestError(folio)) uptodate = false;
  if (ifs) {
    if (uptodate) uptodate = ifsSetRangeUptodate(ifs, off, len, inode.blkbits);
    ifs.readBytesPending -= len;
    finished = ifs.readBytesPending === 0;
  }
  if (finished) folioEndRead(inode.fs.sched, folio, uptodate);
  covState(C_FINISH_READ, (error ? 1 : 0) | (finished ? 2 : 0) | (uptodate ? 4 : 0) | (folioClass(folio) << 3));
}

/** iomap_read_init: pre-charge read_bytes_pending with the whole folio. */
function iomapReadInit(inode: Inode, folio: Folio): void {
  const ifs = folioIfs(folio);
  if (!ifs) return;
  if (ifs.readBytesPending !== 0) warn(inode.fs.sched, 'iomap_read_init:pending', 'iomap_read_init',
    `folio ${folio.index} starts a read with ${ifs.readBytesPending} bytes pending`);
  ifs.readBytesPending = folio.size;
}

/** iomap_read_end: give back what was not submitted; end the read if nothing is left in flight. */
function iomapReadEnd(inode: Inode, folio: Folio, bytesSubmitted: number): void {
  covState(C_READ_END, (bytesSubmitted ? 1 : 0) | (ifsClass(folio) << 1));
  const s = inode.fs.sched;
  const ifs = folioIfs(folio);
  if (ifs) {
    if (!ifs.readBytesPending) {
      warnOn(s, bytesSubmitted !== 0, 'iomap_read_end:submitted', 'iomap_read_end', 'bytes submitted but none pending');
      folioUnlock(s, folio);
      return;
    }
    ifs.readBytesPending -= folio.size - bytesSubmitted;
    if (ifs.readBytesPending === 0) folioEndRead(s, folio, ifsIsFullyUptodate(ifs));
  } else {
    warnOn(s, bytesSubmitted !== 0, 'iomap_read_end:submitted', 'iomap_read_end', 'no ifs but bytes submitted');
    folioUnlock(s, folio);
  }
}

/** Per-folio state of one read_folio call. */
interface ReadCtx {
  folio: Folio | null;
  submitted: number;
  rops: IomapReadOps;
}

/** iomap_read_folio_iter */
function iomapReadFolioIter(iter: IomapIter, ctx: ReadCtx, rops: IomapReadOps): number {
  const folio = ctx.folio!;
  const inode = iter.inode;
  ifsAlloc(folio, inode.blkbits);
  covState(C_READ_ITER, iter.iomap.type | (folioClass(folio) << 2));
  let length = Math.min(iomapLength(iter), folio.size - (iter.pos - folio.pos));
  while (length > 0) {
    const [pos, poff, plen] = iomapAdjustReadRange(inode, folio, iter.pos, length);
    const posDiff = pos - iter.pos;
    iomapIterAdvance(iter, posDiff);
    if (plen === 0) return 0;
    // Provenance only: a read that zeroes or reads over dirty blocks loses what they held.
    noteDirtyLoss(folio, inode.blkbits, inode.iSize, inode.ino, poff, poff + plen, 'reread', 'iomap_read_folio_iter');
    if (iomapBlockNeedsZeroing(inode, iter.iomap, pos)) {
      covState(C_READ_ZERO, ifsClass(folio));
      folioZeroSegment(folio, poff, poff + plen, 'iomap_read_folio_iter', 'hole');
      iomapSetRangeUptodate(folio, poff, plen, inode.blkbits);
    } else {
      covState(C_READ_SUBMIT, ifsClass(folio));
      if (!ctx.submitted) iomapReadInit(inode, folio);
      const ret = rops.readFolioRange(iter, folio, pos, plen);
      if (ret < 0) return ret;
      ctx.submitted += plen;
      // The I/O helper owns a folio read in full: it ends the read.
      if (ctx.submitted === folio.size) ctx.folio = null;
    }
    iomapIterAdvance(iter, plen);
    length -= posDiff + plen;
  }
  return 0;
}

function* iomapReadFolioActor(it: IomapIter, ctx: ReadCtx): Co<number> {
  if (!ctx.folio) {
    // The whole folio was handed to the I/O helper: nothing left to do.
    iomapIterAdvance(it, iomapLength(it));
    return 0;
  }
  return iomapReadFolioIter(it, ctx, ctx.rops);
}

/** iomap_read_folio: ->read_folio for a locked folio; unlocked when the read ends. */
export function* iomapReadFolio(inode: Inode, folio: Folio, ops: IomapOps, rops: IomapReadOps): Co<number> {
  const t = inode.fs.sched.current;
  t?.frames.push('iomap_read_folio');
  try {
    const ctx: ReadCtx = { folio, submitted: 0, rops };
    const iter = newIomapIter(inode, folio.pos, folio.size, 0);
    yield* iomapIterate(iter, ops, iomapReadFolioActor, ctx);
    if (ctx.folio) iomapReadEnd(inode, ctx.folio, ctx.submitted);
    return 0;
  } finally {
    t?.frames.pop();
  }
}
