// A DATA finding named by its cause, from byte provenance (sim/provenance.ts):
// the oracle says which byte is wrong and whose write should be there (its
// DataFault); the sim's tags say what is there instead and how it got there,
// and its record of dirty data thrown away says where the write was lost.
//
//   lost-write <expected> <- <how> @ <fn>   the write took effect and a later
//       kernel path undid it: zeroed (a zeroing over it), dropped (its dirty
//       folio removed), skipped (writeback left it out), reread (a read from
//       storage over it), or another op's bytes
//   stale <expected> <- <what shows> @ <fn> what the reader saw is older than
//       the write: bytes placed (by fn) before it, that nothing replaced
//   lost-zero <expected> <- <what> @ <fn>   zeroes an op implied were undone
//
// The words of the message say the same with offsets and ops ("byte 5120:
// stored by t0 #3 mwrite, zeroed by writeback at EOF (flush)").

import { expectedWord, writerWords } from '../oracle/cause.js';
import type { DataFault, Writer } from '../oracle/model.js';
import type { Program } from '../prog/types.js';
import type { DataCause } from '../report/signature.js';
import type { TagRun } from '../sim/byte-runs.js';
import type { ProvDrop, ProvTag, Provenance } from '../sim/provenance.js';
import type { TraceEvent } from '../trace/types.js';

/** What the sim knows besides the fault: the tags of each event's data, and each file's inode number. */
export interface CauseContext {
  prov: Provenance;
  program: Program;
  runsOf: (ev: TraceEvent) => TagRun[] | undefined;
  inoOf: (file: number) => number;
}

const DATA_PATHS = new Set(['write', 'store', 'dio']);

/** The word a signature names bytes by, from their tag's path (a store is a write through the page cache: oracle/cause.ts). */
function pathWord(t: ProvTag): string {
  switch (t.path) {
    case 'store':
      return 'write';
    case 'zero':
      return 'zeroed';
    default:
      return t.path;
  }
}

/** Kernel functions, in words. */
const FN_WORDS: Readonly<Record<string, string>> = {
  iomap_writeback_handle_eof: 'zeroed by writeback at EOF',
  __iomap_write_begin: 'zeroed by write_begin',
  iomap_zero_iter: 'zeroed by a zero range',
  truncate_inode_partial_folio: 'zeroed by truncation of a partial folio',
  pagecache_isize_extended: 'zeroed as i_size grew',
  iomap_dio_zero: 'zeroed by direct I/O sub-block padding',
  fuse_fallocate: 'zeroed by the FUSE server (fallocate)',
  fuse_do_setattr: 'zeroed by the FUSE server (truncate)',
  iomap_read_folio_iter: 'read as a hole',
  iomap_dio_hole_iter: 'read as a hole by direct I/O',
  fuse_short_read: 'read past the FUSE server\'s EOF',
};

function who(t: ProvTag, p: Program): string {
  if (t.thread === '') return '';
  const m = /^t(\d+)$/.exec(t.thread);
  const op = m ? p.threads[Number(m[1])]?.ops[t.op] : undefined;
  return m ? ` (t${m[1]} #${t.op}${op ? ` ${op.op}` : ''})` : ` (${t.thread})`;
}

/** A tag in words: how the bytes got there, by whom. */
function tagWords(prov: Provenance, p: Program, t: ProvTag): string {
  switch (t.path) {
    case 'never':
      return 'never written on the device';
    case 'uninit':
      return 'uninitialised memory';
    case 'write':
      return `written${who(t, p)}`;
    case 'store':
      return `stored${who(t, p)}`;
    case 'dio':
      return `written by direct I/O${who(t, p)}`;
    case 'zero':
    case 'hole':
      return `${FN_WORDS[t.fn] ?? `zeroed by ${t.fn}`}${who(t, p)}`;
    case 'read':
      return `read from storage by ${t.fn}, where it was ${tagWords(prov, p, prov.origin(t.id))}`;
  }
}

const DROP_WORDS: Readonly<Record<ProvDrop['how'], string>> = {
  dropped: 'dropped with its dirty folio by',
  skipped: 'never written back: skipped by',
  reread: 'read over from storage by',
  kept: 'left in the page cache over the direct write as it completed in',
};

/** The tags op i of thread t made (its bytes), oldest first. */
function tagsOf(prov: Provenance, w: Writer): ProvTag[] {
  const name = `t${w.t}`;
  return prov.tags.filter((x) => x.thread === name && x.op === w.i && (w.kind === 'data' ? DATA_PATHS.has(x.path) : x.path === 'zero'));
}

function tagAt(runs: TagRun[] | undefined, index: number): number | null {
  const r = runs?.find(([a, b]) => index >= a && index < b);
  return r ? r[2] : null;
}

/** The first loss after `since` of bytes at pos of the file (where they were then) whose origin is one of `tags`. */
function dropOf(ctx: CauseContext, ino: number, pos: number, since: number, tags: Set<number>): ProvDrop | null {
  for (const d of ctx.prov.drops) {
    if (d.ino !== ino || d.seq <= since || d.how === 'kept') continue;
    const t = tagAt(d.runs, ctx.prov.positionThen(ino, pos, d));
    if (t !== null && (tags.has(t) || tags.has(ctx.prov.origin(t).id))) return d;
  }
  return null;
}

