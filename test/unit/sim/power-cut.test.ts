// Power cut on the block filesystems: what fsync made durable survives, the
// size never exceeds the committed size, unflushed data may be lost.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BlockFs } from '../../../worker/sim/fs/blockfs.js';
import type { Kernel } from '../../../worker/sim/kernel.js';
import type { PowerCutReport } from '../../../worker/sim/blockdev.js';
import type { Co } from '../../../worker/sim/sched.js';
import { sysFsync, sysPread, sysPwrite, sysSyncFileRange } from '../../../worker/sim/vfs/syscalls.js';
import { assertBytes, drive, newKernel } from './helpers.js';
import { BLOCK_I } from '../../../worker/sim/fs/block-inode.js';

/** The power goes (Filesystem.powerFail), then the mount comes back (powerRecover): what sysPowerCut does around holding the files quiet. */
function* powerCut(k: Kernel, seed: number): Co<PowerCutReport> {
  const fs = blockFs(k);
  const report = fs.powerFail(seed);
  yield* fs.powerRecover(seed);
  return report;
}

function filled(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

function blockFs(k: Kernel): BlockFs {
  assert.ok(k.fs instanceof BlockFs);
  return k.fs;
}

for (const fs of ['xfs', 'ext4'] as const) {
  for (const seed of [1, 2, 3]) {
    test(`power cut (${fs}, seed ${seed}): fsynced data and size survive; later appends are gone with the uncommitted size`, () => {
      const k = newKernel({ fs, blockSize: 1024, folioMax: 16384 });
      const inode = k.createFile('a');
      const f = k.openFile(inode, false);
      assert.equal(drive(k, () => sysPwrite(k, f, 0, filled(10000, 0xab))), 10000);
      assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
      // An append and an overwrite after the fsync, written back but never committed or flushed.
      drive(k, () => sysPwrite(k, f, 10000, filled(5000, 0xcd)));
      drive(k, () => sysPwrite(k, f, 0, filled(2048, 0xee)));
      // sync_file_range(WRITE|WAIT_AFTER): on the device's volatile cache, no log commit, no flush.
      assert.equal(drive(k, () => sysSyncFileRange(k, f, 0, 0, 2 | 4)), 0);
      const report = drive(k, () => powerCut(k, seed));
      assert.equal(inode.iSize, 10000, 'the size is the committed size');
      assert.equal(inode.mapping.nrpages, 0, 'the page cache is gone');
      const got = new Uint8Array(12000);
      assert.equal(drive(k, () => sysPread(k, f, 0, got)), 10000);
      // The overwrite of [0, 2048) may or may not have reached the media, per sector.
      for (let o = 0; o < 2048; o += 512) {
        const sec = got.subarray(o, o + 512);
        assert.ok(sec.every((x) => x === 0xab) || sec.every((x) => x === 0xee), `sector at ${o} is old or new, whole`);
      }
      assertBytes(got, 2048, 10000, 0xab, 'fsynced bytes');
      assert.ok(report.survived + report.lost >= 4, 'the overwrite was in the volatile cache');
    });
  }

  test(`power cut (${fs}): a file never fsynced comes back empty`, () => {
    const k = newKernel({ fs, blockSize: 4096, folioMax: 16384 });
    const inode = k.createFile('a');
    const f = k.openFile(inode, false);
    drive(k, () => sysPwrite(k, f, 0, filled(8192, 3)));
    drive(k, () => powerCut(k, 5));
    assert.equal(inode.iSize, 0);
    assert.equal(BLOCK_I(inode).extents.exts.length, 0);
    // The allocator took back the blocks the lost extents held: a new write allocates and reads back.
    drive(k, () => sysPwrite(k, f, 0, filled(8192, 4)));
    assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
    const got = new Uint8Array(8192);
    assert.equal(drive(k, () => sysPread(k, f, 0, got)), 8192);
    assertBytes(got, 0, 8192, 4);
  });
}
