// Kernel confirmation in a cluster, on a real nats-server, this machine's
// kernel (root: loop devices, mount; CI runs as root) and worker processes:
// a campaign that asks for it first waits, saying so everywhere its status
// shows, while no worker started with --kernel-confirm is connected; then
// one comes, the confirmation goes to it and to no other worker, and the
// finding keeps the verdict its kernel gave (gRPC, ctl, the JSON API, the
// metric). Forged and malformed verdicts are refused.

import assert from 'node:assert/strict';
import { release } from 'node:os';
import { after, before, test } from 'node:test';
import type { CampaignInfo, FindingInfo } from '../../coordinator/api.js';
import { SUBJECTS } from '../../worker/cluster/nats.js';
import { encodeConfirmResult } from '../../worker/cluster/wire-confirm.js';
import type { KernelVerdict } from '../../worker/report/kernel-verdict.js';
import { parseRepro } from '../../worker/repro/repro.js';
import { Cluster, type Proc, httpGet, metricValue, waitFor } from './cluster.js';
import { runCli } from './run-cli.js';

const TOKEN = 'confirm-token';
const BUG = 'dio-extend-no-isize-extended';
const RUNS = 5;
/** The data loss the switch puts back (corpus/known/manifest.json): what the kernel is asked about. */
const LOST_STORE = 'DATA lost-write write <- skipped @ iomap_writeback_range';

let cluster: Cluster;
let ordinary: { id: string; proc: Proc };
let campaign: CampaignInfo;
let finding: FindingInfo;
let verdict: KernelVerdict;
let capable: { id: string; proc: Proc; metricsPort: number };

const ctl = (...args: string[]) => runCli(['ctl', '--server', `127.0.0.1:${cluster.grpcPort}`, '--token', TOKEN, ...args]);
const api = async (path: string): Promise<unknown> => JSON.parse((await httpGet(cluster.httpPort, path, TOKEN)).body) as unknown;

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the kernel confirmation cluster test needs root: loop devices and mount (CI runs as root)');
  cluster = await Cluster.start({ token: TOKEN, batchMs: 1000 });
  await cluster.startCoordinator();
  ordinary = await cluster.startWorker(1);
});

after(async () => {
  await cluster?.dispose();
});

test('a campaign asking for kernel confirmation, with no worker that can: its finding waits, and every status says so', async () => {
  // A second ordinary worker, for the cross-check; it leaves once the finding is reported.
  const second = await cluster.startWorker(1);
  const created = await ctl('campaigns', 'create', '--bugs', BUG, '--seed', '3', '--kernel-confirm', String(RUNS));
  assert.equal(created.code, 0, created.stderr);
  campaign = await cluster.campaign(created.stdout.trim());
  assert.equal(campaign.kernelConfirm?.runs, RUNS);
  assert.match(campaign.kernelConfirm?.status ?? '', /^kernel confirmation: no worker started with --kernel-confirm is connected/);
  finding = await waitFor('the lost store found and minimized', async () =>
    (await cluster.findings(campaign.id)).find((f) => f.minimized && f.signature === LOST_STORE), 90_000);
  // No more batches: what is found stays what it is while the verdicts come.
  await ctl('campaigns', 'stop', campaign.id);
  await second.proc.stop();
  const info = await waitFor('the waiting status', async () => {
    const c = await cluster.campaign(campaign.id);
    return c.kernelConfirm?.status.startsWith('kernel confirmation: waiting') ? c : null;
  }, 15_000);
  assert.ok(info.kernelConfirm!.waiting >= 1);
  assert.equal(info.kernelConfirm?.workers, 0);
  // How many wait may grow while another finding's minimization ends.
  const waiting = /kernel confirmation: waiting for a worker started with --kernel-confirm \((\d+) findings? waiting\)/;
  assert.equal(Number(waiting.exec(info.kernelConfirm!.status)?.[1]), info.kernelConfirm!.waiting, info.kernelConfirm!.status);
  const shown = await ctl('campaigns', 'show', campaign.id);
  assert.match(shown.stdout, /^kernel +waiting for a worker started with --kernel-confirm \(\d+ findings? waiting\)/m);
  const viaHttp = (await api(`/api/v1/campaigns/${campaign.id}`)) as CampaignInfo;
  assert.match(viaHttp.kernelConfirm?.status ?? '', waiting);
  assert.equal((await httpGet(cluster.httpPort, `/api/v1/campaigns/${campaign.id}`)).status, 401, 'the JSON API needs the token');
  assert.equal((await httpGet(cluster.httpPort, '/api/v1/campaigns/c-00000000', TOKEN)).status, 404);
  const page = await httpGet(cluster.httpPort, `/campaigns/${campaign.id}`, TOKEN);
  assert.match(page.body, waiting, 'the dashboard campaign page shows the status');
  assert.ok(metricValue(await cluster.metrics(), 'fuzz_kernel_confirm_queue_depth') >= 1);
});

