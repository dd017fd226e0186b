// FUSE (fs/fuse/file.c) without writeback cache: buffered writes copy into
// the page cache and go to the server at once (write-through); reads go
// through iomap with an asynchronous READ per range; mmap-dirtied folios are
// written back with WRITE requests. The server is a userspace daemon whose
// file data lives in its own store, answering each request as a scheduler
// event.

import type { FallocMode } from '../../prog/types.js';
import type { BlockDevice, PowerCutReport } from '../blockdev.js';
import { Rng } from '../schedule.js';
import { ECONNABORTED, EINVAL, EIO, EOPNOTSUPP } from '../errno.js';
import { errseqCheckAndAdvance } from '../errseq.js';
import { type Co, type Sched, WaitQueue } from '../sched.js';
import {
  filemapCheckErrors,
  filemapFdatawaitRangeKeepErrors,
  filemapFdatawriteRange,
  filemapGetFolio,
  filemapRead,
  filemapWriteAndWaitRange,
  mappingSetError,
  orderForLength,
  unmapMappingFolio,
} from '../mm/filemap.js';
import { folioClass, folioClearUptodate, folioLock, folioPut, folioTestUptodate, folioUnlock, folioWaitWriteback } from '../mm/folio.js';
import {
  ifsClass,
  ifsClearUptodate,
  iomapDirtyFolio,
  iomapSetRangeUptodate,
  iomapInvalidateFolio,
  iomapReleaseFolio,
} from '../iomap/ifs.js';
import { type IomapReadOps, iomapFinishFolioRead, iomapReadFolio } from '../iomap/read.js';
import { type IomapWritebackOps, type WritepageCtx, iomapFinishFolioWrite, iomapWritepages } from '../iomap/writeback.js';
import { dioWarnStalePagecache, kiocbInvalidatePages, noteKeptCache } from '../iomap/direct-io.js';
import type { BugSet } from '../bugs.js';
import { covSite, covState } from '../cov.js';
import { forgetPostEofStores } from '../mm/post-eof-stores.js';
import { provenance } from '../provenance.js';
import { type Folio, PAGE_SIZE, AS_EIO, AS_ENOSPC, FGP_CREAT, FGP_LOCK, FGP_WRITE, type FolioUnmapper } from '../include/pagemap.js';
import { Inode, type OpenFile, type Filesystem, SIM_MAX_FILE_BYTES } from '../include/fs.js';
import { IOMAP_MAPPED, type Iomap, type IomapOps } from '../include/iomap.js';
import { invalidateInodePages2Range, truncateInodePagesRange, truncatePagecache, truncatePagecacheRange } from '../mm/truncate.js';
import { FuseConn, FuseServer } from './fuse-dev.js';

const C_FUSE_CLEAR_UPTODATE = covSite('fuse_send_write_pages:clear-uptodate');

/** fi->writectr, FUSE_NOWRITE and fi->queued_writes of one inode. */
interface FuseInodeWb {
  /** Writeback WRITEs in flight to the server. */
  writectr: number;
  /** FUSE_NOWRITE holders (a truncate). */
  nowrite: number;
  wq: WaitQueue;
  /** Writeback WRITEs held back while FUSE_NOWRITE is set. */
  queued: (() => void)[];
}

export class FuseFs implements Filesystem {
  readonly name = 'fuse';
  readonly blkbits: number;
  readonly maxBytes = SIM_MAX_FILE_BYTES;
  readonly server = new FuseServer();
  /** struct fuse_conn: the requests on their way to the daemon. */
  private readonly fc: FuseConn;
  readonly inodes: Inode[] = [];
  readonly unmapFolio: FolioUnmapper = unmapMappingFolio;
  private readonly iomapOps: IomapOps;
  private readonly readOps: IomapReadOps;
  private readonly writebackOps: IomapWritebackOps;

