// The iomap buffered write side (fs/iomap/buffered-io.c): write_begin and
// write_end around each folio-sized chunk, zero range, truncate_page,
// page_mkwrite and unshare.

import { alignDown, offsetIn } from '../bits.js';
import { aliasWrite } from '../alias.js';
import { violation, warn, warnOn } from '../checks.js';
import type { Co } from '../sched.js';
import { EIO } from '../errno.js';
import { filemapGetFolio, filemapWriteAndWaitRange, foliosInRange, orderForLength } from '../mm/filemap.js';
import {
  folioClass,
  folioClearError,
  folioLock,
  folioPut,
  folioTestDirty,
  folioTestLocked,
  folioTestUptodate,
  folioTestWriteback,
  folioUnlock,
  folioWaitStable,
  folioZeroSegment,
} from '../mm/folio.js';
import { filemapDirtyFolio, ifsAlloc, iomapDirtyFolio, iomapRangeUptodate, iomapSetRangeDirty, iomapSetRangeUptodate, noteDirtyLoss } from './ifs.js';
import { iomapIterate, newIomapIter } from './iter.js';
import { iomapAdjustReadRange, iomapBlockNeedsZeroing } from './read.js';
import { cov, covSite, covState } from '../cov.js';
import { forgetPostEofStores } from '../mm/post-eof-stores.js';
import { provenance } from '../provenance.js';
import { type Folio, PAGE_SIZE, FGP_CREAT, FGP_LOCK, FGP_WRITE } from '../include/pagemap.js';
import type { Inode } from '../include/fs.js';
import {
  IOMAP_F_FOLIO_BATCH,
  IOMAP_F_SIZE_CHANGED,
  IOMAP_F_NEW,
  IOMAP_F_STALE,
  IOMAP_FAULT,
  IOMAP_HOLE,
  IOMAP_UNSHARE,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  IOMAP_ZERO,
  type FolioBatch,
  type IomapIter,
  type IomapOps,
  type IomapWriteOps,
  iomapIterAdvance,
  iomapLength,
} from '../include/iomap.js';
import { pagecacheIsizeExtended, truncateInodePagesRange } from '../mm/truncate.js';

const C_WRITE_BEGIN = covSite('__iomap_write_begin');
const C_WRITE_BEGIN_ZERO = covSite('__iomap_write_begin:zero-block');
const C_WRITE_BEGIN_READ = covSite('__iomap_write_begin:read-block');
const C_WRITE_STALE = covSite('iomap_write_begin:stale-mapping');
const C_WRITE_FAILED = covSite('iomap_write_failed');
const C_WRITE_END_SHORT = covSite('__iomap_write_end:short-copy');
const C_WRITE_EXTEND = covSite('iomap_write_iter:extend-isize');
const C_ZERO_ITER = covSite('iomap_zero_iter');
const C_ZERO_MAP = covSite('iomap_zero_range:map');
const C_ZERO_FLUSH = covSite('iomap_zero_iter_flush_and_stale');
const C_MKWRITE = covSite('iomap_page_mkwrite');
const A_WRITE_END = covSite('alias:iomap_write_end');
const C_MKWRITE_TRUNCATED = covSite('iomap_page_mkwrite:truncated');

/** How a filesystem reads a range synchronously into a folio in write_begin (a bio and wait). */
export interface IomapSyncReader {
  readFolioRangeSync(iter: IomapIter, folio: Folio, pos: number, len: number): Co<number>;
}

export interface IomapWriteCtx {
  ops: IomapOps;
  wops: IomapWriteOps;
  reader: IomapSyncReader;
}

/** The part of the inode's unmap helper the write side needs (truncate_pagecache_range). */
export type UnmapFolio = (f: Folio) => void;

/** iomap_write_failed: drop folios instantiated beyond EOF by a failed write. */
function* iomapWriteFailed(inode: Inode, pos: number, len: number, unmap: UnmapFolio): Co<void> {
  const isize = inode.iSize;
  if (pos + len > isize) {
    cov(C_WRITE_FAILED);
    yield* truncateInodePagesRange(inode.mapping, Math.max(pos, isize), pos + len - 1, unmap);
  }
}