test('a worker started with --kernel-confirm gets the confirmation, no other worker does, and the finding keeps its verdict', async () => {
  capable = await cluster.startWorker(1, ['--kernel-confirm']);
  const all = await waitFor('every kernel verdict', async () => {
    const c = await cluster.campaign(campaign.id);
    return c.kernelConfirm?.waiting === 0 ? cluster.findings(campaign.id) : null;
  }, 60_000);
  const v: KernelVerdict = all.find((f) => f.id === finding.id)!.kernel!;
  verdict = v;
  // Which config the campaign met the bug on is the generator's business; the
  // verdict is this kernel's: 6.18 loses the store on ext4 with blocks smaller
  // than the page, and xfs or ext4 4 KiB keep it (test/twin/confirm.test.ts).
  const { config } = parseRepro((await ctl('repro', 'download', finding.id)).stdout, finding.id).program;
  const lost = config.fs === 'ext4' && config.blockSize < 4096;
  assert.equal(v.verdict, lost ? 'reproduces' : 'not-reproduced', `Linux ${v.release}, ${config.fs}:${config.blockSize}: ${v.text}`);
  for (const f of all) {
    assert.ok(f.kernel, `${f.signature}: a verdict`);
    assert.equal(f.kernel.runs, f.kernel.verdict === 'cannot-run' ? 0 : RUNS, f.kernel.text);
    if (f.kernel.verdict !== 'cannot-run') assert.equal(f.kernel.release, release());
  }
  const sent = cluster.coordinator!.records('kernel confirmation sent to a worker started with --kernel-confirm');
  assert.deepEqual([...new Set(sent.map((r) => r['worker']))], [capable.id], 'sent to the capable worker only');
  const applied = await waitFor('the verdicts logged', () => {
    const recs = cluster.coordinator!.records('kernel verdict');
    return recs.length === all.length ? recs : null;
  }, 5_000);
  assert.deepEqual([...new Set(applied.map((r) => r['worker']))], [capable.id], 'the verdicts came from the capable worker');
  assert.equal(ordinary.proc.records('kernel confirmation received').length, 0, 'the ordinary worker never got one');

  const m = await cluster.metrics();
  for (const kind of ['reproduces', 'not-reproduced', 'cannot-run']) {
    const n = all.filter((f) => f.kernel?.verdict === kind).length;
    assert.equal(metricValue(m, 'fuzz_kernel_verdicts_total', { verdict: kind }) || 0, n, kind);
  }
  assert.equal(metricValue(m, 'fuzz_kernel_confirm_queue_depth'), 0);
  const list = await ctl('findings', 'list', campaign.id);
  assert.match(list.stdout, /KERNEL/);
  assert.ok(list.stdout.includes(`${v.verdict.replace('-', ' ')} ${v.hits}/${RUNS}`), list.stdout);
  const show = await ctl('findings', 'show', finding.id);
  assert.ok(show.stdout.includes(`kernel     ${v.text}`), show.stdout);
  const viaHttp = (await api(`/api/v1/campaigns/${campaign.id}/findings`)) as { findings: FindingInfo[] };
  assert.deepEqual(viaHttp.findings.find((f) => f.id === finding.id)?.kernel, v);
  const json = JSON.parse((await ctl('findings', 'show', finding.id, '--json')).stdout) as FindingInfo;
  assert.deepEqual(json.kernel, v);
  // The bug report a kernel developer downloads (gRPC DownloadRepro) says what the kernel did.
  const report = (await ctl('repro', 'download', finding.id, '--format', 'report')).stdout;
  const on = `Linux ${v.release!} (${v.fs!})`;
  assert.ok(report.includes(v.verdict === 'reproduces'
    ? `\nSeen on ${on}: the reproducer below showed it in ${v.hits} of ${RUNS} runs\n`
    : `\nNot seen on ${on} in ${RUNS} runs of the reproducer below`), report.slice(0, 1500));
  assert.equal((await cluster.campaign(campaign.id)).kernelConfirm?.status,
    `kernel confirmation: 1 worker started with --kernel-confirm connected, no finding waiting; ${all.length} confirmed, ${RUNS} runs each`);
});

