// Fresh random programs for the fuzz engine: small, concurrent, aimed at a few
// folios of one or two files so that ops collide, with the ingredients the
// storage bugs need (AIO in flight, injected I/O errors, writeback and reclaim
// racing with writes, unwritten extents, holes, mmap stores, truncation).

import { isAioSubmit } from '../prog/ops.js';
import {
  PROGRAM_VERSION,
  type FallocMode,
  type FdDecl,
  type FsKind,
  type InodeKind,
  type MmapProt,
  type Op,
  type OpName,
  type Program,
  type Schedule,
  type SimConfig,
} from '../prog/types.js';
import { estimateSizes, interestingValues } from './interesting.js';
import type { FuzzRng } from './rng.js';

export const SECTOR = 512;
export const PAGE = 4096;

/** Op mix: writes and reads dominate; the race ingredients are frequent enough to meet each other. */
export const GEN_WEIGHTS: readonly (readonly [OpName, number])[] = [
  ['pwrite', 18], ['pread', 12], ['truncate', 5], ['fallocate', 9], ['copy_range', 1],
  ['fsync', 4], ['fdatasync', 1], ['sync_file_range', 1.5], ['fadvise_dontneed', 1.5],
  ['drop_caches', 3], ['evict', 1], ['remount', 0.5], ['close_open', 1],
  ['mmap', 3], ['mread', 2], ['mwrite', 4], ['msync', 1.5], ['munmap', 0.5],
  ['aio_write', 5], ['aio_read', 1.5], ['aio_wait', 0],
  ['writeback_kick', 3], ['reclaim', 3], ['fail_bio', 2.5], ['power_cut', 0.4],
];

/** What happens around a scene: the ops that meet its state. */
const SCENE_WEIGHTS: readonly (readonly [OpName, number])[] = [
  ['pwrite', 10], ['pread', 8], ['truncate', 3], ['fallocate', 4], ['fsync', 2], ['mmap', 1], ['mwrite', 2],
  ['writeback_kick', 1], ['reclaim', 1],
];

/** How often each scene is played: the races that need the most luck with the schedule come most often. */
const SCENES: readonly (readonly ['persist' | 'aio' | 'unwritten' | 'fault' | 'durable' | 'eof', number])[] = [
  ['persist', 1.5], ['aio', 4], ['unwritten', 3], ['fault', 1.5], ['durable', 1], ['eof', 1.5],
];

const FALLOC_WEIGHTS: readonly (readonly [FallocMode, number])[] = [
  ['alloc', 3], ['keep_size', 3], ['punch', 4], ['zero', 3], ['zero_keep', 2],
  ['collapse', 1], ['insert', 1], ['unshare', 0.5],
];

export function randomConfig(rng: FuzzRng): SimConfig {
  const [fs, inode] = rng.pick<readonly [FsKind, InodeKind]>([
    ['xfs', 'extent'], ['ext4', 'extent'], ['ext4', 'indirect'], ['fuse', 'extent'],
  ]);
  const blockSize = rng.pick([1024, 1024, 2048, 4096]);
  const folioMax = rng.pick([4096, 4096, 8192, 16384, 16384, 32768, 65536]);
  return { fs, inode, blockSize, folioMax };
}

export function randomSchedule(rng: FuzzRng, threads: number): Schedule | undefined {
  // One thread still races with bio completions, flusher and kswapd: a drawn schedule explores those too.
  if (threads === 1 && rng.chance(0.2)) return undefined;
  const strategy = rng.chance(0.5) ? 'pct' : 'random';
  return { strategy, seed: rng.int(2 ** 31), depth: rng.range(1, 4), decisions: [] };
}

interface MapState {
  fd: number;
  off: number;
  len: number;
}

/** Tracks what the program so far has set up, so ops can aim at it. */
export class OpGen {
  readonly maps = new Map<number, MapState>();
  /** Submitted AIO per thread, waited for later in the same thread. */
  readonly pending: number[][] = [];
  nextMap = 0;
  nextIocb = 0;
  /** Where the current scene plays: offsets land near it, so its ops meet. -1: nowhere in particular. */
  focus = -1;
  private fillByte = 0;
  private readonly emitted: Op[] = [];

