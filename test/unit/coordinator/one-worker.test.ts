// A cluster with one worker cannot cross-check a finding on another worker.
// Its coordinator waits, then has the finder itself replay the program (a
// job marked for it), reports the finding if the signature shows again, and
// says so; a second worker connected takes the ordinary cross-check at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { type CampaignRecord, CampaignRuntime } from '../../../coordinator/campaign-runtime.js';
import { type ClusterJob, clusterFindingEvents } from '../../../coordinator/findings.js';
import { CoordinatorMetrics } from '../../../coordinator/metrics.js';
import { applyBatchResult, applyVerifyResult } from '../../../coordinator/results.js';
import { crossCheckLabel, finderOf, mayCrossCheck } from '../../../worker/fuzz/findings/policy.js';
import { checkSignature } from '../../../worker/report/signature.js';
import type { RunViolation } from '../../../worker/report/violation.js';
import { tempDirs, writes as program } from '../fuzz/findings-helpers.js';

const log = pino({ level: 'silent' });
const metrics = new CoordinatorMetrics();
const tempDir = tempDirs('ff-one-worker-');

const INV = 'folio_end_read:already-uptodate';
const V: RunViolation = {
  signature: checkSignature('BUG', INV, 'folio_end_read<-iomap_read_folio'), invariant: INV, kind: 'BUG', message: 'm', stacks: [], traceTail: [], step: 0,
};

function campaign(connected: () => string[], out: ClusterJob[]): CampaignRuntime {
  const rec: CampaignRecord = {
    id: 'c-12345678', name: 'unit', bugs: ['set-uptodate-during-read'], seed: 1, state: 'running', createdAt: '2025-01-01T00:00:00.000Z',
    elapsedSec: 3, execs: 0, timeouts: 0, harnessErrors: 0, redelivered: 0, batchSeq: 0, jobSeq: 0, outstanding: {},
  };
  return CampaignRuntime.create(tempDir(), rec, {
    boot: 'aaaaaa', execsPersisted: () => undefined,
    findingEvents: (c) => clusterFindingEvents(c, { metrics, log, publishJob: (j) => out.push(j), connectedWorkers: connected, sameWorkerDelayMs: 20 }),
  });
}

/** A batch out for workerId, whose result finds V (a result counts only for a batch that is out). */
function found(c: CampaignRuntime, workerId: string): void {
  const { batchId } = c.nextBatch();
  c.rec.outstanding[batchId] = Date.now();
  applyBatchResult(c, {
    workerId, campaignId: c.id, batchId, execs: 10, timeouts: 0, newInputs: [],
    findings: [{ violation: V, program: program(2), at: 1, repeats: 0 }], harness: [], ms: 100, delivery: 1,
  }, { metrics, log, batchWallMs: 3000 });
}

test('one worker: the cross-check goes to the finder itself after the delay, and the finding says so', async () => {
  const out: ClusterJob[] = [];
  const c = campaign(() => ['w1'], out);
  found(c, 'w1');
  assert.equal(out.length, 0, 'nothing goes out before the delay');
  await sleep(80);
  assert.equal(out.length, 1);
  const job = out[0]!;
  assert.equal(job.kind, 'verify');
  if (job.kind !== 'verify') return;
  assert.equal(finderOf(job.job.finderWorkerId), 'w1');
  assert.equal(mayCrossCheck(job.job, 'w1'), true, 'the finder may take it');
  assert.deepEqual(applyVerifyResult(c, { jobId: job.job.jobId, workerId: 'w1', campaignId: c.id, signature: V.signature, reproduced: true, observed: V.signature }), { verdict: 'applied' });
  const r = c.findings.get(V.signature)!.record;
  assert.equal(r.verified, true, 'reported');
  assert.match(crossCheckLabel(r), /cross-checked on its finder w1 \(the only worker\)/);
  assert.equal(c.reportedCount(), 1);
});

test('two workers: the cross-check goes out at once, for another worker', () => {
  const out: ClusterJob[] = [];
  const c = campaign(() => ['w1', 'w2'], out);
  found(c, 'w1');
  assert.equal(out.length, 1);
  const job = out[0]!;
  assert.ok(job.kind === 'verify' && job.job.finderWorkerId === 'w1' && !mayCrossCheck(job.job, 'w1') && mayCrossCheck(job.job, 'w2'));
});

test('one worker, then another comes during the delay: the ordinary cross-check goes out', async () => {
  const out: ClusterJob[] = [];
  let connected = ['w1'];
  const c = campaign(() => connected, out);
  found(c, 'w1');
  connected = ['w1', 'w2'];
  await sleep(80);
  assert.equal(out.length, 1);
  const job = out[0]!;
  assert.ok(job.kind === 'verify' && job.job.finderWorkerId === 'w1', 'not marked: another worker checks it');
  assert.deepEqual(applyVerifyResult(c, { jobId: job.job.jobId, workerId: 'w1', campaignId: c.id, signature: V.signature, reproduced: true, observed: V.signature }), { verdict: 'applied' });
  assert.equal(c.findings.get(V.signature)!.record.verified, false, 'the finder\'s own answer to an ordinary cross-check does not count');
});
