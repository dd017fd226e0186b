// The fuzzer's seeded PRNG: the sim's Rng plus the helpers a generator wants.
// Everything the generator and the mutators draw comes from here, so one seed
// gives one program.

import { Rng } from '../sim/schedule.js';

export class FuzzRng extends Rng {
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  weighted<T extends string>(table: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of table) total += w;
    let r = this.next() * total;
    for (const [v, w] of table) {
      if ((r -= w) < 0) return v;
    }
    return table[table.length - 1]![0];
  }
}
