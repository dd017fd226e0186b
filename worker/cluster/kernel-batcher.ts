// A cluster worker's kernel campaign batches (`worker --kernel`): the
// coordinator sends a KernelBatch to this worker alone, on ff.kernel.<its id>
// (core NATS: other workers cannot run it); batches wait here and run one at a
// time on this machine's real kernel and in the sim (worker/twin/kernel-batch.ts),
// each config's loop mount made once and reused; each result is published
// to FF_RESULTS.
//
// As with kernel confirmations (kernel-confirmer.ts), the heartbeat lists the
// batches held (`kernelBatches`), so the coordinator sends again one that never
// arrived or whose worker died; a batch sent again while held, or after its
// result was published, is dropped here. A worker that stops publishes no
// result finished after it began stopping (the twin's mounts go with it).
//
// Findings come back as found, not minimized: minimizing with the kernel as
// the predicate takes minutes per finding, which would hold the batch (and
// its result) that long; `foliofuzz fuzz --kernel` on one machine minimizes.

import type { Msg, NatsConnection, Subscription } from 'nats';
import type { TwinMount } from '../twin/provision.js';
import type { Logger } from './log.js';
import { SUBJECTS } from './nats.js';
import { foldFindings } from './wire.js';
import { type KernelBatch, decodeKernelBatch, encodeKernelBatchResult } from './wire-kernel.js';

export interface BatcherEnv {
  workerId: string;
  log: Logger;
  /** Publish to FF_RESULTS, retrying while NATS is away. */
  publishResult(subject: string, data: Uint8Array, msgID: string): Promise<void>;
  /** A payload that did not decode (counted and logged by the worker). */
  refused(subject: string, why: string): void;
  /** Tell the coordinator now what is held (a heartbeat at once). */
  changed(): void;
}

/** Batch ids answered here and remembered, so that one sent again is not run again. */
const ANSWERED_KEPT = 1000;

export class KernelBatcher {
  private readonly queue: KernelBatch[] = [];
  private current: { batch: KernelBatch; done: Promise<void> } | null = null;
  private readonly answered = new Set<string>();
  /** One loop mount per config, made at its first batch and reused. */
  private readonly mounts = new Map<string, TwinMount>();
  private sub: Subscription | null = null;
  private running = true;
  private readonly ac = new AbortController();

  constructor(private readonly env: BatcherEnv) {}

  start(nc: NatsConnection): void {
    this.sub = nc.subscribe(SUBJECTS.kernelBatch(this.env.workerId), { callback: (err, m) => (err ? undefined : this.onBatch(m)) });
  }

  /** The batches held: the one running, then those queued. */
  held(): string[] {
    return [...(this.current ? [this.current.batch.batchId] : []), ...this.queue.map((b) => b.batchId)];
  }

  /** Take no more; stop the running batch within `graceMs` (its result is not published); release the mounts. */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.ac.abort();
    this.sub?.unsubscribe();
    this.queue.length = 0;
    if (this.current) await Promise.race([this.current.done, new Promise((r) => setTimeout(r, graceMs))]);
    for (const m of this.mounts.values()) m.release();
    this.mounts.clear();
  }

  private onBatch(m: Msg): void {
    let batch: KernelBatch;
    try {
      batch = decodeKernelBatch(m.data, m.subject);
    } catch (err) {
      this.env.refused(m.subject, err instanceof Error ? err.message : String(err));
      return;
    }
    if (!this.running) return;
    if (this.held().includes(batch.batchId) || this.answered.has(batch.batchId)) {
      this.env.log.debug({ batch: batch.batchId }, 'kernel batch sent again; held or answered already');
      return;
    }
    this.queue.push(batch);
    this.env.log.info({ campaign: batch.campaignId, batch: batch.batchId, config: batch.config, programs: batch.programs }, 'kernel batch received');
    this.env.changed();
    this.next();
  }

  private next(): void {
    if (this.current || !this.running) return;
    const batch = this.queue.shift();
    if (!batch) return;
    const done = this.run(batch).catch((err: unknown) => {
      this.env.log.error({ batch: batch.batchId, err: err instanceof Error ? err.message : String(err) }, 'kernel batch failed; the coordinator sends it again');
    }).finally(() => {
      this.current = null;
      this.env.changed();
      this.next();
    });
    this.current = { batch, done };
  }

  private async mountFor(config: string): Promise<TwinMount> {
    let m = this.mounts.get(config);
    if (m) return m;
    // Loaded here: a worker without --kernel never loads the twin.
    const { parseTwinConfigs } = await import('../twin/configs.js');
    const { provisionMount } = await import('../twin/provision.js');
    m = provisionMount(parseTwinConfigs(config)[0]!);
    this.mounts.set(config, m);
    return m;
  }

  private async run(b: KernelBatch): Promise<void> {
    const log = this.env.log.child({ campaign: b.campaignId, batch: b.batchId, config: b.config });
    const t0 = performance.now();
    const { runKernelBatch } = await import('../twin/kernel-batch.js');
    const mount = await this.mountFor(b.config);
    const out = await runKernelBatch({ spec: mount.spec, seed: b.seed, programs: b.programs, mount, signal: this.ac.signal });
    if (!this.running) {
      log.warn('kernel batch ended while stopping; not reported (the coordinator sends it elsewhere)');
      return;
    }
    for (const e of out.errors) log.error({ error: e.split('\n')[0] }, 'kernel twin error (a harness problem, not a finding)');
    const ms = performance.now() - t0;
    log.info({ programs: out.stats.programs, findings: out.findings.length, ms: Math.round(ms) }, 'kernel batch done');
    try {
      await this.env.publishResult(SUBJECTS.kernelResult, encodeKernelBatchResult({
        workerId: this.env.workerId, campaignId: b.campaignId, batchId: b.batchId, stats: out.stats, findings: foldFindings(out.findings), ms,
      }), `${b.batchId}.${this.env.workerId}`);
    } catch (err) {
      log.warn({ err: String(err) }, 'kernel batch result not published (stopping); the coordinator sends the batch again');
      return;
    }
    this.answered.add(b.batchId);
    if (this.answered.size > ANSWERED_KEPT) this.answered.delete(this.answered.values().next().value!);
  }
}
