// The cluster under abuse and failures, on one running campaign:
// malformed payloads on every subject are refused and logged and nothing
// crashes, and nothing takes control requests on NATS; a nats-server restart
// is survived (workers reconnect, execs keep rising); a coordinator killed
// with SIGKILL and started again resumes the campaign with the same findings
// and counters.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CampaignInfo, FindingInfo } from '../../coordinator/api.js';
import { encodeWorkBatch } from '../../worker/cluster/wire.js';
import type { BugName } from '../../worker/sim/bugs.js';
import { Cluster, metricValue, waitFor } from './cluster.js';

const BUG = 'set-uptodate-during-read';
/** Field 1, length-delimited, with a length far past the end: no protobuf decoder accepts it. */
const GARBAGE = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);

let cluster: Cluster;
let campaign: CampaignInfo;
let workerIds: string[] = [];

before(async () => {
  cluster = await Cluster.start({ batchMs: 500 });
  await cluster.startCoordinator();
  workerIds = (await Promise.all([cluster.startWorker(1), cluster.startWorker(1)])).map((w) => w.id);
  await waitFor('both workers connected', async () => metricValue(await cluster.metrics(), 'fuzz_workers_connected') === 2, 30_000);
  campaign = await cluster.api.createCampaign({ bugs: [BUG] });
  await waitFor('a verified finding', async () => (await cluster.findings(campaign.id))[0], 90_000);
});

after(async () => {
  await cluster?.dispose();
});

function everyoneAlive(): void {
  assert.ok(cluster.coordinator!.alive, 'coordinator alive');
  for (const w of cluster.workers) assert.ok(w.alive, `${w.name} alive`);
}

test('malformed payloads on every subject are refused and logged; nothing crashes', async () => {
  // Work and jobs come from the coordinator's NATS user, results and heartbeats from the workers'.
  const asCoordinator = (await cluster.connection('coordinator')).jetstream();
  const asWorker = await cluster.connection('worker');
  const badBug = encodeWorkBatch({
    campaignId: campaign.id, batchId: 'evil-1', bugs: ['no-such-bug' as BugName], seed: 1, execMs: 100, maxExecs: 0, feedback: true,
    inputs: [], coverage: new Uint8Array(0), timeoutMs: 1000,
  });
  // Streams: the workers pull these, the coordinator consumes the results. (A work subject
  // naming only its campaign, as before one subject per batch: the queue's upkeep leaves those to the workers.)
  const work: [string, Uint8Array][] = [
    [`ff.work.batch.${campaign.id}`, GARBAGE], [`ff.work.batch.${campaign.id}`, new Uint8Array(0)], [`ff.work.batch.${campaign.id}`, badBug],
    ['ff.jobs.verify', GARBAGE], ['ff.jobs.minimize', GARBAGE], ['ff.jobs.verify', new Uint8Array(0)],
  ];
  for (const [subject, data] of work) await asCoordinator.publish(subject, data);
  const results: [string, Uint8Array][] = [
    ['ff.results.batch', GARBAGE], ['ff.results.verify', GARBAGE], ['ff.results.minimize', GARBAGE], ['ff.results.batch', new Uint8Array(0)],
  ];
  for (const [subject, data] of results) await asWorker.jetstream().publish(subject, data);
  asWorker.publish(`ff.hb.${workerIds[0]}`, GARBAGE);
  asWorker.publish('ff.hb.w-forged', new Uint8Array(0));
  // Nothing is driven over NATS: the coordinator through its gRPC API only, a worker by signals.
  const admin = await cluster.connection('admin');
  for (const subject of ['ff.ctl.coordinator', `ff.ctl.worker.${workerIds[1]}`]) {
    await assert.rejects(admin.request(subject, GARBAGE, { timeout: 10_000 }), (err: Error & { code?: string }) => err.code === '503', subject);
  }
  await assert.rejects(cluster.api.createCampaign({ bugs: ['nope' as BugName] }), /INVALID_ARGUMENT: bugs\[0\]: unknown bug switch "nope"/);

  const refusedBy = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const p of [cluster.coordinator!, ...cluster.workers]) {
      for (const r of p.records('refused a malformed payload')) out.set(String(r['subject']), (out.get(String(r['subject'])) ?? 0) + 1);
    }
    return out;
  };
  const want = new Map<string, number>([
    [`ff.work.batch.${campaign.id}`, 3], ['ff.jobs.verify', 2], ['ff.jobs.minimize', 1], ['ff.results.batch', 2], ['ff.results.verify', 1],
    ['ff.results.minimize', 1], [`ff.hb.${workerIds[0]}`, 1], ['ff.hb.w-forged', 1],
  ]);
  await waitFor('every malformed payload refused and logged', () => {
    const got = refusedBy();
    return [...want].every(([s, n]) => (got.get(s) ?? 0) >= n);
  }, 30_000).catch((err: unknown) => {
    throw new Error(`${String(err)}; refused so far: ${JSON.stringify([...refusedBy()])}`);
  });
  // The reasons name what is wrong and where.
  const reasons = [cluster.coordinator!, ...cluster.workers].flatMap((p) => p.records('refused a malformed payload')).map((r) => String(r['error']));
  assert.ok(reasons.some((r) => /ff\.work\.batch\.c-[0-9a-f]+: \$\.bugs\[0\]: unknown bug switch "no-such-bug"/.test(r)), reasons.join('\n'));
  assert.ok(reasons.some((r) => /ff\.work\.batch\.c-[0-9a-f]+: \$\.campaignId: expected an id/.test(r)), reasons.join('\n'));
  assert.ok(reasons.some((r) => /ff\.results\.batch: malformed protobuf BatchResult/.test(r)), reasons.join('\n'));
  // The coordinator's own: four results and two heartbeats (the workers count the rest).
  assert.ok(metricValue(await cluster.metrics(), 'fuzz_payloads_refused_total') >= 6);
  everyoneAlive();
  const info = await cluster.campaign(campaign.id);
  await waitFor('the campaign to keep going', async () => (await cluster.campaign(campaign.id)).execs > info.execs, 30_000);
  everyoneAlive();
});

