// What a fixed kernel must show when an exported program runs on Linux, as
// the oracle (worker/oracle/) judges a real kernel's run: for each op the
// result to compare, the bytes each read must return, each AIO completion
// (io_getevents' res), and the files' final contents. The values are the
// sim's with every bug switch off; which of them a kernel must reproduce
// exactly is what the oracle's model says, read while the fixed kernel's run
// (fixed-run.ts) is replayed through it:
//
// - one thread: every read against the shadow, except what an AIO write in
//   flight leaves undecided and the bytes POSIX leaves open (a store past EOF
//   that a later extension exposes); op results where no AIO was in flight;
//   the final contents through the page cache and from the disk;
// - several threads: what a thread reads of bytes it wrote itself and no
//   other thread may change (own-writes.ts), and, at the end, that the page
//   cache and the disk agree (except bytes stored through a mapping). A
//   thread's expectations assume its own earlier writes returned what they
//   returned in the fixed run (`pathRet`): another thread can legitimately
//   make one come out otherwise, and then its later reads are not judged.

import { judgeTrace } from '../oracle/judge.js';
import type { Model, Raise } from '../oracle/model.js';
import { Oracle } from '../oracle/oracle.js';
import type { OwnWrites } from '../oracle/own-writes.js';
import { aioWriteInFlight } from '../oracle/rules/in-flight.js';
import type { ShadowFile } from '../oracle/shadow.js';
import type { Op, Program } from '../prog/types.js';
import { TRACE_FORMAT, type TraceEvent } from '../trace/types.js';
import { type OpAt, fixedRun, reapPoint } from './fixed-run.js';

/** [off, off+len) of a file holds `byte`. */
export interface Span {
  off: number;
  len: number;
  byte: number;
}

/** A result (a byte count, 0 or -errno; for a file read back, its size) and the bytes that must come with it. */
export interface Want {
  ret: number | null;
  spans: Span[];
}

export interface OpWant {
  /** The op's result; null: not compared. */
  ret: number | null;
  /** pread: each syscall, by the offset it starts at. */
  calls: { off: number; want: Want }[];
  /** mread: what it loads. */
  load: Want | null;
  /** aio_write, aio_read: the completion. */
  completion: Want | null;
  /** Several threads: the result the thread's later read checks assume this op had. */
  pathRet: number | null;
}

export type FinalCheck =
  | { kind: 'exact'; files: { cache: Want; disk: Want | null }[] }
  /** Per file, the byte ranges where the page cache may differ from the disk. */
  | { kind: 'cache-vs-disk'; excused: [number, number][][] }
  | { kind: 'none'; why: string };

export interface Expectations {
  concurrent: boolean;
  ops: OpWant[][];
  final: FinalCheck;
  /** Per file: a "Page cache invalidation failure" naming it is a kernel bug (the program never wrote it through the cache). */
  staleIsBug: boolean[];
  /** The first fault op: nothing from it on is expected. */
  cut: OpAt | null;
  /** Why expectations are missing beyond the cut, or null. */
  gap: string | null;
}

/** Ops whose result a thread's own-write knowledge depends on (OwnWrites.opDone). */
const PATH_OPS = new Set<Op['op']>(['pwrite', 'copy_range', 'mwrite', 'truncate', 'fallocate']);

const key = (t: number, i: number): string => `${t}:${i}`;

/** Runs of equal bytes of `bytes` (file offset base), leaving out positions where skip is 1. */
export function spansOf(bytes: Uint8Array, base: number, skip: Uint8Array | null = null): Span[] {
  const out: Span[] = [];
  for (let k = 0; k < bytes.length;) {
    if (skip?.[k]) {
      k++;
      continue;
    }
    let j = k + 1;
    while (j < bytes.length && bytes[j] === bytes[k] && !skip?.[j]) j++;
    out.push({ off: base + k, len: j - k, byte: bytes[k]! });
    k = j;
  }
  return out;
}

/** The shadow's bytes of [off, off+len) inside the file that it knows. */
function known(shadow: ShadowFile, off: number, len: number): Want {
  const bytes = shadow.view(off, len);
  return { ret: bytes.length, spans: spansOf(bytes, off, shadow.unknownIn(off, len)) };
}

/**
 * The bytes of a read by thread t that read-your-writes pins down: each found
 * by asking OwnWrites for the first loss in a copy of what the fixed kernel
 * read with every byte flipped, from just past the previous one.
 */
