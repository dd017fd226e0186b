// The block filesystems' I/O paths (xfs and ext4 alike), on the space layer
// (block-space.ts): the iomap operations they give the iomap library
// (read, buffered write, direct I/O, writeback mapping), reads, buffered and
// direct writes, writeback and its I/O completion, and the data half of
// fsync. The behaviour follows XFS (xfs_iomap.c, xfs_aops.c, xfs_file.c);
// the hooks where ext4 differs are abstract and live in xfs.ts and ext4.ts.

import { isAligned } from '../bits.js';
import { BioOp, type Bio, type BlockDevice, SECTOR_SIZE } from '../blockdev.js';
import { violation } from '../checks.js';
import { EFBIG, EINVAL, EIO, EIOCBQUEUED, ENOSPC, ENOTBLK } from '../errno.js';
import { errseqCheckAndAdvance } from '../errseq.js';
import { type Co, type Sched, WaitQueue } from '../sched.js';
import {
  filemapCheckErrors,
  filemapFdatawaitRangeKeepErrors,
  filemapFdatawriteRange,
  filemapRead,
  foliosInRange,
  unmapMappingFolio,
  mappingSetError,
} from '../mm/filemap.js';
import { folioTestDirty, folioTestLocked, folioTestWriteback } from '../mm/folio.js';
import { postEofStoreIntersects } from '../mm/post-eof-stores.js';
import { type DioAsync, type IomapDioOps, inodeDioWait, iomapDioRw } from '../iomap/direct-io.js';
import { Workqueue } from '../workqueue.js';
import { type IomapReadOps, iomapFinishFolioRead } from '../iomap/read.js';
import { type IomapWriteCtx, iomapFileBufferedWrite, iomapZeroRange } from '../iomap/write.js';
import { type IomapWritebackOps, type WritepageCtx, iomapFinishFolioWrite } from '../iomap/writeback.js';
import { ExtState, type Extent } from './extent-map.js';
import { AS_EIO, AS_ENOSPC, type Folio, type FolioUnmapper, PAGE_SIZE } from '../include/pagemap.js';
import type { Inode, Kiocb, OpenFile } from '../include/fs.js';
import { BLOCK_I, type BlockInode } from './block-inode.js';
import {
  type FolioBatch,
  IOMAP_DELALLOC,
  IOMAP_F_FOLIO_BATCH,
  IOMAP_F_NEW,
  IOMAP_HOLE,
  IOMAP_UNSHARE,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  IOMAP_ZERO,
  type Iomap,
  type IomapIter,
  type IomapOps,
  type IomapWriteOps,
} from '../include/iomap.js';
import { pagecacheIsizeExtended, pagecacheIsizeExtendedProtect, truncatePagecacheRange } from '../mm/truncate.js';
import { BlockSpace, type BlockFsOptions } from './block-space.js';

export abstract class BlockIo extends BlockSpace {
  /** Zaps a folio's ptes through its mapping's rmap hook (unmap_mapping_folio). */
  readonly unmapFolio: FolioUnmapper = unmapMappingFolio;

  protected readonly readOps: IomapOps;
  protected readonly writeOps: IomapOps;
  protected readonly dioOps: IomapOps;
  protected readonly writeCtx: IomapWriteCtx;
  protected readonly bioReadOps: IomapReadOps;
  protected readonly writebackOps: IomapWritebackOps;
  protected readonly dioEndOps: IomapDioOps;
  /** The DIO completion workqueue (s_dio_done_wq), started on first use. */
  protected readonly dioWorkqueue: Workqueue;

