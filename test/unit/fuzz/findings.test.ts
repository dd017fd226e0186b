// The finding pipeline (worker/fuzz/findings/) as a state machine, without a
// transport: hits and job outcomes go in, jobs and events come out, and the
// store holds what a restart needs. The cluster's policy (cross-check on
// another worker) and the embedded one (none) both; and the store formats
// written before the two campaign kinds shared one record still load.

import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Store } from '../../../corpus/store.js';
import { type FindingJob, FindingPipeline, type MinimizeOutcome, type VerifyOutcome } from '../../../worker/fuzz/findings/pipeline.js';
import { type CrossCheck, mayCrossCheck } from '../../../worker/fuzz/findings/policy.js';
import type { FindingRecord } from '../../../worker/fuzz/findings/record.js';
import type { Program } from '../../../worker/prog/types.js';
import type { KernelVerdict } from '../../../worker/report/kernel-verdict.js';
import { checkSignature, findingId } from '../../../worker/report/signature.js';
import type { RunViolation } from '../../../worker/report/violation.js';
import { parseRepro } from '../../../worker/repro/repro.js';
import type { BugName } from '../../../worker/sim/bugs.js';
import { FINDING_FIXTURES, tempDirs, writes as program } from './findings-helpers.js';

const tempDir = tempDirs('ff-findings-');

function violation(invariant: string, site = 'ifs_free'): RunViolation {
  return { signature: checkSignature('WARN', invariant, site), invariant, kind: 'WARN', message: invariant, stacks: [], traceTail: [], step: 0 };
}

const A = violation('ifs_free:uptodate-mismatch');
const B = violation('iomap_writepage_map:beyond-eof', 'iomap_writepage_map');

interface Harness {
  p: FindingPipeline;
  jobs: FindingJob[];
  events: string[];
}

/** A pipeline whose jobs and events are recorded; job ids count up like a coordinator's. */
function harness(crossCheck: CrossCheck, o: { store?: Store; minimize?: boolean; idPrefix?: string; firstJob?: number } = {}): Harness {
  const jobs: FindingJob[] = [];
  const events: string[] = [];
  let seq = o.firstJob ?? 0;
  const p = new FindingPipeline({
    bugs: ['mkwrite-ifs-zeroed'], crossCheck, minimize: o.minimize ?? true, store: o.store ?? null, idPrefix: o.idPrefix ?? 'c-00000001-',
    newJobId: (kind) => `c-00000001-${kind === 'verify' ? 'v' : 'm'}.${++seq}`,
    events: {
      issue: (job) => jobs.push(job),
      newSignature: (f) => events.push(`new ${f.record.signature}`),
      reported: (f) => events.push(`reported ${f.record.signature}`),
      notReproduced: (f, v) => events.push(`not reproduced ${f.record.signature} on ${v.workerId}`),
      minimized: (f, m) => events.push(`minimized ${f.record.signature}${m.program ? '' : ' (failed)'}`),
      unreadable: (_f, why) => events.push(`unreadable ${why}`),
    },
  });
  return { p, jobs, events };
}

function verifyOf(job: FindingJob | undefined, workerId: string, reproduced = true): VerifyOutcome {
  assert.ok(job && job.kind === 'verify', `a verify job, got ${JSON.stringify(job)}`);
  return { jobId: job.jobId, signature: job.signature, workerId, reproduced, observed: reproduced ? job.signature : '' };
}

function minimizedOf(job: FindingJob | undefined, workerId: string, result: Program | null, slipped: MinimizeOutcome['slipped'] = []): MinimizeOutcome {
  assert.ok(job && job.kind === 'minimize', `a minimize job, got ${JSON.stringify(job)}`);
  return {
    jobId: job.jobId, signature: job.signature, workerId, program: result, opsBefore: 3, opsAfter: result ? 1 : 3, ms: 12,
    slipped, ...(result ? {} : { error: 'the minimizer threw' }),
  };
}

function record(p: FindingPipeline, v: RunViolation): FindingRecord {
  const f = p.get(v.signature);
  assert.ok(f, `a finding for ${v.signature}`);
  return f.record;
}

