// The reproducer minimizer (syzkaller's pkg/repro and prog/minimization are
// the model): shrink a program that reports a signature to a smaller one that
// reports the same signature, stage by stage, never accepting a candidate
// that reports anything else.
//
// The schedule is frozen first (a random/pct schedule becomes the replay list
// its run recorded). Decisions are named by where they were taken, and every
// edit (minimize-edit.ts) moves them with the ops they are anchored at, so a
// cut elsewhere leaves them meaning what they meant. A candidate the moved
// list no longer drives into the race is tried under the original seeded
// policy and a few more seeds, and (in the deeper stages) under a systematic
// search of one and two preemptions.

import { runProgram } from '../exec/run.js';
import type { Program } from '../prog/types.js';
import { cloneProgram, cloneSchedule } from '../prog/clone.js';
import { cutOps, dropEmptyThreads, dropThread, mergeThreads, moveOp, opPositions, renumber } from './minimize-edit.js';
import { simplifyCandidates } from './minimize-args.js';
import {
  DEEP_BUDGET, DEEP_SEEDS, type MinimizeOptions, MinimizeError, Predicate, decisionCount, noLarger, programSize, withDecisions,
} from './minimize-predicate.js';
import { validateProgram } from '../prog/validate.js';

export interface MinimizeStage {
  name: string;
  opsAfter: number;
  runs: number;
}

export interface MinimizeResult {
  program: Program;
  signature: string;
  opsBefore: number;
  opsAfter: number;
  threadsBefore: number;
  threadsAfter: number;
  decisionsBefore: number;
  decisionsAfter: number;
  runs: number;
  stages: MinimizeStage[];
}

const CONFIRM_RUNS = 3;
/**
 * The final single-op cuts run under the preemption search when the runs
 * left give every op at least this many: a cut can move the race's window
 * (the preemption points inside an op change with the state), and only a new
 * search finds it again.
 */
const DEEP_CUT_MIN_RUNS = 40;
/** Rounds of the structural stages (threads, ops, merges) at most: one plain, the rest deep. */
const STRUCTURAL_ROUNDS = 4;
/** The part of the runs left that the deep thread drops of one stage may take together. */
const DEEP_SHARE = 0.3;
/** The part of the runs left that the sequentialize stage's deep search may take. */
const SEQUENTIALIZE_SHARE = 0.2;


type Stage = (p: Program, o: Predicate) => Program;

/**
 * A structural stage. The first round is plain (each candidate under its
 * moved decisions, then a few seeds), which is cheap and takes what needs no
 * new interleaving; the later rounds (`deep`) add the preemption search, on
 * a program the plain round has already cut down.
 */
type StructuralStage = (p: Program, o: Predicate, deep: boolean) => Program;

/**
 * Stage 2: whole threads, last first. Deep, each thread gets a share of what
 * the budget has left, so that a program of many threads does not spend the
 * whole budget here and leave ddmin nothing.
 */
function dropThreads(p: Program, o: Predicate, deep: boolean): Program {
  for (let t = p.threads.length - 1; t >= 0 && p.threads.length > 1; t--) {
    const cand = dropThread(p, t);
    p = (deep ? o.testDeep(cand, o.shareOfBudget(DEEP_SHARE / p.threads.length)) : o.test(cand)) ?? p;
  }
  return p;
}

/** Stage 2b: every thread's ops in thread 0, in thread order (the seeded retries find the events' order). */
function sequentialize(p: Program, o: Predicate, deep: boolean): Program {
  if (p.threads.length < 2) return p;
  let q = cloneProgram(p);
  while (q.threads.length > 1) q = mergeThreads(q, 1, 0);
  return (deep ? o.testDeep(q, o.shareOfBudget(SEQUENTIALIZE_SHARE)) : o.test(q)) ?? p;
}

/** Stage 3: ddmin over all ops, chunks halving down to single ops. */
function ddminOps(p: Program, o: Predicate): Program {
  let chunk = Math.max(1, Math.floor(programSize(p) / 2));
  for (;;) {
    let i = 0;
    while (i < programSize(p) && !o.exhausted()) {
      const next = o.test(dropEmptyThreads(cutOps(p, opPositions(p).slice(i, i + chunk))));
      if (next && programSize(next) < programSize(p)) p = next;
      else i += chunk;
    }
    if (chunk === 1 || o.exhausted()) return p;
    chunk = Math.max(1, Math.floor(chunk / 2));
  }
}

/**
 * Stage 9: single ops cut until none can go (a cut can make an earlier one
 * possible once the schedule is the default policy or the arguments are
 * simpler), then unused fds and files dropped.
 */
