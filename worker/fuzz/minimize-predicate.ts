// The minimizer's predicate: does a candidate program still report the
// signature being minimized? It runs the candidate under its own recorded
// decisions, then (for a concurrent one) under a few seeded schedules, and in
// the deeper stages under a systematic search of one and two preemptions;
// it keeps the count of runs against the budget and the deadline, and
// reports every other signature met on the way as a finding of its own.

import { runProgram } from '../exec/run.js';
import type { Decision, Program, Schedule } from '../prog/types.js';
import { validateProgram } from '../prog/validate.js';
import type { BugSet } from '../sim/bugs.js';
import { anchorKey, type ChoicePoint } from '../sim/schedule.js';
import { cloneProgram, cloneSchedule } from '../prog/clone.js';

export interface MinimizeOptions {
  bugs: BugSet;
  signature?: string;
  maxRuns?: number;
  deadlineMs?: number;
  onNewFinding?: (signature: string, program: Program) => void;
}

export class MinimizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MinimizeError';
  }
}

/**
 * Runs a minimization may take unless told otherwise (the CLI, campaigns,
 * the cluster's minimize jobs). A program of a few ops needs a few hundred;
 * a campaign's many-thread program uses them all (90 ops and six threads:
 * 18 ops left after 3,000 runs, 4 after 8,600, a few ms each).
 */
export const DEFAULT_MAX_RUNS = 10_000;
/** The wall time a campaign gives one minimization (the runs cap usually comes first). */
export const DEFAULT_MINIMIZE_DEADLINE_MS = 60_000;
/** Extra random and pct seeds tried for a multi-thread candidate the replay list misses. */
const RESEEDS = 3;
/** Choice points the one-preemption search tries. */
const DEEP_POINTS = 64;
/** Runs one two-preemption search may take. */
export const DEEP_BUDGET = 600;
/** Random and pct seeds the deep search tries after the one-preemption search. */
export const DEEP_SEEDS = 32;
/** What one deep search may spend: runs of the preemption search, then seeded tries. */
export interface DeepEffort {
  budget: number;
  seeds: number;
}
export const FULL_EFFORT: DeepEffort = { budget: DEEP_BUDGET, seeds: DEEP_SEEDS };
/**
 * The part of the budget the deep structural rounds leave to the finishing
 * stages (arguments, faults, schedule, config, the final cuts), which shrink
 * most programs further for few runs.
 */
const FINISH_RESERVE = 0.25;

/** Total ops over all threads. */
export function programSize(p: Program): number {
  return p.threads.reduce((n, t) => n + t.ops.length, 0);
}

export function decisionCount(p: Program): number {
  return p.schedule?.decisions.length ?? 0;
}

/** Smaller in no dimension worse: ops, threads, decisions. */
export function noLarger(a: Program, b: Program): boolean {
  return programSize(a) <= programSize(b) && a.threads.length <= b.threads.length && decisionCount(a) <= decisionCount(b);
}

/** The predicate and its bookkeeping: runs, budget, slippage. */
export class Predicate {
  runs = 0;
  private readonly seen = new Set<string>();
  private readonly maxRuns: number;
  private readonly deadline: number | null;

  constructor(readonly target: string, private readonly opts: MinimizeOptions, private readonly seeded: Schedule | null) {
    this.maxRuns = opts.maxRuns ?? DEFAULT_MAX_RUNS;
    // Wall time bounds the minimizer, never the sim: checked only between runs.
    this.deadline = opts.deadlineMs === undefined ? null : Date.now() + opts.deadlineMs;
  }

  runsLeft(): number {
    return Math.max(0, this.maxRuns - this.runs);
  }

  exhausted(): boolean {
    return this.runs >= this.maxRuns || (this.deadline !== null && Date.now() > this.deadline);
  }

  /** The runs left above what the finishing stages keep for themselves. */
  structuralRunsLeft(): number {
    return Math.max(0, this.runsLeft() - Math.floor(this.maxRuns * FINISH_RESERVE));
  }

  /** A structural deep search's effort cut to `fraction` of its runs left (never more than the full effort). */
  shareOfBudget(fraction: number): DeepEffort {
    const runs = Math.floor(this.structuralRunsLeft() * fraction);
    return { budget: Math.min(DEEP_BUDGET, runs), seeds: Math.min(DEEP_SEEDS, Math.floor(runs / 8)) };
  }

  /**
   * One run: the program with its recorded schedule if it reports the
   * target, else null. The recorded list holds the decisions that fired and
   * were not the default, so under replay it is never longer than `p`'s.
   */
  private once(p: Program, onChoice?: (point: ChoicePoint) => void): Program | null {
    this.runs++;
    const r = runProgram(p, { bugs: this.opts.bugs, ...(onChoice ? { onChoice } : {}) });
    if (r.harnessError !== null || r.violation === null) return null;
    const sig = r.violation.signature;
    if (sig !== this.target) {
      if (!this.seen.has(sig)) {
        this.seen.add(sig);
        this.opts.onNewFinding?.(sig, p);
      }
      return null;
    }
    const q = cloneProgram(p);
    if (r.schedule) q.schedule = r.schedule;
    return q;
  }

