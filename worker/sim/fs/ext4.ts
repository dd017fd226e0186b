// ext4 on iomap: extent inodes behave like XFS here (delalloc, unwritten
// conversion at I/O completion with dioread_nolock); indirect-block inodes
// have no unwritten extents, support only punch among the fallocate modes,
// and cannot fill holes with direct I/O (-ENOTBLK: fall back to buffered).

import type { FallocMode } from '../../prog/types.js';
import { BioOp, type BlockDevice } from '../blockdev.js';
import { EIOCBQUEUED, ENOTBLK } from '../errno.js';
import type { Co, Sched } from '../sched.js';
import { filemapFdatawaitRangeKeepErrors, filemapGetFolio, filemapWriteAndWaitRange } from '../mm/filemap.js';
import { folioClass, folioPut, folioUnlock } from '../mm/folio.js';
import { blockInvalidateFolio } from '../iomap/ifs.js';
import { inodeDioWait } from '../iomap/direct-io.js';
import { iomapFileBufferedWrite, iomapTruncatePage, iomapZeroRange } from '../iomap/write.js';
import { BlockFs } from './blockfs.js';
import { Journal } from './jbd2.js';
import { ExtState, type Extent } from './extent-map.js';
import { covSite, covState } from '../cov.js';
import { type Folio, PAGE_SHIFT, PAGE_SIZE, FGP_LOCK } from '../include/pagemap.js';
import type { Inode, OpenFile, Kiocb } from '../include/fs.js';
import { BLOCK_I, type BlockInode } from './block-inode.js';
import { IOMAP_WRITE, type Iomap } from '../include/iomap.js';
import { invalidateMappingPages, truncatePagecacheRange } from '../mm/truncate.js';
import type { BlockFsOptions, InodeSnapshot } from './block-space.js';

const C_DIO_FALLBACK = covSite('ext4_dio_write_iter:buffered-fallback');
const C_TRUNCATE_FOLIO = covSite('ext4_truncate_folio');

export class Ext4Fs extends BlockFs {
  readonly name = 'ext4';

  /**
   * ext4 on iomap checks the extent status sequence (i_es_seq) in
   * ->iomap_valid, as xfs checks its fork sequence: a mapping that changed
   * under write_begin (an unwritten extent converted by writeback, say) is
   * looked up again instead of zeroing written data.
   */
  protected hasValidityCookie(): boolean {
    return true;
  }

  protected freeExtentSite(): string {
    return 'mb_free_blocks';
  }

  /** The jbd2 journal (data=ordered). */
  readonly journal: Journal<InodeSnapshot>;
  /** Each inode's metadata as a commit last captured it (what its i_sync_tid transaction writes). */
  private readonly journaled = new Map<number, InodeSnapshot>();

  constructor(sched: Sched, dev: BlockDevice, opts: BlockFsOptions) {
    super(sched, dev, opts);
    this.journal = new Journal<InodeSnapshot>(sched, {
      snapshotInode: (inode) => this.snapshotInode(BLOCK_I(inode)),
      installCommitted: (snaps) => this.installCommitted(snaps),
      // journal_finish_inode_data_buffers: the inode's data writeback in flight completes first.
      waitInodeData: (inode) => filemapFdatawaitRangeKeepErrors(inode.mapping, 0, Number.MAX_SAFE_INTEGER),
    });
  }

  protected override snapshotInode(inode: BlockInode): InodeSnapshot {
    const snap = super.snapshotInode(inode);
    this.journaled.set(inode.ino, snap);
    return snap;
  }

  /**
   * ext4_free_blocks -> ext4_mb_clear_bb: in data=ordered mode freed data
   * blocks are not handed back to the buddy allocator at once ("we need to
   * make sure we don't reuse the freed block until after the transaction is
   * committed"): ext4_mb_free_metadata queues them on the freeing
   * transaction, and ext4_journal_commit_callback -> ext4_process_freed_data
   * frees them when it commits. Until then the committed metadata still maps
   * them to their old owner, and the allocator must not give them out: a new
   * owner's data written there ahead of its own (uncommitted) mapping would
   * show through the old mapping after a crash. The free runs under a handle
   * that holds the inode, so the freeing transaction is the first commit of
   * a snapshot of the inode taken after the free.
   */
  protected override freeBlocks(inode: BlockInode, start: number, len: number): void {
    this.alloc.deferRelease(start, len, inode.ino, this.snapshotGen);
  }

