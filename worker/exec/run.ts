// The executor: run a Program on a fresh simulated machine, check every read
// against the shadow model, and at the end check the page cache view and the
// on-disk view (after a clean remount) of every file against it too.
//
// The first violation ends the run and is the result. An exception that is
// not a Violation is a harness error: a bug in the sim itself, reported apart
// from kernel findings.

import type { FallocMode, Op, Program, Schedule } from '../prog/types.js';
import { type BugSet, NO_BUGS } from '../sim/bugs.js';
import type { IoErrorReport } from '../sim/blockdev.js';
import { takeBytes, withByteScope } from '../sim/byte-pool.js';
import { EIO, EIOCBQUEUED } from '../sim/errno.js';
import { type ChoicePoint, RecordingPolicy, policyFor } from '../sim/schedule.js';
import { Violation, violation } from '../sim/checks.js';
import { errname } from '../sim/errno.js';
import { Kernel } from '../sim/kernel.js';
import { type Co, type Sched, type SimThread, waitForCycle } from '../sim/sched.js';
import { filemapLookup, filemapRead } from '../sim/mm/filemap.js';
import { folioTestUptodate } from '../sim/mm/folio.js';
import { postEofStoresIn } from '../sim/mm/post-eof-stores.js';
import {
  sysCopyFileRange,
  sysDropCaches,
  sysEvict,
  sysFadviseDontneed,
  sysFallocate,
  sysFsync,
  sysFtruncate,
  sysMsyncRange,
  sysPowerCut,
  sysPread,
  sysPwrite,
  sysRemount,
  sysSyncFileRange,
} from '../sim/vfs/syscalls.js';
import { LIVELOCK_SIGNATURE, deadlockSignature } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import { OwnWrites } from './own-writes.js';
import { DurableFile, type StableCapture } from './durability.js';
import { ShadowFile } from './shadow.js';
import { PAGE_SIZE } from '../sim/include/pagemap.js';
import { type Inode, type OpenFile, type Kiocb, newKiocb } from '../sim/include/fs.js';

export interface OpResult {
  thread: number;
  index: number;
  ret: number;
}

export interface RunResult {
  violation: RunViolation | null;
  /** A bug in the simulator itself (not a kernel finding). */
  harnessError: string | null;
  files: { name: string; data: Uint8Array }[];
  results: OpResult[];
  steps: number;
  /** The decisions taken, as a replayable schedule (absent under the default policy). */
  schedule?: Schedule;
  /** The wall-time limit (RunOptions.overtime) stopped the run: no verdict. */
  timedOut?: boolean;
}

export interface RunOptions {
  stepBudget?: number;
  /** Bug switches to turn on. */
  bugs?: BugSet;
  /** Called with one line per op (and at the end); the trace of `exec --trace`. */
  trace?: (line: string) => void;
  /** Wall-time limit: asked now and then; true stops the run with timedOut set. */
  overtime?: () => boolean;
  /** Called as a thread starts op `index` (the text trace of worker/repro). */
  onOpStart?: (thread: number, index: number) => void;
  /** Called at every real choice point of a run under a schedule (the minimizer's preemption search). */
  onChoice?: (point: ChoicePoint) => void;
  /** Called when the scheduler switches threads (see Sched.onSwitch). */
  onSwitch?: (from: SimThread | null, to: SimThread) => void;
}

const DEFAULT_STEP_BUDGET = 5_000_000;

/** A page cache write of the program (mapped: a store through a mapping), on the op clock. */
interface CacheWrite {
  inode: Inode;
  a: number;
  b: number;
  start: number;
  end: number;
  mapped: boolean;
}

/** An AIO submitted by the program and not yet reaped. */
interface InflightAio {
  iocb: Kiocb;
  write: boolean;
  off: number;
  len: number;
  fill: number;
  buf: Uint8Array;
  /** Completed, and its effect applied to (or checked against) the shadow. */
  done: boolean;
  shadow: ShadowFile;
  /** shadow.version at submission. */
  submitVersion: number;
  /** The program changed the file while this write was in flight: the outcome depends on the race. */
  conflicted: boolean;
  /** The op during which it completed: a read in that op may have seen either side. */
  completedInOp: number;
  inode: Inode;
  /** Op clock at submission of a direct write (for stale page cache judgement), else -1. */
  directStart: number;
}

/** One thread's user memory for syscall buffers. */
interface UserBuffers {
  w: Scratch;
  r: Scratch;
}

/** Scratch buffers reused across ops: the hot path allocates nothing per op. */
class Scratch {
  private buf: Uint8Array | null = null;
  get(n: number): Uint8Array {
    if (this.buf === null || n > this.buf.length) {
      let cap = this.buf?.length ?? PAGE_SIZE;
      while (cap < n) cap *= 2;
      this.buf = takeBytes(cap);
    }
    return this.buf.subarray(0, n);
  }
}

class Execution {
  readonly k: Kernel;
  readonly shadows: ShadowFile[];
  readonly fds: OpenFile[];
  readonly results: OpResult[] = [];
  /** Each thread's user buffers: a buffer may be in use by a syscall that sleeps. */
  private readonly buffers: UserBuffers[];

  /** With several threads the order of effects is the schedule's: the shadow cannot follow it. */
  readonly checkReads: boolean;
  /** With several threads: read-your-writes over bytes no other thread may change. */
  private readonly own: OwnWrites | null;
  /** Which program thread each sim thread runs. */
  private readonly threadIndex = new Map<SimThread, number>();
  /** Submitted AIO by iocb id, until aio_wait collects it. */
  private readonly aio = new Map<number, InflightAio>();
  readonly recorder: RecordingPolicy | null;
  /** Ops started so far (by any thread). */
  private opCount = 0;
  /** A logical clock: ticks at every op start and end, in any thread. */
  private clock = 0;
  /**
   * The program's page cache writes (buffered writes, stores through a
   * mapping, ...) with when they ran, on the op clock (end Infinity while
   * running), and the start of each direct write of the program still in
   * flight. A direct write that finds stale page cache over a range the
   * program itself wrote through the cache while that direct write was in
   * flight collided with the program's own buffered I/O, which the kernel
   * answers with dio_warn_stale_pagecache by design.
   */
  private readonly cacheWrites: CacheWrite[] = [];
  /** Per program thread, the op under way: when it started (op clock) and its cached writes, closed when it ends. */
  private readonly opState = new Map<SimThread, { start: number; writes: CacheWrite[] }>();
  private readonly directStarts = new Map<Inode, number[]>();
  /** Per file: writeback errors recorded so far (faults, stale page cache), and whether an opener saw the latest. */
  private readonly errEvents = new Map<Inode, { count: number; latestSeen: boolean }>();
  /** Whether the op under way may change file contents (single-threaded programs). */
  private opInProgressWrites = false;
  /** Write failures since the current op started (re-applied to the shadow when it ends). */
  private readonly failedInOp: { shadow: ShadowFile; pos: number; len: number }[] = [];
  /** The op during which a read I/O last failed. */
  private readFailedInOp = -1;
  /** Per file: byte ranges where the cache may show what the disk lacks (failed writes, stale page cache). */
  private readonly failedWrites = new Map<Inode, [number, number][]>();
  /** Per open file description: how many of its file's errors it has been told of. */
  private readonly errCursor = new Map<OpenFile, number>();
  /** Power cut edges (start, end) so far, and how many are under way. */
  private powerCuts = 0;
  private cutting = 0;
  /** Per file, what a power cut may leave (programs with a power_cut op only; judged when sequential). */
  private readonly durable: DurableFile[] | null;

