// Kernel confirmation jobs in a cluster, without NATS: the coordinator's
// dispatch (coordinator/confirm-dispatch.ts) sends a finding's confirmation
// only to workers started with --kernel-confirm, waits (and says so) while
// none is connected, sends it again when the worker it went to dies or never
// got it, and gives up with a verdict saying why after MAX_SENDS; a verdict
// counts once, only from a worker the job went to (coordinator/results.ts),
// across a coordinator restart too. Time is passed in, so nothing sleeps.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { type CampaignRecord, CampaignRuntime, type RuntimeEnv } from '../../../coordinator/campaign-runtime.js';
import { ARRIVAL_MS, ConfirmDispatch, MAX_SENDS, kernelConfirmInfo } from '../../../coordinator/confirm-dispatch.js';
import { type ClusterJob, clusterFindingEvents, clusterJob } from '../../../coordinator/findings.js';
import { CoordinatorMetrics } from '../../../coordinator/metrics.js';
import { type ResultsEnv, applyBatchResult, applyConfirmResult, applyMinimizeResult, applyVerifyResult } from '../../../coordinator/results.js';
import { WorkerTable } from '../../../coordinator/workers.js';
import type { Heartbeat } from '../../../worker/cluster/wire.js';
import type { ConfirmJob, ConfirmResult } from '../../../worker/cluster/wire-confirm.js';
import type { KernelVerdict } from '../../../worker/report/kernel-verdict.js';
import { checkSignature } from '../../../worker/report/signature.js';
import type { RunViolation } from '../../../worker/report/violation.js';
import { tempDirs, writes as program } from '../fuzz/findings-helpers.js';

const log = pino({ level: 'silent' });
const metrics = new CoordinatorMetrics();
const tempDir = tempDirs('ff-confirm-dispatch-');
const renv: ResultsEnv = { metrics, log, batchWallMs: 3000 };
const RUNS = 5;

const INV = 'folio_end_read:already-uptodate';
const V: RunViolation = {
  signature: checkSignature('BUG', INV, 'folio_end_read<-iomap_read_folio'), invariant: INV, kind: 'BUG', message: 'm', stacks: [], traceTail: [], step: 0,
};

const VERDICT: KernelVerdict = {
  verdict: 'not-reproduced', text: 'not reproduced in 5 runs on Linux 6.18.44 (xfs, 4096-byte blocks)', release: '6.18.44',
  fs: 'xfs, 4096-byte blocks', runs: RUNS, hits: 0, signature: null, detail: null, log: [], at: '2026-12-07T00:00:00.000Z',
};

function env(out: ClusterJob[], boot = 'aaaaaa'): RuntimeEnv {
  return { boot, execsPersisted: () => undefined, findingEvents: (c) => clusterFindingEvents(c, { metrics, log, publishJob: (j) => out.push(j) }) };
}

/** A campaign asking for kernel confirmation, with one finding reported and minimized: its confirmation job out. */
function confirming(root: string): { c: CampaignRuntime; job: ConfirmJob } {
  const out: ClusterJob[] = [];
  const rec: CampaignRecord = {
    id: 'c-12345678', name: 'unit', bugs: ['set-uptodate-during-read'], seed: 1, state: 'running', createdAt: '2025-01-01T00:00:00.000Z',
    elapsedSec: 3, execs: 0, timeouts: 0, harnessErrors: 0, redelivered: 0, batchSeq: 0, jobSeq: 0, outstanding: {}, kernelConfirmRuns: RUNS,
  };
  const c = CampaignRuntime.create(root, rec, env(out));
  const { batchId } = c.nextBatch();
  c.rec.outstanding[batchId] = Date.now();
  applyBatchResult(c, {
    workerId: 'w1', campaignId: c.id, batchId, execs: 10, timeouts: 0, newInputs: [], findings: [{ violation: V, program: program(3), at: 1, repeats: 0 }],
    harness: [], ms: 100, delivery: 1,
  }, renv);
  const v = out[0]!;
  applyVerifyResult(c, { jobId: v.job.jobId, workerId: 'w2', campaignId: c.id, signature: V.signature, reproduced: true, observed: V.signature });
  const m = out[1]!;
  applyMinimizeResult(c, {
    jobId: m.job.jobId, workerId: 'w2', campaignId: c.id, signature: V.signature, program: program(1), opsBefore: 3, opsAfter: 1, runs: 9, ms: 5, error: '', slipped: [], switches: null,
  });
  const k = out[2]!;
  assert.equal(k.kind, 'confirm');
  return { c, job: k.job as ConfirmJob };
}