/**
 * What ->iomap_valid exists for: write_begin zeroes the parts of a block the
 * copy does not cover only when the block holds no data (a hole, an
 * unwritten or a new extent) or lies past EOF. A block inside EOF that the
 * filesystem maps to written data now, under a mapping that said otherwise
 * (writeback converted it since), would lose that data to the zeroes.
 */
function iomapCheckZeroingWritten(iter: IomapIter, ctx: IomapWriteCtx, blockStart: number): void {
  const inode = iter.inode;
  if (iter.iomap.flags & IOMAP_F_NEW || blockStart >= inode.iSize || !ctx.wops.blockWritten?.(inode, blockStart)) return;
  violation(inode.fs.sched, 'INVARIANT', '__iomap_write_begin:zeroing-written', '__iomap_write_begin',
    `block at ${blockStart} of ${inode.name} holds written data inside EOF ${inode.iSize}, and the mapping in use says ${iter.iomap.type}`);
}

/** __iomap_write_begin: make the parts of the folio the write does not cover uptodate. */
function* __iomapWriteBegin(iter: IomapIter, ctx: IomapWriteCtx, len: number, folio: Folio): Co<number> {
  const inode = iter.inode;
  const pos = iter.pos;
  const bits = inode.blkbits;
  const bsize = 1 << bits;
  let blockStart = alignDown(pos, bsize);
  const blockEnd = Math.ceil((pos + len) / bsize) * bsize;
  const from = pos - folio.pos;
  const to = from + len;
  covState(C_WRITE_BEGIN, folioClass(folio));
  // A write that covers the whole folio dirties all of it: no per-block state needed.
  if (!(iter.flags & IOMAP_UNSHARE) && pos <= folio.pos && pos + len >= folio.pos + folio.size) return 0;
  ifsAlloc(folio, bits);
  if (folioTestUptodate(folio)) return 0;
  // Bug switch write-begin-read-not-uptodate: before e6e7ca92623a and
  // 14284fedf59f (2020) write_begin left a failed read's PG_error on the folio,
  // so nothing it or write_end marked became uptodate, and it did not mark the
  // blocks it read at all: a later read re-read them over the written data.
  const preFix = inode.fs.bugs.has('write-begin-read-not-uptodate');
  if (!preFix) folioClearError(folio);
  while (blockStart < blockEnd) {
    const [bpos, poff, plen] = iomapAdjustReadRange(inode, folio, blockStart, blockEnd - blockStart);
    if (plen === 0) break;
    blockStart = bpos;
    // A range the write overwrites entirely needs neither zeroing nor reading.
    if (iter.flags & IOMAP_UNSHARE || from > poff || to < poff + plen) {
      if (iomapBlockNeedsZeroing(inode, iter.iomap, blockStart)) {
        iomapCheckZeroingWritten(iter, ctx, blockStart);
        // folio_zero_segments: everything in the range outside [from, to).
        cov(C_WRITE_BEGIN_ZERO);
        folioZeroSegment(folio, poff, Math.min(from, poff + plen), '__iomap_write_begin');
        folioZeroSegment(folio, Math.max(to, poff), poff + plen, '__iomap_write_begin');
      } else {
        noteDirtyLoss(folio, bits, inode.iSize, inode.ino, poff, poff + plen, 'reread', '__iomap_write_begin');
        const status = yield* ctx.reader.readFolioRangeSync(iter, folio, blockStart, plen);
        cov(C_WRITE_BEGIN_READ);
        if (status) return status;
        if (preFix) {
          blockStart += plen;
          continue;
        }
      }
      iomapSetRangeUptodate(folio, poff, plen, bits);
    }
    blockStart += plen;
  }
  return 0;
}

/** __iomap_get_folio: a folio from the filesystem's batch, or from the page cache. */
function* iomapGetFolio(iter: IomapIter, len: number): Co<Folio | null> {
  const mapping = iter.inode.mapping;
  const batch = iter.fbatch;
  if (iter.iomap.flags & IOMAP_F_FOLIO_BATCH && batch) return yield* iomapNextBatchFolio(iter, batch);
  return yield* filemapGetFolio(mapping, Math.floor(iter.pos / PAGE_SIZE), FGP_LOCK | FGP_CREAT | FGP_WRITE, orderForLength(len));
}

/**
 * The next folio of the filesystem's batch, locked, with a reference; null
 * when the batch is done or a folio left the mapping (IOMAP_F_STALE).
 */