function ownSpans(own: OwnWrites, t: number, file: number, off: number, data: Uint8Array): Span[] {
  const flipped = data.map((b) => b ^ 0xff);
  const out: Span[] = [];
  for (let k = 0; k < flipped.length;) {
    const loss = own.check(t, file, off + k, flipped.subarray(k));
    if (!loss) break;
    const last = out[out.length - 1];
    if (last && last.off + last.len === loss.pos && last.byte === loss.want) last.len++;
    else out.push({ off: loss.pos, len: 1, byte: loss.want });
    k = loss.pos - off + 1;
  }
  return out;
}

class OracleStopped extends Error {}

const raise: Raise = (_kind, invariant, fn, detail) => {
  throw new OracleStopped(`${invariant} @ ${fn}: ${detail}`);
};

/** The fixed kernel's run replayed through the oracle, reading off what it would judge before each event. */
class Extraction {
  readonly oracle: Oracle;
  readonly m: Model;
  readonly ops: OpWant[][];
  readonly concurrent: boolean;
  private readonly inFlightAtStart = new Map<string, boolean>();
  /** aio_wait op -> the submission it reaps. */
  private readonly waits = new Map<string, string>();
  private readonly completions = new Map<string, Want | null>();
  readonly finals: { cache: Want | null; disk: Want | null }[];
  readonly excused: [number, number][][];

  constructor(readonly p: Program) {
    this.oracle = new Oracle(p, false, raise);
    this.m = this.oracle.m;
    this.concurrent = p.threads.length > 1;
    this.ops = p.threads.map((th) => th.ops.map(() => ({ ret: null, calls: [], load: null, completion: null, pathRet: null })));
    p.threads.forEach((th, t) => th.ops.forEach((_op, i) => {
      const at = reapPoint(p, t, i);
      if (at && p.threads[at.t]!.ops[at.i]!.op === 'aio_wait') this.waits.set(key(at.t, at.i), key(t, i));
    }));
    this.finals = p.files.map(() => ({ cache: null, disk: null }));
    this.excused = p.files.map(() => []);
  }

  observe(ev: TraceEvent): void {
    this.before(ev);
    this.oracle.observe(ev);
    if (ev.e === 'final' && ev.via === 'cache' && this.concurrent) this.noteExcused(ev.file);
  }

  private before(ev: TraceEvent): void {
    switch (ev.e) {
      case 'op':
        this.inFlightAtStart.set(key(ev.t, ev.i), this.m.submissions.size > 0);
        return;
      case 'call':
        return this.readCall(ev);
      case 'ret':
        return this.returned(ev);
      case 'aio':
        return this.completed(ev);
      case 'final':
        return this.readBack(ev.file, ev.via === 'cache');
      default:
        return;
    }
  }

  private opOf(t: number, i: number): Op {
    return this.p.threads[t]!.ops[i]!;
  }

  private readCall(ev: Extract<TraceEvent, { e: 'call' }>): void {
    const op = this.opOf(ev.t, ev.i);
    if (op.op !== 'pread' || ev.ret < 0) return;
    const m = this.m;
    const file = m.fileOfFd(op.fd);
    const shadow = m.shadows[file]!;
    let want: Want | null = null;
    if (m.checkReads) want = aioWriteInFlight(m, shadow, ev.off, ev.len) ? null : known(shadow, ev.off, ev.len);
    else if (m.own && !m.wbErr[file] && ev.data) want = { ret: null, spans: ownSpans(m.own, ev.t, file, ev.off, ev.data) };
    if (want && (want.ret !== null || want.spans.length > 0)) this.ops[ev.t]![ev.i]!.calls.push({ off: ev.off, want });
  }

  private returned(ev: Extract<TraceEvent, { e: 'ret' }>): void {
    const op = this.opOf(ev.t, ev.i);
    const w = this.ops[ev.t]![ev.i]!;
    if (op.op === 'mread') w.load = this.loaded(ev, op);
    if (this.concurrent) {
      if (PATH_OPS.has(op.op)) w.pathRet = ev.ret;
      return;
    }
    if (op.op === 'aio_wait') {
      const sub = this.waits.get(key(ev.t, ev.i));
      w.ret = (sub !== undefined ? this.completions.get(sub)?.ret : null) ?? null;
      return;
    }
    // io_submit's return is not the sim's synchronous result: the completion carries that.
    if (op.op === 'aio_write' || op.op === 'aio_read') return;
    const racing = this.inFlightAtStart.get(key(ev.t, ev.i)) === true || this.m.submissions.size > 0;
    w.ret = racing ? null : ev.ret;
  }

