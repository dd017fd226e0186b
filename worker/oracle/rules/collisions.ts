// Collisions between the program's own cached writes and its direct I/O.
//
// A direct write that finds stale page cache over its range after it wrote
// (dio_warn_stale_pagecache) is a kernel bug unless the program itself wrote
// through the cache there while that direct write was in flight: the kernel
// prints the same warning for a program that races buffered and direct
// writes on one range, by design. So the program's page cache writes
// (buffered writes, stores through a mapping, ...) are kept with when they
// ran, on the op clock, with the start of each direct write still in flight.

import type { Op } from '../../prog/types.js';
import type { CacheWrite, Model, Raise, ThreadOp } from '../model.js';

/** Everything from an offset on (a truncate's reach). */
const ALL = Number.MAX_SAFE_INTEGER;

/** Page cache writes by the op, as [file, off, len], for collision tracking. */
function cacheWritesOf(m: Model, op: Op): [number, number, number][] {
  switch (op.op) {
    case 'pwrite':
    case 'aio_write': {
      const d = m.fds[op.fd]!;
      return d.direct ? [] : [[d.file, op.off, op.len]];
    }
    case 'copy_range':
      return [[m.fds[op.fdOut]!.file, op.offOut, op.len]];
    case 'mwrite': {
      const file = m.fileOfMap(op.map);
      return file >= 0 ? [[file, op.off, op.len]] : [];
    }
    case 'truncate':
      return [[m.fds[op.fd]!.file, 0, ALL]];
    case 'fallocate':
      return [[m.fds[op.fd]!.file, op.off, op.len]];
    default:
      return [];
  }
}

/** Record the op's page cache writes as running; returns them, to be closed when the op ends. */
export function openCacheWrites(m: Model, op: Op): CacheWrite[] {
  const now = m.clock;
  const mapped = op.op === 'mwrite';
  const recs = cacheWritesOf(m, op).map(([file, off, len]) => ({ file, a: off, b: off + len, start: now, end: Infinity, mapped }));
  // Forget writes that ended before every direct write still in flight began.
  if (m.cacheWrites.length > 256) {
    let oldest = Infinity;
    for (const starts of m.directStarts) for (const t of starts) oldest = Math.min(oldest, t);
    for (let i = m.cacheWrites.length - 1; i >= 0; i--) if (m.cacheWrites[i]!.end < oldest) m.cacheWrites.splice(i, 1);
  }
  m.cacheWrites.push(...recs);
  return recs;
}

/** A direct write of the file starts now: returns its start on the op clock. */
export function directStart(m: Model, file: number): number {
  const t = m.clock;
  m.directStarts[file]!.push(t);
  return t;
}

export function directEnd(m: Model, file: number, t: number): void {
  const list = m.directStarts[file]!;
  const i = list.indexOf(t);
  if (i >= 0) list.splice(i, 1);
}

/** The file a synchronous direct write op writes, else -1 (AIO ones are tracked by their submission). */
export function directWriteOf(m: Model, op: Op): number {
  if (op.op !== 'pwrite') return -1;
  const d = m.fds[op.fd]!;
  return d.direct ? d.file : -1;
}

/** Whether the program wrote cached data over [lo, hi) of the file in a write that ended at or after `since`. */
function cacheWriteSince(m: Model, file: number, since: number, lo: number, hi: number, mappedOnly = false): boolean {
  return m.cacheWrites.some((w) => w.file === file && (!mappedOnly || w.mapped) && w.end >= since && w.a < hi && w.b > lo);
}

/**
 * SIM ONLY: a direct write of thread t's op found cached data it could not
 * drop (kiocb_invalidate_pages) and goes on as a buffered write. When the
 * program's own cached write during this op is what held the cache, that
 * collision is the program's, and so is the buffered write it turns the
 * direct one into: from here on it counts as a cached write of the op, so a
 * direct write still in flight over it may find stale page cache (xfs's
 * fallback does not drain direct I/O first). An ext4 fallback over a hole is
 * not an invalidation failure and does not count.
 */
export function dioFellBack(m: Model, t: number | undefined, file: number, pos: number, len: number): void {
  const op: ThreadOp | undefined = t === undefined ? undefined : m.threadOps[t];
  if (!op) return;
  const [lo, hi] = m.folioSpan(pos, len);
  if (!cacheWriteSince(m, file, op.start, lo, hi)) return;
  const rec: CacheWrite = { file, a: pos, b: pos + len, start: m.clock, end: Infinity, mapped: false };
  m.cacheWrites.push(rec);
  op.writes.push(rec);
}

/**
 * dio_warn_stale_pagecache fired for [pos, pos+len) of the file (the whole
 * file when the trace does not say). Excused when the program wrote cached
 * data over the same folios since the oldest direct write in flight began;
 * a trace without the sim's fallback events cannot tell a direct write that
 * fell back to buffered I/O, so there any cached write the program made to
 * the file excuses it.
 */
export function stalePagecache(m: Model, raise: Raise, file: number, pos: number, len: number): void {
  m.recordError(file);
  m.wbErr[file] = true;
  const starts = m.directStarts[file]!;
  const since = m.hints ? (starts.length ? Math.min(...starts) : Infinity) : -Infinity;
  const [lo, hi] = m.folioSpan(pos, len);
  if (!cacheWriteSince(m, file, since, lo, hi)) {
    raise('WARN', 'dio_warn_stale_pagecache', 'dio_warn_stale_pagecache',
      `page cache over [${pos}, +${len}) of ${m.program.files[file]!.name} went stale under direct I/O, and the program wrote no cached data there meanwhile`);
  }
  // The collision the kernel reports this way leaves the cache and the disk
  // disagreeing over the direct write's range, by design.
  m.noteCacheDiskSplit(file, pos, Math.min(len, ALL - pos));
  m.shadows[file]!.forget(pos, len);
}

/**
 * fuse: a store through a mapping while a punch or zero range ran may have
 * reached the server by writeback before the cache was zeroed
 * (FsSemantics.fallocateRacesMappedStores): cache and server disagree over
 * the range from then on.
 */
export function fallocateRacedStores(m: Model, file: number, op: Extract<Op, { op: 'fallocate' }>, start: number): void {
  if (!m.fs.fallocateRacesMappedStores) return;
  if (op.mode !== 'punch' && op.mode !== 'zero' && op.mode !== 'zero_keep') return;
  const [lo, hi] = m.folioSpan(op.off, op.len);
  if (cacheWriteSince(m, file, start, lo, hi, true)) m.noteCacheDiskSplit(file, op.off, op.len);
}

