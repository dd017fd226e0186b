// The common part of the block-based filesystems (xfs and ext4): extent
// lookup into iomaps, delayed allocation, writeback mapping and I/O completion,
// direct I/O, truncate and fallocate. The behaviour follows XFS
// (fs/xfs/xfs_iomap.c, xfs_aops.c, xfs_file.c, xfs_iops.c, xfs_bmap_util.c);
// ext4.ts overrides what ext4 does differently.

import { isAligned } from '../bits.js';
import type { FallocMode } from '../../prog/types.js';
import { BioOp, type Bio, type BlockDevice, type PowerCutReport, SECTOR_SIZE } from '../blockdev.js';
import { violation } from '../checks.js';
import { EFBIG, EINVAL, EIO, EIOCBQUEUED, ENOSPC, ENOTBLK, EOPNOTSUPP } from '../errno.js';
import { errseqCheckAndAdvance } from '../errseq.js';
import { type Co, type Sched, WaitQueue } from '../sched.js';
import {
  filemapCheckErrors,
  filemapFdatawaitRangeKeepErrors,
  filemapFdatawriteRange,
  filemapRead,
  filemapWriteAndWaitRange,
  foliosInRange,
  unmapMappingFolio,
  mappingSetError,
} from '../mm/filemap.js';
import { folioTestDirty } from '../mm/folio.js';
import { postEofStoreIntersects } from '../mm/post-eof-stores.js';
import { iomapDirtyFolio, iomapInvalidateFolio, iomapReleaseFolio } from '../iomap/ifs.js';
import { type DioAsync, type IomapDioOps, inodeDioWait, iomapDioRw } from '../iomap/direct-io.js';
import { Workqueue } from '../workqueue.js';
import { type IomapReadOps, iomapFinishFolioRead, iomapReadFolio } from '../iomap/read.js';
import { type IomapWriteCtx, iomapFileBufferedWrite, iomapFileUnshare, iomapPageMkwrite, iomapTruncatePage, iomapZeroRange } from '../iomap/write.js';
import { type IomapWritebackOps, type WritepageCtx, iomapFinishFolioWrite, iomapWritepages } from '../iomap/writeback.js';
import type { BugSet } from '../bugs.js';
import { BlockAllocator } from './balloc.js';
import { ExtState, type Extent } from './extent-map.js';
import { type Folio, PAGE_SIZE, AS_EIO, AS_ENOSPC } from '../include/pagemap.js';
import { type Filesystem, type Inode, type Kiocb, type OpenFile, SIM_MAX_FILE_BYTES } from '../include/fs.js';
import { BLOCK_I, BlockInode } from './block-inode.js';
import {
  type FolioBatch,
  IOMAP_DELALLOC,
  IOMAP_F_FOLIO_BATCH,
  IOMAP_F_NEW,
  IOMAP_HOLE,
  IOMAP_MAPPED,
  IOMAP_NULL_ADDR,
  IOMAP_UNSHARE,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  IOMAP_ZERO,
  type Iomap,
  type IomapIter,
  type IomapOps,
  type IomapWriteOps,
} from '../include/iomap.js';
import { pagecacheIsizeExtended, truncateInodePagesRange, truncatePagecacheRange, truncateSetsize } from '../mm/truncate.js';

/** Unmaps a folio's ptes; installed by the mm layer (unmap_mapping_folio). */
export type FolioUnmapper = (f: Folio) => void;

export interface BlockFsOptions {
  blockSize: number;
  folioMax: number;
  /** Device size in bytes. */
  deviceBytes: number;
  bugs: BugSet;
}

/** An inode's metadata as a log commit writes it: its on-disk size and allocated extents. */
export interface InodeSnapshot {
  ino: number;
  size: number;
  exts: Extent[];
  /** When it was taken: a commit never replaces a newer snapshot with an older one. */
  gen: number;
}

export abstract class BlockFs implements Filesystem {
  abstract readonly name: string;
  readonly blkbits: number;
  readonly blockSize: number;
  readonly maxBytes: number;
  readonly alloc: BlockAllocator;
  readonly inodes: BlockInode[] = [];
  readonly bugs: BugSet;
  /**
   * Each inode's metadata (on-disk size, allocated extents) as of the last
   * log commit that held it: what crash recovery replays. Absent: never
   * committed, so an empty file.
   */
  private readonly committed = new Map<number, InodeSnapshot>();
  /** Zaps a folio's ptes through its mapping's rmap hook (unmap_mapping_folio). */
  readonly unmapFolio: FolioUnmapper = unmapMappingFolio;

