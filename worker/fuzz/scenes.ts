// Scenes: short sequences of ops on one spot (the generator's `focus`) that
// put the ingredients of the storage bugs next to each other: durable data
// then an AIO in flight with I/O next to it, preallocated blocks under
// writeback and reclaim then a partial write, a fault on a cached range, a
// power cut after fsync, the page at EOF under a mapping while the file grows,
// stores behind a write in another thread. The generator mixes them with
// single ops (generate.ts).

import assert from 'node:assert/strict';
import type { FallocMode, Op, OpName } from '../prog/types.js';
import { isAioSubmit } from '../prog/ops.js';
import { type OpGen, PAGE, SECTOR } from './op-gen.js';

/** What happens around a scene: the ops that meet its state. */
const SCENE_WEIGHTS: readonly (readonly [OpName, number])[] = [
  ['pwrite', 10], ['pread', 8], ['truncate', 3], ['fallocate', 4], ['fsync', 2], ['mmap', 1], ['mwrite', 2],
  ['writeback_kick', 1], ['reclaim', 1],
];

/** How often each scene is played: the races that need the most luck with the schedule come most often. */
const SCENES: readonly (readonly ['persist' | 'aio' | 'unwritten' | 'fault' | 'durable' | 'eof', number])[] = [
  ['persist', 1.5], ['aio', 4], ['unwritten', 3], ['fault', 1.5], ['durable', 1], ['eof', 1.5],
];

/** A few blocks written and made durable: mapped blocks on disk, sometimes a hole after them inside EOF. */
function scenePersist(g: OpGen, t: number): Op[] {
  const r = g.rng;
  const bs = g.config.blockSize;
  const fd = g.fdOf(false);
  const out: Op[] = [{ op: 'pwrite', fd, off: g.focus, len: bs * r.range(1, 2), fill: g.nextFill() }];
  if (r.chance(0.5)) out.push({ op: 'truncate', fd, size: g.focus + r.pick([g.config.folioMax, 2 * bs, PAGE]) });
  out.push(r.chance(0.8) ? { op: 'fsync', fd } : { op: 'writeback_kick' });
  if (r.chance(0.4)) out.push({ op: 'drop_caches' });
  return out.map((o) => g.record(o)!).concat(sceneOps(g, t, r.range(0, 2)));
}

/** An AIO in flight while other I/O hits the same blocks, then reaped, then read back. */
function sceneAio(g: OpGen, t: number): Op[] {
  const r = g.rng;
  const bs = g.config.blockSize;
  const out: Op[] = [];
  // Mostly over blocks made durable first: then the direct I/O really goes async (no fallback).
  if (r.chance(0.8)) {
    const fd = g.fdOf(false);
    out.push({ op: 'pwrite', fd, off: g.focus, len: bs * (r.chance(0.7) ? 1 : 2), fill: g.nextFill() });
    if (r.chance(0.75)) out.push({ op: 'truncate', fd, size: g.focus + Math.max(g.config.folioMax, 2 * bs) });
    out.push({ op: 'fsync', fd });
    for (const o of out) g.record(o);
  }
  const dfd = g.fdWhere(true);
  let submit: Op | null;
  if (dfd >= 0 && r.chance(0.7)) {
    const iocb = g.nextIocb++;
    (g.pending[t] ??= []).push(iocb);
    submit = g.record(r.chance(0.8)
      ? { op: 'aio_write', fd: dfd, off: g.focus, len: bs, fill: g.nextFill(), iocb }
      : { op: 'aio_read', fd: dfd, off: g.focus, len: bs, iocb });
  } else submit = g.op(r.chance(0.8) ? 'aio_write' : 'aio_read', t);
  if (!submit) return out;
  out.push(submit);
  out.push(...(r.chance(0.7) ? [neighbourIo(g, submit)] : sceneOps(g, t, r.range(1, 3))));
  if (r.chance(0.85)) out.push(g.op('aio_wait', t)!);
  if (r.chance(0.5)) out.push(g.op('pread', t)!);
  return out.filter((o) => o !== null);
}

/** A write or read of the block next to (or at) an in-flight AIO, direct or buffered: they share a folio. */
function neighbourIo(g: OpGen, aio: Op): Op {
  const r = g.rng;
  const bs = g.config.blockSize;
  const at = isAioSubmit(aio) ? aio.off : g.focus;
  const off = Math.max(0, at + r.pick([bs, bs, bs, -bs, 0]));
  const fd = g.fdOf(r.chance(0.6));
  const op: Op = r.chance(0.7)
    ? { op: 'pwrite', fd, off, len: bs * r.range(1, 2), fill: g.nextFill() }
    : { op: 'pread', fd, off: r.chance(0.5) ? off : at, len: bs };
  return g.record(op)!;
}

