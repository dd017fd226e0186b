// Each op of the program language as system calls on the simulated kernel:
// the driver's half of an op. It runs the calls, reports each chunk of a
// chunked pwrite/pread and each AIO completion as trace events, and returns
// what the op's `ret` event carries. It judges nothing (worker/oracle/ does).

import type { Op, Program } from '../prog/types.js';
import { takeBytes, takeBytesToOverwrite } from '../sim/byte-pool.js';
import { EIOCBQUEUED } from '../sim/errno.js';
import { type Kiocb, type OpenFile, newKiocb } from '../sim/include/fs.js';
import type { Kernel } from '../sim/kernel.js';
import { filemapLookup } from '../sim/mm/filemap.js';
import { PAGE_SIZE } from '../sim/include/pagemap.js';
import { folioTestUptodate } from '../sim/mm/folio.js';
import type { Co } from '../sim/sched.js';
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
import type { ByteRanges, TraceEvent } from '../trace/types.js';
import type { PostEofHints } from './post-eof-hints.js';

type OpOf<K extends Op['op']> = Extract<Op, { op: K }>;

/** What an op's `ret` event carries besides the op. */
export interface OpOutput {
  ret: number;
  data?: Uint8Array;
  stored?: number;
  sizes?: number[];
  unsettled?: ByteRanges;
}

/** An AIO the program submitted: its iocb, until aio_wait collects it. */
interface Submitted {
  iocb: Kiocb;
  t: number;
  i: number;
  write: boolean;
  /** The user buffer belongs to the I/O until it completes: not a scratch buffer. */
  buf: Uint8Array;
  reported: boolean;
}

/** Scratch buffers reused across ops: the hot path allocates nothing per op. */
class Scratch {
  private buf: Uint8Array | null = null;
  /** @param take how a larger buffer is taken: zeroed as user memory, or for a taker that fills it first */
  constructor(private readonly take: (size: number) => Uint8Array) {}

  get(n: number): Uint8Array {
    if (this.buf === null || n > this.buf.length) {
      let cap = this.buf?.length ?? PAGE_SIZE;
      while (cap < n) cap *= 2;
      this.buf = this.take(cap);
    }
    return this.buf.subarray(0, n);
  }
}

/** One thread's user memory for syscall buffers: a buffer may be in use by a syscall that sleeps. */
interface UserBuffers {
  /** What a write sends: filled with the op's byte before every use. */
  w: Scratch;
  /** What a read fills: the sim's copies decide what it holds. */
  r: Scratch;
}

export class SimOps {
  /** The open file each fd slot holds now. */
  private readonly fds: OpenFile[];
  private readonly buffers: UserBuffers[];
  /** Submitted AIO by iocb id, until aio_wait collects it (a reused id replaces the entry). */
  private readonly aio = new Map<number, Submitted>();

  constructor(
    private readonly k: Kernel,
    private readonly program: Program,
    readonly emit: (ev: TraceEvent) => void,
    private readonly postEof: PostEofHints,
  ) {
    this.fds = program.fds.map((d) => k.openFile(k.inodes[d.file]!, d.direct));
    this.buffers = program.threads.map(() => ({ w: new Scratch(takeBytesToOverwrite), r: new Scratch(takeBytes) }));
  }

  private fill(bufs: UserBuffers, len: number, byte: number): Uint8Array {
    const b = bufs.w.get(len);
    b.fill(byte);
    return b;
  }

  /**
   * Op i of thread t: its system calls; what its `ret` event carries.
   * pwrite and pread, most of every program, are returned as they are and
   * not delegated to: every scheduler step resumes each generator of the
   * chain it sleeps in, so a level less is a cost less on every step.
   */
  run(op: Op, t: number, i: number): Co<OpOutput> {
    const bufs = this.buffers[t]!;
    if (op.op === 'pwrite') return this.pwrite(op, t, i, bufs);
    if (op.op === 'pread') return this.pread(op, t, i, bufs);
    return this.runOther(op, t, i, bufs);
  }

