// Copies of programs and ops. An op is a flat record of scalars (every field
// kind in ops.ts is a number, a string or a boolean), so a spread copies it
// whole; a program is a few arrays of such records. The fuzzer copies a
// program for every mutation and the minimizer for every candidate, where
// structuredClone cost several times as much.

import type { Op, Program, Schedule } from './types.js';

export function cloneOp<T extends Op>(op: T): T {
  return { ...op };
}

export function cloneSchedule(s: Schedule): Schedule {
  return { ...s, decisions: s.decisions.map((d) => ({ ...d })) };
}

export function cloneProgram(p: Program): Program {
  const q: Program = {
    version: p.version,
    config: { ...p.config },
    files: p.files.map((f) => ({ ...f })),
    fds: p.fds.map((d) => ({ ...d })),
    threads: p.threads.map((t) => ({ ops: t.ops.map(cloneOp) })),
  };
  if (p.schedule) q.schedule = cloneSchedule(p.schedule);
  return q;
}