function* iomapNextBatchFolio(iter: IomapIter, batch: FolioBatch): Co<Folio | null> {
  const mapping = iter.inode.mapping;
  const s = mapping.sched;
  const folio = batch.folios[batch.next++];
  if (!folio) return null;
  yield* folioLock(s, folio);
  if (folio.mapping !== mapping) {
    iter.iomap.flags |= IOMAP_F_STALE;
    folioUnlock(s, folio);
    return null;
  }
  folio.refcount++;
  yield* folioWaitStable(s, folio);
  return folio;
}

/**
 * filemap_get_folios_dirty() presumes a folio it could not trylock dirty, as
 * it may be about to be (page_mkwrite holds the lock while it dirties). So
 * a batch folio's state is checked again under the lock, after the mapping
 * was found valid, and one that is still clean is left alone: zeroing it
 * would dirty a folio that may lie wholly past EOF, which writeback never
 * writes (the WARN_ON_ONCE in iomap_zero_iter). The mapping comes first: a
 * folio whose writeback completed since the batch was filled is clean, but
 * its completion converted the extent under it, and the remapped range must
 * be zeroed. Bug switch zero-batch-locked-folio: no such check, as in Linux
 * 6.18, where a page fault that holds a folio past a new EOF while it
 * rechecks i_size gets it zeroed.
 */
function iomapBatchFolioClean(iter: IomapIter, folio: Folio): boolean {
  if (!(iter.iomap.flags & IOMAP_F_FOLIO_BATCH) || !iter.fbatch) return false;
  if (iter.inode.fs.bugs.has('zero-batch-locked-folio')) return false;
  return !folioTestDirty(folio) && !folioTestWriteback(folio);
}

function iomapPutFolio(iter: IomapIter, folio: Folio): void {
  const s = iter.inode.fs.sched;
  folioUnlock(s, folio);
  folioPut(s, folio);
}

export interface WriteBeginResult {
  folio: Folio | null;
  /** Offset of iter.pos in the folio. */
  offset: number;
  /** Bytes of this chunk that fall in the folio. */
  len: number;
}

/** ->iomap_valid: the cached mapping still matches the filesystem's (checked under the folio lock). */
function iomapMappingValid(iter: IomapIter, ctx: IomapWriteCtx): boolean {
  // Bug switch iomap-no-validity-check: before 2022 write_begin trusted the cached mapping.
  if (!ctx.wops.iomapValid || iter.inode.fs.bugs.has('iomap-no-validity-check')) return true;
  return ctx.wops.iomapValid(iter.inode, iter.iomap);
}

/**
 * iomap_write_begin: a locked folio for the next chunk, with the validity
 * cookie checked under the folio lock: a stale mapping sets IOMAP_F_STALE and
 * returns no folio, so the iterator remaps.
 */
export function* iomapWriteBegin(iter: IomapIter, ctx: IomapWriteCtx, maxLen: number, out: WriteBeginResult): Co<number> {
  out.folio = null;
  let len = iomapLength(iter);
  if (maxLen > 0) len = Math.min(len, maxLen);
  let folio: Folio | null;
  for (;;) {
    folio = yield* iomapGetFolio(iter, len);
    if (!folio) return 0;
    if (!iomapMappingValid(iter, ctx)) {
      iter.iomap.flags |= IOMAP_F_STALE;
      iomapPutFolio(iter, folio);
      cov(C_WRITE_STALE);
      return 0;
    }
    if (!iomapBatchFolioClean(iter, folio)) break;
    iomapPutFolio(iter, folio);
  }
  // A batch may skip forward over clean ranges.
  if (folio.pos > iter.pos) {
    const skip = Math.min(folio.pos - iter.pos, iomapLength(iter));
    iomapIterAdvance(iter, skip);
    len = iomapLength(iter);
    if (!len) {
      iomapPutFolio(iter, folio);
      return 0;
    }
  }
  const s = iter.inode.fs.sched;
  if (iter.pos < folio.pos || iter.pos >= folio.pos + folio.size) warn(s, 'iomap_trim_folio_range:outside', 'iomap_trim_folio_range',
    `pos ${iter.pos} outside folio ${folio.index}`);
  const offset = iter.pos - folio.pos;
  len = Math.min(len, folio.size - offset);
  const status = yield* __iomapWriteBegin(iter, ctx, len, folio);
  if (status) {
    iomapPutFolio(iter, folio);
    return status;
  }
  out.folio = folio;
  out.offset = offset;
  out.len = len;
  return 0;
}

