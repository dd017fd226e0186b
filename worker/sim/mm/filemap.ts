// The page cache operations of mm/filemap.c on struct address_space
// (include/pagemap.ts): lookup and creation of folios (large folios
// included), the generic buffered read, and writeback-and-wait. Taking
// folios out (truncation, invalidation) is mm/truncate.ts.

import { folioAddLru } from './swap.js';
import { aliasRead, aliasWrite } from '../alias.js';
import { violation } from '../checks.js';
import { errseqSet } from '../errseq.js';
import { EIO, ENOSPC } from '../errno.js';
import type { Co } from '../sched.js';
import {
  folioClass,
  folioClearError,
  folioGet,
  folioLock,
  folioPut,
  folioTestLocked,
  folioTestUptodate,
  folioTestWriteback,
  folioUnlock,
  folioWaitLocked,
  folioWaitWriteback,
} from './folio.js';
import { cov, covSite, covState } from '../cov.js';
import { forgetPostEofStores } from './post-eof-stores.js';
import { provenance } from '../provenance.js';
import { AS_EIO, AS_ENOSPC, type AddressSpace, FGP_CREAT, FGP_LOCK, Folio, PAGE_SIZE, PG_locked } from '../include/pagemap.js';

const C_GET_FOLIO_RACE = covSite('__filemap_get_folio:raced');
const C_GET_FOLIO_NEW = covSite('__filemap_get_folio:alloc');
const C_SET_ERROR = covSite('mapping_set_error');
const C_WRITE_WAIT = covSite('filemap_write_and_wait_range');
const C_UPTODATE_FOLIO = covSite('filemap_get_pages');
const C_UPDATE_PAGE = covSite('filemap_update_page');
const A_REMOVE_FOLIO = covSite('alias:filemap_remove_folio');
const A_COPY_TO_USER = covSite('alias:filemap_read:copy');





/** unmap_mapping_folio through the folio's mapping (a no-op for an unmapped file). */
export function unmapMappingFolio(folio: Folio): void {
  const m = folio.mapping;
  if (m && m.unmapFolio && folio.mapcount > 0) m.unmapFolio(folio);
}

/** filemap_get_folio without a reference: the folio caching `index`, if any. */
export function filemapLookup(mapping: AddressSpace, index: number): Folio | undefined {
  return mapping.pages.get(index);
}

/** The largest order a new folio at index can have without overlapping the cache. */
function newFolioOrder(mapping: AddressSpace, index: number, wantOrder: number): number {
  let order = Math.min(wantOrder, mapping.maxOrder);
  // Not aligned: allocate a smaller folio (__filemap_get_folio uses __ffs(index)).
  while (order > 0 && index & ((1 << order) - 1)) order--;
  while (order > 0) {
    let free = true;
    for (let i = 1; i < 1 << order; i++) {
      if (mapping.pages.has(index + i)) {
        free = false;
        break;
      }
    }
    if (free) break;
    order--;
  }
  return order;
}

/** fgf_set_order(): the folio order a caller would like for an access of len bytes. */
export function orderForLength(len: number): number {
  let order = 0;
  while (order < 30 && PAGE_SIZE << (order + 1) <= len) order++;
  return order;
}

/** filemap_add_folio: insert a new folio (locked if asked) into the cache. */
function filemapAddFolio(mapping: AddressSpace, folio: Folio): void {
  for (let i = 0; i < folio.nrPages; i++) mapping.pages.set(folio.index + i, folio);
  mapping.nrpages += folio.nrPages;
  const last = folio.index + folio.nrPages - 1;
  if (last > mapping.maxIndex) mapping.maxIndex = last;
}

/** filemap_remove_folio: delete from the page cache; the cache's reference goes. */
export function filemapRemoveFolio(mapping: AddressSpace, folio: Folio): void {
  aliasWrite(folio.alias, A_REMOVE_FOLIO);
  for (let i = 0; i < folio.nrPages; i++) mapping.pages.delete(folio.index + i);
  mapping.nrpages -= folio.nrPages;
  if (mapping.nrpages === 0) mapping.maxIndex = -1;
  // Its bytes are gone from the cache: what reads them next comes from the disk.
  if (mapping.postEofStores !== null) forgetPostEofStores(mapping, folio.pos, folio.pos + folio.size);
  folio.mapping = null;
  folioPut(mapping.sched, folio);
}

