// The finding pipeline: what becomes of a violation a worker reports, the
// same in an embedded campaign and in a cluster campaign. No transport here:
// the caller feeds it hits and job outcomes, and it hands jobs back through
// `events.issue` for the caller to deliver (worker-thread messages, NATS).
//
//   triage       dedup by signature, count the hits (record.ts)
//   cross-check  by the caller's policy: 'another-worker' replays a new
//                signature's program on a worker other than its finder and
//                reports it only if the signature shows again there (else it
//                is checked again when found again); 'none' reports it at once
//   minimize     a reported finding's program, when the caller wants it,
//                under the smallest set of the campaign's switches it needs
//                (found first by replaying it with subsets: the reproducer
//                carries only those); other signatures met on the way are
//                findings of their own
//   store        the record and its programs, as soon as they change (files.ts)
//   export       the reproducer: unminimized at once, minimized when ready
//   confirm      when the caller asks: the reproducer on a real kernel (the
//                kernel twin), its verdict kept with the finding
//
// An outcome is matched to its job by id: one for a job the finding no longer
// waits on (answered already, or lost and issued anew) changes nothing, so a
// result delivered twice is applied once. Pending jobs are in the records, so
// a pipeline loaded from its store issues them again with the same ids.

import type { Store } from '../../../corpus/store.js';
import type { Program } from '../../prog/types.js';
import type { KernelVerdict } from '../../report/kernel-verdict.js';
import type { RunViolation } from '../../report/violation.js';
import type { BugName } from '../../sim/bugs.js';
import { DEFAULT_MAX_RUNS, DEFAULT_MINIMIZE_DEADLINE_MS } from '../minimize-predicate.js';
import { FindingFiles } from './files.js';
import { type CrossCheck, mayCrossCheck } from './policy.js';
import { type Finding, type FoundAt, type VerifyFile, countHits, newFinding } from './record.js';

export type FindingJob =
  | { kind: 'verify'; jobId: string; signature: string; program: Program; finderWorkerId: string }
  | { kind: 'minimize'; jobId: string; signature: string; program: Program; maxRuns: number; deadlineMs: number }
  | { kind: 'confirm'; jobId: string; signature: string; program: Program; runs: number };

export interface Hit {
  violation: RunViolation;
  program: Program;
  /** Further hits of the signature counted with this one, without their programs. */
  repeats?: number;
}

export interface VerifyOutcome {
  jobId: string;
  signature: string;
  workerId: string;
  /** The replay showed the same signature. */
  reproduced: boolean;
  /** What the replay showed ('' when silent). */
  observed: string;
}

export interface MinimizeOutcome {
  jobId: string;
  signature: string;
  workerId: string;
  /** Null when minimization failed (`error` says why): the reproducer stays as it was. */
  program: Program | null;
  opsBefore: number;
  opsAfter: number;
  ms: number;
  error?: string;
  /** Other signatures met on the way. */
  slipped: readonly Hit[];
  /** The smallest set of the campaign's switches the finding needs; absent or null from a worker that does not say (the campaign's stand). */
  switches?: readonly string[] | null;
}

export interface ConfirmOutcome {
  jobId: string;
  signature: string;
  verdict: KernelVerdict;
  /** The cluster worker whose kernel it ran on (unset: this process's). */
  workerId?: string;
}

/** What the pipeline tells its caller. Only `issue` is required: jobs must reach a worker. */
export interface FindingEvents {
  issue(job: FindingJob): void;
  /** A signature seen for the first time (before any cross-check). */
  newSignature?(f: Finding): void;
  /** Reported: cross-checked, or at once without a cross-check. */
  reported?(f: Finding): void;
  /** A cross-check that did not show the signature (or ran on the finder). */
  notReproduced?(f: Finding, o: VerifyOutcome): void;
  /** A minimization answered (`o.program` null: it failed). */
  minimized?(f: Finding, o: MinimizeOutcome): void;
  /** The kernel twin's verdict arrived. */
  confirmed?(f: Finding, o: ConfirmOutcome): void;
  /** A stored file did not read; the pipeline went on with the first program. */
  unreadable?(f: Finding, why: string): void;
}

export interface PipelineOptions {
  bugs: readonly BugName[];
  crossCheck: CrossCheck;
  /** Minimize each reported finding's program. */
  minimize: boolean;
  /** Run each reported finding's reproducer (minimized when minimization is on) on a real kernel, this many times. */
  kernelConfirmRuns?: number;
  maxRuns?: number;
  deadlineMs?: number;
  /** Null: nothing is written (nor read back). */
  store: Store | null;
  /** Prefix of record ids (a cluster campaign's `<id>-`); default none. */
  idPrefix?: string;
  /** A fresh job id, unique across restarts of the caller. */
  newJobId(kind: FindingJob['kind']): string;
  events: FindingEvents;
}