test('a verdict that is not a verdict is refused, counted and dead-lettered', async () => {
  const w = await cluster.connection('worker');
  const good: KernelVerdict = {
    verdict: 'not-reproduced', text: 'not reproduced in 5 runs on Linux x (ext4, 1024-byte blocks)', release: 'x', fs: 'ext4, 1024-byte blocks',
    runs: 5, hits: 0, signature: null, detail: null, log: [], at: new Date().toISOString(),
  };
  const forged = (verdict: KernelVerdict): Uint8Array =>
    encodeConfirmResult({ jobId: 'c-00000000-k1.1', workerId: ordinary.id, campaignId: campaign.id, signature: finding.signature, verdict });
  const bad = [
    forged({ ...good, hits: 6 }),
    forged({ ...good, verdict: 'maybe' as KernelVerdict['verdict'] }),
    forged({ ...good, verdict: 'reproduces', text: 'reproduces 0/5 on Linux x' }),
    forged({ ...good, at: 'yesterday' }),
  ];
  const count = async (name: string, labels: Record<string, string>): Promise<number> => metricValue(await cluster.metrics(), name, labels) || 0;
  const refused0 = await count('fuzz_payloads_refused_total', { subject: SUBJECTS.confirmResult });
  const dead0 = await count('fuzz_dead_lettered_total', { stream: 'FF_RESULTS' });
  const js = w.jetstream();
  for (const [i, data] of bad.entries()) await js.publish(SUBJECTS.confirmResult, data, { msgID: `forged-${i}` });
  await waitFor('the forged verdicts refused and dead-lettered', async () =>
    await count('fuzz_payloads_refused_total', { subject: SUBJECTS.confirmResult }) - refused0 === bad.length &&
    await count('fuzz_dead_lettered_total', { stream: 'FF_RESULTS' }) - dead0 === bad.length, 15_000);
  const whys = [/\$\.verdict\.hits: more than its 5 runs/, /\$\.verdict\.verdict: must be one of/, /\$\.verdict\.hits: 0 for a verdict 'reproduces'/, /\$\.verdict\.at: not a date/];
  await waitFor('each refusal logged with its field', () => {
    const refusals = cluster.coordinator!.records('refused a malformed payload').map((r) => String(r['error'])).join('\n');
    return whys.every((why) => why.test(refusals));
  }, 5_000);
  assert.deepEqual((await cluster.findings(campaign.id)).find((f) => f.id === finding.id)?.kernel, verdict, 'the verdict stands');
});

test('a worker started with --kernel-confirm says so in its heartbeats, and refuses a malformed job sent to it', async () => {
  const hbs = await waitFor('both heartbeats', async () => {
    const all = await cluster.heartbeats();
    const pick = (id: string) => all.find((h) => h.workerId === id);
    return pick(capable.id) && pick(ordinary.id) ? [pick(capable.id)!, pick(ordinary.id)!] : null;
  }, 5_000);
  assert.deepEqual(hbs.map((h) => h.kernelConfirm), [true, false]);
  const c = await cluster.connection('coordinator');
  c.publish(SUBJECTS.confirmJob(capable.id), new Uint8Array([0x28, 0x00]));
  await c.flush();
  const rec = await waitFor('the refusal', () => capable.proc.records('refused a malformed payload')[0], 10_000);
  assert.ok(String(rec['error']).startsWith(`ff.confirm.${capable.id}: $.jobId`), String(rec['error']));
  const m = (await httpGet(capable.metricsPort, '/metrics')).body;
  assert.equal(metricValue(m, 'fuzz_payloads_refused_total', { subject: 'ff.confirm' }), 1);
});
