// A campaign over two worker processes finds a seeded bug, cross-checks it on
// the other worker, and serves its reproducer over HTTP in every format
// (token-protected); then a worker is killed with SIGKILL in the middle of a
// batch: the batch is redelivered and no finding is lost.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CampaignInfo, FindingInfo } from '../../coordinator/api.js';
import { parseRepro } from '../../worker/repro/repro.js';
import { Cluster, httpGet, metricValue, waitFor } from './cluster.js';

const TOKEN = 'test-token-123';
const BUG = 'set-uptodate-during-read';

let cluster: Cluster;
let campaign: CampaignInfo;
let workers: { id: string; metricsPort: number; proc: import('./cluster.js').Proc }[] = [];
let finding: FindingInfo;

before(async () => {
  cluster = await Cluster.start({ token: TOKEN, batchMs: 1500 });
  await cluster.startCoordinator();
  workers = await Promise.all([cluster.startWorker(1), cluster.startWorker(1)]);
});

after(async () => {
  await cluster?.dispose();
});

test('a campaign over 2 worker processes finds the seeded bug and cross-checks it on the other worker', async () => {
  await waitFor('both workers connected', async () => metricValue(await cluster.metrics(), 'fuzz_workers_connected') === 2, 30_000);
  campaign = await cluster.api.createCampaign({ bugs: [BUG], name: 'seeded' });
  assert.match(campaign.id, /^c-[0-9a-f]{8}$/);
  assert.equal(campaign.state, 'running');
  const found = await waitFor('a verified finding', async () => (await cluster.findings(campaign.id))[0], 90_000);
  finding = found;
  assert.equal(found.verified, true);
  assert.match(found.id, /^c-[0-9a-f]{8}-[0-9a-f]{12}$/);
  assert.ok(found.id.startsWith(`${campaign.id}-`), `found.id.startsWith(\`\${campaign.id}-\`)`);
  const info = await cluster.campaign(campaign.id);
  assert.equal(info.findings, 1 <= info.findings ? info.findings : -1);
  assert.ok(info.execs > 0, `info.execs > 0`);
  // Cross-checked by a worker other than the one that found it.
  // (The log line may reach us through the pipe after the control reply did.)
  const rec = await waitFor('the coordinator to log the cross-check', () =>
    cluster.coordinator!.records('finding cross-checked and reported; minimizing it').find((r) => r['signature'] === found.signature), 15_000);
  assert.notEqual(rec['finder'], rec['verifier']);
  const ids = workers.map((w) => w.id);
  assert.ok(ids.includes(String(rec['finder'])) && ids.includes(String(rec['verifier'])), `ids.includes(String(rec['finder'])) && ids.includes(String(rec['verifier']))`);
  // Coordinator metrics.
  const m = await cluster.metrics();
  assert.ok(metricValue(m, 'fuzz_execs_total', { campaign: campaign.id }) > 0, `metricValue(m, 'fuzz_execs_total', { campaign: campaign.id }) > 0`);
  assert.ok(metricValue(m, 'fuzz_findings_total', { kind: found.signature.split(' ')[0]! }) >= 1, 'fuzz_findings_total by the finding\'s kind');
  assert.ok(metricValue(m, 'fuzz_unique_signatures', { campaign: campaign.id }) >= 1, `metricValue(m, 'fuzz_unique_signatures', { campaign: campaign.id }) >= 1`);
  assert.ok(metricValue(m, 'fuzz_coverage_points', { campaign: campaign.id }) > 0, `metricValue(m, 'fuzz_coverage_points', { campaign: campaign.id }) > 0`);
  assert.ok(metricValue(m, 'fuzz_batch_duration_seconds_count') > 0, `metricValue(m, 'fuzz_batch_duration_seconds_count') > 0`);
  assert.ok(!Number.isNaN(metricValue(m, 'fuzz_minimize_queue_depth')), `!Number.isNaN(metricValue(m, 'fuzz_minimize_queue_depth'))`);
  assert.ok(!Number.isNaN(metricValue(m, 'process_cpu_user_seconds_total')), 'default process metrics');
  // Each worker serves its own metrics.
  for (const w of workers) {
    const wm = (await httpGet(w.metricsPort, '/metrics')).body;
    assert.ok(!Number.isNaN(metricValue(wm, 'fuzz_batch_duration_seconds_count')), `worker ${w.id} /metrics`);
  }
});