export class FindingPipeline {
  /** By signature: those loaded from the store (in its order), then the others as first seen. */
  private readonly bySig = new Map<string, Finding>();
  private readonly files: FindingFiles | null;

  constructor(private readonly opts: PipelineOptions) {
    this.files = opts.store ? new FindingFiles(opts.store, opts.bugs) : null;
  }

  /** Take the findings stored by an earlier run; `bad` collects what does not read. */
  load(bad: string[]): void {
    for (const f of this.files?.loadAll(this.opts.idPrefix ?? '', bad) ?? []) {
      this.loadVerify(f);
      this.bySig.set(f.record.signature, f);
    }
  }

  get(signature: string): Finding | undefined {
    return this.bySig.get(signature);
  }

  /** Every finding, reported or not. */
  all(): Finding[] {
    return [...this.bySig.values()];
  }

  reported(): Finding[] {
    return this.all().filter((f) => f.record.verified);
  }

  /** Minimization jobs out. */
  get minimizing(): number {
    let n = 0;
    for (const f of this.bySig.values()) if (f.record.minimizeJob) n++;
    return n;
  }

  /** Kernel confirmations out. */
  get confirming(): number {
    let n = 0;
    for (const f of this.bySig.values()) if (f.record.confirmJob) n++;
    return n;
  }

  // ---------------------------------------------------------------------------
  // Events in

  /** Triage a hit found by `finder`. */
  found(hit: Hit, at: FoundAt, finder: string): Finding {
    const hits = 1 + (hit.repeats ?? 0);
    const seen = this.bySig.get(hit.violation.signature);
    if (seen) {
      countHits(seen.record, hits, at);
      // A cross-check that failed before gets another go with this program.
      if (!seen.record.verified && !seen.record.verifyJob) this.crossCheck(seen, hit.program, finder);
      else this.save(seen);
      return seen;
    }
    const f = newFinding(hit.violation, hit.program, at, finder, this.opts.idPrefix ?? '');
    f.record.count = hits;
    this.bySig.set(f.record.signature, f);
    this.opts.events.newSignature?.(f);
    if (this.opts.crossCheck === 'none') {
      this.report(f, hit.program);
    } else {
      // Stored at once, so nothing is lost while the cross-check runs.
      this.files?.saveRepro(f.record, hit.program);
      this.crossCheck(f, hit.program, finder);
    }
    return f;
  }

  /** A cross-check answered; false when it is not the one the finding waits on. */
  verified(o: VerifyOutcome): boolean {
    const f = this.bySig.get(o.signature);
    if (!f || f.record.verifyJob !== o.jobId) return false;
    const r = f.record;
    delete r.verifyJob;
    r.verifyAttempts++;
    if (!o.reproduced || !mayCrossCheck(r, o.workerId)) {
      this.save(f);
      this.opts.events.notReproduced?.(f, o);
      return true;
    }
    this.report(f, this.verifyFile(f).program, o.workerId);
    return true;
  }

  /** A minimization answered at `at` (slipped findings count then); false when not the one waited on. */
  minimized(o: MinimizeOutcome, at: FoundAt): boolean {
    const f = this.bySig.get(o.signature);
    if (!f || f.record.minimizeJob !== o.jobId) return false;
    const r = f.record;
    delete r.minimizeJob;
    for (const s of o.slipped) this.found(s, at, o.workerId);
    const switches = o.switches?.filter((s): s is BugName => this.opts.bugs.includes(s as BugName));
    if (switches) r.switches = switches;
    if (o.program) {
      r.minimized = true;
      r.opsBefore = o.opsBefore;
      r.opsAfter = o.opsAfter;
      this.files?.saveRepro(r, o.program, { opsBefore: o.opsBefore, opsAfter: o.opsAfter });
    } else {
      r.minimizeError = o.error || 'minimization failed';
      // The reproducer stays the program it was, with only the switches it needs.
      if (switches) this.files?.saveRepro(r, this.verifyFile(f).program);
    }
    this.save(f);
    this.opts.events.minimized?.(f, o);
    this.confirm(f, o.program ?? this.verifyFile(f).program);
    return true;
  }

  /** The kernel twin's verdict; false when it is not the one waited on. */
  confirmed(o: ConfirmOutcome): boolean {
    const f = this.bySig.get(o.signature);
    if (!f || f.record.confirmJob !== o.jobId) return false;
    delete f.record.confirmJob;
    f.record.kernel = o.verdict;
    this.save(f);
    this.opts.events.confirmed?.(f, o);
    return true;
  }

