// The coordinator's campaign state without NATS: worker results applied to a
// campaign (coordinator/results.ts) through its finding pipeline, the jobs
// that come out as the workers take them (coordinator/findings.ts), and a
// coordinator restart (a campaign loaded again from its store): the jobs out
// are issued again with the same ids, and no result counts twice, however
// late it comes; a result that claims what its batch cannot have done is refused.

import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { type CampaignRecord, CampaignRuntime, type RuntimeEnv } from '../../../coordinator/campaign-runtime.js';
import { type ClusterJob, clusterFindingEvents, clusterJob } from '../../../coordinator/findings.js';
import { CoordinatorMetrics } from '../../../coordinator/metrics.js';
import {
  type ResultVerdict, type ResultsEnv, applyBatchResult, applyMinimizeResult, applyVerifyResult, forgetDeadWork, impossibleBatchResult,
} from '../../../coordinator/results.js';
import type { BatchResult } from '../../../worker/cluster/wire.js';
import { checkSignature, findingId } from '../../../worker/report/signature.js';
import type { RunViolation } from '../../../worker/report/violation.js';
import { FINDING_FIXTURES, tempDirs, writes as program } from '../fuzz/findings-helpers.js';

const log = pino({ level: 'silent' });
const metrics = new CoordinatorMetrics();
const tempDir = tempDirs('ff-coord-');
const renv: ResultsEnv = { metrics, log, batchWallMs: 3000 };
const APPLIED: ResultVerdict = { verdict: 'applied' };

function verdict(v: ResultVerdict): string {
  return v.verdict;
}

const INV = 'folio_end_read:already-uptodate';
const V: RunViolation = {
  signature: checkSignature('BUG', INV, 'folio_end_read<-iomap_read_folio'), invariant: INV, kind: 'BUG', message: 'm', stacks: [], traceTail: [], step: 0,
};

/** A coordinator's environment as one boot of it: jobs go to `out`. */
function env(boot: string, out: ClusterJob[]): RuntimeEnv {
  return {
    boot, findingEvents: (c) => clusterFindingEvents(c, { metrics, log, publishJob: (j) => out.push(j) }), execsPersisted: () => undefined,
  };
}

function newCampaign(root: string, e: RuntimeEnv): CampaignRuntime {
  const rec: CampaignRecord = {
    id: 'c-12345678', name: 'unit', bugs: ['set-uptodate-during-read'], seed: 1, state: 'running', createdAt: '2025-01-01T00:00:00.000Z',
    elapsedSec: 3, execs: 0, timeouts: 0, harnessErrors: 0, redelivered: 0, batchSeq: 0, jobSeq: 0, outstanding: {},
  };
  return CampaignRuntime.create(root, rec, e);
}

function batch(batchId: string, workerId: string, findings: BatchResult['findings']): BatchResult {
  return {
    workerId, campaignId: 'c-12345678', batchId, execs: 100, timeouts: 1, newInputs: [{ program: program(2, 9), points: [1, 2, 3], newPoints: 3 }],
    findings, harness: [], ms: 1000, delivery: 1,
  };
}

/** A batch of the campaign, out (as the coordinator issues them). */
function issue(c: CampaignRuntime): string {
  const { batchId } = c.nextBatch();
  c.rec.outstanding[batchId] = Date.now();
  return batchId;
}

function reload(root: string, e: RuntimeEnv): CampaignRuntime {
  const bad: string[] = [];
  const c = CampaignRuntime.load(join(root, 'c-12345678'), bad, e);
  assert.deepEqual(bad, []);
  assert.ok(c);
  return c;
}

