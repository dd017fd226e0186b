// Scheduling strategies. Each is a Policy the scheduler asks at every real
// choice point (two or more enabled choices). A run records only the choices
// the default policy would not have taken, each named by where it was taken
// (the anchor: thread, op, step, turn) and what it chose; replaying that list
// takes the default policy everywhere else. A decision whose anchor a changed
// program no longer reaches, or whose choice is not enabled there, is simply
// not taken: the minimizer can cut ops and threads and keep the rest.

import type { Decision, Schedule } from '../prog/types.js';
import { type Choice, DEFAULT_POLICY, type Policy, type Sched, type SimThread } from './sched.js';

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

/**
 * The stable name of a choice: a thread by name; a pending completion by its
 * name and how many of that name are pending before it (`ev:<name>#<k>`).
 */
export function choiceLabel(c: Choice, sched: Sched): string {
  if (c.kind === 'thread') return c.thread.name;
  const name = sched.eventName(c.index);
  let k = 0;
  for (let i = 0; i < c.index; i++) if (sched.eventName(i) === name) k++;
  return `ev:${name}#${k}`;
}

/** Where the scheduler stands: the anchor of a decision taken here. */
export function anchorHere(sched: Sched): Omit<Decision, 'run'> {
  const t = sched.current;
  return { at: t === null ? '' : t.name, op: t === null ? 0 : t.op, step: t === null ? 0 : t.step, nth: sched.turnsHere };
}

/** A decision taken here to run `run`: the anchor and the choice in one object (taken at most choice points of a run). */
function decisionHere(sched: Sched, run: string): Decision {
  const t = sched.current;
  return { at: t === null ? '' : t.name, op: t === null ? 0 : t.op, step: t === null ? 0 : t.step, nth: sched.turnsHere, run };
}

/** One string per anchor (labels hold no `|`), to look decisions up by where they were taken. */
export function anchorKey(a: Omit<Decision, 'run'>): string {
  return `${a.at}|${a.op}|${a.step}|${a.nth}`;
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
  /** Priorities by thread name, and by event name (same-named completions share one). */
  private readonly prio = new Map<string, number>();
  private readonly eventPrio = new Map<string, number>();
  /** prio by thread id, looked up once per thread (ids are a run's array indices; names are strings to hash). */
  private readonly byThread: number[] = [];
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

  private priorityOf(table: Map<string, number>, name: string): number {
    let p = table.get(name);
    if (p === undefined) {
      p = this.low + 1 + this.rng.next() * 1e6;
      table.set(name, p);
    }
    return p;
  }

  private threadPriority(t: SimThread): number {
    const p = this.byThread[t.id];
    if (p !== undefined) return p;
    return (this.byThread[t.id] = this.priorityOf(this.prio, t.name));
  }

  pick(sched: Sched, enabled: readonly Choice[]): number {
    this.step++;
    if (this.changePoints.includes(this.step) && sched.current) {
      this.prio.set(sched.current.name, --this.low);
      this.byThread.length = 0;
    }
    let best = 0;
    let bestP = -Infinity;
    for (let i = 0; i < enabled.length; i++) {
      const c = enabled[i]!;
      const p = c.kind === 'thread' ? this.threadPriority(c.thread) : this.priorityOf(this.eventPrio, sched.eventName(c.index));
      if (p > bestP) {
        bestP = p;
        best = i;
      }
    }
    return best;
  }
}

/** The default policy, except at the anchors the decisions name, where it takes what they chose if it is enabled. */
export class ReplayPolicy implements Policy {
  private readonly byAnchor = new Map<string, string>();
  constructor(decisions: readonly Decision[]) {
    for (const d of decisions) this.byAnchor.set(anchorKey(d), d.run);
  }

  pick(sched: Sched, enabled: readonly Choice[]): number {
    const run = this.byAnchor.get(anchorKey(anchorHere(sched)));
    if (run !== undefined) {
      for (let i = 0; i < enabled.length; i++) if (choiceLabel(enabled[i]!, sched) === run) return i;
    }
    return DEFAULT_POLICY.pick(sched, enabled);
  }
}

/** A real choice point as the recorder saw it: where, what could run, what ran. */
export interface ChoicePoint {
  anchor: Omit<Decision, 'run'>;
  enabled: string[];
  picked: number;
  /** The default policy's pick. */
  default: number;
}

/**
 * Wraps a policy and records the decisions it takes that the default policy
 * would not; `onChoice`, when set, sees every real choice point.
 */
export class RecordingPolicy implements Policy {
  readonly decisions: Decision[] = [];
  constructor(
    private readonly inner: Policy,
    private readonly onChoice?: (point: ChoicePoint) => void,
  ) {}

  pick(sched: Sched, enabled: readonly Choice[]): number {
    const pick = this.inner.pick(sched, enabled);
    const dflt = DEFAULT_POLICY.pick(sched, enabled);
    if (pick === dflt && !this.onChoice) return pick;
    if (pick !== dflt) this.decisions.push(decisionHere(sched, choiceLabel(enabled[pick]!, sched)));
    this.onChoice?.({ anchor: anchorHere(sched), enabled: enabled.map((c) => choiceLabel(c, sched)), picked: pick, default: dflt });
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
