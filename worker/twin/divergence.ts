// Where a kernel's run first departs from the fixed kernel's: the sim's run
// of the same program with every bug switch off, which is what a kernel
// without the bug does. Op by op in the kernel's order: the same op's result,
// the bytes a read returned, and what the files held at the end (the page
// cache, and the disk: after a remount in the sim, after drop_caches or a
// remount on the kernel). Meaningful for a sequential program, whose results
// do not depend on a schedule; for a concurrent one the oracle's verdict is
// the explanation.

import { describeOp } from '../prog/describe.js';
import type { Program } from '../prog/types.js';
import { errname } from '../sim/errno.js';
import type { Trace, TraceEvent } from '../trace/types.js';

type Ev<K extends TraceEvent['e']> = Extract<TraceEvent, { e: K }>;

/** The sim's events by what they answer: an op's calls in order, its return, a file's read-back. */
function index(t: Trace): Map<string, TraceEvent> {
  const out = new Map<string, TraceEvent>();
  const calls = new Map<string, number>();
  for (const ev of t.events) {
    const key = keyOf(ev, calls);
    if (key !== null && !out.has(key)) out.set(key, ev);
  }
  return out;
}

/** Read-backs of the disk compare with the sim's remount, whichever way the kernel's run got there. */
function viaKey(via: Ev<'final'>['via']): string {
  return via === 'cache' ? 'cache' : 'disk';
}

function keyOf(ev: TraceEvent, calls: Map<string, number>): string | null {
  switch (ev.e) {
    case 'call': {
      const op = `${ev.t}:${ev.i}`;
      const n = calls.get(op) ?? 0;
      calls.set(op, n + 1);
      return `call:${op}:${n}`;
    }
    case 'ret':
      return `ret:${ev.t}:${ev.i}`;
    case 'final':
      return `final:${ev.file}:${viaKey(ev.via)}`;
    default:
      return null;
  }
}

function firstByte(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

const hex = (b: number | undefined): string => (b === undefined ? 'nothing (past the end)' : `0x${b.toString(16).padStart(2, '0')}`);

function opName(p: Program, t: number, i: number): string {
  return `t${t} #${i} ${describeOp(p.threads[t]!.ops[i]!).trimEnd()}`;
}

/** Where a kernel's run departs from the fixed kernel's: which op (or `final`), what about it, and in words. */
export interface Divergence {
  /** The op's name, or `final` for a read-back after the program. */
  op: string;
  what: 'ret' | 'bytes' | 'size' | 'contents-cache' | 'contents-disk';
  /** The op's thread and index; -1 for a read-back. */
  t: number;
  i: number;
  text: string;
}

function bytesDiffer(what: string, base: number, want: Uint8Array, got: Uint8Array, verb: string): string | null {
  const d = firstByte(want, got);
  if (d < 0) return null;
  const sizes = got.length === want.length ? '' : `; ${got.length} bytes, a fixed kernel ${want.length}`;
  return `${what}: byte ${base + d} is ${hex(got[d])}, a fixed kernel ${verb} ${hex(want[d])}${sizes}`;
}

function returned(what: string, got: number, want: number): string {
  return `${what}: returned ${errname(got)}, a fixed kernel returns ${errname(want)}`;
}

function opDivergence(p: Program, t: number, i: number, what: 'ret' | 'bytes', text: string | null): Divergence | null {
  return text === null ? null : { op: p.threads[t]!.ops[i]!.op, what, t, i, text };
}

function compare(p: Program, want: TraceEvent, got: TraceEvent): Divergence | null {
  if (got.e === 'call' && want.e === 'call') {
    const op = p.threads[got.t]!.ops[got.i]!;
    const chunked = 'bsize' in op && op.bsize !== undefined && op.bsize < op.len;
    const what = `${opName(p, got.t, got.i)}${chunked ? ` (its call at ${got.off})` : ''}`;
    if (got.ret !== want.ret) return opDivergence(p, got.t, got.i, 'ret', returned(what, got.ret, want.ret));
    return got.data && want.data ? opDivergence(p, got.t, got.i, 'bytes', bytesDiffer(what, got.off, want.data, got.data, 'reads')) : null;
  }
  if (got.e === 'ret' && want.e === 'ret') {
    const what = opName(p, got.t, got.i);
    if (got.ret !== want.ret) return opDivergence(p, got.t, got.i, 'ret', returned(what, got.ret, want.ret));
    const op = p.threads[got.t]!.ops[got.i]!;
    const base = op.op === 'mread' ? op.off : 0;
    return got.data && want.data ? opDivergence(p, got.t, got.i, 'bytes', bytesDiffer(what, base, want.data, got.data, 'loads')) : null;
  }
  if (got.e === 'final' && want.e === 'final') {
    const when = got.via === 'cache' ? 'through the page cache' : `after ${got.via}`;
    const text = bytesDiffer(`file ${p.files[got.file]!.name} read back ${when} after the program`, 0, want.data, got.data, 'holds');
    if (text === null) return null;
    const what = got.data.length !== want.data.length ? 'size' : got.via === 'cache' ? 'contents-cache' : 'contents-disk';
    return { op: 'final', what, t: -1, i: -1, text };
  }
  return null;
}

/** The first event of `got` (a kernel's run) that differs from the same event of `want` (the sim's, switches off); null if none. */
export function firstDivergence(want: Trace, got: Trace): Divergence | null {
  const expected = index(want);
  const calls = new Map<string, number>();
  for (const ev of got.events) {
    const key = keyOf(ev, calls);
    if (key === null) continue;
    const w = expected.get(key);
    if (!w) continue;
    const d = compare(got.program, w, ev);
    if (d) return d;
  }
  return null;
}