  /**
   * A job that will never be answered (its message was dead-lettered): a
   * cross-check runs again when the signature is found again; a minimization
   * is given up, the reproducer stays the cross-checked program.
   */
  jobLost(kind: FindingJob['kind'], signature: string, jobId: string): boolean {
    const f = this.bySig.get(signature);
    if (!f) return false;
    const r = f.record;
    if (kind === 'verify' && r.verifyJob === jobId) delete r.verifyJob;
    else if (kind === 'minimize' && r.minimizeJob === jobId) {
      delete r.minimizeJob;
      r.minimizeError = 'the minimization job was delivered too often without an answer';
    } else if (kind === 'confirm' && r.confirmJob === jobId) delete r.confirmJob;
    else return false;
    this.save(f);
    return true;
  }

  /** The jobs out, as issued (same ids, same programs): after a restart they go out again. */
  pendingJobs(): FindingJob[] {
    const out: FindingJob[] = [];
    for (const f of this.bySig.values()) {
      const r = f.record;
      if (r.verifyJob) {
        const v = this.verifyFile(f);
        out.push({ kind: 'verify', jobId: r.verifyJob, signature: r.signature, program: v.program, finderWorkerId: v.finderWorkerId });
      }
      if (r.minimizeJob) out.push(this.minimizeJob(r.minimizeJob, r.signature, this.verifyFile(f).program));
      if (r.confirmJob) out.push(this.confirmJob(r.confirmJob, r.signature, this.reproProgram(f)));
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Steps

  private crossCheck(f: Finding, program: Program, finder: string): void {
    const r = f.record;
    const jobId = this.opts.newJobId('verify');
    r.verifyJob = jobId;
    r.finderWorkerId = finder;
    f.verify = { program, finderWorkerId: finder };
    this.files?.saveVerify(r.signature, f.verify);
    this.save(f);
    this.opts.events.issue({ kind: 'verify', jobId, signature: r.signature, program, finderWorkerId: finder });
  }

  /** Report a finding whose signature `program` shows (cross-checked by `by`, if it was). */
  private report(f: Finding, program: Program, by?: string): void {
    const r = f.record;
    r.verified = true;
    if (by !== undefined) r.verifiedBy = by;
    this.files?.saveRepro(r, program);
    if (this.opts.minimize) {
      const jobId = this.opts.newJobId('minimize');
      r.minimizeJob = jobId;
      this.save(f);
      this.opts.events.issue(this.minimizeJob(jobId, r.signature, program));
    } else {
      this.save(f);
      this.confirm(f, program);
    }
    // After the minimization is issued: a caller that stops here still has it out.
    this.opts.events.reported?.(f);
  }

  /** Send the reproducer to a real kernel, when the caller asked for that. */
  private confirm(f: Finding, program: Program): void {
    const runs = this.opts.kernelConfirmRuns;
    if (runs === undefined) return;
    const jobId = this.opts.newJobId('confirm');
    f.record.confirmJob = jobId;
    this.save(f);
    this.opts.events.issue(this.confirmJob(jobId, f.record.signature, program));
  }

  private confirmJob(jobId: string, signature: string, program: Program): FindingJob {
    return { kind: 'confirm', jobId, signature, program, runs: this.opts.kernelConfirmRuns ?? 100 };
  }

  /** The stored reproducer's program; the cross-checked one when none reads. */
  private reproProgram(f: Finding): Program {
    try {
      return this.files?.readRepro(f.record) ?? this.verifyFile(f).program;
    } catch {
      return this.verifyFile(f).program;
    }
  }

  private minimizeJob(jobId: string, signature: string, program: Program): FindingJob {
    return {
      kind: 'minimize', jobId, signature, program,
      maxRuns: this.opts.maxRuns ?? DEFAULT_MAX_RUNS, deadlineMs: this.opts.deadlineMs ?? DEFAULT_MINIMIZE_DEADLINE_MS,
    };
  }

  /** The program being (or last) cross-checked; the first program where there is none. */
  private verifyFile(f: Finding): VerifyFile {
    return f.verify ?? { program: f.firstProgram, finderWorkerId: f.record.finderWorkerId };
  }

  /** A stored finding's last cross-checked program; when it does not read, the first program stands in. */
  private loadVerify(f: Finding): void {
    try {
      const v = this.files?.readVerify(f.record);
      if (v) f.verify = v;
    } catch (err) {
      this.opts.events.unreadable?.(f, `verify.json: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private save(f: Finding): void {
    this.files?.save(f);
  }
}