function hb(workerId: string, kernelConfirm: boolean, confirming: string[] = []): Heartbeat {
  return { workerId, host: 'h', pid: 1, procs: 1, busy: 0, campaigns: [], execs: 0, uptimeSec: 1, running: [], kernelConfirm, confirming, kernelCampaign: false, kernelBatches: [] };
}

function result(job: ConfirmJob, workerId: string, verdict = VERDICT): ConfirmResult {
  return { jobId: job.jobId, workerId, campaignId: job.campaignId, signature: job.signature, verdict };
}

test('a confirmation goes only to a worker started with --kernel-confirm; the campaign waits while none is connected, and says so', () => {
  const root = tempDir();
  const { c, job } = confirming(root);
  assert.equal(job.jobId, 'c-12345678-kaaaaaa.3');
  assert.deepEqual(job.program, program(1), 'the minimized reproducer');
  assert.equal(job.runs, RUNS);
  const workers = new WorkerTable();
  const d = new ConfirmDispatch(new Map([[c.id, c]]), workers, log);
  d.add(job, 0);
  workers.heartbeat(hb('plain', false), 0);
  assert.deepEqual(d.plan(0), [], 'no capable worker: it waits');
  assert.equal(kernelConfirmInfo(c, 0)?.status, 'kernel confirmation: waiting for a worker started with --kernel-confirm (1 finding waiting); 0 confirmed, 5 runs each');
  workers.heartbeat(hb('kc', true), 1000);
  const sends = d.plan(1000);
  assert.deepEqual(sends.map((s) => [s.workerId, s.job.jobId]), [['kc', job.jobId]]);
  assert.deepEqual(c.rec.confirmSentTo, { [job.jobId]: ['kc'] }, 'written down (then persisted) before it is sent');
  assert.equal(c.dirty, true);
  assert.equal(kernelConfirmInfo(c, 1)?.status, 'kernel confirmation: 1 finding being confirmed on 1 worker started with --kernel-confirm; 0 confirmed, 5 runs each');
  workers.heartbeat(hb('kc', true, [job.jobId]), 1500);
  assert.deepEqual(d.plan(1000 + ARRIVAL_MS + 1), [], 'held by the worker it went to: not sent again');

  assert.deepEqual(applyConfirmResult(c, result(job, 'plain')), { verdict: 'refused', why: `kernel confirmation ${job.jobId} was not sent to worker plain` });
  assert.deepEqual(applyConfirmResult(c, result(job, 'kc', { ...VERDICT, runs: 6 })), { verdict: 'refused', why: 'a verdict of 6 runs; 5 were asked for' });
  assert.deepEqual(applyConfirmResult(c, result(job, 'kc')), { verdict: 'applied' });
  assert.deepEqual(applyConfirmResult(c, result(job, 'kc')), { verdict: 'ignored', why: `kernel confirmation ${job.jobId} is not out` }, 'applied once');
  assert.deepEqual(c.findings.get(V.signature)!.record.kernel, VERDICT);
  assert.deepEqual(c.findingInfo(c.findings.get(V.signature)!.record).kernel, VERDICT);
  assert.deepEqual(c.rec.confirmSentTo, {});
  assert.deepEqual(d.plan(20_000), [], 'answered: forgotten');
  assert.equal(kernelConfirmInfo(c, 1)?.confirmed, 1);
});

