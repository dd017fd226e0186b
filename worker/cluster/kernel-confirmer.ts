// A cluster worker's kernel confirmations (`worker --kernel-confirm`): the
// coordinator sends a ConfirmJob to this worker alone, on ff.confirm.<its id>
// (core NATS: no shared queue, since other workers cannot run it); it waits
// here and the jobs run one at a time on this machine's real kernel through
// the kernel twin (worker/twin/confirm.ts), each verdict published to
// FF_RESULTS.
//
// The heartbeat lists the jobs held here, running or queued (`confirming`):
// that is how the coordinator knows a job arrived. One that never did (NATS
// was away) is not listed, and the coordinator sends it again; so a job sent
// again while held, or after its verdict was published, is dropped here.
//
// A worker that stops publishes no verdict finished after it began stopping:
// the signal that stops it also takes down the twin's mounts, so that verdict
// would be about the shutdown, not the kernel. The coordinator sends the job
// to another worker once this one's heartbeats stop.

import type { Msg, NatsConnection, Subscription } from 'nats';
import { type KernelVerdict, cannotRunVerdict } from '../report/kernel-verdict.js';
import type { Logger } from './log.js';
import { SUBJECTS } from './nats.js';
import { type ConfirmJob, decodeConfirmJob, encodeConfirmResult } from './wire-confirm.js';

export interface ConfirmerEnv {
  workerId: string;
  log: Logger;
  /** Publish to FF_RESULTS, retrying while NATS is away. */
  publishResult(subject: string, data: Uint8Array, msgID: string): Promise<void>;
  /** A payload that did not decode (counted and logged by the worker). */
  refused(subject: string, why: string): void;
  /** Tell the coordinator now what is held (a heartbeat at once). */
  changed(): void;
}

/** Job ids answered here and remembered, so that one sent again is not run again. */
const ANSWERED_KEPT = 1000;

export class KernelConfirmer {
  private readonly queue: ConfirmJob[] = [];
  private current: { job: ConfirmJob; done: Promise<void> } | null = null;
  private readonly answered = new Set<string>();
  private sub: Subscription | null = null;
  private running = true;

  constructor(private readonly env: ConfirmerEnv) {}

  start(nc: NatsConnection): void {
    this.sub = nc.subscribe(SUBJECTS.confirmJob(this.env.workerId), { callback: (err, m) => (err ? undefined : this.onJob(m)) });
  }

  /** The jobs held: the one running, then those queued. */
  held(): string[] {
    return [...(this.current ? [this.current.job.jobId] : []), ...this.queue.map((j) => j.jobId)];
  }

  /** Take no more jobs; wait up to `graceMs` for the one running (its verdict is not published). */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.sub?.unsubscribe();
    this.queue.length = 0;
    if (this.current) await Promise.race([this.current.done, new Promise((r) => setTimeout(r, graceMs))]);
  }

  private onJob(m: Msg): void {
    let job: ConfirmJob;
    try {
      job = decodeConfirmJob(m.data, m.subject);
    } catch (err) {
      this.env.refused(m.subject, err instanceof Error ? err.message : String(err));
      return;
    }
    if (!this.running) return;
    if (this.held().includes(job.jobId) || this.answered.has(job.jobId)) {
      this.env.log.debug({ job: job.jobId }, 'kernel confirmation sent again; held or answered already');
      return;
    }
    this.queue.push(job);
    this.env.log.info({ campaign: job.campaignId, job: job.jobId, signature: job.signature, runs: job.runs, queued: this.queue.length },
      'kernel confirmation received');
    this.env.changed();
    this.next();
  }

  private next(): void {
    if (this.current || !this.running) return;
    const job = this.queue.shift();
    if (!job) return;
    const done = this.run(job).catch((err: unknown) => {
      this.env.log.error({ job: job.jobId, err: err instanceof Error ? err.message : String(err) }, 'kernel confirmation failed; the coordinator sends it again');
    }).finally(() => {
      this.current = null;
      this.env.changed();
      this.next();
    });
    this.current = { job, done };
  }

  private async run(job: ConfirmJob): Promise<void> {
    const log = this.env.log.child({ campaign: job.campaignId, job: job.jobId });
    const t0 = performance.now();
    const verdict = await confirm(job);
    if (!this.running) {
      log.warn({ verdict: verdict.verdict }, 'kernel confirmation ended while stopping; not reported (the coordinator sends it elsewhere)');
      return;
    }
    log.info({ signature: job.signature, verdict: verdict.verdict, text: verdict.text, ms: Math.round(performance.now() - t0) }, 'kernel confirmation done');
    try {
      // One stored result per worker: a second worker the job went to answers in its own message.
      await this.env.publishResult(SUBJECTS.confirmResult, encodeConfirmResult({
        jobId: job.jobId, workerId: this.env.workerId, campaignId: job.campaignId, signature: job.signature, verdict,
      }), `${job.jobId}.${this.env.workerId}`);
    } catch (err) {
      log.warn({ err: String(err) }, 'kernel verdict not published (stopping); the coordinator sends the job again');
      return;
    }
    this.answered.add(job.jobId);
    if (this.answered.size > ANSWERED_KEPT) this.answered.delete(this.answered.values().next().value!);
  }
}

/** The twin's verdict; a failure of the twin itself is a verdict too (it could not run), never a crash of the worker. */
async function confirm(job: ConfirmJob): Promise<KernelVerdict> {
  // Loaded here: a worker without --kernel-confirm never loads the twin.
  const { confirmOnKernel } = await import('../twin/confirm.js');
  try {
    return await confirmOnKernel(job.program, { runs: job.runs });
  } catch (err) {
    return cannotRunVerdict(`the kernel twin failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
