// Program edits the minimizer tries: cutting ops with the ops that refer to
// them, dropping and merging threads, renumbering unused declarations. Every
// function returns a fresh Program and leaves its input alone, and carries
// the schedule's decisions along: a decision anchored at an op that moved is
// moved with it, one anchored at an op or a thread that went goes too.

import { ID_SPACES, definedId, fieldsOfKind, opValues, referencedId, rewriteRefs, type IdSpace } from '../prog/ops.js';
import { cloneProgram } from '../prog/clone.js';
import type { Decision, Op, Program } from '../prog/types.js';

/** Where an op sits: thread and index. */
export interface OpPos {
  thread: number;
  index: number;
}

/** Every op's position, thread by thread. */
export function opPositions(p: Program): OpPos[] {
  const out: OpPos[] = [];
  p.threads.forEach((t, thread) => t.ops.forEach((_, index) => out.push({ thread, index })));
  return out;
}

/** The id an op creates or uses, as `space:id`: cutting the creator (an mmap, an aio submit) must cut the users. */
function idRef(op: Op, idOf: (op: Op, space: IdSpace) => number | undefined): string | null {
  for (const space of ID_SPACES) {
    const id = idOf(op, space);
    if (id !== undefined) return `${space}:${id}`;
  }
  return null;
}

const definedRef = (op: Op): string | null => idRef(op, definedId);
const usedRef = (op: Op): string | null => idRef(op, referencedId);

/** Where a program thread's op (or its end, index = ops.length) went: null when it is gone. */
type PosMap = (thread: number, index: number) => OpPos | null;

const THREAD_LABEL = /^t(\d+)$/;

/**
 * `q` (an edit of `p`) with `p`'s decisions moved by `where`: anchors in a
 * program thread follow its op, a choice of a program thread follows the
 * thread (to where its first op went, or its end); kernel threads and
 * completions keep their names.
 */
function moveDecisions(p: Program, q: Program, where: PosMap): Program {
  const s = p.schedule;
  if (!s || s.decisions.length === 0) return q;
  const threadOf = (t: number): number | null => {
    const ops = p.threads[t]?.ops.length;
    if (ops === undefined) return null;
    for (let i = 0; i <= ops; i++) {
      const to = where(t, i);
      if (to) return to.thread;
    }
    return null;
  };
  const decisions: Decision[] = [];
  for (const d of s.decisions) {
    const at = THREAD_LABEL.exec(d.at);
    const run = THREAD_LABEL.exec(d.run);
    let moved: Decision = d;
    if (at) {
      const to = where(Number(at[1]), d.op);
      if (!to) continue;
      moved = { ...moved, at: `t${to.thread}`, op: to.index };
    }
    if (run) {
      const to = threadOf(Number(run[1]));
      if (to === null) continue;
      moved = { ...moved, run: `t${to}` };
    }
    // A thread that runs its own next op is no decision.
    if (moved.at !== moved.run) decisions.push(moved);
  }
  q.schedule = { ...s, decisions };
  return q;
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
  // Per thread, each old index's new one (-1: cut), the end included.
  const newIndex = p.threads.map((t, ti) => {
    const m: number[] = [];
    let n = 0;
    t.ops.forEach((op, oi) => {
      const u = usedRef(op);
      m.push(gone.has(`${ti}:${oi}`) || (u !== null && lost.has(u)) ? -1 : n++);
    });
    m.push(n);
    return m;
  });
  const q = cloneProgram(p);
  q.threads = p.threads.map((t, ti) => ({ ops: t.ops.filter((_, oi) => newIndex[ti]![oi]! >= 0).map((op) => ({ ...op })) }));
  return moveDecisions(p, q, (thread, index) => {
    const i = newIndex[thread]?.[index];
    return i === undefined || i < 0 ? null : { thread, index: i };
  });
}

/** Without thread `t` (at least one thread stays). */
export function dropThread(p: Program, t: number): Program {
  const q = cloneProgram(p);
  q.threads.splice(t, 1);
  return moveDecisions(p, q, (thread, index) => (thread === t ? null : { thread: thread > t ? thread - 1 : thread, index }));
}

