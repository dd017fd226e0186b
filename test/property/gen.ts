// The random program generator of the property tests: seeded (its own PRNG),
// config-aware, and valid by construction (every program passes
// validateProgram). Threads of a concurrent program are drawn from one
// generator, so they share files, fds and mappings.

import {
  FALLOC_MODES,
  PROGRAM_VERSION,
  type FallocMode,
  type FdDecl,
  type Op,
  type Program,
  type Schedule,
  type SimConfig,
} from '../../worker/prog/types.js';
import { validateProgram } from '../../worker/prog/validate.js';
import { FuzzRng as Rng } from '../../worker/fuzz/rng.js';

/** The fuzzer's seeded PRNG (worker/fuzz/rng.ts), under the name the property tests use. */
export { Rng };

const PAGE = 4096;
const SECTOR = 512;
/** Files stay below this, so programs are fast and ranges collide often. */
const MAX_FILE = 256 * 1024;

export const CONFIGS: SimConfig[] = [];
for (const [fs, inode] of [['xfs', 'extent'], ['ext4', 'extent'], ['ext4', 'indirect'], ['fuse', 'extent']] as const) {
  for (const blockSize of [1024, 2048, 4096]) {
    for (const folioMax of [4096, 8192, 16384, 32768, 65536]) CONFIGS.push({ fs, inode, blockSize, folioMax });
  }
}

type OpKind = Op['op'];

export const WEIGHTS: readonly (readonly [OpKind, number])[] = [
  ['pwrite', 20], ['pread', 14], ['truncate', 5], ['fallocate', 9], ['copy_range', 3],
  ['fsync', 3], ['fdatasync', 2], ['sync_file_range', 3], ['fadvise_dontneed', 3],
  ['drop_caches', 2], ['evict', 2], ['remount', 1.5], ['close_open', 2],
  ['mmap', 4], ['mread', 7], ['mwrite', 8], ['msync', 3], ['munmap', 2],
  ['writeback_kick', 1.5], ['reclaim', 1.5],
];

interface MapState {
  fd: number;
  off: number;
  len: number;
}

/** What the generator tracks to aim ops at interesting places: file sizes and live mappings. */
export class Gen {
  readonly sizes: number[];
  readonly maps = new Map<number, MapState>();
  nextMap = 0;
  fill = 1;

  constructor(
    readonly r: Rng,
    readonly config: SimConfig,
    readonly fds: FdDecl[],
    nfiles: number,
  ) {
    this.sizes = new Array<number>(nfiles).fill(0);
  }

  private fileOf(fd: number): number {
    return this.fds[fd]!.file;
  }

  private nextFill(): number {
    this.fill = (this.fill % 255) + 1;
    return this.fill;
  }

  /** An offset: near EOF, inside the file, at a block or folio edge, or beyond EOF. */
  private offset(file: number, align: number): number {
    const r = this.r;
    const size = this.sizes[file]!;
    let off: number;
    switch (r.int(6)) {
      case 0: off = size; break;
      case 1: off = Math.max(0, size - r.int(3 * this.config.blockSize)); break;
      case 2: off = r.int(size + 1); break;
      case 3: off = r.int(MAX_FILE / this.config.folioMax) * this.config.folioMax + r.pick([0, -1, 1, this.config.blockSize]); break;
      case 4: off = size + r.int(64 * 1024); break;
      default: off = r.int(MAX_FILE); break;
    }
    off = Math.max(0, Math.min(off, MAX_FILE));
    return Math.floor(off / align) * align;
  }

  private length(align: number): number {
    const r = this.r;
    let len: number;
    switch (r.int(5)) {
      case 0: len = r.range(1, 16); break;
      case 1: len = r.range(1, this.config.blockSize * 2); break;
      case 2: len = r.pick([this.config.blockSize, PAGE, this.config.folioMax, 2 * PAGE]); break;
      case 3: len = r.range(1, 64 * 1024); break;
      default: len = r.range(1, 12 * 1024); break;
    }
    return Math.max(align, Math.floor(len / align) * align);
  }

  private grow(file: number, end: number): void {
    if (end > this.sizes[file]!) this.sizes[file] = end;
  }

