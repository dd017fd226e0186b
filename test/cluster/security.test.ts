// NATS as the security boundary (issue 18, item 4): no anonymous access;
// a worker's NATS user publishes results and heartbeats and takes work, and
// nothing else (no work, jobs, advisories or control, no reading results);
// results that claim the impossible, or answer no batch out, count nothing.
// Also: forged heartbeats make no metric series (item 3), the HTTP bearer
// scheme in any case (item 10), and /readyz only once gRPC takes calls (item 9).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { type NatsConnection, connect } from 'nats';
import type { CampaignInfo } from '../../coordinator/api.js';
import { CONSUMERS, INBOX_PREFIX, STREAMS, SUBJECTS } from '../../worker/cluster/nats.js';
import { decodeWorkBatch, encodeBatchResult, encodeHeartbeat, type BatchResult } from '../../worker/cluster/wire.js';
import { Cluster, httpGet, metricValue, waitFor } from './cluster.js';
import { freePort, portOpen } from './nats-server.js';
import { runCli } from './run-cli.js';

const TOKEN = 'security-test-token-0123456789';

let cluster: Cluster;
let campaign: CampaignInfo;

before(async () => {
  cluster = await Cluster.start({ token: TOKEN, batchMs: 500 });
  await cluster.startCoordinator();
  campaign = await cluster.api.createCampaign({ bugs: [] });
});

after(async () => {
  await cluster?.dispose();
});

/** Whether the server refuses `fn` for want of permission. */
async function forbidden(what: string, fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn(), (err: Error & { code?: string }) => err.code === 'PERMISSIONS_VIOLATION' || /Permissions Violation/i.test(err.message), what);
}

