// Kernel confirmation jobs, to the workers started with --kernel-confirm.
// Such a job needs root and loop devices, which most workers lack, so it is
// in no shared queue: it goes to one capable worker at a time, directly
// (ff.confirm.<worker>, core NATS; the transport sends it). No transport here:
// `plan` says what to send where, the coordinator writes the campaigns down
// and then sends.
//
// A job is never lost: its finding keeps it out (the finding pipeline) until
// its verdict is applied, and it is sent again while
//   - no capable worker holds it: the one it went to stopped heartbeating
//     (dead, or cut off), or its heartbeats have not listed it for
//     ARRIVAL_MS (the message was lost on the way);
//   - it waits, when no capable worker is connected (the campaign's status
//     says so, kernelConfirmInfo).
// Every worker a job went to is written in the campaign's record
// (confirmSentTo) before it is sent: a verdict is accepted only from one of
// them (results.ts), so a restarted coordinator still takes the verdict of a
// worker it sent the job to before, and nobody else's. A job sent MAX_SENDS
// times without a verdict (it killed the workers, or their kernels) gets a
// verdict saying so, rather than going round the cluster forever.

import type { Logger } from '../worker/cluster/log.js';
import type { Heartbeat } from '../worker/cluster/wire.js';
import type { ConfirmJob } from '../worker/cluster/wire-confirm.js';
import { cannotRunVerdict } from '../worker/report/kernel-verdict.js';
import { plural } from '../worker/repro/words.js';
import type { KernelConfirmInfo } from './api.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import type { WorkerTable } from './workers.js';

/** A worker lists a job it took in its next heartbeat (it sends one at once): one not listed this long after it was sent never arrived. */
export const ARRIVAL_MS = 10_000;
/** Sends of one job without a verdict before it is given up. */
export const MAX_SENDS = 5;

export interface ConfirmSend {
  workerId: string;
  job: ConfirmJob;
}

interface Pending {
  c: CampaignRuntime;
  job: ConfirmJob;
  /** The worker it went to last, while it may still hold it. */
  target: string | null;
  /** performance.now() ms of the last send (or of the restart that found it out). */
  sentAt: number;
}

export class ConfirmDispatch {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly campaigns: ReadonlyMap<string, CampaignRuntime>,
    private readonly workers: WorkerTable,
    private readonly log: Logger,
  ) {}

  /** A job the finding pipeline issued, or issued again at start (then the worker it went to last keeps it while it holds it). */
  add(job: ConfirmJob, now = performance.now()): void {
    const c = this.campaigns.get(job.campaignId);
    if (!c) return;
    const sent = c.rec.confirmSentTo?.[job.jobId] ?? [];
    this.pending.set(job.jobId, { c, job, target: sent[sent.length - 1] ?? null, sentAt: now });
  }

  /** What to send now, each already written in its campaign's record (the caller persists before sending). */
  plan(now = performance.now()): ConfirmSend[] {
    const out: ConfirmSend[] = [];
    const load = new Map(this.workers.kernelConfirmers(now).map((hb) => [hb.workerId, hb.confirming.length]));
    for (const [id, p] of this.pending) {
      if (p.c.findings.get(p.job.signature)?.record.confirmJob !== id) {
        // Answered, or given up.
        this.pending.delete(id);
        continue;
      }
      if (p.target !== null && this.holds(p.target, id, p.sentAt, now)) continue;
      p.target = null;
      const to = leastLoaded(load);
      if (to === null) continue;
      if (this.sentTo(p).length >= MAX_SENDS) {
        this.giveUp(p);
        continue;
      }
      this.noteSend(p, to, now);
      load.set(to, load.get(to)! + 1);
      out.push({ workerId: to, job: p.job });
    }
    return out;
  }

  /** The worker is connected and lists the job, or was sent it too recently to have said so. */
  private holds(workerId: string, jobId: string, sentAt: number, now: number): boolean {
    const hb: Heartbeat | null = this.workers.latest(workerId, now);
    return hb !== null && (hb.confirming.includes(jobId) || now - sentAt < ARRIVAL_MS);
  }

  private sentTo(p: Pending): string[] {
    return p.c.rec.confirmSentTo?.[p.job.jobId] ?? [];
  }

  private noteSend(p: Pending, workerId: string, now: number): void {
    const rec = p.c.rec;
    rec.confirmSentTo ??= {};
    (rec.confirmSentTo[p.job.jobId] ??= []).push(workerId);
    p.c.dirty = true;
    p.target = workerId;
    p.sentAt = now;
    this.log.info({ campaign: p.c.id, job: p.job.jobId, worker: workerId, signature: p.job.signature, send: this.sentTo(p).length },
      'kernel confirmation sent to a worker started with --kernel-confirm');
  }

  private giveUp(p: Pending): void {
    const workers = this.sentTo(p);
    const why = `the kernel confirmation went to ${plural(workers.length, 'worker')} started with --kernel-confirm ` +
      `(${workers.join(', ')}) and none answered: did it crash them or their kernels?`;
    this.log.error({ campaign: p.c.id, job: p.job.jobId, signature: p.job.signature, workers }, why);
    p.c.findings.confirmed({ jobId: p.job.jobId, signature: p.job.signature, verdict: cannotRunVerdict(why) });
    forgetSends(p.c, p.job.jobId);
    this.pending.delete(p.job.jobId);
  }
}

/** Whether `workerId` is one the job went to: only its verdict counts. */
export function wasSentTo(c: CampaignRuntime, jobId: string, workerId: string): boolean {
  return c.rec.confirmSentTo?.[jobId]?.includes(workerId) ?? false;
}

/** The job's verdict was applied (or the job given up): forget whom it went to. */
export function forgetSends(c: CampaignRuntime, jobId: string): void {
  if (c.rec.confirmSentTo?.[jobId] === undefined) return;
  delete c.rec.confirmSentTo[jobId];
  c.dirty = true;
}

/** The capable worker holding the fewest confirmations (ties: the first id), or null when none is connected. */
function leastLoaded(load: ReadonlyMap<string, number>): string | null {
  let best: string | null = null;
  for (const [w, n] of load) if (best === null || n < load.get(best)! || (n === load.get(best)! && w < best)) best = w;
  return best;
}

/** Where a campaign's kernel confirmations stand, in numbers and words; undefined when it asks for none. */
export function kernelConfirmInfo(c: CampaignRuntime, capableWorkers: number): KernelConfirmInfo | undefined {
  const runs = c.rec.kernelConfirmRuns;
  if (runs === undefined) return undefined;
  const waiting = c.findings.confirming;
  const confirmed = c.findings.reported().filter((f) => f.record.kernel !== undefined).length;
  const capable = `${plural(capableWorkers, 'worker')} started with --kernel-confirm`;
  let status: string;
  if (capableWorkers === 0 && waiting > 0) status = `waiting for a worker started with --kernel-confirm (${plural(waiting, 'finding')} waiting)`;
  else if (capableWorkers === 0) status = 'no worker started with --kernel-confirm is connected: findings will wait for one';
  else if (waiting > 0) status = `${plural(waiting, 'finding')} being confirmed on ${capable}`;
  else status = `${capable} connected, no finding waiting`;
  return { runs, waiting, confirmed, workers: capableWorkers, status: `kernel confirmation: ${status}; ${confirmed} confirmed, ${plural(runs, 'run')} each` };
}
