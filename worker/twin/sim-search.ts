// A finding of the real kernel, looked for in the sim: does the sim show it
// with every switch off (then the sim's oracle or model is wrong somewhere),
// with one bug switch on (the switch restores the kernel's behaviour: a
// known kernel bug), or not at all (behaviour the sim lacks)? A divergence
// is looked for the same way: a switch under which the sim's run of the
// sequential program equals the kernel's explains it.
//
// Each candidate runs under the program's own schedule and then under drawn
// ones (random and PCT, seeded from the attempt's number, so the search is
// a function of the program). A match is the kernel's signature, the sim's
// run named as a trace names it (no byte provenance, so a DATA finding says
// what was read instead, as the kernel's does); failing that, a violation of
// the same class (a lost write the sim observes at a later check than the
// kernel's trace did is still the same loss). A hit is reported by the
// sim's own signature, which names a DATA finding's cause.

import { runProgram } from '../exec/run.js';
import type { Program, Schedule } from '../prog/types.js';
import type { Trace } from '../trace/types.js';
import { firstDivergence } from './divergence.js';
import type { SimSearch } from '../report/twin-origin.js';
import type { RunViolation } from '../report/violation.js';
import { BUG_SWITCHES, type BugName } from '../sim/bugs.js';

/** Schedules tried per candidate (the program's own first). */
export const SIM_SEARCH_SCHEDULES = 32;

function drawnSchedule(n: number): Schedule {
  return { strategy: n % 2 ? 'pct' : 'random', seed: (n * 7919 + 1) >>> 0, depth: 1 + (n % 3), decisions: [] };
}

function scheduleFor(p: Program, n: number): Program {
  if (n === 0) return p;
  return { ...p, schedule: drawnSchedule(n) };
}

interface Hit {
  signature: string;
  schedules: number;
}

/** The first schedule under which `p` with `bugs` shows a violation `matches` accepts. */
function firstHit(p: Program, bugs: readonly BugName[], matches: (v: RunViolation) => boolean, tries: number): Hit | null {
  for (let n = 0; n < tries; n++) {
    const q = scheduleFor(p, n);
    const v = runProgram(q, { bugs: new Set(bugs), provenance: 'off' }).violation;
    if (!v || !matches(v)) continue;
    const named = v.kind === 'DATA' ? runProgram(q, { bugs: new Set(bugs) }).violation?.signature : undefined;
    return { signature: named ?? v.signature, schedules: n + 1 };
  }
  return null;
}

/** No switch first (the sim as it is, at another folio size), then each implemented switch alone. */
function candidates(): BugName[][] {
  return [[], ...BUG_SWITCHES.filter((b) => b.implemented).map((b) => [b.name])];
}

/**
 * The program's largest folio, then the others the generator draws: the
 * sim's folioMax is the sim's choice, and the kernel's folios were whatever
 * it chose for the file.
 */
function folioSizes(p: Program): number[] {
  return [...new Set([p.config.folioMax, 4096, 16384, 65536])];
}

/** Look for the kernel's violation in the sim: with no switch, then each implemented one alone, at each folio size. */
export function searchInSim(p: Program, kernel: Pick<RunViolation, 'signature' | 'kind'>, tries = SIM_SEARCH_SCHEDULES): SimSearch | null {
  // Failing the signature: a DATA violation of any kind of read (the same loss seen at another check), or the same WARN or BUG.
  const alike = (v: RunViolation): boolean => v.kind === kernel.kind && (v.kind === 'DATA' || v.signature.split(' @ ')[0] === kernel.signature.split(' @ ')[0]);
  for (const matches of [(v: RunViolation) => v.signature === kernel.signature, alike]) {
    for (const folioMax of folioSizes(p)) {
      const q = { ...p, config: { ...p.config, folioMax } };
      for (const bugs of candidates()) {
        const hit = firstHit(q, bugs, matches, tries);
        if (hit) return { switches: [...bugs], ...hit, folioMax };
      }
    }
  }
  return null;
}

/**
 * A divergence of a sequential program, looked for in the sim: the first
 * switch (at any folio size) under which the sim's run equals the kernel's;
 * none, when another folio size alone does it.
 */
export function searchDivergenceInSim(p: Program, kernel: Trace, signature: string): SimSearch | null {
  for (const folioMax of folioSizes(p)) {
    const q = { ...p, config: { ...p.config, folioMax } };
    for (const bugs of candidates()) {
      // A run the sim stopped at a violation holds no events past it: only a whole run can equal the kernel's.
      const sim = runProgram(q, { bugs: new Set(bugs), record: true }).trace;
      if (sim?.end.outcome === 'done' && firstDivergence(sim, kernel) === null) return { switches: [...bugs], signature, schedules: 1, folioMax };
    }
  }
  return null;
}