  protected readonly readOps: IomapOps;
  protected readonly writeOps: IomapOps;
  protected readonly dioOps: IomapOps;
  protected readonly writeCtx: IomapWriteCtx;
  protected readonly bioReadOps: IomapReadOps;
  protected readonly writebackOps: IomapWritebackOps;
  protected readonly dioEndOps: IomapDioOps;

  constructor(
    readonly sched: Sched,
    readonly dev: BlockDevice,
    protected readonly opts: BlockFsOptions,
  ) {
    this.blockSize = opts.blockSize;
    this.bugs = opts.bugs;
    let bits = 0;
    while (1 << bits < opts.blockSize) bits++;
    this.blkbits = bits;
    this.maxBytes = SIM_MAX_FILE_BYTES;
    // A double free is the kernel's corruption report (ext4_grp_locked_error,
    // XFS_CORRUPTION_ERROR): fatal for the run, as a BUG.
    this.alloc = new BlockAllocator(16, Math.floor(opts.deviceBytes / opts.blockSize), (start, len) =>
      violation(sched, 'BUG', 'free-extent:already-free', this.freeExtentSite(), `blocks [${start}, +${len}) freed while free`));
    const fs = this;
    this.readOps = { iomapBegin: (iter, pos, len, flags, m) => fs.readIomapBegin(BLOCK_I(iter.inode), pos, len, flags, m) };
    this.writeOps = {
      iomapBegin: (iter, pos, len, flags, m) => fs.bufferedWriteIomapBegin(iter, pos, len, flags, m),
      iomapEnd: (iter, pos, len, written, flags, m) => fs.bufferedWriteIomapEnd(BLOCK_I(iter.inode), pos, len, written, flags, m),
    };
    this.dioOps = { iomapBegin: (iter, pos, len, flags, m) => fs.directIomapBegin(BLOCK_I(iter.inode), pos, len, flags, m) };
    const wops: IomapWriteOps = this.hasValidityCookie() ? { iomapValid: (inode, m) => m.validityCookie === BLOCK_I(inode).extents.seq } : {};
    this.writeCtx = { ops: this.writeOps, wops, reader: { readFolioRangeSync: (iter, folio, pos, len) => fs.readFolioRangeSync(iter, folio, pos, len) } };
    this.bioReadOps = { readFolioRange: (iter, folio, pos, len) => fs.submitReadFolioRange(iter, folio, pos, len) };
    this.writebackOps = { writebackRange: (wpc, folio, pos, len, endPos) => fs.writebackRange(wpc, folio, pos, len, endPos) };
    this.dioEndOps = { endIo: (inode, pos, size, error, write) => fs.dioEndIo(BLOCK_I(inode), pos, size, error, write) };
    this.dioWorkqueue = new Workqueue(sched, 'dio/complete');
  }

  /** The kernel function that finds a free of free blocks (xfs_free_ag_extent, mb_free_blocks). */
  protected abstract freeExtentSite(): string;

  /** Whether ->iomap_valid checks the sequence cookie in write_begin (xfs: yes). */
  protected abstract hasValidityCookie(): boolean;

  createInode(name: string, indirect = false): BlockInode {
    const inode = new BlockInode(this, this.inodes.length + 1, name, indirect, this.opts.folioMax);
    const fs = this;
    const bits = this.blkbits;
    inode.mapping.aops = {
      readFolio: (folio) => iomapReadFolio(inode, folio, fs.readOps, fs.bioReadOps),
      dirtyFolio: (folio) => iomapDirtyFolio(folio, bits),
      invalidateFolio: (folio, off, len) => fs.invalidateFolio(folio, off, len),
      releaseFolio: (folio) => iomapReleaseFolio(fs.sched, folio),
      writepages: (_mapping, wbc) => iomapWritepages(inode, wbc, fs.writebackOps),
    };
    this.inodes.push(inode);
    return inode;
  }