  /** ext4_zero_partial_blocks and ext4_block_truncate_page run inside a journal handle. */
  protected override *zeroPartialBlocks(inode: BlockInode, body: Co<number>): Co<number> {
    const h = yield* this.journal.start(); // ext4_journal_start
    try {
      const ret = yield* body;
      this.journal.joinInode(h, inode);
      return ret;
    } finally {
      this.journal.stop(h); // ext4_journal_stop
    }
  }

  /** ext4_mark_inode_dirty under a handle of its own: the inode's new size and extents join the running transaction. */
  private *markInodeDirty(inode: BlockInode): Co<void> {
    const h = yield* this.journal.start();
    this.journal.joinInode(h, inode);
    this.journal.stop(h);
  }

  /** ext4_setattr: the size change is journaled. */
  override *setattrSize(file: OpenFile, size: number): Co<number> {
    const ret = yield* super.setattrSize(file, size);
    if (ret === 0) yield* this.markInodeDirty(BLOCK_I(file.inode));
    return ret;
  }

  /** ext4_fallocate: every mode changes extents (and maybe the size) under handles. */
  override *fallocate(file: OpenFile, mode: FallocMode, off: number, len: number): Co<number> {
    const ret = yield* super.fallocate(file, mode, off, len);
    if (ret === 0) yield* this.markInodeDirty(BLOCK_I(file.inode));
    return ret;
  }

  /**
   * ext4_sync_file (data=ordered): write the data back and wait, then
   * ext4_fsync_journal: wait for the commit of the transaction holding the
   * inode's metadata (jbd2_complete_transaction on i_sync_tid), starting it
   * if it still runs; then the cache flush (needs_barrier). Metadata the sim
   * changed outside a handle (I/O completion converts extents and moves
   * i_disksize where ext4 uses reserved handles) joins the running
   * transaction here, as those handles would have.
   */
  override *fsync(file: OpenFile, start: number, end: number, _datasync: boolean): Co<number> {
    const err = yield* this.fileWriteAndWaitRange(file, start, end);
    if (err) return err;
    const inode = BLOCK_I(file.inode);
    const journaled = this.journaled.get(inode.ino) ?? { ino: inode.ino, size: 0, exts: [], gen: 0 };
    if (!sameMetadata(this.inodeMetadata(inode), journaled)) this.journal.joinInodeReserved(inode);
    yield* this.journal.completeTransaction(this.journal.tidOf(inode));
    return yield* this.submitBioWait(BioOp.Flush, 0, new Uint8Array(0), 'blkdev_issue_flush', true);
  }

  /** ext4_update_disksize_before_punch, then ext4_truncate_page_cache_block_range. */
  /** ext4_insert_range writes back from the offset to LLONG_MAX and truncate_pagecache()s from it: the whole rest of the cache. */
  protected override insertUnmapEnd(_inode: BlockInode, _len: number): number {
    return Number.MAX_SAFE_INTEGER;
  }

  protected override *punchPagecache(inode: BlockInode, off: number, len: number): Co<number> {
    // ext4_update_disksize_before_punch: dirty data dropped at EOF must not take the size with it.
    const size = inode.iSize;
    if (off < size && off + len >= size && inode.diskSize < size) inode.diskSize = size;
    yield* this.truncatePageCacheBlockRange(inode, off, off + len);
    return 0;
  }

