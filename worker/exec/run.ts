// The driver: run a Program on a fresh simulated machine and report what it
// observed, as the events of an observed trace (trace/types.ts), to the
// oracle (worker/oracle/), which judges them as they come. The first
// violation ends the run and is the result, with the stacks of every sim
// thread where it fired. An exception that is not a Violation is a harness
// error: a bug in the sim itself, reported apart from kernel findings.
//
// Nothing here judges anything: what a read should have returned, which
// failure is legitimate, what a filesystem allows, is the oracle's. The
// driver only runs ops, reads results and the few facts only a simulator
// can see (the SIM ONLY events), and reads every file back at the end.

import type { Program, Schedule } from '../prog/types.js';
import { traceCause } from '../oracle/cause.js';
import type { DataFault, ShortFault } from '../oracle/model.js';
import { Oracle } from '../oracle/oracle.js';
import { type InvariantKind, LIVELOCK_SIGNATURE, checkSignature, dataSignature, deadlockSignature } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import { type BugSet, NO_BUGS } from '../sim/bugs.js';
import { allocUnwrittenBytes, takeBytesToOverwrite, withByteScope } from '../sim/byte-pool.js';
import type { TagRun } from '../sim/byte-runs.js';
import { Violation, siteOf, stacksOf, violation } from '../sim/checks.js';
import { Provenance, withProvenance } from '../sim/provenance.js';
import { errname } from '../sim/errno.js';
import { Kernel } from '../sim/kernel.js';
import { type ChoicePoint, RecordingPolicy, policyFor } from '../sim/schedule.js';
import { type Co, type SimThread, waitForCycle } from '../sim/sched.js';
import { filemapRead } from '../sim/mm/filemap.js';
import { sysRemount } from '../sim/vfs/syscalls.js';
import type { Trace, TraceEnd, TraceEvent } from '../trace/types.js';
import { describeOp } from '../prog/describe.js';
import { type OpOutput, SimOps } from './ops.js';
import { PostEofHints } from './post-eof-hints.js';
import { TraceRecorder } from './record.js';
import { causeOf } from './cause.js';

export interface OpResult {
  thread: number;
  index: number;
  ret: number;
}

export interface RunResult {
  violation: RunViolation | null;
  /** A bug in the simulator itself (not a kernel finding). */
  harnessError: string | null;
  files: { name: string; data: Uint8Array }[];
  results: OpResult[];
  steps: number;
  /** The decisions taken, as a replayable schedule (absent under the default policy). */
  schedule?: Schedule;
  /** The wall-time limit (RunOptions.overtime) stopped the run: no verdict. */
  timedOut?: boolean;
  /** The observed trace, when RunOptions.record asked for it. */
  trace?: Trace;
}

export interface RunOptions {
  stepBudget?: number;
  /** Bug switches to turn on. */
  bugs?: BugSet;
  /** Called with one line per op (and at the end); the trace of `exec --trace`. */
  trace?: (line: string) => void;
  /** Keep the observed trace (RunResult.trace): what a kernel's run is compared with. */
  record?: boolean;
  /** Wall-time limit: asked now and then; true stops the run with timedOut set. */
  overtime?: () => boolean;
  /** Called as a thread starts op `index` (the text trace of worker/repro). */
  onOpStart?: (thread: number, index: number) => void;
  /** Called at every real choice point of a run under a schedule (the minimizer's preemption search). */
  onChoice?: (point: ChoicePoint) => void;
  /** Called when the scheduler switches threads (see Sched.onSwitch). */
  onSwitch?: (from: SimThread | null, to: SimThread) => void;
  /**
   * Byte provenance (sim/provenance.ts), which names a DATA finding by its
   * cause: 'on' for the whole run (the default when a callback watches the
   * run); 'on-data' (the default otherwise) runs without it and, when the run ends in a DATA
   * finding, runs again with it to name that finding (the sim is
   * deterministic: the second run is the first one, observed); 'off' names
   * DATA findings as a kernel's trace would be (what was read, no cause).
   */
  provenance?: 'on' | 'on-data' | 'off';
}

const DEFAULT_STEP_BUDGET = 5_000_000;

class Execution {
  readonly k: Kernel;
  readonly results: OpResult[] = [];
  readonly recorder: RecordingPolicy | null;
  readonly traceRecorder: TraceRecorder | null;
  private readonly oracle: Oracle;
  private readonly ops: SimOps;
  private readonly postEof: PostEofHints;
  /** Which program thread each sim thread runs. */
  private readonly threadIndex = new Map<SimThread, number>();
  /** The tags of each event's data, while provenance records. */
  private readonly eventRuns = new WeakMap<TraceEvent, TagRun[]>();

