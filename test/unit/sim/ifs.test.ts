// struct iomap_folio_state lifetime and bits (fs/iomap/buffered-io.c).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  folioIfs,
  ifsAlloc,
  ifsBlockDirty,
  ifsBlockUptodate,
  ifsFree,
  ifsIsFullyUptodate,
  iomapDirtyFolio,
  iomapInvalidateFolio,
  iomapReleaseFolio,
  iomapSetRangeDirty,
  iomapSetRangeUptodate,
} from '../../../worker/sim/iomap/ifs.js';
import { folioMarkUptodate, folioTestDirty, folioTestUptodate } from '../../../worker/sim/mm/folio.js';
import { Sched } from '../../../worker/sim/sched.js';
import { throwsViolation } from './helpers.js';
import { Folio, PG_dirty, AddressSpace } from '../../../worker/sim/include/pagemap.js';

const BITS_1K = 10;
const BITS_4K = 12;

function setup(order = 2): { s: Sched; f: Folio } {
  const s = new Sched(1000);
  const m = new AddressSpace(s, 4, () => 1 << 20);
  return { s, f: new Folio(m, 0, order) };
}

test('ifs_alloc: none for a folio of one block', () => {
  const { f } = setup(0);
  assert.equal(ifsAlloc(f, BITS_4K), null);
  assert.equal(f.private_, null);
  const big = setup(2).f;
  assert.equal(ifsAlloc(big, 14), null, '16 KiB folio with 16 KiB blocks: one block');
});

test('ifs_alloc: a new ifs on a clean, non-uptodate folio has no bits', () => {
  const { f } = setup(2);
  const ifs = ifsAlloc(f, BITS_1K);
  assert.ok(ifs);
  assert.equal(ifs.nrBlocks, 16);
  for (let b = 0; b < 16; b++) {
    assert.equal(ifsBlockUptodate(ifs, b), false);
    assert.equal(ifsBlockDirty(ifs, b), false);
  }
  assert.equal(ifs.readBytesPending, 0);
  assert.equal(ifs.writeBytesPending, 0);
});

test('ifs_alloc: copies uptodate and dirty from the folio flags', () => {
  const { f } = setup(2);
  folioMarkUptodate(f);
  f.flags |= PG_dirty;
  const ifs = ifsAlloc(f, BITS_4K);
  assert.ok(ifs);
  assert.equal(ifs.nrBlocks, 4);
  for (let b = 0; b < 4; b++) {
    assert.equal(ifsBlockUptodate(ifs, b), true);
    assert.equal(ifsBlockDirty(ifs, b), true);
  }
  const g = setup(2).f;
  folioMarkUptodate(g);
  const ifs2 = ifsAlloc(g, BITS_4K)!;
  assert.equal(ifsIsFullyUptodate(ifs2), true);
  for (let b = 0; b < 4; b++) assert.equal(ifsBlockDirty(ifs2, b), false, 'clean folio: no dirty bits');
});

test('ifs_alloc: returns the existing ifs', () => {
  const { f } = setup(2);
  const a = ifsAlloc(f, BITS_1K);
  folioMarkUptodate(f);
  const b = ifsAlloc(f, BITS_1K);
  assert.equal(a, b);
  assert.equal(ifsBlockUptodate(b!, 0), false, 'existing ifs is not re-initialised');
});

test('ifs_free: detaches; agrees with the folio flag -> no warning', () => {
  const { s, f } = setup(2);
  ifsAlloc(f, BITS_1K);
  ifsFree(s, f);
  assert.equal(folioIfs(f), null);
  const g = setup(2);
  folioMarkUptodate(g.f);
  ifsAlloc(g.f, BITS_1K);
  ifsFree(g.s, g.f);
  assert.equal(folioIfs(g.f), null);
});

test('ifs_free WARNs when the folio is uptodate but the ifs is not fully uptodate', () => {
  const { s, f } = setup(2);
  ifsAlloc(f, BITS_1K);
  folioMarkUptodate(f);
  throwsViolation(() => ifsFree(s, f), 'ifs_free:ifs-not-uptodate');
});

test('ifs_free WARNs when the ifs is fully uptodate but the folio is not', () => {
  const { s, f } = setup(2);
  const ifs = ifsAlloc(f, BITS_4K)!;
  ifs.state.fill(1);
  throwsViolation(() => ifsFree(s, f), 'ifs_free:folio-not-uptodate');
});

test('ifs_free WARNs with reads or writes pending', () => {
  const a = setup(2);
  ifsAlloc(a.f, BITS_4K)!.readBytesPending = 4096;
  throwsViolation(() => ifsFree(a.s, a.f), 'ifs_free:read-pending');
  const b = setup(2);
  ifsAlloc(b.f, BITS_4K)!.writeBytesPending = 4096;
  throwsViolation(() => ifsFree(b.s, b.f), 'ifs_free:write-pending');
});

