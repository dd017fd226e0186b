// Import an xfs_io script: one command per line, exactly as it would be passed
// to `xfs_io -c`, run against one file.
//
// The meaning of each command is xfs_io's own (xfsprogs io/*.c, checked against
// xfs_io 6.1 on a real kernel):
// - words are split on single spaces only (libxcmd breakline(): a tab is part of a word);
// - options use glibc getopt, so they may come after the operands;
// - numbers go through cvtnum(): strtoll base 0 plus one unit letter, where
//   b is the fs block size (xfs files) or 4096 (any other fs: "foreign" files)
//   and s is the 512-byte sector;
// - pwrite/pread issue syscalls of at most -b bytes, by default the same block
//   size as b; pwrite's default fill is 0xcd (seed 0xcdcdcdcd, memset keeps
//   the low byte), mwrite's is 'X';
// - mmap maps [off, off+len) MAP_SHARED, PROT_READ|PROT_WRITE|PROT_EXEC when
//   no -r/-w/-x is given, and makes it the current mapping; mread/mwrite/msync
//   take FILE offsets that must lie in the current mapping, and with no range use
//   all of it; munmap removes the current mapping and the next one (or else the
//   previous one) becomes current; `mmap N` selects mapping N;
// - sync_range flags are "last option wins": -a WAIT_AFTER, -b WAIT_BEFORE,
//   -w WRITE, and WRITE when none is given.
// A command that xfs_io would reject before doing any I/O (unknown command, bad
// option, missing or non-numeric argument, no current mapping, a range outside
// the mapping) is an input error here; a syscall that fails at run time is the
// simulator's business. Features the Program language cannot express are
// refused with a reason instead of being approximated.

import { atoi, cvtnum, lowByte, strtol, strtoul } from './cnum.js';
import { LineError, atLine, singleFileProgram } from './script.js';
import { getopt, GetoptError, type ParsedArgs } from './getopt.js';
import {
  SYNC_FILE_RANGE_WAIT_AFTER,
  SYNC_FILE_RANGE_WAIT_BEFORE,
  SYNC_FILE_RANGE_WRITE,
  type FallocMode,
  type MmapProt,
  type Op,
  type Program,
  type SimConfig,
} from './types.js';
import { MAX_BYTE_VALUE, fileReachError } from './validate.js';

export interface XfsIoOptions {
  /** Open the file O_DIRECT, as `xfs_io -d`. */
  direct: boolean;
  config: SimConfig;
}

/** The x86-64 page size: mmap offsets and msync addresses must be multiples of it. */
const PAGE_SIZE = 4096;
const SECTOR_SIZE = 512;
/** What init_cvtnum() reports for a file that is not on xfs. */
const FOREIGN_BLOCK_SIZE = 4096;
const PWRITE_DEFAULT_FILL = 0xcd;
const MWRITE_DEFAULT_FILL = 0x58; // 'X'
/** The one file and fd of an imported script. */
const FD = 0;

/** A problem with one line; the caller adds FILE:LINE. */

function fail(reason: string): never {
  throw new LineError(reason);
}

interface Mapping {
  id: number;
  off: number;
  len: number;
}

interface ScriptState {
  /** cvtnum's "b" and the default -b size. */
  blockSize: number;
  /** xfs_io's mapping table, in creation order. */
  maps: Mapping[];
  /** Index into maps of the current mapping, or -1. */
  current: number;
  nextMapId: number;
  /** The line being parsed. */
  lineNo: number;
  /** Set once a command leaves the file descriptor closed: later commands cannot be reproduced. */
  fdClosedBy?: string;
}

interface Command {
  argmin: number;
  /** -1: no limit. */
  argmax: number;
  /** xfs_io refuses the command ("no mapped regions") while no mapping exists. */
  needsMapping: boolean;
  usage: string;
  run(args: readonly string[], st: ScriptState, cmd: string): Op[];
}

// ---------------------------------------------------------------------------
// Argument helpers

