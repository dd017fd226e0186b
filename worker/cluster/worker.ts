// A cluster worker process: pulls work batches and verify/minimize jobs from
// NATS JetStream, runs them on N executor threads, publishes the results and
// only then acks. A job it dies on is redelivered to another worker after the
// ack wait; while one runs, the message is kept alive with working().
//
// Jobs (verify, minimize) go before batches: they are few and a finding waits
// on them. A worker never verifies its own finding: it hands the job back
// (nak with a delay) for another worker to take.
//
// A message that does not decode is refused once: copied to the dead-letter
// stream (its Nats-Msg-Id names where it came from, so a second copy is not
// stored) and then acked, which removes it from the work queue. (A `term`
// with a reason would be simpler, but servers before 2.10.4 ignore it and
// deliver the message again and again.)
//
// With --kernel-confirm (root) it also runs kernel confirmation jobs, which
// the coordinator sends to it alone (kernel-confirmer.ts), and with --kernel
// kernel campaigns' batches (kernel-batcher.ts); it says so in its heartbeats.
//
// The worker connects as the NATS user of the worker role: it takes work
// from its two consumers and publishes results, heartbeats and dead letters;
// it manages no stream (the coordinator creates them) and takes no requests.

import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Consumer, type JetStreamClient, type JsMsg, type NatsConnection, headers } from 'nats';
import { mayCrossCheck } from '../fuzz/findings/policy.js';
import type { ExecutorReply, ExecutorRequest } from './executor-messages.js';
import { KernelBatcher } from './kernel-batcher.js';
import { KernelConfirmer } from './kernel-confirmer.js';
import type { Logger } from './log.js';
import { WorkerMetrics, serveMetrics } from './metrics.js';
import {
  BATCH_ACK_WAIT_MS, BATCH_MAX_DELIVER, CONSUMERS, type DeadKind, JOB_ACK_WAIT_MS, type NatsOptions, STREAMS, SUBJECTS, connectNats, deadLetterId,
  refusedSubjectLabel, retrying,
} from './nats.js';
import {
  type BatchResult, type MinimizeJob, type VerifyJob, type WorkBatch, WireError, decodeMinimizeJob, decodeVerifyJob,
  decodeWorkBatch, encodeBatchResult, foldFindings, encodeHeartbeat, encodeMinimizeResult, encodeVerifyResult,
} from './wire.js';

export interface ClusterWorkerOptions {
  nats: NatsOptions;
  procs: number;
  metrics?: { host: string; port: number };
  log: Logger;
  workerId?: string;
  /** Run kernel confirmation jobs on this machine's kernel (root: loop devices, mount). */
  kernelConfirm?: boolean;
  /** Run kernel campaign batches on this machine's kernel (root: loop devices, mount). */
  kernel?: boolean;
}