  constructor(sched: Sched, dev: BlockDevice, opts: BlockFsOptions) {
    super(sched, dev, opts);
    const fs = this;
    this.readOps = { iomapBegin: (iter, pos, len, flags, m) => fs.readIomapBegin(BLOCK_I(iter.inode), pos, len, flags, m) };
    this.writeOps = {
      iomapBegin: (iter, pos, len, flags, m) => fs.bufferedWriteIomapBegin(iter, pos, len, flags, m),
      iomapEnd: (iter, pos, len, written, flags, m) => fs.bufferedWriteIomapEnd(BLOCK_I(iter.inode), pos, len, written, flags, m),
    };
    this.dioOps = { iomapBegin: (iter, pos, len, flags, m) => fs.directIomapBegin(BLOCK_I(iter.inode), pos, len, flags, m) };
    const wops: IomapWriteOps = { blockWritten: (inode, pos) => fs.blockWritten(BLOCK_I(inode), pos) };
    if (this.hasValidityCookie()) wops.iomapValid = (inode, m) => m.validityCookie === BLOCK_I(inode).extents.seq;
    this.writeCtx = { ops: this.writeOps, wops, reader: { readFolioRangeSync: (iter, folio, pos, len) => fs.readFolioRangeSync(iter, folio, pos, len) } };
    this.bioReadOps = { readFolioRange: (iter, folio, pos, len) => fs.submitReadFolioRange(iter, folio, pos, len) };
    this.writebackOps = { writebackRange: (wpc, folio, pos, len, endPos) => fs.writebackRange(wpc, folio, pos, len, endPos) };
    this.dioEndOps = { endIo: (inode, pos, size, error, write) => fs.dioEndIo(BLOCK_I(inode), pos, size, error, write) };
    this.dioWorkqueue = new Workqueue(sched, 'dio/complete');
  }

  /** Whether ->iomap_valid checks the sequence cookie in write_begin (xfs: yes). */
  protected abstract hasValidityCookie(): boolean;

  /** ->invalidate_folio (xfs: iomap_invalidate_folio; ext4: block_invalidate_folio). */
  protected abstract invalidateFolio(folio: Folio, off: number, len: number): void;

  /**
   * The partial-block zeroing of truncate, punch and zero range. ext4 does it
   * inside a journal handle; xfs outside any transaction.
   */
  protected abstract zeroPartialBlocks(inode: Inode, body: Co<number>): Co<number>;

  /** The block at pos maps to written data now (the extent map, not a cached iomap). */
  blockWritten(inode: BlockInode, pos: number): boolean {
    return inode.extents.lookup(Math.floor(pos / this.blockSize)).ext?.state === ExtState.Written;
  }

  /** Whether a direct write waits for its completion even when asynchronous (IOMAP_DIO_FORCE_WAIT). */
  protected abstract dioForceWait(inode: BlockInode, pos: number, len: number): boolean;

  /** Which part of a delalloc extent writeback allocates (xfs: all of it; ext4: the run being written). */
  protected abstract delallocToConvert(inode: Inode, ext: Extent, pos: number, len: number): Extent;

  // ---- iomap_begin and iomap_end ----------------------------------------------

  /**
   * xfs_read_iomap_begin: the extent lookup under the shared ILOCK. Taking
   * that sleeping lock is a preemption point: I/O submitted for the earlier
   * part of a folio can complete here.
   */
  protected *readIomapBegin(inode: BlockInode, pos: number, len: number, _flags: number, m: Iomap): Co<number> {
    if (this.sched.preemptPoint()) yield;
    this.mapExtent(inode, pos, len, m);
    return 0;
  }

