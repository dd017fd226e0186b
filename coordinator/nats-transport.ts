// The coordinator's NATS side: the connection, the streams, the heartbeats,
// the results loop, the work queue's upkeep, the dead letters, and kernel
// confirmation jobs sent to one worker each. It decodes
// what arrives (every payload checked field by field by
// worker/cluster/wire.ts; a malformed one is refused, logged, counted and
// dead-lettered), hands it to the coordinator, and publishes and removes what
// the coordinator says. It holds no campaign state.
//
// Durability: a fetch's results are applied, then persisted (`persist`), and
// only then acked, so a coordinator killed at any point gets every result it
// had not written down again.
//
// The work queue is never purged: nats-server 2.9 makes the shared consumer
// skip every other subject's messages after a purge by subject. Batches leave
// it one message at a time (`dropBatches`), found by their subjects.
//
// Dead letters are counted (fuzz_dead_lettered_total) as they are read from
// FF_DEAD through the coordinator's own consumer there, whoever wrote them:
// a worker refusing a malformed batch or job, this process refusing a result,
// or moving a message delivered too often.

import {
  type JetStreamClient, type JetStreamManager, type JsMsg, type Msg, type MsgRequest, type NatsConnection, type StoredMsg, headers,
} from 'nats';
import type { Logger } from '../worker/cluster/log.js';
import {
  CONSUMERS, type DeadKind, MAX_DELIVERIES_ADVISORY, type NatsOptions, STREAMS, SUBJECTS, connectNats, deadLetterId, ensureTopology,
  refusedSubjectLabel, retrying,
} from '../worker/cluster/nats.js';
import {
  type Heartbeat, WireError, decodeBatchResult, decodeHeartbeat, decodeMinimizeJob, decodeMinimizeResult, decodeVerifyJob,
  decodeVerifyResult, decodeWorkBatch, encodeMinimizeJob, encodeVerifyJob, encodeWorkBatchEncoded,
} from '../worker/cluster/wire.js';
import { type ConfirmJob, decodeConfirmResult, encodeConfirmJob } from '../worker/cluster/wire-confirm.js';
import type { ClusterJob } from './findings.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { DeadWork, ResultVerdict, WorkerResult } from './results.js';
import type { PlannedBatch } from './schedule.js';

export interface TransportHandlers {
  heartbeat(hb: Heartbeat): void;
  /** Apply a result; throwing hands it back to be delivered again later (the store failed, say). */
  result(r: WorkerResult): ResultVerdict;
  /** Write down what the applied results changed: they are acked after this returns. */
  persist(): void;
  dead(w: DeadWork): void;
}

export interface TransportOptions {
  nats: NatsOptions;
  log: Logger;
  metrics: CoordinatorMetrics;
  handlers: TransportHandlers;
}

/** What the work queue holds now (work-sweep.ts decides what to do with it). */
export interface WorkSnapshot {
  /** The subject of every batch message in FF_WORK. */
  subjects: string[];
  /** Messages the batches consumer will never deliver again (below its ack floor, or delivered max_deliver times). */
  undeliverable: number;
  /** The last stream sequence the batches consumer delivered. */
  deliveredSeq: number;
  /** FF_RESULTS' last sequence, read after the subjects: every result of a batch gone from FF_WORK is at or below it. */
  resultsLastSeq: number;
  /** Every result at or below this sequence is applied and acked. */
  resultsAckFloor: number;
}

const ORIGIN: Record<DeadKind, string> = { batch: STREAMS.work, job: STREAMS.jobs, result: STREAMS.results };
const DEAD_KIND: Record<string, DeadKind> = { [STREAMS.work]: 'batch', [STREAMS.jobs]: 'job', [STREAMS.results]: 'result' };
/** A pull loop that hears nothing for this long checks that its consumer still exists. */
const CONSUMER_CHECK_MS = 5_000;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isNotFound(err: unknown): boolean {
  return /not found|no message/i.test(errText(err));
}

export class CoordinatorTransport {
  private nc: NatsConnection | null = null;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private isConnected = false;
  private running = true;
  private readonly ac = new AbortController();
  private loops: Promise<void>[] = [];
  /** Batch ids published and not yet stored by the server (NATS may be away). */
  private readonly publishing = new Set<string>();
  private readonly log: Logger;

  constructor(private readonly opts: TransportOptions) {
    this.log = opts.log;
  }

  /** Connected now (it reconnects on its own). */
  get connected(): boolean {
    return this.isConnected && this.running;
  }

  /** Up: publishing works (NATS may still be away for a while; publishes retry). */
  get up(): boolean {
    return this.nc !== null && this.running;
  }

