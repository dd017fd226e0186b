// Internal state after syscalls, with a Kernel driven directly from a
// scheduler thread: extent states (delalloc -> unwritten -> written), folio
// flags and ifs bits, i_size / on-disk size, and device durability.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ExtState } from '../../../worker/sim/fs/extent-map.js';
import { folioIfs, ifsBlockDirty, ifsBlockUptodate, ifsIsFullyUptodate } from '../../../worker/sim/iomap/ifs.js';
import { filemapLookup } from '../../../worker/sim/mm/filemap.js';
import { folioTestDirty, folioTestLocked, folioTestUptodate, folioTestWriteback } from '../../../worker/sim/mm/folio.js';
import type { Kernel } from '../../../worker/sim/kernel.js';
import { sysFallocate, sysFsync, sysFtruncate, sysPread, sysPwrite, sysSyncFileRange } from '../../../worker/sim/vfs/syscalls.js';
import { drive, newKernel } from './helpers.js';
import type { Inode } from '../../../worker/sim/include/fs.js';
import { BLOCK_I } from '../../../worker/sim/fs/block-inode.js';

function filled(n: number, b: number): Uint8Array {
  return new Uint8Array(n).fill(b);
}

function extents(inode: Inode): [number, number, ExtState][] {
  return BLOCK_I(inode).extents.exts.map((x) => [x.lblk, x.len, x.state]);
}

function durableAt(k: Kernel, inode: Inode, off: number, len: number): Uint8Array {
  const bs = k.config.blockSize;
  const { ext } = BLOCK_I(inode).extents.lookup(Math.floor(off / bs));
  assert.ok(ext && ext.pblk >= 0, `no allocated extent at ${off}`);
  const addr = (ext.pblk + (Math.floor(off / bs) - ext.lblk)) * bs + (off % bs);
  const out = new Uint8Array(len);
  k.dev.readDurable(addr, out);
  return out;
}

for (const fs of ['xfs', 'ext4'] as const) {
  test(`[${fs}] buffered write reserves delalloc; fsync allocates, writes, converts and flushes`, () => {
    const k = newKernel({ fs, blockSize: 4096, folioMax: 16384 });
    const inode = k.createFile('a');
    const f = k.openFile(inode, false);
    assert.equal(drive(k, () => sysPwrite(k, f, 0, filled(10000, 0xab))), 10000);
    assert.equal(inode.iSize, 10000);
    assert.equal(inode.diskSize, 0, 'nothing on disk yet');
    assert.deepEqual(extents(inode), [[0, 3, ExtState.Delalloc]]);
    const folio = filemapLookup(inode.mapping, 0)!;
    assert.ok(folio);
    // fgf_set_order(10000): order ilog2(10000) - PAGE_SHIFT = 1.
    assert.equal(folio.size, 8192, 'a large folio sized by the write length');
    assert.equal(filemapLookup(inode.mapping, 2)!.size, 4096, 'the 1808-byte tail gets an order-0 folio');
    assert.equal(folioTestDirty(folio), true);
    assert.equal(folioTestLocked(folio), false);
    assert.equal(k.dev.submitted, 0, 'no I/O for a buffered write');

    assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
    assert.deepEqual(extents(inode), [[0, 3, ExtState.Written]]);
    assert.equal(inode.diskSize, 10000);
    assert.equal(folioTestDirty(folio), false);
    assert.equal(folioTestWriteback(folio), false);
    assert.deepEqual(durableAt(k, inode, 0, 10000), filled(10000, 0xab), 'fsync made the data durable');
    const tail = durableAt(k, inode, 10000, 2288);
    assert.deepEqual(tail, new Uint8Array(2288), 'the EOF block tail is written as zeros');
  });
}