  /**
   * xfs_buffered_write_iomap_begin: existing extents are returned as they are;
   * a hole gets a delalloc reservation (IOMAP_F_NEW). Zeroing never allocates,
   * and over unwritten extents hands dirty folios over as a batch.
   */
  protected *bufferedWriteIomapBegin(iter: IomapIter, pos: number, len: number, flags: number, m: Iomap): Co<number> {
    const inode = BLOCK_I(iter.inode);
    // The extent lookup and delalloc reservation happen under the ILOCK: a preemption point.
    if (this.sched.preemptPoint()) yield;
    const ext = this.mapExtent(inode, pos, len, m);
    if (flags & IOMAP_ZERO) {
      if (m.type === IOMAP_UNWRITTEN && iter.fbatch) this.fillDirtyFolios(inode, m, iter.fbatch);
      return 0;
    }
    // xfs_buffered_write_iomap_begin: "We never need to allocate blocks for
    // zeroing or unsharing a hole": an unshare maps a hole as a hole.
    if (ext || flags & IOMAP_UNSHARE) return 0;
    // Reserve delalloc blocks for the hole.
    const lblk = m.offset / this.blockSize;
    const n = m.length / this.blockSize;
    if (this.alloc.freeBlocks - this.reserved < n) return -ENOSPC;
    this.reserved += n;
    inode.extents.set(lblk, n, -1, ExtState.Delalloc);
    m.type = IOMAP_DELALLOC;
    m.flags |= IOMAP_F_NEW;
    m.validityCookie = inode.extents.seq;
    return 0;
  }

  /**
   * iomap_fill_dirty_folios: the folios over an unwritten mapping that zeroing
   * must visit without a flush. filemap_get_folios_dirty() drops only a folio
   * it could trylock and found neither dirty nor under writeback: a folio
   * under writeback is not clean yet (its unwritten extent converts when the
   * I/O completes, and what that I/O carries shows then).
   * A folio it could not trylock is taken unchecked too (it may be about to
   * be dirtied); iomap_write_begin looks at it again under the lock.
   */
  protected fillDirtyFolios(inode: BlockInode, m: Iomap, fbatch: FolioBatch): void {
    fbatch.folios.length = 0;
    fbatch.next = 0;
    const first = Math.floor(m.offset / PAGE_SIZE);
    const last = Math.floor((m.offset + m.length - 1) / PAGE_SIZE);
    for (const f of foliosInRange(inode.mapping, first, last)) {
      if (folioTestDirty(f) || folioTestWriteback(f) || folioTestLocked(f)) fbatch.folios.push(f);
    }
    m.flags |= IOMAP_F_FOLIO_BATCH;
  }

  /**
   * xfs_buffered_write_iomap_end: after a short write, punch out the delalloc
   * blocks this write reserved that no dirty page cache covers
   * (iomap_write_delalloc_release).
   */
  protected *bufferedWriteIomapEnd(inode: BlockInode, pos: number, len: number, written: number, flags: number, m: Iomap): Co<number> {
    if (flags & IOMAP_ZERO || m.type !== IOMAP_DELALLOC || !(m.flags & IOMAP_F_NEW)) return 0;
    if (written >= len) return 0;
    const bs = this.blockSize;
    const start = Math.ceil((pos + written) / bs) * bs;
    const end = Math.ceil((pos + len) / bs) * bs;
    if (start >= end) return 0;
    yield* inode.invalidateLock.downWrite(this.sched);
    if (this.bugs.has('short-write-punch-delalloc')) {
      // Bug switch short-write-punch-delalloc: before f43dc4dc3eff (2022) the
      // write dropped the page cache over the rest of its reservation and
      // punched all of it, as if it owned the range; a page fault may have
      // dirtied a folio there meanwhile, and its data goes with the cache.
      yield* truncatePagecacheRange(inode.mapping, start, end - 1, this.unmapFolio);
      for (let b = start; b < end; b += bs) this.punchDelallocBlock(inode, b / bs);
    } else {
      // iomap_write_delalloc_release: keep the reservation under dirty page
      // cache inside EOF, punch the rest.
      for (let b = start; b < end; b += bs) {
        const f = inode.mapping.pages.get(Math.floor(b / PAGE_SIZE));
        if (f && folioTestDirty(f) && b < inode.iSize) continue;
        this.punchDelallocBlock(inode, b / bs);
      }
    }
    inode.invalidateLock.upWrite(this.sched);
    return 0;
  }

