// What each op does to the files, by POSIX and Linux semantics: the shadow
// follows every successful op's effect, and a failed op leaves unknown what
// it may have changed part-way. Filesystem differences come from the
// filesystem's description (fs-semantics.ts), never from its name.

import type { Op } from '../../prog/types.js';
import { EINVAL, EIO } from '../../sim/errno.js';
import type { CopySource, Model, ThreadOp } from '../model.js';
import { aioExtensionInFlightTo, aioWriteInFlight, grownDuringOp, noteChange } from './in-flight.js';
import { fallocateRacedStores } from './collisions.js';
import { fuseWriteNotTaken } from './refused-writes.js';

type OpOf<K extends Op['op']> = Extract<Op, { op: K }>;

/** A direct write that failed with ret may have written part of its range: an I/O error, or a misalignment found past its first mapping. */
export function directWritePartlyLanded(m: Model, ret: number): boolean {
  return ret === -EIO || (ret === -EINVAL && m.fs.misalignedDirectWriteMayLand);
}

/** One pwrite(2) of a chunked pwrite op: n bytes at off returned ret. */
export function pwriteCalled(m: Model, op: OpOf<'pwrite'>, off: number, n: number, ret: number): void {
  const desc = m.fds[op.fd]!;
  const shadow = m.shadows[desc.file]!;
  if (ret > 0) {
    shadow.fill(off, ret, op.fill);
    noteChange(m, shadow);
  }
  if (((ret > 0 && ret < n) || ret === -EIO) && !desc.direct && m.fs.refusedWriteUnsettlesFolios) {
    fuseWriteNotTaken(m, desc.file, off, n, Math.max(0, ret));
  }
  if (desc.direct && directWritePartlyLanded(m, ret)) {
    // Some of a failed direct write's bios may have landed, in any order with
    // the bios of direct writes still in flight; those past EOF show once
    // the file grows over them.
    shadow.forgetFailedWrite(off, n);
    noteChange(m, shadow);
    // iomap_dio_complete invalidates the cache after a write only if it
    // succeeded (kiocb_invalidate_post_direct_write): a buffered read
    // meanwhile may keep older bytes than the bios that landed.
    m.noteCacheDiskSplit(desc.file, off, n);
  }
}

export function truncated(m: Model, op: OpOf<'truncate'>, ret: number): void {
  const shadow = m.shadowOfFd(op.fd);
  if (ret === 0) {
    shadow.truncate(op.size);
    noteChange(m, shadow);
  } else if (ret === -EIO && op.size < shadow.size) {
    // The partial block past the new size was zeroed before the writeback
    // that failed (iomap_truncate_page comes first).
    const bs = m.program.config.blockSize;
    const partial = Math.ceil(op.size / bs) * bs - op.size;
    shadow.forget(op.size, partial);
    m.noteCacheDiskSplit(m.fileOfFd(op.fd), op.size, partial);
  }
}

export function fallocated(m: Model, st: ThreadOp, op: OpOf<'fallocate'>, ret: number, sizes: number[] | undefined): void {
  const file = m.fileOfFd(op.fd);
  const shadow = m.shadows[file]!;
  fallocateRacedStores(m, file, op, st.start);
  if (ret === 0) {
    shadow.fallocate(op.mode, op.off, op.len);
    noteChange(m, shadow);
  } else if (ret === -EIO) {
    adoptSizeOfFailedExtend(m, op, file, sizes);
    // An I/O error part-way (zeroing a partial block, say) comes after
    // whole blocks were already freed or zeroed (xfs_free_file_space):
    // the range may hold the old bytes or zeroes; a shift may have moved
    // everything after it.
    const shifts = op.mode === 'collapse' || op.mode === 'insert';
    const n = shifts ? Math.max(0, shadow.size - op.off) : op.len;
    shadow.forget(op.off, n);
    // truncate_pagecache_range zeroed the cached part of partial blocks
    // before the partial-block zeroing read the block and failed
    // (ext4_zero_partial_blocks): the cache may hold zeroes the disk never got.
    m.noteCacheDiskSplit(file, op.off, n);
  }
}

/** A failed fallocate that extends the file: the size it reached, where the filesystem allows one (FsSemantics.failedFallocateKeepsSize). */
function adoptSizeOfFailedExtend(m: Model, op: OpOf<'fallocate'>, file: number, sizes: number[] | undefined): void {
  const size = sizes?.[file];
  if (size === undefined || !m.fs.failedFallocateKeepsSize(op.mode)) return;
  const shadow = m.shadows[file]!;
  if (size > shadow.size && size <= op.off + op.len) {
    shadow.truncate(size);
    noteChange(m, shadow);
  }
}

/**
 * After a write failed, the size on disk may lag the one the program saw
 * (the failed I/O was to move it): once the inode is read back from disk
 * (evict, remount), the shadow takes the filesystem's size.
 */
export function adoptSizesAfterLostWrites(m: Model, sizes: number[] | undefined): void {
  if (!sizes) return;
  for (let i = 0; i < m.shadows.length; i++) {
    const shadow = m.shadows[i]!;
    const size = sizes[i];
    if (size !== undefined && shadow.lostWrites && shadow.size !== size) shadow.truncate(size);
  }
}

/** Sizes a trace observed after an op: where the model's size is unknown, the observed one is taken. */
export function adoptUnknownSizes(m: Model, sizes: number[]): void {
  for (let i = 0; i < m.shadows.length; i++) {
    const shadow = m.shadows[i]!;
    const size = sizes[i];
    if (shadow.sizeUnknown && size !== undefined) shadow.adoptSize(size);
  }
}

