// The system call layer the program's ops call: argument checks as the VFS
// does them (fs/read_write.c, fs/open.c, fs/sync.c, mm/fadvise.c,
// fs/drop_caches.c), then the filesystem's file operations.

import { offsetIn } from '../bits.js';
import type { FallocMode } from '../../prog/types.js';
import { SYNC_FILE_RANGE_WAIT_AFTER, SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE } from '../../prog/types.js';
import { EBUSY, EINVAL, EXDEV } from '../errno.js';
import type { Co } from '../sched.js';
import { filemapCheckErrors, filemapFdatawaitRangeKeepErrors, filemapFdatawriteRange, filemapWriteAndWaitRange } from '../mm/filemap.js';
import { errseqCheckAndAdvance } from '../errseq.js';
import { asBvec, inodeDioWait } from '../iomap/direct-io.js';
import { lruAddDrain, lruAddDrainAll } from '../mm/swap.js';
import type { Kernel } from '../kernel.js';
import { AS_EIO, AS_ENOSPC, PAGE_SIZE } from '../include/pagemap.js';
import type { Inode, OpenFile } from '../include/fs.js';
import { invalidateMappingPages, truncateInodePagesRange } from '../mm/truncate.js';

const LLONG_MAX = Number.MAX_SAFE_INTEGER;

/** Run body with `name` on the current thread's sim stack (a static generator: cheap to create). */
function* frame<T>(k: Kernel, name: string, body: Co<T>): Co<T> {
  const t = k.sched.current;
  t?.frames.push(name);
  try {
    return yield* body;
  } finally {
    t?.frames.pop();
  }
}

function* fail(err: number): Co<number> {
  return err;
}

/** pwrite64(2) */
export function sysPwrite(k: Kernel, file: OpenFile, off: number, buf: Uint8Array): Co<number> {
  if (off < 0) return fail(-EINVAL);
  return frame(k, 'ksys_pwrite64', k.fs.writeIter(file, off, buf));
}

/** pread64(2) */
export function sysPread(k: Kernel, file: OpenFile, off: number, dst: Uint8Array): Co<number> {
  if (off < 0) return fail(-EINVAL);
  return frame(k, 'ksys_pread64', k.fs.readIter(file, off, dst));
}

/** ftruncate(2) */
export function* sysFtruncate(k: Kernel, file: OpenFile, size: number): Co<number> {
  if (size < 0) return -EINVAL;
  return yield* frame(k, 'do_sys_ftruncate', k.fs.setattrSize(file, size));
}

/** fallocate(2) */
export function* sysFallocate(k: Kernel, file: OpenFile, mode: FallocMode, off: number, len: number): Co<number> {
  return yield* frame(k, 'vfs_fallocate', k.fs.fallocate(file, mode, off, len));
}

/** fsync(2) / fdatasync(2): vfs_fsync_range over the whole file. */
export function* sysFsync(k: Kernel, file: OpenFile, datasync: boolean): Co<number> {
  return yield* frame(k, datasync ? 'do_fdatasync' : 'do_fsync', k.fs.fsync(file, 0, LLONG_MAX, datasync));
}

/** msync(MS_SYNC) of a range: vfs_fsync_range(file, start, end, 1). */
export function* sysMsyncRange(k: Kernel, file: OpenFile, start: number, end: number): Co<number> {
  return yield* frame(k, 'msync', k.fs.fsync(file, start, end, true));
}

/** sync_file_range(2) (ksys_sync_file_range / sync_file_range). */
/**
 * file_fdatawait_range: wait for writeback of the range, then report this
 * open file's writeback errors not yet reported to it, once
 * (file_check_and_advance_wb_err, which also clears the legacy AS_ bits), as
 * fsync does: 6.18's sync_file_range with a WAIT flag returns -EIO for them.
 */
function* fileFdatawaitRange(k: Kernel, file: OpenFile, off: number, endbyte: number): Co<number> {
  const mapping = file.inode.mapping;
  yield* filemapFdatawaitRangeKeepErrors(mapping, off, endbyte);
  // Bug switch errseq-report-once-global: before errseq (2017) the wait tested and cleared AS_EIO.
  const err = k.fs.bugs.has('errseq-report-once-global') ? filemapCheckErrors(mapping) : errseqCheckAndAdvance(mapping.wbErr, file.fWbErr);
  mapping.asFlags &= ~(AS_EIO | AS_ENOSPC);
  return err;
}

