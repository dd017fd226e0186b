// fs/iomap/direct-io.c: iomap_dio_rw. Reads first write back the range;
// writes write back and invalidate it (failure: -ENOTBLK, fall back to
// buffered). Between inode_dio_begin and inode_dio_end each mapping is read
// or written with bios straight from/to the user buffer, with sub-block
// zeroing around new or unwritten blocks. Completion calls the filesystem's
// end_io, then invalidates the page cache again (dio_warn_stale_pagecache on
// failure). Synchronous here: the caller sleeps until every bio completed.

import { isAligned, offsetIn } from '../bits.js';
import { BioOp, type Bio, SECTOR_SIZE } from '../blockdev.js';
import { copyBytes, takeBytes } from '../byte-pool.js';
import { provenance } from '../provenance.js';
import { aliasRead, aliasWrite } from '../alias.js';
import { warn, warnOn } from '../checks.js';
import { EINVAL, EIO, EIOCBQUEUED, ENOTBLK } from '../errno.js';
import { errseqSet } from '../errseq.js';
import { type Co, WaitQueue } from '../sched.js';
import type { Workqueue } from '../workqueue.js';
import { filemapWriteAndWaitRange, foliosInRange } from '../mm/filemap.js';
import { iomapIterate, newIomapIter } from './iter.js';
import { cov, covSite, covState } from '../cov.js';
import { type Folio, PAGE_SHIFT, PAGE_SIZE } from '../include/pagemap.js';
import type { Inode, Kiocb } from '../include/fs.js';
import {
  IOMAP_DELALLOC,
  IOMAP_DIRECT,
  IOMAP_F_NEW,
  IOMAP_HOLE,
  IOMAP_MAPPED,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  type IomapIter,
  type IomapOps,
  iomapIterAdvance,
  iomapLength,
} from '../include/iomap.js';
import { invalidateInodePages2Range } from '../mm/truncate.js';

const C_DIO_RW = covSite('iomap_dio_rw');
const C_DIO_ITER = covSite('iomap_dio_iter');
const C_DIO_ZERO = covSite('iomap_dio_zero');
const C_DIO_NOTBLK = covSite('kiocb_invalidate_pages:enotblk');
const C_DIO_STALE = covSite('dio_warn_stale_pagecache');
const C_DIO_POST_INVAL = covSite('kiocb_invalidate_post_direct_write');
const C_DIO_COMPLETE = covSite('iomap_dio_complete');
const C_DIO_WAIT = covSite('inode_dio_wait');
const A_DIO_BEGIN = covSite('alias:inode_dio_begin');
const A_DIO_END = covSite('alias:inode_dio_end');
const A_DIO_WAIT = covSite('alias:inode_dio_wait');

/** struct iomap_dio_ops */
export interface IomapDioOps {
  /** ->end_io: convert unwritten extents, extend the on-disk size. */
  endIo(inode: Inode, pos: number, size: number, error: number, write: boolean): Co<number>;
}

/** State of one direct I/O. */
interface Dio {
  inode: Inode;
  write: boolean;
  buf: Uint8Array;
  base: number;
  inflight: number;
  error: number;
  readonly done: WaitQueue;
  /** Bytes the iteration mapped and submitted. */
  submitted: number;
  iterErr: number;
  dops: IomapDioOps;
  unmap: (f: Folio) => void;
  /** Set for an asynchronous kiocb: runs when the last bio completes. */
  onAllDone: (() => void) | null;
  async: boolean;
}

/** inode_dio_begin */
export function inodeDioBegin(inode: Inode): void {
  aliasWrite(inode.dioAlias, A_DIO_BEGIN);
  inode.dioCount++;
}

/** inode_dio_end: the last one out wakes inode_dio_wait(). */
export function inodeDioEnd(inode: Inode): void {
  aliasWrite(inode.dioAlias, A_DIO_END);
  if (--inode.dioCount === 0) inode.fs.sched.wakeAll(inode.dioWq);
}

