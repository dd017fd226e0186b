// The NATS payload codec: every message round-trips, and malformed payloads
// are refused with a WireError naming the subject and the field (a kernel
// verdict, too, when it is not one).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateProgram } from '../../worker/fuzz/generate.js';
import { FuzzRng } from '../../worker/fuzz/rng.js';
import { programToProtoObject } from '../../worker/prog/proto-codec.js';
import type { Program } from '../../worker/prog/types.js';
import type { BugName } from '../../worker/sim/bugs.js';
import { COV_MAP_SIZE } from '../../worker/sim/cov.js';
import type { RunViolation } from '../../worker/report/violation.js';
import {
  WireError, bitmapPoints, coverageBitmap, decodeBatchResult, decodeHeartbeat, decodeMinimizeJob,
  decodeMinimizeResult, decodeVerifyJob, decodeVerifyResult, decodeWorkBatch, encodeBatchResult,
  encodeCorpusInput, encodeHeartbeat, encodeMinimizeJob, encodeMinimizeResult, encodeVerifyJob, encodeVerifyResult, encodeWorkBatch,
  encodeWorkBatchEncoded, foldFindings, type WorkBatch,
} from '../../worker/cluster/wire.js';
import { decodeConfirmJob, decodeConfirmResult, encodeConfirmJob, encodeConfirmResult } from '../../worker/cluster/wire-confirm.js';
import { decodeKernelBatch, decodeKernelBatchResult, encodeKernelBatch, encodeKernelBatchResult } from '../../worker/cluster/wire-kernel.js';
import { emptyStats } from '../../worker/twin/kernel-batch.js';
import type { KernelVerdict } from '../../worker/report/kernel-verdict.js';
import protobuf from 'protobufjs';
import { findProtoFile } from '../../worker/prog/proto-codec.js';

const program: Program = generateProgram(new FuzzRng(7));
const violation: RunViolation = { signature: 'BUG x @ y', invariant: 'x', kind: 'BUG', message: 'BUG x @ y: z', stacks: [], traceTail: ['t0 #1 pwrite'], step: 12 };

function batch(over: Partial<WorkBatch> = {}): WorkBatch {
  const seen = new Uint8Array(COV_MAP_SIZE);
  seen[3] = 1;
  seen[65535] = 1;
  return {
    campaignId: 'c-01234567', batchId: 'c-01234567-b1', bugs: ['set-uptodate-during-read'], seed: 42, execMs: 500, maxExecs: 0, feedback: true,
    schedule: 'pct', inputs: [{ program, points: [1, 2, 3] }], coverage: coverageBitmap(seen), timeoutMs: 2000, ...over,
  };
}

