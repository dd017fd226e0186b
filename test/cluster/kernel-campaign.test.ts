// Kernel campaigns in a cluster, on a real nats-server, this machine's kernel
// (root: loop devices, mount; CI runs as root) and worker processes: a kernel
// campaign with no worker started with --kernel waits, saying so; one comes,
// the batches go to it and to no other worker, and each config's figures
// arrive (gRPC, ctl, the JSON API, the dashboard, the metrics). Bad configs
// are refused where the campaign is created; forged batch results are refused.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CampaignInfo, KernelConfigFigures } from '../../coordinator/api.js';
import { SUBJECTS } from '../../worker/cluster/nats.js';
import { encodeKernelBatchResult } from '../../worker/cluster/wire-kernel.js';
import { emptyStats } from '../../worker/twin/kernel-batch.js';
import { Cluster, type Proc, httpGet, metricValue, waitFor } from './cluster.js';
import { runCli } from './run-cli.js';

const TOKEN = 'kernel-token';
const CONFIGS = ['xfs:4096', 'ext4:1024'];
/** Programs per batch: a batch takes a few seconds on this kernel. */
const PROGRAMS = 6;

let cluster: Cluster;
let ordinary: { id: string; proc: Proc };
let capable: { id: string; proc: Proc };
let campaign: CampaignInfo;

const ctl = (...args: string[]) => runCli(['ctl', '--server', `127.0.0.1:${cluster.grpcPort}`, '--token', TOKEN, ...args]);
const api = async (path: string): Promise<unknown> => JSON.parse((await httpGet(cluster.httpPort, path, TOKEN)).body) as unknown;

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the kernel campaign cluster test needs root: loop devices and mount (CI runs as root)');
  cluster = await Cluster.start({ token: TOKEN, coordinatorArgs: ['--kernel-batch-programs', String(PROGRAMS)] });
  await cluster.startCoordinator();
  ordinary = await cluster.startWorker(1);
});

after(async () => {
  await cluster?.dispose();
});

test('kernel configs are validated where the campaign is created', async () => {
  const bad = await ctl('campaigns', 'create', '--kernel', '--configs', 'xfs:1024,btrfs:4096');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /kernel_configs: 'btrfs:4096': the filesystem is one of xfs, ext4, ext4-indirect, fuse/);
  const size = await ctl('campaigns', 'create', '--kernel', '--configs', 'xfs:512');
  assert.match(size.stderr, /kernel_configs: 'xfs:512': the block size is one of 1024, 2048, 4096/);
  const bugs = await ctl('campaigns', 'create', '--kernel', '--bugs', 'seed');
  assert.match(bugs.stderr, /bugs: a kernel campaign \(kernel_configs\) runs on the real kernel, which has no bug switches/);
  const noKernel = await ctl('campaigns', 'create', '--configs', 'xfs:1024');
  assert.equal(noKernel.code, 2);
  assert.match(noKernel.stderr, /--configs: only with --kernel/);
});

test('a kernel campaign with no worker started with --kernel waits, and says so', async () => {
  const created = await ctl('campaigns', 'create', '--kernel', '--configs', CONFIGS.join(','), '--seed', '5');
  assert.equal(created.code, 0, created.stderr);
  campaign = await cluster.campaign(created.stdout.trim());
  assert.deepEqual(campaign.kernel?.configs.map((k) => k.config), CONFIGS);
  assert.equal(campaign.kernel?.status, 'kernel campaign: waiting for a worker started with --kernel');
  assert.equal(campaign.kernel?.workers, 0);
  const shown = await ctl('campaigns', 'show', campaign.id);
  assert.match(shown.stdout, /^twin +waiting for a worker started with --kernel$/m);
  const page = await httpGet(cluster.httpPort, `/campaigns/${campaign.id}`, TOKEN);
  assert.match(page.body, /kernel campaign: waiting for a worker started with --kernel/);
  // The ordinary worker gets nothing of it: no sim batch, no kernel batch.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await cluster.campaign(campaign.id)).execs, 0);
  assert.equal(cluster.coordinator!.records('kernel batch sent to a worker started with --kernel').length, 0);
});