function options(args: readonly string[], optstring: string): ParsedArgs {
  try {
    return getopt(args, optstring);
  } catch (err) {
    if (err instanceof GetoptError) fail(err.message);
    throw err;
  }
}

function usage(cmd: string, text: string): never {
  fail(`bad arguments; usage: ${cmd} ${text}`);
}

/** A cvtnum() byte count; `what` completes xfs_io's "non-numeric ... -- X" message. */
function bytes(st: ScriptState, text: string, what: string): number {
  const value = cvtnum(st.blockSize, SECTOR_SIZE, text);
  if (value === null || value < 0n) fail(`non-numeric ${what} -- ${text}`);
  if (value >= BigInt(MAX_BYTE_VALUE)) fail(`${what} ${text} is beyond the simulator's range (below 2^40 bytes)`);
  return Number(value);
}

function offLen(st: ScriptState, operands: readonly string[]): { off: number; len: number } {
  return {
    off: bytes(st, operands[0] ?? '', 'offset argument'),
    len: bytes(st, operands[1] ?? '', 'length argument'),
  };
}

/** Refuse an option that xfs_io accepts but the Program language cannot express. */
function unsupported(opt: string, why: string): never {
  fail(`-${opt} is not supported: ${why}`);
}

function currentMap(st: ScriptState): Mapping {
  const map = st.maps[st.current];
  if (map === undefined) fail('no mapped regions');
  return map;
}

/**
 * The range check of xfs_io's check_mapping_range(). xfs_io compares the end of
 * the range with mapping offset + length (not just length), so it lets some
 * accesses run past a mapping that does not start at 0; those touch memory
 * outside the mapping, so here the whole range must lie inside it.
 */
function checkMappingRange(map: Mapping, off: number, len: number, pageAlign: boolean): void {
  const end = map.off + map.len;
  if (off < map.off) fail(`offset (${off}) is before start of mapping (${map.off})`);
  if (off > end) fail(`offset (${off}) is beyond end of mapping [${map.off}, ${end})`);
  if (off + len > end) fail(`range [${off}, ${off + len}) is beyond mapping [${map.off}, ${end})`);
  if (pageAlign && (off - map.off) % PAGE_SIZE !== 0) fail(`offset address (${off}) is not page aligned`);
}

/** The range of a mread/mwrite/msync: the whole current mapping, or "off len" inside it. */
function mappingRange(st: ScriptState, operands: readonly string[], cmd: string, text: string,
  pageAlign: boolean): { map: Mapping; off: number; len: number } {
  const map = currentMap(st);
  if (operands.length === 0) return { map, off: map.off, len: map.len };
  if (operands.length !== 2) usage(cmd, text);
  const { off, len } = offLen(st, operands);
  checkMappingRange(map, off, len, pageAlign);
  return { map, off, len };
}

// ---------------------------------------------------------------------------
// Commands

const PWRITE_USAGE = '[-S seed] [-b bs] [-O] off len';

function runPwrite(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'b:BCdDf:Fi:NqRs:OS:uV:wWZ:');
  let fill = PWRITE_DEFAULT_FILL;
  let bsize: number | undefined = st.blockSize;
  let once = false;
  for (const { opt, arg = '' } of parsed.options) {
    switch (opt) {
      case 'b':
        bsize = bytes(st, arg, 'bsize');
        if (bsize === 0) fail('bsize 0 is not supported: xfs_io would write nothing');
        break;
      case 'S': {
        const seed = strtoul(arg);
        if (seed === null) fail(`non-numeric seed -- ${arg}`);
        fill = lowByte(seed.value); // memset() of the buffer keeps the seed's low byte
        break;
      }
      case 'O':
        once = true;
        break;
      case 'C': case 'F': case 'q':
        break; // output format and the default (forward) direction
      case 'B': case 'R': case 'Z':
        unsupported(opt, 'only forward writes are modelled');
      case 'd': case 'f': case 'i': case 's':
        unsupported(opt, 'the data comes from another file');
      case 'D': case 'N':
        unsupported(opt, 'pwritev2 flags are not modelled');
      case 'V':
        unsupported(opt, 'vectored writes are not modelled');
      case 'u':
        unsupported(opt, 'the buffer contents would be undefined');
      case 'w': case 'W':
        unsupported(opt, 'xfs_io syncs only if the write succeeded; add an fsync/fdatasync line');
      default:
        fail(`invalid option -- '${opt}'`);
    }
  }
  if (parsed.operands.length !== 2) usage(cmd, PWRITE_USAGE);
  const { off, len } = offLen(st, parsed.operands);
  // -O is a single pwrite of the whole length: no chunking.
  if (once) bsize = undefined;
  return [bsize === undefined ? { op: 'pwrite', fd: FD, off, len, fill } : { op: 'pwrite', fd: FD, off, len, fill, bsize }];
}