/** __iomap_write_end: a short copy into a non-uptodate folio counts as nothing. */
export function iomapWriteEnd(iter: IomapIter, folio: Folio, pos: number, len: number, copied: number): boolean {
  const bits = iter.inode.blkbits;
  if (copied < len && !folioTestUptodate(folio)) {
    cov(C_WRITE_END_SHORT);
    return false;
  }
  aliasWrite(folio.alias, A_WRITE_END);
  iomapSetRangeUptodate(folio, pos - folio.pos, len, bits);
  // __iomap_write_end's contract: a block it dirties is uptodate (write_begin
  // read or zeroed what the copy did not cover). A dirty block that is not
  // uptodate is re-read from storage over the write by the next read.
  if (!iomapRangeUptodate(folio, pos - folio.pos, copied, bits)) {
    violation(iter.inode.fs.sched, 'INVARIANT', 'iomap_write_end:dirty-not-uptodate', 'iomap_write_end',
      `folio ${folio.index}: [${pos}, ${pos + copied}) dirtied but not uptodate`);
  }
  iomapSetRangeDirty(folio, pos - folio.pos, copied, bits);
  filemapDirtyFolio(folio);
  return true;
}

/** iomap_write_iter: copy src into the page cache folio by folio. */
interface BufferedWriteCtx {
  ctx: IomapWriteCtx;
  src: Uint8Array;
  /** File offset of src[0]. */
  srcBase: number;
  unmap: UnmapFolio;
  wb: WriteBeginResult;
}

function* iomapWriteIter(iter: IomapIter, w: BufferedWriteCtx): Co<number> {
  const { ctx, src, srcBase, unmap, wb } = w;
  const inode = iter.inode;
  const chunk = PAGE_SIZE << inode.mapping.maxOrder;
  let total = 0;
  let status = 0;
  do {
    const remaining = src.length - (iter.pos - srcBase);
    const offset = offsetIn(iter.pos, chunk);
    const bytes = Math.min(chunk - offset, remaining, iomapLength(iter));
    status = yield* iomapWriteBegin(iter, ctx, bytes, wb);
    if (status) {
      yield* iomapWriteFailed(inode, iter.pos, bytes, unmap);
      break;
    }
    if (iter.iomap.flags & IOMAP_F_STALE || !wb.folio) break;
    const folio = wb.folio;
    const pos = iter.pos;
    const from = pos - srcBase;
    folio.data.set(src.subarray(from, from + wb.len), wb.offset);
    provenance()?.copyIn(folio.data, wb.offset, src, from, wb.len, 'write', 'iomap_write_iter');
    // The copy replaced whatever a store past EOF had left in those bytes.
    if (inode.mapping.postEofStores !== null) forgetPostEofStores(inode.mapping, pos, pos + wb.len);
    const written = iomapWriteEnd(iter, folio, pos, wb.len, wb.len) ? wb.len : 0;
    // Update i_size under the folio lock, before the folio can be written back.
    const oldSize = inode.iSize;
    if (pos + written > oldSize) {
      inode.iSize = pos + written;
      cov(C_WRITE_EXTEND);
      iter.iomap.flags |= IOMAP_F_SIZE_CHANGED;
    }
    iomapPutFolio(iter, folio);
    if (oldSize < pos) yield* pagecacheIsizeExtended(inode.mapping, inode.blkbits, oldSize, pos);
    if (written === 0) {
      yield* iomapWriteFailed(inode, pos, wb.len, unmap);
      status = -EIO;
      break;
    }
    total += written;
    iomapIterAdvance(iter, written);
  } while (src.length - (iter.pos - srcBase) > 0 && iomapLength(iter) > 0);
  return total ? 0 : status;
}

