// Provenance for the checks, not a kernel structure: the bytes of a file's
// cached folios that a store through a mapping wrote at or beyond EOF and that
// nothing has zeroed, overwritten or dropped since. EOF is i_size at the store
// or, if lower, the end of the blocks that the page_mkwrite which made the pte
// writable reserved (folio_mkwrite_check_truncate's length, rounded up to a
// block): an extension's i_size_write can land while page_mkwrite holds the
// folio lock, before pagecache_isize_extended write-protects the page, and the
// store then lands inside the new EOF in a block nothing reserved (mmap.ts).
//
// Such bytes are not file data (mmap(2): modifications to the part of the last
// page beyond EOF are not written to the file), and when the file grows over
// them POSIX leaves them unspecified ("the effect of references to portions of
// the mapped region that correspond to added ... portions of the file is
// unspecified"). Mainline usually zeroes them as the file grows
// (pagecache_isize_extended zeroes the post-EOF part of a dirty EOF folio),
// but truncate_setsize and iomap_write_end do i_size_write first and only then
// pagecache_isize_extended: writeback that takes the folio lock in between
// sees the new i_size (iomap_writeback_handle_eof zeroes nothing), skips the
// bytes if their block is a hole (iomap_writeback_range), and cleans the folio,
// so pagecache_isize_extended leaves them. The page cache then shows them
// inside EOF while the disk reads zeroes. The writeback completeness check and
// the data checks accept exactly those bytes.
//
// Kept as a short flat list [start0, end0, start1, end1, ...] of disjoint,
// sorted, merged ranges, null while empty: a store past EOF is rare, and every
// zeroing of a folio asks whether there is anything to forget.

/** Anything that carries the list: the address_space. */
export interface PostEofStoreHolder {
  postEofStores: number[] | null;
}

/** A store through a mapping wrote [start, end), all of it at or beyond i_size. */
export function notePostEofStore(h: PostEofStoreHolder, start: number, end: number): void {
  if (end <= start) return;
  const r = h.postEofStores;
  if (r === null) {
    h.postEofStores = [start, end];
    return;
  }
  // Find the first range that ends at or after start (touching ranges merge).
  let i = 0;
  while (i < r.length && r[i + 1]! < start) i += 2;
  let j = i;
  let lo = start;
  let hi = end;
  while (j < r.length && r[j]! <= end) {
    if (r[j]! < lo) lo = r[j]!;
    if (r[j + 1]! > hi) hi = r[j + 1]!;
    j += 2;
  }
  if (j === i) r.splice(i, 0, lo, hi);
  else {
    r[i] = lo;
    r[i + 1] = hi;
    if (j > i + 2) r.splice(i + 2, j - i - 2);
  }
}

/** [start, end) of the cached bytes were zeroed, overwritten or dropped: they hold no such store any more. */
export function forgetPostEofStores(h: PostEofStoreHolder, start: number, end: number): void {
  const r = h.postEofStores;
  if (r === null || end <= start) return;
  let i = 0;
  while (i < r.length) {
    const a = r[i]!;
    const b = r[i + 1]!;
    if (b <= start) {
      i += 2;
      continue;
    }
    if (a >= end) break;
    if (a < start && b > end) {
      // Split in two.
      r.splice(i + 1, 0, start, end);
      return;
    }
    if (a < start) {
      r[i + 1] = start;
      i += 2;
    } else if (b > end) {
      r[i] = end;
      break;
    } else {
      r.splice(i, 2);
    }
  }
  if (r.length === 0) h.postEofStores = null;
}

/** Whether any byte of [start, end) holds a store made through a mapping past EOF. */
export function postEofStoreIntersects(h: PostEofStoreHolder, start: number, end: number): boolean {
  const r = h.postEofStores;
  if (r === null) return false;
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! >= end) return false;
    if (r[i + 1]! > start) return true;
  }
  return false;
}

/** The parts of [start, end) that hold such stores, as [a, b) pairs (a copy). */
export function postEofStoresIn(h: PostEofStoreHolder, start: number, end: number): [number, number][] {
  const out: [number, number][] = [];
  const r = h.postEofStores;
  if (r === null) return out;
  for (let i = 0; i < r.length; i += 2) {
    const a = Math.max(r[i]!, start);
    const b = Math.min(r[i + 1]!, end);
    if (a < b) out.push([a, b]);
  }
  return out;
}