const PREAD_USAGE = '[-b bs] [-qv] off len';

function runPread(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'b:BCFRquvV:Z:');
  let bsize = st.blockSize;
  for (const { opt, arg = '' } of parsed.options) {
    switch (opt) {
      case 'b':
        bsize = bytes(st, arg, 'bsize');
        if (bsize === 0) fail('bsize 0 is not supported: xfs_io would read nothing');
        break;
      case 'C': case 'F': case 'q': case 'v':
        break; // output format, dump, the default direction
      case 'B': case 'R': case 'Z':
        unsupported(opt, 'only forward reads are modelled');
      case 'V':
        unsupported(opt, 'vectored reads are not modelled');
      case 'u':
        unsupported(opt, 'unaligned buffers are not modelled');
      default:
        fail(`invalid option -- '${opt}'`);
    }
  }
  if (parsed.operands.length !== 2) usage(cmd, PREAD_USAGE);
  const [offText = '', lenText = ''] = parsed.operands;
  const off = bytes(st, offText, 'offset argument');
  // xfs_io reads to EOF when the length is not a number; a Program op needs a length.
  const count = cvtnum(st.blockSize, SECTOR_SIZE, lenText);
  if (count === null || count < 0n) fail(`reading to EOF (length ${lenText}) is not supported: give a length`);
  const len = bytes(st, lenText, 'length argument');
  return [{ op: 'pread', fd: FD, off, len, bsize }];
}

function runTruncate(args: readonly string[], st: ScriptState): Op[] {
  return [{ op: 'truncate', fd: FD, size: bytes(st, args[0] ?? '', 'truncate argument') }];
}

/** falloc's options each set the whole mode: the last one wins. */
const FALLOC_OPTION_MODES: Record<string, FallocMode> = {
  c: 'collapse', i: 'insert', k: 'keep_size', p: 'punch', u: 'unshare',
};

function runFalloc(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'cikpu');
  let mode: FallocMode = 'alloc';
  for (const { opt } of parsed.options) mode = FALLOC_OPTION_MODES[opt] ?? mode;
  if (parsed.operands.length !== 2) usage(cmd, '[-c] [-i] [-k] [-p] [-u] off len');
  return [{ op: 'fallocate', fd: FD, mode, ...offLen(st, parsed.operands) }];
}

/** fpunch, fcollapse, finsert: exactly "off len", no options (xfs_io reads argv[1] and argv[2]). */
function fallocFixed(mode: FallocMode): Command['run'] {
  return (args, st) => [{ op: 'fallocate', fd: FD, mode, ...offLen(st, args) }];
}

function runFunshare(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, '');
  if (parsed.operands.length !== 2) usage(cmd, 'off len');
  return [{ op: 'fallocate', fd: FD, mode: 'unshare', ...offLen(st, parsed.operands) }];
}

function runFzero(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'k');
  const keep = parsed.options.length > 0;
  if (parsed.operands.length !== 2) usage(cmd, '[-k] off len');
  return [{ op: 'fallocate', fd: FD, mode: keep ? 'zero_keep' : 'zero', ...offLen(st, parsed.operands) }];
}

