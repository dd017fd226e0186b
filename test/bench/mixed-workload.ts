// The `mixed` benchmark's workload (issue 19): a long sequential xfs_io script
// on one file that uses every command the foliofuzz xfs_io importer
// (worker/prog/xfs-io.ts) accepts, drawn from a seeded RNG, so that the real
// xfs_io and `foliofuzz exec --xfs-io` can both run it and end with the same
// file.
//
// Every command is one both sides carry out without an error, on ext4 and on
// xfs with 4 KiB blocks: the generator tracks the file's size and xfs_io's
// table of mappings exactly, and draws only what is valid in that state:
// - collapse and insert ranges are block aligned, a collapse ends before EOF,
//   an insert starts before it (otherwise EINVAL);
// - mread/mwrite touch only bytes below the current EOF (a page wholly past
//   EOF is SIGBUS, which kills xfs_io), mwrite only through a writable mapping;
//   msync offsets are page aligned inside the current mapping, as xfs_io checks;
// - funshare stays inside the file: past EOF xfs grows the file and ext4 (no
//   unshare) does not, and the real ext4 and xfs files must agree;
// - the file stays below FILE_LIMIT (a few MiB, far below the sim's 64 MiB);
// - copy_range comes once, last: xfs_io closes the script's file descriptor
//   after copying (xfsprogs copy_range_f), so no command could follow it.
// A command that is not valid in the current state is drawn again, so the mix
// printed by the benchmark (the counts returned) is the one that ran.

import { Rng } from '../differential/rng.js';

/** The file stays below this many bytes. */
export const FILE_LIMIT = 4 << 20;
/** Block size of every filesystem involved (sim default, /tmp's ext4, the loop xfs), and the page size. */
const BLOCK = 4096;
const MAX_IO = 64 << 10;
const MAX_MAP_LEN = 256 << 10;
/** xfs_io keeps any number of mappings; a few keep `mmap N` meaningful. */
const MAX_MAPS = 4;

interface Mapping {
  off: number;
  len: number;
  writable: boolean;
}

interface State {
  r: Rng;
  /** The file's size after every command so far. */
  size: number;
  /** xfs_io's mapping table in creation order, and the index of the current one (-1: none). */
  maps: Mapping[];
  current: number;
}

/** One command kind: its share of the draws and its text, or null when it is not valid now. */
interface Kind {
  name: string;
  weight: number;
  gen: (st: State) => string | null;
}

export interface MixedWorkload {
  script: string;
  /** Commands per kind (the names of KINDS, plus copy_range). */
  counts: Map<string, number>;
}

// ---------------------------------------------------------------------------
// Ranges

/** A length: half small (up to a block), half up to MAX_IO, never past max. */
function ioLen(r: Rng, max: number): number {
  return r.range(1, Math.max(1, Math.min(max, r.chance(0.5) ? BLOCK : MAX_IO)));
}

/** [off, off+len) anywhere below FILE_LIMIT, a bit past EOF more often than far past it. */
function anyRange(st: State): { off: number; len: number } {
  const reach = Math.min(FILE_LIMIT - 1, st.size + MAX_IO);
  const off = st.r.int(st.r.chance(0.8) ? reach + 1 : FILE_LIMIT);
  return { off, len: ioLen(st.r, FILE_LIMIT - off) };
}

/** [off, off+len) inside the file, or null for an empty file. */
function insideRange(st: State): { off: number; len: number } | null {
  if (st.size === 0) return null;
  const off = st.r.int(st.size);
  return { off, len: ioLen(st.r, st.size - off) };
}

const grow = (st: State, end: number): void => {
  st.size = Math.max(st.size, end);
};

/** Sometimes xfs_io's short name for the command (aliases the importer knows). */
function named(st: State, name: string, alias: string): string {
  return st.r.chance(0.15) ? alias : name;
}

// ---------------------------------------------------------------------------
// Data and size

function genPwrite(st: State): string {
  const { off, len } = anyRange(st);
  grow(st, off + len);
  const bs = st.r.chance(0.1) ? ' -b 65536' : '';
  return `${named(st, 'pwrite', 'w')} -q${bs} -S 0x${st.r.range(1, 255).toString(16)} ${off} ${len}`;
}

function genPread(st: State): string {
  const { off, len } = anyRange(st);
  const bs = st.r.chance(0.1) ? ' -b 65536' : '';
  return `${named(st, 'pread', 'r')} -q${bs} ${off} ${len}`;
}

function genTruncate(st: State): string {
  // Mostly near the current size, so that the file keeps some data to map.
  st.size = st.r.chance(0.7) ? Math.min(FILE_LIMIT, st.r.int(st.size + MAX_IO + 1)) : st.r.int(FILE_LIMIT + 1);
  return `${named(st, 'truncate', 't')} ${st.size}`;
}

