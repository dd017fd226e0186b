// Kernel campaign batches in a cluster, without NATS: the coordinator's
// dispatch (coordinator/kernel-dispatch.ts) keeps one batch out per worker
// started with --kernel and sends none while no such worker is connected
// (the status says so); a batch whose worker dies or never got it goes to
// another; a result counts once, only from a worker the batch went to, only
// as much as its batch could do (coordinator/results.ts), and its findings
// go into the campaign's pipeline as found. Time is passed in, so nothing sleeps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { type CampaignRecord, CampaignRuntime, type RuntimeEnv } from '../../../coordinator/campaign-runtime.js';
import { ARRIVAL_MS, MAX_SENDS } from '../../../coordinator/confirm-dispatch.js';
import { type ClusterJob, clusterFindingEvents } from '../../../coordinator/findings.js';
import { KernelDispatch, kernelCampaignInfo } from '../../../coordinator/kernel-dispatch.js';
import { CoordinatorMetrics } from '../../../coordinator/metrics.js';
import { applyKernelBatchResult } from '../../../coordinator/results.js';
import { WorkerTable } from '../../../coordinator/workers.js';
import type { Heartbeat } from '../../../worker/cluster/wire.js';
import type { KernelBatchResult } from '../../../worker/cluster/wire-kernel.js';
import { checkSignature } from '../../../worker/report/signature.js';
import type { RunViolation } from '../../../worker/report/violation.js';
import { emptyStats } from '../../../worker/twin/kernel-batch.js';
import { tempDirs, writes } from '../fuzz/findings-helpers.js';

const log = pino({ level: 'silent' });
const metrics = new CoordinatorMetrics();
const tempDir = tempDirs('ff-kernel-dispatch-');
const CONFIGS = ['xfs:4096', 'ext4:1024'];
const PROGRAMS = 10;

const V: RunViolation = {
  signature: checkSignature('DATA', 'pread:mismatch', 'ksys_pread64'), invariant: 'pread:mismatch', kind: 'DATA', message: 'm', stacks: [], traceTail: [], step: 0,
};

function hb(workerId: string, kernelCampaign: boolean, kernelBatches: string[] = []): Heartbeat {
  return {
    workerId, host: 'h', pid: 1, procs: 1, busy: 0, campaigns: [], execs: 0, uptimeSec: 1, running: [], kernelConfirm: false, confirming: [], kernelCampaign, kernelBatches,
  };
}

function setup(): { c: CampaignRuntime; workers: WorkerTable; d: KernelDispatch; jobs: ClusterJob[] } {
  const jobs: ClusterJob[] = [];
  const env: RuntimeEnv = { boot: 'aaaaaa', execsPersisted: () => undefined, findingEvents: (c) => clusterFindingEvents(c, { metrics, log, publishJob: (j) => jobs.push(j) }) };
  const rec: CampaignRecord = {
    id: 'c-12345678', name: 'unit', bugs: [], seed: 7, state: 'running', createdAt: '2025-01-01T00:00:00.000Z', elapsedSec: 3, execs: 0, timeouts: 0,
    harnessErrors: 0, redelivered: 0, batchSeq: 0, jobSeq: 0, outstanding: {}, kernelConfigs: CONFIGS, kernelBatches: {}, kernelStats: [],
  };
  const c = CampaignRuntime.create(tempDir(), rec, env);
  const workers = new WorkerTable();
  return { c, workers, d: new KernelDispatch(new Map([[c.id, c]]), workers, log, PROGRAMS), jobs };
}

function result(batchId: string, workerId: string, config: string, over: Partial<KernelBatchResult> = {}): KernelBatchResult {
  return { workerId, campaignId: 'c-12345678', batchId, stats: { ...emptyStats(config), programs: PROGRAMS, kernelSec: 2, simSec: 1 }, findings: [], ms: 5, ...over };
}

test('no batch goes out while no worker started with --kernel is connected, and the status says so', () => {
  const { c, workers, d } = setup();
  workers.heartbeat(hb('w-plain', false), 0);
  assert.deepEqual(d.plan(1), []);
  assert.equal(kernelCampaignInfo(c, 0)?.status, 'kernel campaign: waiting for a worker started with --kernel');
  assert.deepEqual(kernelCampaignInfo(c, 0)?.configs.map((f) => [f.config, f.programs]), [['xfs:4096', 0], ['ext4:1024', 0]]);
});

