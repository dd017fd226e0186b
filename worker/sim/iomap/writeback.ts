// iomap writeback (fs/iomap/buffered-io.c, mm/page-writeback.c): walk the
// dirty folios of a range, and for each write back its dirty blocks through
// the filesystem's writeback_range, which maps (allocating delalloc) and
// submits I/O. PG_writeback ends when every submitted byte has completed.

import { aliasRead, aliasWrite } from '../alias.js';
import { warn } from '../checks.js';
import type { Co } from '../sched.js';
import { foliosInRange, mappingSetError } from '../mm/filemap.js';
import {
  folioClass,
  folioEndWriteback,
  folioGet,
  folioLock,
  folioPut,
  folioStartWriteback,
  folioTestDirty,
  folioTestLocked,
  folioTestWriteback,
  folioUnlock,
  folioWaitWriteback,
  folioZeroSegment,
} from '../mm/folio.js';
import {
  blocksPerFolio, folioIfs, ifsAlloc, ifsBlockDirty, ifsBlockUptodate, iomapClearRangeDirty, iomapSetRangeDirty, noteDirtyLoss,
} from './ifs.js';
import { provenance } from '../provenance.js';
import { cov, covSite, covState } from '../cov.js';
import { ifsClass } from './ifs.js';
import { type Folio, PAGE_SHIFT, PG_dirty, type AddressSpace, type WritebackControl } from '../include/pagemap.js';
import type { Inode } from '../include/fs.js';
import { IOMAP_HOLE, type Iomap, newIomap } from '../include/iomap.js';

const C_WB_FOLIO = covSite('iomap_writeback_folio');
const C_WB_EOF = covSite('iomap_writeback_handle_eof');
const C_WB_ERROR = covSite('iomap_writeback_folio:error');
const C_WB_SKIP = covSite('writeback_iter:skip-writeback');
const C_WB_WAIT = covSite('writeback_iter:wait-writeback');
const A_CLEAR_DIRTY_FOR_IO = covSite('alias:folio_clear_dirty_for_io');
const A_WB_FOLIO = covSite('alias:iomap_writeback_folio');

/** struct iomap_writepage_ctx */
export interface WritepageCtx {
  inode: Inode;
  wbc: WritebackControl;
  /** The mapping the filesystem found for the range being written back. */
  iomap: Iomap;
}

/** struct iomap_writeback_ops */
export interface IomapWritebackOps {
  /**
   * Map and submit [pos, pos+len) of the folio (end_pos bounds the valid data).
   * Returns bytes handled (> 0) or -errno; wpc.iomap.type is HOLE for ranges that submit nothing.
   */
  writebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): Co<number>;
}

/** folio_clear_dirty_for_io: clear PG_dirty and write-protect the ptes (page_mkclean). */
export function folioClearDirtyForIo(mapping: AddressSpace, folio: Folio): boolean {
  if (!(folio.flags & PG_dirty)) return false;
  aliasWrite(folio.alias, A_CLEAR_DIRTY_FOR_IO);
  if (folio.mapcount > 0 && mapping.mkclean) mapping.mkclean(folio);
  folio.flags &= ~PG_dirty;
  return true;
}

/** iomap_finish_folio_write: part of a folio's writeback completed. */
export function iomapFinishFolioWrite(inode: Inode, folio: Folio, len: number): void {
  const s = inode.fs.sched;
  const ifs = folioIfs(folio);
  if (blocksPerFolio(folio, inode.blkbits) > 1 && !ifs) warn(s, 'iomap_finish_folio_write:no-ifs', 'iomap_finish_folio_write',
    `folio ${folio.index} has blocks but no ifs`);
  if (ifs) {
    if (ifs.writeBytesPending <= 0) warn(s, 'iomap_finish_folio_write:underflow', 'iomap_finish_folio_write',
      `folio ${folio.index} write_bytes_pending underflow`);
    ifs.writeBytesPending -= len;
    if (ifs.writeBytesPending !== 0) return;
  }
  folioEndWriteback(s, folio);
}