  constructor(
    readonly rng: FuzzRng,
    readonly config: SimConfig,
    readonly fds: readonly FdDecl[],
    readonly nfiles: number,
  ) {}

  /** How far into a file ops go: a few folios. */
  get span(): number {
    return Math.max(4 * this.config.folioMax, 4 * PAGE);
  }

  private nextFill(): number {
    this.fillByte = (this.fillByte % 255) + 1;
    return this.fillByte;
  }

  private sizeOf(fd: number): number {
    const fileOfFd = this.fds.map((d) => d.file);
    return estimateSizes(fileOfFd, this.nfiles, this.emitted)[this.fds[fd]!.file]!;
  }

  /** An offset near a block/folio edge, EOF, or an interesting value; aligned to `align`. */
  offset(fd: number, align: number): number {
    const r = this.rng;
    let off: number;
    if (this.focus >= 0 && r.chance(0.8)) {
      const unit = r.chance(0.7) ? this.config.blockSize : SECTOR;
      off = this.focus + r.range(-2, 2) * unit + (r.chance(0.1) ? r.range(1, 300) : 0);
    } else if (r.chance(0.3)) {
      off = r.pick(interestingValues(this.config, this.sizeOf(fd)));
    } else {
      const unit = r.pick([this.config.blockSize, this.config.folioMax, PAGE, SECTOR]);
      off = r.int(Math.floor(this.span / unit)) * unit + (r.chance(0.2) ? r.range(-8, 300) : 0);
    }
    off = Math.max(0, Math.min(off, this.span + this.config.folioMax));
    return Math.floor(off / align) * align;
  }

  length(align: number): number {
    const r = this.rng;
    const bs = this.config.blockSize;
    let len: number;
    // Inside a scene, whole blocks: the ops cover the blocks the scene set up, and their neighbours.
    if (this.focus >= 0 && r.chance(0.6)) return Math.max(align, Math.floor((bs * r.range(1, 2)) / align) * align);
    switch (r.int(6)) {
      case 0: len = r.range(1, 300); break;
      case 1: len = bs * r.range(1, 4); break;
      case 2: len = this.config.folioMax; break;
      case 3: len = SECTOR * r.range(1, 8); break;
      case 4: len = PAGE; break;
      default: len = r.range(1, this.config.folioMax * 2); break;
    }
    return Math.max(align, Math.floor(len / align) * align);
  }

  private fdWhere(direct: boolean): number {
    const ids = this.fds.map((_, i) => i).filter((i) => this.fds[i]!.direct === direct);
    return ids.length ? this.rng.pick(ids) : -1;
  }

  private liveMap(): number {
    const ids = [...this.maps.keys()];
    return ids.length ? this.rng.pick(ids) : -1;
  }

  private ioAlign(fd: number): number {
    return this.fds[fd]!.direct && this.rng.chance(0.9) ? SECTOR : this.rng.chance(0.5) ? this.config.blockSize : 1;
  }

  private record(op: Op | null): Op | null {
    if (op) this.emitted.push(op);
    return op;
  }

  /** One op of `kind` for thread `t`, or null when it has nothing to act on. */
  op(kind: OpName, t: number): Op | null {
    return this.record(this.make(kind, t));
  }