function runFadvise(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'dnrsw');
  // Like xfs_io, the last option decides the advice.
  const last = parsed.options[parsed.options.length - 1]?.opt;
  if (last !== 'd') {
    fail(`only -d (POSIX_FADV_DONTNEED) is supported; other advice changes nothing the simulator models`);
  }
  if (parsed.operands.length !== 2) usage(cmd, '-d off len');
  return [{ op: 'fadvise_dontneed', fd: FD, ...offLen(st, parsed.operands) }];
}

const SYNC_RANGE_FLAGS: Record<string, number> = {
  a: SYNC_FILE_RANGE_WAIT_AFTER,
  b: SYNC_FILE_RANGE_WAIT_BEFORE,
  w: SYNC_FILE_RANGE_WRITE,
};

function runSyncRange(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'abw');
  // xfs_io assigns rather than ORs the flags: "-a -w" is WRITE alone.
  const last = parsed.options[parsed.options.length - 1]?.opt;
  const flags = last === undefined ? SYNC_FILE_RANGE_WRITE : SYNC_RANGE_FLAGS[last] ?? SYNC_FILE_RANGE_WRITE;
  if (parsed.operands.length !== 2) usage(cmd, '[-abw] off len');
  return [{ op: 'sync_file_range', fd: FD, ...offLen(st, parsed.operands), flags }];
}

const MMAP_USAGE = '[N] | [-rwx] [-s size] off len';

function runMmap(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  // Without a range, mmap lists the mappings or selects one (atoi of the argument, whatever it is).
  if (args.length <= 1) {
    if (st.maps.length === 0) fail('no mapped regions');
    if (args.length === 1) {
      const n = atoi(args[0] ?? '');
      if (n < 0 || n >= st.maps.length) fail(`value ${n} is out of range (0-${st.maps.length})`);
      st.current = n;
    }
    return [];
  }
  const parsed = options(args, 'rwxSs:');
  let read = false;
  let write = false;
  let exec = false;
  for (const { opt } of parsed.options) {
    if (opt === 'r') read = true;
    if (opt === 'w') write = true;
    if (opt === 'x') exec = true;
    if (opt === 'S') unsupported(opt, 'MAP_SYNC needs DAX, which the simulator does not model');
    // -s only reserves address space before mapping: nothing to model.
  }
  if (parsed.operands.length !== 2) usage(cmd, MMAP_USAGE);
  if (!read && !write && !exec) read = write = exec = true;
  // x86-64 page tables cannot map exec-only: PROT_EXEC alone still allows loads.
  const prot: MmapProt = write ? (read || exec ? 'rw' : 'w') : 'r';
  const { off, len } = offLen(st, parsed.operands);
  const id = st.nextMapId++;
  // mmap(2) fails with EINVAL for a zero length or an unaligned offset, and then
  // xfs_io adds no mapping; the op still runs (and fails) in the simulator.
  if (len > 0 && off % PAGE_SIZE === 0) {
    st.maps.push({ id, off, len });
    st.current = st.maps.length - 1;
  }
  return [{ op: 'mmap', map: id, fd: FD, off, len, prot }];
}

function runMread(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  // -r only reverses the order of the loads; -f and -v only dump what was read.
  const parsed = options(args, 'frv');
  const { map, off, len } = mappingRange(st, parsed.operands, cmd, '[-frv] [off len]', false);
  return [{ op: 'mread', map: map.id, off, len }];
}

function runMwrite(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'rS:');
  let fill = MWRITE_DEFAULT_FILL;
  for (const { opt, arg = '' } of parsed.options) {
    if (opt !== 'S') continue; // -r only reverses the order of the stores
    const seed = strtol(arg);
    if (seed === null) fail(`non-numeric seed -- ${arg}`);
    fill = lowByte(seed.value); // stored through a char
  }
  const { map, off, len } = mappingRange(st, parsed.operands, cmd, '[-r] [-S seed] [off len]', false);
  return [{ op: 'mwrite', map: map.id, off, len, fill }];
}

