// Stores through a mapping past EOF (worker/sim/mm/post-eof-stores.ts): the
// list itself, and the writeback completeness check, which accepts a hole
// block holding such a store that an extension exposed, and nothing else.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filemapLookup } from '../../../worker/sim/mm/filemap.js';
import {
  type PostEofStoreHolder,
  forgetPostEofStores,
  notePostEofStore,
  postEofStoreIntersects,
  postEofStoresIn,
} from '../../../worker/sim/mm/post-eof-stores.js';
import type { Kernel } from '../../../worker/sim/kernel.js';
import { sysDropCaches, sysFsync, sysPread, sysPwrite } from '../../../worker/sim/vfs/syscalls.js';
import { drive, newKernel, throwsViolation } from './helpers.js';
import type { Inode, OpenFile } from '../../../worker/sim/include/fs.js';
import { BLOCK_I } from '../../../worker/sim/fs/block-inode.js';

function filled(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

test('post-EOF store list: merged on note, split and dropped on forget', () => {
  const h: PostEofStoreHolder = { postEofStores: null };
  notePostEofStore(h, 100, 200);
  notePostEofStore(h, 300, 400);
  notePostEofStore(h, 50, 60);
  assert.deepEqual(h.postEofStores, [50, 60, 100, 200, 300, 400]);
  notePostEofStore(h, 200, 300);
  assert.deepEqual(h.postEofStores, [50, 60, 100, 400], 'touching ranges merge');
  notePostEofStore(h, 55, 120);
  assert.deepEqual(h.postEofStores, [50, 400]);
  forgetPostEofStores(h, 150, 160);
  assert.deepEqual(h.postEofStores, [50, 150, 160, 400], 'a forget inside a range splits it');
  forgetPostEofStores(h, 0, 60);
  forgetPostEofStores(h, 390, 1000);
  assert.deepEqual(h.postEofStores, [60, 150, 160, 390]);
  assert.equal(postEofStoreIntersects(h, 150, 160), false);
  assert.equal(postEofStoreIntersects(h, 150, 161), true);
  assert.deepEqual(postEofStoresIn(h, 100, 200), [[100, 150], [160, 200]]);
  forgetPostEofStores(h, 0, Number.MAX_SAFE_INTEGER);
  assert.equal(h.postEofStores, null);
});

/** xfs, 1 KiB blocks: a file of `size` bytes written through the cache, mapped writable at [0, 4096) as map 1. */
function mappedXfsFile(size: number): { k: Kernel; inode: Inode; f: OpenFile } {
  const k = newKernel({ fs: 'xfs', blockSize: 1024 });
  const inode = k.createFile('f');
  const f = k.openFile(inode, false);
  assert.equal(drive(k, () => sysPwrite(k, f, 0, filled(size, 1))), size);
  assert.equal(k.mm.mmap(1, f, 0, 4096, true), 0);
  return { k, inode, f };
}

/**
 * xfs, 1 KiB blocks: f holds 2048 bytes (blocks 0-1, delalloc); a store of 0x5
 * at 2500 through a mapping lands past EOF, in block 2, a hole
 * (page_mkwrite reserved blocks only up to EOF, iomap_dirty_folio dirtied
 * them all). Then i_size becomes 4096 the way truncate_setsize and
 * iomap_write_end do it first (i_size_write), with pagecache_isize_extended
 * not run yet: the window the flusher can win.
 */
function storePastEofThenExposed(): { k: Kernel; f: OpenFile } {
  const { k, inode, f } = mappedXfsFile(2048);
  assert.equal(drive(k, () => k.mm.store(1, 2500, filled(10, 5))), 10);
  assert.deepEqual(postEofStoresIn(inode.mapping, 0, 4096), [[2500, 2510]]);
  inode.iSize = 4096;
  return { k, f };
}

test('writeback over a hole accepts a block a post-EOF store left in an extended file; the cache shows it, the disk does not', () => {
  const { k, f } = storePastEofThenExposed();
  assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
  const got = new Uint8Array(4096);
  assert.equal(drive(k, () => sysPread(k, f, 0, got)), 4096);
  assert.equal(got[2500], 5, 'the page cache still shows the store inside EOF');
  k.mm.munmap(1);
  drive(k, () => sysDropCaches(k));
  assert.equal(f.inode.mapping.postEofStores, null, 'dropping the folio forgets the store');
  assert.equal(drive(k, () => sysPread(k, f, 0, got)), 4096);
  assert.equal(got[2500], 0, 'the hole reads zeroes');
});

test('writeback over a hole still fires for dirty data inside EOF that no post-EOF store put there', () => {
  // The same folio, but block 3 (no store past EOF in it) holds data too.
  const { k, f } = storePastEofThenExposed();
  filemapLookup(f.inode.mapping, 0)!.data[3500] = 9;
  throwsViolation(() => drive(k, () => sysFsync(k, f, false)), 'writeback:dirty-data-over-hole');
});

test('writeback over a hole still fires for written data whose block was lost', () => {
  // A buffered write's bytes inside EOF over a block that is a hole at
  // writeback (its delalloc reservation dropped behind the page cache's back).
  const k = newKernel({ fs: 'xfs', blockSize: 1024 });
  const inode = k.createFile('f');
  const f = k.openFile(inode, false);
  assert.equal(drive(k, () => sysPwrite(k, f, 0, filled(4096, 1))), 4096);
  BLOCK_I(inode).extents.remove(2, 1);
  throwsViolation(() => drive(k, () => sysFsync(k, f, false)), 'writeback:dirty-data-over-hole');
});

test('zeroing forgets a post-EOF store: pagecache_isize_extended zeroes it when it wins the race', () => {
  const { k, inode, f } = mappedXfsFile(2048);
  assert.equal(drive(k, () => k.mm.store(1, 2500, filled(10, 5))), 10);
  // An extending write: iomap_write_end's pagecache_isize_extended zeroes [2048, 3500).
  assert.equal(drive(k, () => sysPwrite(k, f, 3500, filled(10, 2))), 10);
  assert.equal(inode.mapping.postEofStores, null);
  const got = new Uint8Array(3510);
  assert.equal(drive(k, () => sysPread(k, f, 0, got)), 3510);
  assert.equal(got[2500], 0);
  assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
});

test('a store inside EOF is not a post-EOF store', () => {
  const { k, inode } = mappedXfsFile(2048);
  assert.equal(drive(k, () => k.mm.store(1, 2000, filled(100, 5))), 100);
  assert.deepEqual(postEofStoresIn(inode.mapping, 0, 4096), [[2048, 2100]], 'only the part past EOF');
});

/**
 * xfs, 1 KiB blocks: f holds `size` bytes; a store at 100 through a mapping
 * faults, and iomap_page_mkwrite reserves the blocks up to that EOF
 * (folio_mkwrite_check_truncate). Then i_size becomes 4096 the way an
 * extension that raced with the fault does it: i_size_write while
 * page_mkwrite held the folio lock, pagecache_isize_extended (which would
 * write-protect the page) not run yet. The pte stays writable.
 */
function writableUnderOldEof(size: number): { k: Kernel; f: OpenFile } {
  const { k, inode, f } = mappedXfsFile(size);
  assert.equal(drive(k, () => k.mm.store(1, 100, filled(10, 5))), 10);
  assert.equal(inode.mapping.postEofStores, null);
  inode.iSize = 4096;
  return { k, f };
}

test('a store past the EOF its page_mkwrite saw is a post-EOF store, though inside i_size; a later mkwrite moves that EOF', () => {
  const { k, f } = writableUnderOldEof(2048);
  const inode = f.inode;
  // Block 2 was never reserved: a hole inside the new EOF.
  assert.equal(drive(k, () => k.mm.store(1, 2500, filled(10, 5))), 10);
  assert.deepEqual(postEofStoresIn(inode.mapping, 0, 4096), [[2500, 2510]], 'past the mkwrite EOF 2048, not past i_size 4096');
  // Writeback wins the folio lock before pagecache_isize_extended: block 2 is skipped, no finding.
  assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
  // Writeback write-protected the page; the next store faults and page_mkwrite sees EOF 4096.
  assert.equal(drive(k, () => k.mm.store(1, 3000, filled(10, 6))), 10);
  assert.deepEqual(postEofStoresIn(inode.mapping, 0, 4096), [[2500, 2510]], 'the store under the new mkwrite is file data');
  assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
});

test('a store below the end of the blocks page_mkwrite reserved is file data: over a hole the invariant still fires', () => {
  // page_mkwrite saw EOF 1500 and reserved blocks 0-1, up to 2048: a store
  // at 1800 after the extension is inside them, so not a post-EOF store.
  const { k, f } = writableUnderOldEof(1500);
  assert.equal(drive(k, () => k.mm.store(1, 1800, filled(10, 5))), 10);
  assert.equal(f.inode.mapping.postEofStores, null);
  // Its block lost behind the page cache's back: writeback would drop it.
  BLOCK_I(f.inode).extents.remove(1, 1);
  throwsViolation(() => drive(k, () => sysFsync(k, f, false)), 'writeback:dirty-data-over-hole');
});
