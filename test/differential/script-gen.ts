// Seeded generator of xfs_io command scripts for the differential test (real
// xfs_io on the host's ext4 versus the simulator).
//
// Every script it emits must end with the same file contents on the real kernel
// (an extent-mapped ext4 file with 4 KiB blocks in os.tmpdir()) and under every
// sim configuration it was generated for. So it:
//   - keeps file offsets below MAX_OFFSET (about 1 MiB);
//   - aligns fcollapse/finsert to 4096 (the largest block size); the deliberate
//     failures it emits fail with EINVAL everywhere (range reaching EOF, offset
//     at/after EOF, or a misalignment that is odd, i.e. unaligned for every
//     block size);
//   - tracks i_size through the script, so that mread/mwrite only touch bytes
//     inside both the current mapping and the file (a page past EOF is SIGBUS on
//     Linux; a store past EOF inside the EOF page is unspecified);
//   - leaves out fallocate modes the configuration does not support (ext4
//     indirect-block inodes: only punch; FUSE: no collapse/insert), because the
//     real file is plain ext4 where they would succeed;
//   - in the 'direct' profile (xfs_io -d / --direct) uses offsets and lengths
//     that are multiples of 4096 for every pread/pwrite.
//
// The PRNG is our own (rng.ts), never Math.random, so a seed names a script.
// One builder holds the state all of the rules above read (i_size, the
// mappings, the profile); its methods are the commands, kept in one file so
// the rules can be checked against all of them at once.

import type { FallocMode, SimConfig } from '../../worker/prog/types.js';
import { REAL_FILE_CONFIG, supportedFallocModes } from './config-support.js';
import { Rng } from './rng.js';

export type Profile = 'buffered' | 'mmap' | 'falloc' | 'direct';
export const PROFILES: readonly Profile[] = ['buffered', 'mmap', 'falloc', 'direct'];

/** Largest file offset (exclusive) any generated command touches, before insert-range growth. */
export const MAX_OFFSET = 1 << 20;
/** Largest file size a successful finsert may produce. */
export const MAX_SIZE_AFTER_INSERT = MAX_OFFSET + (256 << 10);
/** Alignment of collapse/insert ranges and of direct I/O: the largest block size (and the page size). */
export const ALIGN = 4096;
export const PAGE_SIZE = 4096;
/** Mappings open at once (xfs_io keeps a table; mread/mwrite use the current one). */
export const MAX_MAPS = 2;

// ---------------------------------------------------------------------------
// The generator

export interface GenOptions {
  seed: number;
  profile: Profile;
  /** The sim configuration the script must be valid for. Default: REAL_FILE_CONFIG. */
  config?: SimConfig;
  /** Default 40. */
  minCommands?: number;
  /** Default 200. */
  maxCommands?: number;
}

export interface GeneratedScript {
  seed: number;
  profile: Profile;
  /** Run with xfs_io -d / foliofuzz --direct. */
  direct: boolean;
  commands: string[];
  /** commands joined with newlines, ending in a newline. */
  text: string;
  /** The file size the generator tracked: the real and simulated final sizes must equal it. */
  finalSize: number;
}

interface Mapping {
  off: number;
  len: number;
  writable: boolean;
}

type Candidate = { w: number; gen: () => string[] | null };

class ScriptBuilder {
  readonly rng: Rng;
  readonly profile: Profile;
  readonly direct: boolean;
  readonly falloc: ReadonlySet<FallocMode>;
  /** Offsets are mostly drawn below this (per-script working set, so ops overlap). */
  readonly span: number;
  size = 0;
  /** xfs_io's mapping table (at most MAX_MAPS) and the index of the current mapping. */
  maps: Mapping[] = [];
  cur = -1;
  out: string[] = [];

  constructor(seed: number, profile: Profile, config: SimConfig) {
    this.rng = new Rng(seed);
    this.profile = profile;
    this.direct = profile === 'direct';
    const modes = supportedFallocModes(config);
    // 'buffered' and 'mmap' use no fallocate; 'direct' uses punch/keep_size at a low rate.
    this.falloc = modes;
    this.span = this.rng.pick([64 << 10, 128 << 10, 256 << 10, 512 << 10, MAX_OFFSET]);
  }

