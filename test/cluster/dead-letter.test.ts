// A batch that is delivered max_deliver times without an ack (it keeps
// killing or failing workers) is moved by the coordinator to the dead-letter
// stream, from JetStream's max-deliveries advisory, and leaves the work queue.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BATCH_MAX_DELIVER, CONSUMERS, STREAMS } from '../../worker/cluster/nats.js';
import { encodeWorkBatch } from '../../worker/cluster/wire.js';
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
  const nc = await cluster.connection();
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const data = encodeWorkBatch({
    campaignId: 'c-deadbeef', batchId: 'c-deadbeef-b1', bugs: [], seed: 1, execMs: 100, maxExecs: 0, feedback: true, inputs: [],
    coverage: new Uint8Array(0), timeoutMs: 1000,
  });
  await js.publish('ff.work.batch.c-deadbeef', data, { msgID: 'c-deadbeef-b1' });
  // Play a worker that fails the batch every time.
  const consumer = await js.consumers.get(STREAMS.work, CONSUMERS.batches);
  let deliveries = 0;
  while (deliveries < BATCH_MAX_DELIVER) {
    const m = await consumer.next({ expires: 2000 });
    if (!m) continue;
    deliveries = m.info.deliveryCount;
    m.nak();
  }
  // The server gives up on the message (and sends the advisory) when a worker asks for more work.
  await waitFor('the batch in FF_DEAD', async () => {
    const again = await consumer.next({ expires: 1000 });
    assert.equal(again, null, 'a message delivered max_deliver times is not delivered again');
    return (await jsm.streams.info(STREAMS.dead)).state.messages === 1;
  }, 30_000);
  const dead = await jsm.streams.getMessage(STREAMS.dead, { seq: 1 });
  assert.equal(dead.subject, 'ff.dead.batch');
  assert.equal(dead.header.get('Ff-Subject'), 'ff.work.batch.c-deadbeef');
  assert.equal(dead.header.get('Ff-Deliveries'), String(BATCH_MAX_DELIVER));
  assert.deepEqual(new Uint8Array(dead.data), data);
  await waitFor('the work queue empty', async () => (await jsm.streams.info(STREAMS.work)).state.messages === 0, 30_000);
  assert.equal(metricValue(await cluster.metrics(), 'fuzz_dead_lettered_total', { stream: STREAMS.work }), 1);
  assert.ok(cluster.coordinator!.alive);
});