test('one batch per capable worker, configs in turn; sent again to another when its worker dies or never lists it', () => {
  const { c, workers, d } = setup();
  workers.heartbeat(hb('w-a', true), 0);
  workers.heartbeat(hb('w-b', true), 0);
  workers.heartbeat(hb('w-plain', false), 0);
  const sends = d.plan(1);
  assert.deepEqual(sends.map((s) => [s.workerId, s.batch.config, s.batch.programs]), [['w-a', 'xfs:4096', PROGRAMS], ['w-b', 'ext4:1024', PROGRAMS]]);
  assert.notEqual(sends[0]!.batch.seed, sends[1]!.batch.seed);
  assert.deepEqual(Object.values(c.rec.kernelBatches!).map((b) => b.sentTo), [['w-a'], ['w-b']], 'written down before sent');
  // w-a lists its batch; w-b's never arrived; past ARRIVAL_MS it goes to w-a too (the only other capable worker).
  const [a, b] = sends.map((s) => s.batch.batchId);
  workers.heartbeat(hb('w-a', true, [a!]), ARRIVAL_MS);
  workers.heartbeat(hb('w-b', true, []), ARRIVAL_MS);
  assert.deepEqual(d.plan(ARRIVAL_MS - 1), []);
  const again = d.plan(ARRIVAL_MS + 2);
  assert.deepEqual(again.map((s) => [s.workerId, s.batch.batchId]), [['w-b', b]], 'the least loaded capable worker: w-b again');
  // w-a dies: its batch goes to w-b.
  workers.heartbeat(hb('w-b', true, [b!]), ARRIVAL_MS + 5_000);
  const later = d.plan(ARRIVAL_MS + 6_000);
  assert.deepEqual(later.map((s) => [s.workerId, s.batch.batchId]), [['w-b', a]]);
});

test('a batch result counts once, from a worker it went to, within its batch; findings go into the pipeline as found', () => {
  const { c, workers, d } = setup();
  workers.heartbeat(hb('w-a', true), 0);
  const [s] = d.plan(1);
  const id = s!.batch.batchId;
  const config = s!.batch.config;
  const program = { ...writes(2), config: { ...writes(2).config, fs: 'xfs' as const, inode: 'extent' as const, blockSize: 4096 } };
  const found = { violation: V, program, at: 3, repeats: 1 };
  const stats = { ...emptyStats(config), programs: PROGRAMS, kernelSec: 2, simSec: 1, kernelViolations: 2, explained: 1 };
  assert.deepEqual(applyKernelBatchResult(c, result(id, 'w-b', config)), { verdict: 'refused', why: `kernel batch ${id} was not sent to worker w-b` });
  assert.equal(applyKernelBatchResult(c, result(id, 'w-a', 'ext4:1024')).verdict, 'refused');
  assert.equal(applyKernelBatchResult(c, result(id, 'w-a', config, { stats: { ...stats, programs: PROGRAMS + 1 } })).verdict, 'refused');
  assert.match(String((applyKernelBatchResult(c, result(id, 'w-a', config, { stats })) as { why: string }).why), /0 findings, but 2 divergences and violations counted/);
  const onExt4 = { ...found, program: { ...program, config: { ...program.config, fs: 'ext4' as const, blockSize: 1024 } } };
  assert.match(String((applyKernelBatchResult(c, result(id, 'w-a', config, { stats, findings: [onExt4] })) as { why: string }).why), /not on xfs:4096/);
  assert.deepEqual(applyKernelBatchResult(c, result(id, 'w-a', config, { stats, findings: [found] })), { verdict: 'applied' });
  assert.equal(applyKernelBatchResult(c, result(id, 'w-a', config, { stats, findings: [found] })).verdict, 'ignored', 'once');
  assert.equal(c.rec.execs, PROGRAMS);
  const f = c.findings.reported();
  assert.deepEqual(f.map((x) => [x.record.signature, x.record.count, x.record.firstExec]), [[V.signature, 2, 3]], 'reported as found, no cross-check');
  const info = kernelCampaignInfo(c, 1)!;
  assert.deepEqual(info.configs[0], {
    config: 'xfs:4096', programs: PROGRAMS, programsPerSec: 5, divergences: 0, divergencesPerMillion: 0, kernelViolations: 2, explained: 1,
  });
  assert.equal(info.status, 'kernel campaign: 0 batches out on 1 worker started with --kernel');
});

test('a stopped campaign sends no more batches; a batch no worker took in MAX_SENDS sends is given up', () => {
  const { c, workers, d } = setup();
  let t = 0;
  workers.heartbeat(hb('w-a', true), t);
  const [first] = d.plan(++t);
  for (let i = 1; i < MAX_SENDS; i++) {
    t += ARRIVAL_MS + 1;
    workers.heartbeat(hb('w-a', true), t);
    assert.deepEqual(d.plan(t).map((s) => s.batch.batchId), [first!.batch.batchId]);
  }
  t += ARRIVAL_MS + 1;
  workers.heartbeat(hb('w-a', true), t);
  const next = d.plan(t);
  assert.equal(c.rec.kernelBatches![first!.batch.batchId], undefined, 'given up');
  assert.equal(next.length, 1, 'a new batch in its place');
  c.rec.state = 'stopped';
  t += ARRIVAL_MS + 1;
  workers.heartbeat(hb('w-a', true), t);
  assert.deepEqual(d.plan(t), []);
  assert.deepEqual(c.rec.kernelBatches, {}, 'the stopped campaign\'s unheld batch dropped');
});