  /**
   * xfs_direct_write_iomap_begin: reads see extents as they are; writes
   * allocate unwritten blocks (IOMAP_F_NEW) for holes and delalloc.
   */
  protected *directIomapBegin(inode: BlockInode, pos: number, len: number, flags: number, m: Iomap): Co<number> {
    const ext = this.mapExtent(inode, pos, len, m);
    if (!(flags & IOMAP_WRITE)) {
      if (m.type === IOMAP_DELALLOC) m.type = IOMAP_HOLE;
      return 0;
    }
    if (ext && ext.state !== ExtState.Delalloc) return 0;
    const lblk = m.offset / this.blockSize;
    const n = m.length / this.blockSize;
    if (ext) this.punchDelalloc(inode, lblk, n);
    const got = this.allocBlocks(inode, lblk, n, ExtState.Unwritten);
    if (got < 0) return got;
    this.mapExtent(inode, pos, len, m);
    m.flags |= IOMAP_F_NEW;
    return 0;
  }

  // ---- reads ------------------------------------------------------------------

  /** read_folio_range for block devices: one bio, completed asynchronously. */
  protected submitReadFolioRange(iter: IomapIter, folio: Folio, pos: number, len: number): number {
    const m = iter.iomap;
    const inode = BLOCK_I(iter.inode);
    const off = pos - folio.pos;
    const bio: Bio = {
      op: BioOp.Read,
      sector: (m.addr + (pos - m.offset)) / SECTOR_SIZE,
      buf: folio.data.subarray(off, off + len),
      preflush: false,
      fua: false,
      status: 0,
      owner: 'iomap_read_end_io',
      file: { ino: inode.ino, pos, writeback: false },
      endIo: (b) => iomapFinishFolioRead(inode, folio, off, len, b.status),
    };
    this.dev.submitBio(bio);
    return 0;
  }

  /** iomap_bio_read_folio_range_sync: submit_bio_wait. */
  protected *readFolioRangeSync(iter: IomapIter, folio: Folio, pos: number, len: number): Co<number> {
    const m = iter.iomap;
    const off = pos - folio.pos;
    return yield* this.submitBioWait(BioOp.Read, m.addr + (pos - m.offset), folio.data.subarray(off, off + len), 'submit_bio_wait');
  }

  protected *submitBioWait(op: BioOp, addr: number, buf: Uint8Array, owner: string, preflush = false): Co<number> {
    const wq = new WaitQueue(owner);
    let done = false;
    let status = 0;
    this.dev.submitBio({
      op,
      sector: addr / SECTOR_SIZE,
      buf,
      preflush,
      fua: false,
      status: 0,
      owner,
      endIo: (b) => {
        done = true;
        status = b.status;
        this.sched.wakeAll(wq);
      },
    });
    yield* this.sched.waitUntil(wq, () => done);
    return status;
  }

  *readIter(file: OpenFile, pos: number, dst: Uint8Array, iocb?: Kiocb): Co<number> {
    const inode = BLOCK_I(file.inode);
    if (dst.length === 0) return 0;
    if (file.direct) {
      yield* inode.iRwsem.downRead(this.sched);
      const ret = yield* iomapDioRw(inode, pos, dst, false, this.dioOps, this.dioEndOps, this.unmapFolio, this.dioAsync(iocb));
      inode.iRwsem.upRead(this.sched);
      return ret;
    }
    yield* inode.iRwsem.downRead(this.sched);
    const ret = yield* filemapRead(inode.mapping, pos, dst.length, dst);
    inode.iRwsem.upRead(this.sched);
    return ret;
  }

  // ---- writes -----------------------------------------------------------------

  /** generic_write_checks: clamp to s_maxbytes; EFBIG at or past it. */
  protected writeChecks(pos: number, len: number): number {
    if (pos >= this.maxBytes) return -EFBIG;
    return Math.min(len, this.maxBytes - pos);
  }