/** Thread `from`'s ops appended to thread `into`, thread `from` removed. */
export function mergeThreads(p: Program, from: number, into: number): Program {
  const q = cloneProgram(p);
  const intoOps = q.threads[into]!.ops.length;
  const fromOps = q.threads[from]!.ops.length;
  q.threads[into]!.ops.push(...q.threads[from]!.ops);
  q.threads.splice(from, 1);
  const renamed = (t: number): number => (t > from ? t - 1 : t);
  return moveDecisions(p, q, (thread, index) => {
    if (thread === from) return { thread: renamed(into), index: intoOps + index };
    // `into` now goes on with `from`'s ops: its old end is their end.
    if (thread === into && index === intoOps) return { thread: renamed(into), index: intoOps + fromOps };
    return { thread: renamed(thread), index };
  });
}

/** The op at `from` of `thread` moved to index `to` of the same thread (the ops between close up). */
export function moveOp(p: Program, thread: number, from: number, to: number): Program {
  const q = cloneProgram(p);
  const ops = q.threads[thread]!.ops;
  const [op] = ops.splice(from, 1);
  ops.splice(to, 0, op!);
  return moveDecisions(p, q, (t, index) => {
    if (t !== thread || index === ops.length) return { thread: t, index };
    if (index === from) return { thread: t, index: to };
    if (from < index && index <= to) return { thread: t, index: index - 1 };
    if (to <= index && index < from) return { thread: t, index: index + 1 };
    return { thread: t, index };
  });
}

/** Empty threads removed (one stays). */
export function dropEmptyThreads(p: Program): Program {
  const keep = p.threads.map((t) => t.ops.length > 0);
  if (!keep.includes(true)) keep[0] = true;
  if (!keep.includes(false)) return cloneProgram(p);
  const q = cloneProgram(p);
  q.threads = q.threads.filter((_, t) => keep[t]);
  const newThread: number[] = [];
  let n = 0;
  for (const k of keep) newThread.push(k ? n++ : -1);
  return moveDecisions(p, q, (thread, index) => {
    const t = newThread[thread] ?? -1;
    return t < 0 ? null : { thread: t, index };
  });
}

/** Unused fds and files removed and the rest renumbered; map ids and iocbs renumbered from 0 / 1. */
export function renumber(p: Program): Program {
  const q = cloneProgram(p);
  const ops = q.threads.flatMap((t) => t.ops);
  const usedFds = new Set<number>();
  for (const op of ops) for (const f of fieldsOfKind(op.op, 'fd')) usedFds.add(opValues(op)[f] as number);
  const fdMap = new Map<number, number>();
  const fds = q.fds.filter((_, i) => usedFds.has(i));
  q.fds.forEach((_, i) => { if (usedFds.has(i)) fdMap.set(i, fdMap.size); });
  const usedFiles = new Set<number>(fds.map((f) => f.file));
  for (const op of ops) for (const f of fieldsOfKind(op.op, 'file')) usedFiles.add(opValues(op)[f] as number);
  const fileMap = new Map<number, number>();
  q.files.forEach((_, i) => { if (usedFiles.has(i)) fileMap.set(i, fileMap.size); });
  q.files = q.files.filter((_, i) => usedFiles.has(i));
  q.fds = fds.map((f) => ({ ...f, file: fileMap.get(f.file)! }));
  const ids: Record<IdSpace, Map<number, number>> = { map: new Map(), iocb: new Map() };
  // Map ids count from 0, iocbs from 1, in order of first appearance.
  const idBase: Record<IdSpace, number> = { map: 0, iocb: 1 };
  const idOf = (space: IdSpace, k: number): number => {
    const m = ids[space];
    if (!m.has(k)) m.set(k, m.size + idBase[space]);
    return m.get(k)!;
  };
  for (const op of ops) {
    rewriteRefs(op, (space, v) => (space === 'fd' ? fdMap.get(v)! : space === 'file' ? fileMap.get(v)! : idOf(space, v)));
  }
  return q;
}