/** Preallocated (unwritten) blocks written, written back and reclaimed while another write comes in. */
function sceneUnwritten(g: OpGen, t: number): Op[] {
  const r = g.rng;
  const bs = g.config.blockSize;
  const fd = g.fdOf(false);
  const mode = r.pick<FallocMode>(['alloc', 'keep_size', 'zero']);
  const out: Op[] = [
    { op: 'fallocate', fd, mode, off: g.focus, len: r.pick([bs * r.range(1, 4), g.config.folioMax]) },
  ];
  out.push({ op: 'pwrite', fd, off: g.focus, len: r.range(1, 2) * bs, fill: g.nextFill() });
  for (const o of out) g.record(o);
  const races: Op[] = [{ op: 'writeback_kick' }, { op: 'reclaim' }];
  if (r.chance(0.3)) races.reverse();
  out.push(...races.map((o) => g.record(o)!));
  // A partial-block write into what was written: it must read the block, not zero it.
  if (r.chance(0.6)) out.push(g.record({ op: 'pwrite', fd, off: g.focus + r.range(1, bs - 1), len: r.range(1, 200), fill: g.nextFill() })!);
  out.push(...sceneOps(g, t, r.range(0, 2)));
  return out;
}

/** An injected I/O error on a cached range, then ops that meet its aftermath. */
function sceneFault(g: OpGen, t: number): Op[] {
  const r = g.rng;
  const fd = g.fdOf(false);
  const out: Op[] = [];
  if (r.chance(0.35)) return sceneReadFault(g, t, fd);
  if (r.chance(0.6)) out.push(g.record({ op: 'pread', fd, off: g.focus, len: g.config.folioMax })!);
  out.push(g.op('fail_bio', t)!);
  out.push(...sceneOps(g, t, r.range(1, 3)));
  return out;
}

/**
 * Flaky storage on the read side: blocks made durable and dropped from the
 * cache, a read of them that fails (the folio stays cached, not uptodate),
 * then a write into part of a block there (write_begin must read the rest)
 * and a read back.
 */
function sceneReadFault(g: OpGen, t: number, fd: number): Op[] {
  const r = g.rng;
  const bs = g.config.blockSize;
  const out: Op[] = [
    { op: 'pwrite', fd, off: g.focus, len: bs * r.range(1, 3), fill: g.nextFill() },
    r.chance(0.8) ? { op: 'fsync', fd } : { op: 'writeback_kick' },
    r.pick<Op>([{ op: 'drop_caches' }, { op: 'fadvise_dontneed', fd, off: 0, len: 0 }, { op: 'reclaim' }]),
    { op: 'fail_bio', write: false, skip: r.chance(0.8) ? 0 : 1 },
    { op: 'pread', fd, off: g.focus, len: g.config.folioMax },
  ];
  const at = g.focus + r.int(2) * bs + r.range(1, bs - 1);
  out.push({ op: 'pwrite', fd, off: at, len: r.range(1, 200), fill: g.nextFill() });
  for (const o of out) g.record(o);
  out.push(...(r.chance(0.7) ? [g.record({ op: 'pread', fd, off: g.focus, len: g.config.folioMax })!] : sceneOps(g, t, r.range(1, 2))));
  return out;
}

/**
 * Write, make it durable, write more over and past it (sometimes pushed to
 * the device's volatile cache), cut the power, read back: the fsynced bytes
 * must survive, the later ones may or may not.
 */