export function* sysSyncFileRange(k: Kernel, file: OpenFile, off: number, nbytes: number, flags: number): Co<number> {
  const valid = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  if (flags & ~valid) return -EINVAL;
  const endbyte0 = off + nbytes;
  if (off < 0 || endbyte0 < off) return -EINVAL;
  let endbyte: number;
  if (nbytes === 0) endbyte = LLONG_MAX;
  else endbyte = endbyte0 - 1;
  const mapping = file.inode.mapping;
  const t = k.sched.current;
  t?.frames.push('sync_file_range');
  try {
    if (flags & SYNC_FILE_RANGE_WAIT_BEFORE) {
      const err = yield* fileFdatawaitRange(k, file, off, endbyte);
      if (err < 0) return err;
    }
    if (flags & SYNC_FILE_RANGE_WRITE) {
      const syncAll = (flags & valid) === valid;
      const err = yield* filemapFdatawriteRange(mapping, off, endbyte, syncAll);
      if (err < 0) return err;
    }
    if (flags & SYNC_FILE_RANGE_WAIT_AFTER) return yield* fileFdatawaitRange(k, file, off, endbyte);
    return 0;
  } finally {
    t?.frames.pop();
  }
}

/** posix_fadvise(POSIX_FADV_DONTNEED): start writeback, then drop the clean whole pages. */
export function* sysFadviseDontneed(k: Kernel, file: OpenFile, off: number, len: number): Co<number> {
  if (off < 0 || len < 0) return -EINVAL;
  const mapping = file.inode.mapping;
  const endbyte = len === 0 ? LLONG_MAX : off + len - 1;
  const t = k.sched.current;
  t?.frames.push('generic_fadvise');
  try {
    yield* filemapFdatawriteRange(mapping, off, endbyte, false);
    // Only whole pages are dropped: round the start up and the end down.
    const startIndex = Math.floor((off + PAGE_SIZE - 1) / PAGE_SIZE);
    let endIndex = Math.floor(endbyte / PAGE_SIZE);
    if (endbyte !== LLONG_MAX && offsetIn(endbyte, PAGE_SIZE) !== PAGE_SIZE - 1) endIndex--;
    // The folios may sit in this CPU's LRU add batch: drain it first.
    lruAddDrain(k.sched);
    if (endIndex >= startIndex) invalidateMappingPages(mapping, startIndex, endIndex);
    return 0;
  } finally {
    t?.frames.pop();
  }
}

/**
 * copy_file_range(2): generic_copy_file_checks; then ->remap_file_range
 * where the filesystem has one (xfs: reflink); otherwise, or when it
 * remapped nothing, a splice-style copy in chunks, each side as it was opened: through
 * the page cache, or as direct I/O for an O_DIRECT side. On fuse this is
 * fuse_copy_file_range with a daemon that has no FUSE_COPY_FILE_RANGE, once
 * fc->no_copy_file_range is set: __fuse_copy_file_range returns -EOPNOTSUPP
 * before its fuse_writeback_range of the ranges, and splice_copy_file_range
 * does the copy (its write half is fuse_perform_write). The first call's
 * probe, which flushes both ranges before the daemon answers ENOSYS, is not
 * modelled.
 */
export function* sysCopyFileRange(k: Kernel, fin: OpenFile, offIn: number, fout: OpenFile, offOut: number, len: number): Co<number> {
  if (offIn < 0 || offOut < 0) return -EINVAL;
  if (fin.inode.fs !== fout.inode.fs) return -EXDEV;
  const sizeIn = fin.inode.iSize;
  if (offIn + len < offIn || offOut + len < offOut) return -EINVAL;
  // generic_copy_file_checks: the copy is shortened to EOF first, and only
  // then are overlapping ranges in the same file refused (an empty copy
  // overlaps nothing: 0, as Linux 6.18 returns).
  const count = offIn >= sizeIn ? 0 : Math.min(len, sizeIn - offIn);
  if (fin.inode === fout.inode && offOut + count > offIn && offOut < offIn + count) return -EINVAL;
  if (count === 0) return 0;
  if (k.fs.remapFileRange) {
    // vfs_copy_file_range: a filesystem that shares blocks clones what it can; splice does the rest only if it cloned nothing.
    const r = yield* k.fs.remapFileRange(fin, offIn, fout, offOut, count);
    if (r > 0) return r;
  }
  const chunk = 1 << 16;
  const buf = new Uint8Array(Math.min(count, chunk));
  let done = 0;
  const t = k.sched.current;
  t?.frames.push('vfs_copy_file_range');
  try {
    while (done < count) {
      const n = Math.min(chunk, count - done);
      // The pipe's pages, which an O_DIRECT side reads into or writes from (asBvec).
      const view = asBvec(buf.subarray(0, n));
      // splice_direct_to_actor: each side as it was opened (an O_DIRECT one does direct I/O,
      // copy_splice_read and iter_file_splice_write under IOCB_DIRECT, alignment rules included).
      const r = yield* k.fs.readIter(fin, offIn + done, view);
      if (r <= 0) return done > 0 ? done : r;
      // The pipe holds the direct read's own pages, or the page cache's (filemap_splice_read) at the source's offset in its page.
      const lent = fin.direct ? 0 : (offIn + done) % PAGE_SIZE;
      const w = yield* k.fs.writeIter(fout, offOut + done, asBvec(view.subarray(0, r), lent));
      if (w <= 0) return done > 0 ? done : w;
      done += w;
      if (w < r) break;
    }
    return done;
  } finally {
    t?.frames.pop();
  }
}

