// Tags kept as runs (worker/sim/byte-runs.ts) against a tag per byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteRuns } from '../../../worker/sim/byte-runs.js';
import { Rng } from '../../../worker/sim/schedule.js';

const N = 256;

function check(runs: ByteRuns, ref: number[], what: string): void {
  for (let i = 0; i < N; i++) assert.equal(runs.get(i), ref[i], `${what}: byte ${i}`);
  // Runs tile what is asked, adjacent runs differ, and each holds what the bytes hold.
  const list = runs.runs(0, N);
  assert.equal(list[0]![0], 0);
  assert.equal(list[list.length - 1]![1], N);
  for (let k = 0; k < list.length; k++) {
    const [a, b, t] = list[k]!;
    if (k > 0) assert.equal(a, list[k - 1]![1], `${what}: contiguous`);
    if (k > 0) assert.notEqual(t, list[k - 1]![2], `${what}: merged`);
    for (let i = a; i < b; i++) assert.equal(ref[i], t, `${what}: run [${a}, ${b})`);
  }
}

test('set and copy agree with a tag per byte, and runs stay merged', () => {
  const rng = new Rng(7);
  for (let round = 0; round < 40; round++) {
    const runs = new ByteRuns(0);
    const other = new ByteRuns(100);
    const ref = new Array<number>(N).fill(0);
    const oref = new Array<number>(N).fill(100);
    for (let step = 0; step < 60; step++) {
      const a = rng.int(N);
      const b = a + rng.int(N - a + 1);
      const what = `round ${round} step ${step}`;
      if (rng.int(3) === 0) {
        const tag = 100 + rng.int(4);
        other.set(a, b, tag);
        for (let i = a; i < b; i++) oref[i] = tag;
        const to = rng.int(N - (b - a) + 1);
        const map = rng.int(2) === 0 ? undefined : (t: number): number => t + 1000;
        runs.copyFrom(other, a, to, b - a, map);
        for (let i = 0; i < b - a; i++) ref[to + i] = map ? oref[a + i]! + 1000 : oref[a + i]!;
        check(runs, ref, `${what} copy`);
      } else {
        const tag = rng.int(3);
        runs.set(a, b, tag);
        for (let i = a; i < b; i++) ref[i] = tag;
        check(runs, ref, `${what} set`);
      }
    }
  }
});

test('a copy within one run list (a shift) reads the source before it writes', () => {
  const runs = new ByteRuns(0);
  runs.set(0, 10, 1);
  runs.set(10, 20, 2);
  runs.copyFrom(runs, 5, 10, 10);
  assert.deepEqual(runs.runs(0, 25), [[0, 15, 1], [15, 20, 2], [20, 25, 0]]);
});