  constructor(
    readonly program: Program,
    readonly opts: RunOptions,
  ) {
    const sched = program.schedule;
    this.recorder = sched && sched.strategy !== 'default' ? new RecordingPolicy(policyFor(sched), opts.onChoice) : null;
    this.k = new Kernel(program.config, {
      stepBudget: opts.stepBudget ?? DEFAULT_STEP_BUDGET,
      bugs: opts.bugs ?? NO_BUGS,
      ...(this.recorder ? { policy: this.recorder } : {}),
    });
    if (opts.onSwitch) this.k.sched.onSwitch = opts.onSwitch;
    for (const f of program.files) this.k.createFile(f.name);
    const fuse = program.config.fs === 'fuse';
    this.shadows = this.k.inodes.map((inode) => new ShadowFile(fuse, fuse ? null : (from, to) => postEofStoresIn(inode.mapping, from, to)));
    this.fds = program.fds.map((d) => this.k.openFile(this.k.inodes[d.file]!, d.direct));
    for (const inode of this.k.inodes) {
      inode.mapping.onStalePagecache = (pos, len) => this.stalePagecache(inode, pos, len);
      inode.mapping.onDioInvalidateFailed = (pos, len) => this.dioInvalidateFailed(inode, pos, len);
      this.errEvents.set(inode, { count: 0, latestSeen: true });
    }
    for (const f of this.fds) this.errCursor.set(f, 0);
    this.k.dev.onError = (r) => this.ioFailed(r);
    this.checkReads = program.threads.length === 1;
    this.own = this.checkReads ? null : new OwnWrites(program);
    const cuts = program.threads.some((t) => t.ops.some((o) => o.op === 'power_cut'));
    this.durable = cuts ? program.files.map(() => new DurableFile()) : null;
    this.buffers = program.threads.map(() => ({ w: new Scratch(), r: new Scratch() }));
  }

  get s(): Sched {
    return this.k.sched;
  }

  private shadowOfFd(fd: number): ShadowFile {
    return this.shadows[this.program.fds[fd]!.file]!;
  }

  private shadowOfMap(map: number): ShadowFile | null {
    const vma = this.k.mm.vma(map);
    if (!vma) return null;
    return this.shadows[this.k.inodes.indexOf(vma.file.inode)]!;
  }

  /** Compare what a read returned with the shadow. */
  private checkRead(what: string, fn: string, shadow: ShadowFile, off: number, len: number, got: Uint8Array, ret: number): void {
    if (!this.checkReads || ret < 0) return;
    // A read that overlaps an AIO write in flight may see either side of it.
    if (this.aioWriteInFlight(shadow, off, len)) return;
    const want = shadow.view(off, len);
    const shortAfterError = ret < want.length && this.readFailedInOp === this.opCount;
    if (ret !== want.length && !shortAfterError) {
      violation(this.s, 'DATA', `${what}:length`, fn, `${what} at ${off} len ${len} returned ${ret}, the file holds ${want.length} bytes there`);
    }
    const d = shadow.firstDifferenceAt(off, got.subarray(0, ret));
    if (d >= 0) {
      violation(this.s, 'DATA', `${what}:mismatch`, fn,
        `${what} at ${off}: byte ${off + d} is 0x${(got[d] ?? 0).toString(16)}, expected 0x${(want[d] ?? 0).toString(16)}`);
    }
  }

  /** Several threads: what this thread reads of bytes only it wrote must be what it wrote. */
  private checkOwn(what: string, fn: string, file: number, off: number, got: Uint8Array): void {
    const cur = this.s.current;
    const thread = cur ? this.threadIndex.get(cur) : undefined;
    if (!this.own || thread === undefined || got.length === 0) return;
    // A writeback error (ENOSPC converting delalloc, say) may lose cached data legitimately.
    if (this.k.inodes[file]!.mapping.wbErr.v !== 0) return;
    const loss = this.own.check(thread, file, off, got);
    if (loss) {
      violation(this.s, 'DATA', `${what}:own-write-lost`, fn,
        `${what} at ${off} by t${thread}: byte ${loss.pos} is 0x${loss.got.toString(16)}, but t${thread} wrote 0x${loss.want.toString(16)} there and no other thread touches it`);
    }
  }

  private aioWriteInFlight(shadow: ShadowFile, off: number, len: number): boolean {
    for (const a of this.aio.values()) {
      if (!a.write || (a.done && a.completedInOp !== this.opCount) || a.shadow !== shadow) continue;
      if (a.off < off + len && a.off + a.len > off) return true;
      // An extending write changes the size too (iomap_dio_complete sets
      // i_size before the iocb completes): a read reaching past the size the
      // shadow knows may see the new size, holes before the write included.
      if (a.off + a.len > shadow.size && off + len > shadow.size) return true;
    }
    return false;
  }

  /** Record the op's page cache writes as running; returns them, to be closed when the op ends. */
  private openCacheWrites(op: Op): CacheWrite[] {
    const now = this.clock;
    const mapped = op.op === 'mwrite';
    const recs = this.cacheWritesOf(op).map(([inode, off, len]) => ({ inode, a: off, b: off + len, start: now, end: Infinity, mapped }));
    // Forget writes that ended before every direct write still in flight began.
    if (this.cacheWrites.length > 256) {
      let oldest = Infinity;
      for (const starts of this.directStarts.values()) for (const t of starts) oldest = Math.min(oldest, t);
      for (let i = this.cacheWrites.length - 1; i >= 0; i--) if (this.cacheWrites[i]!.end < oldest) this.cacheWrites.splice(i, 1);
    }
    this.cacheWrites.push(...recs);
    return recs;
  }

  private directStart(inode: Inode): number {
    const t = this.clock;
    let list = this.directStarts.get(inode);
    if (!list) this.directStarts.set(inode, (list = []));
    list.push(t);
    return t;
  }