/** inode_dio_wait: sleep until no direct I/O is in flight. */
export function* inodeDioWait(inode: Inode): Co<void> {
  covState(C_DIO_WAIT, inode.dioCount > 0 ? 1 : 0);
  aliasRead(inode.dioAlias, A_DIO_WAIT);
  yield* inode.fs.sched.waitUntil(inode.dioWq, () => inode.dioCount === 0);
}

/** dio_warn_stale_pagecache: post-write invalidation failed; user-visible -EIO via errseq. */
/**
 * dio_warn_stale_pagecache: post-write invalidation failed. The kernel prints
 * a critical message and records -EIO for fsync. Whether that is a kernel bug
 * depends on who dirtied the page cache meanwhile: a program that races
 * buffered and direct writes on the same range gets this by design, so the
 * judgement is the observer's (mapping.onStalePagecache), not this function's.
 */
export function dioWarnStalePagecache(inode: Inode, pos: number, len: number): void {
  cov(C_DIO_STALE);
  errseqSet(inode.mapping.wbErr, -EIO);
  inode.mapping.onStalePagecache?.(pos, len);
}

function dioSubmit(dio: Dio, op: BioOp, diskAddr: number, buf: Uint8Array, filePos: number): void {
  dio.inflight++;
  const bio: Bio = {
    op,
    sector: diskAddr / SECTOR_SIZE,
    buf,
    preflush: false,
    fua: false,
    status: 0,
    owner: 'iomap_dio_bio_end_io',
    file: { ino: dio.inode.ino, pos: filePos, writeback: false },
    endIo(b: Bio): void {
      if (b.status && !dio.error) dio.error = b.status;
      if (--dio.inflight === 0) {
        if (dio.onAllDone) dio.onAllDone();
        else dio.inode.fs.sched.wakeAll(dio.done);
      }
    },
  };
  dio.inode.fs.dev.submitBio(bio);
}

/** iomap_dio_zero: write zeroes to [pos, pos+len) of the block device (sub-block padding). */
function iomapDioZero(dio: Dio, iter: IomapIter, pos: number, len: number): void {
  covState(C_DIO_ZERO, dio.write ? 1 : 0);
  const addr = iter.iomap.addr + (pos - iter.iomap.offset);
  const zeroes = takeBytes(len);
  provenance()?.mark(zeroes, 0, len, 'zero', 'iomap_dio_zero');
  dioSubmit(dio, BioOp.Write, addr, zeroes, pos);
}

/**
 * Buffers that are kernel pages, an ITER_BVEC iterator (the pipe of
 * copy_file_range's splice for an O_DIRECT side), not user memory, with
 * where their first byte sits in its page. bdev_iter_is_aligned checks
 * where the bytes of a bio start in their page: pipe pages a direct read
 * fills start at 0, and the zeroes of a hole before a mapping advance them
 * (6.18: a copy from 1025 over a hole and a written block is -EINVAL, a
 * pread(2) of it is not); page cache pages a buffered source lends the
 * pipe start where the source's position is in its page (a copy from 2049
 * into an O_DIRECT file is -EINVAL on 6.18). The sim has no user buffer
 * addresses: a user buffer passes, as the executor's aligned ones do.
 */
const BVEC_OFFSETS = new WeakMap<Uint8Array, number>();

/** Mark buf as kernel pages (an ITER_BVEC) whose first byte is at pageOffset in its page. */
export function asBvec(buf: Uint8Array, pageOffset = 0): Uint8Array {
  BVEC_OFFSETS.set(buf, pageOffset);
  return buf;
}

