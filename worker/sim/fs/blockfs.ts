// The block filesystems' file operations (xfs and ext4 alike), on the I/O
// layer (block-io.ts): truncate (setattr), fallocate (preallocate, punch,
// zero, collapse, insert, unshare), page_mkwrite, and evict and reload at
// remount. The behaviour follows XFS (xfs_iops.c, xfs_bmap_util.c,
// xfs_file.c); the hooks where ext4 differs are abstract and live in xfs.ts
// and ext4.ts.

import { isAligned } from '../bits.js';
import type { FallocMode } from '../../prog/types.js';
import { EFBIG, EINVAL, EOPNOTSUPP } from '../errno.js';
import type { Co } from '../sched.js';
import { filemapWriteAndWaitRange } from '../mm/filemap.js';
import { inodeDioWait } from '../iomap/direct-io.js';
import { iomapFileUnshare, iomapPageMkwrite, iomapTruncatePage, iomapZeroRange } from '../iomap/write.js';
import { ExtState } from './extent-map.js';
import { type Folio, PAGE_SIZE } from '../include/pagemap.js';
import type { Filesystem, Inode, OpenFile } from '../include/fs.js';
import { BLOCK_I, BlockInode } from './block-inode.js';
import { truncateInodePagesRange, truncatePagecacheRange, truncateSetsize } from '../mm/truncate.js';
import { iomapDirtyFolio, iomapReleaseFolio } from '../iomap/ifs.js';
import { iomapReadFolio } from '../iomap/read.js';
import { iomapWritepages } from '../iomap/writeback.js';
import { BlockIo } from './block-io.js';
import { provenance } from '../provenance.js';

export abstract class BlockFs extends BlockIo implements Filesystem {
  /** ->fsync: xfs_file_fsync, ext4_sync_file. */
  abstract fsync(file: OpenFile, start: number, end: number, datasync: boolean): Co<number>;

  /** Which fallocate modes this inode supports. */
  protected abstract fallocSupported(inode: BlockInode, mode: FallocMode): boolean;

  /** What a punch does to the page cache first (xfs: xfs_flush_unmap_range; ext4: drop it unwritten). */
  protected abstract punchPagecache(inode: BlockInode, off: number, len: number): Co<number>;

  /** FALLOC_FL_ZERO_RANGE (xfs_zero_file_space, ext4_zero_range). */
  protected abstract zeroRangeFalloc(inode: BlockInode, off: number, len: number, keepSize: boolean): Co<number>;

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

  // ---- mmap -------------------------------------------------------------------

  *pageMkwrite(file: OpenFile, folio: Folio): Co<number> {
    const inode = BLOCK_I(file.inode);
    yield* inode.invalidateLock.downRead(this.sched);
    const ret = yield* iomapPageMkwrite(inode, folio, this.writeCtx);
    inode.invalidateLock.upRead(this.sched);
    return ret;
  }

  // ---- truncate ---------------------------------------------------------------

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

  // ---- fallocate --------------------------------------------------------------

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
    provenance()?.shifted(inode.ino, off, len, -1);
    const newsize = inode.iSize - len;
    yield* truncateSetsize(inode, newsize, this.unmapFolio);
    // The size change is logged with the shift (xfs_falloc_setsize).
    inode.diskSize = newsize;
    return 0;
  }

  /**
   * Where insert range's flush and unmap of the page cache end. xfs_falloc_insert_range
   * sets the grown size first and xfs_insert_file_space then flushes and
   * unmaps up to it: a folio cached past the old EOF (a fault that read it
   * before a racing truncate, then saw the new size) is dropped before the
   * shift brings it inside the file, stale.
   */
  protected insertUnmapEnd(inode: BlockInode, len: number): number {
    return inode.iSize + len;
  }

  /** xfs_insert_file_space */
  protected *insertRange(inode: BlockInode, off: number, len: number): Co<number> {
    if (!this.collapseInsertAligned(off, len)) return -EINVAL;
    if (off >= inode.iSize) return -EINVAL;
    if (inode.iSize + len > this.maxBytes) return -EFBIG;
    const err = yield* this.flushUnmapRange(inode, off, this.insertUnmapEnd(inode, len));
    if (err) return err;
    const first = off / this.blockSize;
    inode.extents.splitAt(first);
    inode.extents.shift(first, len / this.blockSize);
    provenance()?.shifted(inode.ino, off, len, 1);
    inode.iSize += len;
    inode.diskSize = inode.iSize;
    return 0;
  }

  // ---- lifetime ---------------------------------------------------------------

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