  /**
   * ext4_truncate_page_cache_block_range (data=ordered): drop the cached
   * range without writing it back; a folio straddling an edge keeps its dirty
   * data outside the range (truncate_pagecache_range, which unmaps whole pages
   * only). With blocks smaller than a page, the folio holding each unaligned
   * edge is first write-protected (ext4_truncate_folio), so a store into its
   * punched blocks faults and ext4_page_mkwrite reserves them again: the
   * invalidation below discards their buffers' dirty state, and writeback
   * only writes dirty mapped or delayed buffers (commit 17207d0bb209, "ext4:
   * remove writable userspace mappings before truncating page cache").
   */
  private *truncatePageCacheBlockRange(inode: BlockInode, start: number, end: number): Co<void> {
    const bs = this.blockSize;
    if ((start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0) && bs < PAGE_SIZE && start < inode.iSize) {
      const pageBoundary = Math.ceil(start / PAGE_SIZE) * PAGE_SIZE;
      yield* this.truncateFolio(inode, start, Math.min(pageBoundary, end));
      if (end > pageBoundary) yield* this.truncateFolio(inode, Math.floor(end / PAGE_SIZE) * PAGE_SIZE, end);
    }
    yield* truncatePagecacheRange(inode.mapping, start, end - 1, this.unmapFolio);
  }

  /**
   * ext4_truncate_folio: if [start, end) holds a whole block, folio_mkclean
   * the folio caching start (folio_mark_dirty if a pte had dirtied it: the
   * sim has no pte dirty bits, and PG_dirty set at page_mkwrite stays).
   */
  private *truncateFolio(inode: BlockInode, start: number, end: number): Co<void> {
    const bs = this.blockSize;
    if (Math.ceil(start / bs) * bs >= Math.floor(end / bs) * bs) return;
    const mapping = inode.mapping;
    const folio = yield* filemapGetFolio(mapping, Math.floor(start / PAGE_SIZE), FGP_LOCK, 0);
    if (!folio) return;
    covState(C_TRUNCATE_FOLIO, folioClass(folio));
    if (folio.mapcount > 0 && mapping.mkclean) mapping.mkclean(folio);
    folioUnlock(this.sched, folio);
    folioPut(this.sched, folio);
  }

  /** ext4_invalidate_folio -> block_invalidate_folio: a partial invalidation discards the buffers wholly inside. */
  protected override invalidateFolio(folio: Folio, off: number, len: number): void {
    blockInvalidateFolio(this.sched, folio, off, len, this.blkbits);
  }

  /**
   * ext4_zero_range: unlike xfs (punch, then preallocate), ext4 frees no
   * blocks. It preallocates the range rounded out to blocks when an edge is
   * unaligned, drops the page cache, then converts the whole blocks inside
   * to unwritten where they are (ext4_alloc_file_blocks with
   * EXT4_GET_BLOCKS_CONVERT_UNWRITTEN: ext4_ext_convert_initialized_extent
   * keeps each written extent's physical blocks; holes get new unwritten
   * ones), and zeroes the partial edge blocks under a handle
   * (ext4_zero_partial_blocks). Keeping the blocks matters: writeback of a
   * folio straddling the range may have mapped them and be in flight, and
   * its completion converts by file offset (ext4_convert_unwritten_extents)
   * whatever unwritten extent is there then; with the same physical blocks
   * that is the data it wrote, with new ones it would be whatever they held.
   */
  protected override *zeroRangeFalloc(inode: BlockInode, off: number, len: number, keepSize: boolean): Co<number> {
    const bs = this.blockSize;
    const end = off + len;
    const aligned = off % bs === 0 && end % bs === 0;
    // Preallocate the range including the unaligned edges.
    if (!aligned) {
      const err = yield* this.allocateRange(inode, off, len, true);
      if (err < 0) return err;
    }
    // ext4_update_disksize_before_punch, ext4_truncate_page_cache_block_range.
    let err = yield* this.punchPagecache(inode, off, len);
    if (err < 0) return err;
    // Zero range excluding the unaligned edges: written extents become
    // unwritten in place, delayed ones and holes get unwritten blocks.
    const first = Math.ceil(off / bs);
    const last = Math.floor(end / bs);
    if (last > first) {
      inode.extents.convert(first, last - first, ExtState.Written, ExtState.Unwritten);
      this.punchDelalloc(inode, first, last - first);
      err = yield* this.allocateRange(inode, first * bs, (last - first) * bs, true);
      if (err < 0) return err;
    }
    if (!keepSize && end > inode.iSize) {
      err = yield* this.setSizeLocked(inode, end);
      if (err < 0) return err;
    }
    if (aligned || off >= inode.iSize) return 0;
    // ext4_zero_partial_blocks: the partial block at each edge, inside EOF.
    const headEnd = Math.min(first * bs, end, inode.iSize);
    if (headEnd > off) {
      err = yield* this.zeroPartialBlocks(inode, iomapZeroRange(inode, off, headEnd - off, this.writeCtx));
      if (err < 0) return err;
    }
    const tailStart = Math.max(last * bs, first * bs, off);
    const tailEnd = Math.min(end, inode.iSize);
    if (end % bs !== 0 && tailEnd > tailStart && tailStart >= headEnd) {
      err = yield* this.zeroPartialBlocks(inode, iomapZeroRange(inode, tailStart, tailEnd - tailStart, this.writeCtx));
      if (err < 0) return err;
    }
    return 0;
  }