  // --- number pickers ---------------------------------------------------

  /** An offset below `limit` with a bias toward block/folio boundaries and EOF. */
  offset(limit = this.span): number {
    const r = this.rng;
    let off: number;
    switch (r.int(5)) {
      case 0:
        off = r.int(limit);
        break;
      case 1: {
        const unit = r.pick([512, 1024, 2048, 4096, 8192, 16384, 65536]);
        off = unit * r.int(Math.max(1, Math.floor(limit / unit))) + r.pick([0, 0, 0, 1, -1, 7, -7]);
        break;
      }
      case 2: // near EOF, which may lie past `limit`
        off = this.size + r.range(-6000, 6000);
        if (off >= limit) return Math.max(0, Math.min(off, MAX_OFFSET - 1));
        break;
      case 3:
        off = r.int(Math.min(limit, 20000));
        break;
      default:
        off = r.int(Math.max(1, this.size || limit));
        break;
    }
    if (off < 0) off = 0;
    if (off >= limit) off = r.int(limit);
    return off;
  }

  /** A length >= 1 such that off + len <= limit. */
  length(off: number, limit = MAX_OFFSET): number {
    const r = this.rng;
    let len: number;
    switch (r.int(5)) {
      case 0:
        len = r.range(1, 512);
        break;
      case 1:
        len = r.range(1, 16384);
        break;
      case 2:
        len = r.pick([1024, 2048, 4096]) * r.range(1, 16);
        break;
      case 3:
        len = r.range(1, 65536);
        break;
      default:
        len = r.pick([1, 511, 512, 1023, 1024, 4095, 4096, 4097, 8192, 65536]);
        break;
    }
    return Math.max(1, Math.min(len, limit - off));
  }

  /** A 4096-aligned offset below `limit`. */
  alignedOffset(limit = this.span): number {
    const r = this.rng;
    const pages = Math.max(1, Math.floor(limit / ALIGN));
    if (r.chance(0.3) && this.size > 0) {
      // near EOF
      const eofPage = Math.floor(this.size / ALIGN);
      return Math.min(pages - 1, Math.max(0, eofPage + r.range(-3, 1))) * ALIGN;
    }
    return r.int(pages) * ALIGN;
  }

  /** A 4096-multiple length >= 4096 with off + len <= limit (off aligned). */
  alignedLength(off: number, limit = MAX_OFFSET): number {
    const max = Math.max(1, Math.floor((limit - off) / ALIGN));
    const n = this.rng.chance(0.7) ? this.rng.range(1, 4) : this.rng.range(1, 16);
    return Math.min(n, max) * ALIGN;
  }

  fill(): string {
    return `0x${this.rng.range(1, 255).toString(16).padStart(2, '0')}`;
  }

  /** xfs_io -b option for pwrite/pread (a split into several syscalls), sometimes. */
  bsizeOpt(): string {
    if (!this.rng.chance(0.15)) return '';
    const bs = this.direct ? this.rng.pick([4096, 8192, 16384]) : this.rng.pick([512, 1000, 4096, 5000, 16384]);
    return ` -b ${bs}`;
  }

  /** The current mapping: the one mread/mwrite/msync/munmap act on. */
  get map(): Mapping | null {
    return this.maps[this.cur] ?? null;
  }

  addMap(m: Mapping): void {
    this.maps.push(m);
    this.cur = this.maps.length - 1;
  }

  /** munmap as xfs_io does it: the entry that slides into the hole becomes current, or else the last one. */
  unmapCurrent(): void {
    this.maps.splice(this.cur, 1);
    if (this.cur === this.maps.length) this.cur--;
  }

  grow(end: number): void {
    if (end > this.size) this.size = end;
  }

  // --- commands -------------------------------------------------------

  pwrite(): string[] {
    let off: number;
    let len: number;
    if (this.direct) {
      off = this.alignedOffset();
      len = this.alignedLength(off);
    } else {
      off = this.offset();
      len = this.length(off);
    }
    this.grow(off + len);
    return [`pwrite${this.bsizeOpt()} -S ${this.fill()} ${off} ${len}`];
  }