/** iomap_writeback_handle_eof: false for a folio wholly past EOF; zero the tail of one straddling it. */
function iomapWritebackHandleEof(folio: Folio, inode: Inode, endPos: { v: number }): boolean {
  const isize = inode.iSize;
  if (endPos.v > isize) {
    covState(C_WB_EOF, folio.pos >= isize ? 1 : 0);
    const poff = isize - folio.pos;
    const endIndex = Math.floor(isize / (1 << PAGE_SHIFT));
    if (folio.index > endIndex || (folio.index === endIndex && poff === 0)) return false;
    folioZeroSegment(folio, poff, folio.size, 'iomap_writeback_handle_eof');
    endPos.v = isize;
  }
  return true;
}

/** Next run of dirty blocks at or after *pos, below rangeEnd: [start, bytes], bytes 0 if none. */
function iomapFindDirtyRange(inode: Inode, folio: Folio, pos: number, rangeEnd: number): [number, number] {
  if (pos >= rangeEnd) return [pos, 0];
  const ifs = folioIfs(folio);
  if (!ifs) return [pos, rangeEnd - pos];
  const bits = inode.blkbits;
  let blk = (pos - folio.pos) >> bits;
  const endBlk = Math.min((rangeEnd - folio.pos) >> bits || blocksPerFolio(folio, bits), blocksPerFolio(folio, bits)) - 1;
  // Bug switch mkwrite-ifs-zeroed: writeback before per-block dirty tracking wrote the uptodate blocks.
  const pick = folio.mapping?.bugs.has('mkwrite-ifs-zeroed') ? ifsBlockUptodate : ifsBlockDirty;
  while (blk <= endBlk && !pick(ifs, blk)) blk++;
  if (blk > endBlk) return [pos, 0];
  let end = blk + 1;
  while (end <= endBlk && pick(ifs, end)) end++;
  return [folio.pos + (blk << bits), (end - blk) << bits];
}

/**
 * Provenance only: blocks inside EOF that writeback did not visit are about
 * to be taken for clean (their dirty bits cleared, the folio's too): bytes in
 * them that no storage holds go with them. Judged by the bytes, not the
 * dirty bits, since an ifs can lose those (one made with every bit clear).
 */
function noteDirtyBlocksLeft(folio: Folio, bits: number, endPos: number, ino: number, visited: readonly [number, number][]): void {
  const prov = provenance();
  if (!prov) return;
  const bsize = 1 << bits;
  const end = endPos - folio.pos;
  for (let a = 0; a < end; a += bsize) {
    if (visited.some(([x, y]) => a >= x && a < y)) continue;
    prov.droppedUnstored(ino, folio.pos + a, folio.data, a, Math.min(a + bsize, end), 'skipped', 'iomap_writeback_folio');
  }
}