function runMsync(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 'ais');
  const given = new Set(parsed.options.map((o) => o.opt));
  // msync(2) rejects MS_ASYNC|MS_SYNC with EINVAL, which the op cannot say.
  if (given.has('a') && given.has('s')) fail(`-a and -s together are not supported (msync fails with EINVAL)`);
  // MS_INVALIDATE does nothing to a shared file mapping on Linux: -i is accepted and has no op of its own.
  const { map, off, len } = mappingRange(st, parsed.operands, cmd, '[-ais] [off len]', true);
  return [{ op: 'msync', map: map.id, off, len, sync: given.has('s') }];
}

function runMunmap(_args: readonly string[], st: ScriptState): Op[] {
  const map = currentMap(st);
  st.maps.splice(st.current, 1);
  // As xfs_io: the entry that slid into the hole becomes current, or the last one.
  if (st.current === st.maps.length) st.current--;
  return [{ op: 'munmap', map: map.id }];
}

const COPY_RANGE_USAGE = '[-s src_off] [-d dst_off] -l len -f 0';

function runCopyRange(args: readonly string[], st: ScriptState, cmd: string): Op[] {
  const parsed = options(args, 's:d:l:f:');
  let offIn = 0;
  let offOut = 0;
  let len: number | undefined;
  let fromOpenFile = false;
  for (const { opt, arg = '' } of parsed.options) {
    if (opt === 's') offIn = bytes(st, arg, 'source offset');
    if (opt === 'd') offOut = bytes(st, arg, 'destination offset');
    if (opt === 'l') len = bytes(st, arg, 'length');
    if (opt === 'f') {
      if (atoi(arg) !== 0) fail(`file value ${atoi(arg)} is out of range (0-0): the script has one open file`);
      fromOpenFile = true;
    }
  }
  if (!fromOpenFile) {
    if (parsed.operands.length !== 1) usage(cmd, COPY_RANGE_USAGE);
    fail(`copying from another file is not supported; use -f 0 (the script's file)`);
  }
  if (parsed.operands.length !== 0) usage(cmd, COPY_RANGE_USAGE);
  if (len === undefined) fail(`-l len is required (without it xfs_io copies up to the source's size at run time)`);
  // xfs_io closes the source fd after the copy, and with -f that is the script's
  // own file descriptor (xfsprogs copy_range_f closes it unconditionally).
  st.fdClosedBy = `${cmd} -f on line ${st.lineNo} closed it (xfs_io closes the source fd after copying)`;
  return [{ op: 'copy_range', fdIn: FD, offIn, fdOut: FD, offOut, len }];
}

function fixed(op: 'fsync' | 'fdatasync'): Command['run'] {
  return () => [{ op, fd: FD }];
}

// argmin/argmax and the mapping requirement are those of the xfs_io command table.
const COMMANDS: Record<string, Command> = {
  pwrite: { argmin: 2, argmax: -1, needsMapping: false, usage: PWRITE_USAGE, run: runPwrite },
  pread: { argmin: 2, argmax: -1, needsMapping: false, usage: PREAD_USAGE, run: runPread },
  truncate: { argmin: 1, argmax: 1, needsMapping: false, usage: 'off', run: runTruncate },
  falloc: { argmin: 2, argmax: -1, needsMapping: false, usage: '[-c] [-i] [-k] [-p] [-u] off len', run: runFalloc },
  fpunch: { argmin: 2, argmax: 2, needsMapping: false, usage: 'off len', run: fallocFixed('punch') },
  fcollapse: { argmin: 2, argmax: 2, needsMapping: false, usage: 'off len', run: fallocFixed('collapse') },
  finsert: { argmin: 2, argmax: 2, needsMapping: false, usage: 'off len', run: fallocFixed('insert') },
  funshare: { argmin: 2, argmax: 2, needsMapping: false, usage: 'off len', run: runFunshare },
  fzero: { argmin: 2, argmax: 3, needsMapping: false, usage: '[-k] off len', run: runFzero },
  fsync: { argmin: 0, argmax: 0, needsMapping: false, usage: '', run: fixed('fsync') },
  fdatasync: { argmin: 0, argmax: 0, needsMapping: false, usage: '', run: fixed('fdatasync') },
  fadvise: { argmin: 0, argmax: -1, needsMapping: false, usage: '-d off len', run: runFadvise },
  sync_range: { argmin: 2, argmax: -1, needsMapping: false, usage: '[-abw] off len', run: runSyncRange },
  mmap: { argmin: 0, argmax: -1, needsMapping: false, usage: MMAP_USAGE, run: runMmap },
  mread: { argmin: 0, argmax: -1, needsMapping: true, usage: '[-frv] [off len]', run: runMread },
  mwrite: { argmin: 0, argmax: -1, needsMapping: true, usage: '[-r] [-S seed] [off len]', run: runMwrite },
  msync: { argmin: 0, argmax: -1, needsMapping: true, usage: '[-ais] [off len]', run: runMsync },
  munmap: { argmin: 0, argmax: 0, needsMapping: true, usage: '', run: runMunmap },
  copy_range: { argmin: 1, argmax: 8, needsMapping: false, usage: COPY_RANGE_USAGE, run: runCopyRange },
};

