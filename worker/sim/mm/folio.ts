// The operations on struct folio (include/pagemap.ts): its flags
// (include/linux/page-flags.h), lock, writeback and references (mm/filemap.c,
// mm/swap.c). A folio is 2^order pages of one file, naturally aligned.
//
// The flags behave as the kernel's do, including the sharp edges the seeded
// bugs depend on: folio_end_read() XORs its bits in, so "success" on a folio
// that is already uptodate clears the flag; the VM_BUG_ON that catches it is
// the kernel's own DEBUG_VM check, which this sim always has on.

import { aliasRead, aliasWrite } from '../alias.js';
import { violation } from '../checks.js';
import { covSite } from '../cov.js';
import type { Co, Sched } from '../sched.js';
import { forgetPostEofStores } from './post-eof-stores.js';
import { type ProvPath, provenance } from '../provenance.js';
import { type Folio, PG_dirty, PG_error, PG_locked, PG_uptodate, PG_writeback } from '../include/pagemap.js';

// Alias coverage sites (alias.ts): the flag tests and changes other contexts race with.
const A_TEST_UPTODATE = covSite('alias:folio_test_uptodate');
const A_TEST_DIRTY = covSite('alias:folio_test_dirty');
const A_TEST_WRITEBACK = covSite('alias:folio_test_writeback');
const A_END_READ = covSite('alias:folio_end_read');
const A_MARK_UPTODATE = covSite('alias:folio_mark_uptodate');
const A_CLEAR_UPTODATE = covSite('alias:folio_clear_uptodate');
const A_START_WRITEBACK = covSite('alias:folio_start_writeback');
const A_END_WRITEBACK = covSite('alias:folio_end_writeback');
const A_ZERO_SEGMENT = covSite('alias:folio_zero_segment');

export function folioTestLocked(f: Folio): boolean {
  return (f.flags & PG_locked) !== 0;
}
export function folioTestUptodate(f: Folio): boolean {
  aliasRead(f.alias, A_TEST_UPTODATE);
  return (f.flags & PG_uptodate) !== 0;
}
export function folioTestDirty(f: Folio): boolean {
  aliasRead(f.alias, A_TEST_DIRTY);
  return (f.flags & PG_dirty) !== 0;
}
export function folioTestWriteback(f: Folio): boolean {
  aliasRead(f.alias, A_TEST_WRITEBACK);
  return (f.flags & PG_writeback) !== 0;
}
export function folioTestError(f: Folio): boolean {
  return (f.flags & PG_error) !== 0;
}
export function folioClearError(f: Folio): void {
  f.flags &= ~PG_error;
}

export function folioTrylock(f: Folio): boolean {
  if (f.flags & PG_locked) return false;
  f.flags |= PG_locked;
  return true;
}

/** folio_lock: sleep until the lock bit is ours. A preemption point before it is tried. */
export function* folioLock(s: Sched, f: Folio): Co<void> {
  if (s.preemptPoint()) yield;
  while (!folioTrylock(f)) {
    yield* s.waitUntil(f.waitQueue(), () => (f.flags & PG_locked) === 0);
  }
}

export function folioUnlock(s: Sched, f: Folio): void {
  if (!(f.flags & PG_locked)) violation(s, 'BUG', 'folio_unlock:not-locked', 'folio_unlock', `folio ${f.index} is not locked`);
  f.private_?.assertUnlocked(s, f);
  f.flags &= ~PG_locked;
  f.wake(s);
}

/**
 * folio_end_read: unlock, and mark uptodate on success, with one XOR.
 * VM_BUG_ON_FOLIO(success && folio_test_uptodate(folio)) is the check that
 * catches a folio marked uptodate while its read was still pending.
 */
export function folioEndRead(s: Sched, f: Folio, success: boolean): void {
  if (!(f.flags & PG_locked)) violation(s, 'BUG', 'folio_end_read:not-locked', 'folio_end_read', `folio ${f.index} is not locked`);
  if (success && f.flags & PG_uptodate) {
    violation(s, 'BUG', 'folio_end_read:already-uptodate', 'folio_end_read', `read of folio ${f.index} ended on an uptodate folio`);
  }
  aliasWrite(f.alias, A_END_READ);
  f.flags ^= success ? PG_locked | PG_uptodate : PG_locked;
  f.wake(s);
}

export function folioMarkUptodate(f: Folio): void {
  aliasWrite(f.alias, A_MARK_UPTODATE);
  f.flags |= PG_uptodate;
}

/** folio_clear_uptodate: the folio's contents are no longer what storage holds. */
export function folioClearUptodate(s: Sched, f: Folio): void {
  f.private_?.assertClearingUptodate(s, f);
  aliasWrite(f.alias, A_CLEAR_UPTODATE);
  f.flags &= ~PG_uptodate;
}

