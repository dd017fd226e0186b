// After the program: every file read back through the page cache must equal
// the shadow (sequential programs); after a clean remount (or, on a real
// kernel, after dropping the caches) the disk must hold it too. For several
// threads, where the shadow cannot follow the schedule, what holds for any
// schedule is checked: what the page cache showed is what reached the disk.

import { errname } from '../../sim/errno.js';
import type { FinalVia, TraceEvent } from '../../trace/types.js';
import type { Model, Raise } from '../model.js';

type FinalEvent = Extract<TraceEvent, { e: 'final' }>;

/** How each read-back names its findings: the op-like name and the kernel function. */
const READ_BACK: Record<FinalVia, { what: string; fn: string }> = {
  cache: { what: 'final', fn: 'filemap_read' },
  drop_caches: { what: 'drop-caches', fn: 'drop_pagecache_sb' },
  remount: { what: 'remount', fn: 'sync_filesystem' },
};

export function readBack(m: Model, raise: Raise, ev: FinalEvent): void {
  if (ev.via === 'cache') readBackCached(m, raise, ev);
  else readBackDisk(m, raise, ev);
}

function readBackCached(m: Model, raise: Raise, ev: FinalEvent): void {
  const { file, data, err } = ev;
  const name = m.program.files[file]!.name;
  if (err !== undefined && err < 0) raise('DATA', 'final:read-error', 'filemap_read', `reading ${name} back failed: ${errname(err)}`, { file, short: true });
  m.cached[file] = { data, postEof: postEofAtReadBack(m, file, data.length), ev };
  if (m.checkReads) compareWithShadow(m, raise, ev, READ_BACK.cache.what, READ_BACK.cache.fn);
}

function readBackDisk(m: Model, raise: Raise, ev: FinalEvent): void {
  const { file, via } = ev;
  const { what, fn } = READ_BACK[via];
  if (m.checkReads) {
    if (!m.shadows[file]!.lostWrites) compareWithShadow(m, raise, ev, what, fn);
    return;
  }
  const cached = m.cached[file];
  if (!cached) return;
  const failed = m.failedWrites[file];
  // Order-independent, so it holds for any schedule: what the page cache showed is what reached the
  // disk, except where a write failed (the cache may keep what the disk never got), and stores past EOF
  // that an extension exposed unzeroed (the cache may show them, the disk zeroes; the sim says where,
  // and without it any byte a store put past EOF may differ).
  const excused = [...(failed ?? []), ...cached.postEof];
  compareCachedWithDisk(raise, cached, ev, m.program.files[file]!.name, failed !== undefined, excused, what, fn);
}

/**
 * The cached bytes of [0, len) that a store through a mapping made past EOF
 * and an extension exposed unzeroed, when the file was read back: the cache
 * may show them, the disk zeroes. A trace without the sim's posteof events
 * cannot tell which: then every byte the program stored through a mapping.
 */
function postEofAtReadBack(m: Model, file: number, len: number): [number, number][] {
  if (!m.hints) {
    return m.program.threads.flatMap((t) => t.ops.flatMap((o): [number, number][] => (o.op === 'mwrite' ? [[o.off, o.off + o.len]] : [])));
  }
  const out: [number, number][] = [];
  for (const [a, b] of m.postEof[file]!) if (Math.min(b, len) > a) out.push([a, Math.min(b, len)]);
  return out;
}

function compareCachedWithDisk(
  raise: Raise, seen: { data: Uint8Array; ev: TraceEvent }, ev: FinalEvent, name: string, writesFailed: boolean, excused: [number, number][],
  what: string, fn: string,
): void {
  const cached = seen.data;
  const disk = ev.data;
  // After a failed write the on-disk size may lag the cached one: only the common part is judged.
  if (!writesFailed && cached.length !== disk.length) {
    raise('DATA', `${what}:size`, fn, `${name} was ${cached.length} bytes in the page cache, ${disk.length} after ${what}`);
  }
  const n = Math.min(cached.length, disk.length);
  // The common case is equal contents: let the native compare say so before the byte walk.
  if (bytesEqual(cached, disk, n)) return;
  for (let d = 0; d < n; d++) {
    if (cached[d] !== disk[d] && !inRanges(excused, d)) {
      raise('DATA', `${what}:mismatch`, fn,
        `${name} byte ${d} was 0x${cached[d]!.toString(16)} in the page cache, 0x${(disk[d] ?? 0).toString(16)} after ${what}`,
        { file: ev.file, pos: d, got: disk[d] ?? -1, want: cached[d]!, expected: null, seen: { ev, index: d }, cached: { ev: seen.ev, index: d } });
    }
  }
}

function compareWithShadow(m: Model, raise: Raise, ev: FinalEvent, what: string, fn: string): void {
  const { file, data: got } = ev;
  const shadow = m.shadows[file]!;
  const want = shadow.view(0, shadow.size);
  const name = m.program.files[file]!.name;
  if (got.length !== want.length && !shadow.sizeUnknown) {
    raise('DATA', `${what}:size`, fn, `${name} is ${got.length} bytes, expected ${want.length}`, got.length < want.length ? { file, short: true } : undefined);
  }
  const d = shadow.firstDifferenceAt(0, got.subarray(0, Math.min(got.length, want.length)));
  if (d >= 0) {
    raise('DATA', `${what}:mismatch`, fn, `${name} byte ${d} is 0x${(got[d] ?? 0).toString(16)}, expected 0x${(want[d] ?? 0).toString(16)}`,
      { file, pos: d, got: got[d] ?? -1, want: want[d] ?? -1, expected: m.writerAt(file, d), seen: { ev, index: d } });
  }
}

/** Whether pos lies in one of the ranges (a loop, not a closure per byte: files differ over whole excused ranges). */
function inRanges(ranges: readonly [number, number][], pos: number): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (pos >= r[0] && pos < r[1]) return true;
  }
  return false;
}

/** Whether the first n bytes of a and b are equal (a native compare over views, no copy). */
function bytesEqual(a: Uint8Array, b: Uint8Array, n: number): boolean {
  return Buffer.from(a.buffer, a.byteOffset, n).equals(Buffer.from(b.buffer, b.byteOffset, n));
}
