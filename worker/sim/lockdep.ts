// A lockdep-style lock order graph. Each sleeping lock belongs to a class
// (i_rwsem, invalidate_lock, jbd2_handle, ...); taking class B while holding
// class A records the order A -> B. A path back from B to A is an inversion:
// two threads taking those locks in opposite orders can deadlock, so it is
// reported when the order is first seen, whether or not this run deadlocked.
// Nested locks of one class (two inodes' i_rwsem) are not ordered here.

import { violation } from './checks.js';
import type { Sched } from './sched.js';

export class LockDep {
  /** class -> classes taken while holding it */
  private readonly after = new Map<string, Set<string>>();

  /** Is `to` reachable from `from` in the order graph? */
  private reaches(from: string, to: string): boolean {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const c = stack.pop()!;
      if (c === to) return true;
      if (seen.has(c)) continue;
      seen.add(c);
      for (const n of this.after.get(c) ?? []) stack.push(n);
    }
    return false;
  }

  /** The current thread takes a lock of class `cls`. */
  acquire(s: Sched, cls: string): void {
    const t = s.current;
    if (!t) return;
    const h = t.heldLocks;
    for (let i = 0; i < h.length; i++) {
      const prev = h[i]!;
      if (prev === cls) continue;
      let edges = this.after.get(prev);
      if (edges?.has(cls)) continue;
      if (this.reaches(cls, prev)) {
        violation(s, 'INVARIANT', `lockdep:inversion:${prev}->${cls}`, 'lock_acquire',
          `${t.name} takes ${cls} while holding ${prev}, but ${cls} -> ${prev} was seen before`);
      }
      if (!edges) this.after.set(prev, (edges = new Set()));
      edges.add(cls);
    }
    h.push(cls);
  }

  /** The current thread releases a lock of class `cls`. */
  release(s: Sched, cls: string): void {
    const t = s.current;
    if (!t) return;
    const h = t.heldLocks;
    if (h[h.length - 1] === cls) h.pop();
    else {
      const i = h.lastIndexOf(cls);
      if (i >= 0) h.splice(i, 1);
    }
  }
}
