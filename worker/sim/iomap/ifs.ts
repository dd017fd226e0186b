// struct iomap_folio_state (fs/iomap/buffered-io.c): per-block uptodate and
// dirty bits of a folio that holds more than one filesystem block, and the
// byte counts of reads and writes in flight. Its lifetime rules and the
// ifs_free() WARN that checks them are what several seeded bugs break.

import { aliasRead, aliasWrite } from '../alias.js';
import { violation, warn } from '../checks.js';
import type { Sched } from '../sched.js';
import { folioClass, folioMarkUptodate, folioTestDirty, folioTestError, folioTestUptodate, folioTestWriteback } from '../mm/folio.js';
import { covSite, covState } from '../cov.js';
import { type DropHow, provenance } from '../provenance.js';
import { type Folio, type FolioPrivate, PG_dirty } from '../include/pagemap.js';

const C_IFS_FREE = covSite('ifs_free');
const C_SET_UPTODATE = covSite('iomap_set_range_uptodate');
const C_CLEAR_UPTODATE = covSite('ifs_clear_uptodate');
const C_INVALIDATE = covSite('iomap_invalidate_folio');
const C_RELEASE = covSite('iomap_release_folio');
const C_BLOCK_INVALIDATE = covSite('block_invalidate_folio');
// Alias coverage sites (alias.ts): the ifs bits and PG_dirty, on the folio's cell.
const A_IFS_UPTODATE = covSite('alias:ifs_set_range_uptodate');
const A_IFS_CLEAR_UPTODATE = covSite('alias:ifs_clear_uptodate');
const A_IFS_TEST_UPTODATE = covSite('alias:iomap_range_uptodate');
const A_IFS_DIRTY = covSite('alias:iomap_set_range_dirty');
const A_IFS_CLEAR_DIRTY = covSite('alias:iomap_clear_range_dirty');
const A_DIRTY_FOLIO = covSite('alias:filemap_dirty_folio');

const UPTODATE = 1;
const DIRTY = 2;

export class IomapFolioState implements FolioPrivate {
  readonly kind = 'ifs' as const;
  readBytesPending = 0;
  writeBytesPending = 0;
  /** One byte per block: bit 0 uptodate, bit 1 dirty. */
  readonly state: Uint8Array;

  constructor(readonly nrBlocks: number) {
    this.state = new Uint8Array(nrBlocks);
  }

  /**
   * Half of the agreement ifs_free WARNs about (ifs_is_fully_uptodate() ==
   * folio_test_uptodate()), asserted at every unlock: an uptodate folio has
   * every block uptodate. Whatever makes a folio uptodate or gives it an ifs
   * does both under the folio lock (iomap_set_range_uptodate, ifs_alloc from
   * the folio's flags, folio_end_read), so an unlocked folio that breaks it
   * was broken by the holder that just let go: named there, not at whichever
   * later free or writeback meets it. The other half (a folio not uptodate
   * whose ifs says every block is) no lock covers: fuse_send_write_pages
   * clears uptodate on folios it unlocked already. It is asserted where the
   * flag is cleared (assertClearingUptodate).
   */
  assertUnlocked(s: Sched, folio: Folio): void {
    if (!folioTestUptodate(folio) || ifsIsFullyUptodate(this)) return;
    violation(s, 'INVARIANT', 'folio_unlock:ifs-not-uptodate', 'folio_unlock',
      `folio ${folio.index} unlocked uptodate, but its ifs has blocks that are not`);
  }

  /**
   * The other half of ifs_free's agreement, where it is broken: a folio
   * whose uptodate flag is cleared (fuse_send_write_pages after a failed or
   * short WRITE, on folios it may have unlocked already) must not keep an ifs
   * that calls every block uptodate; the ifs bits go first. Left so, a later
   * read finds nothing to read and fails, or ifs_free WARNs.
   */
  assertClearingUptodate(s: Sched, folio: Folio): void {
    if (!ifsIsFullyUptodate(this)) return;
    violation(s, 'INVARIANT', 'folio_clear_uptodate:ifs-uptodate', 'folio_clear_uptodate',
      `folio ${folio.index} loses its uptodate flag while its ifs calls every block uptodate`);
  }
}