/**
 * A direct write that completed at or after `since` with a folio still
 * cached over pos: whatever that folio held or came to hold (a read in
 * flight ends later) is older than the write.
 */
function keptAt(ctx: CauseContext, ino: number, pos: number, since: number): ProvDrop | null {
  const prov = ctx.prov;
  return prov.drops.find((d) => d.ino === ino && d.how === 'kept' && d.seq >= since && tagAt(d.runs, prov.positionThen(ino, pos, d)) !== null) ?? null;
}

/**
 * The read path a reread is named by: the one that issued the read, not the
 * bio completion that filled the folio (iomap_read_folio_iter issues the
 * reads of read_folio and readahead, and zero-fills their holes, whose bytes
 * iomap_read_end_io or it then places), so one bug's rereads share a name
 * whether the block held data or was a hole.
 */
const READ_ISSUER: Readonly<Record<string, string>> = { iomap_read_end_io: 'iomap_read_folio_iter' };

function readIssuer(fn: string): string {
  return READ_ISSUER[fn] ?? fn;
}

interface Verdict {
  cause: DataCause;
  /** What replaced the expected bytes, in words. */
  words: string;
}

/**
 * When the expected bytes were where a reader finds them: a direct write's
 * once they reached storage, others once they were in the page cache.
 */
function arrival(prov: Provenance, mine: readonly ProvTag[]): number {
  if (mine.length === 0) return 0;
  if (mine.every((t) => t.path !== 'dio')) return mine[0]!.id;
  const landed = mine.map((t) => prov.landed.get(t.id) ?? Infinity);
  return Math.min(...landed);
}

/** Expected bytes (an op's tags `mine`, named `expected`) against what was read, `actual`. */
function classify(ctx: CauseContext, file: number, pos: number, expected: string, mine: ProvTag[], actual: ProvTag): Verdict {
  const { prov, program: p } = ctx;
  const origin = prov.origin(actual.id);
  const ids = new Set(mine.map((t) => t.id));
  const first = mine[0]?.id ?? 0;
  const arrived = arrival(prov, mine);
  const lost: DataCause['cls'] = expected === 'write' || expected === 'dio' ? 'lost-write' : 'lost-zero';
  const ino = ctx.inoOf(file);
  // The first thing that undid the expected bytes: a zeroing over them, or a record of them thrown away.
  const zeroed = origin.path === 'zero' && origin.id > first && !ids.has(origin.id) ? origin : null;
  const drop = mine.length > 0 ? dropOf(ctx, ino, pos, first, ids) : null;
  if (drop && (!zeroed || drop.seq <= zeroed.id)) {
    // A drop loses cached data: bytes of a direct write it lost went through
    // the page cache (a fallback to a buffered write for part of the range).
    const cached = expected === 'dio' ? 'write' : expected;
    const fn = drop.how === 'reread' ? readIssuer(drop.fn) : drop.fn;
    return { cause: { cls: lost, expected: cached, how: drop.how, fn }, words: `${DROP_WORDS[drop.how]} ${drop.fn}; the reader got bytes ${tagWords(prov, p, actual)}` };
  }
  if (zeroed) return { cause: { cls: lost, expected, how: 'zeroed', fn: zeroed.fn }, words: tagWords(prov, p, zeroed) };
  const kept = mine.some((t) => t.path === 'dio') ? keptAt(ctx, ino, pos, arrived) : null;
  if (kept) return { cause: { cls: 'stale', expected, how: 'cached', fn: kept.fn }, words: `${tagWords(prov, p, actual)}, ${DROP_WORDS.kept} ${kept.fn}` };
  if (actual.id > arrived && (actual.path === 'read' || actual.path === 'hole')) {
    // A hole read as zeroes is a read from storage too: what storage held replaced the cached bytes.
    return { cause: { cls: lost, expected, how: 'reread', fn: readIssuer(actual.fn) }, words: tagWords(prov, p, actual) };
  }
  if (origin.id > first && DATA_PATHS.has(origin.path)) {
    return { cause: { cls: lost, expected, how: pathWord(origin), fn: origin.fn }, words: tagWords(prov, p, origin) };
  }
  // Older than the expected bytes: what shows was put there (by actual.fn) before they arrived, and nothing replaced it.
  return { cause: { cls: 'stale', expected, how: pathWord(origin), fn: actual.fn || origin.fn }, words: tagWords(prov, p, actual) };
}

/**
 * The expected op's own bytes were read, and they are wrong: the op copied
 * them (copy_file_range) from a source that held wrong bytes then. What the
 * source had lost before the copy read it is the cause; else what it held.
 */