describe('cross-checked on another worker (the cluster)', () => {
  test('new signature -> verify on another worker -> reported -> minimize -> minimized reproducer stored', () => {
    const dir = tempDir();
    const { p, jobs, events } = harness('another-worker', { store: new Store(dir) });
    const first = program(3);
    p.found({ violation: A, program: first }, { exec: 10, sec: 1.4 }, 'w1');
    assert.deepEqual(jobs, [{ kind: 'verify', jobId: 'c-00000001-v.1', signature: A.signature, program: first, finderWorkerId: 'w1' }]);
    assert.equal(record(p, A).verified, false);
    assert.deepEqual(p.reported(), [], 'not reported before the cross-check');
    const fdir = join(dir, 'findings', findingId(A.signature));
    // Nothing is lost while the cross-check runs: the first program and a reproducer are stored at once.
    assert.equal(parseRepro(readFileSync(join(fdir, 'repro.json'), 'utf8'), 'repro').minimized, undefined);
    assert.deepEqual(JSON.parse(readFileSync(join(fdir, 'verify.json'), 'utf8')), { program: first, finderWorkerId: 'w1' });

    assert.equal(p.verified(verifyOf(jobs[0], 'w2')), true);
    const r = record(p, A);
    assert.equal(r.verified, true);
    assert.equal(r.verifiedBy, 'w2');
    assert.equal(r.verifyAttempts, 1);
    assert.equal(r.verifyJob, undefined);
    assert.deepEqual(jobs[1], { kind: 'minimize', jobId: 'c-00000001-m.2', signature: A.signature, program: first, maxRuns: 10_000, deadlineMs: 60_000 });
    assert.deepEqual(p.reported().map((f) => f.record.id), [`c-00000001-${findingId(A.signature)}`]);
    assert.equal(p.minimizing, 1);

    const small = program(1, 9);
    assert.equal(p.minimized(minimizedOf(jobs[1], 'w3', small), { exec: 50, sec: 3 }), true);
    assert.equal(p.minimizing, 0);
    assert.deepEqual([r.minimized, r.opsBefore, r.opsAfter, r.minimizeJob], [true, 3, 1, undefined]);
    const repro = parseRepro(readFileSync(join(fdir, 'repro.json'), 'utf8'), 'repro');
    assert.deepEqual(repro.program, small);
    assert.equal(repro.signature, A.signature);
    assert.deepEqual(repro.bugs, ['mkwrite-ifs-zeroed']);
    assert.deepEqual(repro.minimized, { opsBefore: 3, opsAfter: 1 });
    assert.deepEqual(repro.foundAt, { exec: 10, sec: 1 });
    assert.equal(r.repro, join(fdir, 'repro.json'));
    assert.deepEqual(JSON.parse(readFileSync(join(fdir, 'finding.json'), 'utf8')), r);
    assert.deepEqual(events, [`new ${A.signature}`, `reported ${A.signature}`, `minimized ${A.signature}`]);
  });

  test('the finder hands its own verify back; a signature not seen again is checked again when found again', () => {
    const { p, jobs, events } = harness('another-worker');
    p.found({ violation: A, program: program(3) }, { exec: 1, sec: 0 }, 'w1');
    const job = jobs[0]!;
    assert.ok(job.kind === 'verify');
    assert.equal(mayCrossCheck(job, 'w1'), false, 'the finder hands it back');
    assert.equal(mayCrossCheck(job, 'w2'), true);
    // Had the finder run it anyway, its replay is no cross-check.
    assert.equal(p.verified(verifyOf(job, 'w1')), true);
    assert.equal(record(p, A).verified, false);
    assert.equal(record(p, A).verifyJob, undefined);
    // Found again by another worker: a new cross-check, of that program, that worker the finder.
    const second = program(4, 2);
    p.found({ violation: A, program: second }, { exec: 7, sec: 1 }, 'w2');
    assert.deepEqual(jobs[1], { kind: 'verify', jobId: 'c-00000001-v.2', signature: A.signature, program: second, finderWorkerId: 'w2' });
    assert.equal(p.verified(verifyOf(jobs[1], 'w3', false)), true);
    assert.equal(record(p, A).verified, false);
    const third = program(2, 3);
    p.found({ violation: A, program: third }, { exec: 9, sec: 2 }, 'w3');
    assert.equal(p.verified(verifyOf(jobs[2], 'w1')), true);
    const r = record(p, A);
    assert.deepEqual([r.verified, r.verifiedBy, r.verifyAttempts, r.finderWorkerId, r.count], [true, 'w1', 3, 'w3', 3]);
    // The program that reproduced is the one minimized.
    assert.ok(jobs[3]?.kind === 'minimize');
    assert.deepEqual(jobs[3].program, third);
    assert.deepEqual(events.filter((e) => e.startsWith('not reproduced')), [`not reproduced ${A.signature} on w1`, `not reproduced ${A.signature} on w3`]);
  });

  test('a second signature met while minimizing is a finding of its own, cross-checked in turn', () => {
    const { p, jobs } = harness('another-worker');
    p.found({ violation: A, program: program(3) }, { exec: 1, sec: 0 }, 'w1');
    p.verified(verifyOf(jobs[0], 'w2'));
    const other = program(2, 7);
    assert.equal(p.minimized(minimizedOf(jobs[1], 'w3', program(1), [{ violation: B, program: other }]), { exec: 500, sec: 9 }), true);
    const b = record(p, B);
    assert.deepEqual([b.count, b.firstExec, b.firstSec, b.finderWorkerId, b.verified], [1, 500, 9, 'w3', false]);
    assert.deepEqual(jobs[2], { kind: 'verify', jobId: 'c-00000001-v.3', signature: B.signature, program: other, finderWorkerId: 'w3' });
    assert.equal(record(p, A).minimized, true);
    assert.deepEqual(p.all().map((f) => f.record.signature), [A.signature, B.signature]);
  });

  test('counts are never applied twice: an outcome answers its job once, a stale one changes nothing', () => {
    const { p, jobs, events } = harness('another-worker');
    p.found({ violation: A, program: program(3), repeats: 4 }, { exec: 1, sec: 0 }, 'w1');
    assert.equal(record(p, A).count, 5, 'a hit and four repeats');
    const v = verifyOf(jobs[0], 'w2');
    assert.equal(p.verified(v), true);
    assert.equal(p.verified(v), false, 'the same answer again');
    assert.equal(p.verified({ ...v, jobId: 'c-00000001-v.99' }), false, 'an answer to no job out');
    assert.equal(p.verified({ ...v, signature: B.signature }), false, 'an unknown signature');
    assert.equal(record(p, A).verifyAttempts, 1);
    assert.equal(jobs.length, 2, 'one minimization issued');
    const m = minimizedOf(jobs[1], 'w3', program(1), [{ violation: B, program: program(2) }]);
    assert.equal(p.minimized(m, { exec: 5, sec: 1 }), true);
    assert.equal(p.minimized(m, { exec: 6, sec: 1 }), false);
    assert.equal(record(p, B).count, 1, 'the slipped finding counted once');
    assert.equal(events.filter((e) => e.startsWith('minimized')).length, 1);
    assert.equal(events.filter((e) => e.startsWith('reported')).length, 1);
  });

  test('a failed minimization keeps the reproducer; a lost job is given up (minimize) or run again when found again (verify)', () => {
    const dir = tempDir();
    const { p, jobs, events } = harness('another-worker', { store: new Store(dir) });
    p.found({ violation: A, program: program(3) }, { exec: 1, sec: 0 }, 'w1');
    p.verified(verifyOf(jobs[0], 'w2'));
    const before = readFileSync(join(dir, 'findings', findingId(A.signature), 'repro.json'), 'utf8');
    assert.equal(p.minimized(minimizedOf(jobs[1], 'w3', null), { exec: 2, sec: 0 }), true);
    assert.deepEqual([record(p, A).minimized, record(p, A).minimizeError], [false, 'the minimizer threw']);
    assert.equal(readFileSync(join(dir, 'findings', findingId(A.signature), 'repro.json'), 'utf8'), before);
    assert.equal(events.at(-1), `minimized ${A.signature} (failed)`);

    p.found({ violation: B, program: program(2) }, { exec: 3, sec: 0 }, 'w1');
    const vb = jobs[2]!;
    assert.equal(p.jobLost('verify', B.signature, 'c-00000001-v.0'), false, 'not the job out');
    assert.equal(p.jobLost('verify', B.signature, vb.jobId), true);
    assert.equal(record(p, B).verifyJob, undefined);
    p.found({ violation: B, program: program(2) }, { exec: 4, sec: 0 }, 'w2');
    assert.equal(jobs[3]?.kind, 'verify', 'cross-checked again when found again');
    p.verified(verifyOf(jobs[3], 'w1'));
    const minimize = jobs[4];
    assert.ok(minimize?.kind === 'minimize');
    assert.equal(p.jobLost('minimize', B.signature, minimize.jobId), true);
    assert.equal(record(p, B).minimizeError, 'the minimization job was delivered too often without an answer');
    assert.equal(p.minimizing, 0);
  });

  test('a pipeline loaded from its store issues the jobs it had out again, with the same ids and programs', () => {
    const dir = tempDir();
    const before = harness('another-worker', { store: new Store(dir) });
    const a = program(3);
    const b = program(4, 2);
    before.p.found({ violation: A, program: a }, { exec: 1, sec: 0.5 }, 'w1');
    before.p.found({ violation: B, program: b }, { exec: 2, sec: 0.7 }, 'w1');
    before.p.verified(verifyOf(before.jobs[1], 'w2'));
    assert.deepEqual(before.jobs.map((j) => j.jobId), ['c-00000001-v.1', 'c-00000001-v.2', 'c-00000001-m.3']);

    const after = harness('another-worker', { store: new Store(dir), firstJob: 3 });
    const bad: string[] = [];
    after.p.load(bad);
    assert.deepEqual(bad, []);
    // The store's order (by id), not the order first seen.
    const byId = (x: { record: FindingRecord }, y: { record: FindingRecord }): number => x.record.id.localeCompare(y.record.id);
    assert.deepEqual(after.p.all().sort(byId), before.p.all().sort(byId));
    const byJob = (x: FindingJob, y: FindingJob): number => x.jobId.localeCompare(y.jobId);
    assert.deepEqual(after.p.pendingJobs().sort(byJob), [before.jobs[0]!, before.jobs[2]!].sort(byJob));
    assert.equal(after.jobs.length, 0, 'loading issues nothing by itself');
    // The reissued cross-check is answered under its old id.
    assert.equal(after.p.verified(verifyOf(before.jobs[0], 'w3')), true);
    assert.equal(record(after.p, A).verified, true);
    assert.equal(after.jobs[0]?.jobId, 'c-00000001-m.4');
  });
});