test('[ext4-indirect] writeback allocates written blocks directly', () => {
  const k = newKernel({ fs: 'ext4', inode: 'indirect', blockSize: 1024, folioMax: 16384 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  drive(k, () => sysPwrite(k, f, 0, filled(3000, 1)));
  assert.deepEqual(extents(inode), [[0, 3, ExtState.Delalloc]]);
  drive(k, () => sysFsync(k, f, true));
  assert.deepEqual(extents(inode), [[0, 3, ExtState.Written]]);
});

test('[xfs] sync_file_range(WRITE) starts writeback without a cache flush', () => {
  const k = newKernel({ fs: 'xfs', blockSize: 4096, folioMax: 4096 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  drive(k, () => sysPwrite(k, f, 0, filled(4096, 7)));
  assert.equal(drive(k, () => sysSyncFileRange(k, f, 0, 0, 2 | 4)), 0);
  assert.deepEqual(extents(inode), [[0, 1, ExtState.Written]]);
  assert.deepEqual(durableAt(k, inode, 0, 4096), new Uint8Array(4096), 'visible on the device, not durable');
  const vis = new Uint8Array(4096);
  const ext = BLOCK_I(inode).extents.exts[0]!;
  k.dev.readVisible(ext.pblk * 4096, vis);
  assert.deepEqual(vis, filled(4096, 7));
});

test('[xfs] a partial write into a large folio sets only the touched block bits', () => {
  const k = newKernel({ fs: 'xfs', blockSize: 1024, folioMax: 16384 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  drive(k, () => sysFtruncate(k, f, 16384));
  drive(k, () => sysPwrite(k, f, 1500, filled(1000, 5)));
  const folio = filemapLookup(inode.mapping, 0)!;
  const ifs = folioIfs(folio)!;
  assert.ok(ifs, 'multi-block folio has an ifs');
  assert.equal(folioTestUptodate(folio), false);
  for (let b = 0; b < ifs.nrBlocks; b++) {
    const touched = b === 1 || b === 2;
    assert.equal(ifsBlockUptodate(ifs, b), touched, `uptodate bit of block ${b}`);
    assert.equal(ifsBlockDirty(ifs, b), touched, `dirty bit of block ${b}`);
  }
  // A read fills the rest and makes the folio uptodate.
  const dst = new Uint8Array(16384);
  assert.equal(drive(k, () => sysPread(k, f, 0, dst)), 16384);
  assert.equal(folioTestUptodate(folio), true);
  assert.equal(ifsIsFullyUptodate(ifs), true);
  assert.deepEqual(dst.subarray(1500, 2500), filled(1000, 5));
  assert.deepEqual(dst.subarray(0, 1500), new Uint8Array(1500));
  assert.deepEqual(dst.subarray(2500), new Uint8Array(16384 - 2500));
  assert.equal(ifsBlockDirty(ifs, 0), false);
  assert.equal(ifsBlockDirty(ifs, 1), true, 'reading does not clean');
});

test('[xfs] fallocate preallocates unwritten extents that read as zeros', () => {
  const k = newKernel({ fs: 'xfs', blockSize: 4096, folioMax: 16384 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  assert.equal(drive(k, () => sysFallocate(k, f, 'alloc', 0, 16384)), 0);
  assert.equal(inode.iSize, 16384);
  assert.deepEqual(extents(inode), [[0, 4, ExtState.Unwritten]]);
  const dst = filled(16384, 0xff);
  assert.equal(drive(k, () => sysPread(k, f, 0, dst)), 16384);
  assert.deepEqual(dst, new Uint8Array(16384));
  assert.equal(k.dev.submitted, 0, 'unwritten extents are not read from disk');
  drive(k, () => sysPwrite(k, f, 4096, filled(4096, 3)));
  assert.deepEqual(extents(inode), [[0, 4, ExtState.Unwritten]], 'overwrite of unwritten: no new reservation');
  drive(k, () => sysFsync(k, f, false));
  assert.deepEqual(extents(inode), [[0, 1, ExtState.Unwritten], [1, 1, ExtState.Written], [2, 2, ExtState.Unwritten]]);
});

test('[xfs] O_DIRECT write into a hole allocates and converts at completion', () => {
  const k = newKernel({ fs: 'xfs', blockSize: 4096, folioMax: 16384 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, true);
  assert.equal(drive(k, () => sysPwrite(k, f, 8192, filled(4096, 9))), 4096);
  assert.equal(inode.iSize, 12288);
  assert.equal(inode.diskSize, 12288);
  assert.deepEqual(extents(inode), [[2, 1, ExtState.Written]]);
  assert.equal(inode.mapping.nrpages, 0, 'direct I/O leaves no page cache');
  assert.equal(inode.dioCount, 0);
});

test('[fuse] buffered writes go to the server at once (write-through)', () => {
  const k = newKernel({ fs: 'fuse', blockSize: 4096, folioMax: 16384 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  assert.equal(drive(k, () => sysPwrite(k, f, 0, filled(5000, 4))), 5000);
  for (const folio of new Set(inode.mapping.pages.values())) assert.equal(folioTestDirty(folio), false, 'no dirty folios');
  assert.equal(inode.iSize, 5000);
  assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
});

test('[xfs] truncate down frees blocks past EOF and zeroes the EOF block tail', () => {
  const k = newKernel({ fs: 'xfs', blockSize: 1024, folioMax: 16384 });
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  drive(k, () => sysPwrite(k, f, 0, filled(8192, 1)));
  drive(k, () => sysFsync(k, f, false));
  assert.equal(drive(k, () => sysFtruncate(k, f, 2500)), 0);
  assert.equal(inode.iSize, 2500);
  assert.deepEqual(extents(inode), [[0, 3, ExtState.Written]]);
  const folio = filemapLookup(inode.mapping, 0);
  if (folio) assert.deepEqual(folio.data.subarray(2500, 3072), new Uint8Array(572), 'cached tail of the EOF block zeroed');
  drive(k, () => sysFtruncate(k, f, 8192));
  const dst = new Uint8Array(8192);
  drive(k, () => sysPread(k, f, 0, dst));
  assert.deepEqual(dst.subarray(2500), new Uint8Array(8192 - 2500));
});