  private make(kind: OpName, t: number): Op | null {
    const r = this.rng;
    const fd = r.int(this.fds.length);
    const bs = this.config.blockSize;
    switch (kind) {
      case 'pwrite': {
        const a = this.ioAlign(fd);
        const op: Op = { op: 'pwrite', fd, off: this.offset(fd, a), len: this.length(a), fill: this.nextFill() };
        if (r.chance(0.1)) op.bsize = this.fds[fd]!.direct ? r.pick([512, 1024, 4096]) : r.range(1, 8192);
        return op;
      }
      case 'pread': {
        const a = this.ioAlign(fd);
        // Whole folios from a folio edge: the reads that meet holes and racing completions.
        if (r.chance(0.4)) {
          const off = r.int(Math.floor(this.span / this.config.folioMax)) * this.config.folioMax;
          return { op: 'pread', fd, off, len: this.config.folioMax * r.range(1, 2) };
        }
        return { op: 'pread', fd, off: this.offset(fd, a), len: this.length(a) };
      }
      case 'truncate':
        return { op: 'truncate', fd, size: r.chance(0.15) ? 0 : this.offset(fd, r.chance(0.5) ? bs : 1) };
      case 'fallocate': {
        const mode = r.weighted(FALLOC_WEIGHTS);
        const a = mode === 'collapse' || mode === 'insert' || r.chance(0.5) ? bs : 1;
        return { op: 'fallocate', fd, mode, off: this.offset(fd, a), len: this.length(a) };
      }
      case 'copy_range': {
        const fdOut = r.int(this.fds.length);
        return { op: 'copy_range', fdIn: fd, offIn: this.offset(fd, 1), fdOut, offOut: this.offset(fdOut, 1), len: this.length(1) };
      }
      case 'fsync': return { op: 'fsync', fd };
      case 'fdatasync': return { op: 'fdatasync', fd };
      case 'sync_file_range':
        return { op: 'sync_file_range', fd, off: this.offset(fd, 1), len: r.chance(0.3) ? 0 : this.length(1), flags: r.int(8) };
      case 'fadvise_dontneed':
        return { op: 'fadvise_dontneed', fd, off: r.chance(0.5) ? 0 : this.offset(fd, 1), len: r.chance(0.5) ? 0 : this.length(1) };
      case 'drop_caches': return { op: 'drop_caches' };
      case 'evict': return { op: 'evict', file: r.int(this.nfiles) };
      case 'remount': return { op: 'remount' };
      case 'close_open': return { op: 'close_open', fd };
      case 'writeback_kick': return { op: 'writeback_kick' };
      case 'reclaim': return { op: 'reclaim' };
      case 'power_cut': return { op: 'power_cut', seed: r.int(2 ** 31) };
      case 'fail_bio': {
        const op: Op = { op: 'fail_bio', write: r.chance(0.75), skip: r.chance(0.6) ? 0 : r.range(1, 3) };
        if (op.write && r.chance(0.3)) op.short = true;
        return op;
      }
      case 'mmap': {
        const f = this.fds[fd]!.direct ? this.fdWhere(false) : fd;
        const mfd = f < 0 ? fd : f;
        const pages = Math.max(1, Math.ceil(this.sizeOf(mfd) / PAGE));
        const first = r.chance(0.7) ? 0 : r.int(pages);
        const len = r.range(1, Math.min(pages - first + 1, 16)) * PAGE;
        const map = this.nextMap++;
        this.maps.set(map, { fd: mfd, off: first * PAGE, len });
        const prot: MmapProt = r.pick(['rw', 'rw', 'rw', 'r', 'w'] as const);
        return { op: 'mmap', map, fd: mfd, off: first * PAGE, len, prot };
      }
      case 'mread':
      case 'mwrite':
      case 'msync': {
        const map = this.liveMap();
        if (map < 0) return null;
        const m = this.maps.get(map)!;
        const inFile = Math.min(m.off + m.len, Math.max(this.sizeOf(m.fd), m.off + 1));
        const off = r.range(m.off, Math.max(m.off, inFile - 1));
        const len = r.range(1, Math.max(1, Math.min(m.off + m.len - off, r.pick([16, 200, 1024, 4096]))));
        if (kind === 'mread') return { op: 'mread', map, off, len };
        if (kind === 'mwrite') return { op: 'mwrite', map, off, len, fill: this.nextFill() };
        return { op: 'msync', map, off: m.off, len: m.len, sync: r.chance(0.7) };
      }
      case 'munmap': {
        const map = this.liveMap();
        if (map < 0) return null;
        this.maps.delete(map);
        return { op: 'munmap', map };
      }
      case 'aio_write':
      case 'aio_read': {
        const dfd = this.fdWhere(true);
        if (dfd < 0) return null;
        const a = r.chance(0.92) ? (r.chance(0.5) ? bs : SECTOR) : 1;
        const iocb = this.nextIocb++;
        (this.pending[t] ??= []).push(iocb);
        const off = this.offset(dfd, a);
        const len = this.length(a);
        return kind === 'aio_write'
          ? { op: 'aio_write', fd: dfd, off, len, fill: this.nextFill(), iocb }
          : { op: 'aio_read', fd: dfd, off, len, iocb };
      }
      case 'aio_wait': {
        const p = this.pending[t];
        if (!p || p.length === 0) return null;
        return { op: 'aio_wait', iocb: p.splice(r.int(p.length), 1)[0]! };
      }
    }
  }

