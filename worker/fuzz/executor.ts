// The fuzzer's executor: run one program on a fresh simulated machine with a
// step budget and a wall-time limit, and sort the outcome.
//
// A violation is a kernel finding. An exception the simulator throws that is
// not a Violation is a harness error (a bug in foliofuzz), and a run the wall
// clock stopped is a timeout: both are counted apart and never reported as
// kernel bugs. The coverage of the run is left in covMap for the caller.

import { runProgram } from '../exec/run.js';
import type { RunViolation } from '../report/violation.js';
import type { Program } from '../prog/types.js';
import type { BugSet } from '../sim/bugs.js';
import { aliasCoverage, aliasReset } from '../sim/alias.js';
import { covReset } from '../sim/cov.js';

export interface ExecLimits {
  bugs: BugSet;
  /**
   * Scheduler steps before a run counts as a livelock. Leave it unset (the
   * executor's default, which replay and the minimizer use too) unless every
   * consumer of the findings uses the same budget: a livelock found under a
   * smaller one would not replay.
   */
  stepBudget?: number;
  /** Wall time before a run is abandoned (not a finding). */
  timeoutMs: number;
  /** Record alias coverage (alias.ts); default off (the fuzzer asks for it). */
  aliasCoverage?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 2_000;

export type ExecOutcome =
  | { kind: 'ok' }
  | { kind: 'finding'; violation: RunViolation }
  | { kind: 'harness'; error: string }
  | { kind: 'timeout' };

export function executeProgram(program: Program, limits: ExecLimits): ExecOutcome {
  covReset();
  aliasReset();
  aliasCoverage(limits.aliasCoverage === true);
  const deadline = performance.now() + limits.timeoutMs;
  const r = runProgram(program, {
    bugs: limits.bugs,
    ...(limits.stepBudget !== undefined ? { stepBudget: limits.stepBudget } : {}),
    overtime: () => performance.now() > deadline,
  });
  if (r.harnessError) return { kind: 'harness', error: r.harnessError };
  if (r.timedOut) return { kind: 'timeout' };
  if (r.violation) return { kind: 'finding', violation: r.violation };
  return { kind: 'ok' };
}
