// The coordinator's NATS side: the connection, the streams, the heartbeats,
// the results loop and the dead-letter moves. It decodes what arrives (every
// payload checked field by field by worker/cluster/wire.ts; a malformed one
// is refused, logged and counted), hands it to the coordinator, and publishes
// what the coordinator sends. It holds no campaign state.
//
// Durability: a fetch's results are applied, then persisted (`persist`), and
// only then acked, so a coordinator killed at any point gets every result it
// had not written down again.

import { type JetStreamClient, type JetStreamManager, type JsMsg, type Msg, type NatsConnection, headers } from 'nats';
import type { Logger } from '../worker/cluster/log.js';
import {
  CONSUMERS, MAX_DELIVERIES_ADVISORY, type NatsOptions, STREAMS, SUBJECTS, connectNats, ensureTopology, retrying,
} from '../worker/cluster/nats.js';
import {
  type Heartbeat, WireError, decodeBatchResult, decodeHeartbeat, decodeMinimizeJob, decodeMinimizeResult, decodeVerifyJob,
  decodeVerifyResult, decodeWorkBatch, encodeMinimizeJob, encodeVerifyJob, encodeWorkBatchEncoded,
} from '../worker/cluster/wire.js';
import type { ClusterJob } from './findings.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { DeadWork, WorkerResult } from './results.js';
import type { PlannedBatch } from './schedule.js';

