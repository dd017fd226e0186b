// The coverage a fuzzer has seen: the union of the points of every run, and
// which of a run's points are new to it.
//
// One run's points are in covMap (worker/sim/cov.ts) right after it; the
// fuzzer asks what is new before it runs anything else. A run reaches a few
// hundred of the map's points, so the scans read it eight points at a time, as
// a Float64Array, and look at bytes only where that is not zero: the scan runs
// once per execution. A point's byte is 0 or 1, so eight of them are a float
// that is zero exactly when all are (never -0, never NaN).

import { COV_MAP_SIZE, covMap } from '../sim/cov.js';

/** The map's eight-point words: covMap's length is a multiple of 8. */
function wordsOf(map: Uint8Array): Float64Array {
  return new Float64Array(map.buffer, map.byteOffset, map.length >> 3);
}

const covWords = wordsOf(covMap);

export class CoverageSet {
  /** 1 for each point seen. */
  readonly seen = new Uint8Array(COV_MAP_SIZE);
  count = 0;

  /** Points of `map` not seen yet (does not add them). */
  newPoints(map: Uint8Array = covMap): number[] {
    const out: number[] = [];
    const seen = this.seen;
    const words = map === covMap ? covWords : wordsOf(map);
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      for (let i = w << 3, end = i + 8; i < end; i++) if (map[i] && !seen[i]) out.push(i);
    }
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
    const words = map === covMap ? covWords : wordsOf(map);
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      for (let i = w << 3, end = i + 8; i < end; i++) if (map[i]) out.push(i);
    }
    return out;
  }
}