/** iomap_writeback_folio: the folio is locked and its dirty flag was just cleared. */
export function* iomapWritebackFolio(wpc: WritepageCtx, folio: Folio, ops: IomapWritebackOps): Co<number> {
  const inode = wpc.inode;
  const s = inode.fs.sched;
  const bits = inode.blkbits;
  if (!folioTestLocked(folio)) warn(s, 'iomap_writeback_folio:unlocked', 'iomap_writeback_folio',
    `folio ${folio.index} not locked`);
  if (folioTestDirty(folio)) warn(s, 'iomap_writeback_folio:dirty', 'iomap_writeback_folio', `folio ${folio.index} still dirty`);
  if (folioTestWriteback(folio)) warn(s, 'iomap_writeback_folio:writeback', 'iomap_writeback_folio',
    `folio ${folio.index} already under writeback`);
  const endPos = { v: folio.pos + folio.size };
  aliasRead(folio.alias, A_WB_FOLIO);
  covState(C_WB_FOLIO, folioClass(folio) * 64 + ifsClass(folio));
  if (!iomapWritebackHandleEof(folio, inode, endPos)) return 0;
  let ifs = folioIfs(folio);
  if (blocksPerFolio(folio, bits) > 1) {
    if (!ifs) {
      ifs = ifsAlloc(folio, bits);
      iomapSetRangeDirty(folio, 0, endPos.v - folio.pos, bits);
    }
    // iomap_writeback_init
    if (ifs!.writeBytesPending !== 0) warn(s, 'iomap_writeback_init:pending', 'iomap_writeback_init',
      `folio ${folio.index} write bytes pending`);
    ifs!.writeBytesPending = folio.size;
  }
  folioStartWriteback(s, folio);
  const bsize = 1 << bits;
  const endAligned = Math.ceil(endPos.v / bsize) * bsize;
  let pos = folio.pos;
  let submitted = 0;
  let error = 0;
  /** Provenance only: the ranges visited, folio-relative, to tell which dirty blocks writeback left. */
  const visited: [number, number][] = [];
  for (;;) {
    const [start, rlen] = iomapFindDirtyRange(inode, folio, pos, endAligned);
    if (rlen === 0) break;
    pos = start;
    visited.push([start - folio.pos, start - folio.pos + rlen]);
    let left = rlen;
    while (left > 0) {
      const ret = yield* ops.writebackRange(wpc, folio, pos, left, endPos.v);
      if (ret === 0 || ret > left) {
        warn(s, 'iomap_writeback_range:bad-length', 'iomap_writeback_range', `writeback_range returned ${ret} of ${left}`);
      }
      if (ret < 0) {
        error = ret;
        break;
      }
      if (wpc.iomap.type !== IOMAP_HOLE) submitted += ret;
      else noteDirtyLoss(folio, bits, endPos.v, inode.ino, pos - folio.pos, pos - folio.pos + ret, 'skipped', 'iomap_writeback_range', true);
      left -= ret;
      pos += ret;
    }
    if (error) break;
  }
  if (error) cov(C_WB_ERROR);
  else noteDirtyBlocksLeft(folio, bits, endPos.v, inode.ino, visited);
  // Dirty bits past EOF can come from page_mkwrite on the EOF folio: clear them all.
  iomapClearRangeDirty(folio, 0, folio.size, bits);
  if (ifs) {
    const notSubmitted = folio.size - submitted;
    if (notSubmitted) iomapFinishFolioWrite(inode, folio, notSubmitted);
  } else if (!submitted) {
    folioEndWriteback(s, folio);
  }
  mappingSetError(inode.mapping, error);
  return error;
}

/**
 * iomap_writepages via writeback_iter: lock each dirty folio in range, skip
 * or (WB_SYNC_ALL) wait for one under writeback, clear its dirty flag, and
 * write it back.
 */
export function* iomapWritepages(inode: Inode, wbc: WritebackControl, ops: IomapWritebackOps): Co<number> {
  const mapping = inode.mapping;
  const s = inode.fs.sched;
  const t = s.current;
  t?.frames.push('iomap_writepages');
  try {
    const wpc: WritepageCtx = { inode, wbc, iomap: newIomap() };
    let error = 0;
    const first = Math.floor(wbc.rangeStart / (1 << PAGE_SHIFT));
    const last = Math.floor(wbc.rangeEnd / (1 << PAGE_SHIFT));
    for (const folio of foliosInRange(mapping, first, last)) {
      // Removed from the mapping (and maybe freed) while we wrote back an earlier folio.
      if (folio.mapping !== mapping || !folioTestDirty(folio)) continue;
      folioGet(folio);
      yield* folioLock(s, folio);
      if (folio.mapping !== mapping || !folioTestDirty(folio)) {
        folioUnlock(s, folio);
        folioPut(s, folio);
        continue;
      }
      if (folioTestWriteback(folio)) {
        if (!wbc.syncAll) {
          cov(C_WB_SKIP);
          folioUnlock(s, folio);
          folioPut(s, folio);
          continue;
        }
        cov(C_WB_WAIT);
        yield* folioWaitWriteback(s, folio);
      }
      if (!folioClearDirtyForIo(mapping, folio)) {
        folioUnlock(s, folio);
        folioPut(s, folio);
        continue;
      }
      const err = yield* iomapWritebackFolio(wpc, folio, ops);
      if (err && !error) error = err;
      folioUnlock(s, folio);
      folioPut(s, folio);
    }
    return error;
  } finally {
    t?.frames.pop();
  }
}
