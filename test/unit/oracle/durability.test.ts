// The durability oracle's change runs: the word-skipping scan finds exactly
// the runs a byte-by-byte comparison finds, at any length and alignment.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { type Run, changedRuns } from '../../../worker/oracle/durability.js';

/** The definition: maximal runs of cur where the byte differs from last's (or last has none). */
function naiveRuns(last: Uint8Array, cur: Uint8Array): Run[] {
  const out: Run[] = [];
  for (let i = 0; i < cur.length; ) {
    if (i < last.length && cur[i] === last[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < cur.length && !(j < last.length && cur[j] === last[j])) j++;
    out.push({ off: i, data: cur.slice(i, j) });
    i = j;
  }
  return out;
}

/** `len` bytes at byte offset `shift` of a larger buffer (shift 1..3: not word-aligned). */
function at(shift: number, bytes: Uint8Array): Uint8Array {
  const buf = new Uint8Array(bytes.length + shift);
  buf.set(bytes, shift);
  return buf.subarray(shift);
}

test('changedRuns: the same runs as a byte-by-byte scan, for changed spans, growth, shrinkage and unaligned arrays', () => {
  const rng = new FuzzRng(9);
  for (let round = 0; round < 400; round++) {
    const len = rng.int(3000);
    const last = new Uint8Array(len);
    for (let i = 0; i < len; i++) last[i] = rng.int(3);
    const cur = last.slice(0, Math.max(0, len + rng.range(-300, 300)));
    if (cur.length > len) for (let i = len; i < cur.length; i++) cur[i] = rng.int(3);
    for (let k = rng.int(6); k > 0 && cur.length > 0; k--) {
      const off = rng.int(cur.length);
      const n = Math.min(cur.length - off, rng.range(1, 200));
      for (let i = off; i < off + n; i++) cur[i] = rng.int(3);
    }
    const [a, b] = [at(rng.int(4), last), at(rng.int(4), cur)];
    const got: Run[] = [];
    changedRuns(a, b, got);
    assert.deepEqual(got, naiveRuns(last, cur), `round ${round}`);
  }
});

test('changedRuns: equal contents give no run; an empty last makes the whole file one run', () => {
  const cur = Uint8Array.from({ length: 100 }, (_, i) => i);
  const none: Run[] = [];
  changedRuns(cur.slice(), cur, none);
  assert.deepEqual(none, []);
  const all: Run[] = [];
  changedRuns(new Uint8Array(0), cur, all);
  assert.deepEqual(all, [{ off: 0, data: cur }]);
});
