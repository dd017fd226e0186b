// Triage: findings deduplicated by signature. Two findings are the same bug
// exactly when their signatures are equal (ARCHITECTURE.md); per signature we
// keep how often and when it was seen and the first program that hit it,
// which is the one the minimizer shrinks.

import type { InvariantKind } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import type { Program } from '../prog/types.js';

export interface FindingRecord {
  signature: string;
  invariant: string;
  kind: InvariantKind;
  message: string;
  count: number;
  firstExec: number;
  firstSec: number;
  lastExec: number;
  lastSec: number;
  firstProgram: Program;
  /** Filled in once minimized. */
  minimized?: { program: Program; opsBefore: number; opsAfter: number };
  /** Where its reproducer is stored. */
  repro?: string;
}

export class Triage {
  private readonly bySig = new Map<string, FindingRecord>();

  get unique(): number {
    return this.bySig.size;
  }

  get records(): FindingRecord[] {
    return [...this.bySig.values()];
  }

  get(signature: string): FindingRecord | undefined {
    return this.bySig.get(signature);
  }

  /** Count a finding; returns its record and whether the signature is new. */
  record(v: RunViolation, program: Program, exec: number, sec: number): { rec: FindingRecord; isNew: boolean } {
    const seen = this.bySig.get(v.signature);
    if (seen) {
      seen.count++;
      seen.lastExec = exec;
      seen.lastSec = sec;
      return { rec: seen, isNew: false };
    }
    const rec: FindingRecord = {
      signature: v.signature, invariant: v.invariant, kind: v.kind, message: v.message,
      count: 1, firstExec: exec, firstSec: sec, lastExec: exec, lastSec: sec, firstProgram: program,
    };
    this.bySig.set(v.signature, rec);
    return { rec, isNew: true };
  }
}
