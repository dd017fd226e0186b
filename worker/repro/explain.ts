// What a finding means to someone who did not write the sim: the class of its
// signature in plain words, and which bug switches it needs. The summary of
// `fuzz`, `foliofuzz findings`, the dashboard and the bug report all say it
// through these, so they say it the same way.
//
// Which switches a reproducer needs is found by running it: with its
// switches, without any, then with each one alone, each pair, and failing
// those, without each in turn (a switch it still fires without is not
// needed): the smallest set that still shows the signature (attributeSwitches;
// a campaign's minimization records it with the finding). A finding that
// fires with every switch off is no seeded bug: either a real kernel bug or a
// false positive of the sim, and it must be confirmed on a real kernel before
// anyone reports it.

import { runProgram } from '../exec/run.js';
import type { Program } from '../prog/types.js';
import { type InvariantKind, parseSignature } from '../report/signature.js';
import { BUG_SWITCHES, type BugName, type BugSwitch } from '../sim/bugs.js';
import type { Repro } from './repro.js';

/** Each class of signature, as a sentence. */
export const CLASS_MEANINGS: Readonly<Record<InvariantKind, string>> = {
  WARN: 'a WARN_ON the kernel has at this site fired (dmesg: "WARNING: ... at <site>")',
  BUG: 'a BUG_ON the kernel has at this site fired: a real kernel oopses here',
  INVARIANT: 'a rule the kernel relies on but does not check itself was broken (lock order, error reporting, journal rules)',
  DATA: 'a read returned bytes the file cannot hold: data corruption or loss',
  DEADLOCK: 'every thread is blocked: a deadlock',
  LIVELOCK: 'no progress within the step budget: a livelock',
  DIVERGENCE: 'a real kernel did what the sim (every switch off) does not, on a sequential program: a sim infidelity or a kernel bug',
};

/** The class of a signature and what it means; null for a string that is not a signature. */
export function classOf(signature: string): { kind: InvariantKind; meaning: string } | null {
  const parts = parseSignature(signature);
  return parts === null ? null : { kind: parts.kind, meaning: CLASS_MEANINGS[parts.kind] };
}

/** A switch the `--bugs seed` set holds: one of the seeded bugs. */
export function isSeedSwitch(b: BugSwitch): boolean {
  return b.implemented && b.source.startsWith('seeds/');
}

/** A switch as a line: "set-uptodate-during-read (iomap, 2025): iomap_set_range_uptodate marks ...". */
export function describeSwitch(name: BugName): string {
  const b = BUG_SWITCHES.find((s) => s.name === name);
  if (b === undefined) return name;
  return `${b.name} (${isSeedSwitch(b) ? 'seeded bug, ' : ''}${b.layer}, ${b.year}): ${b.description}`;
}

export interface SwitchesNeeded {
  /** The run with the reproducer's switches shows its signature. */
  reproduces: boolean;
  /** What that run showed instead, when it does not reproduce (null: silent). */
  observed: string | null;
  /** The switches it needs (empty: it fires with every switch off). */
  needed: BugName[];
}

/** The signature a program shows under `bugs` (null: silent or a harness error). */
function signatureUnder(program: Program, bugs: Iterable<BugName>): string | null {
  return runProgram(program, { bugs: new Set(bugs) }).violation?.signature ?? null;
}

/** Subsets of `bugs` of `size`, in the order of `bugs`. */
function subsets(bugs: readonly BugName[], size: number, from = 0): BugName[][] {
  if (size === 0) return [[]];
  const out: BugName[][] = [];
  for (let i = from; i <= bugs.length - size; i++) for (const rest of subsets(bugs, size - 1, i + 1)) out.push([bugs[i]!, ...rest]);
  return out;
}

/** Sets this small are tried whole before the rest is reduced one switch at a time. */
const SEARCHED_SIZE = 2;

/**
 * The smallest set of `bugs` under which `program` still shows `signature`:
 * none, then each switch alone, then each pair (in the order of `bugs`), and
 * when none of those does, `bugs` with every switch dropped that it still
 * shows the signature without. Deterministic; at most 1 + n + n(n-1)/2 + n
 * runs. The program runs as it is, its recorded schedule included: a switch
 * that only moves the schedule's anchors (a benign control's preemption
 * point) is needed if the program needs it to fire.
 */
export function attributeSwitches(program: Program, signature: string, bugs: readonly BugName[]): BugName[] {
  const sorted = [...bugs].sort();
  for (let size = 0; size <= Math.min(SEARCHED_SIZE, sorted.length); size++) {
    for (const set of subsets(sorted, size)) if (signatureUnder(program, set) === signature) return set;
  }
  let kept = sorted;
  for (const b of sorted) {
    const without = kept.filter((x) => x !== b);
    if (signatureUnder(program, without) === signature) kept = without;
  }
  return kept;
}

/** Which of a reproducer's switches it needs: the smallest set that still shows its signature. */
export function switchesNeeded(r: Repro): SwitchesNeeded {
  const observed = signatureUnder(r.program, r.bugs);
  if (r.signature === '' || observed !== r.signature) return { reproduces: false, observed, needed: [] };
  if (r.bugs.length === 1) return { reproduces: true, observed, needed: signatureUnder(r.program, []) === r.signature ? [] : [...r.bugs] };
  return { reproduces: true, observed, needed: attributeSwitches(r.program, r.signature, r.bugs) };
}

/**
 * For a program that runs clean as given: the switches under which it shows
 * a violation, and that violation. Null when it stays clean with every
 * implemented switch on.
 */
export function switchesThatFire(program: Program): { signature: string; needed: BugName[] } | null {
  const all = BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name);
  const signature = signatureUnder(program, all);
  if (signature === null) return null;
  return { signature, needed: attributeSwitches(program, signature, all) };
}

/** One line on what the switches needed say about a finding. */
export function switchesVerdict(needed: readonly BugName[]): string {
  if (needed.length === 0) {
    return 'fires with every switch off: no seeded bug. A real kernel bug or a false positive of the sim; confirm it on a real kernel (export --format c) before reporting it';
  }
  return `needs ${needed.map((n) => describeSwitch(n)).join('; and ')}`;
}