  constructor(
    readonly sched: Sched,
    readonly dev: BlockDevice,
    readonly blockSize: number,
    private readonly folioMax: number,
    readonly bugs: BugSet,
  ) {
    let bits = 0;
    while (1 << bits < blockSize) bits++;
    this.blkbits = bits;
    this.fc = new FuseConn(sched);
    this.iomapOps = { iomapBegin: (_iter, pos, len, _flags, m) => this.fuseIomapBegin(pos, len, m) };
    this.readOps = { readFolioRange: (iter, folio, pos, len) => this.fuseReadFolioRange(iter.inode, folio, pos, len) };
    this.writebackOps = { writebackRange: (wpc, folio, pos, len, endPos) => this.fuseWritebackRange(wpc, folio, pos, len, endPos) };
  }

  createInode(name: string): Inode {
    const inode = new Inode(this, this.inodes.length + 1, name, this.folioMax);
    const bits = this.blkbits;
    inode.mapping.aops = {
      readFolio: (folio) => this.fuseReadFolio(inode, folio),
      dirtyFolio: (folio) => iomapDirtyFolio(folio, bits),
      invalidateFolio: (folio, off, len) => iomapInvalidateFolio(this.sched, folio, off, len),
      releaseFolio: (folio) => iomapReleaseFolio(this.sched, folio),
      writepages: (_m, wbc) => iomapWritepages(inode, wbc, this.writebackOps),
    };
    this.server.file(inode.ino);
    this.inodes.push(inode);
    return inode;
  }

  /**
   * fuse_read_folio: fuse_do_readfolio waits for writeback of the folio
   * before it sends the READ ("make sure we read a properly synced folio"):
   * a WRITE of the folio still on its way to the server would otherwise land
   * after the READ, leaving the cache with older bytes than the server.
   */
  private *fuseReadFolio(inode: Inode, folio: Folio): Co<number> {
    yield* folioWaitWriteback(this.sched, folio);
    return yield* iomapReadFolio(inode, folio, this.iomapOps, this.readOps);
  }

  /** fuse_iomap_begin: everything is mapped; "addresses" are file offsets in the server. */
  private *fuseIomapBegin(pos: number, len: number, m: Iomap): Co<number> {
    m.type = IOMAP_MAPPED;
    m.offset = pos;
    m.length = len;
    m.addr = pos;
    return 0;
  }

  /** fuse_iomap_read_folio_range_async: a FUSE_READ for part of a folio. */
  private fuseReadFolioRange(inode: Inode, folio: Folio, pos: number, len: number): number {
    const off = pos - folio.pos;
    this.fc.request('fuse_readpages_end', () => {
      this.server.read(inode.ino, pos, folio.data.subarray(off, off + len));
      provenance()?.derive(folio.data, off, off + len, 'fuse_readpages_end');
      iomapFinishFolioRead(inode, folio, off, len, 0);
    }, () => iomapFinishFolioRead(inode, folio, off, len, -ECONNABORTED));
    return 0;
  }

