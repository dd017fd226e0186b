// One batch of fuzzing and one minimization job, as a worker thread runs
// them: the embedded campaign's threads (campaign-worker.ts) and the cluster's
// executor threads (worker/cluster/executor-thread.ts) share them.

import type { Program } from '../prog/types.js';
import { attributeSwitches } from '../repro/explain.js';
import type { BugName } from '../sim/bugs.js';
import { executeProgram } from './executor.js';
import type { Fuzzer } from './fuzzer.js';
import type { BatchFinding, BatchReport, MinimizeReport, MinimizeRequest } from './messages.js';
import { minimizeProgram } from './minimize.js';
import { programSize } from './minimize-predicate.js';

/** Run programs for `ms` of wall time (at least one), or until `maxExecs` when set. */
export function runBatch(f: Fuzzer, ms: number, maxExecs = 0): BatchReport {
  const report: BatchReport = { type: 'batch', execs: 0, timeouts: 0, newInputs: [], findings: [], harness: [] };
  const until = performance.now() + ms;
  do {
    const r = f.runOne();
    report.execs++;
    switch (r.kind) {
      case 'new-coverage':
        report.newInputs.push({ program: r.program, points: r.points, newPoints: r.newPoints });
        break;
      case 'finding':
        report.findings.push({ program: r.program, violation: r.violation, at: report.execs });
        break;
      case 'harness':
        report.harness.push({ program: r.program, error: r.error });
        break;
      case 'timeout':
        report.timeouts++;
        break;
      case 'ok':
        break;
    }
  } while (performance.now() < until && (maxExecs === 0 || report.execs < maxExecs));
  return report;
}

/**
 * Minimize a finding's program under the smallest set of the campaign's
 * switches it needs (asked again of the minimized program, which may need
 * fewer), and report that set with it.
 */
export function minimize(job: MinimizeRequest, campaignBugs: ReadonlySet<BugName>): MinimizeReport {
  const t0 = performance.now();
  const slipped: BatchFinding[] = [];
  const opsBefore = programSize(job.program);
  let switches: BugName[] = [...campaignBugs].sort();
  try {
    switches = attributeSwitches(job.program, job.signature, switches);
    const bugs = new Set(switches);
    const res = minimizeProgram(job.program, {
      bugs,
      signature: job.signature,
      maxRuns: job.maxRuns,
      deadlineMs: job.deadlineMs,
      onNewFinding: (_sig: string, program: Program) => {
        const out = executeProgram(program, { bugs, timeoutMs: 5_000 });
        if (out.kind === 'finding') slipped.push({ program, violation: out.violation, at: 0 });
      },
    });
    switches = attributeSwitches(res.program, job.signature, switches);
    return {
      type: 'minimized', jobId: job.jobId, signature: job.signature, program: res.program, opsBefore, opsAfter: res.opsAfter,
      runs: res.runs, ms: performance.now() - t0, slipped, switches,
    };
  } catch (e) {
    return {
      type: 'minimized', jobId: job.jobId, signature: job.signature, program: null, opsBefore, opsAfter: opsBefore, runs: 0,
      ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e), slipped, switches,
    };
  }
}