describe('without a cross-check (the embedded campaign)', () => {
  test('a new signature is reported at once and its first program minimized; repeats only count', () => {
    const dir = tempDir();
    const { p, jobs, events } = harness('none', { store: new Store(dir), idPrefix: '' });
    const first = program(3);
    p.found({ violation: A, program: first }, { exec: 4, sec: 0.25 }, 'worker-0');
    const r = record(p, A);
    assert.deepEqual([r.id, r.verified, r.verifiedBy, r.count], [findingId(A.signature), true, undefined, 1]);
    assert.deepEqual(jobs, [{ kind: 'minimize', jobId: 'c-00000001-m.1', signature: A.signature, program: first, maxRuns: 10_000, deadlineMs: 60_000 }]);
    assert.deepEqual(events, [`new ${A.signature}`, `reported ${A.signature}`]);
    assert.equal(existsSync(join(dir, 'findings', findingId(A.signature), 'verify.json')), false);
    p.found({ violation: A, program: program(5) }, { exec: 9, sec: 0.5 }, 'worker-1');
    assert.deepEqual([r.count, r.lastExec, r.firstExec, jobs.length], [2, 9, 4, 1]);
  });

  test('the switches the minimization found needed are recorded, and the reproducer carries only those', () => {
    const dir = tempDir();
    const jobs: FindingJob[] = [];
    const opts = {
      bugs: ['fuse-clear-uptodate-ifs', 'mkwrite-ifs-zeroed'] as BugName[], crossCheck: 'none' as const, minimize: true, idPrefix: '',
      newJobId: (kind: string) => `m.${kind}.${jobs.length}`, events: { issue: (job: FindingJob) => jobs.push(job) },
    };
    const p = new FindingPipeline({ ...opts, store: new Store(dir) });
    p.found({ violation: A, program: program(3) }, { exec: 1, sec: 0.1 }, 'worker-0');
    const reproOf = (): string[] => parseRepro(readFileSync(join(dir, 'findings', findingId(A.signature), 'repro.json'), 'utf8'), 'repro.json').bugs;
    assert.deepEqual(reproOf(), ['fuse-clear-uptodate-ifs', 'mkwrite-ifs-zeroed'], 'before minimization: the campaign\'s switches');
    // A switch the campaign did not run with is nobody's to claim.
    const o = { ...minimizedOf(jobs[0], 'worker-1', program(1)), switches: ['mkwrite-ifs-zeroed', 'set-uptodate-during-read'] };
    assert.equal(p.minimized(o, { exec: 2, sec: 0.2 }), true);
    assert.deepEqual(record(p, A).switches, ['mkwrite-ifs-zeroed']);
    assert.deepEqual(reproOf(), ['mkwrite-ifs-zeroed']);
    // Kept in finding.json.
    const again = new FindingPipeline({ ...opts, store: new Store(dir) });
    again.load([]);
    assert.deepEqual(record(again, A).switches, ['mkwrite-ifs-zeroed']);
  });

  test('with minimization off, nothing is issued', () => {
    const { p, jobs } = harness('none', { minimize: false });
    p.found({ violation: A, program: program(3) }, { exec: 4, sec: 0.25 }, 'worker-0');
    assert.deepEqual(jobs, []);
    assert.equal(p.reported().length, 1);
    assert.equal(p.minimizing, 0);
  });
});