export function folioIfs(folio: Folio): IomapFolioState | null {
  const p = folio.private_;
  return p instanceof IomapFolioState ? p : null;
}

export function blocksPerFolio(folio: Folio, blkbits: number): number {
  return folio.size >> blkbits;
}

/** ifs_alloc: the folio's ifs, created from the folio's flags if missing; none for one-block folios. */
export function ifsAlloc(folio: Folio, blkbits: number): IomapFolioState | null {
  const existing = folioIfs(folio);
  const nr = blocksPerFolio(folio, blkbits);
  if (existing || nr <= 1) return existing;
  const ifs = new IomapFolioState(nr);
  // Bug switch mkwrite-ifs-zeroed: before 2020 a new ifs always started with every bit clear.
  if (folio.mapping?.bugs.has('mkwrite-ifs-zeroed')) {
    folio.private_ = ifs;
    return ifs;
  }
  let init = 0;
  if (folioTestUptodate(folio)) init |= UPTODATE;
  if (folioTestDirty(folio)) init |= DIRTY;
  if (init) ifs.state.fill(init);
  folio.private_ = ifs;
  return ifs;
}

export function ifsIsFullyUptodate(ifs: IomapFolioState): boolean {
  const st = ifs.state;
  for (let i = 0; i < st.length; i++) if (!(st[i]! & UPTODATE)) return false;
  return true;
}

/** ifs_free: detach, with the WARNs that the ifs was idle and agreed with the folio flag. */
export function ifsFree(s: Sched, folio: Folio): void {
  const ifs = folioIfs(folio);
  if (!ifs) return;
  folio.private_ = null;
  covState(C_IFS_FREE, folioClass(folio) * 64 + ifsClass(folio));
  if (ifs.readBytesPending !== 0) warn(s, 'ifs_free:read-pending', 'ifs_free',
    `folio ${folio.index}: ${ifs.readBytesPending} read bytes pending`);
  if (ifs.writeBytesPending !== 0) warn(s, 'ifs_free:write-pending', 'ifs_free',
    `folio ${folio.index}: ${ifs.writeBytesPending} write bytes pending`);
  // WARN_ON_ONCE(ifs_is_fully_uptodate(folio, ifs) != folio_test_uptodate(folio)):
  // one warning in the kernel's log, but which side lost its uptodate state
  // is two different histories (a flag cleared under a full ifs; an ifs
  // whose bits were never set or were cleared under an uptodate folio), so
  // the sim names the two apart.
  const full = ifsIsFullyUptodate(ifs);
  if (full !== folioTestUptodate(folio)) warn(s, full ? 'ifs_free:folio-not-uptodate' : 'ifs_free:ifs-not-uptodate', 'ifs_free',
    `folio ${folio.index}: ifs fully uptodate=${full} but folio uptodate=${folioTestUptodate(folio)}`);
}

function blockRange(off: number, len: number, blkbits: number): [number, number] {
  return [off >> blkbits, (off + len - 1) >> blkbits];
}

/** ifs_set_range_uptodate: set the bits; true if the folio is now fully uptodate. */
export function ifsSetRangeUptodate(ifs: IomapFolioState, off: number, len: number, blkbits: number): boolean {
  const [first, last] = blockRange(off, len, blkbits);
  for (let b = first; b <= last; b++) ifs.state[b]! |= UPTODATE;
  return ifsIsFullyUptodate(ifs);
}

/**
 * iomap_set_range_uptodate: no-op on an uptodate folio; otherwise set the block
 * bits and mark the folio uptodate once every block is. While a read is still
 * pending on the folio the flag is left to folio_end_read(), whose XOR would
 * otherwise clear it again.
 */