  /** ->invalidate_folio: xfs uses iomap_invalidate_folio (a partial invalidation keeps every block's state). */
  protected invalidateFolio(folio: Folio, off: number, len: number): void {
    iomapInvalidateFolio(this.sched, folio, off, len);
  }

  // ---- extent map → iomap -------------------------------------------------

  /** Fill m with the extent (or hole) at pos, trimmed to [pos, pos+len) rounded out to blocks. */
  protected mapExtent(inode: BlockInode, pos: number, len: number, m: Iomap): Extent | null {
    const lblk = Math.floor(pos / this.blockSize);
    const endBlk = Math.ceil((pos + len) / this.blockSize);
    const { ext, holeLen } = inode.extents.lookup(lblk);
    m.offset = lblk * this.blockSize;
    m.validityCookie = inode.extents.seq;
    if (!ext) {
      m.type = IOMAP_HOLE;
      m.addr = IOMAP_NULL_ADDR;
      m.length = Math.min(holeLen, endBlk - lblk) * this.blockSize;
      return null;
    }
    const n = Math.min(ext.lblk + ext.len, endBlk) - lblk;
    m.length = n * this.blockSize;
    if (ext.state === ExtState.Delalloc) {
      m.type = IOMAP_DELALLOC;
      m.addr = IOMAP_NULL_ADDR;
    } else {
      m.type = ext.state === ExtState.Unwritten ? IOMAP_UNWRITTEN : IOMAP_MAPPED;
      m.addr = (ext.pblk + (lblk - ext.lblk)) * this.blockSize;
    }
    return ext;
  }

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
   * The partial-block zeroing of truncate, punch and zero range. ext4 does it
   * inside a journal handle; xfs outside any transaction.
   */
  protected *zeroPartialBlocks(_inode: Inode, body: Co<number>): Co<number> {
    return yield* body;
  }

  /** Delalloc blocks reserved and not yet allocated. */
  protected reserved = 0;