  private directEnd(inode: Inode, t: number): void {
    const list = this.directStarts.get(inode);
    const i = list ? list.indexOf(t) : -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  /** The inode a synchronous direct write op writes (AIO ones are tracked by their iocb). */
  private directWriteOf(op: Op): Inode | null {
    if (op.op !== 'pwrite') return null;
    const f = this.fds[op.fd]!;
    return f.direct ? f.inode : null;
  }

  /** Page cache writes by the op, as [inode, off, len], for collision tracking. */
  private cacheWritesOf(op: Op): [Inode, number, number][] {
    const all = Number.MAX_SAFE_INTEGER;
    switch (op.op) {
      case 'pwrite':
      case 'aio_write': {
        const f = this.fds[op.fd]!;
        return f.direct ? [] : [[f.inode, op.off, op.len]];
      }
      case 'copy_range':
        return [[this.fds[op.fdOut]!.inode, op.offOut, op.len]];
      case 'mwrite': {
        const vma = this.k.mm.vma(op.map);
        return vma ? [[vma.file.inode, op.off, op.len]] : [];
      }
      case 'truncate':
        return [[this.fds[op.fd]!.inode, 0, all]];
      case 'fallocate':
        return [[this.fds[op.fd]!.inode, op.off, op.len]];
      default:
        return [];
    }
  }

  /**
   * A direct write of the current op found cached data it could not drop
   * (kiocb_invalidate_pages) and goes on as a buffered write. When the
   * program's own cached write during this op is what held the cache, that
   * collision is the program's, and so is the buffered write it turns the
   * direct one into: from here on it counts as a cached write of the op, so
   * a direct write still in flight over it may find stale page cache (xfs's
   * fallback does not drain direct I/O first). An ext4 fallback over a hole
   * is not an invalidation failure and does not count.
   */
  private dioInvalidateFailed(inode: Inode, pos: number, len: number): void {
    const t = this.s.current;
    const op = t ? this.opState.get(t) : undefined;
    if (!op) return;
    const fs = this.program.config.folioMax;
    const lo = Math.floor(pos / fs) * fs;
    const hi = Math.ceil((pos + len) / fs) * fs;
    if (!this.cacheWrites.some((w) => w.inode === inode && w.end >= op.start && w.a < hi && w.b > lo)) return;
    const rec: CacheWrite = { inode, a: pos, b: pos + len, start: this.clock, end: Infinity, mapped: false };
    this.cacheWrites.push(rec);
    op.writes.push(rec);
  }

  private stalePagecache(inode: Inode, pos: number, len: number): void {
    this.recordError(inode);
    const starts = this.directStarts.get(inode) ?? [];
    const since = starts.length ? Math.min(...starts) : Infinity;
    // Invalidation works on whole folios: a write into the same folio collides.
    const fs = this.program.config.folioMax;
    const lo = Math.floor(pos / fs) * fs;
    const hi = Math.ceil((pos + len) / fs) * fs;
    const excused = this.cacheWrites.some((w) => w.inode === inode && w.end >= since && w.a < hi && w.b > lo);
    if (!excused) {
      violation(this.s, 'WARN', 'dio_warn_stale_pagecache', 'dio_warn_stale_pagecache',
        `page cache over [${pos}, +${len}) of ${inode.name} went stale under direct I/O, and the program wrote no cached data there meanwhile`);
    }
    // The collision the kernel reports this way leaves the cache and the disk
    // disagreeing over the direct write's range, by design.
    this.noteCacheDiskSplit(inode, pos, Math.min(len, Number.MAX_SAFE_INTEGER - pos));
    this.shadows[this.k.inodes.indexOf(inode)]?.forget(pos, Math.min(len, inode.iSize));
  }

  /** Bytes where the page cache may legitimately differ from the disk from now on. */
  private noteCacheDiskSplit(inode: Inode, pos: number, len: number): void {
    const failed = this.failedWrites.get(inode) ?? [];
    failed.push([pos, pos + len]);
    this.failedWrites.set(inode, failed);
  }

  /** A writeback error was recorded for the file (mapping_set_error). */
  private recordError(inode: Inode): void {
    const e = this.errEvents.get(inode)!;
    e.count++;
    e.latestSeen = false;
  }

  /** An injected fault failed a bio: its data did not reach the disk (or the reader). */
  private ioFailed(r: IoErrorReport): void {
    const i = this.k.inodes.findIndex((x) => x.ino === r.ino);
    if (i < 0) return;
    if (!r.write) {
      // A read that fails part-way returns what it read before the error: a short count.
      this.readFailedInOp = this.opCount;
      return;
    }
    // The op under way may still record its own effect on the shadow: forget again after it.
    this.failedInOp.push({ shadow: this.shadows[i]!, pos: r.pos, len: r.len });
    // The page cache may still show the data, the disk does not have it: both are possible from now on.
    this.shadows[i]!.forget(r.pos, r.len);
    this.shadows[i]!.lostWrites = true;
    this.noteCacheDiskSplit(this.k.inodes[i]!, r.pos, r.len);
    if (r.writeback) this.recordError(this.k.inodes[i]!);
  }

  /**
   * After a write failed, the size on disk may lag the one the program saw
   * (the failed I/O was to move it): once the inode is read back from disk,
   * the shadow takes the filesystem's size.
   */
  /**
   * After a failed fallocate that extends an ext4 file: the size it reached,
   * if Linux allows that size. (xfs sets the size only after the whole call
   * succeeded, xfs_falloc_setsize; fuse's server answers for it at once.)
   */
  private adoptSizeOfFailedExtend(fd: number, mode: FallocMode, end: number): void {
    if (this.program.config.fs !== 'ext4' || (mode !== 'alloc' && mode !== 'zero')) return;
    const shadow = this.shadowOfFd(fd);
    const size = this.fds[fd]!.inode.iSize;
    if (size > shadow.size && size <= end) {
      shadow.truncate(size);
      this.noteChange(shadow);
    }
  }

  private adoptSizesAfterLostWrites(): void {
    for (let i = 0; i < this.shadows.length; i++) {
      const shadow = this.shadows[i]!;
      const size = this.k.inodes[i]!.iSize;
      if (shadow.lostWrites && shadow.size !== size) shadow.truncate(size);
    }
  }

  /** open(2) of a new description: errseq_sample hands it a latest error nobody has seen. */
  private openFd(old: OpenFile): OpenFile {
    const file = this.k.openFile(old.inode, old.direct);
    const e = this.errEvents.get(old.inode)!;
    this.errCursor.set(file, e.latestSeen || e.count === 0 ? e.count : e.count - 1);
    return file;
  }

  /**
   * fsync's report: -EIO only for an error recorded since this description
   * last heard of one, and (single-threaded) never 0 while one is pending.
   */
  private *syncChecked(file: OpenFile, body: Co<number>, fn: string): Co<number> {
    const e = this.errEvents.get(file.inode)!;
    const pendingAtStart = e.count > (this.errCursor.get(file) ?? 0);
    const cutsAtStart = this.powerCuts;
    const ret = yield* body;
    // Another thread cut the power under it: its I/O was aborted (on a real machine it never returned).
    if (this.powerCuts !== cutsAtStart || this.cutting > 0) return ret;
    const cursor = this.errCursor.get(file) ?? 0;
    if (ret === -EIO) {
      if (e.count <= cursor) {
        violation(this.s, 'INVARIANT', 'fsync:spurious-error', fn, `${fn} on ${file.inode.name} returned -EIO, but no fault caused an error it had not reported`);
      }
      this.errCursor.set(file, e.count);
      e.latestSeen = true;
    } else if (ret === 0 && pendingAtStart && this.checkReads) {
      violation(this.s, 'INVARIANT', 'fsync:error-lost', fn, `${fn} on ${file.inode.name} returned 0 with a writeback error it was never told of`);
    }
    return ret;
  }

  /** A synchronous op changed the file: AIO writes in flight on it now race with that change. */
  private noteChange(shadow: ShadowFile, by: InflightAio | null = null): void {
    for (const a of this.aio.values()) {
      if (!a.write || a.shadow !== shadow || a === by) continue;
      if (!a.done) a.conflicted = true;
      // It completed while this op ran: its bios and this op's may have reached the file in either
      // order. A failed one too: the bios before the one that failed may have landed after this op's.
      else if (a.completedInOp === this.opCount) {
        if (a.iocb.result > 0) shadow.forget(a.off, a.iocb.result);
        else if (a.iocb.result === -EIO) shadow.forget(a.off, a.len);
      }
    }
  }

  /**
   * A FUSE buffered write the server did not take whole (a short reply or an
   * error): fuse_fill_write_pages had copied all of [start, start+len) into
   * the page cache, and fuse_send_write_pages clears uptodate on every folio
   * of the request from the one where the server stopped (all of them on an
   * error), leaving their dirty bits alone. Such a folio is re-read from the
   * server at the next read, dropping bytes stored through a mapping that
   * were not written back yet; if it stays dirty, writeback sends the bytes
   * the server refused. Either may happen: the rest of those folios is
   * unknown. The folio size is not known here: folioMax bounds it.
   */
  private fuseWriteNotTaken(shadow: ShadowFile, start: number, len: number, taken: number): void {
    const fs = this.program.config.folioMax;
    const stop = start + taken;
    const lo = Math.floor(stop / fs) * fs;
    const hi = Math.ceil((start + len) / fs) * fs;
    // The part the server took is on the server and in the cache alike.
    if (lo < start) shadow.forget(lo, start - lo);
    shadow.copiedNotWritten(stop, hi - stop);
  }

  /**
   * A store through a pte that still maps a folio a failed or short FUSE
   * WRITE cleared (fuse_send_write_pages leaves the pte alone): it lands in a
   * folio that is not uptodate, and the next read of it re-reads the folio
   * from the server (fuse_read_folio), store and all, unless writeback sent
   * the folio first. Those bytes may or may not stay. The re-read may be the
   * store's own next page fault (a large folio whose next page was not mapped
   * yet), so the folios are looked at both before and after the store.
   */
  private staleFolioRanges(map: number, off: number, len: number): [number, number][] {
    const vma = this.k.mm.vma(map);
    if (!vma) return [];
    const mapping = vma.file.inode.mapping;
    const out: [number, number][] = [];
    for (let p = off; p < off + len;) {
      const folio = filemapLookup(mapping, Math.floor(p / PAGE_SIZE));
      const next = folio ? folio.pos + folio.size : (Math.floor(p / PAGE_SIZE) + 1) * PAGE_SIZE;
      const end = Math.min(off + len, next);
      if (folio && !folioTestUptodate(folio)) out.push([p, end]);
      p = end;
    }
    return out;
  }

  private forgetStoredIntoStale(stale: readonly [number, number][], off: number, stored: number, shadow: ShadowFile): void {
    for (const [a, b] of stale) {
      const e = Math.min(b, off + stored);
      if (e > a) shadow.forget(a, e - a);
    }
  }

  /**
   * fuse_file_fallocate writes the range back, sends FALLOCATE, then zeroes
   * the cache (truncate_pagecache_range); a page fault takes no lock it holds
   * (filemap_invalidate_lock is only for DAX). A store through a mapping
   * meanwhile dirties a folio the server then gets by writeback (a direct
   * read's flush, say) before the cache is zeroed: cache and server disagree
   * over the range from then on, which Linux allows for a store racing with
   * the fallocate.
   */
  private fuseFallocateRacedStores(inode: Inode, mode: FallocMode, off: number, len: number, start: number): void {
    if (mode !== 'punch' && mode !== 'zero' && mode !== 'zero_keep') return;
    const fs = this.program.config.folioMax;
    const lo = Math.floor(off / fs) * fs;
    const hi = Math.ceil((off + len) / fs) * fs;
    if (this.cacheWrites.some((w) => w.mapped && w.inode === inode && w.end >= start && w.a < hi && w.b > lo)) {
      this.noteCacheDiskSplit(inode, off, len);
    }
  }

  /** io_submit of one direct I/O; the iocb completes now (synchronous path) or later. */
  private *aioSubmit(op: Extract<Op, { op: 'aio_write' | 'aio_read' }>): Co<number> {
    const k = this.k;
    const file = this.fds[op.fd]!;
    const iocb = newKiocb();
    const write = op.op === 'aio_write';
    // The user buffer belongs to the I/O until it completes: not a scratch buffer.
    const buf = new Uint8Array(op.len);
    if (write) buf.fill(op.fill);
    const shadow = this.shadowOfFd(op.fd);
    const a: InflightAio = {
      iocb, write, off: op.off, len: op.len, fill: write ? op.fill : 0, buf, done: false, shadow,
      submitVersion: shadow.version, conflicted: false, completedInOp: -1,
      inode: file.inode, directStart: write && file.direct ? this.directStart(file.inode) : -1,
    };
    this.aio.set(op.iocb, a);
    // The I/O takes effect when it completes: that is where the shadow learns of it.
    iocb.onComplete = () => this.aioComplete(a);
    const ret = write ? yield* k.fs.writeIter(file, op.off, buf, iocb) : yield* k.fs.readIter(file, op.off, buf, iocb);
    if (ret !== -EIOCBQUEUED) {
      iocb.result = ret;
      iocb.done = true;
      this.aioComplete(a);
      // Another thread may already sleep in io_getevents for it.
      this.s.wakeAll(iocb.wq);
    }
    return ret === -EIOCBQUEUED ? 0 : ret;
  }

  private aioComplete(a: InflightAio): void {
    if (a.done) return;
    a.done = true;
    if (a.directStart >= 0) this.directEnd(a.inode, a.directStart);
    a.completedInOp = this.opCount;
    const ret = a.iocb.result;
    if (a.write) {
      if (((ret > 0 && ret < a.len) || ret === -EIO) && a.directStart < 0 && this.program.config.fs === 'fuse') {
        this.fuseWriteNotTaken(a.shadow, a.off, a.len, Math.max(0, ret));
      }
      if (ret > 0) {
        a.shadow.fill(a.off, ret, a.fill);
        if (a.conflicted) a.shadow.forget(a.off, ret);
        this.noteChange(a.shadow, a);
        // The op under way may change the same bytes again before it ends.
        if (this.checkReads) this.durable?.[this.shadows.indexOf(a.shadow)]?.note(a.shadow);
      } else if (ret === -EIO) {
        // Some of its bios may have landed, racing with other AIOs in flight;
        // no invalidation follows a failed write (iomap_dio_complete).
        a.shadow.forget(a.off, a.len);
        this.noteChange(a.shadow, a);
        if (a.directStart >= 0) this.noteCacheDiskSplit(a.inode, a.off, a.len);
        // What landed may reach the disk whatever the op under way does next (a truncate forgets it).
        if (this.checkReads) this.durable?.[this.shadows.indexOf(a.shadow)]?.note(a.shadow);
      }
    } else if (a.shadow.version === a.submitVersion && !this.opInProgressWrites) {
      // Nothing changed the file while the read was in flight: it must see the shadow.
      this.checkRead('aio_read', 'iomap_dio_complete', a.shadow, a.off, a.len, a.buf, ret);
    }
  }

  /**
   * power_cut: cut, recover, judge what recovery left against what the
   * program made durable (sequential programs: the shadow follows their
   * effects), then go on from what the files now hold, through descriptions
   * opened anew (the old ones died with the machine).
   */
  private *powerCut(seed: number): Co<number> {
    const k = this.k;
    // Both edges count: an fsync that overlaps the cut in any way sees a change or `cutting`.
    this.powerCuts++;
    this.cutting++;
    const ret = yield* sysPowerCut(k, seed);
    this.cutting--;
    this.powerCuts++;
    if (ret < 0) return ret;
    for (let i = 0; i < k.inodes.length; i++) {
      const inode = k.inodes[i]!;
      const got = k.fs.readDisk(inode);
      const d = this.durable?.[i];
      if (d && this.checkReads) {
        // AIO drained before the cut completed during this op: note its effect first.
        d.note(this.shadows[i]!);
        const v = d.judge(got);
        if (v) violation(this.s, 'DATA', `power-cut:${v.what}`, RECOVERY_FN[this.program.config.fs], `${inode.name} after the power cut: ${v.detail}`);
      }
      this.shadows[i]!.reset(got);
      d?.reset(got);
      this.failedWrites.delete(inode);
      const e = this.errEvents.get(inode)!;
      e.count = 0;
      e.latestSeen = true;
    }
    // The counts above start over, so must every cursor into them: not only
    // the descriptions reopened below, but one a mapping still holds (an mmap
    // that ran while the cut quiesced, after its hasMappings check). Its
    // f_wb_err is from the old mount's errseq; against the new one
    // (wb_err 0, sysPowerCut) errseq_check_and_advance reports exactly the
    // errors recorded since the cut, as for a description opened at the cut.
    this.errCursor.clear();
    for (let f = 0; f < this.fds.length; f++) {
      const file = this.k.openFile(this.fds[f]!.inode, this.fds[f]!.direct);
      this.fds[f] = file;
      this.errCursor.set(file, 0);
    }
    return 0;
  }

  /** Before an op of a sequential program with power cuts: an fsync makes durable what the file holds now. */
  private captureBeforeSync(op: Op): StableCapture | null {
    if (!this.durable || !this.checkReads || (op.op !== 'fsync' && op.op !== 'fdatasync')) return null;
    return DurableFile.capture(this.shadows[this.program.fds[op.fd]!.file]!);
  }

  /** After an op of a sequential program with power cuts: what the files held, and what became durable. */
  private noteDurability(op: Op, ret: number, before: StableCapture | null): void {
    const d = this.durable;
    if (!d || !this.checkReads) return;
    // fsync/fdatasync: the whole file as it was when the call began, data and the metadata to reach it.
    const synced = before && ret === 0 && (op.op === 'fsync' || op.op === 'fdatasync') ? this.program.fds[op.fd]!.file : -1;
    for (let i = 0; i < d.length; i++) {
      if (i === synced) d[i]!.makeStable(before!, this.shadows[i]!);
      else d[i]!.note(this.shadows[i]!);
    }
    if (op.op === 'fallocate' && (op.mode === 'collapse' || op.mode === 'insert') && (ret === 0 || ret === -EIO)) {
      d[this.program.fds[op.fd]!.file]!.noteShift(op.off);
    }
    // A clean unmount: every file (direct I/O was drained before it).
    if (op.op === 'remount' && ret === 0) {
      for (let i = 0; i < d.length; i++) d[i]!.makeStable(DurableFile.capture(this.shadows[i]!), this.shadows[i]!);
    }
  }

  /** io_getevents for one iocb: sleep until it completed; its result. */
  private *aioWait(id: number): Co<number> {
    const a = this.aio.get(id);
    if (!a) return -22;
    yield* this.s.waitUntil(a.iocb.wq, () => a.iocb.done);
    this.aio.delete(id);
    return a.iocb.result;
  }

  private fill(bufs: UserBuffers, len: number, byte: number): Uint8Array {
    const b = bufs.w.get(len);
    b.fill(byte);
    return b;
  }

  /** Run one op; returns the syscall's return value. */
  *execOp(op: Op, bufs: UserBuffers): Co<number> {
    const k = this.k;
    switch (op.op) {
      case 'pwrite': {
        const file = this.fds[op.fd]!;
        const bsize = op.bsize && op.bsize > 0 ? op.bsize : op.len;
        let done = 0;
        let ret = 0;
        while (done < op.len) {
          const n = Math.min(bsize, op.len - done);
          ret = yield* sysPwrite(k, file, op.off + done, this.fill(bufs, n, op.fill));
          if (ret > 0) {
            this.shadowOfFd(op.fd).fill(op.off + done, ret, op.fill);
            this.noteChange(this.shadowOfFd(op.fd));
          }
          if (((ret > 0 && ret < n) || ret === -EIO) && !file.direct && this.program.config.fs === 'fuse') {
            this.fuseWriteNotTaken(this.shadowOfFd(op.fd), op.off + done, n, Math.max(0, ret));
          }
          if (ret === -EIO && file.direct) {
            // Some of a failed direct write's bios may have landed, in any
            // order with the bios of direct writes still in flight.
            this.shadowOfFd(op.fd).forget(op.off + done, n);
            this.noteChange(this.shadowOfFd(op.fd));
            // iomap_dio_complete invalidates the cache after a write only if
            // it succeeded (kiocb_invalidate_post_direct_write): a buffered
            // read meanwhile may keep older bytes than the bios that landed.
            this.noteCacheDiskSplit(file.inode, op.off + done, n);
          }
          if (ret <= 0) break;
          done += ret;
          if (ret < n) break;
        }
        return done > 0 ? done : ret;
      }
      case 'pread': {
        const file = this.fds[op.fd]!;
        const bsize = op.bsize && op.bsize > 0 ? op.bsize : op.len;
        let done = 0;
        let ret = 0;
        while (done < op.len) {
          const n = Math.min(bsize, op.len - done);
          const dst = bufs.r.get(n);
          ret = yield* sysPread(k, file, op.off + done, dst);
          this.checkRead('pread', 'ksys_pread64', this.shadowOfFd(op.fd), op.off + done, n, dst, ret);
          if (ret > 0) this.checkOwn('pread', 'ksys_pread64', this.program.fds[op.fd]!.file, op.off + done, dst.subarray(0, ret));
          if (ret <= 0) break;
          done += ret;
          if (ret < n) break;
        }
        return done > 0 ? done : ret;
      }
      case 'truncate': {
        const ret = yield* sysFtruncate(k, this.fds[op.fd]!, op.size);
        const shadow = this.shadowOfFd(op.fd);
        if (ret === 0) {
          shadow.truncate(op.size);
          this.noteChange(shadow);
        } else if (ret === -EIO && op.size < shadow.size) {
          // The partial block past the new size was zeroed before the
          // writeback that failed (iomap_truncate_page comes first).
          const bs = this.program.config.blockSize;
          shadow.forget(op.size, Math.ceil(op.size / bs) * bs - op.size);
          this.noteCacheDiskSplit(this.fds[op.fd]!.inode, op.size, Math.ceil(op.size / bs) * bs - op.size);
        }
        return ret;
      }
      case 'fallocate': {
        const start = this.clock;
        const ret = yield* sysFallocate(k, this.fds[op.fd]!, op.mode, op.off, op.len);
        const shadow = this.shadowOfFd(op.fd);
        if (this.program.config.fs === 'fuse') this.fuseFallocateRacedStores(this.fds[op.fd]!.inode, op.mode, op.off, op.len, start);
        if (ret === 0) {
          shadow.fallocate(op.mode, op.off, op.len);
          this.noteChange(shadow);
        } else if (ret === -EIO) {
          // ext4 grows i_size as it allocates (ext4_alloc_file_blocks with
          // new_size), before ext4_zero_partial_blocks reads an edge block
          // and fails: a failed extending fallocate may leave the file at
          // any size up to off + len, the new part zeroes (unwritten or
          // zeroed blocks past the old EOF).
          this.adoptSizeOfFailedExtend(op.fd, op.mode, op.off + op.len);
          // An I/O error part-way (zeroing a partial block, say) comes after
          // whole blocks were already freed or zeroed (xfs_free_file_space):
          // the range may hold the old bytes or zeroes; a shift may have
          // moved everything after it.
          const shifts = op.mode === 'collapse' || op.mode === 'insert';
          const n = shifts ? Math.max(0, shadow.size - op.off) : op.len;
          shadow.forget(op.off, n);
          // truncate_pagecache_range zeroed the cached part of partial blocks
          // before the partial-block zeroing read the block and failed
          // (ext4_zero_partial_blocks): the cache may hold zeroes the disk never got.
          this.noteCacheDiskSplit(this.fds[op.fd]!.inode, op.off, n);
        }
        return ret;
      }
      case 'copy_range': {
        const from = this.shadowOfFd(op.fdIn);
        const src = from.view(op.offIn, op.len).slice();
        const srcUnknown = from.unknownIn(op.offIn, op.len);
        // The copy reads its source while an AIO write in flight over it may
        // land before or after (or between folios): the copied bytes are undecided.
        const racing = this.aioWriteInFlight(from, op.offIn, op.len);
        const countBefore = Math.min(op.len, Math.max(0, from.size - op.offIn));
        const failedBefore = this.failedInOp.length;
        const ret = yield* sysCopyFileRange(k, this.fds[op.fdIn]!, op.offIn, this.fds[op.fdOut]!, op.offOut, op.len);
        const to = this.shadowOfFd(op.fdOut);
        if (ret > 0) {
          to.write(op.offOut, src.subarray(0, ret), srcUnknown?.subarray(0, ret) ?? null);
          if (racing || this.aioWriteInFlight(from, op.offIn, op.len)) to.forget(op.offOut, ret);
          // A writeback of the source that failed while the copy ran left its
          // folio clean, and reclaim may drop it: the copy may have read what
          // the disk holds there instead.
          for (let f = failedBefore; f < this.failedInOp.length; f++) {
            const e = this.failedInOp[f]!;
            const lo = Math.max(e.pos, op.offIn);
            const hi = Math.min(e.pos + e.len, op.offIn + ret);
            if (e.shadow === from && hi > lo) to.forget(op.offOut + (lo - op.offIn), hi - lo);
          }
          this.noteChange(to);
        }
        if (this.program.config.fs === 'fuse') {
          // The sim's daemon has no FUSE_COPY_FILE_RANGE: fuse_copy_file_range
          // gets -EOPNOTSUPP from __fuse_copy_file_range (fc->no_copy_file_range,
          // set by the first ENOSYS, skips its fuse_writeback_range of the
          // ranges) and falls back to splice_copy_file_range, whose write half
          // is fuse_perform_write. A WRITE the server refused or took short
          // leaves the destination folios as a failed pwrite does
          // (fuse_send_write_pages clears their uptodate): the rest of them,
          // a store through a mapping not written back included, may be
          // re-read from the server. Short against the source as it was both
          // before and after, so a racing truncate of the source is not taken
          // for a refused WRITE.
          const countAfter = Math.min(op.len, Math.max(0, from.size - op.offIn));
          const want = Math.min(countBefore, countAfter);
          if ((ret > 0 && ret < want) || ret === -EIO) {
            this.fuseWriteNotTaken(to, op.offOut, want, Math.max(0, ret));
            this.noteChange(to);
          }
        }
        return ret;
      }
      case 'fsync':
        return yield* this.syncChecked(this.fds[op.fd]!, sysFsync(k, this.fds[op.fd]!, false), 'vfs_fsync_range');
      case 'fdatasync':
        return yield* this.syncChecked(this.fds[op.fd]!, sysFsync(k, this.fds[op.fd]!, true), 'vfs_fsync_range');
      case 'fail_bio':
        k.dev.faults.arm(op.write, op.skip, op.short === true);
        return 0;
      case 'sync_file_range':
        return yield* sysSyncFileRange(k, this.fds[op.fd]!, op.off, op.len, op.flags);
      case 'fadvise_dontneed':
        return yield* sysFadviseDontneed(k, this.fds[op.fd]!, op.off, op.len);
      case 'drop_caches':
        return yield* sysDropCaches(k);
      case 'evict': {
        const ret = yield* sysEvict(k, op.file);
        this.adoptSizesAfterLostWrites();
        return ret;
      }
      case 'remount': {
        const ret = yield* sysRemount(k);
        this.adoptSizesAfterLostWrites();
        return ret;
      }
      case 'power_cut':
        return yield* this.powerCut(op.seed);
      case 'close_open': {
        this.fds[op.fd] = this.openFd(this.fds[op.fd]!);
        return 0;
      }
      case 'mmap': {
        const file = this.fds[op.fd]!;
        return k.mm.mmap(op.map, file, op.off, op.len, op.prot !== 'r');
      }
      case 'mread': {
        const dst = bufs.r.get(op.len);
        const ret = yield* k.mm.load(op.map, op.off, dst);
        const vma = k.mm.vma(op.map);
        if (vma && ret > 0) this.checkOwn('mread', 'filemap_fault', k.inodes.indexOf(vma.file.inode), op.off, dst.subarray(0, ret));
        const shadow = this.shadowOfMap(op.map);
        if (shadow && ret > 0) {
          // Bytes past EOF in the last page are not file data: check only inside i_size.
          const inFile = Math.max(0, Math.min(op.len, shadow.size - op.off));
          this.checkRead('mread', 'filemap_fault', shadow, op.off, inFile, dst, inFile);
        }
        return ret;
      }
      case 'mwrite': {
        const fuse = this.program.config.fs === 'fuse';
        const staleBefore = fuse ? this.staleFolioRanges(op.map, op.off, op.len) : [];
        const ret = yield* k.mm.store(op.map, op.off, this.fill(bufs, op.len, op.fill));
        const shadow = this.shadowOfMap(op.map);
        const stored = k.mm.lastStored;
        if (shadow && stored > 0) {
          shadow.storeMapped(op.off, stored, op.fill);
          if (fuse) {
            this.forgetStoredIntoStale(staleBefore, op.off, stored, shadow);
            this.forgetStoredIntoStale(this.staleFolioRanges(op.map, op.off, stored), op.off, stored, shadow);
          }
          this.noteChange(shadow);
        }
        return ret;
      }
      case 'msync': {
        const vma = k.mm.vma(op.map);
        if (!vma) return -22;
        if (!op.sync) return 0;
        return yield* this.syncChecked(vma.file, sysMsyncRange(k, vma.file, op.off, op.off + op.len - 1), 'vfs_fsync_range');
      }
      case 'munmap':
        return k.mm.munmap(op.map);
      case 'aio_write':
      case 'aio_read':
        return yield* this.aioSubmit(op);
      case 'aio_wait':
        return yield* this.aioWait(op.iocb);
      case 'writeback_kick':
        k.flusher.kick();
        return 0;
      case 'reclaim':
        k.kswapd.kick();
        return 0;
    }
  }

  *thread(index: number): Co<void> {
    const ops = this.program.threads[index]!.ops;
    const trace = this.opts.trace;
    if (this.s.current) this.threadIndex.set(this.s.current, index);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      this.s.beginOp(i);
      this.opts.onOpStart?.(index, i);
      this.opCount++;
      this.clock++;
      const writes = this.openCacheWrites(op);
      if (this.s.current) this.opState.set(this.s.current, { start: this.clock, writes });
      const direct = this.directWriteOf(op);
      const dstart = direct ? this.directStart(direct) : -1;
      // A completion during an op that writes is racing with it: the op's
      // effect reaches the shadow only when the op ends.
      this.opInProgressWrites = !READ_ONLY_OPS.has(op.op);
      const failedBefore = this.failedInOp.length;
      const syncFrom = this.captureBeforeSync(op);
      const ret = yield* this.execOp(op, this.buffers[index]!);
      this.own?.opDone(index, op, ret, 'fd' in op && this.fds[op.fd]!.direct);
      for (let f = failedBefore; f < this.failedInOp.length; f++) {
        const { shadow, pos, len } = this.failedInOp[f]!;
        shadow.forget(pos, len);
      }
      // Drop this op's entries (another thread's op may already have dropped them).
      if (this.failedInOp.length > failedBefore) this.failedInOp.length = failedBefore;
      this.noteDurability(op, ret, syncFrom);
      this.clock++;
      for (const w of writes) w.end = this.clock;
      if (direct) this.directEnd(direct, dstart);
      this.results.push({ thread: index, index: i, ret });
      if (trace) trace(`t${index} #${i} ${describeOp(op)} = ${errname(ret)}`);
    }
    // Past its last op: a choice taken as the thread exits is anchored there.
    this.s.beginOp(ops.length);
  }