test('no anonymous access; a worker\'s NATS user can only do a worker\'s part', async () => {
  await assert.rejects(cluster.nats.connect('admin', { user: undefined, pass: undefined, maxReconnectAttempts: 0 }),
    (err: Error & { code?: string }) => err.code === 'AUTHORIZATION_VIOLATION');
  const w = await cluster.nats.connect('worker', { maxReconnectAttempts: 0 });
  try {
    const js = w.jetstream();
    const data = new Uint8Array([1]);
    await forbidden('publish work', () => js.publish(`ff.work.batch.${campaign.id}.forged`, data, { timeout: 3000 }));
    await forbidden('publish a job', () => js.publish(SUBJECTS.verifyJob, data, { timeout: 3000 }));
    await forbidden('publish an advisory', () => w.request(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${STREAMS.work}.${CONSUMERS.batches}`, data, { timeout: 3000 }));
    await forbidden('control', () => w.request('ff.ctl.coordinator', data, { timeout: 3000 }));
    await forbidden('read results', () => js.consumers.get(STREAMS.results, CONSUMERS.coordinator));
    await forbidden('manage streams', () => w.jetstreamManager());
    // Nor listen where it should not: the subscription is refused.
    const refused = new Promise<string>((resolve) => {
      w.subscribe(SUBJECTS.resultsAll, { callback: (err) => resolve(err ? String(err.message) : 'a message arrived') });
      setTimeout(() => resolve('no refusal'), 3000);
    });
    assert.match(await refused, /Permissions Violation for Subscription/i);
  } finally {
    await w.close();
  }
  // The coordinator's user does not pose as a worker.
  const c = await cluster.nats.connect('coordinator', { maxReconnectAttempts: 0 });
  try {
    await forbidden('the coordinator publishing a result', () => c.jetstream().publish(SUBJECTS.batchResult, new Uint8Array([1]), { timeout: 3000 }));
  } finally {
    await c.close();
  }
});

test('a result that answers no batch out, or claims the impossible, counts nothing', async () => {
  const w: NatsConnection = await cluster.connection('worker');
  const js = w.jetstream();
  const got = await waitFor('a batch', () => js.consumers.get(STREAMS.work, CONSUMERS.batches).then((c) => c.next({ expires: 2000 })), 10_000);
  const batch = decodeWorkBatch(got.data, got.subject);
  const result = (over: Partial<BatchResult>): Uint8Array => encodeBatchResult({
    workerId: 'w-forger', campaignId: campaign.id, batchId: batch.batchId, execs: 10, timeouts: 0, newInputs: [], findings: [], harness: [], ms: 1,
    delivery: 1, ...over,
  });
  // A batch never issued, and a real one claiming 10^12 executions in a 500 ms batch.
  await js.publish(SUBJECTS.batchResult, result({ batchId: `${campaign.id}-b000000.999999`, execs: 1e12 }));
  await js.publish(SUBJECTS.batchResult, result({ execs: 1e12 }));
  await waitFor('the forged results taken up', () => cluster.resultsSettled(), 10_000);
  assert.equal((await cluster.campaign(campaign.id)).execs, 0);
  const refused = cluster.coordinator!.records('refused a malformed payload').map((r) => String(r['error']));
  assert.ok(refused.some((e) => /execs 1000000000000: a batch of at most \d+ ms runs at most/.test(e)), refused.join('\n'));
  // The real answer counts, once; the campaign stopped, nothing more does.
  await js.publish(SUBJECTS.batchResult, result({}));
  await waitFor('the real result applied', async () => (await cluster.campaign(campaign.id)).execs === 10, 10_000);
  got.ack();
  await cluster.api.stopCampaign(campaign.id);
  await js.publish(SUBJECTS.batchResult, result({ execs: 5 }));
  await waitFor('the late copy taken up', () => cluster.resultsSettled(), 10_000);
  assert.equal((await cluster.campaign(campaign.id)).execs, 10);
});

test('forged heartbeats make no metric series of their own', async () => {
  const w = await cluster.connection('worker');
  for (let i = 0; i < 300; i++) w.publish(`ff.hb.w-junk-${i}`, new Uint8Array([0x0a, 0xff]));
  // And well-formed ones from workers that do not exist: they are forgotten, and make no label either.
  for (let i = 0; i < 50; i++) {
    w.publish(`ff.hb.w-ghost-${i}`, encodeHeartbeat({ workerId: `w-ghost-${i}`, host: 'x', pid: i, procs: 1, busy: 0, campaigns: [], execs: 0, uptimeSec: 1, running: [], kernelConfirm: false, confirming: [] }));
  }
  await w.flush();
  const text = await waitFor('the junk refused', async () => {
    const m = await cluster.metrics();
    return metricValue(m, 'fuzz_payloads_refused_total') >= 300 ? m : null;
  }, 15_000);
  const labels = text.split('\n').filter((l) => l.startsWith('fuzz_payloads_refused_total{')).map((l) => /subject="([^"]*)"/.exec(l)?.[1]);
  // One series for all heartbeats (and one from the result refused above).
  assert.deepEqual(labels.sort(), ['ff.hb', 'ff.results.batch']);
  assert.equal(text.split('\n').filter((l) => /w-(junk|ghost)/.test(l)).length, 0, 'a forged id in a label');
});

test('HTTP takes the bearer scheme in any case', async () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const r = await httpGet(cluster.httpPort, '/findings/c-00000000-000000000000/repro?format=json', TOKEN, scheme);
    assert.equal(r.status, 404, `${scheme}: ${r.body}`);
  }
  assert.equal((await httpGet(cluster.httpPort, '/findings/c-00000000-000000000000/repro', 'wrong', 'bearer')).status, 401);
});

test('/readyz says ready only once gRPC takes calls', async () => {
  // Twice, polling from many clients at once as probes might: the first "ready" may not come before gRPC listens.
  for (let round = 0; round < 2; round++) {
    await cluster.coordinator!.stop();
    const start = cluster.startCoordinator();
    let firstReady = 0;
    let listening: boolean | undefined;
    const poll = async (): Promise<void> => {
      while (firstReady === 0) {
        const r = await httpGet(cluster.httpPort, '/readyz').catch(() => ({ status: 0 }));
        if (r.status === 200 && firstReady === 0) {
          firstReady = Date.now();
          listening = await portOpen(cluster.grpcPort);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, poll));
    await start;
    const listened = Number(cluster.coordinator!.records('grpc listening')[0]?.['time']);
    assert.ok(firstReady >= listened, `round ${round}: ready at ${firstReady}, gRPC listening at ${listened}`);
    assert.equal(listening, true, `round ${round}: ready before gRPC listens`);
  }
});

test('deploy/nats/auth.conf: this nats-server takes it, with the passwords from the environment, and keeps each role to its part', async () => {
  const conf = fileURLToPath(new URL('../../../deploy/nats/auth.conf', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'ff-nats-deploy-'));
  const port = await freePort();
  const env = { ...process.env, FF_NATS_COORDINATOR_PASSWORD: 'c-pass-0123456789', FF_NATS_WORKER_PASSWORD: 'w-pass-0123456789' };
  const server = spawn('nats-server', ['-c', conf, '-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { env, stdio: 'ignore' });
  try {
    const url = `nats://127.0.0.1:${port}`;
    const as = (user: 'coordinator' | 'worker', pass: string): Promise<NatsConnection> =>
      connect({ servers: url, user, pass, inboxPrefix: INBOX_PREFIX[user], maxReconnectAttempts: 0 });
    const c = await waitFor('nats-server up', () => as('coordinator', env.FF_NATS_COORDINATOR_PASSWORD), 20_000, 100);
    await (await c.jetstreamManager()).streams.add({ name: 'FF_TRY', subjects: ['ff.jobs.>'] });
    await assert.rejects(as('worker', env.FF_NATS_COORDINATOR_PASSWORD), (err: Error & { code?: string }) => err.code === 'AUTHORIZATION_VIOLATION');
    await assert.rejects(connect({ servers: url, maxReconnectAttempts: 0 }), (err: Error & { code?: string }) => err.code === 'AUTHORIZATION_VIOLATION');
    const w = await as('worker', env.FF_NATS_WORKER_PASSWORD);
    await forbidden('a worker publishing a job', () => w.jetstream().publish(SUBJECTS.verifyJob, new Uint8Array([1]), { timeout: 3000 }));
    await w.close();
    await c.close();
  } finally {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the deploy Secrets\' placeholders are refused: the token by the coordinator, a NATS password by both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-placeholder-'));
  try {
    const nats = ['--nats', cluster.nats.url];
    const coordinator = ['coordinator', ...nats, '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--store', dir];
    const token = await runCli([...coordinator, '--token', 'replace-me-with-a-random-token']);
    assert.equal(token.code, 2, token.stderr);
    assert.match(token.stderr, /--token: this is a placeholder/);
    for (const sub of [coordinator, ['worker', ...nats]]) {
      const r = await runCli([...sub, '--nats-user', sub[0]!], { FOLIOFUZZ_NATS_PASSWORD: 'replace-me-with-a-random-password' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /the NATS password is a placeholder/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
