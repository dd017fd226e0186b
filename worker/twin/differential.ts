// One program, twice: in the sim (every switch off: the fixed kernel) and on
// a real kernel, and what the two runs say together.
//
//   - the kernel's trace is judged by the oracle's rules, exactly as the
//     sim's are: a violation is a kernel finding (any program);
//   - a sequential program's kernel run (one thread, nothing timed: see
//     isSequential) must equal the sim's, op by op: a
//     difference the kernel repeats is a DIVERGENCE (a sim infidelity or a
//     kernel bug); one it does not repeat depended on timing (an AIO
//     completing early, the flusher), and is only counted;
//   - the sim's own run must be clean: a violation there with every switch
//     off is a false positive of the sim.

import { runProgram } from '../exec/run.js';
import { judgeTrace } from '../oracle/judge.js';
import { TIMED_OPS } from '../prog/ops.js';
import type { Program } from '../prog/types.js';
import { divergenceSignature } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import type { Trace } from '../trace/types.js';
import { fsName } from './configs.js';
import { type Divergence, firstDivergence } from './divergence.js';
import { runOnKernel } from './executor.js';
import type { TwinMount } from './provision.js';

export type TwinOutcome =
  | { kind: 'agree' }
  /** A finding: the kernel's trace broke a rule, the two runs diverge for good, or the sim flagged itself. */
  | { kind: 'finding'; source: 'kernel' | 'divergence' | 'sim'; violation: RunViolation }
  /** A sequential program diverged once, and not again: timing decided it. */
  | { kind: 'timing'; divergence: Divergence }
  /** The kernel run did not finish (the executor failed or timed out). */
  | { kind: 'error'; error: string };

/** A program whose every result is fixed by the program alone: one thread and no timed op. */
export function isSequential(p: Program): boolean {
  return p.threads.length === 1 && p.threads[0]!.ops.every((o) => !TIMED_OPS.has(o.op));
}

/** Reruns that decide whether a divergence is the program's or the moment's. */
const RECHECK_RUNS = 4;
/** Of those, how many must show it again. */
const RECHECK_AGREE = 3;

export interface TwinRun {
  sim: Trace;
  kernel: Trace | null;
  outcome: TwinOutcome;
  /** Wall time each side took. */
  simSec: number;
  kernelSec: number;
}

async function kernelTraces(p: Program, mount: TwinMount, runs: number): Promise<{ traces: Trace[]; error: string | null }> {
  const r = await runOnKernel(p, { dir: mount.dir, runs, ...(mount.owned ? { mount: mount.owned } : {}), timeoutMs: 20_000 + runs * 5_000 });
  mount.clean();
  const done = r.traces.filter((t) => t.end.outcome === 'done');
  if (done.length === 0) return { traces: [], error: `the executor ${r.status}: ${(r.traces[0]?.end.outcome === 'error' ? r.traces[0].end.error : r.stderr).slice(-300)}` };
  return { traces: done, error: null };
}

function sameDivergence(a: Divergence, b: Divergence | null): boolean {
  return b !== null && a.op === b.op && a.what === b.what && a.t === b.t && a.i === b.i;
}

export function divergenceViolation(d: Divergence, p: Program, kernel: Trace): RunViolation {
  const signature = divergenceSignature(d.op, d.what, fsName(p.config));
  const release = kernel.source.kind === 'kernel' ? kernel.source.release : '?';
  return {
    signature, invariant: `${d.op}:${d.what}`, kind: 'DIVERGENCE', message: `${signature}: on Linux ${release}, ${d.text}`,
    stacks: [], traceTail: [], step: 0,
  };
}

/** Run `p` in the sim and once on the kernel (more when they diverge) and say what the two runs say. */
export async function runTwice(p: Program, mount: TwinMount): Promise<TwinRun> {
  const t0 = performance.now();
  const simRun = runProgram(p, { record: true });
  const simSec = (performance.now() - t0) / 1000;
  const sim = simRun.trace!;
  const base = { sim, kernel: null, simSec, kernelSec: 0 };
  if (simRun.harnessError) return { ...base, outcome: { kind: 'error', error: `the sim failed: ${simRun.harnessError.split('\n')[0]}` } };
  if (simRun.violation) return { ...base, outcome: { kind: 'finding', source: 'sim', violation: simRun.violation } };
  const { kernel, outcome } = await onKernel(p, mount, sim);
  return { sim, kernel, outcome, simSec, kernelSec: (performance.now() - t0) / 1000 - simSec };
}

/** The kernel's side: its run judged, and (sequential) compared with the sim's, rechecked when they differ. */
async function onKernel(p: Program, mount: TwinMount, sim: Trace): Promise<{ kernel: Trace | null; outcome: TwinOutcome }> {
  const first = await kernelTraces(p, mount, 1);
  const kernel = first.traces[0] ?? null;
  if (!kernel) return { kernel, outcome: { kind: 'error', error: first.error ?? 'no kernel run' } };
  let v: RunViolation | null;
  try {
    v = judgeTrace(kernel).violation;
  } catch (e) {
    // A harness bug, never a finding: counted with the errors, and the campaign goes on.
    return { kernel, outcome: { kind: 'error', error: `the oracle failed on the kernel's trace: ${e instanceof Error ? e.stack ?? e.message : String(e)}` } };
  }
  if (v) return { kernel, outcome: { kind: 'finding', source: 'kernel', violation: v } };
  const d = isSequential(p) ? firstDivergence(sim, kernel) : null;
  if (!d) return { kernel, outcome: { kind: 'agree' } };
  const again = await kernelTraces(p, mount, RECHECK_RUNS);
  const repeated = again.traces.filter((t) => sameDivergence(d, firstDivergence(sim, t))).length;
  if (repeated < RECHECK_AGREE) return { kernel, outcome: { kind: 'timing', divergence: d } };
  return { kernel, outcome: { kind: 'finding', source: 'divergence', violation: divergenceViolation(d, p, kernel) } };
}

/** Whether `p` still shows `signature` when run twice (the kernel as the predicate of a minimization). */
export async function stillShows(p: Program, mount: TwinMount, signature: string): Promise<boolean> {
  const r = await runTwice(p, mount);
  return r.outcome.kind === 'finding' && r.outcome.violation.signature === signature;
}
