// A batch that is delivered max_deliver times without an ack (it keeps
// killing or failing workers) is moved by the coordinator to the dead-letter
// stream, from JetStream's max-deliveries advisory, leaves the work queue,
// and frees its campaign's slot for a new batch.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BATCH_MAX_DELIVER, CONSUMERS, STREAMS } from '../../worker/cluster/nats.js';
import { decodeWorkBatch } from '../../worker/cluster/wire.js';
import { Cluster, metricValue, waitFor } from './cluster.js';

let cluster: Cluster;

before(async () => {
  cluster = await Cluster.start();
  await cluster.startCoordinator();
});

after(async () => {
  await cluster?.dispose();
});

test('a batch delivered max_deliver times goes to the dead-letter stream', async () => {
  // No worker process: the test plays one that fails one of the campaign's batches every time.
  const c = await cluster.api.createCampaign({ bugs: [] });
  const js = (await cluster.connection('worker')).jetstream();
  const jsm = await (await cluster.connection('admin')).jetstreamManager();
  const consumer = await js.consumers.get(STREAMS.work, CONSUMERS.batches);
  let deliveries = 0;
  let first: { subject: string; seq: number; data: Uint8Array } | undefined;
  while (deliveries < BATCH_MAX_DELIVER) {
    const m = await consumer.next({ expires: 2000 });
    if (!m) continue;
    first ??= { subject: m.subject, seq: m.seq, data: new Uint8Array(m.data) };
    if (m.seq !== first.seq) {
      // The campaign's other batch: taken out of the way (it stays out until found lost).
      m.ack();
      continue;
    }
    deliveries = m.info.deliveryCount;
    m.nak();
  }
  assert.ok(first);
  const batchId = decodeWorkBatch(first.data, first.subject).batchId;
  assert.equal(first.subject, `ff.work.batch.${c.id}.${batchId}`);
  // The server gives up on the message (and sends the advisory) when a worker asks for more work.
  const next = await waitFor('the batch in FF_DEAD', async () => {
    const m = await consumer.next({ expires: 1000 });
    if (m !== null) {
      assert.notEqual(m.seq, first.seq, 'a message delivered max_deliver times is not delivered again');
      return m;
    }
    return false;
  }, 30_000);
  await waitFor('the dead letter stored', async () => (await jsm.streams.info(STREAMS.dead)).state.messages === 1, 30_000);
  const dead = await jsm.streams.getMessage(STREAMS.dead, { seq: 1 });
  assert.equal(dead.subject, 'ff.dead.batch');
  assert.equal(dead.header.get('Ff-Subject'), first.subject);
  assert.equal(dead.header.get('Ff-Deliveries'), String(BATCH_MAX_DELIVER));
  assert.deepEqual(new Uint8Array(dead.data), first.data);
  // It left the work queue, and its slot went to a new batch of the campaign (the one just pulled).
  await assert.rejects(jsm.streams.getMessage(STREAMS.work, { seq: first.seq }), /no message found/);
  assert.notEqual(decodeWorkBatch(next.data, next.subject).batchId, batchId);
  next.ack();
  await waitFor('the dead letter counted', async () => metricValue(await cluster.metrics(), 'fuzz_dead_lettered_total', { stream: STREAMS.work }) === 1, 15_000);
  assert.ok(cluster.coordinator!.alive);
});