  /** After the program: every file read through the page cache must equal the shadow. */
  *finalCheck(out: { name: string; data: Uint8Array }[]): Co<void> {
    const k = this.k;
    // A fault the program armed and never met is not one the harness's read-back may meet.
    k.dev.faults.disarm();
    // Per file, the cached bytes a store through a mapping made past EOF that an
    // extension exposed unzeroed: the cache may show them, the disk zeroes.
    const postEof: [number, number][][] = [];
    for (let i = 0; i < k.inodes.length; i++) {
      const inode = k.inodes[i]!;
      const data = new Uint8Array(inode.iSize);
      const n = yield* filemapRead(inode.mapping, 0, data.length, data);
      if (n < 0) violation(this.s, 'DATA', 'final:read-error', 'filemap_read', `reading ${inode.name} back failed: ${errname(n)}`);
      out.push({ name: inode.name, data: data.subarray(0, Math.max(0, n)) });
      postEof.push(postEofStoresIn(inode.mapping, 0, data.length));
      if (this.checkReads) this.compareWithShadow(i, data.subarray(0, Math.max(0, n)), 'final', 'filemap_read');
    }
    // Process exit unmaps everything; a clean unmount writes everything back.
    k.mm.unmapAll();
    yield* sysRemount(k);
    for (let i = 0; i < k.inodes.length; i++) {
      const inode = k.inodes[i]!;
      // Only compared, never returned: recycled memory will do.
      const data = takeBytes(inode.iSize);
      const n = yield* filemapRead(inode.mapping, 0, data.length, data);
      const got = data.subarray(0, Math.max(0, n));
      if (this.checkReads) {
        if (!this.shadows[i]!.lostWrites) this.compareWithShadow(i, got, 'remount', 'sync_filesystem');
      }
      // Order-independent, so it holds for any schedule: what the page cache showed is what reached the
      // disk, except where a write failed (the cache may keep what the disk never got).
      else this.compareCachedWithDisk(out[i]!.data, got, inode.name, this.failedWrites.get(inode), postEof[i]!);
    }
  }