  constructor(
    readonly program: Program,
    readonly opts: RunOptions,
    /** Byte provenance of this run, when it records it. */
    readonly prov: Provenance | null,
  ) {
    const sched = program.schedule;
    this.recorder = sched && sched.strategy !== 'default' ? new RecordingPolicy(policyFor(sched), opts.onChoice) : null;
    this.k = new Kernel(program.config, {
      stepBudget: opts.stepBudget ?? DEFAULT_STEP_BUDGET,
      bugs: opts.bugs ?? NO_BUGS,
      ...(this.recorder ? { policy: this.recorder } : {}),
    });
    if (opts.onSwitch) this.k.sched.onSwitch = opts.onSwitch;
    prov?.attach(this.k.sched);
    for (const f of program.files) this.k.createFile(f.name);
    this.oracle = new Oracle(program, true, (kind, invariant, fn, detail, fault) => this.raise(kind, invariant, fn, detail, fault));
    this.traceRecorder = opts.record ? new TraceRecorder() : null;
    const emit = (ev: TraceEvent): void => {
      if (this.prov) this.noteRuns(ev);
      if (this.traceRecorder) this.traceRecorder.add(ev);
      this.oracle.observe(ev);
    };
    this.postEof = new PostEofHints(this.k.inodes, emit);
    this.ops = new SimOps(this.k, program, emit, this.postEof);
    this.watchKernel(emit);
  }

  /** Provenance: the tags of the bytes an event carries, as the sim had them when it was emitted. */
  private noteRuns(ev: TraceEvent): void {
    const data = ev.e === 'call' || ev.e === 'ret' || ev.e === 'aio' || ev.e === 'final' || ev.e === 'recovered' ? ev.data : undefined;
    if (data && data.length > 0) this.eventRuns.set(ev, this.prov!.runsIn(data, 0, data.length));
  }

  /**
   * The oracle's verdict, thrown with the sim's stacks. A wrong byte is
   * named by its cause: from provenance when the run records it, else as a
   * kernel's trace would name it.
   */
  private raise(kind: InvariantKind, invariant: string, fn: string, detail: string, fault?: DataFault | ShortFault): never {
    const s = this.k.sched;
    if (kind !== 'DATA' || !fault) violation(s, kind, invariant, fn, detail);
    if ('short' in fault) this.raiseShort(invariant, fn, detail, fault);
    const ctx = this.prov
      ? { prov: this.prov, program: this.program, runsOf: (ev: TraceEvent) => this.eventRuns.get(ev), inoOf: (f: number) => this.k.inodes[f]!.ino }
      : null;
    const named = (ctx && causeOf(ctx, fault)) ?? traceCause(this.program, fault, fn);
    throw new Violation(kind, invariant, siteOf(s.current, fn), `${detail}; ${named.words}`, stacksOf(s), dataSignature(named.cause));
  }

  /**
   * A read came back short or failed: named by the read failure provenance
   * recorded for the file (the last one), whichever read saw it; without one,
   * by the check that saw it.
   */
  private raiseShort(invariant: string, fn: string, detail: string, fault: ShortFault): never {
    const s = this.k.sched;
    const ino = this.k.inodes[fault.file]!.ino;
    const failed = this.prov?.readFailures.filter((f) => f.ino === ino).pop();
    if (!failed) violation(s, 'DATA', invariant, fn, detail);
    const why = `${detail}; the read of the folio at ${failed.pos} failed with EIO in ${failed.fn}: it was not uptodate when its read ended`;
    throw new Violation('DATA', invariant, siteOf(s.current, fn), why, stacksOf(s), checkSignature('DATA', 'read-error:EIO', failed.fn));
  }

  /** The program thread running now, if a program thread is. */
  private currentThread(): number | undefined {
    const cur = this.k.sched.current;
    return cur ? this.threadIndex.get(cur) : undefined;
  }