describe('stores written before the shared record still load', () => {
  function copy(name: string): string {
    const dir = tempDir();
    cpSync(join(FINDING_FIXTURES, name), dir, { recursive: true });
    return dir;
  }

  test('the embedded store (findings/<sha12>/finding.json of worker/fuzz/campaign.ts)', () => {
    const { p } = harness('none', { store: new Store(copy('embedded')), idPrefix: '' });
    const bad: string[] = [];
    p.load(bad);
    assert.deepEqual(bad, []);
    const byInvariant = new Map(p.all().map((f) => [f.record.invariant, f.record]));
    // Minimized: the ops counts were written once it was.
    assert.deepEqual(byInvariant.get('ifs_free:uptodate-mismatch'), {
      id: '290a8c9ea88e', signature: 'WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range', invariant: 'ifs_free:uptodate-mismatch',
      kind: 'WARN', message: 'ifs_free: uptodate bits disagree with the folio', count: 2918, firstExec: 3, firstSec: 0.412, lastExec: 19990, lastSec: 151.3,
      finderWorkerId: '', verified: true, verifyAttempts: 0, minimized: true, opsBefore: 3, opsAfter: 1,
      repro: 'foliofuzz-store/findings/290a8c9ea88e/repro.json',
    });
    // Not minimized: no ops counts; both are the first program's size.
    const b = byInvariant.get('folio_end_read:already-uptodate')!;
    assert.deepEqual([b.id, b.kind, b.count, b.verified, b.minimized, b.opsBefore, b.opsAfter], ['2f14cc64b75b', 'BUG', 2449, true, false, 2, 2]);
    assert.deepEqual(p.pendingJobs(), []);
  });

  test('a cluster campaign store (campaigns/<id>/findings/<sha12>/finding.json of the coordinator)', () => {
    const cid = 'c-0a1b2c3d';
    const { p } = harness('another-worker', { store: new Store(join(copy('cluster'), 'campaigns', cid)), idPrefix: `${cid}-` });
    const bad: string[] = [];
    p.load(bad);
    assert.deepEqual(bad, []);
    assert.deepEqual(p.all().map((f) => [f.record.id, f.record.verified, f.record.minimized]), [
      [`${cid}-1ff84f42b151`, false, false], [`${cid}-290a8c9ea88e`, true, false], [`${cid}-2f14cc64b75b`, true, true],
    ]);
    // A version 1 signature (the site with its caller), kept as it was stored.
    const r = record(p, { ...violation('ifs_free:uptodate-mismatch'), signature: 'WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range' });
    assert.deepEqual([r.verifiedBy, r.verifyAttempts, r.finderWorkerId, r.minimizeJob, r.repro], ['w-host-2-0002', 1, 'w-host-1-0001', `${cid}-m0a0b0c.8`, undefined]);
    // The jobs it had out: the cross-check replays verify.json's program, the minimization the program that was cross-checked.
    assert.deepEqual(p.pendingJobs().map((j) => [j.kind, j.jobId, j.program.threads[0]!.ops.length, j.kind === 'verify' ? j.finderWorkerId : '']), [
      ['verify', `${cid}-v0a0b0c.7`, 4, 'w-host-2-0002'], ['minimize', `${cid}-m0a0b0c.8`, 2, ''],
    ]);
  });

  test('an unreadable verify.json is said, and the first program stands in for it', () => {
    const cid = 'c-0a1b2c3d';
    const dir = join(copy('cluster'), 'campaigns', cid);
    writeFileSync(join(dir, 'findings', '1ff84f42b151', 'verify.json'), '{"program": 7');
    const { p, events } = harness('another-worker', { store: new Store(dir), idPrefix: `${cid}-` });
    const bad: string[] = [];
    p.load(bad);
    assert.deepEqual(bad, []);
    assert.equal(events.length, 1);
    assert.match(events[0]!, /^unreadable verify\.json: /);
    const v = p.pendingJobs()[0]!;
    assert.ok(v.kind === 'verify');
    assert.deepEqual([v.program, v.finderWorkerId], [p.get(v.signature)!.firstProgram, 'w-host-1-0001']);
  });

  test('a record that does not read is named and skipped', () => {
    const dir = copy('embedded');
    const id = '2f14cc64b75b';
    const path = join(dir, 'findings', id, 'finding.json');
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')) as object, kind: 'OOPS' }));
    const { p } = harness('none', { store: new Store(dir), idPrefix: '' });
    const bad: string[] = [];
    p.load(bad);
    assert.equal(p.all().length, 1);
    assert.deepEqual(bad, [`findings/${id}: kind: "OOPS" is not valid`]);
  });
});