  private fdOf(direct: boolean): number {
    const fd = this.fdWhere(direct);
    return fd < 0 ? this.rng.int(this.fds.length) : fd;
  }

  /** A few blocks written and made durable: mapped blocks on disk, sometimes a hole after them inside EOF. */
  private scenePersist(t: number): Op[] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const fd = this.fdOf(false);
    const out: Op[] = [{ op: 'pwrite', fd, off: this.focus, len: bs * r.range(1, 2), fill: this.nextFill() }];
    if (r.chance(0.5)) out.push({ op: 'truncate', fd, size: this.focus + r.pick([this.config.folioMax, 2 * bs, PAGE]) });
    out.push(r.chance(0.8) ? { op: 'fsync', fd } : { op: 'writeback_kick' });
    if (r.chance(0.4)) out.push({ op: 'drop_caches' });
    return out.map((o) => this.record(o)!).concat(this.sceneOps(t, r.range(0, 2)));
  }

  /** An AIO in flight while other I/O hits the same blocks, then reaped, then read back. */
  private sceneAio(t: number): Op[] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const out: Op[] = [];
    // Mostly over blocks made durable first: then the direct I/O really goes async (no fallback).
    if (r.chance(0.8)) {
      const fd = this.fdOf(false);
      out.push({ op: 'pwrite', fd, off: this.focus, len: bs * (r.chance(0.7) ? 1 : 2), fill: this.nextFill() });
      if (r.chance(0.75)) out.push({ op: 'truncate', fd, size: this.focus + Math.max(this.config.folioMax, 2 * bs) });
      out.push({ op: 'fsync', fd });
      for (const o of out) this.record(o);
    }
    const dfd = this.fdWhere(true);
    let submit: Op | null;
    if (dfd >= 0 && r.chance(0.7)) {
      const iocb = this.nextIocb++;
      (this.pending[t] ??= []).push(iocb);
      submit = this.record(r.chance(0.8)
        ? { op: 'aio_write', fd: dfd, off: this.focus, len: bs, fill: this.nextFill(), iocb }
        : { op: 'aio_read', fd: dfd, off: this.focus, len: bs, iocb });
    } else submit = this.op(r.chance(0.8) ? 'aio_write' : 'aio_read', t);
    if (!submit) return out;
    out.push(submit);
    out.push(...(r.chance(0.7) ? [this.neighbourIo(submit)] : this.sceneOps(t, r.range(1, 3))));
    if (r.chance(0.85)) out.push(this.op('aio_wait', t)!);
    if (r.chance(0.5)) out.push(this.op('pread', t)!);
    return out.filter((o) => o !== null);
  }

  /** A write or read of the block next to (or at) an in-flight AIO, direct or buffered: they share a folio. */
  private neighbourIo(aio: Op): Op {
    const r = this.rng;
    const bs = this.config.blockSize;
    const at = isAioSubmit(aio) ? aio.off : this.focus;
    const off = Math.max(0, at + r.pick([bs, bs, bs, -bs, 0]));
    const fd = this.fdOf(r.chance(0.6));
    const op: Op = r.chance(0.7)
      ? { op: 'pwrite', fd, off, len: bs * r.range(1, 2), fill: this.nextFill() }
      : { op: 'pread', fd, off: r.chance(0.5) ? off : at, len: bs };
    return this.record(op)!;
  }

  /** Preallocated (unwritten) blocks written, written back and reclaimed while another write comes in. */
  private sceneUnwritten(t: number): Op[] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const fd = this.fdOf(false);
    const mode = r.pick<FallocMode>(['alloc', 'keep_size', 'zero']);
    const out: Op[] = [
      { op: 'fallocate', fd, mode, off: this.focus, len: r.pick([bs * r.range(1, 4), this.config.folioMax]) },
    ];
    out.push({ op: 'pwrite', fd, off: this.focus, len: r.range(1, 2) * bs, fill: this.nextFill() });
    for (const o of out) this.record(o);
    const races: Op[] = [{ op: 'writeback_kick' }, { op: 'reclaim' }];
    if (r.chance(0.3)) races.reverse();
    out.push(...races.map((o) => this.record(o)!));
    // A partial-block write into what was written: it must read the block, not zero it.
    if (r.chance(0.6)) out.push(this.record({ op: 'pwrite', fd, off: this.focus + r.range(1, bs - 1), len: r.range(1, 200), fill: this.nextFill() })!);
    out.push(...this.sceneOps(t, r.range(0, 2)));
    return out;
  }

  /** An injected I/O error on a cached range, then ops that meet its aftermath. */
  private sceneFault(t: number): Op[] {
    const r = this.rng;
    const fd = this.fdOf(false);
    const out: Op[] = [];
    if (r.chance(0.35)) return this.sceneReadFault(t, fd);
    if (r.chance(0.6)) out.push(this.record({ op: 'pread', fd, off: this.focus, len: this.config.folioMax })!);
    out.push(this.op('fail_bio', t)!);
    out.push(...this.sceneOps(t, r.range(1, 3)));
    return out;
  }

  /**
   * Flaky storage on the read side: blocks made durable and dropped from the
   * cache, a read of them that fails (the folio stays cached, not uptodate),
   * then a write into part of a block there (write_begin must read the rest)
   * and a read back.
   */
  private sceneReadFault(t: number, fd: number): Op[] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const out: Op[] = [
      { op: 'pwrite', fd, off: this.focus, len: bs * r.range(1, 3), fill: this.nextFill() },
      r.chance(0.8) ? { op: 'fsync', fd } : { op: 'writeback_kick' },
      r.pick<Op>([{ op: 'drop_caches' }, { op: 'fadvise_dontneed', fd, off: 0, len: 0 }, { op: 'reclaim' }]),
      { op: 'fail_bio', write: false, skip: r.chance(0.8) ? 0 : 1 },
      { op: 'pread', fd, off: this.focus, len: this.config.folioMax },
    ];
    const at = this.focus + r.int(2) * bs + r.range(1, bs - 1);
    out.push({ op: 'pwrite', fd, off: at, len: r.range(1, 200), fill: this.nextFill() });
    for (const o of out) this.record(o);
    out.push(...(r.chance(0.7) ? [this.record({ op: 'pread', fd, off: this.focus, len: this.config.folioMax })!] : this.sceneOps(t, r.range(1, 2))));
    return out;
  }

  /**
   * Write, make it durable, write more over and past it (sometimes pushed to
   * the device's volatile cache), cut the power, read back: the fsynced bytes
   * must survive, the later ones may or may not.
   */
  private sceneDurable(): Op[] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const fd = this.fdOf(false);
    const out: Op[] = [{ op: 'pwrite', fd, off: this.focus, len: bs * r.range(1, 4), fill: this.nextFill() }];
    if (r.chance(0.3)) out.push({ op: 'fallocate', fd, mode: r.pick<FallocMode>(['keep_size', 'alloc']), off: this.focus + bs * r.range(0, 4), len: bs * r.range(1, 4) });
    out.push(r.chance(0.8) ? { op: 'fsync', fd } : { op: 'fdatasync', fd });
    for (let i = r.range(1, 3); i > 0; i--) {
      const off = Math.max(0, this.focus + r.range(-1, 5) * bs + (r.chance(0.3) ? r.range(1, bs - 1) : 0));
      out.push(r.chance(0.85)
        ? { op: 'pwrite', fd: this.fdOf(r.chance(0.2)), off: Math.floor(off / SECTOR) * SECTOR, len: bs * r.range(1, 3), fill: this.nextFill() }
        : { op: 'truncate', fd, size: off });
    }
    if (r.chance(0.5)) out.push(r.chance(0.5) ? { op: 'writeback_kick' } : { op: 'sync_file_range', fd, off: 0, len: 0, flags: 6 });
    // Live mappings refuse the cut (-EBUSY, as a remount does): unmap them first.
    for (const map of [...this.maps.keys()]) {
      this.maps.delete(map);
      out.push({ op: 'munmap', map });
    }
    out.push({ op: 'power_cut', seed: r.int(2 ** 31) });
    for (const o of out) this.record(o);
    out.push(this.record({ op: 'pread', fd, off: Math.max(0, this.focus - bs), len: bs * r.range(2, 8) })!);
    return out;
  }

  /**
   * The page straddling EOF under a shared mapping while the file grows: a
   * store below EOF makes page_mkwrite reserve only up to it and leaves the
   * pte writable (sometimes the flusher is kicked too); then the file grows
   * (a direct write further on, a buffered write across the old EOF, a
   * truncate up, a fallocate), a store lands past the old EOF, and the page
   * is read back, through the cache or from the disk.
   */
  private sceneEofPage(): Op[] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const fd = this.fdOf(false);
    const page = Math.floor(this.focus / PAGE) * PAGE;
    const sub = bs < PAGE && r.chance(0.7) ? r.range(1, PAGE / bs - 1) * bs : r.range(1, PAGE - 1);
    const eof = page + sub;
    const map = this.nextMap++;
    const len = page + 2 * PAGE;
    this.maps.set(map, { fd, off: 0, len });
    const below = page + r.int(sub);
    const out: Op[] = [
      { op: 'truncate', fd, size: eof },
      { op: 'mmap', map, fd, off: 0, len, prot: 'rw' },
      { op: 'mwrite', map, off: below, len: Math.min(r.range(1, 200), eof - below), fill: this.nextFill() },
    ];
    if (r.chance(0.5)) out.push({ op: 'writeback_kick' });
    const dfd = this.fdWhere(true);
    switch (r.int(dfd >= 0 ? 4 : 3)) {
      case 0: out.push({ op: 'pwrite', fd, off: page + r.int(sub), len: r.range(PAGE - sub + 1, 2 * PAGE), fill: this.nextFill() }); break;
      case 1: out.push({ op: 'truncate', fd, size: page + PAGE * r.range(1, 3) }); break;
      case 2: out.push({ op: 'fallocate', fd, mode: r.pick<FallocMode>(['alloc', 'zero']), off: eof + r.range(0, 2) * bs, len: bs * r.range(1, 3) }); break;
      default: out.push({ op: 'pwrite', fd: dfd, off: page + PAGE * r.range(1, 2), len: bs * r.range(1, 2), fill: this.nextFill() }); break;
    }
    out.push({ op: 'mwrite', map, off: eof + r.int(PAGE - sub), len: r.range(1, 300), fill: this.nextFill() });
    if (dfd >= 0 && r.chance(0.5)) out.push({ op: 'pread', fd: dfd, off: page, len: PAGE });
    else {
      if (r.chance(0.5)) out.push({ op: 'fsync', fd }, { op: 'drop_caches' });
      out.push({ op: 'pread', fd, off: page, len: PAGE });
    }
    for (const o of out) this.record(o);
    return out;
  }

  private sceneOps(t: number, n: number): Op[] {
    const out: Op[] = [];
    for (let i = 0; i < n; i++) {
      const op = this.op(this.rng.weighted(SCENE_WEIGHTS), t);
      if (op) out.push(op);
    }
    return out;
  }

  /**
   * Two threads: one writes a few folios through the page cache over a
   * sparse range inside EOF; the other, which made the file that long, stores
   * through a mapping just past where the write ends (in its last block,
   * mostly), then into a hole further on (a new reservation there changes the
   * extent map under the write), and reads its first store back.
   */
  sceneStoresBehindWrite(): [Op[], Op[]] {
    const r = this.rng;
    const bs = this.config.blockSize;
    const unit = Math.max(this.config.folioMax, PAGE);
    const fd = this.fdOf(false);
    const start = r.int(2) * unit;
    const tail = r.range(1, bs - 1);
    const end = start + r.range(2, 4) * unit - tail;
    const size = Math.ceil(end / unit) * unit + r.range(1, 2) * unit;
    const storer: Op[] = [];
    storer.push(r.chance(0.6) ? { op: 'truncate', fd, size } : { op: 'pwrite', fd, off: size - 100, len: 100, fill: this.nextFill() });
    const map = this.nextMap++;
    this.maps.set(map, { fd, off: 0, len: size });
    storer.push({ op: 'mmap', map, fd, off: 0, len: size, prot: 'rw' });
    const at = r.chance(0.8) ? end + r.int(tail) : Math.max(0, end + r.range(-2, 2) * bs);
    const len = Math.max(1, Math.min(r.range(1, 200), size - at));
    storer.push({ op: 'mwrite', map, off: at, len, fill: this.nextFill() });
    const hole = Math.ceil(end / unit) * unit + r.int(size - Math.ceil(end / unit) * unit - 100);
    storer.push(r.chance(0.8) ? { op: 'mwrite', map, off: hole, len: r.range(1, 100), fill: this.nextFill() } : { op: 'writeback_kick' });
    storer.push(r.chance(0.6) ? { op: 'pread', fd, off: at, len } : { op: 'mread', map, off: at, len });
    const writer: Op[] = [{ op: 'pwrite', fd, off: start, len: end - start, fill: this.nextFill() }];
    for (const o of [...storer, ...writer]) this.record(o);
    return [writer, storer];
  }

  /** A short sequence of ops on one spot; the generator mixes these with single ops. */
  scene(t: number): Op[] {
    const r = this.rng;
    const unit = r.chance(0.5) ? this.config.folioMax : this.config.blockSize;
    this.focus = r.int(Math.floor(this.span / unit)) * unit;
    let ops: Op[];
    switch (r.weighted(SCENES)) {
      case 'persist': ops = this.scenePersist(t); break;
      case 'aio': ops = this.sceneAio(t); break;
      case 'unwritten': ops = this.sceneUnwritten(t); break;
      case 'fault': ops = this.sceneFault(t); break;
      case 'durable': ops = this.sceneDurable(); break;
      case 'eof': ops = this.sceneEofPage(); break;
    }
    if (r.chance(0.5)) this.focus = -1;
    return ops;
  }

  /** Ops for thread t: drawn from the mix, with waits for this thread's AIO in between and at the end. */
  thread(t: number, nops: number): Op[] {
    const r = this.rng;
    const ops: Op[] = [];
    let guard = 0;
    while (ops.length < nops && guard++ < nops * 20) {
      const waiting = (this.pending[t]?.length ?? 0) > 0;
      const kind: OpName = waiting && r.chance(0.3) ? 'aio_wait' : r.weighted(GEN_WEIGHTS);
      if (r.chance(0.3)) {
        ops.push(...this.scene(t));
        continue;
      }
      const op = this.op(kind, t);
      if (op) ops.push(op);
    }
    // Reap what is still in flight, mostly: an iocb left in flight is legal too.
    while ((this.pending[t]?.length ?? 0) > 0 && r.chance(0.9)) ops.push(this.op('aio_wait', t)!);
    return ops;
  }
}