  pread(): string[] {
    let off: number;
    let len: number;
    if (this.direct) {
      off = this.alignedOffset();
      len = this.alignedLength(off);
    } else {
      off = this.offset();
      len = this.length(off);
    }
    return [`pread${this.bsizeOpt()} ${off} ${len}`];
  }

  truncate(): string[] {
    const r = this.rng;
    let size: number;
    switch (r.int(4)) {
      case 0: // down
        size = this.size > 0 ? r.int(this.size) : 0;
        break;
      case 1: // up a little
        size = Math.min(MAX_OFFSET, this.size + r.range(1, 9000));
        break;
      case 2: // to a boundary
        size = r.pick([1024, 4096, 16384, 65536]) * r.int(Math.floor(this.span / 4096) + 1);
        size = Math.min(size, MAX_OFFSET);
        break;
      default:
        size = r.int(this.span + 1);
        break;
    }
    const cmds: string[] = [];
    const shrinks = size < this.size;
    let remap: Mapping | null = null;
    if (shrinks && this.map && r.chance(0.5)) {
      // munmap before the truncate, or after it and map the same range again.
      const before = r.chance(0.5);
      if (before) {
        cmds.push('munmap');
        this.unmapCurrent();
      } else {
        remap = this.map;
      }
    }
    cmds.push(`truncate ${size}`);
    this.size = size;
    if (remap) {
      cmds.push('munmap');
      this.unmapCurrent();
      cmds.push(`mmap ${remap.writable ? '-rw' : '-r'} ${remap.off} ${remap.len}`);
      this.addMap(remap);
    }
    return cmds;
  }

  fsync(): string[] {
    return [this.rng.chance(0.5) ? 'fsync' : 'fdatasync'];
  }

  fadvise(): string[] {
    const off = this.offset();
    return [`fadvise -d ${off} ${this.length(off)}`];
  }

  syncRange(): string[] {
    const flag = this.rng.pick(['', '-w ', '-a ', '-b ']);
    const off = this.offset();
    const len = this.rng.chance(0.15) ? 0 : this.length(off); // 0 = to EOF
    return [`sync_range ${flag}${off} ${len}`];
  }

  mmap(): string[] | null {
    if (this.maps.length >= MAX_MAPS) return null;
    const r = this.rng;
    const off = r.chance(0.4) ? 0 : this.alignedOffset(Math.max(ALIGN, Math.min(this.span, this.size + 8 * ALIGN)));
    let len: number;
    switch (r.int(3)) {
      case 0:
        len = r.range(1, 16) * PAGE_SIZE;
        break;
      case 1: // to about EOF
        len = Math.max(1, this.size - off + r.range(-100, 3 * PAGE_SIZE));
        break;
      default:
        len = r.range(1, 256 << 10);
        break;
    }
    len = Math.min(len, MAX_OFFSET - off);
    const writable = r.chance(0.8);
    this.addMap({ off, len, writable });
    return [`mmap ${writable ? '-rw' : '-r'} ${off} ${len}`];
  }

  /** A byte range inside both the mapping and the file, or null. */
  mappedRange(): { off: number; len: number } | null {
    if (!this.map) return null;
    const lo = this.map.off;
    const hi = Math.min(this.map.off + this.map.len, this.size);
    if (hi <= lo) return null;
    const r = this.rng;
    let off: number;
    switch (r.int(3)) {
      case 0:
        off = lo + r.int(hi - lo);
        break;
      case 1: // page/block boundary inside the range
        off = lo + Math.min(hi - lo - 1, r.pick([1024, 2048, 4096]) * r.int(Math.floor((hi - lo) / 1024) + 1));
        break;
      default: // near the end (EOF or end of mapping)
        off = Math.max(lo, hi - r.range(1, 5000));
        break;
    }
    const len = r.chance(0.3) ? hi - off : Math.min(hi - off, r.chance(0.5) ? r.range(1, 600) : r.range(1, 20000));
    return { off, len };
  }

