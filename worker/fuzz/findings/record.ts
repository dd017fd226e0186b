// A finding's record: what findings/<sha12>/finding.json holds, the same in
// the embedded store and in each cluster campaign's
// (campaigns/<id>/findings/<sha12>/). Programs live beside it (first.json,
// verify.json, repro.json), never in it.
//
// Triage is here too: findings are deduplicated by signature (two findings
// are the same bug exactly when their signatures are equal), and per
// signature the record counts the hits and keeps when it was first and last
// seen. The first program that hit it stays in memory with the record.

import type { Program } from '../../prog/types.js';
import { type InvariantKind, INVARIANT_KINDS, findingId } from '../../report/signature.js';
import { type KernelVerdict, kernelVerdictFromJson } from '../../report/kernel-verdict.js';
import { type BugName, findBug } from '../../sim/bugs.js';
import { type TwinOrigin, twinOriginFromJson } from '../../report/twin-origin.js';
import type { RunViolation } from '../../report/violation.js';
import { programSize } from '../minimize-predicate.js';

export interface FindingRecord {
  /** The sha12 of the signature; in a cluster campaign `<campaign id>-<sha12>`. */
  id: string;
  signature: string;
  invariant: string;
  kind: InvariantKind;
  message: string;
  count: number;
  firstExec: number;
  firstSec: number;
  lastExec: number;
  lastSec: number;
  /** Who found the program being (or last) cross-checked: a cluster worker, an embedded worker thread. */
  finderWorkerId: string;
  /** Reported: cross-checked by another worker, or at once where the campaign does not cross-check. */
  verified: boolean;
  verifiedBy?: string;
  verifyAttempts: number;
  /** A cross-check job out (its program is verify.json). */
  verifyJob?: string;
  minimized: boolean;
  /** A minimization job out. */
  minimizeJob?: string;
  minimizeError?: string;
  opsBefore: number;
  opsAfter: number;
  /** Where its reproducer is stored (unset while none is). */
  repro?: string;
  /** A kernel confirmation job out. */
  confirmJob?: string;
  /** What the kernel twin said of it on a real kernel (unset until it was confirmed). */
  kernel?: KernelVerdict;
  /** The smallest set of the campaign's switches it needs, once its minimization found it (the reproducer carries these). */
  switches?: BugName[];
  /** A kernel campaign's finding: where it came from, and whether the sim shows it. */
  twin?: TwinOrigin;
}

/** The program a cross-check replays, and who found it (verify.json). */
export interface VerifyFile {
  program: Program;
  finderWorkerId: string;
}

/** A finding in memory: its record, the first program that hit it, and the one last cross-checked. */
export interface Finding {
  record: FindingRecord;
  firstProgram: Program;
  /** Unset until a cross-check was issued (and where none is: the embedded campaign). */
  verify?: VerifyFile;
}

/** When a hit happened: the campaign's execution count and seconds. */
export interface FoundAt {
  exec: number;
  sec: number;
}

/** A signature seen for the first time. */
export function newFinding(v: RunViolation, program: Program, at: FoundAt, finder: string, idPrefix: string): Finding {
  const ops = programSize(program);
  const record: FindingRecord = {
    id: idPrefix + findingId(v.signature), signature: v.signature, invariant: v.invariant, kind: v.kind, message: v.message,
    count: 1, firstExec: at.exec, firstSec: at.sec, lastExec: at.exec, lastSec: at.sec,
    finderWorkerId: finder, verified: false, verifyAttempts: 0, minimized: false, opsBefore: ops, opsAfter: ops,
  };
  return { record, firstProgram: program };
}

/** Count `hits` more hits of a known signature, the last of them at `at`. */
export function countHits(r: FindingRecord, hits: number, at: FoundAt): void {
  r.count += hits;
  r.lastExec = at.exec;
  r.lastSec = at.sec;
}

/** The violation a record stands for, as a reproducer names it (stacks and trace are not kept). */
export function violationOf(r: FindingRecord): RunViolation {
  return { signature: r.signature, invariant: r.invariant, kind: r.kind, message: r.message, stacks: [], traceTail: [], step: 0 };
}

// ---------------------------------------------------------------------------
// Loading a stored record, in either format it was written in before the two
// campaign kinds shared it:
//   embedded: id, signature, invariant, kind, message, count, first/last exec
//             and sec, repro, and opsBefore/opsAfter once minimized; every
//             finding was reported at once;
//   cluster:  everything above but repro, with the cross-check and
//             minimization fields always present.

function field<T>(v: Record<string, unknown>, key: string, ok: (x: unknown) => x is T): T {
  const x = v[key];
  if (!ok(x)) throw new Error(`${key}: ${JSON.stringify(x) ?? 'missing'} is not valid`);
  return x;
}

function optional<T>(v: Record<string, unknown>, key: string, ok: (x: unknown) => x is T): T | undefined {
  return v[key] === undefined ? undefined : field(v, key, ok);
}

const isString = (x: unknown): x is string => typeof x === 'string';
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
const isKind = (x: unknown): x is InvariantKind => INVARIANT_KINDS.includes(x as InvariantKind);

/**
 * A stored finding.json read back, checked field by field, with what an
 * older format lacks filled in. The id is derived again from the signature
 * (and the campaign's prefix), not trusted from the file.
 */
export function recordFromJson(value: unknown, firstProgram: Program, idPrefix: string): FindingRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('finding.json: not an object');
  const v = value as Record<string, unknown>;
  const signature = field(v, 'signature', isString);
  const size = programSize(firstProgram);
  const opsAfter = optional(v, 'opsAfter', isCount);
  const r: FindingRecord = {
    id: idPrefix + findingId(signature), signature, invariant: field(v, 'invariant', isString), kind: field(v, 'kind', isKind),
    message: field(v, 'message', isString), count: field(v, 'count', isCount),
    firstExec: field(v, 'firstExec', isCount), firstSec: field(v, 'firstSec', isCount),
    lastExec: field(v, 'lastExec', isCount), lastSec: field(v, 'lastSec', isCount),
    finderWorkerId: optional(v, 'finderWorkerId', isString) ?? '',
    // The embedded format has no cross-check: its findings were all reported.
    verified: optional(v, 'verified', isBool) ?? true,
    verifyAttempts: optional(v, 'verifyAttempts', isCount) ?? 0,
    // The embedded format has ops counts only once minimized.
    minimized: optional(v, 'minimized', isBool) ?? opsAfter !== undefined,
    opsBefore: optional(v, 'opsBefore', isCount) ?? size,
    opsAfter: opsAfter ?? size,
  };
  for (const key of ['verifiedBy', 'verifyJob', 'minimizeJob', 'minimizeError', 'repro', 'confirmJob'] as const) {
    const s = optional(v, key, isString);
    if (s !== undefined) r[key] = s;
  }
  if (v['kernel'] !== undefined) r.kernel = kernelVerdictFromJson(v['kernel'], 'kernel');
  if (v['switches'] !== undefined) r.switches = switchNames(v['switches']);
  if (v['twin'] !== undefined) r.twin = twinOriginFromJson(v['twin'], 'twin');
  return r;
}

function switchNames(v: unknown): BugName[] {
  if (!Array.isArray(v)) throw new Error(`switches: ${JSON.stringify(v)} is not a list`);
  return v.map((s, i) => {
    const b = typeof s === 'string' ? findBug(s) : undefined;
    if (!b) throw new Error(`switches[${i}]: ${JSON.stringify(s)} is not a bug switch`);
    return b.name;
  });
}