/** xfs_io's short command names. */
const ALIASES: Record<string, string> = {
  w: 'pwrite', r: 'pread', t: 'truncate', s: 'fsync', ds: 'fdatasync',
  mm: 'mmap', mr: 'mread', mw: 'mwrite', ms: 'msync', mu: 'munmap',
};

function argCountError(cmd: string, given: number, c: Command): string {
  if (c.argmax === -1) return `bad argument count ${given} to ${cmd}, expected at least ${c.argmin} arguments`;
  if (c.argmin === c.argmax) return `bad argument count ${given} to ${cmd}, expected ${c.argmin} arguments`;
  return `bad argument count ${given} to ${cmd}, expected between ${c.argmin} and ${c.argmax} arguments`;
}

function lookup(name: string): { cmd: string; command: Command } {
  const cmd = Object.hasOwn(ALIASES, name) ? ALIASES[name] ?? name : name;
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (command === undefined) {
    fail(`command "${name}" not found or not supported (supported: ${Object.keys(COMMANDS).join(', ')})`);
  }
  return { cmd, command };
}

/** The ops of one script line, in the order xfs_io checks things. */
function parseLine(words: readonly string[], st: ScriptState): Op[] {
  const [name = '', ...args] = words;
  const { cmd, command } = lookup(name);
  if (st.fdClosedBy !== undefined) fail(`${cmd}: the file is no longer open: ${st.fdClosedBy}`);
  if (command.needsMapping && st.maps.length === 0) fail(`${cmd}: no mapped regions`);
  if (args.length < command.argmin || (command.argmax !== -1 && args.length > command.argmax)) {
    fail(`${argCountError(cmd, args.length, command)}; usage: ${cmd} ${command.usage}`.trimEnd());
  }
  try {
    const ops = command.run(args, st, cmd);
    for (const op of ops) {
      const e = fileReachError(op);
      if (e) fail(e.message);
    }
    return ops;
  } catch (err) {
    // Name the command in every message, as xfs_io's own do.
    if (err instanceof LineError) throw new LineError(`${cmd}: ${err.message}`);
    throw err;
  }
}

/** Parse an xfs_io script into a one-file, one-fd, one-thread Program. */
export function parseXfsIoScript(text: string, source: string, opts: XfsIoOptions): Program {
  const st: ScriptState = {
    blockSize: opts.config.fs === 'xfs' ? opts.config.blockSize : FOREIGN_BLOCK_SIZE,
    maps: [],
    current: -1,
    nextMapId: 0,
    lineNo: 0,
  };
  const ops: Op[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    // breakline() splits on ' ' only and drops empty words.
    const words = line.split(' ').filter((w) => w !== '');
    st.lineNo = i + 1;
    atLine(source, i + 1, () => ops.push(...parseLine(words, st)));
  });
  return singleFileProgram(ops, opts.config, opts.direct, source);
}