test('every payload round-trips', () => {
  const b = decodeWorkBatch(encodeWorkBatch(batch()), 'ff.work.batch.c-01234567');
  assert.equal(b.batchId, 'c-01234567-b1');
  assert.deepEqual(b.bugs, ['set-uptodate-during-read']);
  assert.equal(b.schedule, 'pct');
  assert.deepEqual(b.inputs[0]!.program, program);
  assert.deepEqual(bitmapPoints(b.coverage), [3, 65535]);
  // Inputs encoded once and appended as bytes decode the same.
  const { inputs, ...rest } = batch({ inputs: [{ program, points: [1, 2, 3] }, { program, points: [9] }] });
  assert.deepEqual(decodeWorkBatch(encodeWorkBatchEncoded(rest, inputs.map(encodeCorpusInput)), 's'), decodeWorkBatch(encodeWorkBatch({ ...rest, inputs }), 's'));
  const noSchedule = decodeWorkBatch(encodeWorkBatch({ ...batch(), schedule: undefined as never }), 's');
  assert.equal(noSchedule.schedule, undefined);

  const r = decodeBatchResult(encodeBatchResult({
    workerId: 'w-1', campaignId: 'c-01234567', batchId: 'c-01234567-b1', execs: 123, timeouts: 1,
    newInputs: [{ program, points: [5, 6], newPoints: 2 }], findings: [{ program, violation, at: 7, repeats: 3 }], harness: [{ program, error: 'boom' }], ms: 501.5, delivery: 2,
  }), 'ff.results.batch');
  assert.equal(r.execs, 123);
  assert.equal(r.delivery, 2);
  assert.deepEqual(r.findings[0]!.violation, violation);
  assert.equal(r.findings[0]!.repeats, 3);
  // A signature hit on every execution travels as two programs and a count.
  const folded = foldFindings(Array.from({ length: 50 }, (_, i) => ({ program, violation, at: i + 1 })));
  assert.deepEqual(folded.map((f) => [f.at, f.repeats]), [[1, 0], [2, 48]]);
  assert.deepEqual(r.newInputs[0], { program, points: [5, 6], newPoints: 2 });
  assert.equal(r.harness[0]!.error, 'boom');

  const vj = { jobId: 'c-01234567-v1', campaignId: 'c-01234567', signature: 'BUG x @ y', bugs: [] as BugName[], program, finderWorkerId: 'w-1' };
  assert.deepEqual(decodeVerifyJob(encodeVerifyJob(vj), 's'), vj);
  const vr = { jobId: 'c-01234567-v1', workerId: 'w-2', campaignId: 'c-01234567', signature: 'BUG x @ y', reproduced: true, observed: 'BUG x @ y' };
  assert.deepEqual(decodeVerifyResult(encodeVerifyResult(vr), 's'), vr);
  const mj = { jobId: 'c-01234567-m2', campaignId: 'c-01234567', signature: 'BUG x @ y', bugs: [] as BugName[], program, maxRuns: 100, deadlineMs: 1000 };
  assert.deepEqual(decodeMinimizeJob(encodeMinimizeJob(mj), 's'), mj);
  const mr = decodeMinimizeResult(encodeMinimizeResult({
    jobId: 'c-01234567-m2', workerId: 'w-2', campaignId: 'c-01234567', signature: 'BUG x @ y', program: null, opsBefore: 9, opsAfter: 9, runs: 0, ms: 3,
    error: 'no luck', slipped: [{ program, violation, at: 0 }], switches: ['mkwrite-ifs-zeroed'],
  }), 's');
  assert.equal(mr.program, null);
  assert.deepEqual(mr.switches, ['mkwrite-ifs-zeroed']);
  // A result that says nothing of switches (a worker of an earlier version) is not "needs none".
  const none = { jobId: 'c-01234567-m2', workerId: 'w-2', campaignId: 'c-01234567', signature: 'BUG x @ y', program: null, opsBefore: 9, opsAfter: 9, runs: 0, ms: 3, error: '', slipped: [] };
  assert.equal(decodeMinimizeResult(encodeMinimizeResult({ ...none, switches: null }), 's').switches, null);
  assert.deepEqual(decodeMinimizeResult(encodeMinimizeResult({ ...none, switches: [] }), 's').switches, []);
  assert.equal(mr.error, 'no luck');
  assert.equal(mr.slipped.length, 1);
  const hb = { workerId: 'w-1', host: 'h', pid: 9, procs: 2, busy: 1, campaigns: ['c-01234567'], execs: 5, uptimeSec: 1.5, running: ['c-01234567-b1'], kernelConfirm: true, confirming: ['c-01234567-k1.2'], kernelCampaign: true, kernelBatches: ['c-01234567-q1.3'] };
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat(hb), 's'), hb);
});

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof WireError && pattern.test(err.message));
}

