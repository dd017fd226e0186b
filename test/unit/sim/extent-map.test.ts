// The in-core extent map (fs/extent-map.ts): sorted, non-overlapping, merged,
// with a sequence number bumped on every change (XFS if_seq).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ExtState, type Extent, ExtentMap } from '../../../worker/sim/fs/extent-map.js';

const D = ExtState.Delalloc;
const U = ExtState.Unwritten;
const W = ExtState.Written;

function contiguous(a: Extent, b: Extent): boolean {
  return a.state === b.state && a.lblk + a.len === b.lblk && (a.pblk < 0 ? b.pblk < 0 : a.pblk + a.len === b.pblk);
}

function checkInvariants(m: ExtentMap, merged = true): void {
  const e = m.exts;
  for (let i = 0; i < e.length; i++) {
    const x = e[i]!;
    assert.ok(x.len > 0, `extent ${i} has length ${x.len}`);
    assert.ok(x.lblk >= 0);
    if (x.state === D) assert.equal(x.pblk, -1, 'delalloc has no physical block');
    else assert.ok(x.pblk >= 0, 'allocated extent has a physical block');
    if (i > 0) {
      const p = e[i - 1]!;
      assert.ok(p.lblk + p.len <= x.lblk, `extents ${i - 1} and ${i} overlap or are unsorted: ${JSON.stringify(e)}`);
      if (merged) assert.ok(!contiguous(p, x), `extents ${i - 1} and ${i} should be merged: ${JSON.stringify(e)}`);
    }
  }
}

function plain(m: ExtentMap): [number, number, number, ExtState][] {
  return m.exts.map((x) => [x.lblk, x.len, x.pblk, x.state]);
}

test('set: inserts sorted and merges contiguous neighbours of the same state', () => {
  const m = new ExtentMap();
  m.set(10, 5, 100, W);
  m.set(0, 5, 200, W);
  assert.deepEqual(plain(m), [[0, 5, 200, W], [10, 5, 100, W]]);
  m.set(15, 5, 105, W);
  assert.deepEqual(plain(m), [[0, 5, 200, W], [10, 10, 100, W]], 'physically contiguous: merged');
  m.set(5, 5, 300, W);
  assert.deepEqual(plain(m), [[0, 5, 200, W], [5, 5, 300, W], [10, 10, 100, W]], 'not physically contiguous: kept apart');
  m.set(20, 3, 110, U);
  assert.deepEqual(plain(m).at(-1), [20, 3, 110, U], 'different state: not merged');
  checkInvariants(m);
});

test('set: delalloc extents merge by logical contiguity', () => {
  const m = new ExtentMap();
  m.set(0, 4, -1, D);
  m.set(4, 4, -1, D);
  assert.deepEqual(plain(m), [[0, 8, -1, D]]);
});

test('set: overwrites what was there and returns the removed pieces', () => {
  const m = new ExtentMap();
  m.set(0, 10, 100, W);
  const removed = m.set(3, 4, -1, D);
  assert.deepEqual(removed.map((x) => [x.lblk, x.len, x.pblk, x.state]), [[3, 4, 103, W]]);
  assert.deepEqual(plain(m), [[0, 3, 100, W], [3, 4, -1, D], [7, 3, 107, W]]);
  checkInvariants(m);
});

test('remove: splits at both edges; holes left', () => {
  const m = new ExtentMap();
  m.set(0, 10, 100, W);
  m.set(20, 10, 500, U);
  const removed = m.remove(5, 20);
  assert.deepEqual(removed.map((x) => [x.lblk, x.len, x.pblk]), [[5, 5, 105], [20, 5, 500]]);
  assert.deepEqual(plain(m), [[0, 5, 100, W], [25, 5, 505, U]]);
  assert.deepEqual(m.lookup(7), { ext: null, holeLen: 18 });
  assert.equal(m.lookup(40).holeLen, Infinity);
  checkInvariants(m);
});

test('seq: bumps on every change, not on a no-op remove or lookup', () => {
  const m = new ExtentMap();
  let s = m.seq;
  m.set(0, 4, 10, W);
  assert.ok(m.seq > s);
  s = m.seq;
  m.lookup(2);
  m.hasAny(0, 100);
  assert.equal(m.seq, s);
  m.remove(100, 10);
  assert.equal(m.seq, s, 'removing a hole changes nothing');
  m.remove(1, 1);
  assert.ok(m.seq > s);
  s = m.seq;
  m.convert(0, 4, W, U);
  assert.ok(m.seq > s);
  s = m.seq;
  m.shift(2, 5);
  assert.ok(m.seq > s);
  s = m.seq;
  m.set(100, 4, 50, W);
  assert.ok(m.seq > s);
  s = m.seq;
  m.splitAt(102);
  assert.ok(m.seq > s, 'a split bumps');
});

