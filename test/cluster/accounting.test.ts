// Counting, over a real coordinator process and a test playing its workers:
// a result is applied once however old it is (issue 18, item 5: only the
// last 500 were remembered), also after the results consumer is deleted and
// made again; and the Prometheus execution counter never runs ahead of what
// is written to the store, so a coordinator killed with SIGKILL comes back
// with a counter that did not go down (item 6).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CampaignInfo } from '../../coordinator/api.js';
import { CONSUMERS, STREAMS, SUBJECTS } from '../../worker/cluster/nats.js';
import { Cluster, metricValue, waitFor } from './cluster.js';
import { FakeWorker } from './fake-worker.js';

let cluster: Cluster;
let campaign: CampaignInfo;
let worker: FakeWorker;

before(async () => {
  cluster = await Cluster.start({ batchMs: 500 });
  await cluster.startCoordinator();
  worker = new FakeWorker(await cluster.connection('worker'), { id: 'w-fake-1', procs: 100, execs: 1 }).start();
  campaign = await cluster.api.createCampaign({ bugs: [] });
});

after(async () => {
  await worker?.stop();
  await cluster?.dispose();
});

test('a result is applied once, however many results came after it; also when the results consumer is made again', async () => {
  await waitFor('700 batches answered', () => worker.published.length >= 700, 60_000, 50);
  await worker.stop();
  await waitFor('every result applied', () => cluster.resultsSettled(), 30_000);
  const applied = (await cluster.campaign(campaign.id)).execs;
  assert.equal(applied, worker.published.length, 'one execution per result');
  // The first 100 results again, as a redelivery would bring them (new message ids: past the stream's deduplication).
  const js = (await cluster.connection('worker')).jetstream();
  for (const p of worker.published.slice(0, 100)) await js.publish(SUBJECTS.batchResult, p.data);
  await waitFor('the old results taken up', () => cluster.resultsSettled(), 30_000);
  assert.equal((await cluster.campaign(campaign.id)).execs, applied, 'old results counted again');

  // The results consumer is lost (deleted by hand here): the coordinator makes it again and goes on.
  const jsm = await (await cluster.connection('admin')).jetstreamManager();
  await jsm.consumers.delete(STREAMS.results, CONSUMERS.coordinator);
  for (const p of worker.published.slice(100, 200)) await js.publish(SUBJECTS.batchResult, p.data);
  worker = new FakeWorker(await cluster.connection('worker'), { id: 'w-fake-2', procs: 100, execs: 1 }).start();
  const more = await waitFor('results applied again', async () => {
    const info = await cluster.campaign(campaign.id);
    return info.execs >= applied + 50 ? info : null;
  }, 30_000);
  await worker.stop();
  await waitFor('every result applied', () => cluster.resultsSettled(), 30_000);
  assert.equal((await cluster.campaign(campaign.id)).execs, applied + worker.published.length, `after ${more.execs}: old results counted again`);
  assert.ok(cluster.coordinator!.records('consumer gone; creating it again').length >= 1);
});

/** The campaign's executions as written to the store. */
function storedExecs(): number {
  const rec = JSON.parse(readFileSync(join(cluster.storeDir, 'campaigns', campaign.id, 'campaign.json'), 'utf8')) as { execs: number };
  return rec.execs;
}

test('the execution counter never runs ahead of the store, and a SIGKILL does not take it back', async () => {
  worker = new FakeWorker(await cluster.connection('worker'), { id: 'w-fake-3', procs: 100, execs: 7 }).start();
  await waitFor('results flowing', () => worker.published.length > 50, 30_000, 50);
  for (let i = 0; i < 40; i++) {
    const metric = metricValue(await cluster.metrics(), 'fuzz_execs_total', { campaign: campaign.id });
    const stored = storedExecs();
    assert.ok(metric <= stored, `sample ${i}: the counter says ${metric}, the store ${stored}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const before = metricValue(await cluster.metrics(), 'fuzz_execs_total', { campaign: campaign.id });
  await cluster.coordinator!.kill9();
  await cluster.startCoordinator();
  const after = metricValue(await cluster.metrics(), 'fuzz_execs_total', { campaign: campaign.id });
  assert.ok(after >= before, `the counter went from ${before} to ${after} across the restart`);
  await worker.stop();
});