test('malformed payloads are refused naming the subject and the field', () => {
  const S = 'ff.work.batch.c-01234567';
  refused(() => decodeWorkBatch(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]), S), /^ff\.work\.batch\.c-01234567: malformed protobuf WorkBatch/);
  refused(() => decodeWorkBatch(new Uint8Array(0), S), /\$\.campaignId: expected an id/);
  refused(() => decodeWorkBatch(encodeWorkBatch(batch({ bugs: ['nope' as BugName] })), S), /\$\.bugs\[0\]: unknown bug switch "nope"/);
  refused(() => decodeWorkBatch(encodeWorkBatch(batch({ campaignId: 'a b' })), S), /\$\.campaignId/);
  refused(() => decodeWorkBatch(encodeWorkBatch(batch({ execMs: 0 })), S), /\$\.execMs: expected an integer/);
  refused(() => decodeWorkBatch(encodeWorkBatch(batch({ coverage: new Uint8Array(5) })), S), new RegExp(`\\$\\.coverage: expected ${COV_MAP_SIZE / 8} bytes`));
  refused(() => decodeWorkBatch(encodeWorkBatch(batch({ inputs: [{ program, points: [COV_MAP_SIZE] }] })), S), /\$\.inputs\[0\]\.points\[0\]: coverage point/);
  // A program that protobuf carries but validation rejects (no filesystem kind).
  const root = new protobuf.Root().loadSync(findProtoFile(), { keepCase: false });
  const T = root.lookupType('foliofuzz.v1.WorkBatch');
  const obj = programToProtoObject(program);
  const broken = { ...obj, config: { ...(obj['config'] as object), fs: 'FS_KIND_UNSPECIFIED' } };
  const bytes = T.encode(T.fromObject({
    campaignId: 'c-01234567', batchId: 'b1', bugs: [], seed: 1, execMs: 10, timeoutMs: 10, schedule: 'SCHEDULE_STRATEGY_UNSPECIFIED', inputs: [{ program: broken, points: [] }],
  })).finish();
  refused(() => decodeWorkBatch(bytes, S), /\$\.inputs\[0\]\.program: .*fs/);
  // A replay schedule is not a fuzzing strategy.
  refused(() => decodeWorkBatch(encodeWorkBatch(batch({ schedule: 'replay' })), S), /\$\.schedule/);
  refused(() => decodeBatchResult(new Uint8Array(0), 'ff.results.batch'), /ff\.results\.batch: \$\.workerId/);
  refused(() => decodeVerifyJob(new Uint8Array(0), 'ff.jobs.verify'), /\$\.jobId/);
  refused(() => decodeMinimizeJob(encodeMinimizeJob({
    jobId: 'j', campaignId: 'c', signature: 's', bugs: [], program, maxRuns: 0, deadlineMs: 1,
  }), 'ff.jobs.minimize'), /\$\.maxRuns/);
  refused(() => decodeVerifyJob(encodeVerifyJob({ jobId: 'j', campaignId: 'c', signature: 's', bugs: [], program, finderWorkerId: 'w' }).slice(0, -3), 'x'), /x: /);
  refused(() => decodeHeartbeat(encodeHeartbeat({ workerId: 'w', host: '', pid: 1, procs: 0, busy: 0, campaigns: [], execs: 0, uptimeSec: 0, running: [], kernelConfirm: false, confirming: [], kernelCampaign: false, kernelBatches: [] }), 'ff.hb.w'), /\$\.procs/);
});