export function newWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9-]/g, '').slice(0, 40) || 'host';
  return `w-${host}-${process.pid}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** One executor thread; respawned if it dies. */
class Executor {
  private thread!: Worker;
  private closed = false;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: ExecutorReply) => void; reject: (e: Error) => void }>();

  constructor(readonly index: number, private readonly log: Logger) {
    this.spawn();
  }

  private spawn(): void {
    this.thread = new Worker(new URL('./executor-thread.js', import.meta.url));
    this.thread.on('message', (r: ExecutorReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    this.thread.on('error', (err) => this.log.error({ executor: this.index, err: err.message }, 'executor thread failed'));
    this.thread.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`executor thread ${this.index} exited with code ${code}`));
      this.pending.clear();
      if (!this.closed) this.spawn();
    });
  }

  run(req: WithoutId<ExecutorRequest>): Promise<ExecutorReply> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage({ ...req, id } as ExecutorRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.thread.terminate();
  }
}

type QueuedJob = { msg: JsMsg; kind: 'verify'; job: VerifyJob; stop: () => void } | { msg: JsMsg; kind: 'minimize'; job: MinimizeJob; stop: () => void };

export class ClusterWorker {
  readonly id: string;
  readonly metrics: WorkerMetrics;
  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private natsConnected = false;
  private executors: Executor[] = [];
  private free: Executor[] = [];
  private waiters: ((e: Executor) => void)[] = [];
  private jobs: QueuedJob[] = [];
  private running = true;
  private readonly ac = new AbortController();
  private inFlight = new Set<Promise<void>>();
  private busy = 0;
  /** Ids of the batches and jobs running now. */
  private readonly running_ = new Set<string>();
  private execs = 0;
  private readonly recentCampaigns = new Map<string, number>();
  private readonly t0 = performance.now();
  private timers: NodeJS.Timeout[] = [];
  private metricsServer: { port: number; close: () => Promise<void> } | null = null;
  private confirmer: KernelConfirmer | null = null;
  private batcher: KernelBatcher | null = null;
  private readonly log: Logger;
  private stopped!: Promise<void>;
  private resolveStopped!: () => void;

  constructor(private readonly opts: ClusterWorkerOptions) {
    this.id = opts.workerId ?? newWorkerId();
    this.log = opts.log.child({ worker: this.id });
    this.metrics = new WorkerMetrics(this.id);
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  get metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
  }

  async start(): Promise<void> {
    if (this.opts.metrics) {
      this.metricsServer = await serveMetrics(this.metrics.registry, this.opts.metrics.host, this.opts.metrics.port, () => this.natsConnected && this.running);
    }
    this.nc = await connectNats(this.opts.nats);
    this.natsConnected = true;
    void this.watchStatus();
    this.js = this.nc.jetstream();
    for (let i = 0; i < Math.max(1, this.opts.procs); i++) {
      const e = new Executor(i, this.log);
      this.executors.push(e);
      this.free.push(e);
    }
    if (this.opts.kernelConfirm) {
      this.confirmer = new KernelConfirmer({
        workerId: this.id, log: this.log, publishResult: (subject, data, msgID) => this.publishResult(subject, data, msgID),
        refused: (subject, why) => this.refused(subject, why), changed: () => this.heartbeat(),
      });
      this.confirmer.start(this.nc);
    }
    if (this.opts.kernel) {
      this.batcher = new KernelBatcher({
        workerId: this.id, log: this.log, publishResult: (subject, data, msgID) => this.publishResult(subject, data, msgID),
        refused: (subject, why) => this.refused(subject, why), changed: () => this.heartbeat(),
      });
      this.batcher.start(this.nc);
    }
    this.timers.push(setInterval(() => this.heartbeat(), 1000));
    this.heartbeat();
    void this.batchLoop();
    void this.jobLoop();
    this.log.info({ procs: this.executors.length, metrics: this.metricsPort, kernelConfirm: this.confirmer !== null, kernel: this.batcher !== null }, 'worker started');
  }

  /** Resolves once stop() finished. */
  waitStopped(): Promise<void> {
    return this.stopped;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.natsConnected = false;
      if (s.type === 'reconnect') this.natsConnected = true;
      if (s.type === 'disconnect' || s.type === 'reconnect') this.log.warn({ event: s.type, server: String(s.data) }, `nats ${s.type}`);
      // A permission the server refused: the deployment's NATS config lacks one this version needs.
      if (s.type === 'error') this.log.error({ err: String(s.data) }, 'nats error');
    }
  }

  private heartbeat(): void {
    const now = performance.now();
    for (const [c, t] of this.recentCampaigns) if (now - t > 30_000) this.recentCampaigns.delete(c);
    try {
      this.nc.publish(SUBJECTS.heartbeat(this.id), encodeHeartbeat({
        workerId: this.id, host: hostname(), pid: process.pid, procs: this.executors.length, busy: this.busy,
        campaigns: [...this.recentCampaigns.keys()], execs: this.execs, uptimeSec: (now - this.t0) / 1000, running: [...this.running_],
        kernelConfirm: this.confirmer !== null, confirming: this.confirmer?.held() ?? [],
        kernelCampaign: this.batcher !== null, kernelBatches: this.batcher?.held() ?? [],
      }));
    } catch (err) {
      this.log.debug({ err: String(err) }, 'heartbeat not sent');
    }
  }

  private refused(subject: string, why: string): void {
    this.metrics.refused.inc({ subject: refusedSubjectLabel(subject) });
    this.log.warn({ subject, error: why }, 'refused a malformed payload');
  }

  // ---------------------------------------------------------------------------
  // Executors

  private acquire(): Promise<Executor> {
    const e = this.free.pop();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(e: Executor): void {
    const job = this.jobs.shift();
    if (job) {
      this.track(this.runJob(e, job));
      return;
    }
    const w = this.waiters.shift();
    if (w) w(e);
    else this.free.push(e);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Keep a message from being redelivered while its work runs. */
  private keepAlive(msg: JsMsg, ackWaitMs: number): () => void {
    const t = setInterval(() => {
      try {
        msg.working();
      } catch {
        // Disconnected: the ack wait may pass and the work be redelivered; the results are deduplicated.
      }
    }, Math.max(500, ackWaitMs / 3));
    return () => clearInterval(t);
  }

  // ---------------------------------------------------------------------------
  // Batches

  private async consumer(stream: string, name: string): Promise<Consumer> {
    return retrying(`consumer ${name}`, () => this.js.consumers.get(stream, name), (m) => this.log.warn(m), this.ac.signal);
  }

  private async pull(c: Consumer, what: string): Promise<JsMsg | null> {
    try {
      return await c.next({ expires: 2000 });
    } catch (err) {
      if (this.running) {
        this.log.debug({ err: String(err) }, `pulling ${what} failed`);
        await new Promise((r) => setTimeout(r, 500));
      }
      return null;
    }
  }

  private async batchLoop(): Promise<void> {
    const c = await this.consumer(STREAMS.work, CONSUMERS.batches).catch(() => null);
    while (this.running && c) {
      const e = await this.acquire();
      if (!this.running) {
        this.release(e);
        break;
      }
      const msg = await this.pull(c, 'batches');
      if (!msg) {
        this.release(e);
        continue;
      }
      this.track(this.runBatch(e, msg));
    }
  }

  /** Copy a message to the dead-letter stream; stored once however often it is copied (its msg id is its stream and sequence). */
  private deadLetter(msg: JsMsg, kind: DeadKind, why: string): Promise<unknown> {
    const h = headers();
    h.set('Ff-Subject', msg.subject);
    h.set('Ff-Error', why.slice(0, 1000));
    h.set('Ff-Worker', this.id);
    return this.js.publish(SUBJECTS.dead(kind), msg.data, { headers: h, msgID: deadLetterId(msg.info.stream, msg.info.streamSequence), timeout: 5000 });
  }

  /** A message that does not decode: refused once, dead-lettered, then acked so it never comes back. */
  private async refuse(msg: JsMsg, kind: DeadKind, why: string): Promise<void> {
    this.refused(msg.subject, why);
    try {
      await this.deadLetter(msg, kind, why);
      msg.ack();
    } catch (err) {
      // NATS is away: the message comes back later; its dead letter is stored once.
      this.log.warn({ subject: msg.subject, err: String(err) }, 'dead-letter publish failed; the message comes back later');
      try {
        msg.nak(5000);
      } catch {
        // Comes back after the ack wait.
      }
    }
  }

  private async runBatch(e: Executor, msg: JsMsg): Promise<void> {
    let batch: WorkBatch;
    try {
      batch = decodeWorkBatch(msg.data, msg.subject);
    } catch (err) {
      this.release(e);
      await this.refuse(msg, 'batch', err instanceof Error ? err.message : String(err));
      return;
    }
    const delivery = msg.info.deliveryCount;
    const log = this.log.child({ campaign: batch.campaignId, batch: batch.batchId });
    if (delivery > 1) {
      this.metrics.redelivered.inc();
      log.info({ delivery }, 'batch redelivered');
    }
    this.recentCampaigns.set(batch.campaignId, performance.now());
    const stop = this.keepAlive(msg, BATCH_ACK_WAIT_MS);
    this.busy++;
    this.running_.add(batch.batchId);
    // Say so at once: the coordinator (and operators) see what runs where.
    this.heartbeat();
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      this.busy--;
      this.running_.delete(batch.batchId);
      this.release(e);
    };
    try {
      const reply = await e.run({ type: 'batch', batch });
      if (reply.type !== 'batch') throw new Error(reply.type === 'error' ? reply.error : `unexpected reply ${reply.type}`);
      const r = reply.report;
      this.execs += r.execs;
      this.metrics.execs.inc({ campaign: batch.campaignId }, r.execs);
      this.metrics.batchSeconds.observe(reply.ms / 1000);
      const result: BatchResult = {
        workerId: this.id, campaignId: batch.campaignId, batchId: batch.batchId, execs: r.execs, timeouts: r.timeouts,
        newInputs: r.newInputs, findings: foldFindings(r.findings), harness: r.harness, ms: reply.ms, delivery,
      };
      done();
      await this.publishResult(SUBJECTS.batchResult, encodeBatchResult(result), batch.batchId);
      await msg.ackAck().catch(() => msg.ack());
      if (r.findings.length) {
        const bySig = new Map<string, number>();
        for (const f of r.findings) bySig.set(f.violation.signature, (bySig.get(f.violation.signature) ?? 0) + 1);
        log.info({ findings: Object.fromEntries(bySig) }, 'batch found violations');
      }
    } catch (err) {
      done();
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'batch failed; handing it back');
      if (delivery >= BATCH_MAX_DELIVER) {
        this.deadLetter(msg, 'batch', String(err)).catch((e: unknown) => log.warn({ err: String(e) }, 'dead-letter publish failed'));
      }
      try {
        msg.nak(1000);
      } catch {
        // Disconnected: it comes back after the ack wait.
      }
    } finally {
      stop();
    }
  }

  private async publishResult(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    await retrying(`publish ${subject}`, () => this.js.publish(subject, data, { msgID, timeout: 5000 }), (m) => this.log.warn(m));
  }

  // ---------------------------------------------------------------------------
  // Jobs

  private async jobLoop(): Promise<void> {
    const c = await this.consumer(STREAMS.jobs, CONSUMERS.jobs).catch(() => null);
    while (this.running && c) {
      if (this.jobs.length >= this.executors.length) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const msg = await this.pull(c, 'jobs');
      if (!msg || !this.running) {
        if (msg) msg.nak();
        continue;
      }
      this.acceptJob(msg);
    }
  }

  private acceptJob(msg: JsMsg): void {
    let q: QueuedJob;
    try {
      if (msg.subject === SUBJECTS.verifyJob) {
        const job = decodeVerifyJob(msg.data, msg.subject);
        if (!mayCrossCheck(job, this.id)) {
          // Cross-checking means another worker: hand it back for one.
          msg.nak(1000);
          return;
        }
        q = { msg, kind: 'verify', job, stop: this.keepAlive(msg, JOB_ACK_WAIT_MS) };
      } else if (msg.subject === SUBJECTS.minimizeJob) {
        q = { msg, kind: 'minimize', job: decodeMinimizeJob(msg.data, msg.subject), stop: this.keepAlive(msg, JOB_ACK_WAIT_MS) };
      } else {
        throw new WireError(`${msg.subject}: not a job subject (${SUBJECTS.verifyJob}, ${SUBJECTS.minimizeJob})`);
      }
    } catch (err) {
      void this.refuse(msg, 'job', err instanceof Error ? err.message : String(err));
      return;
    }
    const e = this.free.pop();
    if (e) this.track(this.runJob(e, q));
    else this.jobs.push(q);
  }

  private async runJob(e: Executor, q: QueuedJob): Promise<void> {
    const log = this.log.child({ campaign: q.job.campaignId, job: q.job.jobId });
    this.busy++;
    this.running_.add(q.job.jobId);
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      this.busy--;
      this.running_.delete(q.job.jobId);
      this.release(e);
    };
    try {
      if (q.kind === 'verify') {
        const reply = await e.run({ type: 'verify', job: q.job });
        if (reply.type !== 'verify') throw new Error(reply.type === 'error' ? reply.error : `unexpected reply ${reply.type}`);
        done();
        const reproduced = reply.observed === q.job.signature;
        log.info({ signature: q.job.signature, reproduced, observed: reply.observed || reply.note }, 'verified a finding');
        await this.publishResult(SUBJECTS.verifyResult, encodeVerifyResult({
          jobId: q.job.jobId, workerId: this.id, campaignId: q.job.campaignId, signature: q.job.signature, reproduced, observed: reply.observed,
        }), q.job.jobId);
      } else {
        const reply = await e.run({ type: 'minimize', job: q.job });
        if (reply.type !== 'minimize') throw new Error(reply.type === 'error' ? reply.error : `unexpected reply ${reply.type}`);
        done();
        const m = reply.report;
        log.info({ signature: q.job.signature, opsBefore: m.opsBefore, opsAfter: m.opsAfter, ms: Math.round(m.ms) }, 'minimized a finding');
        await this.publishResult(SUBJECTS.minimizeResult, encodeMinimizeResult({
          jobId: q.job.jobId, workerId: this.id, campaignId: q.job.campaignId, signature: q.job.signature, program: m.program,
          opsBefore: m.opsBefore, opsAfter: m.opsAfter, runs: m.runs, ms: m.ms, error: m.error ?? '', slipped: m.slipped,
          switches: q.job.bugs.filter((b) => m.switches.includes(b)),
        }), q.job.jobId);
      }
      await q.msg.ackAck().catch(() => q.msg.ack());
    } catch (err) {
      done();
      log.error({ err: err instanceof Error ? err.message : String(err) }, `${q.kind} job failed; handing it back`);
      try {
        q.msg.nak(1000);
      } catch {
        // Comes back after the ack wait.
      }
    } finally {
      q.stop();
    }
  }

  // ---------------------------------------------------------------------------

  /** Stop pulling, let running work finish and publish (up to `graceMs`), then close. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return this.stopped;
    this.running = false;
    this.ac.abort();
    this.log.info({ inFlight: this.inFlight.size }, 'worker stopping');
    for (const w of this.waiters.splice(0)) w(this.executors[0]!);
    for (const q of this.jobs.splice(0)) {
      q.stop();
      try {
        q.msg.nak();
      } catch {
        // Comes back after the ack wait.
      }
    }
    await Promise.race([Promise.allSettled([...this.inFlight, this.confirmer?.stop(graceMs), this.batcher?.stop(graceMs)]), new Promise((r) => setTimeout(r, graceMs))]);
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.executors.map((e) => e.close()));
    await this.nc.drain().catch(() => this.nc.close());
    await this.metricsServer?.close();
    this.log.info('worker stopped');
    this.resolveStopped();
  }
}