export function* folioWaitLocked(s: Sched, f: Folio): Co<void> {
  yield* s.waitUntil(f.waitQueue(), () => (f.flags & PG_locked) === 0);
}

/** folio_wait_writeback: sleep until PG_writeback is clear. */
export function* folioWaitWriteback(s: Sched, f: Folio): Co<void> {
  if (!(f.flags & PG_writeback)) return;
  yield* s.waitUntil(f.waitQueue(), () => (f.flags & PG_writeback) === 0);
}

/**
 * folio_wait_stable: wait for writeback only if the device needs the data
 * stable while it is written (BLK_FEAT_STABLE_WRITES). The simulated device
 * does not, so nothing waits here, as on most real disks.
 */
export function* folioWaitStable(_s: Sched, _f: Folio): Co<void> {}

export function folioStartWriteback(s: Sched, f: Folio): void {
  if (f.flags & PG_writeback) violation(s, 'BUG', 'folio_start_writeback:already', '__folio_start_writeback', `folio ${f.index} already under writeback`);
  aliasWrite(f.alias, A_START_WRITEBACK);
  f.flags |= PG_writeback;
}

export function folioEndWriteback(s: Sched, f: Folio): void {
  if (!(f.flags & PG_writeback)) violation(s, 'BUG', 'folio_end_writeback:not-writeback', 'folio_end_writeback', `folio ${f.index} not under writeback`);
  aliasWrite(f.alias, A_END_WRITEBACK);
  f.flags &= ~PG_writeback;
  f.wake(s);
}

export function folioGet(f: Folio): void {
  // A folio whose last reference went has given its memory back to the pool:
  // a new reference would let two folios share one buffer. That is a bug of
  // the simulator (a lookup that did not hold its reference), not a finding.
  if (f.refcount === 0 && f.mapping === null) throw new Error(`folio_get on freed folio ${f.index} (order ${f.order})`);
  f.refcount++;
}

/** folio_put: drop a reference; the last one frees the folio. */
export function folioPut(s: Sched, f: Folio): void {
  // folio_put_testzero: VM_BUG_ON_FOLIO(folio_ref_count(folio) == 0, folio).
  if (f.refcount <= 0) violation(s, 'BUG', 'folio_put:underflow', 'folio_put', `folio ${f.index} refcount underflow`);
  if (--f.refcount !== 0) return;
  freePageIsBad(s, f);
  f.free();
}

/**
 * free_pages_prepare -> free_page_is_bad: memory going back to the page
 * allocator must be in no page cache (the cache holds a reference for as
 * long as the folio is in it, so the last one going while it is cached is a
 * put too many), mapped by no pte, and carry none of PAGE_FLAGS_CHECK_AT_FREE
 * (writeback, private); otherwise bad_page() reports "BUG: Bad page state".
 * Runs once per freed folio. PG_locked, also in that mask, is not checked:
 * reclaim and mapping_evict_folio here lock a folio without taking a
 * reference of their own (the kernel's callers hold one from the lookup),
 * so the sim frees the folio they remove before they unlock it.
 */
function freePageIsBad(s: Sched, f: Folio): void {
  if (f.mapping !== null) violation(s, 'BUG', 'bad_page:non-NULL-mapping', 'free_page_is_bad', `folio ${f.index} freed while in the page cache`);
  if (f.mapcount !== 0) violation(s, 'BUG', 'bad_page:nonzero-mapcount', 'free_page_is_bad', `folio ${f.index} freed with mapcount ${f.mapcount}`);
  if (f.flags & PG_writeback || f.private_ !== null) {
    violation(s, 'BUG', 'bad_page:PAGE_FLAGS_CHECK_AT_FREE', 'free_page_is_bad', `folio ${f.index} freed with flags ${f.flags}${f.private_ ? ' and private' : ''}`);
  }
}

/**
 * Zero [from, to) of the folio's bytes: folio_zero_segment(), called by `fn`
 * (the provenance of those zeroes; a read zeroing a hole says 'hole').
 */
export function folioZeroSegment(f: Folio, from: number, to: number, fn: string, path: ProvPath = 'zero'): void {
  if (to <= from) return;
  aliasWrite(f.alias, A_ZERO_SEGMENT);
  f.data.fill(0, from, to);
  provenance()?.mark(f.data, from, to, path, fn);
  // Zeroed bytes hold no store made past EOF any more (pagecache_isize_extended, truncation, writeback at EOF).
  const m = f.mapping;
  if (m !== null && m.postEofStores !== null) forgetPostEofStores(m, f.pos + from, f.pos + to);
}

/**
 * The folio's state class for coverage: its flags, whether it carries
 * fs-private state (the ifs), and whether it is a large folio (6 bits).
 */
export function folioClass(f: Folio): number {
  const fl = f.flags;
  return (fl & (PG_locked | PG_uptodate | PG_dirty | PG_writeback)) | (f.private_ ? 16 : 0) | (f.order > 0 ? 32 : 0);
}
