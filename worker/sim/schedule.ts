// Scheduling strategies. Each is a Policy the scheduler asks at every real
// choice point (two or more enabled choices); every decision is recorded with
// a hash of the enabled set, so that a run can be replayed exactly, and a
// replayed list that runs out or stops matching falls back to the default
// policy (which is what lets the minimizer cut a schedule down).

import type { Decision, Schedule } from '../prog/types.js';
import { type Choice, DEFAULT_POLICY, type Policy, type Sched } from './sched.js';

/** mulberry32: a small, fast, seeded PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** The stable name of a choice: a thread by name, an event by what it completes. */
export function choiceLabel(c: Choice, sched: Sched): string {
  return c.kind === 'thread' ? c.thread.name : `ev:${sched.eventName(c.index)}`;
}

/** FNV-1a over the labels of the enabled set. */
export function enabledHash(enabled: readonly Choice[], sched: Sched): number {
  let h = 0x811c9dc5;
  for (const c of enabled) {
    const label = choiceLabel(c, sched);
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x7c, 0x01000193);
  }
  return h >>> 0;
}

/** Uniform choice among the enabled. */
export class RandomPolicy implements Policy {
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  pick(_sched: Sched, enabled: readonly Choice[]): number {
    return this.rng.int(enabled.length);
  }
}

/**
 * PCT (Burckhardt et al.): every thread gets a random priority above `depth`;
 * the highest-priority enabled choice runs; at `depth - 1` change points,
 * drawn among the first `horizon` choice points, the running thread drops to
 * a low priority. Pending completions are choices too, each with a random
 * priority when first seen. Only real choice points count.
 */
export class PctPolicy implements Policy {
  private readonly rng: Rng;
  private readonly prio = new Map<string, number>();
  private readonly changePoints: number[];
  private step = 0;
  private low: number;

  constructor(seed: number, depth: number, horizon = 256) {
    this.rng = new Rng(seed);
    const d = Math.max(1, depth);
    this.changePoints = [];
    for (let i = 0; i < d - 1; i++) this.changePoints.push(1 + this.rng.int(horizon));
    this.low = d;
  }

  private priorityOf(label: string): number {
    let p = this.prio.get(label);
    if (p === undefined) {
      p = this.low + 1 + this.rng.next() * 1e6;
      this.prio.set(label, p);
    }
    return p;
  }

  pick(sched: Sched, enabled: readonly Choice[]): number {
    this.step++;
    if (this.changePoints.includes(this.step) && sched.current) {
      this.prio.set(sched.current.name, --this.low);
    }
    let best = 0;
    let bestP = -Infinity;
    for (let i = 0; i < enabled.length; i++) {
      const p = this.priorityOf(choiceLabel(enabled[i]!, sched));
      if (p > bestP) {
        bestP = p;
        best = i;
      }
    }
    return best;
  }
}

/** Follow a recorded list; past its end or on a mismatch, the default policy. */
export class ReplayPolicy implements Policy {
  private i = 0;
  diverged = false;
  constructor(private readonly decisions: readonly Decision[]) {}

  pick(sched: Sched, enabled: readonly Choice[]): number {
    const d = this.decisions[this.i++];
    if (d && !this.diverged && d.hash === enabledHash(enabled, sched) && d.pick < enabled.length) return d.pick;
    if (d) this.diverged = true;
    return DEFAULT_POLICY.pick(sched, enabled);
  }
}

/** Wraps a policy and records every decision it takes. */
export class RecordingPolicy implements Policy {
  readonly decisions: Decision[] = [];
  constructor(private readonly inner: Policy) {}

  pick(sched: Sched, enabled: readonly Choice[]): number {
    const pick = this.inner.pick(sched, enabled);
    this.decisions.push({ pick, hash: enabledHash(enabled, sched) });
    return pick;
  }
}

/** The policy a schedule asks for. */
export function policyFor(schedule: Schedule | undefined): Policy {
  if (!schedule) return DEFAULT_POLICY;
  switch (schedule.strategy) {
    case 'default':
      return DEFAULT_POLICY;
    case 'random':
      return new RandomPolicy(schedule.seed);
    case 'pct':
      return new PctPolicy(schedule.seed, schedule.depth);
    case 'replay':
      return new ReplayPolicy(schedule.decisions);
  }
}