function ddminFixpoint(p: Program, o: Predicate): Program {
  // Plain cuts to a fixpoint, then (for a small program, where the budget
  // allows it) cuts under the preemption search: an op that only shaped the
  // interleaving can go once another schedule gives the same race.
  for (const deep of [false, true]) {
    if (deep && o.runsLeft() < programSize(p) * DEEP_CUT_MIN_RUNS) break;
    for (let changed = true; changed && !o.exhausted();) {
      changed = false;
      for (let i = programSize(p) - 1; i >= 0 && !o.exhausted(); i--) {
        const cand = dropEmptyThreads(cutOps(p, [opPositions(p)[i]!]));
        // The runs left, shared over the cuts still to try in this sweep.
        const share = Math.floor(o.runsLeft() / (i + 1));
        const effort = { budget: Math.max(40, Math.min(DEEP_BUDGET, share)), seeds: Math.max(4, Math.min(DEEP_SEEDS, share >> 5)) };
        const next = deep ? o.testDeep(cand, effort) : o.test(cand);
        if (next && programSize(next) < programSize(p)) {
          p = next;
          changed = true;
        }
      }
    }
  }
  return o.test(renumber(p)) ?? p;
}

/** Stage 4: one thread's ops appended to another's (deep: the pairs share a part of the runs left). */
function mergeAll(p: Program, o: Predicate, deep: boolean): Program {
  for (let from = p.threads.length - 1; from > 0; from--) {
    for (let into = 0; into < from; into++) {
      const cand = mergeThreads(p, from, into);
      const next = deep ? o.testDeep(cand, o.shareOfBudget(DEEP_SHARE / from)) : o.test(cand);
      if (next) {
        p = next;
        break;
      }
    }
  }
  return p;
}

/** Stage 5: smaller, aligned arguments; then unused declarations removed. */
function simplifyArgs(p: Program, o: Predicate, faultsOnly: boolean): Program {
  for (const pos of opPositions(p)) {
    for (const make of simplifyCandidates(p, pos, faultsOnly)) {
      const cand = make(p);
      if (cand) p = o.test(cand) ?? p;
    }
  }
  if (!faultsOnly) p = o.test(renumber(p)) ?? p;
  return p;
}

/**
 * Stage 6a: each fault moved down its thread as far as it still fires, to
 * fail the first I/O after it (skip 0). A fault that skipped the I/O of ops
 * between it and its target keeps those ops alive; once it sits right
 * before the op it fails, the final cuts can take them.
 */
function moveFaultsLater(p: Program, o: Predicate): Program {
  for (let t = 0; t < p.threads.length; t++) {
    for (let i = p.threads[t]!.ops.length - 1; i >= 0; i--) {
      if (p.threads[t]!.ops[i]!.op !== 'fail_bio') continue;
      for (let to = p.threads[t]!.ops.length - 1; to > i && !o.exhausted(); to--) {
        const cand = moveOp(p, t, i, to);
        const op = cand.threads[t]!.ops[to]!;
        if (op.op === 'fail_bio') op.skip = 0;
        const next = o.test(cand);
        if (next) {
          p = next;
          break;
        }
      }
    }
  }
  return p;
}

/**
 * Stage 7: the fewest decisions (preemptions, early completions): ddmin over
 * the list, the default policy taking every choice point a dropped decision
 * named; then no schedule at all.
 */
function minimizeSchedule(p: Program, o: Predicate): Program {
  if (!p.schedule) return p;
  let chunk = Math.max(1, p.schedule.decisions.length >> 1);
  while (p.schedule!.decisions.length > 0 && !o.exhausted()) {
    let i = 0;
    while (i < p.schedule!.decisions.length && !o.exhausted()) {
      const ds = p.schedule!.decisions;
      const next = o.test(withDecisions(p, [...ds.slice(0, i), ...ds.slice(i + chunk)]), true);
      if (next && decisionCount(next) < ds.length) p = next;
      else i += chunk;
    }
    if (chunk === 1) break;
    chunk = Math.max(1, chunk >> 1);
  }
  if (p.schedule!.decisions.length > 0) return p;
  const bare = cloneProgram(p);
  delete bare.schedule;
  return o.test(bare, true) ?? p;
}

/** Stage 8: folioMax smaller, blockSize toward 4096, then another fs where it still fires. */
function smallestConfig(p: Program, o: Predicate): Program {
  for (let f = p.config.folioMax / 2; f >= Math.max(4096, p.config.blockSize); f /= 2) {
    const next = o.test({ ...cloneProgram(p), config: { ...p.config, folioMax: f } });
    if (!next) break;
    p = next;
  }
  if (p.config.blockSize !== 4096 && p.config.folioMax >= 4096) {
    p = o.test({ ...cloneProgram(p), config: { ...p.config, blockSize: 4096 } }) ?? p;
  }
  if (p.config.fs === 'fuse') {
    for (const fs of ['xfs', 'ext4'] as const) {
      const next = o.test({ ...cloneProgram(p), config: { ...p.config, fs, inode: 'extent' } });
      if (next) return next;
    }
  }
  return p;
}

