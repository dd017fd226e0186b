// XFS: delayed allocation for buffered writes, delalloc → unwritten at
// writeback → written at I/O completion, and the data fork sequence number
// as the iomap validity cookie (xfs_buffered_write_iomap_valid). The paths
// ext4 shares with it (most of them: ext4 on iomap maps its extents the same
// way) are the block filesystem layers (block-space.ts, block-io.ts,
// blockfs.ts, which follow XFS); this file holds what only xfs does.

import { isAligned } from '../bits.js';
import { EINVAL } from '../errno.js';
import { filemapRead, filemapWriteAndWaitRange } from '../mm/filemap.js';
import { iomapFileBufferedWrite } from '../iomap/write.js';
import type { FallocMode } from '../../prog/types.js';
import { BioOp } from '../blockdev.js';
import type { Co } from '../sched.js';
import { iomapInvalidateFolio } from '../iomap/ifs.js';
import { ExtState, type Extent } from './extent-map.js';
import type { Folio } from '../include/pagemap.js';
import type { Inode, OpenFile } from '../include/fs.js';
import { BLOCK_I, type BlockInode } from './block-inode.js';
import { BlockFs } from './blockfs.js';

export class XfsFs extends BlockFs {
  readonly name = 'xfs';

  protected freeExtentSite(): string {
    return 'xfs_free_ag_extent';
  }

  protected hasValidityCookie(): boolean {
    return true;
  }

  /** ->invalidate_folio: xfs uses iomap_invalidate_folio (a partial invalidation keeps every block's state). */
  protected override invalidateFolio(folio: Folio, off: number, len: number): void {
    iomapInvalidateFolio(this.sched, folio, off, len);
  }

  /** The partial-block zeroing of truncate, punch and zero range: xfs does it outside any transaction. */
  protected override *zeroPartialBlocks(_inode: Inode, body: Co<number>): Co<number> {
    return yield* body;
  }

  /**
   * Blocks the inode no longer maps go back to the allocator at once; until
   * the freeing transaction commits they are busy extents, which
   * extentBusyReuse commits before handing them out again.
   */
  protected override freeBlocks(_inode: Inode, start: number, len: number): void {
    this.alloc.release(start, len);
  }

  /**
   * xfs_file_dio_write_unaligned: a sub-block write waits for its completion
   * (IOMAP_DIO_FORCE_WAIT) when it reaches EOF, and when it is not a pure
   * overwrite of written blocks: the IOMAP_DIO_OVERWRITE_ONLY try gets
   * -EAGAIN from xfs_direct_write_iomap_begin and the retry runs exclusive
   * and waits, so its sub-block zeroing cannot race with another write.
   */
  protected override dioForceWait(inode: BlockInode, pos: number, len: number): boolean {
    const aligned = isAligned(pos, this.blockSize) && isAligned(len, this.blockSize);
    return !aligned && (pos + len >= inode.iSize || !this.overwritesWrittenBlocks(inode, pos, len));
  }

  /**
   * Which part of a delalloc extent writeback allocates. xfs converts the
   * whole extent (xfs_bmapi_convert_delalloc): it becomes unwritten, so
   * blocks nobody has written yet still read as zeroes.
   */
  protected override delallocToConvert(_inode: Inode, ext: Extent, _pos: number, _len: number): Extent {
    return ext;
  }

  /** Delalloc becomes unwritten when written back, written at I/O completion. */
  protected override delallocTarget(_inode: Inode): ExtState {
    return ExtState.Unwritten;
  }

  /** xfs_file_fsync: data, then the log, then a cache flush. */
  override *fsync(file: OpenFile, start: number, end: number, _datasync: boolean): Co<number> {
    const err = yield* this.fileWriteAndWaitRange(file, start, end);
    if (err) return err;
    // The log force: the inode's size and extents go to the log, which the
    // flush below makes durable together with the data written back above.
    this.logCommitInode(BLOCK_I(file.inode));
    return yield* this.submitBioWait(BioOp.Flush, 0, new Uint8Array(0), 'blkdev_issue_flush', true);
  }

  /** xfs_file_fallocate takes every mode the sim has. */
  protected override fallocSupported(_inode: Inode, _mode: FallocMode): boolean {
    return true;
  }

  /** What a punch does to the page cache first: xfs writes the range back and drops it (xfs_flush_unmap_range). */
  protected override *punchPagecache(inode: BlockInode, off: number, len: number): Co<number> {
    return yield* this.flushUnmapRange(inode, off, off + len);
  }

