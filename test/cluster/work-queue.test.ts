// The work queue over time (issue 18): stopping one campaign leaves the
// others' queued batches deliverable (item 1: a purge by subject made
// nats-server 2.9 skip them); a batch whose result was applied but which
// stayed in the queue is removed (item 9); a malformed batch or job is
// refused once and dead-lettered once, whatever the server version (item 2);
// and every dead letter is counted (item 8).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { JetStreamManager, JsMsg } from 'nats';
import type { CampaignInfo } from '../../coordinator/api.js';
import { CONSUMERS, STREAMS, SUBJECTS } from '../../worker/cluster/nats.js';
import { decodeWorkBatch, encodeBatchResult, type WorkBatch } from '../../worker/cluster/wire.js';
import { Cluster, metricValue, waitFor } from './cluster.js';

/** Field 1, length-delimited, with a length far past the end: no protobuf decoder accepts it. */
const GARBAGE = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);

let cluster: Cluster;
let jsm: JetStreamManager;

before(async () => {
  cluster = await Cluster.start({ batchMs: 500 });
  await cluster.startCoordinator();
  jsm = await (await cluster.connection('admin')).jetstreamManager();
});

after(async () => {
  await cluster?.dispose();
});

/** Pull one batch as a worker would (the test plays the only worker). */
async function pull(): Promise<{ m: JsMsg; batch: WorkBatch } | null> {
  const js = (await cluster.connection('worker')).jetstream();
  const m = await (await js.consumers.get(STREAMS.work, CONSUMERS.batches)).next({ expires: 2000 });
  return m === null ? null : { m, batch: decodeWorkBatch(m.data, m.subject) };
}

async function queuedSubjects(): Promise<string[]> {
  return Object.keys((await jsm.streams.info(STREAMS.work, { subjects_filter: 'ff.work.>' })).state.subjects ?? {});
}

let b: CampaignInfo;

test('stopping a campaign leaves the other campaigns\' queued batches deliverable', async () => {
  // No worker yet: each campaign keeps its batch queued.
  const a = await cluster.api.createCampaign({ bugs: [], name: 'a' });
  b = await cluster.api.createCampaign({ bugs: [], name: 'b' });
  await waitFor('both campaigns\' batches queued', async () => {
    const s = await queuedSubjects();
    return s.some((x) => x.includes(a.id)) && s.some((x) => x.includes(b.id));
  }, 10_000, 50);
  const bQueued = (await queuedSubjects()).filter((x) => x.includes(b.id));
  assert.equal(bQueued.length, 1);
  const bSeq = (await jsm.streams.getMessage(STREAMS.work, { last_by_subj: bQueued[0]! })).seq;
  // A worker runs one of the first campaign's batches (workers are busy when a campaign stops).
  const running = await pull();
  assert.equal(running?.batch.campaignId, a.id);
  await cluster.api.stopCampaign(a.id);
  assert.deepEqual((await queuedSubjects()).filter((x) => x.includes(a.id)), [], 'the stopped campaign\'s batches left the queue');
  running.m.ack();
  // The batch the other campaign had queued is the next a worker gets (not skipped, to wait out its time).
  const got = await pull();
  assert.ok(got, 'a worker gets the running campaign\'s batch');
  assert.equal(got.batch.campaignId, b.id);
  assert.equal(got.m.seq, bSeq, 'the queued batch was skipped');
  got.m.ack();
});

test('a batch whose result was applied is removed from the queue even if its ack never came', async () => {
  const got = await waitFor('a batch of b', () => pull(), 10_000);
  const js = (await cluster.connection('worker')).jetstream();
  const result = {
    workerId: 'w-test', campaignId: b.id, batchId: got.batch.batchId, execs: 3, timeouts: 0, newInputs: [], findings: [], harness: [], ms: 1, delivery: 1,
  };
  await js.publish(SUBJECTS.batchResult, encodeBatchResult(result), { msgID: got.batch.batchId });
  // Applied (the campaign counts it), but the worker "died" before its ack: the message stays in the queue...
  await waitFor('the result applied', async () => (await cluster.campaign(b.id)).execs === 3, 10_000);
  // ...until the queue's upkeep finds a batch that is no longer out.
  await waitFor('the answered batch gone from the queue', async () => {
    try {
      await jsm.streams.getMessage(STREAMS.work, { seq: got.m.seq });
      return false;
    } catch (err) {
      return /no message found/.test(String(err));
    }
  }, 20_000, 250);
  assert.ok(cluster.coordinator!.records(/removed batches of stopped campaigns or already answered/).length >= 1);
});

test('a malformed batch and job are refused once and dead-lettered once; every dead letter is counted', async () => {
  const worker = await cluster.startWorker(1);
  const asCoordinator = (await cluster.connection('coordinator')).jetstream();
  const badBatch = await asCoordinator.publish(`ff.work.batch.${b.id}`, GARBAGE);
  const badJob = await asCoordinator.publish(SUBJECTS.verifyJob, GARBAGE);
  // A result no decoder takes: the coordinator refuses and dead-letters it.
  await (await cluster.connection('worker')).jetstream().publish(SUBJECTS.batchResult, GARBAGE);
  const refusals = (): number => worker.proc.records('refused a malformed payload').length;
  await waitFor('both refused', () => refusals() === 2, 20_000);
  await waitFor('the three dead letters stored', async () => (await jsm.streams.info(STREAMS.dead)).state.messages === 3, 10_000);
  // Gone from their queues at once: acked, not left for the ack wait to bring them back.
  for (const [stream, seq] of [[STREAMS.work, badBatch.seq], [STREAMS.jobs, badJob.seq]] as const) {
    await assert.rejects(jsm.streams.getMessage(stream, { seq }), /no message found/, `${stream} #${seq} still queued`);
  }
  // Longer than the batch ack wait (6 s): nothing comes back.
  await new Promise((r) => setTimeout(r, 8_000));
  assert.equal(refusals(), 2, 'a malformed message refused again');
  assert.equal((await jsm.streams.info(STREAMS.dead)).state.messages, 3, 'dead-lettered again');
  await waitFor('every dead letter counted', async () => {
    const m = await cluster.metrics();
    return metricValue(m, 'fuzz_dead_lettered_total') === 3
      && metricValue(m, 'fuzz_dead_lettered_total', { stream: STREAMS.work }) === 1
      && metricValue(m, 'fuzz_dead_lettered_total', { stream: STREAMS.jobs }) === 1
      && metricValue(m, 'fuzz_dead_lettered_total', { stream: STREAMS.results }) === 1;
  }, 10_000);
});