// ---------------------------------------------------------------------------
// fallocate and its xfs_io spellings

/** falloc [-k]: allocation, growing the file unless -k. */
function genFalloc(keep: boolean): Kind['gen'] {
  return (st) => {
    const { off, len } = anyRange(st);
    if (!keep) grow(st, off + len);
    return `falloc${keep ? ' -k' : ''} ${off} ${len}`;
  };
}

function genPunch(cmd: string): Kind['gen'] {
  return (st) => {
    const { off, len } = anyRange(st);
    return `${cmd} ${off} ${len}`;
  };
}

function genZero(st: State): string {
  const { off, len } = anyRange(st);
  const keep = st.r.chance(0.5);
  if (!keep) grow(st, off + len);
  return `fzero${keep ? ' -k' : ''} ${off} ${len}`;
}

function genUnshare(cmd: string): Kind['gen'] {
  return (st) => {
    const range = insideRange(st);
    return range === null ? null : `${cmd} ${range.off} ${range.len}`;
  };
}

/** Block-aligned, ending before EOF (a collapse that reaches EOF is EINVAL). */
function genCollapse(cmd: string): Kind['gen'] {
  return (st) => {
    const blocksBelow = Math.floor((st.size - 1) / BLOCK); // whole blocks that end before EOF
    if (st.size === 0 || blocksBelow < 1) return null;
    const len = BLOCK * st.r.range(1, Math.min(blocksBelow, MAX_IO / BLOCK));
    const off = BLOCK * st.r.int(Math.floor((st.size - 1 - len) / BLOCK) + 1);
    st.size -= len;
    return `${cmd} ${off} ${len}`;
  };
}

/** Block-aligned, starting before EOF (an insert at or past EOF is EINVAL), the file staying below FILE_LIMIT. */
function genInsert(cmd: string): Kind['gen'] {
  return (st) => {
    const room = Math.floor((FILE_LIMIT - st.size) / BLOCK);
    if (st.size === 0 || room < 1) return null;
    const len = BLOCK * st.r.range(1, Math.min(room, MAX_IO / BLOCK));
    const off = BLOCK * st.r.int(Math.ceil(st.size / BLOCK));
    st.size += len;
    return `${cmd} ${off} ${len}`;
  };
}

// ---------------------------------------------------------------------------
// Syncing and advice

function genSyncRange(st: State): string {
  const { off, len } = anyRange(st);
  const flag = st.r.pick(['', ' -a', ' -b', ' -w']);
  return `sync_range${flag} ${off} ${len}`;
}

function genFadvise(st: State): string {
  const { off, len } = anyRange(st);
  return `fadvise -d ${off} ${len}`;
}

// ---------------------------------------------------------------------------
// Mappings

function genMmap(st: State): string | null {
  if (st.maps.length >= MAX_MAPS || st.size < 1) return null;
  const off = BLOCK * st.r.int(Math.ceil(st.size / BLOCK));
  const len = st.r.range(1, Math.min(MAX_MAP_LEN, st.size - off));
  const prot = st.r.pick(['', '', ' -rw', ' -r', ' -w']);
  st.maps.push({ off, len, writable: prot !== ' -r' });
  st.current = st.maps.length - 1;
  return `${named(st, 'mmap', 'mm')}${prot} ${off} ${len}`;
}

function genSelect(st: State): string | null {
  if (st.maps.length < 2) return null;
  st.current = st.r.int(st.maps.length);
  return `${named(st, 'mmap', 'mm')} ${st.current}`;
}

/** A range of the current mapping below EOF, or the whole mapping ('') when all of it is; null when none. */
function mappedRange(st: State): string | null {
  const map = st.maps[st.current];
  if (map === undefined) return null;
  const end = Math.min(map.off + map.len, st.size);
  if (end <= map.off) return null;
  if (end === map.off + map.len && st.r.chance(0.2)) return '';
  const off = st.r.range(map.off, end - 1);
  return ` ${off} ${ioLen(st.r, end - off)}`;
}

function genMread(st: State): string | null {
  const range = mappedRange(st);
  return range === null ? null : `${named(st, 'mread', 'mr')}${range}`;
}

function genMwrite(st: State): string | null {
  if (st.maps[st.current]?.writable !== true) return null;
  const range = mappedRange(st);
  return range === null ? null : `${named(st, 'mwrite', 'mw')} -S 0x${st.r.range(1, 255).toString(16)}${range}`;
}

