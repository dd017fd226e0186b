// mm/truncate.c: taking folios out of the page cache. Truncation drops a
// byte range, whole folios going and partial ones zeroed (truncate_inode_pages_range,
// truncate_pagecache, truncate_pagecache_range); invalidation drops only what
// nothing holds (invalidate_mapping_pages for fadvise and drop_caches,
// invalidate_inode_pages2_range for direct I/O, which fails on a folio it
// cannot drop); pagecache_isize_extended tidies the folio at the old EOF when
// i_size grows.

import { aliasWrite } from '../alias.js';
import { EBUSY } from '../errno.js';
import type { Co } from '../sched.js';
import type { Inode } from '../include/fs.js';
import { type AddressSpace, FGP_LOCK, type Folio, PAGE_SIZE, PG_dirty } from '../include/pagemap.js';
import { filemapGetFolio, filemapReleaseFolio, filemapRemoveFolio, foliosInRange, unmapMappingRange } from './filemap.js';
import { folioClass, folioGet, folioLock, folioPut, folioTestDirty, folioTestWriteback, folioTrylock, folioUnlock, folioWaitWriteback, folioZeroSegment } from './folio.js';
import { covSite, covState } from '../cov.js';
import { provenance } from '../provenance.js';

const C_ISIZE_EXTENDED = covSite('pagecache_isize_extended');
const C_ISIZE_PROTECT = covSite('pagecache_isize_extended:protect');
const C_TRUNC_PARTIAL = covSite('truncate_inode_partial_folio');
const C_INVAL2 = covSite('invalidate_inode_pages2_range');
const C_EVICT_FOLIO = covSite('mapping_evict_folio');
const A_CANCEL_DIRTY = covSite('alias:folio_cancel_dirty');

/**
 * pagecache_isize_extended: i_size grew from `from` to `to`. With blocks
 * smaller than a page, the cached folio that straddles the old EOF may hold
 * bytes past it (stored through a mapping) over what is now a hole: zero them
 * in a dirty folio before they become file data, and write-protect it so the
 * next store faults (page_mkwrite allocates for the new blocks).
 */
export function* pagecacheIsizeExtended(mapping: AddressSpace, blkbits: number, from: number, to: number): Co<void> {
  const folio = yield* isizeExtendedFolio(mapping, blkbits, from, to);
  if (!folio) return;
  covState(C_ISIZE_EXTENDED, folioClass(folio));
  // folio_mkclean, and keep the folio dirty if it was dirtied through a pte.
  if (folio.mapcount > 0 && mapping.mkclean) mapping.mkclean(folio);
  if (folioTestDirty(folio)) folioZeroSegment(folio, from - folio.pos, Math.min(to - folio.pos, folio.size), 'pagecache_isize_extended');
  folioUnlock(mapping.sched, folio);
  folioPut(mapping.sched, folio);
}

/**
 * SIM ONLY, the fix the sim assumes where mainline calls nothing (switch
 * dio-extend-no-isize-extended off): the write-protect half of
 * pagecache_isize_extended, for a size that grew where i_rwsem is not held
 * (xfs_dio_write_end_io of an AIO). A store through a pte mapped before the
 * size grew then faults, and page_mkwrite reserves its blocks up to the new
 * EOF. No zeroing: a buffered write may be copying past the old EOF at that
 * moment (corpus/regress/xfs-dio-completion-no-isize-extended).
 */
export function* pagecacheIsizeExtendedProtect(mapping: AddressSpace, blkbits: number, from: number, to: number): Co<void> {
  const folio = yield* isizeExtendedFolio(mapping, blkbits, from, to);
  if (!folio) return;
  covState(C_ISIZE_PROTECT, folioClass(folio));
  if (folio.mapcount > 0 && mapping.mkclean) mapping.mkclean(folio);
  folioUnlock(mapping.sched, folio);
  folioPut(mapping.sched, folio);
}

/** The folio straddling `from`, locked, if growing the size to `to` makes a hole block of its part past `from`. */
function* isizeExtendedFolio(mapping: AddressSpace, blkbits: number, from: number, to: number): Co<Folio | null> {
  const bsize = 1 << blkbits;
  if (from >= to || bsize >= PAGE_SIZE) return null;
  const roundedFrom = Math.ceil(from / bsize) * bsize;
  if (to <= roundedFrom || roundedFrom % PAGE_SIZE === 0) return null;
  return yield* filemapGetFolio(mapping, Math.floor(from / PAGE_SIZE), FGP_LOCK, 0);
}