  /** iomap_fill_dirty_folios: the dirty folios over an unwritten mapping, for zeroing without a flush. */
  protected fillDirtyFolios(inode: BlockInode, m: Iomap, fbatch: FolioBatch): void {
    fbatch.folios.length = 0;
    fbatch.next = 0;
    const first = Math.floor(m.offset / PAGE_SIZE);
    const last = Math.floor((m.offset + m.length - 1) / PAGE_SIZE);
    for (const f of foliosInRange(inode.mapping, first, last)) if (folioTestDirty(f)) fbatch.folios.push(f);
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

  /** xfs_buffered_write_delalloc_punch for one block: only a delalloc extent is removed. */
  private punchDelallocBlock(inode: BlockInode, lblk: number): void {
    const { ext } = inode.extents.lookup(lblk);
    if (ext && ext.state === ExtState.Delalloc) this.punchDelalloc(inode, lblk, 1);
  }

  protected punchDelalloc(inode: BlockInode, lblk: number, n: number): void {
    for (const piece of inode.extents.remove(lblk, n)) {
      if (piece.state === ExtState.Delalloc) this.reserved -= piece.len;
      else inode.extents.set(piece.lblk, piece.len, piece.pblk, piece.state);
    }
  }

  /** Allocate n blocks for file blocks lblk.. in `state`; may return fewer extents than asked (fragmented). */
  protected allocBlocks(inode: BlockInode, lblk: number, n: number, state: ExtState): number {
    let done = 0;
    while (done < n) {
      const got = this.alloc.alloc(n - done);
      if (!got) return done > 0 ? done : -ENOSPC;
      this.extentBusyReuse(got.start, got.len);
      inode.extents.set(lblk + done, got.len, got.start, state);
      done += got.len;
    }
    return done;
  }

  /**
   * xfs_extent_busy_reuse: blocks freed by a transaction not yet committed
   * are still referenced by the committed metadata; handing them out again
   * first forces a log commit of the inodes whose committed extents still
   * hold them, so that crash recovery can never map one file's blocks full of
   * another's data. (xfs allocates data blocks unwritten, so the forced
   * commit maps nothing whose data is not on disk yet. ext4 never gets here
   * with such blocks: freeBlocks keeps them from the allocator until the
   * freeing transaction commits.)
   */
  private extentBusyReuse(start: number, len: number): void {
    for (const owner of this.inodes) {
      const c = this.committed.get(owner.ino);
      if (c && c.exts.some((e) => e.pblk < start + len && start < e.pblk + e.len)) this.logCommitInode(owner);
    }
  }

  /** Free the allocated blocks of removed extent pieces; drop delalloc reservations. */
  protected releaseExtents(inode: BlockInode, pieces: Extent[]): void {
    for (const p of pieces) {
      if (p.state === ExtState.Delalloc) this.reserved -= p.len;
      else this.freeBlocks(inode, p.pblk, p.len);
    }
  }

  /**
   * Blocks the inode no longer maps go back to the allocator. xfs frees them
   * at once and keeps them busy through extentBusyReuse; ext4 holds them back
   * until the freeing transaction commits.
   */
  protected freeBlocks(_inode: Inode, start: number, len: number): void {
    this.alloc.release(start, len);
  }

  // ---- reads --------------------------------------------------------------

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

  // ---- writes -------------------------------------------------------------

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

  /** The DIO completion workqueue (s_dio_done_wq), started on first use. */
  protected readonly dioWorkqueue: Workqueue;

  /** After a direct write that held i_rwsem exclusive, still under it (ext4 cleans up a failed extension). */
  protected dioWriteEnd(_inode: Inode, _pos: number, _len: number, _ret: number): void {}

  /**
   * xfs_file_dio_write_unaligned: a sub-block write waits for its completion
   * (IOMAP_DIO_FORCE_WAIT) when it reaches EOF, and when it is not a pure
   * overwrite of written blocks: the IOMAP_DIO_OVERWRITE_ONLY try gets
   * -EAGAIN from xfs_direct_write_iomap_begin and the retry runs exclusive
   * and waits, so its sub-block zeroing cannot race with another write.
   */
  protected dioForceWait(inode: BlockInode, pos: number, len: number): boolean {
    const aligned = isAligned(pos, this.blockSize) && isAligned(len, this.blockSize);
    return !aligned && (pos + len >= inode.iSize || !this.overwritesWrittenBlocks(inode, pos, len));
  }

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

  /** xfs_file_dio_write: aligned writes under the shared i_rwsem, others exclusive. */
  protected *directWrite(file: OpenFile, pos: number, src: Uint8Array, iocb?: Kiocb): Co<number> {
    const inode = BLOCK_I(file.inode);
    if (!isAligned(pos, SECTOR_SIZE) || !isAligned(src.length, SECTOR_SIZE)) return -EINVAL;
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
    let ret = yield* this.writeZeroEof(inode, pos);
    if (exclusive && ret >= 0) yield* inodeDioWait(inode);
    // IOMAP_DIO_FORCE_WAIT: some writes complete before io_submit returns, even asynchronous ones.
    const async = this.dioForceWait(inode, pos, src.length) ? null : this.dioAsync(iocb);
    const oldSize = inode.iSize;
    if (ret >= 0) ret = yield* iomapDioRw(inode, pos, src, true, this.dioOps, this.dioEndOps, this.unmapFolio, async);
    if (exclusive && ret !== -EIOCBQUEUED) {
      this.dioWriteEnd(inode, pos, src.length, ret);
      yield* this.dioWriteExtended(inode, oldSize);
    }
    if (exclusive) inode.iRwsem.upWrite(this.sched);
    else inode.iRwsem.upRead(this.sched);
    return ret;
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

  /**
   * xfs_dio_write_end_io: convert unwritten extents and extend the size.
   * Only i_size_write: the completion runs without i_rwsem (AIO), so it does
   * not touch the page cache over the old EOF (no pagecache_isize_extended);
   * the submission zeroed [EOF, pos) already (xfs_file_write_zero_eof).
   */
  protected *dioEndIo(inode: BlockInode, pos: number, size: number, error: number, write: boolean): Co<number> {
    if (!write || error || size === 0) return 0;
    this.convertUnwritten(inode, pos, size);
    if (pos + size > inode.iSize) inode.iSize = pos + size;
    if (pos + size > inode.diskSize) inode.diskSize = Math.min(pos + size, inode.iSize);
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

  protected convertUnwritten(inode: BlockInode, pos: number, size: number): void {
    const lblk = Math.floor(pos / this.blockSize);
    const end = Math.ceil((pos + size) / this.blockSize);
    inode.extents.convert(lblk, end - lblk, ExtState.Unwritten, ExtState.Written);
  }

  // ---- writeback ----------------------------------------------------------

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

  /** xfs_bmapi_convert_delalloc: allocate the whole delalloc extent, as unwritten blocks. */
  protected convertDelalloc(inode: BlockInode, ext: Extent): number {
    const { lblk, len } = ext;
    this.reserved -= len;
    inode.extents.remove(lblk, len);
    const got = this.allocBlocks(inode, lblk, len, this.delallocTarget(inode));
    if (got < 0) return got;
    if (got < len) return -ENOSPC;
    return 0;
  }

  /**
   * Which part of a delalloc extent writeback allocates. xfs converts the
   * whole extent (xfs_bmapi_convert_delalloc): it becomes unwritten, so
   * blocks nobody has written yet still read as zeroes.
   */
  protected delallocToConvert(_inode: Inode, ext: Extent, _pos: number, _len: number): Extent {
    return ext;
  }

  /** What state delalloc becomes when written back. */
  protected delallocTarget(_inode: Inode): ExtState {
    return ExtState.Unwritten;
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

  // ---- fsync --------------------------------------------------------------

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

  /** xfs_file_fsync: data, then the log, then a cache flush. */
  *fsync(file: OpenFile, start: number, end: number, _datasync: boolean): Co<number> {
    const err = yield* this.fileWriteAndWaitRange(file, start, end);
    if (err) return err;
    // The log force: the inode's size and extents go to the log, which the
    // flush below makes durable together with the data written back above.
    this.logCommitInode(BLOCK_I(file.inode));
    return yield* this.submitBioWait(BioOp.Flush, 0, new Uint8Array(0), 'blkdev_issue_flush', true);
  }

  /**
   * A log commit holding the inode's metadata. Delalloc reservations are
   * in-core only; extents still unwritten stay unwritten (read as zeroes)
   * until a later commit holds their conversion.
   */
  protected logCommitInode(inode: BlockInode): void {
    this.installCommitted([this.snapshotInode(inode)]);
  }

  /** The inode's metadata as a commit now would write it. */
  protected inodeMetadata(inode: BlockInode): InodeSnapshot {
    const exts = inode.extents.exts.filter((e) => e.state !== ExtState.Delalloc).map((e) => ({ ...e }));
    return { ino: inode.ino, size: inode.diskSize, exts, gen: ++this.snapshotGen };
  }

  /** The gen of the newest snapshot taken (InodeSnapshot.gen). */
  protected snapshotGen = 0;

  /** The metadata a log commit takes of the inode (ext4 also remembers it as journaled). */
  protected snapshotInode(inode: BlockInode): InodeSnapshot {
    return this.inodeMetadata(inode);
  }

  /**
   * The commit record is on disk. The log write is REQ_PREFLUSH|REQ_FUA:
   * every completed data write is durable before the metadata that maps it
   * (extents converted at I/O completion, the size moved there) is.
   */
  protected installCommitted(snaps: readonly InodeSnapshot[]): void {
    // Between the cut and log recovery the machine is dead, though the sim's
    // threads run on: a commit the flusher's allocation (or jbd2) makes then
    // writes a log record the disk never got.
    if (!this.dev.powered) return;
    this.dev.syncCache();
    // A journal commit that captured its snapshot before a later direct commit
    // (a clean unmount's, a busy extent's) completes as if it came first.
    for (const snap of snaps) {
      const cur = this.committed.get(snap.ino);
      if (!cur || snap.gen > cur.gen) this.committed.set(snap.ino, snap);
      // Blocks the inode freed before this snapshot are unreferenced on disk now.
      this.alloc.releaseCommitted(snap.ino, this.committed.get(snap.ino)!.gen);
    }
  }

  /**
   * Power cut and mount again: the device loses what was not flushed (torn
   * per sector from the seed), the page cache and in-core inode state are
   * gone, and log recovery brings back each inode's last committed size and
   * extents. The caller holds every file quiet (as for a remount).
   */
  *powerCut(seed: number): Co<PowerCutReport> {
    const report = this.dev.powerCut(seed);
    // Folios under writeback finish first (their bios now fail); nothing they do survives.
    for (const inode of this.inodes) yield* truncateInodePagesRange(inode.mapping, 0, -1, () => {});
    const used: { start: number; len: number }[] = [];
    for (const inode of this.inodes) {
      const c = this.committed.get(inode.ino) ?? { size: 0, exts: [] };
      const map = inode.extents;
      map.exts.splice(0, map.exts.length, ...c.exts.map((e) => ({ ...e })));
      map.seq++;
      inode.diskSize = c.size;
      inode.iSize = c.size;
      for (const e of c.exts) used.push({ start: e.pblk, len: e.len });
    }
    this.dev.powerOn();
    this.alloc.resetTo(used);
    // Delayed allocation reservations are in-core only.
    this.reserved = 0;
    for (const inode of this.inodes) this.recoveryTrim(inode);
    // A reader racing with the cut (the sim's process outlives it) may have
    // cached what the lost in-core state mapped meanwhile: that goes too.
    for (const inode of this.inodes) yield* truncateInodePagesRange(inode.mapping, 0, -1, () => {});
    // Mount ends with the log replayed and the device flushed: what the files
    // show now is on stable storage (a writeback of the old page cache that
    // slipped in after the cut included).
    this.dev.syncCache();
    return report;
  }

  /**
   * The end of crash recovery: an inode caught in a size change loses the
   * written blocks past its recovered size. xfs replays the intents of a
   * truncate whose size change committed (EFI/BUI recovery finishes the
   * extent removal); ext4 truncates the inodes on its orphan list, where
   * ext4_setattr and extending direct writes put them (ext4_orphan_cleanup).
   * The sim keeps neither intents nor an orphan list: written blocks past the
   * recovered size are exactly what such a change in flight leaves, and
   * unwritten ones past it are KEEP_SIZE preallocation, which stays.
   */
  protected recoveryTrim(inode: BlockInode): void {
    const first = Math.ceil(inode.diskSize / this.blockSize);
    const past = inode.extents.exts.filter((e) => e.lblk + e.len > first && e.state === ExtState.Written);
    if (past.length === 0) return;
    for (const e of past) {
      const from = Math.max(first, e.lblk);
      this.releaseExtents(inode, inode.extents.remove(from, e.lblk + e.len - from));
    }
    this.logCommitInode(inode);
  }

  readDisk(vfsInode: Inode): Uint8Array {
    const inode = BLOCK_I(vfsInode);
    const out = new Uint8Array(inode.iSize);
    const bs = this.blockSize;
    for (let b = 0; b * bs < out.length; b++) {
      const { ext } = inode.extents.lookup(b);
      // Holes, unwritten and delalloc blocks read as zeroes.
      if (!ext || ext.state !== ExtState.Written) continue;
      const n = Math.min(bs, out.length - b * bs);
      this.dev.readVisible((ext.pblk + b - ext.lblk) * bs, out.subarray(b * bs, b * bs + n));
    }
    return out;
  }

  // ---- mmap ---------------------------------------------------------------

  *pageMkwrite(file: OpenFile, folio: Folio): Co<number> {
    const inode = BLOCK_I(file.inode);
    yield* inode.invalidateLock.downRead(this.sched);
    const ret = yield* iomapPageMkwrite(inode, folio, this.writeCtx);
    inode.invalidateLock.upRead(this.sched);
    return ret;
  }

  // ---- truncate -----------------------------------------------------------

  /** Remove the blocks wholly past newsize (xfs_itruncate_extents). */
  protected truncateExtents(inode: BlockInode, newsize: number): void {
    const first = Math.ceil(newsize / this.blockSize);
    this.releaseExtents(inode, inode.extents.remove(first, Number.MAX_SAFE_INTEGER - first));
  }

  /** xfs_setattr_size; the caller holds i_rwsem and invalidate_lock exclusive. */
  protected *setSizeLocked(inode: BlockInode, newsize: number): Co<number> {
    // xfs_vn_setattr drains direct I/O (xfs_break_layouts) before
    // xfs_setattr_size samples the old size: an extending AIO completing
    // meanwhile moves i_size, and the truncate must see where it moved to.
    yield* inodeDioWait(inode);
    const oldsize = inode.iSize;
    let err: number;
    if (newsize > oldsize) err = yield* this.zeroPartialBlocks(inode, iomapZeroRange(inode, oldsize, newsize - oldsize, this.writeCtx));
    else err = yield* this.zeroPartialBlocks(inode, iomapTruncatePage(inode, newsize, this.writeCtx));
    if (err < 0) return err;
    // xfs_setattr_size: write back from the on-disk size before the new size
    // is set, so a failed writeback leaves the file as it was. This is the
    // order before 350976ae2187 ("xfs: truncate pagecache before writeback in
    // xfs_setattr_size()"); mainline does truncate_setsize first and then
    // filemap_write_and_wait_range(i_disk_size, newsize - 1) when
    // did_zeroing || (newsize > i_disk_size && oldsize != i_disk_size), so a
    // failed flush returns -EIO with the in-core size already changed. Not
    // switched yet: the data oracle expects a failed truncate or extending
    // fallocate to keep the old size, and ext4 shares this path though
    // ext4_setattr has no such flush.
    if (newsize > inode.diskSize && oldsize !== inode.diskSize) {
      const e = yield* filemapWriteAndWaitRange(inode.mapping, inode.diskSize, newsize - 1);
      if (e) return e;
    }
    yield* truncateSetsize(inode, newsize, this.unmapFolio);
    if (newsize <= oldsize) this.truncateExtents(inode, newsize);
    inode.diskSize = newsize;
    return 0;
  }

  *setattrSize(file: OpenFile, size: number): Co<number> {
    if (size < 0) return -EINVAL;
    if (size > this.maxBytes) return -EFBIG;
    const inode = BLOCK_I(file.inode);
    yield* inode.iRwsem.downWrite(this.sched);
    yield* inode.invalidateLock.downWrite(this.sched);
    const ret = yield* this.setSizeLocked(inode, size);
    inode.invalidateLock.upWrite(this.sched);
    inode.iRwsem.upWrite(this.sched);
    return ret;
  }

  // ---- fallocate ----------------------------------------------------------

  /** Which fallocate modes this inode supports. */
  protected fallocSupported(_inode: Inode, _mode: FallocMode): boolean {
    return true;
  }

  *fallocate(file: OpenFile, mode: FallocMode, off: number, len: number): Co<number> {
    // vfs_fallocate checks
    if (off < 0 || len <= 0) return -EINVAL;
    if (off + len > this.maxBytes || off + len < 0) return -EFBIG;
    const inode = BLOCK_I(file.inode);
    if (!this.fallocSupported(inode, mode)) return -EOPNOTSUPP;
    yield* inode.iRwsem.downWrite(this.sched);
    yield* inode.invalidateLock.downWrite(this.sched);
    yield* inodeDioWait(inode);
    let ret: number;
    switch (mode) {
      case 'punch':
        ret = yield* this.punchHole(inode, off, len);
        break;
      case 'zero':
      case 'zero_keep':
        ret = yield* this.zeroRangeFalloc(inode, off, len, mode === 'zero_keep');
        break;
      case 'collapse':
        ret = yield* this.collapseRange(inode, off, len);
        break;
      case 'insert':
        ret = yield* this.insertRange(inode, off, len);
        break;
      case 'unshare':
        ret = yield* iomapFileUnshare(inode, off, len, this.writeCtx);
        if (ret >= 0) ret = yield* this.allocateRange(inode, off, len, false);
        break;
      default:
        ret = yield* this.allocateRange(inode, off, len, mode === 'keep_size');
    }
    inode.invalidateLock.upWrite(this.sched);
    inode.iRwsem.upWrite(this.sched);
    return ret;
  }

  /** xfs_flush_unmap_range: write back and drop the page cache over [start, end) rounded to pages. */
  protected *flushUnmapRange(inode: BlockInode, start: number, end: number): Co<number> {
    const rounding = Math.max(this.blockSize, PAGE_SIZE);
    const s = Math.floor(start / rounding) * rounding;
    const e = Math.ceil(end / rounding) * rounding - 1;
    const err = yield* filemapWriteAndWaitRange(inode.mapping, s, e);
    if (err) return err;
    yield* truncatePagecacheRange(inode.mapping, s, e, this.unmapFolio);
    return 0;
  }

  /** xfs_free_file_space: unmap whole blocks, then zero the partial ones inside EOF. */
  protected *punchHole(inode: BlockInode, off: number, len: number): Co<number> {
    const err = yield* this.punchPagecache(inode, off, len);
    if (err) return err;
    const first = Math.ceil(off / this.blockSize);
    const last = Math.floor((off + len) / this.blockSize);
    if (last > first) this.releaseExtents(inode, inode.extents.remove(first, last - first));
    if (off >= inode.iSize) return 0;
    const zlen = Math.min(off + len, inode.iSize) - off;
    return yield* this.zeroPartialBlocks(inode, iomapZeroRange(inode, off, zlen, this.writeCtx));
  }

  /** What a punch does to the page cache first: xfs writes the range back and drops it (xfs_flush_unmap_range). */
  protected *punchPagecache(inode: BlockInode, off: number, len: number): Co<number> {
    return yield* this.flushUnmapRange(inode, off, off + len);
  }

  /** Preallocate unwritten blocks over the holes of [off, off+len); extend i_size unless keepSize. */
  protected *allocateRange(inode: BlockInode, off: number, len: number, keepSize: boolean): Co<number> {
    const first = Math.floor(off / this.blockSize);
    const end = Math.ceil((off + len) / this.blockSize);
    for (let b = first; b < end; ) {
      const { ext, holeLen } = inode.extents.lookup(b);
      if (ext) {
        b = ext.lblk + ext.len;
        continue;
      }
      const n = Math.min(holeLen, end - b);
      const got = this.allocBlocks(inode, b, n, ExtState.Unwritten);
      if (got < 0) return got;
      b += got;
    }
    if (!keepSize && off + len > inode.iSize) return yield* this.setSizeLocked(inode, off + len);
    return 0;
  }

  /** xfs_zero_file_space: punch, then preallocate; extend unless KEEP_SIZE. */
  protected *zeroRangeFalloc(inode: BlockInode, off: number, len: number, keepSize: boolean): Co<number> {
    const err = yield* this.punchHole(inode, off, len);
    if (err < 0) return err;
    return yield* this.allocateRange(inode, off, len, keepSize);
  }

  protected collapseInsertAligned(off: number, len: number): boolean {
    return isAligned(off, this.blockSize) && isAligned(len, this.blockSize);
  }

  /** xfs_collapse_file_space */
  protected *collapseRange(inode: BlockInode, off: number, len: number): Co<number> {
    if (!this.collapseInsertAligned(off, len)) return -EINVAL;
    if (off + len >= inode.iSize) return -EINVAL;
    const err = yield* this.flushUnmapRange(inode, off, inode.iSize);
    if (err) return err;
    const first = off / this.blockSize;
    const n = len / this.blockSize;
    this.releaseExtents(inode, inode.extents.remove(first, n));
    inode.extents.shift(first + n, -n);
    const newsize = inode.iSize - len;
    yield* truncateSetsize(inode, newsize, this.unmapFolio);
    // The size change is logged with the shift (xfs_falloc_setsize).
    inode.diskSize = newsize;
    return 0;
  }

  /** xfs_insert_file_space */
  protected *insertRange(inode: BlockInode, off: number, len: number): Co<number> {
    if (!this.collapseInsertAligned(off, len)) return -EINVAL;
    if (off >= inode.iSize) return -EINVAL;
    if (inode.iSize + len > this.maxBytes) return -EFBIG;
    const err = yield* this.flushUnmapRange(inode, off, inode.iSize);
    if (err) return err;
    const first = off / this.blockSize;
    inode.extents.splitAt(first);
    inode.extents.shift(first, len / this.blockSize);
    inode.iSize += len;
    inode.diskSize = inode.iSize;
    return 0;
  }

  // ---- lifetime -----------------------------------------------------------

  *evictInode(inode: Inode): Co<void> {
    yield* filemapWriteAndWaitRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    yield* truncateInodePagesRange(inode.mapping, 0, -1, this.unmapFolio);
  }

  reloadInode(vfsInode: Inode): void {
    const inode = BLOCK_I(vfsInode);
    // Clean unmount wrote everything back and the log is checkpointed; the on-disk size is the size.
    inode.iSize = inode.diskSize;
    this.dev.syncCache();
    this.logCommitInode(inode);
  }
}
