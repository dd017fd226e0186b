// Program edits the minimizer tries: cutting ops with the ops that refer to
// them, dropping and merging threads, renumbering unused declarations. Every
// function returns a fresh Program and leaves its input alone.

import type { Op, Program } from '../prog/types.js';

/** Where an op sits: thread and index. */
export interface OpPos {
  thread: number;
  index: number;
}

export function clone<T>(p: T): T {
  return structuredClone(p);
}

/** Every op's position, thread by thread. */
export function opPositions(p: Program): OpPos[] {
  const out: OpPos[] = [];
  p.threads.forEach((t, thread) => t.ops.forEach((_, index) => out.push({ thread, index })));
  return out;
}

/** A mapping op names its map; an aio op its iocb: cutting the creator must cut the users. */
function definedRef(op: Op): string | null {
  if (op.op === 'mmap') return `map:${op.map}`;
  if (op.op === 'aio_write' || op.op === 'aio_read') return `iocb:${op.iocb}`;
  return null;
}

function usedRef(op: Op): string | null {
  if (op.op === 'mread' || op.op === 'mwrite' || op.op === 'msync' || op.op === 'munmap') return `map:${op.map}`;
  if (op.op === 'aio_wait') return `iocb:${op.iocb}`;
  return null;
}

/**
 * Remove the ops at `cut` and every op that refers to something only a cut op
 * defined (an mread whose mmap goes, an aio_wait whose aio_write goes).
 */
export function cutOps(p: Program, cut: readonly OpPos[]): Program {
  const gone = new Set(cut.map((c) => `${c.thread}:${c.index}`));
  const defs = new Map<string, number>();
  const lost = new Set<string>();
  p.threads.forEach((t, ti) => t.ops.forEach((op, oi) => {
    const d = definedRef(op);
    if (d === null) return;
    defs.set(d, (defs.get(d) ?? 0) + 1);
    if (gone.has(`${ti}:${oi}`)) lost.add(d);
  }));
  // A map id defined twice keeps a definer unless both go; count what stays.
  for (const d of [...lost]) {
    let left = 0;
    p.threads.forEach((t, ti) => t.ops.forEach((op, oi) => {
      if (definedRef(op) === d && !gone.has(`${ti}:${oi}`)) left++;
    }));
    if (left > 0) lost.delete(d);
  }
  const q = clone(p);
  q.threads = p.threads.map((t, ti) => ({
    ops: t.ops.filter((op, oi) => {
      if (gone.has(`${ti}:${oi}`)) return false;
      const u = usedRef(op);
      return u === null || !lost.has(u);
    }).map((op) => ({ ...op })),
  }));
  return q;
}

/** Without thread `t` (at least one thread stays). */
export function dropThread(p: Program, t: number): Program {
  const q = clone(p);
  q.threads.splice(t, 1);
  return q;
}

/** Thread `from`'s ops appended to thread `into`, thread `from` removed. */
export function mergeThreads(p: Program, from: number, into: number): Program {
  const q = clone(p);
  q.threads[into]!.ops.push(...q.threads[from]!.ops);
  q.threads.splice(from, 1);
  return q;
}

/** Empty threads removed (one stays). */
export function dropEmptyThreads(p: Program): Program {
  const q = clone(p);
  const kept = q.threads.filter((t) => t.ops.length > 0);
  q.threads = kept.length > 0 ? kept : [q.threads[0]!];
  return q;
}

function fdFields(op: Op): ('fd' | 'fdIn' | 'fdOut')[] {
  if (op.op === 'copy_range') return ['fdIn', 'fdOut'];
  return 'fd' in op ? ['fd'] : [];
}

/** Unused fds and files removed and the rest renumbered; map ids and iocbs renumbered from 0 / 1. */
export function renumber(p: Program): Program {
  const q = clone(p);
  const ops = q.threads.flatMap((t) => t.ops);
  const usedFds = new Set<number>();
  for (const op of ops) for (const f of fdFields(op)) usedFds.add((op as Record<string, unknown>)[f] as number);
  const fdMap = new Map<number, number>();
  const fds = q.fds.filter((_, i) => usedFds.has(i));
  q.fds.forEach((_, i) => { if (usedFds.has(i)) fdMap.set(i, fdMap.size); });
  const usedFiles = new Set<number>(fds.map((f) => f.file));
  for (const op of ops) if (op.op === 'evict') usedFiles.add(op.file);
  const fileMap = new Map<number, number>();
  q.files.forEach((_, i) => { if (usedFiles.has(i)) fileMap.set(i, fileMap.size); });
  q.files = q.files.filter((_, i) => usedFiles.has(i));
  q.fds = fds.map((f) => ({ ...f, file: fileMap.get(f.file)! }));
  const mapIds = new Map<number, number>();
  const iocbs = new Map<number, number>();
  const idOf = (m: Map<number, number>, k: number, base: number): number => {
    if (!m.has(k)) m.set(k, m.size + base);
    return m.get(k)!;
  };
  for (const op of ops) {
    const rec = op as Record<string, unknown>;
    for (const f of fdFields(op)) rec[f] = fdMap.get(rec[f] as number)!;
    if (op.op === 'evict') op.file = fileMap.get(op.file)!;
    if ('map' in op) op.map = idOf(mapIds, op.map, 0);
    if ('iocb' in op) op.iocb = idOf(iocbs, op.iocb, 1);
  }
  return q;
}
