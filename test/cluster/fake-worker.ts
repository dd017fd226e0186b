// A worker played by a test over NATS, as the worker user: it heartbeats
// with as many executor threads as asked (the coordinator queues that many
// batches), pulls batches and answers them with a result of a given size at
// once, so a test runs hundreds of batches a second and controls every
// result. Each result it published is kept (to publish again, forged).

import type { JsMsg, NatsConnection } from 'nats';
import { CONSUMERS, STREAMS, SUBJECTS } from '../../worker/cluster/nats.js';
import { type BatchResult, type WorkBatch, decodeWorkBatch, encodeBatchResult, encodeHeartbeat } from '../../worker/cluster/wire.js';

export interface FakeWorkerOptions {
  id: string;
  /** Executor threads it claims. */
  procs: number;
  /** Executions each result claims. */
  execs: number;
  /** Leave a pulled batch unanswered and unacked instead (a worker that dies mid-batch). */
  drop?: (b: WorkBatch, m: JsMsg) => boolean;
}

export class FakeWorker {
  readonly published: { batch: WorkBatch; result: BatchResult; data: Uint8Array }[] = [];
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  private beat: NodeJS.Timeout | undefined;

  constructor(private readonly nc: NatsConnection, readonly o: FakeWorkerOptions) {}

  heartbeat(): void {
    this.nc.publish(SUBJECTS.heartbeat(this.o.id), encodeHeartbeat({
      workerId: this.o.id, host: 'test', pid: 1, procs: this.o.procs, busy: 0, campaigns: [], execs: 0, uptimeSec: 1, running: [], kernelConfirm: false, confirming: [],
    }));
  }

  start(): this {
    this.heartbeat();
    this.beat = setInterval(() => this.heartbeat(), 1000);
    this.loop = this.answer();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.beat);
    await this.loop;
  }

  /** The result this worker sends for `b`. */
  result(b: WorkBatch, execs = this.o.execs): BatchResult {
    return {
      workerId: this.o.id, campaignId: b.campaignId, batchId: b.batchId, execs, timeouts: 0, newInputs: [], findings: [], harness: [], ms: 1, delivery: 1,
    };
  }

  private async answer(): Promise<void> {
    const js = this.nc.jetstream();
    const consumer = await js.consumers.get(STREAMS.work, CONSUMERS.batches);
    while (this.running) {
      const iter = await consumer.fetch({ max_messages: 256, expires: 1000 });
      const acks: Promise<unknown>[] = [];
      for await (const m of iter) {
        const batch = decodeWorkBatch(m.data, m.subject);
        if (this.o.drop?.(batch, m)) continue;
        const result = this.result(batch);
        const data = encodeBatchResult(result);
        this.published.push({ batch, result, data });
        acks.push(js.publish(SUBJECTS.batchResult, data, { msgID: batch.batchId }).then(() => m.ack()));
      }
      await Promise.all(acks);
    }
  }
}