function copiedWrong(ctx: CauseContext, w: Writer, pos: number, mineTag: ProvTag, expected: string): Verdict | null {
  const { prov, program: p } = ctx;
  const op = p.threads[w.t]?.ops[w.i];
  if (op?.op !== 'copy_range' || mineTag.from < 0) return null;
  const srcFile = p.fds[op.fdIn]!.file;
  const srcPos = op.offIn + (pos - op.offOut);
  const whence = `copied from ${p.files[srcFile]?.name ?? '?'} byte ${srcPos}`;
  const ino = ctx.inoOf(srcFile);
  const loss = [...prov.drops].reverse().find((d) => d.ino === ino && d.how !== 'kept' && d.seq <= mineTag.id && tagAt(d.runs, srcPos) !== null);
  if (loss) return { cause: { cls: 'lost-write', expected, how: loss.how, fn: loss.fn }, words: `${whence}, whose data was ${DROP_WORDS[loss.how]} ${loss.fn} before the copy read it` };
  const src = prov.origin(mineTag.from);
  return { cause: { cls: 'stale', expected, how: pathWord(src), fn: prov.tags[mineTag.from]!.fn }, words: `${whence}, which held bytes ${tagWords(prov, p, prov.tags[mineTag.from]!)}` };
}

/**
 * The word a signature names the expected bytes by: the oracle's (by the op
 * and its descriptor), except that a direct write whose bytes the sim put
 * through the page cache (ext4's fallback to a buffered write) came that way.
 */
function expectedOf(p: Program, w: Writer, mine: readonly ProvTag[]): string {
  const word = expectedWord(p, w);
  return word === 'dio' && mine.length > 0 && mine.every((t) => t.path !== 'dio') ? 'write' : word;
}

/** The cause of a wrong byte, or null when the sim's provenance has nothing on it. */
export function causeOf(ctx: CauseContext, fault: DataFault): { cause: DataCause; words: string } | null {
  const { prov, program: p } = ctx;
  const actualTag = tagAt(ctx.runsOf(fault.seen.ev), fault.seen.index);
  if (actualTag === null) return null;
  const actual = prov.tags[actualTag]!;
  if (fault.cached) return cacheAgainstDisk(ctx, fault, actual);
  if (!fault.expected) return null;
  const mine = tagsOf(prov, fault.expected);
  const expected = expectedOf(p, fault.expected, mine);
  const own = [actual, prov.origin(actual.id)].find((t) => mine.includes(t));
  const v = (own ? copiedWrong(ctx, fault.expected, fault.pos, own, expected) : null) ??
    classify(ctx, fault.file, fault.pos, expected, mine, actual);
  return { cause: v.cause, words: `byte ${fault.pos}: ${writerWords(p, fault.expected)}, ${v.words}` };
}

/**
 * Several threads, the page cache against the disk: the newer of the two
 * bytes is the one the other should hold (a write lost on the way to the
 * disk, or a cache that kept older bytes than the disk got).
 */
function cacheAgainstDisk(ctx: CauseContext, fault: DataFault, disk: ProvTag): { cause: DataCause; words: string } | null {
  const { prov, program: p } = ctx;
  const cachedTag = tagAt(ctx.runsOf(fault.cached!.ev), fault.cached!.index);
  if (cachedTag === null) return null;
  const cached = prov.tags[cachedTag]!;
  const stale = keptOverDirectWrite(ctx, fault.file, fault.pos, cached, disk);
  if (stale) {
    const dio = prov.origin(disk.id);
    return { cause: { cls: 'stale', expected: 'dio', how: 'cached', fn: stale.fn }, words: `byte ${fault.pos}: ${tagWords(prov, p, dio)} (on the disk), the page cache kept bytes ${tagWords(prov, p, prov.origin(cached.id))}, ${DROP_WORDS.kept} ${stale.fn}` };
  }
  const [newer, older, where] = prov.origin(cached.id).id > prov.origin(disk.id).id ? [cached, disk, 'the page cache'] : [disk, cached, 'the disk'];
  const origin = prov.origin(newer.id);
  // Zeroes the cache or the disk got, from a zeroing or from a hole read, are zeroes either way.
  const expected = origin.path === 'zero' || origin.path === 'hole' ? 'zeroed' : pathWord(origin);
  const v = classify(ctx, fault.file, fault.pos, expected, [origin], older);
  return { cause: v.cause, words: `byte ${fault.pos}: ${tagWords(prov, p, origin)} (in ${where}), ${v.words}` };
}

/**
 * The disk holds a direct write's bytes and the page cache the bytes a folio
 * held over them as that write completed: the cache kept them across the
 * write (no invalidation dropped them), so they are the stale side, however
 * recent (a hole read while the write's unwritten extent was not yet
 * converted, a buffered write racing the direct one). Which of the two came
 * last says nothing then: the write's completion is what made the cache stale.
 */
function keptOverDirectWrite(ctx: CauseContext, file: number, pos: number, cached: ProvTag, disk: ProvTag): ProvDrop | null {
  const prov = ctx.prov;
  const dio = prov.origin(disk.id);
  if (dio.path !== 'dio') return null;
  const ino = ctx.inoOf(file);
  const kept = keptAt(ctx, ino, pos, prov.landed.get(dio.id) ?? dio.id);
  const t = kept ? tagAt(kept.runs, prov.positionThen(ino, pos, kept)) : null;
  return t !== null && prov.origin(t).id === prov.origin(cached.id).id ? kept : null;
}
