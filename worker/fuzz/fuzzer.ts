// One fuzzing loop: pick a program (fresh, or a mutant of a corpus program),
// run it, and report what it found: new coverage, a kernel finding, a harness
// error. It is the same loop in an embedded campaign's worker threads and in
// a cluster worker process; whoever drives it shares corpus entries between
// loops with addInput().

import type { RunViolation } from '../report/violation.js';
import type { Program, ScheduleStrategy } from '../prog/types.js';
import type { BugSet } from '../sim/bugs.js';
import { covMap } from '../sim/cov.js';
import { Corpus } from './corpus.js';
import { CoverageSet } from './coverage.js';
import { DEFAULT_TIMEOUT_MS, executeProgram } from './executor.js';
import { generateProgram } from './generate.js';
import { mutateProgram, reschedule } from './mutate.js';
import { NO_SCENES, WITH_SCENES } from './op-gen.js';
import { FuzzRng } from './rng.js';

export interface FuzzerOptions {
  seed: number;
  bugs: BugSet;
  /** Keep programs that reach new coverage and mutate them (off: a blind generator, the baseline). */
  feedback: boolean;
  /** Force every multi-threaded program onto this strategy (the baseline uses `random`). */
  schedule?: ScheduleStrategy;
  /** Generate with the scenes (default); false: the op mix alone (`--no-scenes`). */
  scenes?: boolean;
  /** Alias coverage (sim/alias.ts) in the feedback (default true). */
  aliasCoverage?: boolean;
  timeoutMs?: number;
}

export type ExecReport =
  | { kind: 'ok' }
  | { kind: 'new-coverage'; program: Program; points: number[]; newPoints: number }
  | { kind: 'finding'; program: Program; violation: RunViolation }
  | { kind: 'harness'; program: Program; error: string }
  | { kind: 'timeout'; program: Program };

/**
 * Of every so many programs, one is a mutant of a corpus program; the rest
 * are freshly generated. The generator's scenes carry the race ingredients
 * that mutants lose (npm run bench -- fuzz, time to find
 * ext4-dio-fallback-no-drain): with one in 10 fresh, 52.6 s median over 5
 * trials; one in 3, 18.6 s; one in 2, 14.2 s, and on foliofuzz-sim/5 9/10
 * found, 60.4 s over 10; three in 4 fresh (this), 10/10, 21.4 s, with
 * iomap-no-validity-check (10.6 s against 11.2 s) and
 * fuse-clear-uptodate-ifs (1.7 s against 1.9 s) no slower.
 */
const MUTATE_ONE_IN = 4;

/**
 * With alias coverage the corpus holds programs that made two contexts meet,
 * and mutating them pays more than drawing fresh ones: without scenes,
 * ext4-dio-fallback-no-drain was found in 8 of 8 trials of 240 s with one in
 * two a mutant (median 63,000 executions), 5 of 8 with one in four (295,000),
 * against 5 of 8 for the blind baseline (310,000) and 4 or 5 of 8 without
 * alias coverage at either share (BENCHMARKS.md, issue 19).
 */
const MUTATE_ONE_IN_ALIAS = 2;

/**
 * Of the picks of a corpus program that reached an alias pair, the share
 * that only draws a new interleaving of it (LACE's schedule mutation: the
 * ops that meet are there, the order that breaks them may not be yet).
 */
const RESCHEDULE_RACY = 0.4;

export class Fuzzer {
  readonly rng: FuzzRng;
  readonly corpus = new Corpus();
  /** Coverage seen by this loop and every input shared with it. */
  readonly coverage = new CoverageSet();
  execs = 0;

  constructor(readonly opts: FuzzerOptions) {
    this.rng = new FuzzRng(opts.seed);
  }

  /** A corpus program found elsewhere (another worker, the store). */
  addInput(program: Program, points: readonly number[]): void {
    const fresh = this.coverage.add(points);
    this.corpus.add(program, points, fresh, this.execs);
  }

  /** The next program to run. */
  nextProgram(): Program {
    const rng = this.rng;
    const gen = this.opts.scenes === false ? NO_SCENES : WITH_SCENES;
    let p: Program;
    const oneIn = this.opts.aliasCoverage === false ? MUTATE_ONE_IN : MUTATE_ONE_IN_ALIAS;
    const parent = this.opts.feedback && rng.int(oneIn) === 0 ? this.corpus.pick(rng, this.execs) : null;
    if (parent && parent.racy && rng.chance(RESCHEDULE_RACY)) {
      p = reschedule(parent.program, rng);
    } else if (parent) {
      p = mutateProgram(parent.program, rng, this.corpus.entries.length > 1 ? this.corpusSample() : [], gen);
    } else {
      p = generateProgram(rng, gen);
      // The baseline still varies what it generates, without a corpus.
      if (!this.opts.feedback && rng.chance(0.5)) p = mutateProgram(p, rng, [], gen);
    }
    return this.forceSchedule(p);
  }

  private corpusSample(): Program[] {
    const out: Program[] = [];
    for (let i = 0; i < 4; i++) out.push(this.corpus.entries[this.rng.int(this.corpus.size)]!.program);
    return out;
  }

  private forceSchedule(p: Program): Program {
    const strategy = this.opts.schedule;
    if (!strategy || p.threads.length < 2 || p.schedule?.strategy === strategy) return p;
    return { ...p, schedule: { strategy, seed: this.rng.int(2 ** 31), depth: p.schedule?.depth ?? 2, decisions: [] } };
  }

  /** Run one program and say what it found. */
  runOne(program: Program = this.nextProgram()): ExecReport {
    this.execs++;
    const out = executeProgram(program, {
      bugs: this.opts.bugs, timeoutMs: this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, aliasCoverage: this.opts.aliasCoverage !== false,
    });
    switch (out.kind) {
      case 'harness':
        return { kind: 'harness', program, error: out.error };
      case 'timeout':
        return { kind: 'timeout', program };
      case 'finding':
        return { kind: 'finding', program, violation: out.violation };
      case 'ok':
        break;
    }
    return this.keepIfNew(program);
  }

  /**
   * The coverage a run of `program` just left in covMap: kept in the corpus
   * when it reached points this loop had not (a run made elsewhere: the
   * kernel twin's sim runs).
   */
  keepIfNew(program: Program): ExecReport {
    const fresh = this.coverage.newPoints(covMap);
    if (fresh.length === 0) return { kind: 'ok' };
    const points = CoverageSet.pointsOf(covMap);
    this.coverage.add(fresh);
    if (this.opts.feedback) this.corpus.add(program, points, fresh.length, this.execs);
    return { kind: 'new-coverage', program, points, newPoints: fresh.length };
  }
}