  mread(): string[] | null {
    const rg = this.mappedRange();
    if (!rg) return null;
    // xfs_io (6.1) mread copies into a page-size buffer and only wraps around
    // after the first length % pagesize bytes, except when that is 1 (its first
    // iteration never wraps): a length of 1 mod 4096 above 4096 overruns the heap
    // buffer (`mread 0 118785` segfaults or aborts in malloc).
    if (rg.len > 1 && rg.len % PAGE_SIZE === 1) rg.len -= 1;
    return [`mread ${rg.off} ${rg.len}`];
  }

  mwrite(): string[] | null {
    if (!this.map?.writable) return null;
    const rg = this.mappedRange();
    if (!rg) return null;
    return [`mwrite -S ${this.fill()} ${rg.off} ${rg.len}`];
  }

  msync(): string[] | null {
    if (!this.map) return null;
    const r = this.rng;
    const pages = Math.ceil(this.map.len / PAGE_SIZE);
    const rel = r.int(pages) * PAGE_SIZE; // msync needs a page-aligned address
    const len = r.range(1, this.map.len - rel);
    const flag = r.pick(['', '-s ', '-a ']);
    return [`msync ${flag}${this.map.off + rel} ${len}`];
  }

  munmap(): string[] | null {
    if (!this.map) return null;
    this.unmapCurrent();
    return ['munmap'];
  }

  /** `mmap N`: make another mapping current. */
  selectMap(): string[] | null {
    if (this.maps.length < 2) return null;
    let n = this.rng.int(this.maps.length - 1);
    if (n >= this.cur) n++;
    this.cur = n;
    return [`mmap ${n}`];
  }

  fallocAlloc(): string[] | null {
    const keep = this.rng.chance(0.5);
    if (!this.falloc.has(keep ? 'keep_size' : 'alloc')) return null;
    const off = this.offset();
    const len = this.length(off);
    if (!keep) this.grow(off + len);
    return [`falloc ${keep ? '-k ' : ''}${off} ${len}`];
  }

  fpunch(): string[] | null {
    if (!this.falloc.has('punch')) return null;
    const off = this.offset();
    return [`fpunch ${off} ${this.length(off)}`];
  }

  fzero(): string[] | null {
    const keep = this.rng.chance(0.5);
    if (!this.falloc.has(keep ? 'zero_keep' : 'zero')) return null;
    const off = this.offset();
    const len = this.length(off);
    if (!keep) this.grow(off + len);
    return [`fzero ${keep ? '-k ' : ''}${off} ${len}`];
  }

  fcollapse(): string[] | null {
    if (!this.falloc.has('collapse')) return null;
    const r = this.rng;
    const kind = r.int(10);
    if (kind === 0) {
      // misaligned for every block size: EINVAL everywhere
      const off = this.alignedOffset() + r.pick([1, 3, 511]);
      return [`fcollapse ${off} ${ALIGN}`];
    }
    const sizePages = Math.floor(this.size / ALIGN);
    if (kind === 1 || sizePages < 2) {
      // reaches EOF (or the file is too small): EINVAL
      const off = this.alignedOffset();
      const len = Math.max(ALIGN, Math.ceil((this.size - off) / ALIGN) * ALIGN);
      return [`fcollapse ${off} ${len}`];
    }
    // valid: off + len < size
    const offPage = r.int(sizePages - 1);
    let lenPages = r.range(1, Math.min(8, sizePages - offPage));
    if ((offPage + lenPages) * ALIGN >= this.size) lenPages -= 1;
    if (lenPages < 1) return null;
    this.size -= lenPages * ALIGN;
    return [`fcollapse ${offPage * ALIGN} ${lenPages * ALIGN}`];
  }

  finsert(): string[] | null {
    if (!this.falloc.has('insert')) return null;
    const r = this.rng;
    const kind = r.int(10);
    if (kind === 0) {
      const off = this.alignedOffset() + r.pick([1, 5, 2047]);
      return [`finsert ${off} ${ALIGN}`];
    }
    if (kind === 1 || this.size === 0) {
      // at or after EOF: EINVAL
      const off = Math.ceil(this.size / ALIGN) * ALIGN + r.range(0, 2) * ALIGN;
      return [`finsert ${off} ${ALIGN * r.range(1, 4)}`];
    }
    const offPage = r.int(Math.ceil(this.size / ALIGN)); // off < size
    const lenPages = r.range(1, 8);
    if (this.size + lenPages * ALIGN > MAX_SIZE_AFTER_INSERT) return null;
    this.size += lenPages * ALIGN;
    return [`finsert ${offPage * ALIGN} ${lenPages * ALIGN}`];
  }