/** copy_range reads its source as it begins: what the copy must carry. */
export function copySource(m: Model, op: OpOf<'copy_range'>): CopySource {
  const from = m.shadowOfFd(op.fdIn);
  return {
    src: from.view(op.offIn, op.len).slice(),
    srcUnknown: from.unknownIn(op.offIn, op.len),
    // The copy reads its source while an AIO write in flight over it may
    // land before or after (or between folios): the copied bytes are undecided.
    racing: aioWriteInFlight(m, from, op.offIn, op.len),
    countBefore: Math.min(op.len, Math.max(0, from.size - op.offIn)),
  };
}

export function copied(m: Model, st: ThreadOp, op: OpOf<'copy_range'>, ret: number): void {
  const c = st.copy!;
  const fromFile = m.fileOfFd(op.fdIn);
  const from = m.shadows[fromFile]!;
  const to = m.shadowOfFd(op.fdOut);
  if (ret > 0) {
    to.write(op.offOut, c.src.subarray(0, ret), c.srcUnknown?.subarray(0, ret) ?? null);
    if (c.racing || aioWriteInFlight(m, from, op.offIn, op.len)) to.forget(op.offOut, ret);
    // A writeback of the source that failed while the copy ran left its
    // folio clean, and reclaim may drop it: the copy may have read what
    // the disk holds there instead.
    for (let f = st.failedBefore; f < m.failedInOp.length; f++) {
      const e = m.failedInOp[f]!;
      const lo = Math.max(e.pos, op.offIn);
      const hi = Math.min(e.pos + e.len, op.offIn + ret);
      if (e.file === fromFile && hi > lo) to.forget(op.offOut + (lo - op.offIn), hi - lo);
    }
    noteChange(m, to);
  }
  const toDesc = m.fds[op.fdOut]!;
  if (ret < 0 && toDesc.direct && directWritePartlyLanded(m, ret)) {
    // The splice's direct write of its first chunk wrote the mappings before
    // the one it refused, and nothing moved is reported (splice_direct_to_actor).
    to.forgetFailedWrite(op.offOut, op.len);
    noteChange(m, to);
    m.noteCacheDiskSplit(toDesc.file, op.offOut, op.len);
  }
  if (ret > 0 && toDesc.direct) copyDirectChunkRefused(m, c, op, ret);
  if (m.fs.copyRangeIsBufferedWrite) copyWriteNotTaken(m, c, op, ret);
}

/**
 * What a copy should have moved: the bytes the source held at the range
 * both before and after the call, so a racing truncate of the source is not
 * taken for a refused write.
 */
function copyWant(m: Model, c: CopySource, op: OpOf<'copy_range'>): number {
  const from = m.shadowOfFd(op.fdIn);
  return Math.min(c.countBefore, Math.min(op.len, Math.max(0, from.size - op.offIn)));
}

/**
 * A copy to a direct destination that came back short of what the source
 * held: splice_direct_to_actor moves a pipe-full at a time, and the direct
 * write of the chunk after the last one counted failed (a length the device
 * cannot take, an I/O error) after it had written the mappings before the
 * one it refused: the call reports only the chunks before, yet part of the
 * next one may be in the file. Linux 6.18 does this on ext4 (a copy of
 * 108,339 bytes returns 65,536 and changes a written block past it).
 */
function copyDirectChunkRefused(m: Model, c: CopySource, op: OpOf<'copy_range'>, ret: number): void {
  const want = copyWant(m, c, op);
  if (ret >= want) return;
  const to = m.shadowOfFd(op.fdOut);
  to.forgetFailedWrite(op.offOut + ret, want - ret);
  noteChange(m, to);
  m.noteCacheDiskSplit(m.fds[op.fdOut]!.file, op.offOut + ret, want - ret);
}

/**
 * A copy that is a buffered write of its destination: a WRITE the server
 * refused or took short leaves the destination folios as a failed pwrite
 * does (short against copyWant).
 */
function copyWriteNotTaken(m: Model, c: CopySource, op: OpOf<'copy_range'>, ret: number): void {
  const want = copyWant(m, c, op);
  if ((ret > 0 && ret < want) || ret === -EIO) {
    fuseWriteNotTaken(m, m.fileOfFd(op.fdOut), op.offOut, want, Math.max(0, ret));
    noteChange(m, m.shadowOfFd(op.fdOut));
  }
}

/**
 * A store through a mapping stored `stored` bytes. Where it landed in a
 * folio that a refused WRITE left not uptodate (`unsettled`, from the sim;
 * absent in a kernel's trace, where any store after such a WRITE may have),
 * the next read may re-read it from the server: those bytes may or may not
 * stay.
 */
export function stored(m: Model, op: OpOf<'mwrite'>, stored: number, unsettled: [number, number][] | undefined): void {
  const file = m.fileOfMap(op.map);
  if (file < 0 || stored <= 0) return;
  const shadow = m.shadows[file]!;
  shadow.storeMapped(op.off, stored, op.fill, aioExtensionInFlightTo(m, shadow));
  // A kernel's trace: a growth reported during the store may have come after it, and past the EOF of before it the store is not file data.
  if (!m.hints) for (const [a, b] of grownDuringOp(m, shadow, op.off, stored)) shadow.forget(a, b - a);
  if (m.fs.refusedWriteUnsettlesFolios) {
    if (unsettled) for (const [a, b] of unsettled) shadow.forget(a, b - a);
    else if (!m.hints && m.unsettled[file]) shadow.forget(op.off, stored);
  }
  noteChange(m, shadow);
}
