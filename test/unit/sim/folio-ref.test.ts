// Folio references across sleeps: a range walk (invalidate_inode_pages2_range)
// that sleeps on one folio must not take a reference on a later folio that
// reclaim removed and freed meanwhile (find_get_entries holds references for
// the folios it returns; the sim re-checks folio->mapping instead).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { filemapGetFolio, filemapRemoveFolio } from '../../../worker/sim/mm/filemap.js';
import { folioPut, folioUnlock } from '../../../worker/sim/mm/folio.js';
import { Sched, WaitQueue } from '../../../worker/sim/sched.js';
import { Folio, AddressSpace, FGP_CREAT, FGP_LOCK } from '../../../worker/sim/include/pagemap.js';
import { invalidateInodePages2Range } from '../../../worker/sim/mm/truncate.js';
import { throwsViolation } from './helpers.js';

/** A mapping of 1 MiB whose filesystem operations do nothing (and release any private state). */
function testMapping(s: Sched, maxOrder: number): AddressSpace {
  const m = new AddressSpace(s, maxOrder, () => 1 << 20);
  m.aops = {
    readFolio: function* () { return 0; },
    dirtyFolio: () => false,
    invalidateFolio: () => {},
    releaseFolio: () => true,
    writepages: function* () { return 0; },
  };
  return m;
}

test('invalidate_inode_pages2_range skips a folio reclaimed while it slept on an earlier folio lock', () => {
  const s = new Sched(10_000);
  const m = testMapping(s, 4);
  let held: Folio | null = null;
  let later: Folio | null = null;
  let ret = 1;
  // t0: holds folio 0 locked (a reader), then plays kswapd on folio 4 (order 2).
  s.spawn('t0', (function* () {
    held = (yield* filemapGetFolio(m, 0, FGP_LOCK | FGP_CREAT, 0))!;
    later = (yield* filemapGetFolio(m, 4, FGP_CREAT, 2))!;
    folioPut(s, later); // only the page cache's reference is left
    // Events run when every thread sleeps: t1 is then asleep on folio 0's lock.
    const wq = new WaitQueue('test');
    let go = false;
    s.queueEvent({ name: 'kswapd', run: () => { go = true; s.wakeAll(wq); } });
    yield* s.waitUntil(wq, () => go);
    // __remove_mapping: the cache's reference goes, the folio is freed.
    filemapRemoveFolio(m, later);
    folioUnlock(s, held);
    folioPut(s, held);
  })());
  // t1: the direct write's invalidation, sleeping on folio 0's lock.
  s.spawn('t1', (function* () {
    ret = yield* invalidateInodePages2Range(m, 0, 7, () => {});
  })());
  assert.equal(s.run().kind, 'done');
  assert.equal(ret, 0);
  assert.equal(m.nrpages, 0);
  assert.equal(later!.refcount, 0);
  // The freed folio's memory went back to the pool once: two new folios of its order do not share it.
  const a = new Folio(m, 8, 2);
  const b = new Folio(m, 12, 2);
  assert.notEqual(a.data.buffer, b.data.buffer);
});

test('folio_put: a put too many on a cached folio is the kernel\'s bad_page (non-NULL mapping), not a silent leak', () => {
  const s = new Sched(10_000);
  const m = testMapping(s, 2);
  s.spawn('t0', (function* () {
    // A large folio: it goes to the LRU at once, no per-CPU batch holds a reference.
    const f = (yield* filemapGetFolio(m, 0, FGP_CREAT, 1))!;
    assert.equal(f.order, 1);
    folioPut(s, f); // the caller's reference
    folioPut(s, f); // the page cache's: nobody may drop it but filemap_remove_folio
  })());
  throwsViolation(() => s.run(), 'bad_page:non-NULL-mapping');
});

test('folio_put: freeing a folio a pte still maps, or one with private state, is bad_page', () => {
  const s = new Sched(10_000);
  const m = testMapping(s, 2);
  const mapped = new Folio(m, 0, 0);
  mapped.mapping = null;
  mapped.mapcount = 1;
  throwsViolation(() => folioPut(s, mapped), 'bad_page:nonzero-mapcount');
  const priv = new Folio(m, 1, 0);
  priv.mapping = null;
  priv.private_ = { kind: 'ifs', assertUnlocked: () => undefined, assertClearingUptodate: () => undefined };
  throwsViolation(() => folioPut(s, priv), 'bad_page:PAGE_FLAGS_CHECK_AT_FREE');
  const under = new Folio(m, 2, 0);
  under.mapping = null;
  folioPut(s, under);
  throwsViolation(() => folioPut(s, under), 'folio_put:underflow');
});