  /** xfs_file_write_zero_eof: zero between the old EOF and a write that starts beyond it. */
  protected *writeZeroEof(inode: BlockInode, pos: number): Co<number> {
    if (pos <= inode.iSize) return 0;
    // AIO completion can move EOF: drain direct I/O first, then look again
    // (xfs_file_write_checks, with the exclusive i_rwsem held by the caller).
    yield* inodeDioWait(inode);
    const isize = inode.iSize;
    if (pos <= isize) return 0;
    yield* inode.invalidateLock.downWrite(this.sched);
    const ret = yield* iomapZeroRange(inode, isize, pos - isize, this.writeCtx);
    inode.invalidateLock.upWrite(this.sched);
    return ret;
  }

  /** After a direct write that held i_rwsem exclusive, still under it (ext4 cleans up a failed extension). */
  protected *dioWriteEnd(_inode: BlockInode, _pos: number, _len: number, _ret: number): Co<void> {}

  /** Every block of [pos, pos+len) is allocated and written (no hole, delalloc or unwritten extent). */
  protected overwritesWrittenBlocks(inode: BlockInode, pos: number, len: number): boolean {
    const end = Math.ceil((pos + len) / this.blockSize);
    for (let b = Math.floor(pos / this.blockSize); b < end;) {
      const { ext } = inode.extents.lookup(b);
      if (!ext || ext.state !== ExtState.Written) return false;
      b = ext.lblk + ext.len;
    }
    return true;
  }

  protected dioAsync(iocb: Kiocb | undefined): DioAsync | null {
    return iocb ? { iocb, workqueue: this.dioWorkqueue } : null;
  }

  *writeIter(file: OpenFile, pos: number, src: Uint8Array, iocb?: Kiocb): Co<number> {
    const inode = BLOCK_I(file.inode);
    const len = this.writeChecks(pos, src.length);
    if (len < 0) return len;
    if (len === 0) return 0;
    const data = len === src.length ? src : src.subarray(0, len);
    if (file.direct) {
      const ret = yield* this.directWrite(file, pos, data, iocb);
      if (ret !== -ENOTBLK) return ret;
    }
    yield* inode.iRwsem.downWrite(this.sched);
    let ret = yield* this.writeZeroEof(inode, pos);
    if (ret >= 0) ret = yield* iomapFileBufferedWrite(inode, pos, data, this.writeCtx, this.unmapFolio);
    inode.iRwsem.upWrite(this.sched);
    return ret;
  }

  /**
   * xfs_file_dio_write refuses a write not aligned to the logical sector
   * before anything else; ext4_dio_write_iter leaves it to
   * iomap_dio_bio_iter, per mapping, so a write that meets no bio (an
   * indirect inode's hole: -ENOTBLK, buffered) is not refused.
   */
  protected readonly dioAlignFirst: boolean = true;

  /**
   * xfs_file_write_checks zeroes the page cache from the old EOF to a direct
   * write that starts past it (xfs_file_write_zero_eof); ext4_dio_write_iter
   * has no such step: the old EOF folio keeps what it held past EOF unless
   * pagecache_isize_extended zeroes it after the size moved.
   */
  protected readonly dioZeroEof: boolean = true;

  /** xfs_file_dio_write: aligned writes under the shared i_rwsem, others exclusive. */
  protected *directWrite(file: OpenFile, pos: number, src: Uint8Array, iocb?: Kiocb): Co<number> {
    const inode = BLOCK_I(file.inode);
    if (this.dioAlignFirst && (!isAligned(pos, SECTOR_SIZE) || !isAligned(src.length, SECTOR_SIZE))) return -EINVAL;
    const unaligned = !isAligned(pos, this.blockSize) || !isAligned(src.length, this.blockSize);
    let exclusive = unaligned || pos + src.length > inode.iSize;
    if (exclusive) yield* inode.iRwsem.downWrite(this.sched);
    else {
      yield* inode.iRwsem.downRead(this.sched);
      // The size may have moved while we waited for the lock (a truncate):
      // a write that now extends needs it exclusive (ext4_dio_write_checks restart).
      if (pos + src.length > inode.iSize) {
        inode.iRwsem.upRead(this.sched);
        yield* inode.iRwsem.downWrite(this.sched);
        exclusive = true;
      }
    }
    let ret = this.dioZeroEof ? yield* this.writeZeroEof(inode, pos) : 0;
    if (exclusive && ret >= 0) yield* inodeDioWait(inode);
    // IOMAP_DIO_FORCE_WAIT: some writes complete before io_submit returns, even asynchronous ones.
    const async = this.dioForceWait(inode, pos, src.length) ? null : this.dioAsync(iocb);
    const oldSize = inode.iSize;
    if (ret >= 0) ret = yield* iomapDioRw(inode, pos, src, true, this.dioOps, this.dioEndOps, this.unmapFolio, async);
    if (exclusive && ret !== -EIOCBQUEUED) {
      yield* this.dioWriteEnd(inode, pos, src.length, ret);
      yield* this.dioWriteExtended(inode, oldSize);
    }
    if (exclusive) inode.iRwsem.upWrite(this.sched);
    else inode.iRwsem.upRead(this.sched);
    return ret;
  }