function randomFds(rng: FuzzRng, nfiles: number): FdDecl[] {
  const nfds = rng.range(1, 3);
  const fds: FdDecl[] = [];
  for (let i = 0; i < nfds; i++) fds.push({ file: i < nfiles ? i : rng.int(nfiles), direct: i > 0 && rng.chance(0.6) });
  return fds;
}

/** A fresh random program: config, files, fds, 1-4 threads of about 3-30 ops in all, a schedule. */
export function generateProgram(rng: FuzzRng): Program {
  const config = randomConfig(rng);
  const nfiles = rng.chance(0.8) ? 1 : 2;
  const fds = randomFds(rng, nfiles);
  const nthreads = rng.weighted([['1', 4], ['2', 4], ['3', 1.5], ['4', 0.5]] as const);
  const threadCount = Number(nthreads);
  const total = rng.range(Math.max(3, threadCount), 30);
  const g = new OpGen(rng, config, fds, nfiles);
  const threads = [];
  for (let t = 0; t < threadCount; t++) {
    const share = t === threadCount - 1 ? total - Math.floor(total / threadCount) * t : Math.floor(total / threadCount);
    threads.push({ ops: g.thread(t, Math.max(1, share)) });
  }
  const files = Array.from({ length: nfiles }, (_, i) => ({ name: `f${i}` }));
  const prog: Program = { version: PROGRAM_VERSION, config, files, fds, threads };
  const schedule = randomSchedule(rng, threadCount);
  if (schedule) prog.schedule = schedule;
  // Sometimes two threads play a cross-thread scene instead of what was drawn
  // (decided last: the other programs stay as they were).
  if (threadCount >= 2 && rng.chance(0.2)) {
    const [writer, storer] = g.sceneStoresBehindWrite();
    prog.threads = [{ ops: writer }, { ops: storer }];
  }
  return prog;
}