/** iomap_file_buffered_write: bytes written or -errno. */
export function* iomapFileBufferedWrite(inode: Inode, pos: number, src: Uint8Array, ctx: IomapWriteCtx, unmap: UnmapFolio): Co<number> {
  const t = inode.fs.sched.current;
  t?.frames.push('iomap_file_buffered_write');
  try {
    const iter = newIomapIter(inode, pos, src.length, IOMAP_WRITE);
    const w: BufferedWriteCtx = { ctx, src, srcBase: pos, unmap, wb: { folio: null, offset: 0, len: 0 } };
    const ret = yield* iomapIterate(iter, ctx.ops, iomapWriteIter, w);
    if (iter.pos === pos) return ret;
    return iter.pos - pos;
  } finally {
    t?.frames.pop();
  }
}

/** iomap_zero_iter: zero the mapped range through write_begin/write_end. */
function* iomapZeroIter(iter: IomapIter, ctx: IomapWriteCtx): Co<number> {
  const s = iter.inode.fs.sched;
  const wb: WriteBeginResult = { folio: null, offset: 0, len: 0 };
  let bytes = iomapLength(iter);
  do {
    const status = yield* iomapWriteBegin(iter, ctx, bytes, wb);
    if (status) return status;
    if (iter.iomap.flags & IOMAP_F_STALE) break;
    const folio = wb.folio;
    if (!folio) {
      // Done with a folio batch: the rest of this mapping has no dirty folios.
      iomapIterAdvance(iter, iomapLength(iter));
      break;
    }
    if (folio.pos > iter.inode.iSize) warn(s, 'iomap_zero_iter:beyond-eof', 'iomap_zero_iter',
      `zeroing folio ${folio.index} beyond EOF ${iter.inode.iSize}`);
    folioZeroSegment(folio, wb.offset, wb.offset + wb.len, 'iomap_zero_iter');
    covState(C_ZERO_ITER, folioClass(folio));
    const ok = iomapWriteEnd(iter, folio, iter.pos, wb.len, wb.len);
    iomapPutFolio(iter, folio);
    warnOn(s, !ok, 'iomap_zero_iter:write-end', 'iomap_zero_iter', 'write_end refused a full zeroing');
    iomapIterAdvance(iter, wb.len);
  } while ((bytes = iomapLength(iter)) > 0);
  return 0;
}

/** filemap_range_needs_writeback: any dirty, locked or writeback folio in [start, end]. */
export function filemapRangeNeedsWriteback(inode: Inode, start: number, end: number): boolean {
  for (const f of foliosInRange(inode.mapping, Math.floor(start / PAGE_SIZE), Math.floor(end / PAGE_SIZE))) {
    if (folioTestDirty(f) || folioTestLocked(f) || folioTestWriteback(f)) return true;
  }
  return false;
}

interface ZeroCtx {
  ctx: IomapWriteCtx;
  /** filemap_range_needs_writeback() sampled before the first mapping; flushed at most once. */
  rangeDirty: boolean;
}

function* iomapZeroRangeActor(it: IomapIter, zc: ZeroCtx): Co<number> {
  const m = it.iomap;
  if (m.flags & IOMAP_F_FOLIO_BATCH && m.type !== IOMAP_UNWRITTEN) return -EIO;
  covState(C_ZERO_MAP, m.type | (m.flags & IOMAP_F_FOLIO_BATCH ? 4 : 0) | (zc.rangeDirty ? 8 : 0));
  if (!(m.flags & IOMAP_F_FOLIO_BATCH) && (m.type === IOMAP_HOLE || m.type === IOMAP_UNWRITTEN)) {
    // A hole reads as zeroes whatever the page cache holds past EOF, which
    // pagecache_isize_extended() zeroes: only unwritten extents need the
    // flush. Bug switch zero-range-hole-flush: the 2025 code flushed over
    // holes too, which ext4 does while holding a journal handle.
    const flushable = m.type === IOMAP_UNWRITTEN || it.inode.fs.bugs.has('zero-range-hole-flush');
    if (zc.rangeDirty && flushable) {
      zc.rangeDirty = false;
      cov(C_ZERO_FLUSH);
      // iomap_zero_iter_flush_and_stale
      m.flags |= IOMAP_F_STALE;
      return yield* filemapWriteAndWaitRange(it.inode.mapping, it.pos, it.pos + it.len - 1);
    }
    iomapIterAdvance(it, iomapLength(it));
    return 0;
  }
  return yield* iomapZeroIter(it, zc.ctx);
}