export function iomapSetRangeUptodate(folio: Folio, off: number, len: number, blkbits: number): void {
  if (folioTestUptodate(folio) || len === 0) return;
  // The 2020 code marked nothing on a folio whose read had failed (9dc55f1389f9).
  if (folioTestError(folio)) return;
  const ifs = folioIfs(folio);
  let uptodate = true;
  if (ifs) {
    aliasWrite(folio.alias, A_IFS_UPTODATE);
    uptodate = ifsSetRangeUptodate(ifs, off, len, blkbits);
    covState(C_SET_UPTODATE, (uptodate ? 1 : 0) | (ifs.readBytesPending > 0 ? 2 : 0));
    // Bug switch set-uptodate-during-read: the 2025 code marked the folio anyway.
    if (ifs.readBytesPending > 0 && !folio.mapping?.bugs.has('set-uptodate-during-read')) uptodate = false;
  }
  if (uptodate) folioMarkUptodate(folio);
}

/** Clear every block's uptodate bit (the counterpart of folio_clear_uptodate). */
export function ifsClearUptodate(folio: Folio): void {
  const ifs = folioIfs(folio);
  if (!ifs) return;
  covState(C_CLEAR_UPTODATE, ifsClass(folio));
  aliasWrite(folio.alias, A_IFS_CLEAR_UPTODATE);
  for (let b = 0; b < ifs.state.length; b++) ifs.state[b]! &= ~UPTODATE;
}

export function ifsBlockUptodate(ifs: IomapFolioState, blk: number): boolean {
  return (ifs.state[blk]! & UPTODATE) !== 0;
}

export function ifsBlockDirty(ifs: IomapFolioState, blk: number): boolean {
  return (ifs.state[blk]! & DIRTY) !== 0;
}

/**
 * Provenance only: the dirty bytes of [from, to) of the folio (its dirty
 * blocks; a folio without an ifs is dirty or not as a whole: `wholeDirty`,
 * its PG_dirty unless the caller cleared that already), inside i_size,
 * are about to go without reaching storage (`how`, in `fn`). Nothing is
 * decided by it: it is what a finding's cause is read from.
 */
export function noteDirtyLoss(
  folio: Folio, blkbits: number, isize: number, ino: number, from: number, to: number, how: DropHow, fn: string,
  wholeDirty = folioTestDirty(folio),
): void {
  const prov = provenance();
  if (!prov) return;
  const end = Math.min(to, isize - folio.pos);
  const ifs = folioIfs(folio);
  for (let a = from; a < end;) {
    const blk = a >> blkbits;
    const dirty = ifs ? ifsBlockDirty(ifs, blk) : wholeDirty;
    const next = Math.min(end, (blk + 1) << blkbits);
    if (dirty) prov.dropped(ino, folio.pos + a, folio.data, a, next, how, fn);
    a = next;
  }
}

/** Every block of [off, off+len) is uptodate (the folio as a whole, or its ifs bits). */
export function iomapRangeUptodate(folio: Folio, off: number, len: number, blkbits: number): boolean {
  if (folioTestUptodate(folio) || len === 0) return true;
  const ifs = folioIfs(folio);
  if (!ifs) return false;
  aliasRead(folio.alias, A_IFS_TEST_UPTODATE);
  const [first, last] = blockRange(off, len, blkbits);
  for (let b = first; b <= last; b++) if (!(ifs.state[b]! & UPTODATE)) return false;
  return true;
}

/** iomap_set_range_dirty */
export function iomapSetRangeDirty(folio: Folio, off: number, len: number, blkbits: number): void {
  const ifs = folioIfs(folio);
  if (!ifs || len === 0) return;
  const [first, last] = blockRange(off, len, blkbits);
  aliasWrite(folio.alias, A_IFS_DIRTY);
  for (let b = first; b <= last; b++) ifs.state[b]! |= DIRTY;
}

/** iomap_clear_range_dirty */
export function iomapClearRangeDirty(folio: Folio, off: number, len: number, blkbits: number): void {
  const ifs = folioIfs(folio);
  if (!ifs || len === 0) return;
  const [first, last] = blockRange(off, len, blkbits);
  aliasWrite(folio.alias, A_IFS_CLEAR_DIRTY);
  for (let b = first; b <= last; b++) ifs.state[b]! &= ~DIRTY;
}

