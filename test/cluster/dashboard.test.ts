// The coordinator's dashboard on a real cluster (a nats-server, a coordinator
// process, one worker process): behind the token, it lists the campaign, the
// worker and what it runs, and a finding the one worker found, waiting for
// its cross-check (a one-worker cluster cross-checks on the finder after a
// delay: test/unit/coordinator/one-worker.test.ts).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster, httpGet, waitFor } from './cluster.js';

const TOKEN = 'dash-token';
let cluster: Cluster;
let campaignId: string;
let workerId: string;

before(async () => {
  cluster = await Cluster.start({ token: TOKEN });
  await cluster.startCoordinator();
  workerId = (await cluster.startWorker(1)).id;
  campaignId = (await cluster.api.createCampaign({ bugs: ['set-uptodate-during-read'], name: 'dash' })).id;
});

after(async () => {
  await cluster?.dispose();
});

test('the coordinator serves the dashboard behind its token: campaigns, workers, a finding waiting for its cross-check', async () => {
  assert.equal((await httpGet(cluster.httpPort, '/')).status, 401);
  const basic = `Basic ${Buffer.from(`me:${TOKEN}`).toString('base64')}`;
  const page = await waitFor('the finding on the dashboard', async () => {
    const r = await httpGet(cluster.httpPort, `/campaigns/${campaignId}`, TOKEN);
    return r.status === 200 && r.body.includes('id="pending"') ? r.body : null;
  }, 60_000);
  assert.match(page, /<h1>dash <span class="badge running">running<\/span><\/h1>/);
  // Signatures v2: a BUG is keyed by the function it fired in (its callers are context in the message).
  assert.match(page, /<span class="sig">BUG folio_end_read:already-uptodate @ folio_end_read<\/span>/);
  assert.match(page, /waiting for a cross-check on another worker/);
  const overview = await httpGet(cluster.httpPort, '/', TOKEN);
  assert.match(overview.body, new RegExp(`<a href="/campaigns/${campaignId}">dash</a>`));
  const workers = await httpGet(cluster.httpPort, '/workers', TOKEN);
  assert.match(workers.body, new RegExp(`<td>${workerId}</td>`));
  const viaBasic = await fetch(`http://127.0.0.1:${cluster.httpPort}/`, { headers: { authorization: basic } });
  assert.equal(viaBasic.status, 200, 'a browser sends the token as the Basic password');
});