/** Write back and wait every file (sync(2), without the metadata detail). */
export function* sysSync(k: Kernel): Co<void> {
  for (const inode of k.inodes) yield* filemapWriteAndWaitRange(inode.mapping, 0, LLONG_MAX);
}

/** echo 3 > /proc/sys/vm/drop_caches, after a sync: clean, unmapped folios go. */
export function* sysDropCaches(k: Kernel): Co<number> {
  yield* sysSync(k);
  lruAddDrainAll(k.sched);
  for (const inode of k.inodes) invalidateMappingPages(inode.mapping, 0, Math.floor(LLONG_MAX / PAGE_SIZE));
  return 0;
}

/** Evict a file's inode: write it back and drop its page cache. A mapped file cannot be evicted. */
/**
 * Hold off every syscall on the inodes (i_rwsem and invalidate_lock
 * exclusive, in inode order) and drain their direct I/O: the quiescence an
 * unmount has once no file is in use, which eviction and remount need while
 * the program's other threads still have the files open.
 */
function* quiesce(k: Kernel, inodes: readonly Inode[]): Co<void> {
  // Every i_rwsem before any invalidate_lock: the order all other paths use.
  for (const inode of inodes) yield* inode.iRwsem.downWrite(k.sched);
  for (const inode of inodes) yield* inode.invalidateLock.downWrite(k.sched);
  for (const inode of inodes) yield* inodeDioWait(inode);
}

function release(k: Kernel, inodes: readonly Inode[]): void {
  for (let i = inodes.length - 1; i >= 0; i--) inodes[i]!.invalidateLock.upWrite(k.sched);
  for (let i = inodes.length - 1; i >= 0; i--) inodes[i]!.iRwsem.upWrite(k.sched);
}

export function* sysEvict(k: Kernel, fileIndex: number): Co<number> {
  const inode = k.inodes[fileIndex]!;
  if (k.mm.hasMappings(inode)) return -EBUSY;
  yield* quiesce(k, [inode]);
  yield* k.fs.evictInode(inode);
  release(k, [inode]);
  return 0;
}

/** umount + mount: write everything back, drop every page cache, reload inodes from disk. */
export function* sysRemount(k: Kernel): Co<number> {
  if (k.mm.hasMappings()) return -EBUSY;
  yield* quiesce(k, k.inodes);
  for (const inode of k.inodes) yield* k.fs.evictInode(inode);
  for (const inode of k.inodes) {
    yield* truncateInodePagesRange(inode.mapping, 0, -1, () => {});
    k.fs.reloadInode(inode);
  }
  release(k, k.inodes);
  return 0;
}

/**
 * Power cut, then mount again: the device keeps only what was durable (the
 * rest torn per sector, drawn from seed), crash recovery rebuilds every file
 * from the committed metadata, and the in-core inodes start over with no
 * writeback error recorded (a new mount's inodes). The program's process
 * outlives the cut in the sim; like a remount, live mappings refuse it.
 */
export function* sysPowerCut(k: Kernel, seed: number): Co<number> {
  if (k.mm.hasMappings()) return -EBUSY;
  const t = k.sched.current;
  t?.frames.push('power_cut');
  try {
    // The power goes at once; only then are the program's threads held off
    // (a read in flight, holding invalidate_lock, fails with the machine).
    k.fs.powerFail(seed);
    yield* quiesce(k, k.inodes);
    yield* k.fs.powerRecover(seed);
    for (const inode of k.inodes) {
      inode.mapping.wbErr.v = 0;
      inode.mapping.asFlags = 0;
    }
    release(k, k.inodes);
    return 0;
  } finally {
    t?.frames.pop();
  }
}
