// The corpus: programs that reached coverage nobody had reached before, and
// the power schedule that decides which one to mutate next.
//
// The schedule favours what is likely to lead somewhere new:
// - rare finds: a program that brought many new points, or points few other
//   corpus programs reach, weighs more;
// - recent finds: a program added in the last RECENT_EXECS executions weighs
//   more (the frontier is where the fuzzer just got to);
// - fatigue: every time a program is picked its weight decays, so one lucky
//   entry cannot starve the rest;
// - races: a program whose run made two contexts meet on one object (an
//   alias pair, worker/sim/alias.ts) weighs more, and the fuzzer spends part
//   of its picks on new interleavings of it (fuzzer.ts).

import type { Program } from '../prog/types.js';
import { isAliasPoint } from '../sim/cov.js';
import type { FuzzRng } from './rng.js';

export interface CorpusEntry {
  program: Program;
  /** Points this program reached that were new when it was added. */
  newPoints: number;
  /** Every point it reaches (sorted ids). */
  points: readonly number[];
  /** Executions done (by this fuzzer) when it was added. */
  addedAt: number;
  picks: number;
  /** Its run reached an alias pair: two contexts met on one object. */
  racy: boolean;
  /** Its points' rarity, as last estimated, and the corpus size then (-1: never). */
  rarity: number;
  rarityAt: number;
}

const RECENT_EXECS = 5000;
const RECENT_BOOST = 3;
const RACY_BOOST = 2;

export class Corpus {
  readonly entries: CorpusEntry[] = [];
  /** How many entries reach each point: a point few reach is rare. */
  private readonly reach = new Map<number, number>();

  get size(): number {
    return this.entries.length;
  }

  add(program: Program, points: readonly number[], newPoints: number, now: number): CorpusEntry {
    const e: CorpusEntry = { program, points, newPoints, addedAt: now, picks: 0, racy: points.some(isAliasPoint), rarity: 0, rarityAt: -1 };
    this.entries.push(e);
    for (const p of points) this.reach.set(p, (this.reach.get(p) ?? 0) + 1);
    return e;
  }

  /** The weight of an entry at time `now` (executions). */
  weight(e: CorpusEntry, now: number): number {
    const base = 1 + Math.log2(1 + e.newPoints) + this.rarity(e);
    const recent = now - e.addedAt < RECENT_EXECS ? RECENT_BOOST : 1;
    const racy = e.racy ? RACY_BOOST : 1;
    return (base * recent * racy) / Math.sqrt(1 + e.picks);
  }

  /**
   * How rare an entry's points are: the sum of 1/reach over a sample of at
   * most 64 of them. Reach only grows as entries join, so the estimate is
   * kept until the corpus has grown by an eighth since.
   */
  private rarity(e: CorpusEntry): number {
    const n = this.entries.length;
    if (e.rarityAt >= 0 && n <= e.rarityAt + (e.rarityAt >> 3) + 1) return e.rarity;
    let rarity = 0;
    const step = Math.max(1, Math.floor(e.points.length / 64));
    for (let i = 0; i < e.points.length; i += step) rarity += 1 / (this.reach.get(e.points[i]!) ?? 1);
    e.rarity = rarity;
    e.rarityAt = n;
    return rarity;
  }

  /** Pick a program to mutate; null when the corpus is empty. */
  pick(rng: FuzzRng, now: number): CorpusEntry | null {
    const n = this.entries.length;
    if (n === 0) return null;
    // Weigh a bounded sample: the schedule stays O(1) per execution however large the corpus grows.
    const k = Math.min(n, 16);
    let best: CorpusEntry | null = null;
    let total = 0;
    for (let i = 0; i < k; i++) {
      const e = this.entries[k === n ? i : rng.int(n)]!;
      const w = this.weight(e, now);
      total += w;
      // Reservoir-style weighted choice over the sample.
      if (rng.next() * total < w) best = e;
    }
    best!.picks++;
    return best;
  }
}