  private falloc(fd: number): Op {
    const r = this.r;
    const file = this.fileOf(fd);
    const size = this.sizes[file]!;
    const bs = this.config.blockSize;
    const mode: FallocMode = r.pick(FALLOC_MODES);
    let off: number;
    let len: number;
    if ((mode === 'collapse' || mode === 'insert') && r.chance(0.85)) {
      // Mostly valid: block aligned, inside the file.
      const blocks = Math.max(1, Math.floor(size / bs));
      off = r.int(blocks) * bs;
      len = r.range(1, Math.max(1, Math.min(16, blocks))) * bs;
    } else {
      off = this.offset(file, r.chance(0.5) ? bs : 1);
      len = this.length(r.chance(0.5) ? bs : 1);
    }
    // Track the size change the op would make when it succeeds.
    const indirect = this.config.fs === 'ext4' && this.config.inode === 'indirect';
    const fuse = this.config.fs === 'fuse';
    const supported = indirect ? mode === 'punch' : fuse ? !['collapse', 'insert', 'unshare'].includes(mode) : !(this.config.fs === 'ext4' && mode === 'unshare');
    if (supported) {
      const aligned = ((off | len) & (bs - 1)) === 0;
      if ((mode === 'alloc' || mode === 'zero' || mode === 'unshare') && off + len <= MAX_FILE * 2) this.grow(file, off + len);
      else if (mode === 'collapse' && aligned && off + len < size) this.sizes[file] = size - len;
      else if (mode === 'insert' && aligned && off < size) this.sizes[file] = size + len;
    }
    return { op: 'fallocate', fd, mode, off, len };
  }

  /** A live mapping id, or -1. */
  private liveMap(): number {
    const ids = [...this.maps.keys()];
    return ids.length ? this.r.pick(ids) : -1;
  }

  /** A range inside the mapping, mostly inside the file as well. */
  private mapRange(m: MapState): [number, number] {
    const r = this.r;
    const size = this.sizes[this.fileOf(m.fd)]!;
    const end = m.off + m.len;
    const inFileEnd = Math.min(end, size);
    if (inFileEnd > m.off && r.chance(0.9)) {
      const off = r.range(m.off, inFileEnd - 1);
      const len = r.range(1, Math.min(inFileEnd - off, r.pick([16, 1024, 8192, 65536])));
      return [off, len];
    }
    // Anywhere in the mapping: past EOF in the last page, or in a page past EOF (SIGBUS: -EFAULT).
    const off = r.range(m.off, end - 1);
    return [off, r.range(1, Math.min(end - off, 4096))];
  }

  op(kind: OpKind): Op | null {
    const r = this.r;
    const nfd = this.fds.length;
    const fd = r.int(nfd);
    const file = this.fileOf(fd);
    const direct = this.fds[fd]!.direct;
    switch (kind) {
      case 'pwrite': {
        const align = direct ? SECTOR : 1;
        const off = this.offset(file, align);
        const len = this.length(align);
        this.grow(file, off + len);
        const op: Op = { op: 'pwrite', fd, off, len, fill: this.nextFill() };
        if (r.chance(0.2)) op.bsize = direct ? r.pick([512, 1024, 4096]) : r.range(1, 8192);
        return op;
      }
      case 'pread': {
        const align = direct ? SECTOR : 1;
        const op: Op = { op: 'pread', fd, off: this.offset(file, align), len: this.length(align) };
        if (r.chance(0.2)) op.bsize = direct ? r.pick([512, 2048, 4096]) : r.range(1, 8192);
        return op;
      }
      case 'aio_write':
      case 'aio_read':
      case 'aio_wait':
      case 'fail_bio':
        // Not drawn (see WEIGHTS): AIO races with the program's own ops, which this
        // sequential oracle does not model; faults have their own tests.
        return null;
      case 'power_cut':
        // Not drawn from WEIGHTS: withPowerCut places one, without changing the rest of the program.
        return null;
      case 'writeback_kick':
        return { op: 'writeback_kick' };
      case 'reclaim':
        return { op: 'reclaim' };
      case 'truncate': {
        const size = Math.min(MAX_FILE, r.chance(0.5) ? r.int(this.sizes[file]! + 1) : this.offset(file, r.chance(0.3) ? this.config.blockSize : 1));
        this.sizes[file] = size;
        return { op: 'truncate', fd, size };
      }
      case 'fallocate':
        return this.falloc(fd);
      case 'copy_range': {
        const fdOut = r.int(nfd);
        const fin = file;
        const fout = this.fileOf(fdOut);
        const offIn = this.offset(fin, 1);
        const offOut = this.offset(fout, 1);
        const len = this.length(1);
        const overlap = fin === fout && offOut + len > offIn && offOut < offIn + len;
        const n = Math.min(len, this.sizes[fin]! - offIn);
        if (!overlap && n > 0) this.grow(fout, offOut + n);
        return { op: 'copy_range', fdIn: fd, offIn, fdOut, offOut, len };
      }
      case 'fsync':
        return { op: 'fsync', fd };
      case 'fdatasync':
        return { op: 'fdatasync', fd };
      case 'sync_file_range':
        return { op: 'sync_file_range', fd, off: this.offset(file, 1), len: r.chance(0.3) ? 0 : this.length(1), flags: r.int(8) };
      case 'fadvise_dontneed':
        return { op: 'fadvise_dontneed', fd, off: r.chance(0.3) ? 0 : this.offset(file, 1), len: r.chance(0.3) ? 0 : this.length(1) };
      case 'drop_caches':
        return { op: 'drop_caches' };
      case 'evict':
        return { op: 'evict', file: r.int(this.sizes.length) };
      case 'remount':
        return { op: 'remount' };
      case 'close_open':
        return { op: 'close_open', fd };
      case 'mmap': {
        const size = this.sizes[file]!;
        const pages = Math.max(1, Math.ceil(size / PAGE));
        const first = r.chance(0.7) ? 0 : r.int(pages);
        const npages = r.range(1, Math.max(1, Math.min(pages - first + (r.chance(0.2) ? 2 : 0), 32)));
        const map = this.maps.size > 0 && r.chance(0.2) ? this.liveMap() : this.nextMap++;
        const m: MapState = { fd, off: first * PAGE, len: npages * PAGE };
        this.maps.set(map, m);
        return { op: 'mmap', map, fd, off: m.off, len: m.len, prot: r.pick(['rw', 'rw', 'rw', 'r', 'w'] as const) };
      }
      case 'mread':
      case 'mwrite': {
        const map = this.liveMap();
        if (map < 0) return null;
        const [off, len] = this.mapRange(this.maps.get(map)!);
        return kind === 'mread' ? { op: 'mread', map, off, len } : { op: 'mwrite', map, off, len, fill: this.nextFill() };
      }
      case 'msync': {
        const map = this.liveMap();
        if (map < 0) return null;
        const m = this.maps.get(map)!;
        const off = m.off + r.int(m.len / PAGE) * PAGE;
        return { op: 'msync', map, off, len: r.range(1, m.off + m.len - off), sync: r.chance(0.7) };
      }
      case 'munmap': {
        const map = this.liveMap();
        if (map < 0) return null;
        this.maps.delete(map);
        return { op: 'munmap', map };
      }
    }
  }
}