test('a batch result counts once, across a coordinator restart too; the cross-check it starts goes out again with its id', () => {
  const root = tempDir();
  const out: ClusterJob[] = [];
  const c = newCampaign(root, env('aaaaaa', out));
  const first = program(3);
  const r = batch(issue(c), 'w1', [{ violation: V, program: first, at: 40, repeats: 2 }]);
  assert.equal(r.batchId, 'c-12345678-baaaaaa.1');
  assert.deepEqual(applyBatchResult(c, r, renv), APPLIED);
  assert.equal(verdict(applyBatchResult(c, r, renv)), 'ignored', 'the same result again');
  assert.deepEqual([c.rec.execs, c.rec.timeouts, c.corpus.length], [100, 1, 1]);
  const f = c.findings.get(V.signature)!;
  assert.deepEqual([f.record.count, f.record.firstExec, f.record.firstSec, f.record.id], [3, 40, 3, `c-12345678-${findingId(V.signature)}`]);
  assert.deepEqual(out, [{
    kind: 'verify',
    job: { jobId: 'c-12345678-vaaaaaa.1', campaignId: 'c-12345678', signature: V.signature, bugs: ['set-uptodate-during-read'], program: first, finderWorkerId: 'w1' },
  }]);
  c.persist();

  // The coordinator dies and comes back (another boot tag).
  const again: ClusterJob[] = [];
  const c2 = reload(root, env('bbbbbb', again));
  assert.deepEqual(c2.findings.pendingJobs().map((j) => clusterJob(c2, j)), out, 'the same job, the same id');
  assert.equal(verdict(applyBatchResult(c2, r, renv)), 'ignored', 'redelivered after the restart: not counted again');
  assert.deepEqual([c2.rec.execs, c2.findings.get(V.signature)!.record.count], [100, 3]);

  // The reissued job is answered under its old id; a second answer changes nothing.
  const verify = { jobId: 'c-12345678-vaaaaaa.1', workerId: 'w2', campaignId: 'c-12345678', signature: V.signature, reproduced: true, observed: V.signature };
  assert.deepEqual(applyVerifyResult(c2, verify), APPLIED);
  assert.equal(verdict(applyVerifyResult(c2, verify)), 'ignored');
  assert.equal(c2.reportedCount(), 1);
  assert.equal(again.length, 1);
  const m = again[0]!;
  assert.equal(m.kind, 'minimize');
  assert.equal(m.job.jobId, 'c-12345678-mbbbbbb.2', 'the job sequence goes on from the stored one');
  c2.persist();

  const c3 = reload(root, env('cccccc', []));
  assert.deepEqual(c3.findings.pendingJobs().map((j) => clusterJob(c3, j)), [m]);
  const minimized = {
    jobId: m.job.jobId, workerId: 'w1', campaignId: 'c-12345678', signature: V.signature, program: program(1), opsBefore: 3, opsAfter: 1,
    runs: 10, ms: 50, error: '', slipped: [], switches: null,
  };
  assert.equal(verdict(applyMinimizeResult(c3, { ...minimized, opsAfter: 4 })), 'refused', 'minimized to more ops than it had');
  assert.deepEqual(applyMinimizeResult(c3, minimized), APPLIED);
  assert.equal(verdict(applyMinimizeResult(c3, minimized)), 'ignored');
  c3.persist();
  const c4 = reload(root, env('dddddd', []));
  assert.deepEqual(c4.findings.pendingJobs(), []);
  const info = c4.findingInfo(c4.findings.reported()[0]!.record);
  assert.deepEqual([info.verified, info.minimized, info.opsBefore, info.opsAfter, info.count], [true, true, 3, 1, 3]);
});