/**
 * filemap_dirty_folio: set PG_dirty; true if it was clean. The mapping's dirty
 * tag and inode dirtying are implicit: writeback walks folios by flag.
 */
export function filemapDirtyFolio(folio: Folio): boolean {
  aliasWrite(folio.alias, A_DIRTY_FOLIO);
  if (folio.flags & PG_dirty) return false;
  folio.flags |= PG_dirty;
  return true;
}

/** iomap_dirty_folio (->dirty_folio): every block becomes dirty. */
export function iomapDirtyFolio(folio: Folio, blkbits: number): boolean {
  ifsAlloc(folio, blkbits);
  iomapSetRangeDirty(folio, 0, folio.size, blkbits);
  return filemapDirtyFolio(folio);
}

/** iomap_invalidate_folio: only a whole-folio invalidation drops dirty state and the ifs. */
export function iomapInvalidateFolio(s: Sched, folio: Folio, offset: number, len: number): void {
  covState(C_INVALIDATE, folioClass(folio) | (offset === 0 && len === folio.size ? 64 : 0));
  if (offset === 0 && len === folio.size) {
    if (folioTestWriteback(folio)) warn(s, 'iomap_invalidate_folio:writeback', 'iomap_invalidate_folio',
      `folio ${folio.index} invalidated under writeback`);
    folio.flags &= ~PG_dirty;
    ifsFree(s, folio);
  }
}

/**
 * block_invalidate_folio (fs/buffer.c), as ext4_invalidate_folio calls it for
 * ext4's buffered I/O, which runs on buffer heads, not iomap: the per-block
 * state here stands in for the folio's buffers. Every buffer wholly inside
 * [offset, offset+len) goes through discard_buffer, which clears BH_Dirty
 * (and BH_Mapped, BH_Delay, BH_Unwritten, BH_New, BH_Req; not BH_Uptodate:
 * truncate_inode_partial_folio zeroed the bytes, which stay valid), so
 * writeback (mpage_prepare_extent_to_map, ext4_bio_write_folio: only dirty,
 * mapped buffers are written) never maps or writes a punched block. Buffers
 * straddling an edge keep their state; PG_dirty is left alone. A whole-folio
 * invalidation also releases the buffers (filemap_release_folio), as
 * iomap_invalidate_folio frees the ifs.
 */
export function blockInvalidateFolio(s: Sched, folio: Folio, offset: number, len: number, blkbits: number): void {
  if (offset === 0 && len === folio.size) {
    iomapInvalidateFolio(s, folio, offset, len);
    return;
  }
  covState(C_BLOCK_INVALIDATE, folioClass(folio));
  const ifs = folioIfs(folio);
  if (!ifs) return;
  const bs = 1 << blkbits;
  const first = (offset + bs - 1) >> blkbits;
  const end = (offset + len) >> blkbits;
  for (let b = first; b < end; b++) ifs.state[b]! &= ~DIRTY;
}

/** iomap_release_folio: refuse a dirty folio (it may be partially dirty), else free the ifs. */
export function iomapReleaseFolio(s: Sched, folio: Folio): boolean {
  covState(C_RELEASE, folioClass(folio) * 64 + ifsClass(folio));
  if (folioTestDirty(folio)) return false;
  ifsFree(s, folio);
  return true;
}

/**
 * The ifs state class for coverage: none, or how many blocks are uptodate and
 * dirty (none, some, all) and whether I/O is pending (5 bits).
 */
export function ifsClass(folio: Folio): number {
  const ifs = folioIfs(folio);
  if (!ifs) return 0;
  let up = 0;
  let dirty = 0;
  const st = ifs.state;
  for (let i = 0; i < st.length; i++) {
    up += st[i]! & UPTODATE;
    dirty += (st[i]! & DIRTY) >> 1;
  }
  const some = (k: number): number => (k === 0 ? 0 : k === st.length ? 2 : 1);
  return 1 + some(up) * 3 + some(dirty) + (ifs.readBytesPending ? 9 : 0) + (ifs.writeBytesPending ? 18 : 0);
}
