// The store and export steps of the finding pipeline: a finding's files in
// its campaign's store (corpus/store.ts), one directory per signature:
//
//   finding.json   the record (record.ts)
//   first.json     the first program that hit it
//   verify.json    the program a cross-check replays, and who found it
//   repro.json     the reproducer: the first (or cross-checked) program at
//                  once, the minimized one when it is ready
//
// Each is written as soon as it changes, so a campaign killed at any point
// loses nothing it had reported.

import type { Store } from '../../../corpus/store.js';
import type { Program } from '../../prog/types.js';
import { validateProgram } from '../../prog/validate.js';
import { makeRepro, parseRepro, reproJson } from '../../repro/repro.js';
import type { BugName } from '../../sim/bugs.js';
import { type Finding, type FindingRecord, type VerifyFile, recordFromJson, violationOf } from './record.js';

const VERIFY_FILE = 'verify.json';

export class FindingFiles {
  constructor(private readonly store: Store, private readonly bugs: readonly BugName[]) {}

  /** Write the record (and the first program, once); returns the finding's directory. */
  save(f: Finding): string {
    return this.store.saveFinding(f.record.signature, f.record, f.firstProgram);
  }

  /** Write the reproducer of `program` (with the switches it needs, once known) and point the record at it. */
  saveRepro(r: FindingRecord, program: Program, minimized?: { opsBefore: number; opsAfter: number }): void {
    const repro = makeRepro(program, r.switches ?? this.bugs, violationOf(r), {
      ...(minimized ? { minimized } : {}),
      foundAt: { exec: r.firstExec, sec: Math.round(r.firstSec) },
    });
    r.repro = this.store.saveRepro(r.signature, reproJson(repro));
  }

  saveVerify(signature: string, file: VerifyFile): void {
    this.store.saveFindingFile(signature, VERIFY_FILE, file);
  }

  /** The program being (or last) cross-checked; null when none was stored. Throws when it does not read. */
  readVerify(r: FindingRecord): VerifyFile | null {
    const text = this.store.readFindingFile(r.signature, VERIFY_FILE);
    if (text === null) return null;
    const v = JSON.parse(text) as { program?: unknown; finderWorkerId?: unknown };
    const finder = typeof v.finderWorkerId === 'string' ? v.finderWorkerId : r.finderWorkerId;
    return { program: validateProgram(v.program, VERIFY_FILE), finderWorkerId: finder };
  }

  /** The stored reproducer's program; null when none is stored. Throws when it does not read. */
  readRepro(r: FindingRecord): Program | null {
    const text = this.store.readFindingFile(r.signature, 'repro.json');
    return text === null ? null : parseRepro(text, 'repro.json').program;
  }

  /** Every stored finding; what does not read is named in `bad` (as findings/<id>: why) and skipped. */
  loadAll(idPrefix: string, bad: string[]): Finding[] {
    const out: Finding[] = [];
    for (const id of this.store.findingIds()) {
      try {
        const first = validateProgram(JSON.parse(this.store.readFindingFileById(id, 'first.json') ?? 'null'), `${id}/first.json`);
        const record = recordFromJson(JSON.parse(this.store.readFindingFileById(id, 'finding.json') ?? 'null'), first, idPrefix);
        out.push({ record, firstProgram: first });
      } catch (err) {
        bad.push(`findings/${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return out;
  }
}