  // --- profiles ----------------------------------------------------------

  candidates(): Candidate[] {
    const c: Candidate[] = [
      { w: 30, gen: () => this.pwrite() },
      { w: 14, gen: () => this.pread() },
      { w: 8, gen: () => this.truncate() },
      { w: 5, gen: () => this.fsync() },
      { w: 4, gen: () => this.fadvise() },
      { w: 4, gen: () => this.syncRange() },
    ];
    const mm = (scale: number): Candidate[] => [
      { w: 6 * scale, gen: () => this.mmap() },
      { w: 10 * scale, gen: () => this.mread() },
      { w: 16 * scale, gen: () => this.mwrite() },
      { w: 4 * scale, gen: () => this.msync() },
      { w: 2 * scale, gen: () => this.munmap() },
      { w: 3 * scale, gen: () => this.selectMap() },
    ];
    switch (this.profile) {
      case 'buffered':
        return c;
      case 'mmap':
        return [...c, ...mm(2)];
      case 'falloc':
        return [
          ...c,
          ...mm(0.25),
          { w: 7, gen: () => this.fallocAlloc() },
          { w: 7, gen: () => this.fpunch() },
          { w: 7, gen: () => this.fzero() },
          { w: 5, gen: () => this.fcollapse() },
          { w: 5, gen: () => this.finsert() },
        ];
      case 'direct':
        return [
          ...c,
          ...mm(0.3),
          { w: 2, gen: () => this.fpunch() },
          { w: 1, gen: () => this.fallocAlloc() },
        ];
    }
  }

  generate(count: number): string[] {
    const cands = this.candidates();
    const total = cands.reduce((s, x) => s + x.w, 0);
    let guard = 0;
    while (this.out.length < count) {
      if (++guard > count * 100) throw new Error('script-gen: no applicable command (generator bug)');
      let x = this.rng.next() / 0x1_0000_0000 * total;
      let chosen = cands[cands.length - 1] as Candidate;
      for (const cand of cands) {
        if (x < cand.w) {
          chosen = cand;
          break;
        }
        x -= cand.w;
      }
      const cmds = chosen.gen();
      if (cmds) this.out.push(...cmds);
    }
    return this.out;
  }
}

/** Generate one script. Deterministic in (seed, profile, config's falloc support, min/max). */
export function generateScript(opts: GenOptions): GeneratedScript {
  const min = opts.minCommands ?? 40;
  const max = opts.maxCommands ?? 200;
  if (min < 1 || max < min) throw new Error(`script-gen: bad command count range ${min}..${max}`);
  const b = new ScriptBuilder(opts.seed, opts.profile, opts.config ?? REAL_FILE_CONFIG);
  // The truncate+remap path adds up to 3 commands at once: aim a little low.
  const count = b.rng.range(min, Math.max(min, max - 2));
  const commands = b.generate(count);
  return {
    seed: opts.seed,
    profile: opts.profile,
    direct: b.direct,
    commands,
    text: commands.join('\n') + '\n',
    finalSize: b.size,
  };
}

/** The foliofuzz CLI flags naming a config (for replay instructions). */
export function configFlags(config: SimConfig, direct: boolean): string[] {
  const fs = config.fs === 'ext4' && config.inode === 'indirect' ? 'ext4-indirect' : config.fs;
  const flags = ['--fs', fs, '--block-size', String(config.blockSize), '--folio-max', String(config.folioMax)];
  if (direct) flags.unshift('--direct');
  return flags;
}

export function describeConfig(config: SimConfig): string {
  const fs = config.fs === 'ext4' && config.inode === 'indirect' ? 'ext4-indirect' : config.fs;
  return `${fs}/bs${config.blockSize}/folio${config.folioMax}`;
}