  private compareCachedWithDisk(
    cached: Uint8Array,
    disk: Uint8Array,
    name: string,
    failed: [number, number][] | undefined,
    postEof: [number, number][],
  ): void {
    // After a failed write the on-disk size may lag the cached one: only the common part is judged.
    if (!failed && cached.length !== disk.length) {
      violation(this.s, 'DATA', 'remount:size', 'sync_filesystem', `${name} was ${cached.length} bytes in the page cache, ${disk.length} after remount`);
    }
    const n = Math.min(cached.length, disk.length);
    // The common case is equal contents: let the native compare say so before the byte walk.
    if (bytesEqual(cached, disk, n)) return;
    for (let d = 0; d < n; d++) {
      if (cached[d] !== disk[d] && !failed?.some(([a, b]) => d >= a && d < b) && !postEof.some(([a, b]) => d >= a && d < b)) {
        violation(this.s, 'DATA', 'remount:mismatch', 'sync_filesystem',
          `${name} byte ${d} was 0x${cached[d]!.toString(16)} in the page cache, 0x${(disk[d] ?? 0).toString(16)} after remount`);
      }
    }
  }

  private compareWithShadow(i: number, got: Uint8Array, what: string, fn: string): void {
    const shadow = this.shadows[i]!;
    const want = shadow.view(0, shadow.size);
    const name = this.k.inodes[i]!.name;
    if (got.length !== want.length) {
      violation(this.s, 'DATA', `${what}:size`, fn, `${name} is ${got.length} bytes, expected ${want.length}`);
    }
    const d = shadow.firstDifferenceAt(0, got);
    if (d >= 0) {
      violation(this.s, 'DATA', `${what}:mismatch`, fn,
        `${name} byte ${d} is 0x${(got[d] ?? 0).toString(16)}, expected 0x${(want[d] ?? 0).toString(16)}`);
    }
  }
}