  private *runOther(op: Exclude<Op, OpOf<'pwrite' | 'pread'>>, t: number, i: number, bufs: UserBuffers): Co<OpOutput> {
    const k = this.k;
    switch (op.op) {
      case 'truncate':
        return { ret: yield* sysFtruncate(k, this.fds[op.fd]!, op.size) };
      case 'fallocate': {
        const ret = yield* sysFallocate(k, this.fds[op.fd]!, op.mode, op.off, op.len);
        return { ret, sizes: this.sizes() };
      }
      case 'copy_range':
        return { ret: yield* sysCopyFileRange(k, this.fds[op.fdIn]!, op.offIn, this.fds[op.fdOut]!, op.offOut, op.len) };
      case 'fsync':
      case 'fdatasync':
        return { ret: yield* sysFsync(k, this.fds[op.fd]!, op.op === 'fdatasync') };
      case 'fail_bio':
        k.dev.faults.arm(op.write, op.skip, op.short === true);
        return { ret: 0 };
      case 'sync_file_range':
        return { ret: yield* sysSyncFileRange(k, this.fds[op.fd]!, op.off, op.len, op.flags) };
      case 'fadvise_dontneed':
        return { ret: yield* sysFadviseDontneed(k, this.fds[op.fd]!, op.off, op.len) };
      case 'drop_caches':
        return { ret: yield* sysDropCaches(k) };
      case 'evict': {
        const ret = yield* sysEvict(k, op.file);
        return { ret, sizes: this.sizes() };
      }
      case 'remount': {
        const ret = yield* sysRemount(k);
        return { ret, sizes: this.sizes() };
      }
      case 'power_cut':
        return { ret: yield* this.powerCut(op.seed) };
      case 'close_open': {
        const old = this.fds[op.fd]!;
        this.fds[op.fd] = k.openFile(old.inode, old.direct);
        return { ret: 0 };
      }
      case 'mmap':
        return { ret: k.mm.mmap(op.map, this.fds[op.fd]!, op.off, op.len, op.prot !== 'r') };
      case 'mread': {
        const dst = bufs.r.get(op.len);
        const ret = yield* k.mm.load(op.map, op.off, dst);
        return { ret, data: dst.subarray(0, Math.max(0, ret)) };
      }
      case 'mwrite':
        return yield* this.mwrite(op, bufs);
      case 'msync': {
        const vma = k.mm.vma(op.map);
        if (!vma) return { ret: -22 };
        if (!op.sync) return { ret: 0 };
        return { ret: yield* sysMsyncRange(k, vma.file, op.off, op.off + op.len - 1) };
      }
      case 'munmap':
        return { ret: k.mm.munmap(op.map) };
      case 'aio_write':
      case 'aio_read':
        return { ret: yield* this.aioSubmit(op, t, i) };
      case 'aio_wait':
        return { ret: yield* this.aioWait(op.iocb) };
      case 'writeback_kick':
        k.flusher.kick();
        return { ret: 0 };
      case 'reclaim':
        k.kswapd.kick();
        return { ret: 0 };
    }
  }

  /** Every file's i_size now. */
  private sizes(): number[] {
    return this.k.inodes.map((inode) => inode.observedSize);
  }

  /** pwrite(2) calls of at most bsize bytes, each reported; the op's result. */
  private *pwrite(op: OpOf<'pwrite'>, t: number, i: number, bufs: UserBuffers): Co<OpOutput> {
    const file = this.fds[op.fd]!;
    const bsize = op.bsize && op.bsize > 0 ? op.bsize : op.len;
    let done = 0;
    let ret = 0;
    while (done < op.len) {
      const n = Math.min(bsize, op.len - done);
      const off = op.off + done;
      ret = yield* sysPwrite(this.k, file, off, this.fill(bufs, n, op.fill));
      this.postEof.note();
      this.emit({ e: 'call', t, i, off, len: n, ret });
      if (ret <= 0) break;
      done += ret;
      if (ret < n) break;
    }
    return { ret: done > 0 ? done : ret };
  }

  /** pread(2) calls of at most bsize bytes, each reported with what it read. */
  private *pread(op: OpOf<'pread'>, t: number, i: number, bufs: UserBuffers): Co<OpOutput> {
    const file = this.fds[op.fd]!;
    const bsize = op.bsize && op.bsize > 0 ? op.bsize : op.len;
    let done = 0;
    let ret = 0;
    while (done < op.len) {
      const n = Math.min(bsize, op.len - done);
      const dst = bufs.r.get(n);
      const off = op.off + done;
      ret = yield* sysPread(this.k, file, off, dst);
      this.emit({ e: 'call', t, i, off, len: n, ret, data: dst.subarray(0, Math.max(0, ret)) });
      if (ret <= 0) break;
      done += ret;
      if (ret < n) break;
    }
    return { ret: done > 0 ? done : ret };
  }