/** iomap_dio_bio_iter: bios for a MAPPED or UNWRITTEN range. */
function iomapDioBioIter(iter: IomapIter, dio: Dio): number {
  const inode = iter.inode;
  const m = iter.iomap;
  const pos = iter.pos;
  const length = iomapLength(iter);
  const bsize = 1 << inode.blkbits;
  if (!isAligned(pos, SECTOR_SIZE) || !isAligned(length, SECTOR_SIZE)) return -EINVAL;
  const pageOffset = BVEC_OFFSETS.get(dio.buf);
  if (pageOffset !== undefined && !isAligned(pageOffset + pos - dio.base, SECTOR_SIZE)) return -EINVAL;
  const needZeroout = dio.write && ((m.flags & IOMAP_F_NEW) !== 0 || m.type === IOMAP_UNWRITTEN);
  if (needZeroout) {
    const pad = offsetIn(pos, bsize);
    if (pad) iomapDioZero(dio, iter, pos - pad, pad);
  }
  const from = pos - dio.base;
  const view = dio.buf.subarray(from, from + length);
  const addr = m.addr + (pos - m.offset);
  if (dio.write) {
    // The bio carries its own copy: the user buffer may change before it completes.
    const data = copyBytes(view);
    provenance()?.copyIn(data, 0, view, 0, data.length, 'dio', 'iomap_dio_bio_iter');
    dioSubmit(dio, BioOp.Write, addr, data, pos);
  } else {
    dioSubmit(dio, BioOp.Read, addr, view, pos);
  }
  const end = pos + length;
  if (needZeroout || (dio.write && end >= inode.iSize)) {
    const pad = offsetIn(end, bsize);
    if (pad) iomapDioZero(dio, iter, end, bsize - pad);
  }
  iomapIterAdvance(iter, length);
  return 0;
}

/** iomap_dio_iter */
function iomapDioIter(iter: IomapIter, dio: Dio): number {
  const m = iter.iomap;
  const s = iter.inode.fs.sched;
  covState(C_DIO_ITER, m.type | (dio.write ? 4 : 0) | (m.flags & IOMAP_F_NEW ? 8 : 0));
  switch (m.type) {
    case IOMAP_HOLE:
      if (dio.write) {
        warnOn(s, true, 'iomap_dio_iter:write-hole', 'iomap_dio_iter', 'direct write mapped to a hole');
        return -EIO;
      }
      return iomapDioHoleIter(iter, dio);
    case IOMAP_UNWRITTEN:
      if (!dio.write) return iomapDioHoleIter(iter, dio);
      return iomapDioBioIter(iter, dio);
    case IOMAP_MAPPED:
      return iomapDioBioIter(iter, dio);
    case IOMAP_DELALLOC:
      // DIO never sees delalloc extents: they were flushed first. Refuse, as the kernel does.
      return -EIO;
    default:
      warn(s, 'iomap_dio_iter:bad-type', 'iomap_dio_iter', `mapping type ${m.type}`);
      return -EIO;
  }
}

function* iomapDioActor(it: IomapIter, dio: Dio): Co<number> {
  return iomapDioIter(it, dio);
}

/** iomap_dio_hole_iter: reads of holes and unwritten extents are zeroes. */
function iomapDioHoleIter(iter: IomapIter, dio: Dio): number {
  const length = iomapLength(iter);
  const from = iter.pos - dio.base;
  dio.buf.fill(0, from, from + length);
  provenance()?.mark(dio.buf, from, from + length, 'hole', 'iomap_dio_hole_iter');
  iomapIterAdvance(iter, length);
  return 0;
}

/** kiocb_invalidate_pages: write back and drop [pos, end]; -ENOTBLK if a folio would not go. */
export function* kiocbInvalidatePages(inode: Inode, pos: number, end: number, unmap: (f: Folio) => void): Co<number> {
  const err = yield* filemapWriteAndWaitRange(inode.mapping, pos, end);
  if (err) return err;
  const ret = yield* invalidateInodePages2Range(inode.mapping, Math.floor(pos / (1 << PAGE_SHIFT)), Math.floor(end / (1 << PAGE_SHIFT)), unmap);
  if (!ret) return 0;
  cov(C_DIO_NOTBLK);
  inode.mapping.onDioInvalidateFailed?.(pos, end - pos + 1);
  return -ENOTBLK;
}