/** folio_invalidate: tell the filesystem [offset, offset+len) of the folio goes away. */
function folioInvalidate(folio: Folio, offset: number, len: number): void {
  if (folio.private_ && folio.mapping) folio.mapping.aops.invalidateFolio(folio, offset, len);
}

/** folio_cancel_dirty */
function folioCancelDirty(folio: Folio): void {
  aliasWrite(folio.alias, A_CANCEL_DIRTY);
  folio.flags &= ~PG_dirty;
}

/** truncate_inode_folio: drop a locked folio from the cache, dirty or not. */
function truncateInodeFolio(mapping: AddressSpace, folio: Folio, unmap: (f: Folio) => void): void {
  if (folio.mapping !== mapping) return;
  if (folio.mapcount > 0) unmap(folio);
  // Provenance only: a dirty folio's data goes without reaching storage.
  if (folioTestDirty(folio)) {
    const end = Math.min(folio.size, mapping.iSize() - folio.pos);
    provenance()?.dropped(mapping.hostIno, folio.pos, folio.data, 0, end, 'dropped', 'truncate_inode_pages_range');
  }
  folioInvalidate(folio, 0, folio.size);
  folioCancelDirty(folio);
  filemapRemoveFolio(mapping, folio);
}

/**
 * truncate_inode_partial_folio: zero [start, end] of a folio that straddles the
 * truncation point and let the filesystem invalidate that part. Splitting large
 * folios is not modelled (split_folio may always fail in the kernel): a dirty
 * folio stays whole, a clean one is dropped.
 */
function* truncateInodePartialFolio(
  mapping: AddressSpace,
  folio: Folio,
  start: number,
  end: number,
  unmap: (f: Folio) => void,
): Co<boolean> {
  const s = mapping.sched;
  const pos = folio.pos;
  const offset = Math.max(start, pos) - pos;
  const length = Math.min(end + 1, pos + folio.size) - pos - offset;
  covState(C_TRUNC_PARTIAL, folioClass(folio) | (length === folio.size ? 64 : 0));
  yield* folioWaitWriteback(s, folio);
  if (length === folio.size) {
    truncateInodeFolio(mapping, folio, unmap);
    return true;
  }
  folioZeroSegment(folio, offset, offset + length, 'truncate_inode_partial_folio');
  if (folio.private_) folioInvalidate(folio, offset, length);
  if (folio.order === 0) return true;
  if (folioTestDirty(folio)) return false;
  truncateInodeFolio(mapping, folio, unmap);
  return true;
}

/**
 * truncate_inode_pages_range: remove the cached bytes [lstart, lend] (lend
 * inclusive, -1 for "to the end"): whole folios go, partial ones are zeroed.
 * `unmap` removes the page table entries of a mapped folio first.
 */
export function* truncateInodePagesRange(
  mapping: AddressSpace,
  lstart: number,
  lend: number,
  unmap: (f: Folio) => void,
): Co<void> {
  if (mapping.nrpages === 0) return;
  const s = mapping.sched;
  const end = lend < 0 ? Number.MAX_SAFE_INTEGER : lend;
  const first = Math.floor(lstart / PAGE_SIZE);
  const last = Math.floor(end / PAGE_SIZE);
  const t = s.current;
  t?.frames.push('truncate_inode_pages_range');
  try {
    yield* truncateFolios(mapping, foliosInRange(mapping, first, last), lstart, end, unmap);
  } finally {
    t?.frames.pop();
  }
}

function* truncateFolios(mapping: AddressSpace, folios: Folio[], lstart: number, end: number, unmap: (f: Folio) => void): Co<void> {
  const s = mapping.sched;
  for (const f of folios) {
    if (f.mapping !== mapping) continue;
    folioGet(f);
    yield* folioLock(s, f);
    if (f.mapping === mapping) {
      const whole = f.pos >= lstart && f.pos + f.size - 1 <= end;
      if (whole) {
        yield* folioWaitWriteback(s, f);
        truncateInodeFolio(mapping, f, unmap);
      } else {
        yield* truncateInodePartialFolio(mapping, f, lstart, end, unmap);
      }
    }
    folioUnlock(s, f);
    folioPut(s, f);
  }
}