/**
 * One program in three gets a power cut, its place and seed drawn from a PRNG
 * of its own, so the other ops (and the programs without one) stay as they were.
 */
function withPowerCut(seed: number, threads: { ops: Op[] }[]): void {
  if (seed % 3 !== 0) return;
  const r = new Rng(seed ^ 0x9e3779b9);
  const ops = threads[r.int(threads.length)]!.ops;
  ops.splice(r.int(ops.length + 1), 0, { op: 'power_cut', seed: r.int(2 ** 31) });
}

export function generateProgram(seed: number, config: SimConfig): Program {
  const r = new Rng(seed);
  const nfiles = r.range(1, 2);
  const nfds = r.range(1, 3);
  const fds: FdDecl[] = [];
  for (let i = 0; i < nfds; i++) fds.push({ file: i < nfiles ? i : r.int(nfiles), direct: r.chance(0.25) });
  const g = new Gen(r, config, fds, nfiles);
  const nops = r.range(20, 120);
  const ops: Op[] = [];
  while (ops.length < nops) {
    const op = g.op(r.weighted(WEIGHTS));
    if (op) ops.push(op);
  }
  const files = Array.from({ length: nfiles }, (_, i) => ({ name: `file${i}` }));
  const threads = [{ ops }];
  withPowerCut(seed, threads);
  return validateProgram({ version: PROGRAM_VERSION, config, files, fds, threads }, `seed ${seed}`);
}


/** Several threads over shared files, under a schedule drawn from the same seed. */
export function generateConcurrentProgram(seed: number, config: SimConfig, threads: number, opsPerThread: [number, number] = [5, 40]): Program {
  const r = new Rng(seed);
  const nfiles = r.range(1, 2);
  const nfds = r.range(1, 3);
  const fds: FdDecl[] = [];
  for (let i = 0; i < nfds; i++) fds.push({ file: i < nfiles ? i : r.int(nfiles), direct: r.chance(0.25) });
  const g = new Gen(r, config, fds, nfiles);
  const out: { ops: Op[] }[] = [];
  for (let t = 0; t < threads; t++) {
    const nops = r.range(opsPerThread[0], opsPerThread[1]);
    const ops: Op[] = [];
    while (ops.length < nops) {
      const op = g.op(r.weighted(WEIGHTS));
      if (op) ops.push(op);
    }
    out.push({ ops });
  }
  const files = Array.from({ length: nfiles }, (_, i) => ({ name: `file${i}` }));
  const schedule: Schedule = { strategy: r.chance(0.5) ? 'pct' : 'random', seed: r.int(2 ** 31), depth: r.range(1, 4), decisions: [] };
  withPowerCut(seed, out);
  return validateProgram({ version: PROGRAM_VERSION, config, files, fds, threads: out, schedule }, `seed ${seed}`);
}
