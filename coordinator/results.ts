// What the workers send back, applied to a campaign: a batch's counters,
// corpus inputs and findings, and the answers to verify, minimize and kernel
// confirmation jobs (through the campaign's finding pipeline). No transport here: the NATS side
// decodes a result, the coordinator calls these, persists, and only then acks.
//
// Each result is applied once, however late it comes: a batch result counts
// only while its batch is out (CampaignRuntime's `outstanding`, persisted
// before the batch is published and cleared when its result is applied), and
// a job's answer only while its finding waits on that job id (the finding
// pipeline). Nothing else is remembered, so nothing has to be forgotten.
//
// A result is also checked against what its batch could have done: no more
// executions than one per microsecond of the batch's time, no more timeouts,
// inputs or findings than executions. One that claims more is refused (a
// worker with a bug, or someone forging results with a worker's credentials).
// A kernel verdict (checked as a verdict when it was decoded) counts only
// from a worker its job was sent to, and for no more runs than were asked.

import type { Logger } from '../worker/cluster/log.js';
import type { BatchResult, MinimizeJob, MinimizeResult, VerifyJob, VerifyResult, WorkBatch } from '../worker/cluster/wire.js';
import type { ConfirmResult } from '../worker/cluster/wire-confirm.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import { forgetSends, wasSentTo } from './confirm-dispatch.js';
import type { CoordinatorMetrics } from './metrics.js';

export type WorkerResult =
  | { kind: 'batch'; result: BatchResult }
  | { kind: 'verify'; result: VerifyResult }
  | { kind: 'minimize'; result: MinimizeResult }
  | { kind: 'confirm'; result: ConfirmResult };

/** Work that went to the dead-letter stream: it will never be answered. */
export type DeadWork = { kind: 'batch'; batch: WorkBatch } | { kind: 'verify'; job: VerifyJob } | { kind: 'minimize'; job: MinimizeJob };

/**
 * What became of a result: applied; ignored (applied before, or it answers
 * nothing out: a duplicate); refused (it claims what its batch cannot have done).
 */
export type ResultVerdict = { verdict: 'applied' } | { verdict: 'ignored'; why: string } | { verdict: 'refused'; why: string };

export interface ResultsEnv {
  metrics: CoordinatorMetrics;
  log: Logger;
  /** The most a batch's wall time can be, ms: its time budget plus one execution's time limit. */
  batchWallMs: number;
}

/** A worker thread executes at most one program per microsecond: a machine is built for each. */
const MAX_EXECS_PER_MS = 1000;

const APPLIED: ResultVerdict = { verdict: 'applied' };

/** Apply one result to its campaign. */
export function applyResult(c: CampaignRuntime, r: WorkerResult, env: ResultsEnv): ResultVerdict {
  switch (r.kind) {
    case 'batch': return applyBatchResult(c, r.result, env);
    case 'verify': return applyVerifyResult(c, r.result);
    case 'minimize': return applyMinimizeResult(c, r.result);
    case 'confirm': return applyConfirmResult(c, r.result);
  }
}

/** Why a batch result cannot be true, or null. */
export function impossibleBatchResult(r: BatchResult, batchWallMs: number): string | null {
  const maxExecs = Math.ceil(batchWallMs * MAX_EXECS_PER_MS);
  if (r.execs > maxExecs) return `execs ${r.execs}: a batch of at most ${batchWallMs} ms runs at most ${maxExecs}`;
  if (r.timeouts > r.execs) return `timeouts ${r.timeouts} > execs ${r.execs}`;
  if (r.newInputs.length > r.execs) return `${r.newInputs.length} new inputs from ${r.execs} execs`;
  if (r.harness.length > r.execs) return `${r.harness.length} harness errors from ${r.execs} execs`;
  let hits = 0;
  for (const f of r.findings) {
    if (f.at < 1 || f.at > r.execs) return `a finding at execution ${f.at} of ${r.execs}`;
    hits += 1 + f.repeats;
  }
  if (hits > r.execs) return `${hits} findings from ${r.execs} execs`;
  if (r.delivery < 1) return `delivery ${r.delivery}`;
  return null;
}