test('iomap_set_range_uptodate: the folio is marked only once every block is', () => {
  const { f } = setup(2);
  const ifs = ifsAlloc(f, BITS_1K)!;
  iomapSetRangeUptodate(f, 0, 8192, BITS_1K);
  assert.equal(folioTestUptodate(f), false);
  for (let b = 0; b < 8; b++) assert.equal(ifsBlockUptodate(ifs, b), true);
  assert.equal(ifsBlockUptodate(ifs, 8), false);
  iomapSetRangeUptodate(f, 8192, 7168, BITS_1K);
  assert.equal(folioTestUptodate(f), false, 'last block still missing');
  iomapSetRangeUptodate(f, 16383, 1, BITS_1K);
  assert.equal(folioTestUptodate(f), true);
});

test('iomap_set_range_uptodate: sub-block ranges set the blocks they touch', () => {
  const { f } = setup(2);
  const ifs = ifsAlloc(f, BITS_1K)!;
  iomapSetRangeUptodate(f, 1000, 100, BITS_1K);
  assert.equal(ifsBlockUptodate(ifs, 0), true);
  assert.equal(ifsBlockUptodate(ifs, 1), true);
  assert.equal(ifsBlockUptodate(ifs, 2), false);
});

test('iomap_set_range_uptodate: never marks the folio while a read is pending', () => {
  const { f } = setup(2);
  const ifs = ifsAlloc(f, BITS_1K)!;
  ifs.readBytesPending = 4096;
  iomapSetRangeUptodate(f, 0, 16384, BITS_1K);
  assert.equal(ifsIsFullyUptodate(ifs), true, 'the bits are set');
  assert.equal(folioTestUptodate(f), false, 'but folio_end_read will set the flag');
});

test('iomap_set_range_uptodate: without an ifs, marks the folio; no-op on an uptodate folio', () => {
  const { f } = setup(0);
  iomapSetRangeUptodate(f, 0, 100, BITS_4K);
  assert.equal(folioTestUptodate(f), true);
  const g = setup(2).f;
  const ifs = ifsAlloc(g, BITS_1K)!;
  folioMarkUptodate(g);
  iomapSetRangeUptodate(g, 0, 1024, BITS_1K);
  assert.equal(ifsBlockUptodate(ifs, 0), false, 'uptodate folio: bits untouched');
});

test('iomap_dirty_folio: allocates the ifs from the flags and dirties every block', () => {
  const { f } = setup(2);
  folioMarkUptodate(f);
  assert.equal(iomapDirtyFolio(f, BITS_1K), true);
  const ifs = folioIfs(f)!;
  assert.ok(ifs);
  assert.equal(ifsIsFullyUptodate(ifs), true);
  for (let b = 0; b < 16; b++) assert.equal(ifsBlockDirty(ifs, b), true);
  assert.equal(folioTestDirty(f), true);
  assert.equal(iomapDirtyFolio(f, BITS_1K), false, 'already dirty');
});

test('iomap_release_folio refuses a dirty folio, else frees the ifs', () => {
  const { s, f } = setup(2);
  folioMarkUptodate(f);
  ifsAlloc(f, BITS_1K);
  iomapSetRangeDirty(f, 0, 1024, BITS_1K);
  f.flags |= PG_dirty;
  assert.equal(iomapReleaseFolio(s, f), false);
  assert.ok(folioIfs(f), 'ifs kept');
  f.flags &= ~PG_dirty;
  assert.equal(iomapReleaseFolio(s, f), true);
  assert.equal(folioIfs(f), null);
});

test('iomap_invalidate_folio acts only on the whole folio', () => {
  const { s, f } = setup(2);
  folioMarkUptodate(f);
  iomapDirtyFolio(f, BITS_1K);
  iomapInvalidateFolio(s, f, 0, 8192);
  assert.ok(folioIfs(f), 'partial range: ifs kept');
  assert.equal(folioTestDirty(f), true, 'partial range: still dirty');
  iomapInvalidateFolio(s, f, 4096, 12288);
  assert.ok(folioIfs(f));
  iomapInvalidateFolio(s, f, 0, 16384);
  assert.equal(folioIfs(f), null);
  assert.equal(folioTestDirty(f), false, 'whole folio: dirty cancelled');
});

test('iomap_invalidate_folio WARNs on a folio under writeback', () => {
  const { s, f } = setup(2);
  folioMarkUptodate(f);
  ifsAlloc(f, BITS_1K);
  f.flags |= 1 << 3;
  throwsViolation(() => iomapInvalidateFolio(s, f, 0, f.size), 'iomap_invalidate_folio:writeback');
});