/** kiocb_invalidate_post_direct_write */
function* kiocbInvalidatePostDirectWrite(inode: Inode, pos: number, count: number, unmap: (f: Folio) => void): Co<void> {
  const mapping = inode.mapping;
  if (mapping.nrpages === 0 || count === 0) return;
  const end = pos + count - 1;
  const ret = yield* invalidateInodePages2Range(mapping, Math.floor(pos / (1 << PAGE_SHIFT)), Math.floor(end / (1 << PAGE_SHIFT)), unmap);
  covState(C_DIO_POST_INVAL, ret ? 1 : 0);
  if (ret) dioWarnStalePagecache(inode, pos, count);
}

/**
 * Provenance only: a direct write over [pos, pos+len) completed in `fn`;
 * cached bytes still over that range are older than what it wrote.
 */
export function noteKeptCache(inode: Inode, pos: number, len: number, fn: string): void {
  const prov = provenance();
  if (!prov || len <= 0 || inode.mapping.nrpages === 0) return;
  for (const f of foliosInRange(inode.mapping, Math.floor(pos / PAGE_SIZE), Math.floor((pos + len - 1) / PAGE_SIZE))) {
    const from = Math.max(pos, f.pos) - f.pos;
    const to = Math.min(pos + len, f.pos + f.size) - f.pos;
    prov.kept(inode.ino, f.pos + from, f.data, from, to, fn);
  }
}

/** How an asynchronous direct I/O completes: writes in a workqueue, reads in the bio's end_io. */
export interface DioAsync {
  iocb: Kiocb;
  workqueue: Workqueue;
}

/**
 * iomap_dio_complete: the filesystem's end_io, the page cache invalidation
 * after a write, inode_dio_end. Returns the result of the I/O.
 */
function* iomapDioComplete(dio: Dio): Co<number> {
  const { inode, base: pos, write } = dio;
  let ret = dio.submitted;
  // -ENOTBLK from the filesystem mid-way is the magic "fall back to buffered
  // for the rest": complete what was done, the caller does the remainder.
  // Any other error of the iteration fails the whole I/O, even after some
  // progress (__iomap_dio_rw: iomap_dio_set_error).
  const error = dio.error || (dio.iterErr < 0 && dio.iterErr !== -ENOTBLK ? dio.iterErr : 0);
  const e2 = yield* dio.dops.endIo(inode, pos, error ? 0 : ret, error, write);
  covState(C_DIO_COMPLETE, (write ? 1 : 0) | (dio.async ? 2 : 0) | (error ? 4 : 0) | (e2 ? 8 : 0) | (ret === 0 ? 16 : 0));
  if (error) ret = error;
  else if (e2) ret = e2;
  else if (!write && pos + ret > inode.iSize) ret = Math.max(0, inode.iSize - pos);
  const bugs = inode.fs.bugs;
  // Control switch dio-completion-no-invalidate-window: a preemption point
  // between end_io and the invalidation, the window the kernel accepts: a
  // buffered read may cache data here, and the invalidation drops it.
  if (write && bugs.has('dio-completion-no-invalidate-window')) {
    const s = inode.fs.sched;
    if (s.preemptPoint()) yield;
  }
  // Bug switch aio-dio-no-invalidate: before the 2017 fix AIO completion skipped this.
  const skipInvalidate = dio.async && bugs.has('aio-dio-no-invalidate');
  if (write && ret > 0 && !skipInvalidate) yield* kiocbInvalidatePostDirectWrite(inode, pos, ret, dio.unmap);
  if (write && ret > 0) noteKeptCache(inode, pos, ret, 'iomap_dio_complete');
  // Bug switch dio-invalidate-whole-file: before the 2020 fix a write that did
  // nothing (a full buffered fallback) still invalidated (pos, pos + 0 - 1):
  // at pos 0 that end wraps to the last page, the whole file.
  if (write && ret === 0 && !error && bugs.has('dio-invalidate-whole-file') && inode.mapping.nrpages > 0) {
    const first = Math.floor(pos / PAGE_SIZE);
    const last = pos === 0 ? Number.MAX_SAFE_INTEGER : Math.floor((pos - 1) / PAGE_SIZE);
    if (last >= first) {
      const r = yield* invalidateInodePages2Range(inode.mapping, first, last, dio.unmap);
      if (r) dioWarnStalePagecache(inode, pos, Number.MAX_SAFE_INTEGER - pos);
    }
  }
  inodeDioEnd(inode);
  return ret;
}