test('dead-lettered work is no longer out: its batch slot is freed, its cross-check runs again when found again', () => {
  const root = tempDir();
  const out: ClusterJob[] = [];
  const c = newCampaign(root, env('aaaaaa', out));
  const batchId = issue(c);
  applyBatchResult(c, batch(issue(c), 'w1', [{ violation: V, program: program(3), at: 1, repeats: 0 }]), renv);
  const v = out[0]!;
  assert.equal(v.kind, 'verify');
  forgetDeadWork(c, { kind: 'verify', job: v.job });
  forgetDeadWork(c, {
    kind: 'batch',
    batch: { campaignId: c.id, batchId, bugs: [], seed: 1, execMs: 1, maxExecs: 0, feedback: true, inputs: [], coverage: new Uint8Array(0), timeoutMs: 1 },
  });
  assert.deepEqual(c.rec.outstanding, {});
  assert.deepEqual(c.findings.pendingJobs(), []);
  const lateResult = batch(batchId, 'w1', []);
  assert.equal(verdict(applyBatchResult(c, lateResult, renv)), 'ignored', 'a dead-lettered batch answered after all counts nothing');
  applyBatchResult(c, batch(issue(c), 'w2', [{ violation: V, program: program(4), at: 1, repeats: 0 }]), renv);
  assert.deepEqual(out.map((j) => [j.kind, j.job.jobId]), [['verify', 'c-12345678-vaaaaaa.1'], ['verify', 'c-12345678-vaaaaaa.2']]);
});

test('a campaign stored before the shared finding record loads, and its jobs out go out again', () => {
  const root = tempDir();
  cpSync(join(FINDING_FIXTURES, 'cluster'), root, { recursive: true });
  const bad: string[] = [];
  const c = CampaignRuntime.load(join(root, 'campaigns', 'c-0a1b2c3d'), bad, env('eeeeee', []));
  assert.deepEqual(bad, []);
  assert.ok(c);
  assert.equal(c.reportedCount(), 2);
  assert.deepEqual(c.findings.pendingJobs().map((j) => clusterJob(c, j)).map((j) => [j.kind, j.job.jobId, j.kind === 'confirm' ? [] : j.job.bugs]), [
    ['verify', 'c-0a1b2c3d-v0a0b0c.7', ['mkwrite-ifs-zeroed', 'set-uptodate-during-read']],
    ['minimize', 'c-0a1b2c3d-m0a0b0c.8', ['mkwrite-ifs-zeroed', 'set-uptodate-during-read']],
  ]);
});

test('a result counts only while its batch is out: never twice, however many results came in between', () => {
  const c = newCampaign(tempDir(), env('aaaaaa', []));
  const results = Array.from({ length: 1200 }, () => batch(issue(c), 'w1', []));
  for (const r of results) assert.deepEqual(applyBatchResult(c, r, renv), APPLIED);
  for (const r of results.slice(0, 10)) assert.equal(verdict(applyBatchResult(c, r, renv)), 'ignored');
  assert.equal(c.rec.execs, 1200 * 100);
  assert.equal(verdict(applyBatchResult(c, batch('c-12345678-baaaaaa.99999', 'w1', []), renv)), 'ignored', 'a batch never issued');
  assert.deepEqual(c.rec.outstanding, {});
});

test('a batch result claiming what its batch cannot have done is refused', () => {
  const c = newCampaign(tempDir(), env('aaaaaa', []));
  const f = { violation: V, program: program(3), at: 5, repeats: 0 };
  const cases: [Partial<BatchResult>, RegExp][] = [
    [{ execs: 1e12 }, /execs 1000000000000: a batch of at most 3000 ms runs at most 3000000/],
    [{ execs: 10, timeouts: 11 }, /timeouts 11 > execs 10/],
    [{ execs: 0, timeouts: 0 }, /1 new inputs from 0 execs/],
    [{ execs: 4, newInputs: [], findings: [f] }, /a finding at execution 5 of 4/],
    [{ execs: 9, newInputs: [], findings: [{ ...f, repeats: 9 }] }, /10 findings from 9 execs/],
    [{ delivery: 0 }, /delivery 0/],
  ];
  for (const [over, why] of cases) {
    const r = { ...batch(issue(c), 'w1', []), ...over };
    assert.match(impossibleBatchResult(r, 3000) ?? '', why);
    const v = applyBatchResult(c, r, renv);
    assert.equal(v.verdict, 'refused');
    assert.equal(c.rec.outstanding[r.batchId] !== undefined, true, 'a refused result leaves its batch out');
  }
  assert.equal(c.rec.execs, 0);
  assert.equal(impossibleBatchResult(batch('x', 'w1', [f]), 3000), null);
});