test('a worker started with --kernel takes the batches; each config\'s figures arrive', async () => {
  capable = await cluster.startWorker(1, ['--kernel']);
  const info = await waitFor('programs on both configs', async () => {
    const c = await cluster.campaign(campaign.id);
    return c.kernel?.configs.every((k) => k.programs >= PROGRAMS) ? c : null;
  }, 40_000);
  await ctl('campaigns', 'stop', campaign.id);
  const k = info.kernel!;
  assert.equal(k.workers, 1);
  assert.match(k.status, /^kernel campaign: \d+ batch(es)? out on 1 worker started with --kernel$/);
  for (const f of k.configs) {
    assert.equal(f.programs % PROGRAMS, 0, `${f.config}: whole batches`);
    assert.ok(f.programsPerSec > 0, `${f.config}: programs per second of kernel time`);
    assert.equal(f.divergencesPerMillion, Math.round((f.divergences * 1e6) / f.programs * 10) / 10);
    assert.ok(f.explained <= f.divergences + f.kernelViolations);
  }
  assert.equal(info.execs, k.configs.reduce((n, f) => n + f.programs, 0), 'execs are the programs compared');
  const sent = cluster.coordinator!.records('kernel batch sent to a worker started with --kernel');
  assert.deepEqual([...new Set(sent.map((r) => r['worker']))], [capable.id], 'sent to the capable worker only');
  assert.equal(ordinary.proc.records('kernel batch received').length, 0);
  const hb = await waitFor('its heartbeat', async () => (await cluster.heartbeats()).find((h) => h.workerId === capable.id));
  assert.equal(hb.kernelCampaign, true);

  // The batch running when it stopped still counts: wait for it, then every view shows the same figures.
  const now = await waitFor('no batch out', async () => {
    const c = await cluster.campaign(campaign.id);
    return c.kernel?.status === 'kernel campaign: stopped' ? c : null;
  }, 30_000);
  const figures = (name: string): KernelConfigFigures => now.kernel!.configs.find((f) => f.config === name)!;
  const shown = await ctl('campaigns', 'show', campaign.id);
  for (const name of CONFIGS) {
    const row = new RegExp(`^${name} +${figures(name).programs} +${figures(name).programsPerSec.toFixed(1)} +${figures(name).divergences} `, 'm');
    assert.match(shown.stdout, row, shown.stdout);
  }
  const viaHttp = (await api(`/api/v1/campaigns/${campaign.id}`)) as CampaignInfo;
  assert.deepEqual(viaHttp.kernel?.configs.map((f) => f.config), CONFIGS);
  const page = await httpGet(cluster.httpPort, `/campaigns/${campaign.id}`, TOKEN);
  assert.match(page.body, /id="kernel-configs"/);
  for (const name of CONFIGS) assert.ok(page.body.includes(`<td>${name}</td>`), `the dashboard lists ${name}`);
  const m = await cluster.metrics();
  for (const name of CONFIGS) {
    assert.equal(metricValue(m, 'fuzz_kernel_programs', { campaign: campaign.id, config: name }), figures(name).programs);
    assert.equal(metricValue(m, 'fuzz_kernel_divergences_per_million', { campaign: campaign.id, config: name }), figures(name).divergencesPerMillion);
    assert.ok(metricValue(m, 'fuzz_kernel_programs_per_second', { campaign: campaign.id, config: name }) > 0);
  }
});

test('a malformed batch result is refused and counts nothing; nor does one for a batch never sent', async () => {
  const before = (await cluster.campaign(campaign.id)).execs;
  const js = (await cluster.connection('worker')).jetstream();
  const stats = { ...emptyStats(CONFIGS[0]!), programs: PROGRAMS, kernelSec: 1, simSec: 1 };
  const forged = encodeKernelBatchResult({ workerId: capable.id, campaignId: campaign.id, batchId: `${campaign.id}-bffffff.999`, stats, findings: [], ms: 10 });
  const malformed = encodeKernelBatchResult({ workerId: capable.id, campaignId: campaign.id, batchId: 'x', stats: { ...stats, programs: 3, sequential: 4 }, findings: [], ms: 1 });
  await js.publish(SUBJECTS.kernelResult, forged, { msgID: 'forged-kernel-1' });
  await js.publish(SUBJECTS.kernelResult, malformed, { msgID: 'forged-kernel-2' });
  await waitFor('the malformed one refused', () => cluster.coordinator!.records('refused a malformed payload')
    .some((r) => String(r['error']) === 'ff.results.kernel: $.stats.sequential: 4 of 3 programs'), 10_000);
  await waitFor('both taken up', () => cluster.resultsSettled(), 10_000);
  assert.equal((await cluster.campaign(campaign.id)).execs, before);
});