/**
 * mapping_evict_folio via mapping_try_invalidate (invalidate_mapping_pages):
 * drop clean, unlocked, unmapped folios in [start, end] pages; the rest stay.
 * Returns how many folios were dropped.
 */
export function invalidateMappingPages(mapping: AddressSpace, first: number, last: number): number {
  let count = 0;
  for (const f of foliosInRange(mapping, first, last)) {
    if (!folioTrylock(f)) continue;
    if (f.mapping === mapping && mappingEvictFolio(mapping, f)) count++;
    folioUnlock(mapping.sched, f);
  }
  return count;
}

/** mapping_evict_folio: the folio is locked; drop it if nothing holds it. */
function mappingEvictFolio(mapping: AddressSpace, f: Folio): boolean {
  covState(C_EVICT_FOLIO, folioClass(f) | (f.refcount > 1 ? 64 : 0) | (f.mapcount > 0 ? 128 : 0));
  if (folioTestDirty(f) || folioTestWriteback(f)) return false;
  // The page cache's reference is the only one (the lock holder here took none).
  if (f.refcount > 1 || f.mapcount > 0) return false;
  if (!filemapReleaseFolio(f)) return false;
  filemapRemoveFolio(mapping, f);
  return true;
}

/**
 * invalidate_inode_pages2_range: lock every folio in [first, last] pages, wait
 * for its writeback, unmap it, and remove it; a dirty folio that cannot be
 * laundered makes the call fail with -EBUSY (iomap has no ->launder_folio).
 */
export function* invalidateInodePages2Range(
  mapping: AddressSpace,
  first: number,
  last: number,
  unmap: (f: Folio) => void,
): Co<number> {
  if (mapping.nrpages === 0) return 0;
  const s = mapping.sched;
  let ret = 0;
  for (const f of foliosInRange(mapping, first, last)) {
    // find_get_entries hands out folios with a reference taken under the
    // xarray lock; a folio reclaim or truncation removed (and freed) while we
    // slept on an earlier one is not in the mapping any more: skip it rather
    // than take a reference on freed memory.
    if (f.mapping !== mapping) continue;
    folioGet(f);
    yield* folioLock(s, f);
    if (f.mapping === mapping) {
      yield* folioWaitWriteback(s, f);
      if (f.mapcount > 0) unmap(f);
      covState(C_INVAL2, folioClass(f));
      if (folioTestDirty(f) || !filemapReleaseFolio(f)) ret = -EBUSY;
      else filemapRemoveFolio(mapping, f);
    }
    folioUnlock(s, f);
    folioPut(s, f);
  }
  return ret;
}

/**
 * truncate_pagecache: unmap and drop the cached bytes from newsize on (a
 * folio straddling newsize keeps its head, zeroed past it). The caller has
 * set i_size already.
 */
export function* truncatePagecache(mapping: AddressSpace, newsize: number, unmap: (f: Folio) => void): Co<void> {
  unmapMappingRange(mapping, newsize, -1);
  yield* truncateInodePagesRange(mapping, newsize, -1, unmap);
}

/**
 * truncate_pagecache_range: unmap and drop the cached bytes [lstart, lend]
 * (inclusive), as a hole punch does; only whole pages are unmapped.
 */
export function* truncatePagecacheRange(mapping: AddressSpace, lstart: number, lend: number, unmap: (f: Folio) => void): Co<void> {
  unmapMappingRange(mapping, lstart, lend + 1);
  yield* truncateInodePagesRange(mapping, lstart, lend, unmap);
}

/** truncate_setsize: the new size, then drop the page cache past it. */
export function* truncateSetsize(inode: Inode, newsize: number, unmap: (f: Folio) => void): Co<void> {
  const oldsize = inode.iSize;
  inode.iSize = newsize;
  if (newsize > oldsize) yield* pagecacheIsizeExtended(inode.mapping, inode.blkbits, oldsize, newsize);
  else if (newsize < oldsize) inode.mapping.mkwriteShrunk?.(newsize);
  yield* truncatePagecache(inode.mapping, newsize, unmap);
}