function genMsync(st: State): string | null {
  const map = st.maps[st.current];
  if (map === undefined) return null;
  const flags = st.r.pick(['', ' -a', ' -s', ' -i', ' -a -i', ' -s -i']);
  if (st.r.chance(0.3)) return `${named(st, 'msync', 'ms')}${flags}`;
  const off = map.off + BLOCK * st.r.int(Math.ceil(map.len / BLOCK));
  return `${named(st, 'msync', 'ms')}${flags} ${off} ${st.r.range(1, map.off + map.len - off)}`;
}

function genMunmap(st: State): string | null {
  if (st.maps.length === 0) return null;
  // As xfs_io: the entry that slides into the hole becomes current, or else the last one.
  st.maps.splice(st.current, 1);
  if (st.current === st.maps.length) st.current--;
  return named(st, 'munmap', 'mu');
}

// ---------------------------------------------------------------------------
// The mix

/** Weights are percent of draws (they add up to 100). */
const KINDS: readonly Kind[] = [
  { name: 'pwrite', weight: 17, gen: genPwrite },
  { name: 'pread', weight: 10, gen: genPread },
  { name: 'truncate', weight: 4, gen: genTruncate },
  { name: 'falloc', weight: 3, gen: genFalloc(false) },
  { name: 'falloc -k', weight: 3, gen: genFalloc(true) },
  { name: 'falloc -p', weight: 2, gen: genPunch('falloc -p') },
  { name: 'falloc -c', weight: 2, gen: genCollapse('falloc -c') },
  { name: 'falloc -i', weight: 2, gen: genInsert('falloc -i') },
  { name: 'falloc -u', weight: 2, gen: genUnshare('falloc -u') },
  { name: 'fpunch', weight: 4, gen: genPunch('fpunch') },
  { name: 'fzero', weight: 4, gen: genZero },
  { name: 'fcollapse', weight: 3, gen: genCollapse('fcollapse') },
  { name: 'finsert', weight: 3, gen: genInsert('finsert') },
  { name: 'funshare', weight: 3, gen: genUnshare('funshare') },
  { name: 'fsync', weight: 2, gen: (st) => named(st, 'fsync', 's') },
  { name: 'fdatasync', weight: 2, gen: (st) => named(st, 'fdatasync', 'ds') },
  { name: 'sync_range', weight: 3, gen: genSyncRange },
  { name: 'fadvise', weight: 3, gen: genFadvise },
  { name: 'mmap', weight: 5, gen: genMmap },
  { name: 'mmap N', weight: 2, gen: genSelect },
  { name: 'mread', weight: 7, gen: genMread },
  { name: 'mwrite', weight: 7, gen: genMwrite },
  { name: 'msync', weight: 4, gen: genMsync },
  { name: 'munmap', weight: 3, gen: genMunmap },
];
const TOTAL_WEIGHT = KINDS.reduce((s, k) => s + k.weight, 0);

function drawKind(r: Rng): Kind {
  let x = r.int(TOTAL_WEIGHT);
  for (const k of KINDS) {
    if (x < k.weight) return k;
    x -= k.weight;
  }
  throw new Error('unreachable: weights add up to TOTAL_WEIGHT');
}

/** One valid command: draws until one is valid in the current state (pwrite always is). */
function nextCommand(st: State): { name: string; line: string } {
  for (;;) {
    const k = drawKind(st.r);
    const line = k.gen(st);
    if (line !== null) return { name: k.name, line };
  }
}

/** copy_range within the file, source and destination apart (overlap is EINVAL), the source inside the file. */
function copyRange(st: State): string {
  const len = Math.max(1, Math.min(MAX_IO, st.size));
  const src = st.r.int(Math.max(1, st.size - len + 1));
  const dst = Math.min(src + len + st.r.int(MAX_IO), FILE_LIMIT - len);
  return `copy_range -s ${src} -d ${Math.max(dst, src + len)} -l ${len} -f 0`;
}

/** `commands` lines (the last one copy_range), deterministic in seed. */
export function generateMixedWorkload(seed: number, commands: number): MixedWorkload {
  const st: State = { r: new Rng(seed), size: 0, maps: [], current: -1 };
  const counts = new Map<string, number>();
  const lines: string[] = [];
  const bump = (name: string): void => {
    counts.set(name, (counts.get(name) ?? 0) + 1);
  };
  for (let i = 0; i < commands - 1; i++) {
    const { name, line } = nextCommand(st);
    lines.push(line);
    bump(name);
  }
  if (commands > 0) {
    lines.push(copyRange(st));
    bump('copy_range');
  }
  return { script: lines.join('\n') + '\n', counts };
}

/** Every kind the workload draws from, plus copy_range (for checking the mix). */
export const MIXED_KINDS: readonly string[] = [...KINDS.map((k) => k.name), 'copy_range'];