  /**
   * Does the candidate keep the target? Returns the accepted program (with
   * the schedule its run recorded). Unless `replayOnly`, a candidate its own
   * list misses is retried under seeded schedules.
   */
  test(cand: Program, replayOnly = false): Program | null {
    if (this.exhausted()) return null;
    try {
      validateProgram(JSON.parse(JSON.stringify(cand)) as unknown, 'minimize');
    } catch {
      return null;
    }
    const hit = this.once(cand);
    if (hit || replayOnly) return hit;
    for (const schedule of this.reseeds()) {
      if (this.exhausted()) return null;
      const reseeded = this.once({ ...cloneProgram(cand), schedule });
      // The seeded run's recorded list replaces the seed; a longer list is no gain.
      if (reseeded && noLarger(reseeded, cand)) return reseeded;
    }
    return null;
  }

  /**
   * The candidate under a systematic search of one and two preemptions on
   * top of the default schedule: record every choice point of the default
   * run, then take another choice at one of them (and, where that misses, at
   * one more after it). A bug with one or two narrow windows is found again
   * this way whatever the cut did to the old decisions. Then one preemption
   * on top of the candidate's own decisions (a cut that moved the window a
   * little leaves them nearly right), then wider seeded tries.
   */
  testDeep(cand: Program, effort: DeepEffort = FULL_EFFORT): Program | null {
    const hit = this.test(cand);
    if (hit || this.exhausted()) return hit;
    const own = cand.schedule?.strategy === 'replay' ? cand.schedule.decisions : [];
    const fromDefault = own.length > 0 ? effort.budget >> 1 : effort.budget;
    const found = this.searchPreemptions(withDecisions(cand, []), 2, fromDefault) ??
      (own.length > 0 ? this.searchPreemptions(cand, 1, effort.budget - fromDefault) : null);
    if (found) return found;
    // Windows that need several preemptions: a wider seeded exploration.
    for (let i = 1; i <= effort.seeds && !this.exhausted(); i++) {
      for (const strategy of ['random', 'pct'] as const) {
        const seed = (i * 0x85ebca6b) >>> 0;
        const next = this.test({ ...cloneProgram(cand), schedule: { strategy, seed, depth: 3, decisions: [] } }, true);
        if (next) return next;
      }
    }
    return null;
  }

  /** Up to `depth` preemptions added to `base`'s decisions, within `budget` runs. */
  private searchPreemptions(base: Program, depth: number, budget: number): Program | null {
    if (budget <= 0 || this.exhausted()) return null;
    const points: ChoicePoint[] = [];
    const plain = this.once(base, (c) => points.push(c));
    if (plain) return plain;
    return this.preempt(base, points, 0, depth, this.runs + budget);
  }

  /**
   * Take `base`'s run (its choice points) up to a choice point k >= from as
   * it went, and another choice at k (up to three of the others); where that
   * run misses, recurse for one more preemption on the choice points it met.
   */
  private preempt(base: Program, points: readonly ChoicePoint[], from: number, depth: number, budget: number): Program | null {
    const kept = base.schedule?.decisions ?? [];
    for (let k = from; k < points.length && k < DEEP_POINTS; k++) {
      const point = points[k]!;
      const before = [...kept, ...decisionsOf(points.slice(0, k))];
      let tried = 0;
      for (let pick = 0; pick < point.enabled.length && tried < 3; pick++) {
        if (pick === point.picked) continue;
        if (this.exhausted() || this.runs >= budget) return null;
        tried++;
        const cand = withDecisions(base, withChoice(before, { ...point.anchor, run: point.enabled[pick]! }));
        const after: ChoicePoint[] = [];
        const next = this.once(cand, depth > 1 ? (c) => after.push(c) : undefined);
        if (next) return next;
        if (depth > 1) {
          const deeper = this.preempt(cand, after, k + 1, depth - 1, budget);
          if (deeper) return deeper;
        }
      }
    }
    return null;
  }

  /**
   * Seeded schedules to retry a candidate under. A cut that removes a thread
   * or shifts the events changes the enabled sets, so the replay list stops
   * matching at its first decision and the interleaving that fired is lost;
   * a few seeded explorations (the original seed first) find it again.
   */
  private reseeds(): Schedule[] {
    if (this.seeded === null) return [];
    const out: Schedule[] = [cloneSchedule(this.seeded)];
    for (let i = 1; i <= RESEEDS; i++) {
      const seed = (this.seeded.seed + i * 0x9e3779b1) >>> 0;
      out.push({ strategy: 'random', seed, depth: 0, decisions: [] });
      out.push({ strategy: 'pct', seed, depth: 3, decisions: [] });
    }
    return out;
  }
}

export function withDecisions(p: Program, decisions: Decision[]): Program {
  const q = cloneProgram(p);
  q.schedule = { strategy: 'replay', seed: q.schedule?.seed ?? 0, depth: q.schedule?.depth ?? 0, decisions };
  return q;
}

/** `decisions` with `d` taken at its anchor instead of whatever was there (one per anchor). */
export function withChoice(decisions: readonly Decision[], d: Decision): Decision[] {
  const byAnchor = new Map<string, Decision>();
  for (const x of decisions) byAnchor.set(anchorKey(x), x);
  byAnchor.delete(anchorKey(d));
  return [...byAnchor.values(), d];
}

/** The decisions that reproduce a run's choice points: those where it did not take the default. */
export function decisionsOf(points: readonly ChoicePoint[]): Decision[] {
  return points.filter((c) => c.picked !== c.default).map((c) => ({ ...c.anchor, run: c.enabled[c.picked]! }));
}