/** A protobuf varint of any size (protobufjs would truncate to the field's type). */
function varint(n: bigint): number[] {
  const out: number[] = [];
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

test('numbers out of their field\'s range are refused, not read modulo 2^32, in nested messages too', () => {
  const S = 'ff.work.batch.c-01234567.b1';
  const good = encodeWorkBatch(batch());
  // A field repeated on the wire: the last value wins, so appending one overrides it.
  const withSeed = (v: bigint): Uint8Array => new Uint8Array([...good, 0x20, ...varint(v)]);
  assert.equal(decodeWorkBatch(withSeed(2n ** 32n - 1n), S).seed, 2 ** 32 - 1);
  refused(() => decodeWorkBatch(withSeed(2n ** 32n + 5n), S), /malformed protobuf WorkBatch .*seed: 4294967301 is out of range for uint32/);
  // feedback (a bool) as 2.
  refused(() => decodeWorkBatch(new Uint8Array([...good, 0x38, 0x02]), S), /feedback: 2 is not a bool/);
  // A program's fd (uint32, inside inputs[0].program.threads[0].ops[0].pwrite) of 2^32, built by hand.
  const ld = (tag: number, body: readonly number[]): number[] => [tag, ...varint(BigInt(body.length)), ...body];
  const root = new protobuf.Root().loadSync(findProtoFile(), { keepCase: false });
  const P = root.lookupType('foliofuzz.v1.Program');
  const noThreads = [...P.encode(P.fromObject({ ...programToProtoObject(program), threads: [] })).finish()];
  const pwrite = [0x08, ...varint(2n ** 32n), 0x18, 0x01, 0x20, 0x01];
  const prog = [...noThreads, ...ld(0x2a, ld(0x0a, ld(0x0a, pwrite)))];
  const input = new Uint8Array(ld(0x0a, prog));
  const { inputs: _none, ...head } = batch();
  refused(() => decodeWorkBatch(encodeWorkBatchEncoded(head, [input]), S),
    /inputs\[0\]\.program\.threads\[0\]\.ops\[0\]\.pwrite\.fd: 4294967296 is out of range for uint32/);
  refused(() => decodeHeartbeat(new Uint8Array([...encodeHeartbeat({
    workerId: 'w', host: '', pid: 1, procs: 2, busy: 0, campaigns: [], execs: 0, uptimeSec: 0, running: [], kernelConfirm: false, confirming: [], kernelCampaign: false, kernelBatches: [],
  }), 0x20, ...varint(2n ** 32n + 2n)]), 'ff.hb.w'), /procs: 4294967298 is out of range/);
});

const VERDICT: KernelVerdict = {
  verdict: 'reproduces', text: 'reproduces 3/5 on Linux 6.18.44 (ext4, 1024-byte blocks): DATA pread:mismatch @ ksys_pread64: ...',
  release: '6.18.44', fs: 'ext4, 1024-byte blocks', runs: 5, hits: 3, signature: 'DATA pread:mismatch @ ksys_pread64', detail: '...',
  log: ['Page cache invalidation failure on direct I/O.  Possible data corruption due to collision with buffered I/O!', 'File: /mnt/f0 PID: 42 Comm: repro'],
  at: '2026-12-07T00:00:00.000Z',
};

test('kernel confirmation: jobs and verdicts round-trip, unset verdict fields included; a worker of an older version is not capable', () => {
  const job = { jobId: 'c-01234567-kaaaaaa.3', campaignId: 'c-01234567', signature: 'BUG x @ y', program, runs: 100 };
  assert.deepEqual(decodeConfirmJob(encodeConfirmJob(job), 'ff.confirm.w-1'), job);
  const r = { jobId: job.jobId, workerId: 'w-1', campaignId: job.campaignId, signature: job.signature, verdict: VERDICT };
  assert.deepEqual(decodeConfirmResult(encodeConfirmResult(r), 'ff.results.confirm'), r);
  const cannot: KernelVerdict = {
    verdict: 'cannot-run', text: 'cannot run here: needs fault injection (fail_bio)', release: null, fs: null, runs: 0, hits: 0,
    signature: null, detail: 'needs fault injection (fail_bio)', log: [], at: VERDICT.at,
  };
  assert.deepEqual(decodeConfirmResult(encodeConfirmResult({ ...r, verdict: cannot }), 'ff.results.confirm').verdict, cannot, 'null stays null');
  // A heartbeat as a worker of a version before --kernel-confirm encodes it: without the two fields.
  const T = new protobuf.Root().loadSync(findProtoFile(), { keepCase: false }).lookupType('foliofuzz.v1.Heartbeat');
  const old = T.encode(T.fromObject({ workerId: 'w-old', host: 'h', pid: 1, procs: 1, busy: 0, campaigns: [], execs: 0, uptimeSec: 1, running: [] })).finish();
  const hb = decodeHeartbeat(old, 'ff.hb.w-old');
  assert.equal(hb.kernelConfirm, false);
  assert.deepEqual(hb.confirming, []);
  assert.equal(hb.kernelCampaign, false, 'nor of --kernel');
  assert.deepEqual(hb.kernelBatches, []);
});

test('kernel batches: batches and results round-trip; a config, figures or findings that do not hold are refused, naming the field', () => {
  const b = { batchId: 'c-01234567-baaaaaa.3', campaignId: 'c-01234567', seed: 9, programs: 200, config: 'ext4-indirect:2048' };
  assert.deepEqual(decodeKernelBatch(encodeKernelBatch(b), 'ff.kernel.w-1'), b);
  const stats = { ...emptyStats('xfs:1024'), programs: 200, sequential: 100, kernelSec: 3.5, simSec: 1.25, divergences: 2, explained: 1, timing: 1 };
  const r = { workerId: 'w-1', campaignId: b.campaignId, batchId: b.batchId, stats, findings: [{ program, violation, at: 7, repeats: 1 }], ms: 4000 };
  assert.deepEqual(decodeKernelBatchResult(encodeKernelBatchResult(r), 'ff.results.kernel'), r);
  const K = 'ff.kernel.w-1';
  refused(() => decodeKernelBatch(encodeKernelBatch({ ...b, config: 'btrfs:4096' }), K), /^ff\.kernel\.w-1: \$\.config: --configs: 'btrfs:4096': the filesystem is one of/);
  refused(() => decodeKernelBatch(encodeKernelBatch({ ...b, config: 'xfs:1024,ext4:1024' }), K), /\$\.config: expected one config name such as xfs:1024/);
  refused(() => decodeKernelBatch(encodeKernelBatch({ ...b, programs: 0 }), K), /\$\.programs: expected an integer in \[1, 10000\]/);
  const R = 'ff.results.kernel';
  const withStats = (over: object) => encodeKernelBatchResult({ ...r, stats: { ...stats, ...over } });
  refused(() => decodeKernelBatchResult(withStats({ sequential: 201 }), R), /^ff\.results\.kernel: \$\.stats\.sequential: 201 of 200 programs/);
  refused(() => decodeKernelBatchResult(withStats({ divergences: 150, timing: 60 }), R), /\$\.stats: 210 outcomes from 200 programs/);
  refused(() => decodeKernelBatchResult(withStats({ explained: 3 }), R), /\$\.stats\.explained: 3 of 2 findings/);
  refused(() => decodeKernelBatchResult(withStats({ kernelSec: -1 }), R), /\$\.stats\.kernelSec: expected a non-negative number/);
  refused(() => decodeKernelBatchResult(withStats({ config: 'xfs' }), R), /\$\.stats\.config: --configs: 'xfs': the block size is one of/);
});

test('kernel confirmation: a job or a verdict that does not hold is refused, naming the field', () => {
  const S = 'ff.results.confirm';
  const r = (verdict: Partial<KernelVerdict>): Uint8Array => encodeConfirmResult({
    jobId: 'j', workerId: 'w', campaignId: 'c', signature: 's', verdict: { ...VERDICT, ...verdict },
  });
  refused(() => decodeConfirmResult(r({ hits: 6 }), S), /^ff\.results\.confirm: \$\.verdict\.hits: more than its 5 runs/);
  refused(() => decodeConfirmResult(r({ verdict: 'maybe' as KernelVerdict['verdict'] }), S), /\$\.verdict\.verdict: must be one of reproduces\|not-reproduced\|cannot-run/);
  refused(() => decodeConfirmResult(r({ hits: 0 }), S), /\$\.verdict\.hits: 0 for a verdict 'reproduces'/);
  refused(() => decodeConfirmResult(r({ verdict: 'not-reproduced' }), S), /\$\.verdict\.hits: 3 for a verdict 'not-reproduced'/);
  refused(() => decodeConfirmResult(r({ verdict: 'cannot-run', hits: 0, text: 'cannot run here: x' }), S), /\$\.verdict\.runs: 5 for a verdict 'cannot-run'/);
  refused(() => decodeConfirmResult(r({ text: 'not reproduced in 5 runs' }), S), /\$\.verdict\.text: a 'reproduces' verdict's text starts "reproduces "/);
  refused(() => decodeConfirmResult(r({ at: 'yesterday' }), S), /\$\.verdict\.at: not a date/);
  refused(() => decodeConfirmResult(r({ text: 'reproduces ' + 'x'.repeat(70_000) }), S), /\$\.verdict\.text: longer than/);
  refused(() => decodeConfirmResult(encodeConfirmResult({ jobId: 'j', workerId: 'a b', campaignId: 'c', signature: 's', verdict: VERDICT }), S), /\$\.workerId/);
  const C = 'ff.confirm.w-1';
  refused(() => decodeConfirmJob(encodeConfirmJob({ jobId: 'j', campaignId: 'c', signature: 's', program, runs: 0 }), C), /^ff\.confirm\.w-1: \$\.runs: expected an integer in \[1, 1000000\]/);
  refused(() => decodeConfirmJob(new Uint8Array(0), C), /\$\.jobId/);
});