  async start(): Promise<void> {
    this.nc = await connectNats(this.opts.nats);
    this.isConnected = true;
    void this.watchStatus(this.nc);
    this.jsm = await this.nc.jetstreamManager();
    await this.ensureTopology();
    this.js = this.nc.jetstream();
    this.nc.subscribe(SUBJECTS.heartbeatAll, { callback: (err, m) => (err ? undefined : this.onHeartbeat(m)) });
    this.nc.subscribe(MAX_DELIVERIES_ADVISORY, { callback: (err, m) => (err ? undefined : void this.onMaxDeliveries(m)) });
    this.loops = [
      this.pullLoop(STREAMS.results, CONSUMERS.coordinator, (ms) => this.onResults(ms)),
      this.pullLoop(STREAMS.dead, CONSUMERS.dead, (ms) => this.onDeadLetters(ms)),
    ];
    await this.nc.flush();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.ac.abort();
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, 3000))]);
    if (this.nc) await this.nc.drain().catch(() => this.nc?.close());
  }

  private ensureTopology(): Promise<void> {
    return retrying('create streams', () => ensureTopology(this.jsm, (m) => this.log.warn(m)), (m) => this.log.warn(m), this.ac.signal);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.isConnected = false;
      if (s.type === 'reconnect') this.isConnected = true;
      if (s.type === 'disconnect' || s.type === 'reconnect') this.log.warn({ event: s.type, server: String(s.data) }, `nats ${s.type}`);
      // A permission the server refused: the deployment's NATS config lacks one this version needs.
      if (s.type === 'error') this.log.error({ err: String(s.data) }, 'nats error');
    }
  }

  // ---------------------------------------------------------------------------
  // Out

  /** Encoded at once: the batch's coverage bitmap is the campaign's live one. */
  publishBatch(b: PlannedBatch): void {
    const id = b.batch.batchId;
    this.publishing.add(id);
    void this.publish(SUBJECTS.batch(b.batch.campaignId, id), encodeWorkBatchEncoded(b.batch, b.inputs), id).finally(() => this.publishing.delete(id));
  }

  /** Still on its way to the server: not in FF_WORK yet, and not lost. */
  isPublishing(batchId: string): boolean {
    return this.publishing.has(batchId);
  }

  /** A verify or minimize job, to the shared job queue (FF_JOBS). */
  publishJob(j: Exclude<ClusterJob, { kind: 'confirm' }>): void {
    if (j.kind === 'verify') void this.publish(SUBJECTS.verifyJob, encodeVerifyJob(j.job), j.job.jobId);
    else void this.publish(SUBJECTS.minimizeJob, encodeMinimizeJob(j.job), j.job.jobId);
  }

  /**
   * A kernel confirmation job, to one worker (core NATS: nothing is stored;
   * while NATS is away it is lost, and confirm-dispatch.ts sends it again).
   */
  sendConfirmJob(workerId: string, job: ConfirmJob): void {
    try {
      this.nc?.publish(SUBJECTS.confirmJob(workerId), encodeConfirmJob(job));
    } catch (err) {
      this.log.warn({ worker: workerId, job: job.jobId, err: errText(err) }, 'kernel confirmation not sent (sent again later)');
    }
  }

  /** Publish to a stream, retrying while NATS is away; msgID dedups a repeat. */
  private publish(subject: string, data: Uint8Array, msgID: string): Promise<unknown> {
    return retrying(`publish ${subject}`, () => this.js.publish(subject, data, { msgID, timeout: 5000 }), (m) => this.log.warn(m), this.ac.signal)
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------------------
  // The work queue

  /** Remove a campaign's queued and running batches; how many. */
  dropCampaignBatches(campaignId: string): Promise<number> {
    return this.dropBatches(SUBJECTS.campaignBatches(campaignId));
  }

  /** Remove every queued or running batch whose subject matches `filter`, one message at a time; how many. */
  async dropBatches(filter: string): Promise<number> {
    let n = 0;
    try {
      for (let seq = 0; ;) {
        let sm: StoredMsg;
        try {
          sm = await this.jsm.streams.getMessage(STREAMS.work, nextBySubject(seq, filter));
        } catch (err) {
          if (isNotFound(err)) break;
          throw err;
        }
        if (await this.deleteMessage(STREAMS.work, sm.seq)) n++;
        seq = sm.seq + 1;
      }
    } catch (err) {
      this.log.warn({ filter, err: errText(err) }, 'could not remove queued batches (the next sweep tries again)');
    }
    return n;
  }

  async workSnapshot(): Promise<WorkSnapshot> {
    const work = await this.jsm.streams.info(STREAMS.work, { subjects_filter: SUBJECTS.batches });
    const batches = await this.jsm.consumers.info(STREAMS.work, CONSUMERS.batches);
    const results = await this.jsm.streams.info(STREAMS.results);
    const applied = await this.jsm.consumers.info(STREAMS.results, CONSUMERS.coordinator);
    return {
      subjects: Object.keys(work.state.subjects ?? {}),
      undeliverable: work.state.messages - batches.num_pending - batches.num_ack_pending,
      deliveredSeq: batches.delivered.stream_seq,
      resultsLastSeq: results.state.last_seq,
      resultsAckFloor: applied.ack_floor.stream_seq,
    };
  }

  /**
   * Move a batch the consumer delivered and will not deliver again to the
   * dead-letter stream; false when it is still waiting for its first
   * delivery (or gone).
   */
  async deadLetterUndeliverable(subject: string, deliveredSeq: number, why: string): Promise<boolean> {
    let sm: StoredMsg;
    try {
      sm = await this.jsm.streams.getMessage(STREAMS.work, { last_by_subj: subject });
    } catch (err) {
      if (!isNotFound(err)) this.log.warn({ subject, err: errText(err) }, 'could not read a batch');
      return false;
    }
    if (sm.seq > deliveredSeq) return false;
    await this.moveToDead(STREAMS.work, sm, { 'Ff-Error': why });
    this.log.warn({ stream: STREAMS.work, seq: sm.seq, subject, why }, 'undeliverable batch moved to the dead-letter stream');
    return true;
  }

  private async deleteMessage(stream: string, seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(stream, seq, false);
    } catch (err) {
      // Acked or removed in between.
      this.log.debug({ stream, seq, err: errText(err) }, 'message already gone');
      return false;
    }
  }

  /** Copy a stored message to FF_DEAD (stored once: its msg id is where it came from), then delete it. */
  private async moveToDead(stream: string, sm: StoredMsg, extra: Record<string, string>): Promise<void> {
    const h = headers();
    h.set('Ff-Subject', sm.subject);
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    await this.js.publish(SUBJECTS.dead(DEAD_KIND[stream] ?? 'batch'), sm.data, { headers: h, msgID: deadLetterId(stream, sm.seq), timeout: 5000 });
    await this.deleteMessage(stream, sm.seq);
  }

  // ---------------------------------------------------------------------------
  // In

  private onHeartbeat(m: Msg): void {
    try {
      const hb = decodeHeartbeat(m.data, m.subject);
      if (m.subject !== SUBJECTS.heartbeat(hb.workerId)) throw new Error(`${m.subject}: heartbeat of ${hb.workerId} on another worker's subject`);
      this.opts.handlers.heartbeat(hb);
    } catch (err) {
      this.refused(m.subject, errText(err));
    }
  }

  /**
   * Fetch from a durable consumer until stopped. The consumer may be deleted
   * under us (an operator, a lost NATS store): a fetch then just returns
   * nothing, so a quiet loop checks now and then and creates it again.
   */
  private async pullLoop(stream: string, name: string, handle: (ms: JsMsg[]) => void): Promise<void> {
    const consumer = await retrying(`consumer ${name}`, () => this.js.consumers.get(stream, name), (m) => this.log.warn(m), this.ac.signal).catch(() => null);
    let checked = performance.now();
    while (this.running && consumer) {
      const got: JsMsg[] = [];
      try {
        const iter = await consumer.fetch({ max_messages: 256, expires: 1000 });
        for await (const m of iter) got.push(m);
        if (got.length === 0 && performance.now() - checked > CONSUMER_CHECK_MS) {
          checked = performance.now();
          await this.jsm.consumers.info(stream, name).catch(async (err: unknown) => {
            if (!isNotFound(err)) throw err;
            this.log.warn({ stream, consumer: name }, 'consumer gone; creating it again');
            await this.ensureTopology();
          });
        }
      } catch (err) {
        if (this.running) {
          this.log.debug({ stream, err: errText(err) }, 'fetching failed');
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (got.length > 0) handle(got);
    }
  }

  private onResults(ms: JsMsg[]): void {
    const handled: JsMsg[] = [];
    for (const m of ms) {
      if (this.applyResult(m)) handled.push(m);
      else m.nak(5000);
    }
    if (handled.length === 0) return;
    this.opts.handlers.persist();
    for (const m of handled) m.ack();
  }

  /** Apply one result; false when it could not be applied now (it is handed back for later). */
  private applyResult(m: JsMsg): boolean {
    let r: WorkerResult;
    try {
      r = decodeResult(m);
    } catch (err) {
      this.refuseStored(m, errText(err));
      return true;
    }
    let v: ResultVerdict;
    try {
      v = this.opts.handlers.result(r);
    } catch (err) {
      // Not the payload's fault (the store failed, say): try again later rather than lose it.
      this.log.error({ subject: m.subject, err: err instanceof Error ? err.stack ?? err.message : String(err) }, 'could not apply a result; retrying it later');
      return false;
    }
    if (v.verdict === 'refused') this.refuseStored(m, v.why);
    else if (v.verdict === 'ignored') this.log.debug({ subject: m.subject, why: v.why }, 'result ignored');
    return true;
  }

  /** A stored message refused: counted, logged, copied to FF_DEAD (it is acked by the caller). */
  private refuseStored(m: JsMsg, why: string): void {
    this.refused(m.subject, why);
    const h = headers();
    h.set('Ff-Subject', m.subject);
    h.set('Ff-Error', why.slice(0, 1000));
    void this.js.publish(SUBJECTS.dead('result'), m.data, { headers: h, msgID: deadLetterId(m.info.stream, m.info.streamSequence) })
      .catch((err: unknown) => this.log.warn({ err: errText(err) }, 'dead-letter publish failed'));
  }

  /** Every message that reaches FF_DEAD, counted once by the stream it came from and logged. */
  private onDeadLetters(ms: JsMsg[]): void {
    for (const m of ms) {
      const kind = m.subject.slice('ff.dead.'.length) as DeadKind;
      const stream = ORIGIN[kind] ?? 'other';
      this.opts.metrics.deadLettered.inc({ stream });
      this.log.warn({ stream, subject: m.headers?.get('Ff-Subject'), error: m.headers?.get('Ff-Error'), worker: m.headers?.get('Ff-Worker') }, 'dead letter');
      m.ack();
    }
  }

  /** A message delivered max_deliver times: move it to the dead-letter stream. */
  private async onMaxDeliveries(m: Msg): Promise<void> {
    let adv: { stream?: unknown; consumer?: unknown; stream_seq?: unknown; deliveries?: unknown };
    try {
      adv = JSON.parse(new TextDecoder().decode(m.data)) as typeof adv;
    } catch (err) {
      this.refused(m.subject, `advisory is not JSON: ${String(err)}`);
      return;
    }
    const { stream, consumer, stream_seq: seq } = adv;
    const ours = (stream === STREAMS.work && consumer === CONSUMERS.batches) || (stream === STREAMS.jobs && consumer === CONSUMERS.jobs);
    if (!ours || typeof seq !== 'number') return;
    try {
      const sm = await this.jsm.streams.getMessage(stream, { seq });
      await this.moveToDead(stream, sm, { 'Ff-Deliveries': String(adv.deliveries) });
      this.log.warn({ stream, seq, subject: sm.subject, deliveries: adv.deliveries }, 'message delivered too often; moved to the dead-letter stream');
      const dead = decodeDeadWork(sm.subject, sm.data);
      if (dead) this.opts.handlers.dead(dead);
    } catch (err) {
      this.log.warn({ stream, seq, err: errText(err) }, 'could not dead-letter a message');
    }
  }

  private refused(subject: string, why: string): void {
    this.opts.metrics.refused.inc({ subject: refusedSubjectLabel(subject) });
    this.log.warn({ subject, error: why }, 'refused a malformed payload');
  }
}

/**
 * The first message at or after `seq` whose subject matches `filter`: the
 * server's STREAM.MSG.GET takes `next_by_subj` (2.9 and later), nats.js only
 * types it for direct gets.
 */
function nextBySubject(seq: number, filter: string): MsgRequest {
  const query: { seq: number; next_by_subj: string } = { seq, next_by_subj: filter };
  return query as unknown as MsgRequest;
}

function decodeResult(m: JsMsg): WorkerResult {
  switch (m.subject) {
    case SUBJECTS.batchResult: return { kind: 'batch', result: decodeBatchResult(m.data, m.subject) };
    case SUBJECTS.verifyResult: return { kind: 'verify', result: decodeVerifyResult(m.data, m.subject) };
    case SUBJECTS.minimizeResult: return { kind: 'minimize', result: decodeMinimizeResult(m.data, m.subject) };
    case SUBJECTS.confirmResult: return { kind: 'confirm', result: decodeConfirmResult(m.data, m.subject) };
    default: throw new WireError(`${m.subject}: not a result subject`);
  }
}

/** What a dead-lettered message was; null when it does not decode (the worker that pulled it refused and logged it). */
function decodeDeadWork(subject: string, data: Uint8Array): DeadWork | null {
  try {
    if (subject.startsWith('ff.work.batch.')) return { kind: 'batch', batch: decodeWorkBatch(data, subject) };
    if (subject === SUBJECTS.verifyJob) return { kind: 'verify', job: decodeVerifyJob(data, subject) };
    if (subject === SUBJECTS.minimizeJob) return { kind: 'minimize', job: decodeMinimizeJob(data, subject) };
  } catch {
    // Refused where it was pulled.
  }
  return null;
}
