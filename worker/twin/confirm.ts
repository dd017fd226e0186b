// kernel confirm: does this machine's kernel have the bug a reproducer
// shows? The program runs N times on a filesystem made to its config (or a
// directory given), each run's trace judged by the oracle's rules exactly as
// the sim's runs are, with the sim's behaviour with every bug switch off as
// the expected one. Races get help: every thread starts at one barrier, and
// later batches of runs add seeded jitter before each op and pauses where the
// reproducer's recorded schedule preempted a thread.

import { runProgram } from '../exec/run.js';
import { judgeTrace } from '../oracle/judge.js';
import { FAULT_OPS } from '../prog/ops.js';
import type { Program } from '../prog/types.js';
import { type KernelVerdict, cannotRunVerdict, keptKernelLog } from '../report/kernel-verdict.js';
import type { RunViolation } from '../report/violation.js';
import type { Trace } from '../trace/types.js';
import { divergenceViolation, isSequential } from './differential.js';
import { firstDivergence } from './divergence.js';
import { ExecutorError, ExecutorMissingError, ExecutorRefusedError, type Pause, checkRunnable, runOnKernel } from './executor.js';
import { ProvisionError, type TwinMount, describeSpec, twinMount } from './provision.js';
import { ToolError } from './tools.js';

export interface ConfirmOptions {
  /** Runs in all (default 100). */
  runs?: number;
  /** Run on this existing directory instead of a loop mount of our own. */
  dir?: string;
  /** Run on this mount (the caller's, made for the program's config, left up); for many programs on one mount. */
  mount?: TwinMount;
  /** Seeds the jitter of the later batches. */
  seed?: number;
  /** Stop once this many runs reproduced (default: run all). */
  untilHits?: number;
  /** Leave our own loop mount in place for a look, and tell this where it is. */
  keep?: (mount: TwinMount) => void;
  /** Told after each batch: runs done, hits so far. */
  onProgress?: (done: number, hits: number) => void;
}

const DEFAULT_RUNS = 100;
/** Runs per executor process. */
const BATCH = 25;
/** Largest jitter before an op, and a pause where the schedule preempted. */
const JITTER_US = 200;
const PAUSE_US = 300;

/** Errors that mean "this machine cannot run it", as opposed to a bug of ours. */
function cannotRunReason(e: unknown): string | null {
  if (e instanceof ExecutorRefusedError || e instanceof ExecutorMissingError || e instanceof ProvisionError || e instanceof ToolError) {
    return e.message;
  }
  return null;
}

/**
 * Where the recorded schedule had one program thread yield to another:
 * pausing the preempted thread at that op's boundaries lets the other go
 * first on a real kernel too. Variant 0 pauses nothing; 1 before the op, 2
 * after it.
 */
function pausesFor(program: Program, variant: number): Pause[] {
  if (variant === 0) return [];
  const out: Pause[] = [];
  for (const d of program.schedule?.decisions ?? []) {
    const at = /^t(\d+)$/.exec(d.at);
    if (!at || !/^t\d+$/.test(d.run) || d.run === d.at) continue;
    const thread = Number(at[1]);
    const op = d.op + (variant === 2 ? 1 : 0);
    if (op < (program.threads[thread]?.ops.length ?? 0)) out.push({ thread, op, us: PAUSE_US });
  }
  return out;
}

interface Tally {
  /** A sequential program's run in the sim (every switch off): each kernel run must equal it. */
  fixed: Trace | null;
  runs: number;
  hits: number;
  first: { violation: RunViolation; trace: Trace } | null;
  release: string | null;
  errors: string[];
}

async function runBatches(program: Program, mount: TwinMount, runs: number, opts: ConfirmOptions, tally: Tally): Promise<void> {
  for (let batch = 0; tally.runs < runs && tally.hits < (opts.untilHits ?? Infinity); batch++) {
    // Each batch starts on an empty directory.
    if (batch > 0) mount.clean();
    const n = Math.min(BATCH, runs - tally.runs);
    const amplify = batch > 0;
    const res = await runOnKernel(program, {
      dir: mount.dir, runs: n, ...(mount.owned ? { mount: mount.owned } : {}),
      ...(amplify ? { seed: ((opts.seed ?? 1) * 1_000_003 + batch) >>> 0, jitterUs: JITTER_US, pauses: pausesFor(program, batch % 3) } : {}),
      timeoutMs: 60_000 + n * 2_000,
    });
    tally.release = res.header?.release ?? tally.release;
    for (const trace of res.traces) judgeRun(program, trace, tally);
    if (res.status !== 'done' && res.traces.length === 0) tally.errors.push(`the executor ${res.status}: ${res.stderr.trim().slice(-300)}`);
    if (res.traces.length === 0) break;
    opts.onProgress?.(tally.runs, tally.hits);
  }
}

