// The coverage set's word-at-a-time scans, the corpus's racing entries, and
// the schedule-only mutation the fuzzer spends part of their picks on.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Corpus } from '../../../worker/fuzz/corpus.js';
import { CoverageSet } from '../../../worker/fuzz/coverage.js';
import { generateProgram } from '../../../worker/fuzz/generate.js';
import { reschedule } from '../../../worker/fuzz/mutate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { ALIAS_BASE, COV_MAP_SIZE, isAliasPoint } from '../../../worker/sim/cov.js';

/** A map with `n` points set at random, and those points. */
function randomMap(rng: FuzzRng, n: number): [Uint8Array, number[]] {
  const map = new Uint8Array(COV_MAP_SIZE);
  for (let i = 0; i < n; i++) map[rng.int(COV_MAP_SIZE)] = 1;
  const points: number[] = [];
  map.forEach((b, i) => b && points.push(i));
  return [map, points];
}

describe('coverage set', () => {
  it('pointsOf and newPoints agree with a byte-by-byte scan, first and last points included', () => {
    const rng = new FuzzRng(5);
    const set = new CoverageSet();
    for (let round = 0; round < 20; round++) {
      const [map, points] = randomMap(rng, rng.int(600));
      map[0] = 1;
      map[COV_MAP_SIZE - 1] = 1;
      const all = [...new Set([0, ...points, COV_MAP_SIZE - 1])].sort((a, b) => a - b);
      assert.deepEqual(CoverageSet.pointsOf(map), all);
      const fresh = all.filter((p) => !set.seen[p]);
      assert.deepEqual(set.newPoints(map), fresh);
      assert.equal(set.add(fresh), fresh.length);
      assert.deepEqual(set.newPoints(map), []);
    }
  });
});

describe('corpus', () => {
  it('an entry that reached an alias pair is racy and weighs double an otherwise equal one', () => {
    const rng = new FuzzRng(1);
    const c = new Corpus();
    const program = generateProgram(rng);
    const plain = c.add(program, [10, 20], 2, 0);
    const racy = c.add(program, [30, ALIAS_BASE + 7], 2, 0);
    assert.equal(plain.racy, false);
    assert.equal(racy.racy, true);
    assert.ok(isAliasPoint(ALIAS_BASE) && !isAliasPoint(ALIAS_BASE - 1));
    assert.equal(c.weight(racy, 0), 2 * c.weight(plain, 0));
  });
});

describe('reschedule', () => {
  it('keeps the ops and draws a new random or PCT schedule', () => {
    const rng = new FuzzRng(3);
    for (let i = 0; i < 50; i++) {
      const p = generateProgram(rng);
      const q = reschedule(p, rng);
      assert.deepEqual(q.threads, p.threads);
      assert.deepEqual(q.config, p.config);
      assert.ok(q.schedule && (q.schedule.strategy === 'random' || q.schedule.strategy === 'pct'));
      if (p.schedule?.strategy === 'random' || p.schedule?.strategy === 'pct') {
        assert.equal(q.schedule.strategy, p.schedule.strategy);
        assert.equal(q.schedule.depth, p.schedule.depth);
      }
      assert.notEqual(q, p);
    }
  });
});