export interface TransportHandlers {
  heartbeat(hb: Heartbeat): void;
  /** Apply a result; throwing hands it back to be delivered again later (the store failed, say). */
  result(r: WorkerResult): void;
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

export class CoordinatorTransport {
  private nc: NatsConnection | null = null;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private isConnected = false;
  private running = true;
  private readonly ac = new AbortController();
  private resultsLoopDone: Promise<void> = Promise.resolve();
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
    await retrying('create streams', () => ensureTopology(this.jsm), (m) => this.log.warn(m), this.ac.signal);
    this.js = this.nc.jetstream();
    this.nc.subscribe(SUBJECTS.heartbeatAll, { callback: (err, m) => (err ? undefined : this.onHeartbeat(m)) });
    this.nc.subscribe(MAX_DELIVERIES_ADVISORY, { callback: (err, m) => (err ? undefined : void this.onMaxDeliveries(m)) });
    this.resultsLoopDone = this.resultsLoop();
    await this.nc.flush();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.ac.abort();
    await Promise.race([this.resultsLoopDone, new Promise((r) => setTimeout(r, 3000))]);
    if (this.nc) await this.nc.drain().catch(() => this.nc?.close());
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.isConnected = false;
      if (s.type === 'reconnect') this.isConnected = true;
      if (s.type === 'disconnect' || s.type === 'reconnect') this.log.warn({ event: s.type, server: String(s.data) }, `nats ${s.type}`);
    }
  }

  // ---------------------------------------------------------------------------
  // Out

  /** Encoded at once: the batch's coverage bitmap is the campaign's live one. */
  publishBatch(b: PlannedBatch): void {
    this.publish(SUBJECTS.batch(b.batch.campaignId), encodeWorkBatchEncoded(b.batch, b.inputs), b.batch.batchId);
  }

  publishJob(j: ClusterJob): void {
    if (j.kind === 'verify') this.publish(SUBJECTS.verifyJob, encodeVerifyJob(j.job), j.job.jobId);
    else this.publish(SUBJECTS.minimizeJob, encodeMinimizeJob(j.job), j.job.jobId);
  }

  /** Drop a campaign's queued batches (it stopped: they would only burn worker time). */
  async purgeBatches(campaignId: string): Promise<void> {
    try {
      await this.jsm.streams.purge(STREAMS.work, { filter: SUBJECTS.batch(campaignId) });
    } catch (err) {
      this.log.warn({ campaign: campaignId, err: String(err) }, 'could not purge queued batches');
    }
  }

  /** Publish to a stream, retrying while NATS is away; msgID dedups a repeat. */
  private publish(subject: string, data: Uint8Array, msgID: string): void {
    void retrying(`publish ${subject}`, () => this.js.publish(subject, data, { msgID, timeout: 5000 }), (m) => this.log.warn(m), this.ac.signal)
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------------------
  // In

  private onHeartbeat(m: Msg): void {
    try {
      const hb = decodeHeartbeat(m.data, m.subject);
      if (m.subject !== SUBJECTS.heartbeat(hb.workerId)) throw new Error(`${m.subject}: heartbeat of ${hb.workerId} on another worker's subject`);
      this.opts.handlers.heartbeat(hb);
    } catch (err) {
      this.refused(m.subject, err instanceof Error ? err.message : String(err));
    }
  }

  private async resultsLoop(): Promise<void> {
    const consumer = await retrying('results consumer', () => this.js.consumers.get(STREAMS.results, CONSUMERS.coordinator), (m) => this.log.warn(m), this.ac.signal)
      .catch(() => null);
    while (this.running && consumer) {
      const handled: JsMsg[] = [];
      try {
        const iter = await consumer.fetch({ max_messages: 256, expires: 1000 });
        for await (const m of iter) {
          if (this.applyResult(m)) handled.push(m);
          else m.nak(5000);
        }
      } catch (err) {
        if (this.running) {
          this.log.debug({ err: String(err) }, 'fetching results failed');
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (handled.length === 0) continue;
      this.opts.handlers.persist();
      for (const m of handled) m.ack();
    }
  }

  /** Apply one result; false when it could not be applied now (it is handed back for later). */
  private applyResult(m: JsMsg): boolean {
    let r: WorkerResult;
    try {
      r = decodeResult(m);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.refused(m.subject, why);
      const h = headers();
      h.set('Ff-Subject', m.subject);
      h.set('Ff-Error', why.slice(0, 1000));
      void this.js.publish(SUBJECTS.dead('result'), m.data, { headers: h }).catch(() => undefined);
      return true;
    }
    try {
      this.opts.handlers.result(r);
      return true;
    } catch (err) {
      // Not the payload's fault (the store failed, say): try again later rather than lose it.
      this.log.error({ subject: m.subject, err: err instanceof Error ? err.stack ?? err.message : String(err) }, 'could not apply a result; retrying it later');
      return false;
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
    const stream = adv.stream;
    const seq = adv.stream_seq;
    if ((stream !== STREAMS.work && stream !== STREAMS.jobs) || typeof seq !== 'number') return;
    try {
      const sm = await this.jsm.streams.getMessage(stream, { seq });
      const h = headers();
      h.set('Ff-Subject', sm.subject);
      h.set('Ff-Deliveries', String(adv.deliveries));
      await this.js.publish(SUBJECTS.dead(stream === STREAMS.work ? 'batch' : 'job'), sm.data, { headers: h });
      await this.jsm.streams.deleteMessage(stream, seq, false);
      this.opts.metrics.deadLettered.inc({ stream });
      this.log.warn({ stream, seq, subject: sm.subject, deliveries: adv.deliveries }, 'message delivered too often; moved to the dead-letter stream');
      const dead = decodeDeadWork(sm.subject, sm.data);
      if (dead) this.opts.handlers.dead(dead);
    } catch (err) {
      this.log.warn({ stream, seq, err: String(err) }, 'could not dead-letter a message');
    }
  }

  private refused(subject: string, why: string): void {
    this.opts.metrics.refused.inc({ subject: subject.split('.').slice(0, 3).join('.') });
    this.log.warn({ subject, error: why }, 'refused a malformed payload');
  }
}

function decodeResult(m: JsMsg): WorkerResult {
  switch (m.subject) {
    case SUBJECTS.batchResult: return { kind: 'batch', result: decodeBatchResult(m.data, m.subject) };
    case SUBJECTS.verifyResult: return { kind: 'verify', result: decodeVerifyResult(m.data, m.subject) };
    case SUBJECTS.minimizeResult: return { kind: 'minimize', result: decodeMinimizeResult(m.data, m.subject) };
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