test('the reproducer downloads over HTTP in every format, with the token', async () => {
  const path = (format: string): string => `/findings/${finding.id}/repro?format=${format}`;
  assert.equal((await httpGet(cluster.httpPort, path('json'))).status, 401, 'no token');
  assert.equal((await httpGet(cluster.httpPort, path('json'), 'wrong')).status, 401, 'wrong token');
  const json = await httpGet(cluster.httpPort, path('json'), TOKEN);
  assert.equal(json.status, 200);
  const repro = parseRepro(json.body, 'download');
  assert.equal(repro.signature, finding.signature);
  assert.deepEqual(repro.bugs, [BUG]);
  const text = await httpGet(cluster.httpPort, path('text'), TOKEN);
  assert.equal(text.status, 200);
  assert.ok(text.body.includes(finding.signature), `text.body.includes(finding.signature)`);
  const c = await httpGet(cluster.httpPort, path('c'), TOKEN);
  assert.equal(c.status, 200);
  assert.match(c.body, /int main\(/);
  for (const format of ['xfs_io', 'fsx']) {
    const r = await httpGet(cluster.httpPort, path(format), TOKEN);
    // A format that cannot express this program says so (422) instead of sending something wrong.
    assert.ok(r.status === 200 || (r.status === 422 && /cannot express/.test(r.body)), `${format}: ${r.status} ${r.body}`);
    if (r.status === 200) assert.ok(r.body.length > 0);
  }
  assert.equal((await httpGet(cluster.httpPort, path('zip'), TOKEN)).status, 400);
  const missing = await httpGet(cluster.httpPort, `/findings/${campaign.id}-000000000000/repro?format=json`, TOKEN);
  assert.equal(missing.status, 404);
  assert.match(missing.body, /no finding/);
  assert.equal((await httpGet(cluster.httpPort, '/nowhere')).status, 404);
  assert.equal((await httpGet(cluster.httpPort, '/findings/%E0%A4%A/repro', TOKEN)).status, 400, 'bad percent-encoding');
  assert.equal((await httpGet(cluster.httpPort, '/healthz')).status, 200);
  assert.equal((await httpGet(cluster.httpPort, '/readyz')).status, 200);
});

test('kill -9 a worker mid-batch: the batch is redelivered and no finding is lost', async () => {
  const before = await cluster.findings(campaign.id);
  const metricsBefore = metricValue(await cluster.metrics(), 'fuzz_work_redelivered_total');
  const victim = workers[0]!;
  // Wait until the victim is running a batch (its heartbeat says busy).
  // A worker announces a batch the moment it starts it: a batch id not seen at
  // the previous poll has just started, so the kill lands in the middle of it.
  let seen: string[] | null = null;
  await waitFor('the victim to start a batch', async () => {
    const ws = await cluster.heartbeats();
    const running = ws.find((w) => w.workerId === victim.id)?.running.filter((id) => /-b[0-9a-f]+\.\d+$/.test(id)) ?? [];
    const fresh = seen !== null && running.some((id) => !seen!.includes(id));
    seen = running;
    return fresh;
  }, 60_000, 30);
  await victim.proc.kill9();
  // A replacement joins (the cross-check of any new signature needs two workers).
  await cluster.startWorker(1);
  await waitFor('fuzz_work_redelivered_total to rise', async () => metricValue(await cluster.metrics(), 'fuzz_work_redelivered_total') > metricsBefore, 60_000);
  const afterKill = await cluster.findings(campaign.id);
  for (const f of before) {
    const same = afterKill.find((x) => x.id === f.id);
    assert.ok(same, `finding ${f.id} still listed`);
    assert.ok(same.count >= f.count, `same.count >= f.count`);
  }
  const info = await cluster.campaign(campaign.id);
  assert.equal(info.state, 'running');
  assert.ok(cluster.coordinator!.alive, `cluster.coordinator!.alive`);
  await waitFor('the campaign to keep going', async () => (await cluster.campaign(campaign.id)).execs > info.execs, 30_000);
});