  /**
   * xfs_dio_write_end_io: convert unwritten extents and extend the size.
   * Only i_size_write: the completion runs without i_rwsem (AIO), so it does
   * not zero the page cache over the old EOF (no pagecache_isize_extended);
   * the submission zeroed [EOF, pos) already (xfs_file_write_zero_eof).
   * Nor does it write-protect the folio straddling the old EOF, the mainline
   * bug of dio-extend-no-isize-extended on this path: a pte made writable
   * before the size grew takes a store past the old EOF into a block
   * page_mkwrite never reserved, and writeback skips it as a hole (6.18 is
   * saved there by zero range flushing the dirty folio over a hole at the
   * submission, which zero-range-hole-flush's fix removes). With the switch
   * off the sim write-protects it (pagecacheIsizeExtendedProtect).
   */
  protected *dioEndIo(inode: BlockInode, pos: number, size: number, error: number, write: boolean): Co<number> {
    if (!write || error || size === 0) return 0;
    this.convertUnwritten(inode, pos, size);
    const oldSize = inode.iSize;
    if (pos + size > inode.iSize) inode.iSize = pos + size;
    if (pos + size > inode.diskSize) inode.diskSize = Math.min(pos + size, inode.iSize);
    if (inode.iSize > oldSize && !this.bugs.has('dio-extend-no-isize-extended')) {
      yield* pagecacheIsizeExtendedProtect(inode.mapping, inode.blkbits, oldSize, inode.iSize);
    }
    return 0;
  }

  /**
   * A synchronous direct write grew i_size from oldSize, and the caller still
   * holds i_rwsem exclusive: pagecache_isize_extended, which mainline does
   * not call here (6.18). A page_mkwrite of the folio straddling the old EOF
   * reserved blocks only up to that EOF and left its pte writable, so a later
   * store past the old EOF lands inside the new one in a block nothing
   * reserved, and writeback drops it as a hole (ext4 loses it on 6.18; xfs
   * is saved there only by zero range flushing a dirty hole, which the
   * seed-004 series removes). Truncate and buffered writes write-protect that
   * folio as the size grows; the sim assumes extending direct writes do the
   * same (the fix). An AIO that extends at completion (xfs) runs without
   * i_rwsem and is left alone, as xfs_dio_write_end_io is.
   * Bug switch dio-extend-no-isize-extended: mainline as it is.
   */
  private *dioWriteExtended(inode: BlockInode, oldSize: number): Co<void> {
    if (inode.iSize <= oldSize || this.bugs.has('dio-extend-no-isize-extended')) return;
    yield* pagecacheIsizeExtended(inode.mapping, inode.blkbits, oldSize, inode.iSize);
  }

  // ---- writeback --------------------------------------------------------------