  /**
   * ext4_inode_extension_cleanup: an extending direct write that failed or
   * came up short leaves blocks allocated past EOF; free them before
   * i_rwsem is dropped, so nothing (zeroing up to a later write, say) meets
   * mapped blocks beyond i_size. That is ext4_truncate_failed_write:
   * ext4_truncate also zeroes the EOF block past i_size
   * (ext4_block_truncate_page), where a bio the write sent before it failed
   * (a misaligned later mapping, -EINVAL) may have landed: 6.18 reads zeroes
   * there after the file grows over it.
   */
  protected override *dioWriteEnd(inode: BlockInode, pos: number, len: number, ret: number): Co<void> {
    if (ret === len || pos + len <= inode.iSize) return;
    this.truncateExtents(inode, inode.iSize);
    if (inode.iSize % this.blockSize !== 0) yield* this.zeroPartialBlocks(inode, iomapTruncatePage(inode, inode.iSize, this.writeCtx));
  }

  /**
   * ext4_dio_write_iter: unaligned and extending direct writes always wait
   * for completion (IOMAP_DIO_FORCE_WAIT), as the size update and the
   * cleanup of a failed extension run in the caller.
   */
  protected override dioForceWait(inode: BlockInode, pos: number, len: number): boolean {
    const aligned = pos % this.blockSize === 0 && len % this.blockSize === 0;
    return !aligned || pos + len > inode.iSize;
  }

  /**
   * Mount: ext4_orphan_cleanup truncates an inode that was being extended to
   * its on-disk size. Indirect-block inodes can hold no blocks past EOF but
   * those of an extension whose data never reached the disk (a failed
   * writeback allocated them as written blocks): they go.
   */
  override reloadInode(vfsInode: Inode): void {
    const inode = BLOCK_I(vfsInode);
    // Before the base class takes the on-disk size and commits the inode.
    if (inode.indirect) this.truncateExtents(inode, inode.diskSize);
    super.reloadInode(inode);
  }

  /** Crash recovery (jbd2_journal_recover, then ext4_orphan_cleanup: see BlockSpace.recoveryTrim). */
  override *powerRecover(seed: number): Co<void> {
    // The running and committing transactions die with the machine; recovery replays committed ones.
    this.journal.powerCut();
    yield* super.powerRecover(seed);
    for (const inode of this.inodes) this.journaled.set(inode.ino, this.inodeMetadata(inode));
  }

  /** ext4_fallocate: only punch hole works without extents (-EOPNOTSUPP otherwise). */
  protected override fallocSupported(inode: BlockInode, mode: FallocMode): boolean {
    if (mode === 'unshare') return false;
    return !inode.indirect || mode === 'punch';
  }

  /** Indirect-block files have no unwritten state: writeback allocates written blocks. */
  /**
   * mpage_prepare_extent_to_map: ext4 maps the run of dirty delayed blocks
   * being written, not the whole reservation. An indirect inode's blocks are
   * written (no unwritten state): allocating a reserved block whose data is
   * not in the cache yet would expose what the block held before.
   */
  protected override delallocToConvert(inode: BlockInode, ext: Extent, pos: number, len: number): Extent {
    if (!inode.indirect) return ext;
    const first = Math.max(ext.lblk, Math.floor(pos / this.blockSize));
    const end = Math.min(ext.lblk + ext.len, Math.ceil((pos + len) / this.blockSize));
    return { ...ext, lblk: first, len: end - first };
  }

