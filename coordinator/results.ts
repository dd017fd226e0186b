// What the workers send back, applied to a campaign: a batch's counters,
// corpus inputs and findings, and the answers to verify and minimize jobs
// (through the campaign's finding pipeline). No transport here: the NATS side
// decodes a result, the coordinator calls these, persists, and only then acks.
//
// Each result id (batch or job) is applied once: the ids applied are kept
// with the counters (CampaignRuntime.markProcessed), so a result delivered
// again (JetStream redelivers what was not acked before a coordinator died)
// counts nothing twice.

import type { Logger } from '../worker/cluster/log.js';
import type { BatchResult, MinimizeJob, MinimizeResult, VerifyJob, VerifyResult, WorkBatch } from '../worker/cluster/wire.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import type { CoordinatorMetrics } from './metrics.js';

export type WorkerResult =
  | { kind: 'batch'; result: BatchResult }
  | { kind: 'verify'; result: VerifyResult }
  | { kind: 'minimize'; result: MinimizeResult };

/** Work that went to the dead-letter stream: it will never be answered. */
export type DeadWork = { kind: 'batch'; batch: WorkBatch } | { kind: 'verify'; job: VerifyJob } | { kind: 'minimize'; job: MinimizeJob };

export interface ResultsEnv {
  metrics: CoordinatorMetrics;
  log: Logger;
}

/** Apply one result to its campaign; false when it was applied before or answers nothing pending. */
export function applyResult(c: CampaignRuntime, r: WorkerResult, env: ResultsEnv): boolean {
  switch (r.kind) {
    case 'batch': return applyBatchResult(c, r.result, env);
    case 'verify': return applyVerifyResult(c, r.result);
    case 'minimize': return applyMinimizeResult(c, r.result);
  }
}

export function applyBatchResult(c: CampaignRuntime, r: BatchResult, env: ResultsEnv): boolean {
  if (c.wasProcessed(r.batchId)) return false;
  c.markProcessed(r.batchId);
  delete c.rec.outstanding[r.batchId];
  const base = c.rec.execs;
  c.rec.execs += r.execs;
  c.rec.timeouts += r.timeouts;
  c.workerSeen.set(r.workerId, performance.now());
  env.metrics.execs.inc({ campaign: c.id }, r.execs);
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
  return true;
}

export function applyVerifyResult(c: CampaignRuntime, r: VerifyResult): boolean {
  if (c.wasProcessed(r.jobId) || !c.findings.verified(r)) return false;
  c.markProcessed(r.jobId);
  return true;
}

/** Signatures met on the way count at the campaign's execution count now. */
export function applyMinimizeResult(c: CampaignRuntime, r: MinimizeResult): boolean {
  if (c.wasProcessed(r.jobId) || !c.findings.minimized(r, { exec: c.rec.execs, sec: c.rec.elapsedSec })) return false;
  c.markProcessed(r.jobId);
  return true;
}

/** Dead-lettered work is no longer out: its batch slot is freed, its finding's job given up (findings/pipeline.ts). */
export function forgetDeadWork(c: CampaignRuntime, w: DeadWork): void {
  if (w.kind === 'batch') {
    delete c.rec.outstanding[w.batch.batchId];
    c.dirty = true;
  } else {
    c.findings.jobLost(w.kind, w.job.signature, w.job.jobId);
  }
}
