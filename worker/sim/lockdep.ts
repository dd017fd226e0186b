// A lockdep-style lock order graph. Each sleeping lock belongs to a class
// (i_rwsem, invalidate_lock, jbd2_handle, ...); taking class B while holding
// class A records the order A -> B. A path back from B to A is an inversion:
// two threads taking those locks in opposite orders can deadlock, so it is
// reported when the order is first seen, whether or not this run deadlocked.
// Nested locks of one class (two inodes' i_rwsem) are not ordered here.
//
// The graph is the machine's (Sched.lockOrder) and each thread's held classes
// are its own (SimThread.heldLocks): this file only keeps them, as
// kernel/locking/lockdep.c keeps its tables, so the scheduler needs nothing of it.

import { violation } from './checks.js';
import type { LockOrder, Sched } from './sched.js';

/** Is `to` reachable from `from` in the order graph? */
function lockOrderReaches(order: LockOrder, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const c = stack.pop()!;
    if (c === to) return true;
    if (seen.has(c)) continue;
    seen.add(c);
    for (const n of order.get(c) ?? []) stack.push(n);
  }
  return false;
}

/** lock_acquire: the current thread takes a lock of class `cls`. */
export function lockAcquire(s: Sched, cls: string): void {
  const t = s.current;
  if (!t) return;
  const order = s.lockOrder;
  const h = t.heldLocks;
  for (let i = 0; i < h.length; i++) {
    const prev = h[i]!;
    if (prev === cls) continue;
    let edges = order.get(prev);
    if (edges?.has(cls)) continue;
    if (lockOrderReaches(order, cls, prev)) {
      violation(s, 'INVARIANT', `lockdep:inversion:${prev}->${cls}`, 'lock_acquire',
        `${t.name} takes ${cls} while holding ${prev}, but ${cls} -> ${prev} was seen before`);
    }
    if (!edges) order.set(prev, (edges = new Set()));
    edges.add(cls);
  }
  h.push(cls);
}

/** lock_release: the current thread releases a lock of class `cls`. */
export function lockRelease(s: Sched, cls: string): void {
  const t = s.current;
  if (!t) return;
  const h = t.heldLocks;
  if (h[h.length - 1] === cls) h.pop();
  else {
    const i = h.lastIndexOf(cls);
    if (i >= 0) h.splice(i, 1);
  }
}