/** Where each filesystem rebuilds its files after a power cut: the site of power-cut findings. */
const RECOVERY_FN: Record<Program['config']['fs'], string> = {
  xfs: 'xlog_recover',
  ext4: 'jbd2_journal_recover',
  fuse: 'fuse_fill_super',
};

/** Whether the first n bytes of a and b are equal (a native compare over views, no copy). */
function bytesEqual(a: Uint8Array, b: Uint8Array, n: number): boolean {
  return Buffer.from(a.buffer, a.byteOffset, n).equals(Buffer.from(b.buffer, b.byteOffset, n));
}

/** Ops that never change what a file holds. */
const READ_ONLY_OPS: ReadonlySet<Op['op']> = new Set(['pread', 'mread', 'aio_read', 'aio_wait', 'fsync', 'fdatasync']);

export function describeOp(op: Op): string {
  const { op: name, ...args } = op;
  return `${name} ${Object.entries(args).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`;
}

const TRACE_TAIL = 16;

/** The last ops the program completed, as trace lines. */
function traceTail(program: Program, results: OpResult[]): string[] {
  return results.slice(-TRACE_TAIL).map((r) => `t${r.thread} #${r.index} ${describeOp(program.threads[r.thread]!.ops[r.index]!)} = ${errname(r.ret)}`);
}