  /** What the sim's kernel reports on its own: injected I/O errors, writeback errors, stale page cache, fallbacks. */
  private watchKernel(emit: (ev: TraceEvent) => void): void {
    const inodes = this.k.inodes;
    inodes.forEach((inode, file) => {
      inode.mapping.onStalePagecache = (pos, len) => emit({ e: 'stale', file, pos, len });
      inode.mapping.onDioInvalidateFailed = (pos, len) => emit({ e: 'fallback', file, pos, len, t: this.currentThread() });
      inode.mapping.onSetError = () => emit({ e: 'wberr', file });
    });
    this.k.dev.onError = (r) => {
      const file = inodes.findIndex((x) => x.ino === r.ino);
      if (file >= 0) emit({ e: 'ioerr', file, pos: r.pos, len: r.len, write: r.write, writeback: r.writeback });
    };
  }

  *thread(index: number): Co<void> {
    const ops = this.program.threads[index]!.ops;
    const trace = this.opts.trace;
    const s = this.k.sched;
    if (s.current) this.threadIndex.set(s.current, index);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      s.beginOp(i);
      this.opts.onOpStart?.(index, i);
      this.ops.emit({ e: 'op', t: index, i });
      const out: OpOutput = yield* this.ops.run(op, index, i);
      this.postEof.note();
      this.ops.emit(retEvent(index, i, out));
      this.results.push({ thread: index, index: i, ret: out.ret });
      if (trace) trace(`t${index} #${i} ${describeOp(op)} = ${errname(out.ret)}`);
    }
    // Past its last op: a choice taken as the thread exits is anchored there.
    s.beginOp(ops.length);
  }

  /**
   * After the program: every file read back through the page cache, then
   * (process exit unmaps everything; a clean unmount writes everything back)
   * after a remount. The oracle judges both.
   */
  *finalCheck(out: { name: string; data: Uint8Array }[]): Co<void> {
    const k = this.k;
    // A fault the program armed and never met is not one the harness's read-back may meet.
    k.dev.faults.disarm();
    for (let file = 0; file < k.inodes.length; file++) {
      const inode = k.inodes[file]!;
      // Returned with the run: fresh memory, left unzeroed, as filemapRead writes every byte it counts.
      const data = allocUnwrittenBytes(inode.observedSize);
      const n = yield* filemapRead(inode.mapping, 0, data.length, data);
      const got = data.subarray(0, Math.max(0, n));
      this.postEof.note();
      this.ops.emit(n < 0 ? { e: 'final', file, via: 'cache', data: got, err: n } : { e: 'final', file, via: 'cache', data: got });
      out.push({ name: inode.name, data: got });
    }
    k.mm.unmapAll();
    yield* sysRemount(k);
    for (let file = 0; file < k.inodes.length; file++) {
      const inode = k.inodes[file]!;
      // Only judged, never returned: recycled memory will do, unzeroed, as filemapRead writes every byte it counts.
      const data = takeBytesToOverwrite(inode.observedSize);
      const n = yield* filemapRead(inode.mapping, 0, data.length, data);
      this.ops.emit({ e: 'final', file, via: 'remount', data: data.subarray(0, Math.max(0, n)) });
    }
  }
}

function retEvent(t: number, i: number, out: OpOutput): TraceEvent {
  const ev: Extract<TraceEvent, { e: 'ret' }> = { e: 'ret', t, i, ret: out.ret };
  if (out.data) ev.data = out.data;
  if (out.stored !== undefined) ev.stored = out.stored;
  if (out.sizes) ev.sizes = out.sizes;
  if (out.unsettled) ev.unsettled = out.unsettled;
  return ev;
}

const TRACE_TAIL = 16;

/** The last ops the program completed, as trace lines. */
function traceTail(program: Program, results: OpResult[]): string[] {
  return results.slice(-TRACE_TAIL).map((r) => `t${r.thread} #${r.index} ${describeOp(program.threads[r.thread]!.ops[r.index]!)} = ${errname(r.ret)}`);
}

function toRunViolation(v: Violation, program: Program, results: OpResult[], step: number): RunViolation {
  return {
    signature: v.signature, invariant: v.invariant, kind: v.kind, message: v.message, stacks: v.stacks,
    traceTail: traceTail(program, results), step,
  };
}

/** How the run ended, as its trace says. */
function traceEnd(r: RunResult): TraceEnd {
  if (r.violation) return { outcome: 'violation', violation: r.violation };
  if (r.harnessError !== null) return { outcome: 'error', error: r.harnessError };
  if (r.timedOut) return { outcome: 'timeout' };
  return { outcome: 'done' };
}