test('a dead worker\'s confirmation goes to another; one that never arrived goes again; either worker\'s verdict counts, once', () => {
  const { c, job } = confirming(tempDir());
  const workers = new WorkerTable();
  const d = new ConfirmDispatch(new Map([[c.id, c]]), workers, log);
  d.add(job, 0);
  workers.heartbeat(hb('kc1', true), 0);
  assert.deepEqual(d.plan(0).map((s) => s.workerId), ['kc1']);
  // kc1 lists it, then falls silent; kc2 comes.
  workers.heartbeat(hb('kc1', true, [job.jobId]), 500);
  workers.heartbeat(hb('kc2', true), 6000);
  assert.deepEqual(d.plan(6000).map((s) => s.workerId), ['kc2'], 'kc1 is not connected any more');
  // kc2 never lists it (the message was lost): sent again once ARRIVAL_MS passed.
  workers.heartbeat(hb('kc2', true), 6000 + ARRIVAL_MS);
  assert.deepEqual(d.plan(6000 + ARRIVAL_MS - 1), [], 'not before');
  assert.deepEqual(d.plan(6000 + ARRIVAL_MS + 1).map((s) => s.workerId), ['kc2']);
  assert.deepEqual(c.rec.confirmSentTo?.[job.jobId], ['kc1', 'kc2', 'kc2']);
  // kc1 was only cut off: its verdict comes first and counts; kc2's changes nothing.
  assert.equal(applyConfirmResult(c, result(job, 'kc1')).verdict, 'applied');
  assert.equal(applyConfirmResult(c, result(job, 'kc2')).verdict, 'ignored');
});

test('a restarted coordinator takes the verdict of the worker it sent the job to, and leaves the job there while it holds it', () => {
  const root = tempDir();
  const { c, job } = confirming(root);
  const workers = new WorkerTable();
  const d0 = new ConfirmDispatch(new Map([[c.id, c]]), workers, log);
  d0.add(job, 0);
  workers.heartbeat(hb('kc', true), 0);
  assert.deepEqual(d0.plan(0).map((s) => s.workerId), ['kc']);
  c.persist();

  // The coordinator dies; at start it issues the jobs out again (coordinator.ts, reissuePendingJobs).
  const c2 = CampaignRuntime.load(join(root, 'c-12345678'), [], env([], 'bbbbbb'))!;
  const again = c2.findings.pendingJobs().map((j) => clusterJob(c2, j));
  assert.deepEqual(again, [{ kind: 'confirm', job }], 'the same job, the same id');
  const workers2 = new WorkerTable();
  const d = new ConfirmDispatch(new Map([[c2.id, c2]]), workers2, log);
  d.add(again[0]!.job as ConfirmJob, 100_000);
  workers2.heartbeat(hb('kc', true, [job.jobId]), 100_000);
  workers2.heartbeat(hb('other', true), 100_000);
  assert.deepEqual(d.plan(100_000 + ARRIVAL_MS + 1), [], 'kc still holds it');
  assert.equal(applyConfirmResult(c2, result(job, 'other')).verdict, 'refused');
  assert.equal(applyConfirmResult(c2, result(job, 'kc')).verdict, 'applied');
});

test(`a confirmation sent ${MAX_SENDS} times without a verdict is given up, with a verdict that says so`, () => {
  const { c, job } = confirming(tempDir());
  const workers = new WorkerTable();
  const d = new ConfirmDispatch(new Map([[c.id, c]]), workers, log);
  d.add(job, 0);
  // Each worker it goes to dies on it: a new one comes every time.
  let now = 0;
  for (let i = 0; i < MAX_SENDS; i++) {
    workers.heartbeat(hb(`kc${i}`, true), now);
    assert.deepEqual(d.plan(now).map((s) => s.workerId), [`kc${i}`]);
    now += 6000;
  }
  workers.heartbeat(hb('kc-last', true), now);
  assert.deepEqual(d.plan(now), []);
  const k = c.findings.get(V.signature)!.record.kernel!;
  assert.equal(k.verdict, 'cannot-run');
  assert.match(k.text, /^cannot run here: the kernel confirmation went to 5 workers started with --kernel-confirm \(kc0, kc1, kc2, kc3, kc4\) and none answered/);
  assert.equal(c.findings.confirming, 0);
  assert.deepEqual(c.rec.confirmSentTo, {});
});