/** The last bio of an asynchronous direct I/O completed. */
function iomapDioAsyncDone(dio: Dio, async: DioAsync): void {
  const finish = (ret: number): void => {
    async.iocb.result = ret;
    async.iocb.done = true;
    async.iocb.onComplete?.();
    dio.inode.fs.sched.wakeAll(async.iocb.wq);
  };
  if (dio.write) {
    // Writes may convert extents and invalidate the page cache: that sleeps, so it is punted to a workqueue.
    async.workqueue.queueWork(function* () {
      finish(yield* iomapDioComplete(dio));
    });
    return;
  }
  // Reads complete in the end_io context: nothing here sleeps for a read.
  const g = iomapDioComplete(dio);
  const r = g.next();
  if (!r.done) throw new Error('sim: read completion tried to sleep');
  finish(r.value);
}

/**
 * iomap_dio_rw: bytes transferred or -errno (-ENOTBLK: fall back to buffered).
 * With `async`, returns -EIOCBQUEUED once the bios are in flight and the
 * iocb completes later. The caller holds i_rwsem as its filesystem requires.
 */
export function* iomapDioRw(
  inode: Inode,
  pos: number,
  buf: Uint8Array,
  write: boolean,
  ops: IomapOps,
  dops: IomapDioOps,
  unmap: (f: Folio) => void,
  async: DioAsync | null = null,
): Co<number> {
  const s = inode.fs.sched;
  const t = s.current;
  t?.frames.push('iomap_dio_rw');
  try {
    const len = buf.length;
    if (len === 0) return 0;
    covState(C_DIO_RW, (write ? 1 : 0) | (async ? 2 : 0) | (inode.mapping.nrpages > 0 ? 4 : 0) | (inode.dioCount > 0 ? 8 : 0));
    const end = pos + len - 1;
    if (!write) {
      if (pos >= inode.iSize) return 0;
      const err = yield* filemapWriteAndWaitRange(inode.mapping, pos, end);
      if (err) return err;
    } else {
      const err = yield* kiocbInvalidatePages(inode, pos, end, unmap);
      if (err) return err;
    }
    const dio: Dio = {
      inode, write, buf, base: pos, inflight: 0, error: 0, done: new WaitQueue('dio'),
      submitted: 0, iterErr: 0, dops, unmap, onAllDone: null, async: async !== null,
    };
    inodeDioBegin(inode);
    const iter = newIomapIter(inode, pos, len, IOMAP_DIRECT | (write ? IOMAP_WRITE : 0));
    dio.iterErr = yield* iomapIterate(iter, ops, iomapDioActor, dio);
    dio.submitted = iter.pos - pos;
    if (async && dio.inflight > 0) {
      dio.onAllDone = () => iomapDioAsyncDone(dio, async);
      return -EIOCBQUEUED;
    }
    // A synchronous kiocb (or nothing in flight): wait for every bio here.
    yield* s.waitUntil(dio.done, () => dio.inflight === 0);
    return yield* iomapDioComplete(dio);
  } finally {
    t?.frames.pop();
  }
}