/**
 * iomap_zero_range. Holes and unwritten extents read as zeroes already, unless
 * dirty page cache sits over them: then (without a folio batch from the
 * filesystem) the range is flushed once and remapped.
 */
export function* iomapZeroRange(inode: Inode, pos: number, len: number, ctx: IomapWriteCtx): Co<number> {
  if (len <= 0) return 0;
  const t = inode.fs.sched.current;
  t?.frames.push('iomap_zero_range');
  try {
    const zc: ZeroCtx = { ctx, rangeDirty: filemapRangeNeedsWriteback(inode, pos, pos + len - 1) };
    // The folio batch the filesystem may fill (iomap_fill_dirty_folios) lives with the call.
    const fbatch: FolioBatch = { folios: [], next: 0 };
    const iter = newIomapIter(inode, pos, len, IOMAP_ZERO, fbatch);
    return yield* iomapIterate(iter, ctx.ops, iomapZeroRangeActor, zc);
  } finally {
    t?.frames.pop();
  }
}

/** iomap_truncate_page: zero from pos to the end of its block. */
export function* iomapTruncatePage(inode: Inode, pos: number, ctx: IomapWriteCtx): Co<number> {
  const bsize = 1 << inode.blkbits;
  const off = offsetIn(pos, bsize);
  if (!off) return 0;
  return yield* iomapZeroRange(inode, pos, bsize - off, ctx);
}

/** iomap_folio_mkwrite_iter: the folio must be uptodate; dirty all of it. */
function* iomapFolioMkwriteIter(it: IomapIter, folio: Folio): Co<number> {
  if (!folioTestUptodate(folio)) warn(it.inode.fs.sched, 'iomap_folio_mkwrite_iter:not-uptodate', 'iomap_folio_mkwrite_iter',
    `folio ${folio.index} not uptodate in page_mkwrite`);
  iomapDirtyFolio(folio, it.inode.blkbits); // folio_mark_dirty -> ->dirty_folio
  iomapIterAdvance(it, iomapLength(it));
  return 0;
}

/**
 * iomap_page_mkwrite: lock the faulting folio, check it against truncation,
 * let the filesystem map (reserve) the range, and dirty it. Returns the length
 * folio_mkwrite_check_truncate returned (the bytes of the folio inside EOF,
 * the range reserved) with the folio locked, or -errno with it unlocked.
 */
export function* iomapPageMkwrite(inode: Inode, folio: Folio, ctx: IomapWriteCtx): Co<number> {
  const s = inode.fs.sched;
  const t = s.current;
  t?.frames.push('iomap_page_mkwrite');
  try {
    yield* folioLock(s, folio);
    // folio_mkwrite_check_truncate
    covState(C_MKWRITE, folioClass(folio));
    const size = inode.iSize;
    if (folio.mapping !== inode.mapping || folio.pos >= size) {
      cov(C_MKWRITE_TRUNCATED);
      folioUnlock(s, folio);
      return -14; // -EFAULT: VM_FAULT_NOPAGE/SIGBUS for the caller
    }
    const len = Math.min(folio.size, size - folio.pos);
    const iter = newIomapIter(inode, folio.pos, len, IOMAP_WRITE | IOMAP_FAULT);
    const ret = yield* iomapIterate(iter, ctx.ops, iomapFolioMkwriteIter, folio);
    if (ret < 0) {
      folioUnlock(s, folio);
      return ret;
    }
    yield* folioWaitStable(s, folio);
    return len;
  } finally {
    t?.frames.pop();
  }
}

/** iomap_file_unshare: read shared blocks into the page cache and dirty them (no-op without reflink). */
export function* iomapFileUnshare(inode: Inode, pos: number, len: number, ctx: IomapWriteCtx): Co<number> {
  const size = inode.iSize;
  if (pos < 0 || pos >= size) return 0;
  const iter = newIomapIter(inode, pos, Math.min(len, size - pos), IOMAP_WRITE | IOMAP_UNSHARE);
  // No extent is shared in this sim (no reflink), so iomap_want_unshare_iter() is false everywhere.
  return yield* iomapIterate(iter, ctx.ops, iomapSkipIter, null);
}

/** An actor that has nothing to do over the mapping. */
function* iomapSkipIter(it: IomapIter, _c: null): Co<number> {
  iomapIterAdvance(it, iomapLength(it));
  return 0;
}
