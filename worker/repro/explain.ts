// What a finding means to someone who did not write the sim: the class of its
// signature in plain words, and which bug switches it needs. The summary of
// `fuzz`, `foliofuzz findings`, the dashboard and the bug report all say it
// through these, so they say it the same way.
//
// Which switches a reproducer needs is found by running it: with its
// switches, without any, then without each in turn (a switch it still fires
// without is not needed). A finding that fires with every switch off is no
// seeded bug: either a real kernel bug or a false positive of the sim, and
// it must be confirmed on a real kernel before anyone reports it.

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

/** Drop each switch the program still shows `signature` without: what stays is needed. */
function reduceSwitches(program: Program, signature: string, bugs: readonly BugName[]): BugName[] {
  let kept = [...bugs];
  for (const b of bugs) {
    const without = kept.filter((x) => x !== b);
    if (signatureUnder(program, without) === signature) kept = without;
  }
  return kept;
}

/** Which of a reproducer's switches it needs (at most 2 + its switches runs). */
export function switchesNeeded(r: Repro): SwitchesNeeded {
  const observed = signatureUnder(r.program, r.bugs);
  if (r.signature === '' || observed !== r.signature) return { reproduces: false, observed, needed: [] };
  if (r.bugs.length === 0 || signatureUnder(r.program, []) === r.signature) return { reproduces: true, observed, needed: [] };
  return { reproduces: true, observed, needed: reduceSwitches(r.program, r.signature, r.bugs) };
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
  return { signature, needed: reduceSwitches(program, signature, all) };
}

/** One line on what the switches needed say about a finding. */
export function switchesVerdict(needed: readonly BugName[]): string {
  if (needed.length === 0) {
    return 'fires with every switch off: no seeded bug. A real kernel bug or a false positive of the sim; confirm it on a real kernel (export --format c) before reporting it';
  }
  return `needs ${needed.map((n) => describeSwitch(n)).join('; and ')}`;
}