  protected override delallocTarget(inode: BlockInode): ExtState {
    return inode.indirect ? ExtState.Written : ExtState.Unwritten;
  }

  protected override readonly dioAlignFirst = false;
  protected override readonly dioZeroEof = false;

  /**
   * ext4_iomap_begin for direct writes: indirect inodes cannot fill a hole
   * inside i_size (a crash could expose stale data): -ENOTBLK, buffered fallback.
   */
  protected override *directIomapBegin(inode: BlockInode, pos: number, len: number, flags: number, m: Iomap): Co<number> {
    if (inode.indirect && flags & IOMAP_WRITE) {
      const ext = this.mapExtent(inode, pos, len, m);
      if ((!ext || ext.state === ExtState.Delalloc) && m.offset < inode.iSize) return -ENOTBLK;
      if (!ext || ext.state === ExtState.Delalloc) {
        // Past EOF: allocate written blocks directly (EXT4_GET_BLOCKS_CREATE).
        const lblk = m.offset / this.blockSize;
        const n = m.length / this.blockSize;
        if (ext) this.punchDelalloc(inode, lblk, n);
        const got = this.allocBlocks(inode, lblk, n, ExtState.Written);
        if (got < 0) return got;
        this.mapExtent(inode, pos, len, m);
        m.flags |= 1; // IOMAP_F_NEW: sub-block zeroing around the write
      }
      return 0;
    }
    return yield* super.directIomapBegin(inode, pos, len, flags, m);
  }

  /**
   * ext4_dio_write_iter: what direct I/O could not do (-ENOTBLK, or a short
   * direct write that stopped at a hole) is done buffered, under the exclusive
   * i_rwsem and after draining direct I/O in flight, then written back and
   * dropped from the page cache to keep direct I/O semantics.
   */
  override *writeIter(file: OpenFile, pos: number, src: Uint8Array, iocb?: Kiocb): Co<number> {
    if (!file.direct) return yield* super.writeIter(file, pos, src);
    const inode = BLOCK_I(file.inode);
    const len = this.writeChecks(pos, src.length);
    if (len <= 0) return len;
    let ret = yield* this.directWrite(file, pos, len === src.length ? src : src.subarray(0, len), iocb);
    if (ret === -EIOCBQUEUED) return ret;
    if (ret === -ENOTBLK) ret = 0;
    if (ret < 0 || ret === len) return ret;
    const offset = pos + ret;
    yield* inode.iRwsem.downWrite(this.sched);
    covState(C_DIO_FALLBACK, inode.dioCount > 0 ? 1 : 0);
    // Bug switch ext4-dio-fallback-no-drain: before the 2026 fix the fallback did not drain direct I/O in flight.
    if (!this.bugs.has('ext4-dio-fallback-no-drain')) yield* inodeDioWait(inode);
    let err = yield* this.writeZeroEof(inode, offset);
    if (err >= 0) err = yield* iomapFileBufferedWrite(inode, offset, src.subarray(ret, len), this.writeCtx, this.unmapFolio);
    inode.iRwsem.upWrite(this.sched);
    if (err < 0) return ret > 0 ? ret : err;
    const endbyte = offset + err - 1;
    const e2 = yield* filemapWriteAndWaitRange(inode.mapping, offset, endbyte);
    if (!e2) invalidateMappingPages(inode.mapping, Math.floor(offset / (1 << PAGE_SHIFT)), Math.floor(endbyte / (1 << PAGE_SHIFT)));
    return ret + err;
  }
}

function sameMetadata(a: InodeSnapshot, b: InodeSnapshot): boolean {
  if (a.size !== b.size || a.exts.length !== b.exts.length) return false;
  return a.exts.every((e, i) => {
    const f = b.exts[i]!;
    return e.lblk === f.lblk && e.len === f.len && e.pblk === f.pblk && e.state === f.state;
  });
}
