// Import an fsx opsfile (xfstests ltp/fsx.c, written by --record-ops or on a
// failure, read back by --replay-ops).
//
// Format, from fsx's logdump() and read_op(): one op per line, words separated
// by spaces/tabs; blank lines and lines whose first word starts with '#' are
// skipped; an optional "skip" word marks an op fsx logged but did not run; then
// the op name and its arguments, each a C number (strtoul base 0, fsx writes
// them as 0x%x); then any of the flags keep_size, close_open, unshare and the
// overlap marker "*". Most ops have three arguments (offset, length, file size
// before the op; truncate logs 0, new size, old size); clone_range,
// dedupe_range, copy_range and exchange_range have four (offset, length,
// destination, file size).
//
// The ops are what fsx --replay-ops runs: skipped lines run nothing (not even
// their close_open), a close_open flag closes the file, drops caches and opens
// it again after the op, mapread/mapwrite map just the pages they touch, and a
// mapwrite that extends the file truncates it up first and ends with
// msync(MS_SYNC). fsx's data pattern is not reproduced: each write stores one
// fill byte derived from its op number (1-based, counting every op line, as
// fsx's "operation# (mod 256)" does), never 0 so written data never looks like
// a hole. fsx's startup probes (truncate and fallocate tests) are not replayed.

import { strtoul } from './cnum.js';
import { LineError, atLine, singleFileProgram } from './script.js';
import type { FallocMode, Op, Program, SimConfig } from './types.js';

export interface FsxOptions {
  /** fsx -Z: the file is opened O_DIRECT. */
  direct: boolean;
  config: SimConfig;
}

/** fsx maps whole pages around a mapped access; getpagesize() on x86-64. */
const PAGE_SIZE = 4096;
/** fsx keeps its arguments in C ints. */
const MAX_ARG = 0x7fffffff;
const FD = 0;


function fail(reason: string): never {
  throw new LineError(reason);
}

const FLAGS = ['keep_size', 'close_open', 'unshare', '*'] as const;
type Flag = (typeof FLAGS)[number];

interface Entry {
  /** 1-based number of this op among all op lines. */
  opNumber: number;
  skipped: boolean;
  name: string;
  args: number[];
  flags: Set<Flag>;
}

/** The state fsx itself tracks while replaying, and what the import needs to emit ops. */
interface ReplayState {
  config: SimConfig;
  /** fsx's idea of the file size: a mapwrite past it truncates up first. */
  fileSize: number;
  nextMapId: number;
}

type Converter = (e: Entry, st: ReplayState) => Op[];

// ---------------------------------------------------------------------------
// Parsing one line

function parseArg(word: string): number {
  const n = strtoul(word);
  if (n === null || n.rest !== '') fail(`bad number "${word}"`);
  if (n.value > BigInt(MAX_ARG)) fail(`number ${word} is out of range (fsx arguments are below 2^31)`);
  return Number(n.value);
}

function parseEntry(words: readonly string[], opNumber: number): Entry {
  let i = 0;
  const skipped = words[0] === 'skip';
  if (skipped) i++;
  const name = words[i++];
  if (name === undefined) fail('"skip" without an operation');
  const spec = Object.hasOwn(OPS, name) ? OPS[name] : undefined;
  if (spec === undefined) fail(`unknown operation "${name}" (known: ${Object.keys(OPS).join(', ')})`);
  const args: number[] = [];
  for (let a = 0; a < spec.args; a++) {
    const word = words[i++];
    if (word === undefined) fail(`${name} needs ${spec.args} arguments, got ${a}`);
    args.push(parseArg(word));
  }
  const flags = new Set<Flag>();
  for (const word of words.slice(i)) {
    const flag = FLAGS.find((f) => f === word);
    if (flag === undefined) fail(`unknown flag "${word}" (known: ${FLAGS.join(', ')})`);
    flags.add(flag);
  }
  return { opNumber, skipped, name, args, flags };
}

// ---------------------------------------------------------------------------
// Converting one op

function arg(e: Entry, n: number): number {
  return e.args[n] ?? 0;
}

function fillFor(e: Entry): number {
  return 1 + ((e.opNumber - 1) % 255);
}

function grow(st: ReplayState, end: number): void {
  st.fileSize = Math.max(st.fileSize, end);
}

function refuse(why: string): Converter {
  return () => fail(why);
}

function fallocate(mode: FallocMode, growsFile: boolean): Converter {
  return (e, st) => {
    const off = arg(e, 0);
    const len = arg(e, 1);
    if (growsFile) grow(st, off + len);
    return [{ op: 'fallocate', fd: FD, mode, off, len }];
  };
}

/** The fallocate op: mode 0, plus KEEP_SIZE and/or UNSHARE_RANGE from the flags. */
const convertFallocate: Converter = (e, st) => {
  const keep = e.flags.has('keep_size');
  const unshare = e.flags.has('unshare');
  let mode: FallocMode = keep ? 'keep_size' : 'alloc';
  if (unshare) {
    // There is no UNSHARE|KEEP_SIZE mode in the Program language. The simulator
    // has no shared extents, so on xfs unsharing is just allocation and the pair
    // behaves as KEEP_SIZE; elsewhere any UNSHARE fails with EOPNOTSUPP alike.
    mode = keep && st.config.fs === 'xfs' ? 'keep_size' : 'unshare';
  }
  return fallocate(mode, !keep)(e, st);
};

const convertZeroRange: Converter = (e, st) => {
  const keep = e.flags.has('keep_size');
  return fallocate(keep ? 'zero_keep' : 'zero', !keep)(e, st);
};