  /**
   * xfs_writeback_range / xfs_map_blocks: map the range, allocating delalloc
   * (as unwritten, converted when the I/O completes), and submit a bio for it.
   */
  protected *writebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): Co<number> {
    const inode = BLOCK_I(wpc.inode);
    const m = wpc.iomap;
    m.flags = 0;
    let ext = this.mapExtent(inode, pos, len, m);
    if (ext && ext.state === ExtState.Delalloc) {
      const err = this.convertDelalloc(inode, this.delallocToConvert(inode, ext, pos, len));
      if (err < 0) return err;
      ext = this.mapExtent(inode, pos, len, m);
    }
    const n = Math.min(m.offset + m.length, pos + len) - pos;
    if (m.type === IOMAP_HOLE) {
      // Writeback completeness: a hole reads as zeroes, so skipping it loses
      // nothing only if the cached bytes inside EOF are zeroes too (dirty bits
      // set past EOF by page_mkwrite over what is now a hole are fine).
      // A block holding bytes stored through a mapping past EOF that an
      // extension exposed before pagecache_isize_extended could zero them is
      // skipped: those bytes are not file data (post-eof-stores.ts), and
      // page_mkwrite never reserved the block for them.
      const end = Math.min(pos + n, inode.iSize);
      const bs = this.blockSize;
      for (let b = pos; b < end; b += bs) {
        const bend = Math.min(b + bs, end);
        if (inode.mapping.postEofStores !== null && postEofStoreIntersects(inode.mapping, b, b + bs)) continue;
        for (let i = b - folio.pos; i < bend - folio.pos; i++) {
          if (folio.data[i] !== 0) {
            violation(this.sched, 'INVARIANT', 'writeback:dirty-data-over-hole', 'iomap_writeback_range',
              `dirty data at ${folio.pos + i} of ${inode.name} maps to a hole inside EOF ${inode.iSize}: it would be lost`);
          }
        }
      }
      return n;
    }
    this.submitWritebackBio(inode, folio, pos, n, endPos, m.type === IOMAP_UNWRITTEN, m.addr + (pos - m.offset));
    return n;
  }

  /** One ioend's bio; completion converts unwritten, moves the on-disk size, ends folio writeback. */
  protected submitWritebackBio(inode: BlockInode, folio: Folio, pos: number, len: number, endPos: number, unwritten: boolean, addr: number): void {
    const off = pos - folio.pos;
    const fs = this;
    this.dev.submitBio({
      op: BioOp.Write,
      sector: addr / SECTOR_SIZE,
      buf: folio.data.subarray(off, off + len),
      preflush: false,
      fua: false,
      status: 0,
      owner: 'iomap_writepage_end_bio',
      file: { ino: inode.ino, pos, writeback: true },
      endIo(b: Bio): void {
        if (b.status) {
          mappingSetError(inode.mapping, b.status);
        } else {
          if (unwritten) fs.convertUnwritten(inode, pos, len);
          const validEnd = Math.min(pos + len, endPos, inode.iSize);
          if (validEnd > inode.diskSize) inode.diskSize = validEnd;
        }
        iomapFinishFolioWrite(inode, folio, len);
      },
    });
  }

  // ---- fsync ------------------------------------------------------------------

  /** file_write_and_wait_range: write back, wait, and report this file's new errors once. */
  protected *fileWriteAndWaitRange(file: OpenFile, start: number, end: number): Co<number> {
    const mapping = file.inode.mapping;
    let err = 0;
    if (mapping.nrpages > 0) {
      err = yield* filemapFdatawriteRange(mapping, start, end, true);
      if (err !== -EIO) yield* filemapFdatawaitRangeKeepErrors(mapping, start, end);
    }
    // file_check_and_advance_wb_err also clears the legacy AS_ bits.
    // Bug switch errseq-report-once-global: before errseq (2017) fsync tested and
    // cleared the mapping's AS_EIO, so only the first fsync of any opener saw it.
    const err2 = this.bugs.has('errseq-report-once-global')
      ? filemapCheckErrors(mapping)
      : errseqCheckAndAdvance(mapping.wbErr, file.fWbErr);
    mapping.asFlags &= ~(AS_EIO | AS_ENOSPC);
    return err || err2;
  }
}
