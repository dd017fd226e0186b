// The coverage a fuzzer has seen: the union of the points of every run, and
// which of a run's points are new to it.
//
// One run's points are in covMap (worker/sim/cov.ts) right after it; the
// fuzzer asks what is new before it runs anything else.

import { COV_MAP_SIZE, covMap } from '../sim/cov.js';

export class CoverageSet {
  /** 1 for each point seen. */
  readonly seen = new Uint8Array(COV_MAP_SIZE);
  count = 0;

  /** Points of `map` not seen yet (does not add them). */
  newPoints(map: Uint8Array = covMap): number[] {
    const out: number[] = [];
    const seen = this.seen;
    for (let i = 0; i < map.length; i++) if (map[i] && !seen[i]) out.push(i);
    return out;
  }

  /** Add points; returns how many were new. */
  add(points: readonly number[]): number {
    let n = 0;
    for (const p of points) {
      if (!this.seen[p]) {
        this.seen[p] = 1;
        n++;
      }
    }
    this.count += n;
    return n;
  }

  /** Every point of the current run's map. */
  static pointsOf(map: Uint8Array = covMap): number[] {
    const out: number[] = [];
    for (let i = 0; i < map.length; i++) if (map[i]) out.push(i);
    return out;
  }
}