  /** xfs_zero_file_space: punch, then preallocate; extend unless KEEP_SIZE. */
  protected override *zeroRangeFalloc(inode: BlockInode, off: number, len: number, keepSize: boolean): Co<number> {
    const err = yield* this.punchHole(inode, off, len);
    if (err < 0) return err;
    return yield* this.allocateRange(inode, off, len, keepSize);
  }

  /**
   * xfs_file_remap_range for copy_file_range (REMAP_FILE_CAN_SHORTEN; mkfs
   * makes xfs with reflink): generic_remap_checks wants both offsets on a
   * block boundary and clones whole blocks only, so a count that does not
   * end at the source's EOF is cut down to whole blocks (6.18 returns 2048
   * for 2189 bytes at 1 KiB blocks); the same file's ranges may not overlap
   * even by the rounded-up tail. xfs_reflink_remap_prep writes back the
   * source range and writes back and drops the destination's (from its EOF
   * when the clone starts past it); xfs_reflink_update_dest moves i_size.
   * The clone itself is modelled by its data: a buffered copy into the
   * dropped range, not shared blocks (no COW fork); it reads the same.
   *
   * xfs_reflink_remap_prep takes both inodes' IOLOCK (i_rwsem) and MMAPLOCK
   * exclusive before the checks, and xfs_file_remap_range drops them after
   * xfs_reflink_update_dest: no write, truncate or fallocate of either file
   * runs in between (a write that did could extend the file under the clone,
   * which then set the size back). The sim takes i_rwsem the same way; not
   * the MMAPLOCK (invalidate_lock), because its copy reads through the page
   * cache, which takes that lock shared, where the kernel shares blocks.
   */
  *remapFileRange(fin: OpenFile, offIn: number, fout: OpenFile, offOut: number, len: number): Co<number> {
    const src = BLOCK_I(fin.inode);
    const dest = BLOCK_I(fout.inode);
    yield* this.lockTwoIolocks(src, dest);
    const ret = yield* this.remapLocked(src, offIn, dest, offOut, len);
    this.unlockTwoIolocks(src, dest);
    return ret;
  }

  /** xfs_lock_two_inodes for the IOLOCK: the lower inode number first; one inode is locked once. */
  private *lockTwoIolocks(a: BlockInode, b: BlockInode): Co<void> {
    const [first, second] = a.ino <= b.ino ? [a, b] : [b, a];
    yield* first.iRwsem.downWrite(this.sched);
    if (second !== first) yield* second.iRwsem.downWrite(this.sched);
  }

  private unlockTwoIolocks(a: BlockInode, b: BlockInode): void {
    if (b !== a) b.iRwsem.upWrite(this.sched);
    a.iRwsem.upWrite(this.sched);
  }

  /** The checks, the flushes and the copy, with both i_rwsems held. */
  private *remapLocked(src: BlockInode, offIn: number, dest: BlockInode, offOut: number, len: number): Co<number> {
    const count = this.remapCount(src, offIn, dest, offOut, len);
    if (count <= 0) return count;
    let err = yield* filemapWriteAndWaitRange(src.mapping, offIn, offIn + count - 1);
    if (!err) err = yield* this.flushUnmapRange(dest, Math.min(offOut, dest.iSize), offOut + count);
    if (err) return err;
    const buf = new Uint8Array(count);
    const r = yield* filemapRead(src.mapping, offIn, count, buf);
    if (r <= 0) return r;
    const n = this.writeChecks(offOut, r);
    if (n <= 0) return n;
    const ret = yield* this.writeZeroEof(dest, offOut);
    if (ret < 0) return ret;
    return yield* iomapFileBufferedWrite(dest, offOut, buf.subarray(0, n), this.writeCtx, this.unmapFolio);
  }

  /** generic_remap_checks with REMAP_FILE_CAN_SHORTEN: the count cloned, or -EINVAL. */
  private remapCount(inodeIn: Inode, offIn: number, inodeOut: Inode, offOut: number, len: number): number {
    const bs = this.blockSize;
    if (!isAligned(offIn, bs) || !isAligned(offOut, bs)) return -EINVAL;
    const sizeIn = inodeIn.iSize;
    if (offIn >= sizeIn) return -EINVAL;
    let count = Math.min(len, sizeIn - offIn);
    let bcount = count;
    if (offIn + count === sizeIn) bcount = Math.ceil(sizeIn / bs) * bs - offIn;
    else bcount = count = Math.floor(count / bs) * bs;
    if (inodeIn === inodeOut && offOut + bcount > offIn && offOut < offIn + bcount) return -EINVAL;
    return count;
  }
}