/** Run a program to completion. Deterministic: same program, same result. */
export function runProgram(program: Program, opts: RunOptions = {}): RunResult {
  // A run whose callbacks watch it as it goes is run once, with provenance throughout (a replay would call them twice).
  const observed = opts.trace || opts.onOpStart || opts.onChoice || opts.onSwitch;
  const mode = opts.provenance ?? (observed ? 'on' : 'on-data');
  // The machine's memory is recycled from earlier runs (zeroed like new): see byte-pool.ts.
  const first = withByteScope(() => runOnFreshMachine(program, opts, mode === 'on'));
  if (mode !== 'on-data' || first.violation?.kind !== 'DATA') return first;
  return withByteScope(() => runOnFreshMachine(program, opts, true));
}

/** The whole machine stopped: every thread blocked, or no progress within the step budget. */
function stuck(ex: Execution, outcome: { kind: 'deadlock'; blocked: SimThread[] } | { kind: 'budget'; steps: number }): RunViolation {
  const s = ex.k.sched;
  const stacks = s.threads.map((t) => ({ thread: t.name, frames: [...t.frames] }));
  const common = { stacks, traceTail: traceTail(ex.program, ex.results), step: s.steps };
  if (outcome.kind === 'budget') {
    return { signature: LIVELOCK_SIGNATURE, invariant: 'step-budget', kind: 'LIVELOCK', message: `no progress within ${outcome.steps} scheduler steps`, ...common };
  }
  const names = outcome.blocked.map((t) => `${t.name} on ${t.blockedOn?.name ?? '?'}`).join(', ');
  // The signature names what the threads wait on around the wait-for cycle, else every wait.
  const cyc = waitForCycle(outcome.blocked);
  const waits = cyc ? cyc.map(([, q]) => q.name) : outcome.blocked.map((t) => t.blockedOn?.name ?? '?');
  const described = cyc ? cyc.map(([t, q]) => `${t.name} waits for ${q.name}`).join(', held by the next; ') : names;
  return {
    signature: deadlockSignature(waits, cyc !== null), invariant: 'deadlock', kind: 'DEADLOCK',
    message: cyc ? `wait-for cycle: ${described}, held by the first` : `every thread is blocked: ${names}`, ...common,
  };
}

/**
 * BUG_ON: a run the scheduler calls done ran every op of every thread. A
 * scheduler that stopped early would pass for a clean run that did nothing.
 */
function assertEveryOpRan(program: Program, results: readonly OpResult[]): void {
  let ops = 0;
  for (const t of program.threads) ops += t.ops.length;
  if (results.length !== ops) throw new Error(`sim: the run ended after ${results.length} of the program's ${ops} ops`);
}

function runOnFreshMachine(program: Program, opts: RunOptions, provenance: boolean): RunResult {
  const prov = provenance ? new Provenance() : null;
  return withProvenance(prov, () => runObserved(program, opts, prov));
}

function runObserved(program: Program, opts: RunOptions, prov: Provenance | null): RunResult {
  const ex = new Execution(program, opts, prov);
  const files: { name: string; data: Uint8Array }[] = [];
  const result: RunResult = { violation: null, harnessError: null, files, results: ex.results, steps: 0 };
  try {
    if (opts.overtime) ex.k.sched.overtime = opts.overtime;
    for (let i = 0; i < program.threads.length; i++) ex.k.sched.spawn(`t${i}`, ex.thread(i));
    let outcome = ex.k.sched.run();
    if (outcome.kind === 'done') {
      assertEveryOpRan(program, ex.results);
      ex.k.sched.spawn('final', ex.finalCheck(files));
      outcome = ex.k.sched.run();
      if (outcome.kind === 'done' && files.length !== ex.k.inodes.length) throw new Error('sim: the run ended before the final read-back');
    }
    if (outcome.kind === 'timeout') result.timedOut = true;
    else if (outcome.kind === 'deadlock' || outcome.kind === 'budget') result.violation = stuck(ex, outcome);
  } catch (e) {
    if (e instanceof Violation) result.violation = toRunViolation(e, program, ex.results, ex.k.sched.steps);
    else result.harnessError = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  }
  result.steps = ex.k.sched.steps;
  const sch = program.schedule;
  if (ex.recorder && sch) result.schedule = { strategy: 'replay', seed: sch.seed, depth: sch.depth, decisions: ex.recorder.decisions };
  if (ex.traceRecorder) result.trace = ex.traceRecorder.finish(program, opts.bugs ?? NO_BUGS, traceEnd(result));
  return result;
}