  private loaded(ev: Extract<TraceEvent, { e: 'ret' }>, op: Extract<Op, { op: 'mread' }>): Want | null {
    const m = this.m;
    const file = m.fileOfMap(op.map);
    if (file < 0 || ev.ret <= 0) return null;
    const shadow = m.shadows[file]!;
    if (m.checkReads) {
      // Bytes past EOF in the last page are not file data.
      const inFile = Math.max(0, Math.min(op.len, shadow.size - op.off));
      return aioWriteInFlight(m, shadow, op.off, inFile) ? null : { ret: null, spans: known(shadow, op.off, inFile).spans };
    }
    // A map id mapped onto several files: which one a load reads depends on the schedule.
    if (!m.own || m.wbErr[file] || m.own.filesOfMap(op.map).length !== 1 || !ev.data) return null;
    return { ret: null, spans: ownSpans(m.own, ev.t, file, op.off, ev.data) };
  }

  private completed(ev: Extract<TraceEvent, { e: 'aio' }>): void {
    const m = this.m;
    const a = [...m.submissions.values()].find((s) => s.t === ev.t && s.i === ev.i);
    let want: Want | null = null;
    // As the oracle: judged only when nothing changed the file while it was in flight.
    if (m.checkReads && a && a.shadow.version === a.submitVersion && !m.opInProgressWrites) {
      // A failed I/O (an unaligned one, say) fails the same way on every kernel: its errno is the result.
      want = a.write || ev.ret < 0 ? { ret: ev.ret, spans: [] } : known(a.shadow, a.off, a.len);
    }
    this.completions.set(key(ev.t, ev.i), want);
    this.ops[ev.t]![ev.i]!.completion = want;
  }

  private readBack(file: number, cache: boolean): void {
    const m = this.m;
    if (!m.checkReads) return;
    const shadow = m.shadows[file]!;
    if (cache) this.finals[file]!.cache = known(shadow, 0, shadow.size);
    else if (!shadow.lostWrites) this.finals[file]!.disk = known(shadow, 0, shadow.size);
  }

  private noteExcused(file: number): void {
    const cached = this.m.cached[file];
    this.excused[file] = [...(this.m.failedWrites[file] ?? []), ...(cached?.postEof ?? [])];
  }

  final(complete: boolean): FinalCheck {
    if (!complete) return { kind: 'none', why: 'the program stops being checked before its end' };
    if (this.concurrent) return { kind: 'cache-vs-disk', excused: this.excused };
    const files = this.finals.map((f) => (f.cache ? { cache: f.cache, disk: f.disk } : null));
    if (files.some((f) => f === null)) return { kind: 'none', why: 'the fixed run read no file back' };
    return { kind: 'exact', files: files as { cache: Want; disk: Want | null }[] };
  }
}

/** Whether the oracle calls a stale page cache report for the file a bug, given everything the program does. */
function staleIsBug(p: Program, events: TraceEvent[], file: number): boolean {
  const stale: TraceEvent = { e: 'stale', file };
  const v = judgeTrace({
    format: TRACE_FORMAT, source: { kind: 'kernel', release: 'fixed', fsType: p.config.fs, blockSize: p.config.blockSize, run: 0 },
    program: p, events: [...events, stale], end: { outcome: 'done' },
  });
  return v.at === events.length;
}

function nothingExpected(p: Program, why: string, cut: OpAt | null): Expectations {
  return {
    concurrent: p.threads.length > 1,
    ops: p.threads.map((th) => th.ops.map(() => ({ ret: null, calls: [], load: null, completion: null, pathRet: null }))),
    final: { kind: 'none', why },
    staleIsBug: p.files.map(() => false),
    cut,
    gap: why,
  };
}

export function expectations(p: Program): Expectations {
  const run = fixedRun(p);
  if (run.unusable !== null) return nothingExpected(p, run.unusable, run.cut);
  if (run.cut !== null && p.threads.length > 1) {
    return nothingExpected(p, 'an injected fault in a program of several threads may strike any of them at any time', run.cut);
  }
  const x = new Extraction(p);
  let gap: string | null = null;
  let judged = 0;
  for (const ev of run.events) {
    try {
      x.observe(ev);
    } catch (e) {
      if (!(e instanceof OracleStopped)) throw e;
      gap = `the oracle stopped the fixed kernel's run at event ${judged} (${e.message})`;
      break;
    }
    judged++;
  }
  const complete = gap === null && run.cut === null;
  const events = run.events.slice(0, judged);
  return {
    concurrent: x.concurrent,
    ops: x.ops,
    final: x.final(complete),
    staleIsBug: p.files.map((_f, file) => gap === null && staleIsBug(p, events, file)),
    cut: run.cut,
    gap,
  };
}