test('restart nats-server: workers reconnect and the campaign goes on', async () => {
  await cluster.nats.restart();
  // The API answers from the coordinator's memory (gRPC, not NATS): wait for the reconnects themselves.
  await waitFor('both workers to log the reconnect', () => cluster.workers.every((p) => p.records('nats reconnect').length >= 1), 60_000);
  const reconnected = await cluster.campaign(campaign.id);
  await waitFor('execs to rise after the reconnect', async () => (await cluster.campaign(campaign.id)).execs > reconnected.execs + 50, 60_000);
  await waitFor('both workers connected again', async () => metricValue(await cluster.metrics(), 'fuzz_workers_connected') === 2, 30_000);
  everyoneAlive();
});

test('restart the coordinator (SIGKILL): the campaign resumes with the same findings and counters', async () => {
  const findingsBefore: FindingInfo[] = await cluster.findings(campaign.id);
  const infoBefore = await cluster.campaign(campaign.id);
  assert.ok(findingsBefore.length >= 1);
  await cluster.coordinator!.kill9();
  await cluster.startCoordinator();
  const infoAfter = await cluster.campaign(campaign.id);
  assert.equal(infoAfter.state, 'running');
  assert.ok(infoAfter.execs >= infoBefore.execs, `execs ${infoAfter.execs} >= ${infoBefore.execs}`);
  assert.ok(infoAfter.corpus >= infoBefore.corpus, `corpus ${infoAfter.corpus} >= ${infoBefore.corpus}`);
  assert.ok(infoAfter.coverage >= infoBefore.coverage, `coverage ${infoAfter.coverage} >= ${infoBefore.coverage}`);
  assert.ok(infoAfter.findings >= infoBefore.findings);
  assert.ok(infoAfter.elapsedSec >= infoBefore.elapsedSec - 1, `elapsed ${infoAfter.elapsedSec} vs ${infoBefore.elapsedSec}`);
  const findingsAfter = await cluster.findings(campaign.id);
  for (const f of findingsBefore) {
    const same = findingsAfter.find((x) => x.id === f.id);
    assert.ok(same, `finding ${f.id} survives the restart`);
    assert.equal(same.signature, f.signature);
    assert.ok(same.count >= f.count);
    assert.equal(same.firstFoundExec, f.firstFoundExec);
  }
  const m = await cluster.metrics();
  assert.ok(metricValue(m, 'fuzz_execs_total', { campaign: campaign.id }) >= infoBefore.execs);
  assert.ok(metricValue(m, 'fuzz_unique_signatures', { campaign: campaign.id }) >= findingsBefore.length);
  await waitFor('execs to keep rising', async () => (await cluster.campaign(campaign.id)).execs > infoAfter.execs + 50, 60_000);
  assert.equal((await cluster.api.stopCampaign(campaign.id)).state, 'stopped');
  everyoneAlive();
});

test('stop, resume, and a campaign whose duration is used up', async () => {
  await assert.rejects(cluster.api.stopCampaign(campaign.id), /FAILED_PRECONDITION: campaign c-[0-9a-f]+ is stopped, not running/);
  const resumed = await cluster.api.resumeCampaign(campaign.id);
  assert.equal(resumed.state, 'running');
  await assert.rejects(cluster.api.resumeCampaign(campaign.id), /FAILED_PRECONDITION: .* already running/);
  await waitFor('the resumed campaign to run', async () => (await cluster.campaign(campaign.id)).execs > resumed.execs, 30_000);
  assert.equal((await cluster.api.stopCampaign(campaign.id)).state, 'stopped');

  const short = await cluster.api.createCampaign({ bugs: [], durationSec: 2, name: 'short' });
  assert.equal(short.name, 'short');
  const done = await waitFor('the short campaign to be done', async () => {
    const c = await cluster.campaign(short.id);
    return c.state === 'done' ? c : null;
  }, 30_000);
  assert.ok(done.elapsedSec >= 2);
  await assert.rejects(cluster.api.resumeCampaign(short.id), /FAILED_PRECONDITION: .* done/);
  await assert.rejects(cluster.campaign('c-00000000'), /NOT_FOUND/);
  await assert.rejects(cluster.api.createCampaign({ bugs: [], durationSec: -1 }), /INVALID_ARGUMENT: duration_sec/);
  // With every switch off the cluster reports nothing.
  assert.deepEqual(await cluster.findings(short.id), []);
  everyoneAlive();
});