/**
 * __filemap_get_folio: find (or with FGP_CREAT, create) the folio caching index,
 * with a reference, locked under FGP_LOCK. A folio truncated while we slept on
 * its lock is retried, as the kernel does.
 */
export function* filemapGetFolio(
  mapping: AddressSpace,
  index: number,
  fgp: number,
  wantOrder: number,
): Co<Folio | null> {
  const s = mapping.sched;
  for (;;) {
    const found = mapping.pages.get(index);
    if (found) {
      folioGet(found);
      if (fgp & FGP_LOCK) {
        yield* folioLock(s, found);
        if (found.mapping !== mapping) {
          cov(C_GET_FOLIO_RACE);
          folioUnlock(s, found);
          folioPut(s, found);
          continue;
        }
      }
      return found;
    }
    if (!(fgp & FGP_CREAT)) return null;
    // filemap_alloc_folio may sleep (direct reclaim): a preemption point.
    if (s.preemptPoint()) {
      yield;
      if (mapping.pages.has(index)) continue;
    }
    const order = newFolioOrder(mapping, index, wantOrder);
    const folio = new Folio(mapping, index, order);
    covState(C_GET_FOLIO_NEW, order);
    folio.refcount = 2; // the page cache's and the caller's
    if (fgp & FGP_LOCK) folio.flags |= PG_locked;
    filemapAddFolio(mapping, folio);
    folioAddLru(s, folio);
    return folio;
  }
}

/** The folios overlapping pages [first, last], in index order (each once). */
export function foliosInRange(mapping: AddressSpace, first: number, last: number): Folio[] {
  const out: Folio[] = [];
  if (mapping.nrpages === 0) return out;
  const hi = Math.min(last, mapping.maxIndex);
  if (hi < first) return out;
  if (hi - first > 4 * mapping.nrpages) {
    const seen = new Set<Folio>();
    for (const [idx, f] of mapping.pages) if (idx >= first && idx <= hi && !seen.has(f)) seen.add(f);
    out.push(...seen);
    out.sort((a, b) => a.index - b.index);
    return out;
  }
  for (let idx = first; idx <= hi; ) {
    const f = mapping.pages.get(idx);
    if (f) {
      out.push(f);
      idx = f.index + f.nrPages;
    } else idx++;
  }
  return out;
}

/** mapping_set_error: record a writeback error for fsync (errseq) and for the legacy AS_ bits. */
export function mappingSetError(mapping: AddressSpace, err: number): void {
  if (err === 0) return;
  errseqSet(mapping.wbErr, err);
  mapping.onSetError?.();
  cov(C_SET_ERROR);
  mapping.asFlags |= err === -ENOSPC ? AS_ENOSPC : AS_EIO;
}

/** filemap_check_errors: test and clear the AS_ bits. */
export function filemapCheckErrors(mapping: AddressSpace): number {
  let ret = 0;
  if (mapping.asFlags & AS_ENOSPC) ret = -ENOSPC;
  if (mapping.asFlags & AS_EIO) ret = -EIO;
  mapping.asFlags &= ~(AS_EIO | AS_ENOSPC);
  return ret;
}

/** __filemap_fdatawrite_range */
export function* filemapFdatawriteRange(mapping: AddressSpace, start: number, end: number, syncAll: boolean): Co<number> {
  if (mapping.nrpages === 0) return 0;
  return yield* mapping.aops.writepages(mapping, { syncAll, rangeStart: start, rangeEnd: end });
}