export function applyBatchResult(c: CampaignRuntime, r: BatchResult, env: ResultsEnv): ResultVerdict {
  if (c.rec.outstanding[r.batchId] === undefined) return { verdict: 'ignored', why: `batch ${r.batchId} is not out (answered before, or never issued)` };
  const impossible = impossibleBatchResult(r, env.batchWallMs);
  if (impossible !== null) return { verdict: 'refused', why: impossible };
  delete c.rec.outstanding[r.batchId];
  c.dirty = true;
  const base = c.rec.execs;
  c.rec.execs += r.execs;
  c.rec.timeouts += r.timeouts;
  c.workerSeen.set(r.workerId, performance.now());
  env.metrics.batchSeconds.observe(r.ms / 1000);
  if (r.delivery > 1) {
    c.rec.redelivered++;
    env.metrics.redelivered.inc();
  }
  for (const h of r.harness) {
    c.rec.harnessErrors++;
    env.log.error({ campaign: c.id, worker: r.workerId, error: h.error.split('\n')[0] }, 'harness error (a simulator bug, not a kernel finding)');
  }
  for (const input of r.newInputs) c.addInput(input.program, input.points);
  for (const f of r.findings) c.findings.found(f, { exec: base + f.at, sec: c.rec.elapsedSec }, r.workerId);
  return APPLIED;
}

export function applyVerifyResult(c: CampaignRuntime, r: VerifyResult): ResultVerdict {
  if (!c.findings.verified(r)) return { verdict: 'ignored', why: `verify job ${r.jobId} is not out` };
  c.dirty = true;
  return APPLIED;
}

/** Signatures met on the way count at the campaign's execution count now. */
export function applyMinimizeResult(c: CampaignRuntime, r: MinimizeResult): ResultVerdict {
  if (r.opsAfter > r.opsBefore) return { verdict: 'refused', why: `minimized to ${r.opsAfter} ops from ${r.opsBefore}` };
  if (!c.findings.minimized(r, { exec: c.rec.execs, sec: c.rec.elapsedSec })) return { verdict: 'ignored', why: `minimize job ${r.jobId} is not out` };
  c.dirty = true;
  return APPLIED;
}

/** A kernel verdict: from a worker its job went to, for at most the runs asked. */
export function applyConfirmResult(c: CampaignRuntime, r: ConfirmResult): ResultVerdict {
  if (c.findings.get(r.signature)?.record.confirmJob !== r.jobId) return { verdict: 'ignored', why: `kernel confirmation ${r.jobId} is not out` };
  if (!wasSentTo(c, r.jobId, r.workerId)) return { verdict: 'refused', why: `kernel confirmation ${r.jobId} was not sent to worker ${r.workerId}` };
  const asked = c.rec.kernelConfirmRuns ?? 0;
  if (r.verdict.runs > asked) return { verdict: 'refused', why: `a verdict of ${r.verdict.runs} runs; ${asked} were asked for` };
  c.findings.confirmed({ jobId: r.jobId, signature: r.signature, verdict: r.verdict, workerId: r.workerId });
  forgetSends(c, r.jobId);
  c.dirty = true;
  return APPLIED;
}

/** Dead-lettered work is no longer out: its batch slot is freed, its finding's job given up (findings/pipeline.ts). */
export function forgetDeadWork(c: CampaignRuntime, w: DeadWork): void {
  if (w.kind === 'batch') forgetBatch(c, w.batch.batchId);
  else c.findings.jobLost(w.kind, w.job.signature, w.job.jobId);
}

/** A batch that will never be answered: its result, should one still come, is ignored. */
export function forgetBatch(c: CampaignRuntime, batchId: string): boolean {
  if (c.rec.outstanding[batchId] === undefined) return false;
  delete c.rec.outstanding[batchId];
  c.dirty = true;
  return true;
}