  /**
   * A store through a mapping: how much it stored before it faulted, and
   * (SIM ONLY, where a refused FUSE WRITE can leave folios not uptodate) the
   * stored bytes that landed in a folio that was not uptodate, before or
   * after the store: the next read may re-read them from the server. The
   * re-read may be the store's own next page fault (a large folio whose next
   * page was not mapped yet), hence both looks.
   */
  private *mwrite(op: OpOf<'mwrite'>, bufs: UserBuffers): Co<OpOutput> {
    const k = this.k;
    const fuse = this.program.config.fs === 'fuse';
    const staleBefore = fuse ? this.notUptodateIn(op.map, op.off, op.len) : [];
    const ret = yield* k.mm.store(op.map, op.off, this.fill(bufs, op.len, op.fill));
    const stored = k.mm.lastStored;
    if (!fuse || stored <= 0) return { ret, stored };
    const unsettled: ByteRanges = [];
    for (const [a, b] of [...staleBefore, ...this.notUptodateIn(op.map, op.off, stored)]) {
      const e = Math.min(b, op.off + stored);
      if (e > a) unsettled.push([a, e]);
    }
    return unsettled.length > 0 ? { ret, stored, unsettled } : { ret, stored };
  }

  /** The parts of [off, off+len) of a mapping whose cached folio is not uptodate. */
  private notUptodateIn(map: number, off: number, len: number): ByteRanges {
    const vma = this.k.mm.vma(map);
    if (!vma) return [];
    const mapping = vma.file.inode.mapping;
    const out: ByteRanges = [];
    for (let p = off; p < off + len;) {
      const folio = filemapLookup(mapping, Math.floor(p / PAGE_SIZE));
      const next = folio ? folio.pos + folio.size : (Math.floor(p / PAGE_SIZE) + 1) * PAGE_SIZE;
      const end = Math.min(off + len, next);
      if (folio && !folioTestUptodate(folio)) out.push([p, end]);
      p = end;
    }
    return out;
  }

  /** Power cut, recovery, and what recovery left in every file; the program's files are opened anew. */
  private *powerCut(seed: number): Co<number> {
    const k = this.k;
    const ret = yield* sysPowerCut(k, seed);
    if (ret < 0) return ret;
    k.inodes.forEach((inode, file) => this.emit({ e: 'recovered', file, data: k.fs.readDisk(inode) }));
    for (let f = 0; f < this.fds.length; f++) this.fds[f] = k.openFile(this.fds[f]!.inode, this.fds[f]!.direct);
    return 0;
  }

  /**
   * io_submit of one iocb: it returns 0 once the iocb is taken, whatever
   * becomes of the I/O; its result (bytes, or -errno, even one the kernel
   * knew at once: aio_rw_done completes the iocb with it) comes with its
   * completion, now (the synchronous path) or later.
   */
  private *aioSubmit(op: OpOf<'aio_write' | 'aio_read'>, t: number, i: number): Co<number> {
    const file = this.fds[op.fd]!;
    const write = op.op === 'aio_write';
    const buf = new Uint8Array(op.len);
    if (write) buf.fill(op.fill);
    const a: Submitted = { iocb: newKiocb(), t, i, write, buf, reported: false };
    this.aio.set(op.iocb, a);
    a.iocb.onComplete = () => this.aioCompleted(a);
    const ret = write ? yield* this.k.fs.writeIter(file, op.off, buf, a.iocb) : yield* this.k.fs.readIter(file, op.off, buf, a.iocb);
    if (ret !== -EIOCBQUEUED) {
      a.iocb.result = ret;
      a.iocb.done = true;
      this.aioCompleted(a);
      // Another thread may already sleep in io_getevents for it.
      this.k.sched.wakeAll(a.iocb.wq);
    }
    return 0;
  }

  private aioCompleted(a: Submitted): void {
    if (a.reported) return;
    a.reported = true;
    const ret = a.iocb.result;
    this.postEof.note();
    if (a.write) this.emit({ e: 'aio', t: a.t, i: a.i, ret });
    else this.emit({ e: 'aio', t: a.t, i: a.i, ret, data: a.buf.subarray(0, Math.max(0, ret)) });
  }

  /** io_getevents for one iocb: sleep until it completed; its result. */
  private *aioWait(id: number): Co<number> {
    const a = this.aio.get(id);
    if (!a) return -22;
    yield* this.k.sched.waitUntil(a.iocb.wq, () => a.iocb.done);
    this.aio.delete(id);
    return a.iocb.result;
  }
}
