// The fixed kernel's run of a program, as a real kernel's trace would show
// it: the sim's run with every bug switch off (what a kernel without the bug
// does), its events put where the exporters' own programs can observe them.
//
// An exported program (worker/repro/c.ts) reaps an AIO completion only when
// it waits for it (aio_wait), before an evict or a remount (which drain
// every iocb), or at the end, like the kernel twin's executor does; the sim
// delivers a completion wherever it happened. A completion seen later is only
// ever judged more leniently (worker/trace/types.ts), so each one is moved to
// the latest point the program may reap it. The sim's own facts (SIM ONLY
// events and fields) go, so the oracle judges the run as it judges a
// kernel's. The read-back after a remount becomes the read-back after
// drop_caches: an exported program does not own the mount.
//
// Programs with an injected fault stop at the first one: no syscall does
// what it does, so nothing after it can be expected of the exported program.

import { runProgram } from '../exec/run.js';
import { FAULT_OPS } from '../prog/ops.js';
import type { Program } from '../prog/types.js';
import type { TraceEvent } from '../trace/types.js';

/** An op of the program: thread and index. */
export interface OpAt {
  t: number;
  i: number;
}

export interface FixedRun {
  /** The events in the order a kernel's trace would have them. */
  events: TraceEvent[];
  /** The first fault op, where the events stop; null when the program has none. */
  cut: OpAt | null;
  /** Why the sim's own run could not serve (a harness error, or a violation with every switch off). */
  unusable: string | null;
}

type AioEvent = Extract<TraceEvent, { e: 'aio' }>;

const key = (t: number, i: number): string => `${t}:${i}`;

/** The first fault op of the program, in thread then op order. */
export function firstFault(p: Program): OpAt | null {
  for (const [t, th] of p.threads.entries()) {
    const i = th.ops.findIndex((op) => FAULT_OPS.has(op.op));
    if (i >= 0) return { t, i };
  }
  return null;
}

/**
 * Where the exported program reaps the AIO op i of thread t submitted, at the
 * latest: its aio_wait (the newest submission of an id is the one a wait
 * takes), an evict or remount of the same thread before that, or the end
 * (null). With several threads another thread may wait for it: the end.
 */
export function reapPoint(p: Program, t: number, i: number): OpAt | null {
  if (p.threads.length > 1) return null;
  const ops = p.threads[t]!.ops;
  const sub = ops[i]!;
  if (sub.op !== 'aio_write' && sub.op !== 'aio_read') return null;
  let waitable = true;
  for (let j = i + 1; j < ops.length; j++) {
    const op = ops[j]!;
    if (op.op === 'evict' || op.op === 'remount') return { t, i: j };
    if ((op.op === 'aio_write' || op.op === 'aio_read') && op.iocb === sub.iocb) waitable = false;
    if (op.op === 'aio_wait' && op.iocb === sub.iocb && waitable) return { t, i: j };
  }
  return null;
}

function isCut(ev: TraceEvent, cut: OpAt | null): boolean {
  return cut !== null && ev.e === 'op' && ev.t === cut.t && ev.i === cut.i;
}

/** The event without what only the sim can know; null for a SIM ONLY event. */
function asKernelSees(ev: TraceEvent): TraceEvent | null {
  switch (ev.e) {
    case 'fallback':
    case 'posteof':
      return null;
    case 'ret': {
      const { unsettled: _sim, ...rest } = ev;
      return rest;
    }
    case 'final':
      return ev.via === 'remount' ? { ...ev, via: 'drop_caches' } : ev;
    default:
      return ev;
  }
}

/** Reorder the sim's events: each AIO completion where it is reaped, the rest as they came. */
function reorder(p: Program, events: TraceEvent[], cut: OpAt | null): TraceEvent[] {
  const completions = new Map<string, AioEvent>();
  for (const ev of events) {
    if (isCut(ev, cut)) break;
    if (ev.e === 'aio') completions.set(key(ev.t, ev.i), ev);
  }
  const reapedAt = new Map<string, AioEvent[]>();
  const atEnd: AioEvent[] = [];
  for (const ev of completions.values()) {
    const at = reapPoint(p, ev.t, ev.i);
    if (at === null) atEnd.push(ev);
    else reapedAt.set(key(at.t, at.i), [...(reapedAt.get(key(at.t, at.i)) ?? []), ev]);
  }
  const out: TraceEvent[] = [];
  let ended = false;
  for (const ev of events) {
    if (isCut(ev, cut)) break;
    if (ev.e === 'aio') continue;
    if (ev.e === 'final' && !ended) {
      out.push(...atEnd);
      ended = true;
    }
    const seen = asKernelSees(ev);
    if (seen) out.push(seen);
    if (ev.e === 'op') out.push(...(reapedAt.get(key(ev.t, ev.i)) ?? []));
  }
  // A completion reaped at the end of a program cut short is never reaped by the exported one's checks.
  return out;
}

export function fixedRun(p: Program): FixedRun {
  const res = runProgram(p, { record: true });
  const cut = firstFault(p);
  if (res.harnessError !== null) return { events: [], cut, unusable: `the simulator failed: ${res.harnessError.split('\n')[0] ?? ''}` };
  if (res.violation !== null && (cut === null || res.trace === undefined)) {
    return { events: [], cut, unusable: `the sim reports ${res.violation.signature} with every switch off` };
  }
  return { events: reorder(p, res.trace!.events, cut), cut, unusable: null };
}