/** Stage 1: three runs agree, the schedule frozen to the replay list it recorded. */
function confirm(p: Program, opts: MinimizeOptions): { program: Program; signature: string } {
  const runs = Array.from({ length: CONFIRM_RUNS }, () => runProgram(p, { bugs: opts.bugs }));
  const sigs = runs.map((r) => r.violation?.signature ?? (r.harnessError !== null ? 'harness error' : 'no violation'));
  if (runs.some((r) => r.violation === null)) {
    throw new MinimizeError(`the program does not reproduce: ${sigs.join(', ')}`);
  }
  if (new Set(sigs).size !== 1) throw new MinimizeError(`nondeterministic: ${sigs.join(' / ')}`);
  const signature = sigs[0]!;
  if (opts.signature !== undefined && opts.signature !== signature) {
    throw new MinimizeError(`the program reports ${signature}, not ${opts.signature}`);
  }
  const frozen = cloneProgram(p);
  const strategy = p.schedule?.strategy;
  if ((strategy === 'random' || strategy === 'pct') && runs[0]!.schedule) frozen.schedule = runs[0]!.schedule;
  return { program: frozen, signature };
}

/** Shrink `p` to a smaller program that reports the same signature. */
export function minimizeProgram(p: Program, opts: MinimizeOptions): MinimizeResult {
  const input = validateProgram(JSON.parse(JSON.stringify(p)) as unknown, 'minimize input');
  const { program: frozen, signature } = confirm(input, opts);
  const s = input.schedule;
  const seeded = s && (s.strategy === 'random' || s.strategy === 'pct') ? cloneSchedule(s) : null;
  const predicate = new Predicate(signature, opts, seeded);
  // A frozen seeded schedule must replay what it recorded.
  const froze = seeded !== null;
  if (froze && runProgram(frozen, { bugs: opts.bugs }).violation?.signature !== signature) {
    throw new MinimizeError(`the frozen replay schedule does not reproduce ${signature}`);
  }
  const confirmRuns = CONFIRM_RUNS + (froze ? 1 : 0);
  const stages: MinimizeStage[] = [{ name: 'confirm', opsAfter: programSize(frozen), runs: confirmRuns }];
  const structural: [string, StructuralStage][] = [
    ['drop-threads', dropThreads],
    ['sequentialize', sequentialize],
    ['ddmin-ops', ddminOps],
    ['merge-threads', mergeAll],
  ];
  const finishing: [string, Stage][] = [
    ['simplify-args', (q, o) => simplifyArgs(q, o, false)],
    ['move-faults', moveFaultsLater],
    ['simplify-faults', (q, o) => simplifyArgs(q, o, true)],
    ['schedule', minimizeSchedule],
    ['config', smallestConfig],
    ['ddmin-final', ddminFixpoint],
    // A final cut under the preemption search may bring decisions of its own.
    ['schedule-final', minimizeSchedule],
  ];
  let cur = frozen;
  const runStage = (name: string, stage: Stage): void => {
    const before = predicate.runs;
    const next = stage(cur, predicate);
    // Fewer ops is the measure; a longer decision list is the price of a cut the preemption search found.
    if (noLarger(next, cur) || (programSize(next) < programSize(cur) && next.threads.length <= cur.threads.length)) cur = next;
    stages.push({ name, opsAfter: programSize(cur), runs: predicate.runs - before });
  };
  // A plain round, then deep ones: a merge or a new schedule can make earlier
  // cuts possible, so repeat to a fixpoint.
  for (let round = 0; round < STRUCTURAL_ROUNDS; round++) {
    const size = [programSize(cur), cur.threads.length];
    const deep = round > 0;
    for (const [name, stage] of structural) runStage(round === 0 ? name : `${name}#${round + 1}`, (q, o) => stage(q, o, deep));
    if (deep && programSize(cur) === size[0] && cur.threads.length === size[1]) break;
    if (predicate.structuralRunsLeft() === 0) break;
  }
  for (const [name, stage] of finishing) runStage(name, stage);
  return {
    program: cur,
    signature,
    opsBefore: programSize(input),
    opsAfter: programSize(cur),
    threadsBefore: input.threads.length,
    threadsAfter: cur.threads.length,
    decisionsBefore: decisionCount(frozen),
    decisionsAfter: decisionCount(cur),
    runs: confirmRuns + predicate.runs,
    stages,
  };
}
