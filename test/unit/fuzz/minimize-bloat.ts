// Test helper: a known reproducer bloated with unrelated work (a second file
// with its own fd, extra ops spliced into every thread, extra threads) under a
// random schedule, for the minimizer to shrink back.

import { runProgram } from '../../../worker/exec/run.js';
import type { Op, Program } from '../../../worker/prog/types.js';
import type { BugSet } from '../../../worker/sim/bugs.js';
import { Rng } from '../../property/gen.js';

function noise(rng: Rng, fd: number): Op {
  const off = rng.range(0, 8) * 1024;
  switch (rng.range(0, 3)) {
    case 0: return { op: 'pwrite', fd, off, len: rng.range(1, 4) * 1024, fill: rng.range(1, 255) };
    case 1: return { op: 'pread', fd, off, len: rng.range(1, 4) * 1024 };
    case 2: return { op: 'truncate', fd, size: off };
    default: return { op: 'fsync', fd };
  }
}

/** `p` with unrelated ops and threads on a file of its own and a random schedule of `seed`. */
export function bloat(p: Program, seed: number, pct = false): Program {
  const rng = new Rng(seed);
  const q = structuredClone(p);
  q.files.push({ name: `bloat${q.files.length}` });
  const fd = q.fds.length;
  q.fds.push({ file: q.files.length - 1, direct: false });
  for (const t of q.threads) {
    const ops: Op[] = [];
    for (const op of t.ops) {
      if (rng.chance(0.5)) ops.push(noise(rng, fd));
      ops.push(op);
    }
    ops.push(noise(rng, fd));
    t.ops = ops;
  }
  for (let i = 0; i < 2; i++) q.threads.push({ ops: Array.from({ length: 3 }, () => noise(rng, fd)) });
  q.schedule = pct ? { strategy: 'pct', seed, depth: 3, decisions: [] } : { strategy: 'random', seed, depth: 0, decisions: [] };
  return q;
}

/** The first bloated version (seeds 1..tries, random then pct) that still reports `signature`, or null. */
export function bloatReproducing(p: Program, bugs: BugSet, signature: string, tries = 100): Program | null {
  for (const pct of [false, true]) {
    for (let seed = 1; seed <= tries; seed++) {
      const b = bloat(p, seed, pct);
      if (runProgram(b, { bugs }).violation?.signature === signature) return b;
    }
  }
  // Narrow windows a seeded schedule misses: keep the hand-written schedule
  // and put the unrelated work after the reproducer's own ops.
  for (let seed = 1; seed <= tries; seed++) {
    const b = bloatTail(p, seed);
    if (runProgram(b, { bugs }).violation?.signature === signature) return b;
  }
  return null;
}

/**
 * `p` with unrelated ops after every thread's own, its schedule kept. No
 * extra thread: one runs whenever the reproducer blocks on I/O and takes its
 * injected faults or its window.
 */
export function bloatTail(p: Program, seed: number): Program {
  const rng = new Rng(seed);
  const q = structuredClone(p);
  q.files.push({ name: `bloat${q.files.length}` });
  const fd = q.fds.length;
  q.fds.push({ file: q.files.length - 1, direct: false });
  for (const t of q.threads) for (let i = 0; i < 4; i++) t.ops.push(noise(rng, fd));
  return q;
}