test('convert: only pieces in the from-state change; result merges', () => {
  const m = new ExtentMap();
  m.set(0, 4, 100, W);
  m.set(4, 4, 104, U);
  m.set(8, 4, -1, D);
  m.convert(0, 12, U, W);
  assert.deepEqual(plain(m), [[0, 8, 100, W], [8, 4, -1, D]]);
  m.set(20, 10, 300, U);
  m.convert(22, 3, U, W);
  assert.deepEqual(plain(m).slice(2), [[20, 2, 300, U], [22, 3, 302, W], [25, 5, 305, U]]);
  checkInvariants(m);
});

test('splitAt: makes an extent start at lblk, keeping the physical mapping', () => {
  const m = new ExtentMap();
  m.set(0, 10, 100, W);
  m.splitAt(4);
  assert.deepEqual(plain(m), [[0, 4, 100, W], [4, 6, 104, W]]);
  checkInvariants(m, false);
  const s = m.seq;
  m.splitAt(4);
  m.splitAt(50);
  assert.equal(m.seq, s, 'nothing to split');
});

test('insert (split + shift): a hole opens, mapping moves', () => {
  const m = new ExtentMap();
  m.set(0, 10, 100, W);
  m.splitAt(4);
  m.shift(4, 3);
  assert.deepEqual(plain(m), [[0, 4, 100, W], [7, 6, 104, W]]);
  assert.equal(m.lookup(5).ext, null);
  checkInvariants(m);
});

test('collapse (remove + shift): the tail moves down and merges with what it meets', () => {
  // xfs_bmap_collapse_extents / ext4_ext_shift_extents merge an extent with its
  // left neighbour when they become contiguous (xfs_bmse_can_merge).
  const m = new ExtentMap();
  m.set(0, 4, 100, W);
  m.set(8, 4, 104, W);
  m.remove(4, 4);
  m.shift(8, -4);
  checkInvariants(m, false);
  assert.deepEqual(plain(m), [[0, 8, 100, W]], 'contiguous after the shift: one extent');
});

test('random ops agree with a per-block model and keep the invariants', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const N = 64;
  for (let round = 0; round < 200; round++) {
    const m = new ExtentMap();
    const model: ({ pblk: number; state: ExtState } | null)[] = new Array<null>(N).fill(null);
    for (let step = 0; step < 30; step++) {
      const lblk = rnd(N);
      const len = 1 + rnd(Math.min(12, N - lblk));
      const kind = rnd(3);
      if (kind === 0) {
        const state = ([D, U, W] as const)[rnd(3)]!;
        const pblk = state === D ? -1 : 1000 + rnd(200);
        m.set(lblk, len, pblk, state);
        for (let i = 0; i < len; i++) model[lblk + i] = { pblk: pblk < 0 ? -1 : pblk + i, state };
      } else if (kind === 1) {
        m.remove(lblk, len);
        for (let i = 0; i < len; i++) model[lblk + i] = null;
      } else {
        m.convert(lblk, len, U, W);
        for (let i = 0; i < len; i++) {
          const b = model[lblk + i];
          if (b && b.state === U) model[lblk + i] = { pblk: b.pblk, state: W };
        }
      }
      checkInvariants(m);
      for (let b = 0; b < N; b++) {
        const { ext } = m.lookup(b);
        const want = model[b];
        if (!want) assert.equal(ext, null, `block ${b} should be a hole`);
        else {
          assert.ok(ext, `block ${b} should be mapped`);
          assert.equal(ext.state, want.state);
          assert.equal(ext.pblk < 0 ? -1 : ext.pblk + (b - ext.lblk), want.pblk);
        }
        assert.equal(m.hasAny(b, 1), want !== null);
      }
    }
  }
});

test('the map checks its own invariant where a change touches it (a simulator bug is an Error)', () => {
  const m = new ExtentMap();
  m.set(0, 4, 100, ExtState.Written);
  m.set(10, 2, 200, ExtState.Written);
  // Corrupt the list behind the map's back: an extent overlapping its neighbour.
  m.exts[0]!.len = 12;
  assert.throws(() => m.set(12, 1, 300, ExtState.Written), /extent map: .* overlaps or follows/);
  const d = new ExtentMap();
  d.set(0, 2, -1, ExtState.Delalloc);
  d.exts[0]!.pblk = 7;
  assert.throws(() => d.splitAt(1), /extent map: bad extent/);
  const s = new ExtentMap();
  s.set(0, 2, 10, ExtState.Written);
  s.set(5, 2, 20, ExtState.Written);
  // A collapse that removed nothing would move the tail over the head.
  assert.throws(() => s.shift(5, -4), /extent map: .* overlaps or follows/);
});