/** __filemap_fdatawait_range: wait for writeback already under way in [start, end]. */
export function* filemapFdatawaitRangeKeepErrors(mapping: AddressSpace, start: number, end: number): Co<void> {
  const s = mapping.sched;
  checkNoHandleHeld(mapping, 'filemap_fdatawait_range');
  for (const f of foliosInRange(mapping, Math.floor(start / PAGE_SIZE), Math.floor(end / PAGE_SIZE))) {
    if (f.mapping !== mapping || !folioTestWriteback(f)) continue;
    folioGet(f);
    yield* folioWaitWriteback(s, f);
    folioPut(s, f);
  }
}

/**
 * Lock rule (jbd2): writeback may need to start a journal handle, and a
 * commit waits for every open handle, so a task holding a handle must never
 * wait for writeback. Checked at the call, deadlock or not (as lockdep would).
 */
function checkNoHandleHeld(mapping: AddressSpace, fn: string): void {
  const t = mapping.sched.current;
  if (t && t.journalHandles > 0) {
    violation(mapping.sched, 'INVARIANT', 'jbd2:writeback-wait-under-handle', fn, `${t.name} waits for writeback while holding a journal handle`);
  }
}

/** filemap_write_and_wait_range: write back [start, end] (inclusive), wait, report AS_ errors. */
export function* filemapWriteAndWaitRange(mapping: AddressSpace, start: number, end: number): Co<number> {
  if (end < start) return 0;
  checkNoHandleHeld(mapping, 'filemap_write_and_wait_range');
  covState(C_WRITE_WAIT, mapping.nrpages > 0 ? 1 : 0);
  let err = 0;
  if (mapping.nrpages > 0) {
    err = yield* filemapFdatawriteRange(mapping, start, end, true);
    // Even if the above returned an error, the pages may be written partially; wait on them.
    if (err !== -EIO) yield* filemapFdatawaitRangeKeepErrors(mapping, start, end);
  }
  const err2 = filemapCheckErrors(mapping);
  return err || err2;
}

/**
 * unmap_mapping_range: zap the ptes of bytes [holebegin, holeend) (holeend -1:
 * to the end), whole pages only, as truncate_pagecache does before it drops
 * the page cache.
 */
export function unmapMappingRange(mapping: AddressSpace, holebegin: number, holeend: number): void {
  if (!mapping.unmapPages) return;
  const first = Math.ceil(holebegin / PAGE_SIZE);
  const last = holeend < 0 ? Number.MAX_SAFE_INTEGER : Math.floor(holeend / PAGE_SIZE) - 1;
  if (last >= first) mapping.unmapPages(first, last);
}

/** filemap_release_folio: ask the filesystem to drop private state; true if none is left. */
export function filemapReleaseFolio(folio: Folio): boolean {
  if (!folio.private_) return true;
  if (folioTestWriteback(folio)) return false;
  return folio.mapping ? folio.mapping.aops.releaseFolio(folio) : false;
}

/**
 * filemap_read_folio: start the read of a locked folio and wait for it to end;
 * -EIO if the folio did not become uptodate.
 */
export function* filemapReadFolio(mapping: AddressSpace, folio: Folio): Co<number> {
  const s = mapping.sched;
  // filemap_read_folio / filemap_fault cleared a failed read's PG_error first (kernels that had it).
  folioClearError(folio);
  const err = yield* mapping.aops.readFolio(folio);
  if (err < 0) return err;
  yield* folioWaitLocked(s, folio);
  if (folioTestUptodate(folio)) return 0;
  // Provenance only: where a read failed (the oracle decides whether an I/O error excuses it).
  provenance()?.readFailures.push({ ino: mapping.hostIno, pos: folio.pos, fn: 'filemap_read_folio' });
  return -EIO;
}

/**
 * Get an uptodate folio for page `index` with a reference: create and read it
 * if missing (filemap_create_folio, the readahead path), or lock and re-read
 * it if it is not uptodate (filemap_update_page). `wantOrder` sizes a new folio.
 */