describe('kernel confirmation (the kernel twin)', () => {
  function confirming(store: Store, firstJob = 0): Harness & { confirmed: string[] } {
    const jobs: FindingJob[] = [];
    const events: string[] = [];
    const confirmed: string[] = [];
    let seq = firstJob;
    const p = new FindingPipeline({
      bugs: ['mkwrite-ifs-zeroed'], crossCheck: 'none', minimize: true, store, kernelConfirmRuns: 25,
      newJobId: (kind) => `${kind}.${++seq}`,
      events: { issue: (job) => jobs.push(job), confirmed: (f, o) => confirmed.push(`${f.record.signature}: ${o.verdict.verdict}`) },
    });
    return { p, jobs, events, confirmed };
  }
  const verdict: KernelVerdict = {
    verdict: 'reproduces', text: 'reproduces 3/25 on Linux 6.18.44 (xfs, 4096-byte blocks): ...', release: '6.18.44',
    fs: 'xfs, 4096-byte blocks', runs: 25, hits: 3, signature: A.signature, detail: '...', log: [], at: '2026-12-07T00:00:00.000Z',
  };

  test('after minimization the minimized reproducer goes to a real kernel; the verdict is kept with the finding, once', () => {
    const dir = tempDir();
    const { p, jobs, confirmed } = confirming(new Store(dir));
    p.found({ violation: A, program: program(3) }, { exec: 1, sec: 0.1 }, 'worker-0');
    const small = program(1);
    p.minimized(minimizedOf(jobs[0], 'worker-0', small), { exec: 2, sec: 0.2 });
    const job = jobs[1];
    assert.ok(job && job.kind === 'confirm', JSON.stringify(job));
    assert.deepEqual(job.program, small, 'the minimized program is confirmed');
    assert.equal(job.runs, 25);
    assert.equal(p.confirming, 1);
    assert.equal(p.confirmed({ jobId: job.jobId, signature: A.signature, verdict }), true);
    assert.equal(p.confirmed({ jobId: job.jobId, signature: A.signature, verdict }), false, 'an answer is applied once');
    assert.deepEqual(confirmed, [`${A.signature}: reproduces`]);
    const stored = JSON.parse(readFileSync(join(dir, 'findings', findingId(A.signature), 'finding.json'), 'utf8')) as FindingRecord;
    assert.deepEqual(stored.kernel, verdict);
    assert.equal(stored.confirmJob, undefined);
  });

  test('a confirmation out when the campaign stopped goes out again after a restart, with the stored reproducer', () => {
    const dir = tempDir();
    const a = confirming(new Store(dir));
    a.p.found({ violation: A, program: program(3) }, { exec: 1, sec: 0.1 }, 'worker-0');
    const small = program(2);
    a.p.minimized(minimizedOf(a.jobs[0], 'worker-0', small), { exec: 2, sec: 0.2 });
    const out = a.jobs[1]!;
    const b = confirming(new Store(dir), 10);
    b.p.load([]);
    const again = b.p.pendingJobs();
    assert.equal(again.length, 1);
    assert.equal(again[0]!.kind, 'confirm');
    assert.equal(again[0]!.jobId, out.jobId);
    assert.deepEqual(again[0]!.program, small);
  });
});