const convertCollapse: Converter = (e, st) => {
  st.fileSize = Math.max(0, st.fileSize - arg(e, 1));
  return fallocate('collapse', false)(e, st);
};

const convertInsert: Converter = (e, st) => {
  st.fileSize += arg(e, 1);
  return fallocate('insert', false)(e, st);
};

/** domapread(): map the pages around the range read-only, load, unmap. */
const convertMapread: Converter = (e, st) => {
  const off = arg(e, 0);
  const len = arg(e, 1);
  const pg = off % PAGE_SIZE;
  const map = st.nextMapId++;
  return [
    { op: 'mmap', map, fd: FD, off: off - pg, len: pg + len, prot: 'r' },
    { op: 'mread', map, off, len },
    { op: 'munmap', map },
  ];
};

/** domapwrite(): extend with ftruncate if needed, map read-write, store, msync(MS_SYNC), unmap. */
const convertMapwrite: Converter = (e, st) => {
  const off = arg(e, 0);
  const len = arg(e, 1);
  const pg = off % PAGE_SIZE;
  const map = st.nextMapId++;
  const ops: Op[] = [];
  if (off + len > st.fileSize) {
    st.fileSize = off + len;
    ops.push({ op: 'truncate', fd: FD, size: off + len });
  }
  ops.push(
    { op: 'mmap', map, fd: FD, off: off - pg, len: pg + len, prot: 'rw' },
    { op: 'mwrite', map, off, len, fill: fillFor(e) },
    { op: 'msync', map, off: off - pg, len: pg + len, sync: true },
    { op: 'munmap', map },
  );
  return ops;
};

interface OpSpec {
  args: 3 | 4;
  convert: Converter;
}

const OPS: Record<string, OpSpec> = {
  read: { args: 3, convert: (e) => [{ op: 'pread', fd: FD, off: arg(e, 0), len: arg(e, 1) }] },
  read_dontcache: { args: 3, convert: refuse('read_dontcache (RWF_DONTCACHE) is not supported by the simulator') },
  write: {
    args: 3,
    convert: (e, st) => {
      grow(st, arg(e, 0) + arg(e, 1));
      return [{ op: 'pwrite', fd: FD, off: arg(e, 0), len: arg(e, 1), fill: fillFor(e) }];
    },
  },
  write_dontcache: { args: 3, convert: refuse('write_dontcache (RWF_DONTCACHE) is not supported by the simulator') },
  write_atomic: { args: 3, convert: refuse('write_atomic (RWF_ATOMIC) is not supported by the simulator; record with fsx -a') },
  mapread: { args: 3, convert: convertMapread },
  mapwrite: { args: 3, convert: convertMapwrite },
  truncate: {
    args: 3,
    convert: (e, st) => {
      st.fileSize = arg(e, 1);
      return [{ op: 'truncate', fd: FD, size: arg(e, 1) }];
    },
  },
  fallocate: { args: 3, convert: convertFallocate },
  punch_hole: { args: 3, convert: fallocate('punch', false) },
  zero_range: { args: 3, convert: convertZeroRange },
  collapse_range: { args: 3, convert: convertCollapse },
  insert_range: { args: 3, convert: convertInsert },
  clone_range: { args: 4, convert: refuse('clone_range is not supported by the simulator (no reflink); record with fsx -J') },
  dedupe_range: { args: 4, convert: refuse('dedupe_range is not supported by the simulator (no reflink); record with fsx -B') },
  exchange_range: { args: 4, convert: refuse('exchange_range is not supported by the simulator; record with fsx -0') },
  copy_range: {
    args: 4,
    convert: (e, st) => {
      grow(st, arg(e, 2) + arg(e, 1));
      return [{ op: 'copy_range', fdIn: FD, offIn: arg(e, 0), fdOut: FD, offOut: arg(e, 2), len: arg(e, 1) }];
    },
  },
  fsync: { args: 3, convert: () => [{ op: 'fsync', fd: FD }] },
};

/** What fsx --replay-ops does for one entry. */
function replay(e: Entry, st: ReplayState): Op[] {
  if (e.skipped) return [];
  const spec = OPS[e.name];
  if (spec === undefined) fail(`unknown operation "${e.name}"`);
  const ops = spec.convert(e, st);
  // docloseopen(): close, echo 3 > drop_caches, open. The Program's drop_caches
  // syncs first, so it goes after the reopen: the new fd must not sample
  // writeback errors that in fsx would only happen later.
  if (e.flags.has('close_open')) ops.push({ op: 'close_open', fd: FD }, { op: 'drop_caches' });
  return ops;
}

/** Parse an fsx opsfile into a one-file, one-fd, one-thread Program. */
export function parseFsxOps(text: string, source: string, opts: FsxOptions): Program {
  const st: ReplayState = { config: opts.config, fileSize: 0, nextMapId: 0 };
  const ops: Op[] = [];
  let opNumber = 0;
  text.split('\n').forEach((raw, i) => {
    // read_op() tokenises with strtok(" \t\n"); a CR from a CRLF file is dropped too.
    const words = raw.split(/[ \t\r]+/).filter((w) => w !== '');
    if (words.length === 0 || words[0]?.startsWith('#') === true) return;
    atLine(source, i + 1, () => {
      const entry = parseEntry(words, ++opNumber);
      ops.push(...replay(entry, st));
    });
  });
  return singleFileProgram(ops, opts.config, opts.direct, source);
}
