// The generator's op maker: one op of a kind, with arguments aimed where ops
// collide (block and folio edges, EOF, the spot a scene plays on), and the
// state the program so far set up (mappings, AIO in flight) so that later
// ops can refer to it.

import type { FallocMode, FdDecl, MmapProt, Op, OpName, SimConfig } from '../prog/types.js';
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

const FALLOC_WEIGHTS: readonly (readonly [FallocMode, number])[] = [
  ['alloc', 3], ['keep_size', 3], ['punch', 4], ['zero', 3], ['zero_keep', 2],
  ['collapse', 1], ['insert', 1], ['unshare', 0.5],
];

interface MapState {
  fd: number;
  off: number;
  len: number;
}

/** How programs are drawn. */
export interface GenOptions {
  /**
   * Play the scenes (scenes.ts): short op sequences on one spot that set up
   * the states the known races need. Off (`fuzz --no-scenes`), the search
   * has only the op mix, coverage and schedules to find them with.
   */
  scenes: boolean;
}

export const WITH_SCENES: GenOptions = { scenes: true };
export const NO_SCENES: GenOptions = { scenes: false };

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
    readonly gen: GenOptions = WITH_SCENES,
  ) {}

  /** How far into a file ops go: a few folios. */
  get span(): number {
    return Math.max(4 * this.config.folioMax, 4 * PAGE);
  }

  nextFill(): number {
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

  fdWhere(direct: boolean): number {
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

  record(op: Op | null): Op | null {
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

  fdOf(direct: boolean): number {
    const fd = this.fdWhere(direct);
    return fd < 0 ? this.rng.int(this.fds.length) : fd;
  }
}