  /** Writeback of mmap-dirtied folios: an async FUSE_WRITE per range. */
  private *fuseWritebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): Co<number> {
    const inode = wpc.inode;
    wpc.iomap.type = IOMAP_MAPPED;
    const off = pos - folio.pos;
    const n = Math.max(0, Math.min(len, endPos - pos));
    const payload = folio.data.slice(off, off + n);
    provenance()?.copy(payload, 0, folio.data, off, n);
    const fi = this.fuseInode(inode);
    const send = (): void => {
      // fuse_send_writepage: crop to i_size as it is when the request goes out.
      const m = Math.max(0, Math.min(n, inode.iSize - pos));
      fi.writectr++;
      const end = (): void => {
        iomapFinishFolioWrite(inode, folio, len);
        if (--fi.writectr === 0) this.sched.wakeAll(fi.wq);
      };
      this.fc.request('fuse_writepage_end', () => {
        if (m > 0) this.server.write(inode.ino, pos, payload.subarray(0, m));
        end();
      }, () => {
        // fuse_writepage_end with an error: recorded on the mapping, nothing reached the server.
        mappingSetError(inode.mapping, -ECONNABORTED);
        end();
      });
    };
    // fuse_flush_writepages: while a truncate holds FUSE_NOWRITE, writes wait in queued_writes.
    if (fi.nowrite > 0) fi.queued.push(send);
    else send();
    return len;
  }

  /** Per inode: the writeback bookkeeping of struct fuse_inode. */
  private readonly fuseInodes = new Map<Inode, FuseInodeWb>();

  private fuseInode(inode: Inode): FuseInodeWb {
    let fi = this.fuseInodes.get(inode);
    if (!fi) {
      fi = { writectr: 0, nowrite: 0, wq: new WaitQueue('fuse_nowrite'), queued: [] };
      this.fuseInodes.set(inode, fi);
    }
    return fi;
  }

  /** fuse_set_nowrite: hold back new writeback WRITEs and wait for those in flight. */
  private *fuseSetNowrite(inode: Inode): Co<void> {
    const fi = this.fuseInode(inode);
    fi.nowrite++;
    yield* this.sched.waitUntil(fi.wq, () => fi.writectr === 0);
  }

  /** fuse_release_nowrite: send the held-back WRITEs, cropped to the new i_size. */
  private fuseReleaseNowrite(inode: Inode): void {
    const fi = this.fuseInode(inode);
    if (--fi.nowrite > 0) return;
    for (const send of fi.queued.splice(0)) send();
  }

  *readIter(file: OpenFile, pos: number, dst: Uint8Array): Co<number> {
    const inode = file.inode;
    if (dst.length === 0) return 0;
    if (file.direct) {
      // generic_file_read_iter with IOCB_DIRECT: flush the range, then fuse_direct_IO.
      if (pos >= inode.iSize) return 0;
      const err = yield* filemapWriteAndWaitRange(inode.mapping, pos, pos + dst.length - 1);
      if (err) return err;
      return yield* this.fc.requestWait('fuse_direct_io', () => {
        const n = Math.min(dst.length, Math.max(0, inode.iSize - pos));
        const got = this.server.read(inode.ino, pos, dst.subarray(0, n));
        provenance()?.derive(dst, 0, n, 'fuse_direct_io');
        return got;
      });
    }
    return yield* filemapRead(inode.mapping, pos, dst.length, dst);
  }

  *writeIter(file: OpenFile, pos: number, src: Uint8Array): Co<number> {
    const inode = file.inode;
    if (pos >= this.maxBytes) return -27;
    if (src.length === 0) return 0;
    yield* inode.iRwsem.downWrite(this.sched);
    let ret: number;
    if (file.direct) ret = yield* this.fuseDirectWrite(inode, pos, src);
    else ret = yield* this.fusePerformWrite(inode, pos, src);
    inode.iRwsem.upWrite(this.sched);
    return ret;
  }

  /** generic_file_direct_write over fuse_direct_IO. */
  private *fuseDirectWrite(inode: Inode, pos: number, src: Uint8Array): Co<number> {
    const end = pos + src.length - 1;
    const err = yield* kiocbInvalidatePages(inode, pos, end, this.unmapFolio);
    if (err) return err;
    const payload = src.slice();
    provenance()?.copyIn(payload, 0, src, 0, payload.length, 'dio', 'fuse_direct_io');
    const n = yield* this.fc.requestWait('fuse_direct_io', () => this.server.write(inode.ino, pos, payload));
    // generic_file_direct_write: i_size and the second invalidation only after a write that did something.
    if (n <= 0) return n;
    if (pos + n > inode.iSize) inode.iSize = pos + n;
    const ret = yield* invalidateInodePages2Range(inode.mapping, Math.floor(pos / PAGE_SIZE), Math.floor(end / PAGE_SIZE), this.unmapFolio);
    if (ret) dioWarnStalePagecache(inode, pos, src.length);
    noteKeptCache(inode, pos, n, 'generic_file_direct_write');
    return n;
  }

  /**
   * fuse_perform_write: fill folios (fuse_fill_write_pages), send one WRITE,
   * then fix up the folios (fuse_send_write_pages) and i_size.
   */
  private *fusePerformWrite(inode: Inode, pos: number, src: Uint8Array): Co<number> {
    const s = this.sched;
    let done = 0;
    while (done < src.length) {
      const folios: { folio: Folio; locked: boolean; off: number; len: number }[] = [];
      const start = pos + done;
      let count = 0;
      // Mainline unlocks every uptodate folio once it is copied, then sends
      // the WRITE and only then moves i_size (fuse_write_update_attr). An
      // extending write's bytes past the old i_size sit unlocked in the cache
      // meanwhile, and writeback of that folio (dirty through a mapping)
      // zeroes everything past i_size (iomap_writeback_handle_eof, since fuse
      // writes back through iomap): the page cache and, if the daemon has not
      // copied the request yet, the server lose them. Shown on Linux 6.18.44
      // over bindfs with a flusher thread racing the write. The sim assumes
      // the fix that iomap_write_end's ordering gives other filesystems: an
      // extending write keeps its folios locked until i_size covers them.
      // Bug switch fuse-writethrough-eof-zeroed: mainline as it is.
      const holdLocks = start + (src.length - done) > inode.iSize && !this.bugs.has('fuse-writethrough-eof-zeroed');
      // fuse_fill_write_pages: copy until a folio is left locked (not uptodate) or the chunk is full.
      while (done + count < src.length && count < this.folioMax * 4) {
        const p = start + count;
        const folio = (yield* filemapGetFolio(inode.mapping, Math.floor(p / PAGE_SIZE), FGP_LOCK | FGP_CREAT | FGP_WRITE,
          orderForLength(src.length - done - count)))!;
        const off = p - folio.pos;
        const n = Math.min(folio.size - off, src.length - done - count);
        folio.data.set(src.subarray(done + count, done + count + n), off);
        provenance()?.copyIn(folio.data, off, src, done + count, n, 'write', 'fuse_fill_write_pages');
        // The copy replaced whatever a store past EOF had left in those bytes.
        if (inode.mapping.postEofStores !== null) forgetPostEofStores(inode.mapping, p, p + n);
        count += n;
        // A whole folio copied is uptodate, and so is every block of its ifs:
        // marking the flag alone would leave an ifs that a failed write
        // cleared disagreeing with it (mainline fuse writes through
        // iomap_write_end, which goes through iomap_set_range_uptodate).
        if (n === folio.size) iomapSetRangeUptodate(folio, 0, folio.size, inode.blkbits);
        if (folioTestUptodate(folio)) {
          if (!holdLocks) folioUnlock(s, folio);
          folios.push({ folio, locked: holdLocks, off, len: n });
        } else {
          folios.push({ folio, locked: true, off, len: n });
          break;
        }
      }
      // fuse_send_write_pages: wait for writeback of every folio of the
      // request first, so a WRITE of older contents still in flight to the
      // server cannot land after this one.
      for (const f of folios) yield* folioWaitWriteback(s, f.folio);
      const written = yield* this.fc.requestWait('fuse_send_write', () => {
        // The request carries the folios, not a copy: the daemon's read of it
        // (fuse_copy_folio) takes what they hold then, a store through a
        // mapping since the copy from the user buffer included.
        const payload = new Uint8Array(count);
        let at = 0;
        for (const f of folios) {
          payload.set(f.folio.data.subarray(f.off, f.off + f.len), at);
          provenance()?.copy(payload, at, f.folio.data, f.off, f.len);
          at += f.len;
        }
        const faults = this.dev.faults;
        if (faults.take(true)) {
          if (faults.shortWrite && count > 1) {
            // The server writes only the first half and says so.
            const half = Math.floor(count / 2);
            return this.server.write(inode.ino, start, payload.subarray(0, half));
          }
          this.dev.onError?.({ ino: inode.ino, pos: start, len: count, write: true, writeback: false });
          return -EIO;
        }
        return this.server.write(inode.ino, start, payload);
      });
      // fuse_send_write_pages: an error clears uptodate on every folio of the
      // request, a short write on the folio where it stopped.
      let left = written;
      for (const f of folios) {
        if (written < 0) this.clearUptodate(f.folio);
        else if (left < f.len) {
          if (written < count) this.clearUptodate(f.folio);
          left = 0;
        } else left -= f.len;
      }
      if (written > 0 && start + written > inode.iSize) inode.iSize = start + written;
      for (const f of folios) {
        if (f.locked) folioUnlock(s, f.folio);
        folioPut(s, f.folio);
      }
      if (written < 0) return done > 0 ? done : written;
      done += written;
      if (written < count) break;
    }
    return done;
  }

  /**
   * The folio's contents are not what the server holds: not uptodate, and
   * neither are its blocks. Bug switch fuse-clear-uptodate-ifs: the 2025 code
   * cleared only the folio flag, leaving the ifs claiming every block uptodate.
   */
  private clearUptodate(folio: Folio): void {
    covState(C_FUSE_CLEAR_UPTODATE, folioClass(folio) * 64 + ifsClass(folio));
    if (!this.bugs.has('fuse-clear-uptodate-ifs')) ifsClearUptodate(folio);
    folioClearUptodate(this.sched, folio);
  }

  *fallocate(file: OpenFile, mode: FallocMode, off: number, len: number): Co<number> {
    if (off < 0 || len <= 0) return -EINVAL;
    if (mode === 'collapse' || mode === 'insert' || mode === 'unshare') return -EOPNOTSUPP;
    const inode = file.inode;
    const punchOrZero = mode === 'punch' || mode === 'zero' || mode === 'zero_keep';
    const keep = mode === 'keep_size' || mode === 'punch' || mode === 'zero_keep';
    yield* inode.iRwsem.downWrite(this.sched);
    yield* inode.invalidateLock.downWrite(this.sched);
    if (punchOrZero) {
      const err = yield* filemapWriteAndWaitRange(inode.mapping, off, off + len - 1);
      if (err) {
        inode.invalidateLock.upWrite(this.sched);
        inode.iRwsem.upWrite(this.sched);
        return err;
      }
    }
    yield* this.fc.requestWait('fuse_file_fallocate', () => {
      if (punchOrZero) this.server.zero(inode.ino, off, len);
      const f = this.server.file(inode.ino);
      if (!keep && off + len > f.size) this.server.setSize(inode.ino, off + len);
      return 0;
    });
    if (!keep && off + len > inode.iSize) inode.iSize = off + len;
    if (punchOrZero) yield* truncatePagecacheRange(inode.mapping, off, off + len - 1, this.unmapFolio);
    inode.invalidateLock.upWrite(this.sched);
    inode.iRwsem.upWrite(this.sched);
    return 0;
  }

  /** fuse_do_setattr with a size: SETATTR to the server, then truncate_pagecache. */
  *setattrSize(file: OpenFile, size: number): Co<number> {
    if (size < 0) return -EINVAL;
    const inode = file.inode;
    yield* inode.iRwsem.downWrite(this.sched);
    yield* inode.invalidateLock.downWrite(this.sched);
    // fuse_do_setattr: FUSE_NOWRITE across SETATTR and the i_size update, so
    // no writeback WRITE of the old size reaches the server after it.
    yield* this.fuseSetNowrite(inode);
    yield* this.fc.requestWait('fuse_setattr', () => {
      this.server.setSize(inode.ino, size);
      return 0;
    });
    inode.iSize = size;
    this.fuseReleaseNowrite(inode);
    yield* truncatePagecache(inode.mapping, size, this.unmapFolio);
    // Then invalidate_inode_pages2: fuse_launder_folio writes each dirty folio
    // back first, at the new size. A store past the old EOF that a growing
    // truncate exposed goes to the server with it (6.18 keeps it: nothing
    // wrote the folio back at the old size, which would have zeroed it).
    yield* filemapWriteAndWaitRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    yield* invalidateInodePages2Range(inode.mapping, 0, Math.floor(Number.MAX_SAFE_INTEGER / PAGE_SIZE), this.unmapFolio);
    inode.invalidateLock.upWrite(this.sched);
    inode.iRwsem.upWrite(this.sched);
    return 0;
  }

  /**
   * fuse_fsync: under inode_lock, so a buffered write (which holds it across
   * its WRITE request) is complete before the range is written back and
   * FSYNC is sent.
   */
  *fsync(file: OpenFile, start: number, end: number, datasync: boolean): Co<number> {
    const inode = file.inode;
    yield* inode.iRwsem.downWrite(this.sched);
    const ret = yield* this.fsyncLocked(file, start, end, datasync);
    inode.iRwsem.upWrite(this.sched);
    return ret;
  }

  private *fsyncLocked(file: OpenFile, start: number, end: number, _datasync: boolean): Co<number> {
    const mapping = file.inode.mapping;
    let err = 0;
    if (mapping.nrpages > 0) {
      err = yield* filemapFdatawriteRange(mapping, start, end, true);
      yield* filemapFdatawaitRangeKeepErrors(mapping, start, end);
    }
    // Bug switch errseq-report-once-global: before errseq (2017) fsync tested and
    // cleared the mapping's AS_EIO, so only the first fsync of any opener saw it.
    const err2 = this.bugs.has('errseq-report-once-global')
      ? filemapCheckErrors(mapping)
      : errseqCheckAndAdvance(mapping.wbErr, file.fWbErr);
    mapping.asFlags &= ~(AS_EIO | AS_ENOSPC);
    if (err || err2) return err || err2;
    return yield* this.fc.requestWait('fuse_fsync', () => {
      this.server.fsync(file.inode.ino);
      return 0;
    });
  }

  /** fuse_page_mkwrite: lock, check the mapping, wait for writeback; dirtying follows in the fault path. */
  *pageMkwrite(file: OpenFile, folio: Folio): Co<number> {
    const s = this.sched;
    const inode = file.inode;
    yield* folioLock(s, folio);
    if (folio.mapping !== inode.mapping || folio.pos >= inode.iSize) {
      folioUnlock(s, folio);
      return -14;
    }
    yield* folioWaitWriteback(s, folio);
    iomapDirtyFolio(folio, this.blkbits);
    // Nothing is reserved (fuse_page_mkwrite has no folio_mkwrite_check_truncate):
    // writeback sends whatever lies inside i_size then, so all of the folio.
    return folio.size;
  }

  *evictInode(inode: Inode): Co<void> {
    yield* filemapWriteAndWaitRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
    yield* truncateInodePagesRange(inode.mapping, 0, -1, this.unmapFolio);
  }

  reloadInode(inode: Inode): void {
    // The unmount's sync_filesystem: fuse_sync_fs sends FUSE_SYNCFS, the daemon syncs its files.
    this.server.fsync(inode.ino);
    inode.iSize = this.server.file(inode.ino).size;
  }

  readDisk(inode: Inode): Uint8Array {
    const out = new Uint8Array(inode.iSize);
    this.server.read(inode.ino, 0, out);
    return out;
  }

  /**
   * Power cut of the machine the daemon runs on. The daemon dies at once:
   * its connection is aborted, and requests it had not answered end with an
   * error (a READ a reader sleeps on under invalidate_lock among them). The
   * block device is not involved: the files live in the daemon.
   */
  powerFail(seed: number): PowerCutReport {
    const report = this.dev.powerCut(seed);
    this.dev.powerOn();
    this.fc.abort();
    return report;
  }

  /**
   * The daemon restarts over its own storage (FuseServer.powerCut), the
   * client's page cache (dirty mmap stores never sent) is gone, and the
   * mount looks every size up again.
   */
  *powerRecover(seed: number): Co<void> {
    // The sim's threads ran on while the kernel was held quiet; what they
    // sent meanwhile and is not answered yet died with the daemon too.
    this.fc.abort();
    // The daemon restarts first: a reader racing with the cut (the sim's process outlives it) reads what it has now.
    this.server.powerCut(new Rng(seed ^ 0x5f3759df));
    for (const inode of this.inodes) inode.iSize = this.server.file(inode.ino).size;
    for (const inode of this.inodes) yield* truncateInodePagesRange(inode.mapping, 0, -1, () => {});
    // The restarted daemon's files are what its storage holds.
    for (const inode of this.inodes) this.server.fsync(inode.ino);
  }
}