/** A sequential program's kernel run that departs from the fixed kernel's (the sim's): a DIVERGENCE. */
function divergenceOf(program: Program, fixed: Trace | null, trace: Trace): RunViolation | null {
  const d = fixed ? firstDivergence(fixed, trace) : null;
  return d ? divergenceViolation(d, program, trace) : null;
}

function judgeRun(program: Program, trace: Trace, tally: Tally): void {
  tally.runs++;
  if (trace.end.outcome === 'error' || trace.end.outcome === 'timeout') {
    tally.errors.push(trace.end.outcome === 'error' ? trace.end.error : 'the run timed out');
    return;
  }
  const v = judgeTrace(trace).violation ?? divergenceOf(program, tally.fixed, trace);
  if (!v) return;
  tally.hits++;
  tally.first ??= { violation: v, trace };
}

/**
 * What went wrong in the first violating run: for a sequential program, the
 * first place it departs from a fixed kernel's run (the sim's, every switch
 * off), with the oracle's words on a wrong byte ("byte 5120: stored by t0 #4
 * mwrite, read 0x00", as the sim's finding says it); otherwise, or when none
 * is found, the oracle's own words.
 */
function explain(program: Program, first: { violation: RunViolation; trace: Trace }): string {
  const v = first.violation;
  const msg = v.message.startsWith(`${v.signature}: `) ? v.message.slice(v.signature.length + 2) : v.message;
  if (program.threads.length !== 1) return msg;
  const fixed = runProgram(program, { record: true }).trace;
  const d = fixed ? firstDivergence(fixed, first.trace)?.text : null;
  const words = /; (byte \d+: .*)$/.exec(msg)?.[1];
  return d ? (words ? `${d}; ${words}` : d) : msg;
}

/** What the kernel logged in a run (its WARNING and call trace, say), as the verdict keeps it. */
function kernelLog(trace: Trace): string[] {
  return keptKernelLog(trace.events.flatMap((e) => (e.e === 'klog' ? [e.text] : [])));
}

function verdictOf(program: Program, spec: string, tally: Tally): KernelVerdict {
  const on = `on Linux ${tally.release ?? '?'} (${spec})`;
  const base = { release: tally.release, fs: spec, runs: tally.runs, hits: tally.hits, at: new Date().toISOString() };
  if (tally.first) {
    const detail = explain(program, tally.first);
    return {
      ...base, verdict: 'reproduces', signature: tally.first.violation.signature, detail, log: kernelLog(tally.first.trace),
      text: `reproduces ${tally.hits}/${tally.runs} ${on}: ${tally.first.violation.signature}: ${detail}`,
    };
  }
  const clean = tally.runs - tally.errors.length;
  if (clean === 0) return cannotRunVerdict(tally.errors[0] ?? 'no run finished', tally.release, spec);
  const failed = tally.errors.length ? ` (${tally.errors.length} runs failed: ${tally.errors[0]!})` : '';
  return { ...base, verdict: 'not-reproduced', signature: null, detail: null, log: [], text: `not reproduced in ${clean} runs ${on}${failed}` };
}

/** Run a validated program on the real kernel, N times, and say whether it has the bug. */
export async function confirmOnKernel(program: Program, opts: ConfirmOptions = {}): Promise<KernelVerdict> {
  const spec = describeSpec(program.config);
  const fault = program.threads.flatMap((t) => t.ops).find((op) => FAULT_OPS.has(op.op));
  if (fault) return cannotRunVerdict(`needs fault injection (${fault.op}), which this kernel twin does not do`, null, spec);
  let mount: TwinMount;
  try {
    mount = opts.mount ?? twinMount(program.config, opts.dir !== undefined ? { dir: opts.dir } : {});
  } catch (e) {
    const why = cannotRunReason(e);
    if (why === null) throw e;
    return cannotRunVerdict(why, null, spec);
  }
  const fixed = isSequential(program) ? runProgram(program, { record: true }).trace ?? null : null;
  const tally: Tally = { fixed, runs: 0, hits: 0, first: null, release: null, errors: [] };
  try {
    checkRunnable(program, mount.owned);
    await runBatches(program, mount, opts.runs ?? DEFAULT_RUNS, opts, tally);
  } catch (e) {
    if (!(e instanceof ExecutorError || e instanceof ExecutorRefusedError)) throw e;
    return cannotRunVerdict(e.message.replace(/^the executor refused its input: /, ''), tally.release, spec);
  } finally {
    if (opts.mount) mount.clean();
    else if (opts.keep && opts.dir === undefined) opts.keep(mount);
    else mount.release();
  }
  return verdictOf(program, spec, tally);
}
