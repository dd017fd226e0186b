// The cluster's side of the finding pipeline (worker/fuzz/findings/): what
// its events become here (jobs for the workers, metrics, log lines). The
// pipeline itself decides; this only delivers and tells. No NATS here: a job
// leaves through `publishJob`, which the coordinator wires to its transport
// (verify and minimize jobs: the shared job queue) or to the kernel
// confirmations' dispatch (confirm-dispatch.ts: workers started with
// --kernel-confirm only).
//
// One delivery rule is the cluster's own (findings/policy.ts): when the
// finder is the only worker connected, a cross-check would wait forever, so
// it goes out after a delay marked for the finder itself, and the record
// keeps the mark (the pipeline then takes the finder's answer, and the
// finding says how it was cross-checked).

import type { Logger } from '../worker/cluster/log.js';
import type { MinimizeJob, VerifyJob } from '../worker/cluster/wire.js';
import type { ConfirmJob } from '../worker/cluster/wire-confirm.js';
import type { FindingEvents, FindingJob } from '../worker/fuzz/findings/pipeline.js';
import { SAME_WORKER_DELAY_MS, crossCheckLabel, crossCheckOnFinder, sameWorkerFinder } from '../worker/fuzz/findings/policy.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import type { CoordinatorMetrics } from './metrics.js';

/** A job as the workers take it. */
export type ClusterJob = { kind: 'verify'; job: VerifyJob } | { kind: 'minimize'; job: MinimizeJob } | { kind: 'confirm'; job: ConfirmJob };

export interface FindingGlue {
  metrics: CoordinatorMetrics;
  log: Logger;
  publishJob(job: ClusterJob): void;
  /** The worker processes connected now; unset: cross-checks always wait for another worker. */
  connectedWorkers?: () => string[];
  /** How long a one-worker cluster waits before it cross-checks on the finder (default SAME_WORKER_DELAY_MS). */
  sameWorkerDelayMs?: number;
}

/** A pipeline job with what a worker needs besides: the campaign and its switches. */
export function clusterJob(c: CampaignRuntime, job: FindingJob): ClusterJob {
  const base = { jobId: job.jobId, campaignId: c.id, signature: job.signature, program: job.program };
  switch (job.kind) {
    case 'verify': return { kind: 'verify', job: { ...base, bugs: c.rec.bugs, finderWorkerId: job.finderWorkerId } };
    case 'minimize': return { kind: 'minimize', job: { ...base, bugs: c.rec.bugs, maxRuns: job.maxRuns, deadlineMs: job.deadlineMs } };
    // A real kernel has no switches: the twin judges it against the sim with every switch off.
    case 'confirm': return { kind: 'confirm', job: { ...base, runs: job.runs } };
  }
}

/**
 * A verify job: out at once, unless its finder is the only worker connected;
 * then, after the delay, out for the finder itself if that is still so (and
 * the finding still waits on this job), or as it was if another came.
 */
function issueVerify(c: CampaignRuntime, g: FindingGlue, job: FindingJob & { kind: 'verify' }): void {
  if (!g.connectedWorkers || !crossCheckOnFinder(job.finderWorkerId, g.connectedWorkers())) {
    g.publishJob(clusterJob(c, job));
    return;
  }
  const delayMs = g.sameWorkerDelayMs ?? SAME_WORKER_DELAY_MS;
  g.log.info({ campaign: c.id, worker: job.finderWorkerId, signature: job.signature, delaySec: delayMs / 1000 },
    'the finder is the only worker: cross-checking on it after a delay, unless another worker comes');
  setTimeout(() => {
    const f = c.findings.get(job.signature);
    if (!f || f.record.verifyJob !== job.jobId) return;
    if (!crossCheckOnFinder(job.finderWorkerId, g.connectedWorkers!())) {
      g.publishJob(clusterJob(c, job));
      return;
    }
    f.record.finderWorkerId = sameWorkerFinder(job.finderWorkerId);
    g.publishJob(clusterJob(c, { ...job, finderWorkerId: f.record.finderWorkerId }));
  }, delayMs).unref();
}

export function clusterFindingEvents(c: CampaignRuntime, g: FindingGlue): FindingEvents {
  return {
    issue: (job) => (job.kind === 'verify' ? issueVerify(c, g, job) : g.publishJob(clusterJob(c, job))),
    newSignature: (f) => {
      g.log.info({ campaign: c.id, worker: f.record.finderWorkerId, signature: f.record.signature }, 'new signature; cross-checking it on another worker');
    },
    reported: ({ record: r }) => {
      g.metrics.findings.inc({ kind: r.kind });
      g.log.info({ campaign: c.id, finding: r.id, signature: r.signature, finder: r.finderWorkerId, verifier: r.verifiedBy, crossCheck: crossCheckLabel(r) },
        'finding cross-checked and reported; minimizing it');
    },
    notReproduced: (_f, o) => {
      g.log.warn({ campaign: c.id, worker: o.workerId, signature: o.signature, observed: o.observed || '(silent)' },
        'a finding did not reproduce on another worker; not reported (it is checked again when found again)');
    },
    minimized: ({ record: r }, o) => {
      g.metrics.minimizeSeconds.observe(o.ms / 1000);
      if (o.program) {
        g.log.info({ campaign: c.id, finding: r.id, opsBefore: o.opsBefore, opsAfter: o.opsAfter, ms: Math.round(o.ms) }, 'finding minimized');
      } else {
        g.log.warn({ campaign: c.id, finding: r.id, error: r.minimizeError }, 'minimization failed; the reproducer stays the cross-checked program');
      }
    },
    confirmed: ({ record: r }, o) => {
      g.metrics.kernelVerdicts.inc({ verdict: o.verdict.verdict });
      g.log.info({ campaign: c.id, finding: r.id, signature: r.signature, worker: o.workerId, verdict: o.verdict.verdict, text: o.verdict.text }, 'kernel verdict');
    },
    unreadable: ({ record: r }, why) => g.log.warn({ campaign: c.id, finding: r.id, err: why }, 'a stored file is unreadable; using the first program'),
  };
}
