// The cluster's side of the finding pipeline (worker/fuzz/findings/): what
// its events become here (jobs for the workers, metrics, log lines). The
// pipeline itself decides; this only delivers and tells. No NATS here: a job
// leaves through `publishJob`, which the coordinator wires to its transport.

import type { Logger } from '../worker/cluster/log.js';
import type { MinimizeJob, VerifyJob } from '../worker/cluster/wire.js';
import type { FindingEvents, FindingJob } from '../worker/fuzz/findings/pipeline.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import type { CoordinatorMetrics } from './metrics.js';

/** A job as the workers take it. */
export type ClusterJob = { kind: 'verify'; job: VerifyJob } | { kind: 'minimize'; job: MinimizeJob };

export interface FindingGlue {
  metrics: CoordinatorMetrics;
  log: Logger;
  publishJob(job: ClusterJob): void;
}

/** A pipeline job with what a worker needs besides: the campaign and its switches. */
export function clusterJob(c: CampaignRuntime, job: FindingJob): ClusterJob {
  const base = { jobId: job.jobId, campaignId: c.id, signature: job.signature, bugs: c.rec.bugs, program: job.program };
  return job.kind === 'verify'
    ? { kind: 'verify', job: { ...base, finderWorkerId: job.finderWorkerId } }
    : { kind: 'minimize', job: { ...base, maxRuns: job.maxRuns, deadlineMs: job.deadlineMs } };
}

export function clusterFindingEvents(c: CampaignRuntime, g: FindingGlue): FindingEvents {
  return {
    issue: (job) => g.publishJob(clusterJob(c, job)),
    newSignature: (f) => {
      g.log.info({ campaign: c.id, worker: f.record.finderWorkerId, signature: f.record.signature }, 'new signature; cross-checking it on another worker');
    },
    reported: ({ record: r }) => {
      g.metrics.findings.inc({ kind: r.kind });
      g.log.info({ campaign: c.id, finding: r.id, signature: r.signature, finder: r.finderWorkerId, verifier: r.verifiedBy },
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
    unreadable: ({ record: r }, why) => g.log.warn({ campaign: c.id, finding: r.id, err: why }, 'a stored file is unreadable; using the first program'),
  };
}