function toRunViolation(v: Violation, program: Program, results: OpResult[], step: number): RunViolation {
  return {
    signature: v.signature, invariant: v.invariant, kind: v.kind, message: v.message, stacks: v.stacks,
    traceTail: traceTail(program, results), step,
  };
}

/** Run a program to completion. Deterministic: same program, same result. */
export function runProgram(program: Program, opts: RunOptions = {}): RunResult {
  // The machine's memory is recycled from earlier runs (zeroed like new): see byte-pool.ts.
  return withByteScope(() => runOnFreshMachine(program, opts));
}

function runOnFreshMachine(program: Program, opts: RunOptions): RunResult {
  const ex = new Execution(program, opts);
  const files: { name: string; data: Uint8Array }[] = [];
  const result: RunResult = { violation: null, harnessError: null, files, results: ex.results, steps: 0 };
  try {
    if (opts.overtime) ex.k.sched.overtime = opts.overtime;
    for (let i = 0; i < program.threads.length; i++) ex.k.sched.spawn(`t${i}`, ex.thread(i));
    let outcome = ex.k.sched.run();
    if (outcome.kind === 'done') {
      ex.k.sched.spawn('final', ex.finalCheck(files));
      outcome = ex.k.sched.run();
    }
    if (outcome.kind === 'timeout') {
      result.timedOut = true;
    } else if (outcome.kind === 'deadlock') {
      const names = outcome.blocked.map((t) => `${t.name} on ${t.blockedOn?.name ?? '?'}`).join(', ');
      // The signature names what the threads wait on around the wait-for cycle (rotated to start at
      // the smallest name, so it does not depend on which thread is first), else every wait.
      const cyc = waitForCycle(outcome.blocked);
      const waits = cyc ? cyc.map(([, q]) => q.name) : outcome.blocked.map((t) => t.blockedOn?.name ?? '?');
      const described = cyc ? cyc.map(([t, q]) => `${t.name} waits for ${q.name}`).join(', held by the next; ') : names;
      result.violation = {
        signature: deadlockSignature(waits, cyc !== null),
        invariant: 'deadlock',
        kind: 'DEADLOCK',
        message: cyc ? `wait-for cycle: ${described}, held by the first` : `every thread is blocked: ${names}`,
        stacks: ex.k.sched.threads.map((t) => ({ thread: t.name, frames: [...t.frames] })),
        traceTail: traceTail(program, ex.results),
        step: ex.k.sched.steps,
      };
    } else if (outcome.kind === 'budget') {
      result.violation = {
        signature: LIVELOCK_SIGNATURE,
        invariant: 'step-budget',
        kind: 'LIVELOCK',
        message: `no progress within ${outcome.steps} scheduler steps`,
        stacks: ex.k.sched.threads.map((t) => ({ thread: t.name, frames: [...t.frames] })),
        traceTail: traceTail(program, ex.results),
        step: ex.k.sched.steps,
      };
    }
  } catch (e) {
    if (e instanceof Violation) result.violation = toRunViolation(e, program, ex.results, ex.k.sched.steps);
    else result.harnessError = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  }
  result.steps = ex.k.sched.steps;
  const sch = program.schedule;
  if (ex.recorder && sch) result.schedule = { strategy: 'replay', seed: sch.seed, depth: sch.depth, decisions: ex.recorder.decisions };
  return result;
}