function sceneDurable(g: OpGen): Op[] {
  const r = g.rng;
  const bs = g.config.blockSize;
  const fd = g.fdOf(false);
  const out: Op[] = [{ op: 'pwrite', fd, off: g.focus, len: bs * r.range(1, 4), fill: g.nextFill() }];
  if (r.chance(0.3)) out.push({ op: 'fallocate', fd, mode: r.pick<FallocMode>(['keep_size', 'alloc']), off: g.focus + bs * r.range(0, 4), len: bs * r.range(1, 4) });
  out.push(r.chance(0.8) ? { op: 'fsync', fd } : { op: 'fdatasync', fd });
  for (let i = r.range(1, 3); i > 0; i--) {
    const off = Math.max(0, g.focus + r.range(-1, 5) * bs + (r.chance(0.3) ? r.range(1, bs - 1) : 0));
    out.push(r.chance(0.85)
      ? { op: 'pwrite', fd: g.fdOf(r.chance(0.2)), off: Math.floor(off / SECTOR) * SECTOR, len: bs * r.range(1, 3), fill: g.nextFill() }
      : { op: 'truncate', fd, size: off });
  }
  if (r.chance(0.5)) out.push(r.chance(0.5) ? { op: 'writeback_kick' } : { op: 'sync_file_range', fd, off: 0, len: 0, flags: 6 });
  // Live mappings refuse the cut (-EBUSY, as a remount does): unmap them first.
  for (const map of [...g.maps.keys()]) {
    g.maps.delete(map);
    out.push({ op: 'munmap', map });
  }
  out.push({ op: 'power_cut', seed: r.int(2 ** 31) });
  for (const o of out) g.record(o);
  out.push(g.record({ op: 'pread', fd, off: Math.max(0, g.focus - bs), len: bs * r.range(2, 8) })!);
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
function sceneEofPage(g: OpGen): Op[] {
  const r = g.rng;
  const bs = g.config.blockSize;
  const fd = g.fdOf(false);
  const page = Math.floor(g.focus / PAGE) * PAGE;
  const sub = bs < PAGE && r.chance(0.7) ? r.range(1, PAGE / bs - 1) * bs : r.range(1, PAGE - 1);
  const eof = page + sub;
  const map = g.nextMap++;
  const len = page + 2 * PAGE;
  g.maps.set(map, { fd, off: 0, len });
  const below = page + r.int(sub);
  const out: Op[] = [
    { op: 'truncate', fd, size: eof },
    { op: 'mmap', map, fd, off: 0, len, prot: 'rw' },
    { op: 'mwrite', map, off: below, len: Math.min(r.range(1, 200), eof - below), fill: g.nextFill() },
  ];
  if (r.chance(0.5)) out.push({ op: 'writeback_kick' });
  const dfd = g.fdWhere(true);
  switch (r.int(dfd >= 0 ? 4 : 3)) {
    case 0: out.push({ op: 'pwrite', fd, off: page + r.int(sub), len: r.range(PAGE - sub + 1, 2 * PAGE), fill: g.nextFill() }); break;
    case 1: out.push({ op: 'truncate', fd, size: page + PAGE * r.range(1, 3) }); break;
    case 2: out.push({ op: 'fallocate', fd, mode: r.pick<FallocMode>(['alloc', 'zero']), off: eof + r.range(0, 2) * bs, len: bs * r.range(1, 3) }); break;
    default: out.push({ op: 'pwrite', fd: dfd, off: page + PAGE * r.range(1, 2), len: bs * r.range(1, 2), fill: g.nextFill() }); break;
  }
  out.push({ op: 'mwrite', map, off: eof + r.int(PAGE - sub), len: r.range(1, 300), fill: g.nextFill() });
  if (dfd >= 0 && r.chance(0.5)) out.push({ op: 'pread', fd: dfd, off: page, len: PAGE });
  else {
    if (r.chance(0.5)) out.push({ op: 'fsync', fd }, { op: 'drop_caches' });
    out.push({ op: 'pread', fd, off: page, len: PAGE });
  }
  for (const o of out) g.record(o);
  return out;
}

function sceneOps(g: OpGen, t: number, n: number): Op[] {
  const out: Op[] = [];
  for (let i = 0; i < n; i++) {
    const op = g.op(g.rng.weighted(SCENE_WEIGHTS), t);
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
export function sceneStoresBehindWrite(g: OpGen): [Op[], Op[]] {
  assert(g.gen.scenes, 'a scene played with scenes off (fuzz --no-scenes)');
  const r = g.rng;
  const bs = g.config.blockSize;
  const unit = Math.max(g.config.folioMax, PAGE);
  const fd = g.fdOf(false);
  const start = r.int(2) * unit;
  const tail = r.range(1, bs - 1);
  const end = start + r.range(2, 4) * unit - tail;
  const size = Math.ceil(end / unit) * unit + r.range(1, 2) * unit;
  const storer: Op[] = [];
  storer.push(r.chance(0.6) ? { op: 'truncate', fd, size } : { op: 'pwrite', fd, off: size - 100, len: 100, fill: g.nextFill() });
  const map = g.nextMap++;
  g.maps.set(map, { fd, off: 0, len: size });
  storer.push({ op: 'mmap', map, fd, off: 0, len: size, prot: 'rw' });
  const at = r.chance(0.8) ? end + r.int(tail) : Math.max(0, end + r.range(-2, 2) * bs);
  const len = Math.max(1, Math.min(r.range(1, 200), size - at));
  storer.push({ op: 'mwrite', map, off: at, len, fill: g.nextFill() });
  const hole = Math.ceil(end / unit) * unit + r.int(size - Math.ceil(end / unit) * unit - 100);
  storer.push(r.chance(0.8) ? { op: 'mwrite', map, off: hole, len: r.range(1, 100), fill: g.nextFill() } : { op: 'writeback_kick' });
  storer.push(r.chance(0.6) ? { op: 'pread', fd, off: at, len } : { op: 'mread', map, off: at, len });
  const writer: Op[] = [{ op: 'pwrite', fd, off: start, len: end - start, fill: g.nextFill() }];
  for (const o of [...storer, ...writer]) g.record(o);
  return [writer, storer];
}

/** A short sequence of ops on one spot; the generator mixes these with single ops. */
export function scene(g: OpGen, t: number): Op[] {
  assert(g.gen.scenes, 'a scene played with scenes off (fuzz --no-scenes)');
  const r = g.rng;
  const unit = r.chance(0.5) ? g.config.folioMax : g.config.blockSize;
  g.focus = r.int(Math.floor(g.span / unit)) * unit;
  let ops: Op[];
  switch (r.weighted(SCENES)) {
    case 'persist': ops = scenePersist(g, t); break;
    case 'aio': ops = sceneAio(g, t); break;
    case 'unwritten': ops = sceneUnwritten(g, t); break;
    case 'fault': ops = sceneFault(g, t); break;
    case 'durable': ops = sceneDurable(g); break;
    case 'eof': ops = sceneEofPage(g); break;
  }
  if (r.chance(0.5)) g.focus = -1;
  return ops;
}