export function* filemapGetUptodateFolio(mapping: AddressSpace, index: number, wantOrder: number): Co<Folio | number> {
  for (;;) {
    const folio = mapping.pages.get(index);
    if (!folio) {
      const r = yield* filemapCreateFolio(mapping, index, wantOrder);
      if (r !== null) return r;
      continue;
    }
    folioGet(folio);
    if (folioTestUptodate(folio)) return folio;
    covState(C_UPDATE_PAGE, folioClass(folio));
    if (folioTestLocked(folio)) yield* folioWaitLocked(mapping.sched, folio);
    if (folioTestUptodate(folio)) return folio;
    const r = yield* filemapUpdatePage(mapping, folio);
    if (r !== null) return r;
  }
}

/**
 * filemap_create_folio: add a locked folio and read it in, under
 * invalidate_lock shared so that no truncate or hole punch evicts the cache
 * and frees the blocks between the add and the read (the lock is held until
 * the read ends). null: another thread's folio is there now, look again.
 */
function* filemapCreateFolio(mapping: AddressSpace, index: number, wantOrder: number): Co<Folio | number | null> {
  const s = mapping.sched;
  yield* mapping.invalidateLock.downRead(s);
  let ret: Folio | number | null;
  if (mapping.pages.has(index)) ret = null;
  else {
    const folio = (yield* filemapGetFolio(mapping, index, FGP_LOCK | FGP_CREAT, wantOrder))!;
    covState(C_UPTODATE_FOLIO, folioClass(folio));
    ret = yield* filemapReadLockedFolio(mapping, folio);
  }
  mapping.invalidateLock.upRead(s);
  return ret;
}

/**
 * filemap_update_page: lock a folio that is not uptodate and read it again,
 * under invalidate_lock shared as filemap_create_folio. Takes over the
 * caller's reference; null when the folio left the mapping (look again).
 */
function* filemapUpdatePage(mapping: AddressSpace, folio: Folio): Co<Folio | number | null> {
  const s = mapping.sched;
  yield* mapping.invalidateLock.downRead(s);
  yield* folioLock(s, folio);
  let ret: Folio | number | null;
  if (folio.mapping !== mapping) {
    folioUnlock(s, folio);
    folioPut(s, folio);
    ret = null;
  } else ret = yield* filemapReadLockedFolio(mapping, folio);
  mapping.invalidateLock.upRead(s);
  return ret;
}

/**
 * A locked folio with a reference, made uptodate: unlocked as it is if it is
 * uptodate already (another thread read it while we slept), else read (the
 * read unlocks it). The reference is dropped on error.
 */
function* filemapReadLockedFolio(mapping: AddressSpace, folio: Folio): Co<Folio | number> {
  if (folioTestUptodate(folio)) {
    folioUnlock(mapping.sched, folio);
    return folio;
  }
  const err = yield* filemapReadFolio(mapping, folio);
  if (err < 0) {
    folioPut(mapping.sched, folio);
    return err;
  }
  return folio;
}

/**
 * filemap_read: the generic buffered read of [pos, pos+len) into dst. Stops at
 * i_size (sampled after each folio is uptodate, as the kernel does), returns
 * bytes read or a negative errno if nothing was read.
 */
export function* filemapRead(mapping: AddressSpace, pos: number, len: number, dst: Uint8Array): Co<number> {
  const s = mapping.sched;
  let done = 0;
  while (done < len) {
    const p = pos + done;
    if (p >= mapping.iSize()) break;
    const index = Math.floor(p / PAGE_SIZE);
    const r = yield* filemapGetUptodateFolio(mapping, index, orderForLength(len - done));
    if (typeof r === 'number') return done > 0 ? done : r;
    const folio = r;
    const isize = mapping.iSize();
    const end = Math.min(pos + len, isize, folio.pos + folio.size);
    if (p < end) {
      const from = p - folio.pos;
      aliasRead(folio.alias, A_COPY_TO_USER);
      dst.set(folio.data.subarray(from, from + (end - p)), done);
      provenance()?.copy(dst, done, folio.data, from, end - p);
      done += end - p;
    }
    folioPut(s, folio);
    if (p >= end) break;
  }
  return done;
}
