// End-to-end behaviour of the simulated stack through runProgram: the zeroing
// rules, fallocate, direct I/O coherence and mmap, checked both by the
// executor's shadow model (every read, the final page cache and the on-disk
// view after a remount) and by explicit expectations here.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Op, SimConfig } from '../../../worker/prog/types.js';
import { parseXfsIoScript } from '../../../worker/prog/xfs-io.js';
import { runProgram } from '../../../worker/exec/run.js';
import { EINVAL, EOPNOTSUPP, assertBytes, fileData, program, rets, runClean } from './helpers.js';

const XFS4K: Partial<SimConfig> = { fs: 'xfs', blockSize: 4096, folioMax: 16384 };
const XFS1K: Partial<SimConfig> = { fs: 'xfs', blockSize: 1024, folioMax: 16384 };
const XFS1K64: Partial<SimConfig> = { fs: 'xfs', blockSize: 1024, folioMax: 65536 };
const XFS4K4: Partial<SimConfig> = { fs: 'xfs', blockSize: 4096, folioMax: 4096 };
const EXT4: Partial<SimConfig> = { fs: 'ext4', blockSize: 4096, folioMax: 16384 };
const EXT4_2K: Partial<SimConfig> = { fs: 'ext4', blockSize: 2048, folioMax: 32768 };
const EXT4IND: Partial<SimConfig> = { fs: 'ext4', inode: 'indirect', blockSize: 1024, folioMax: 16384 };
const FUSE: Partial<SimConfig> = { fs: 'fuse', blockSize: 4096, folioMax: 65536 };
const FUSE1K: Partial<SimConfig> = { fs: 'fuse', blockSize: 1024, folioMax: 16384 };

const ALL: [string, Partial<SimConfig>][] = [
  ['xfs-4k', XFS4K], ['xfs-1k', XFS1K], ['xfs-1k-64k', XFS1K64], ['xfs-4k-4k', XFS4K4], ['ext4', EXT4],
  ['ext4-2k', EXT4_2K], ['ext4-indirect', EXT4IND], ['fuse', FUSE], ['fuse-1k', FUSE1K],
];
const BLOCK: [string, Partial<SimConfig>][] = ALL.filter(([n]) => !n.startsWith('fuse'));
const EXTENTS: [string, Partial<SimConfig>][] = BLOCK.filter(([n]) => n !== 'ext4-indirect');

function pw(off: number, len: number, fill: number, fd = 0): Op {
  return { op: 'pwrite', fd, off, len, fill };
}
function pr(off: number, len: number, fd = 0): Op {
  return { op: 'pread', fd, off, len };
}
const FSYNC: Op = { op: 'fsync', fd: 0 };
const DROP: Op = { op: 'drop_caches' };

for (const [name, c] of ALL) {
  test(`[${name}] a write past EOF zero-fills the gap`, () => {
    for (const mid of [[], [FSYNC], [FSYNC, DROP], [{ op: 'remount' } as Op]]) {
      const r = runClean(program(c, [pw(0, 100, 0xaa), ...mid, pw(10000, 100, 0xbb), pr(0, 10100), pr(50, 9000)]));
      const d = fileData(r);
      assert.equal(d.length, 10100);
      assertBytes(d, 0, 100, 0xaa);
      assertBytes(d, 100, 10000, 0);
      assertBytes(d, 10000, 10100, 0xbb);
      assert.deepEqual(rets(r).slice(-2), [10100, 9000]);
    }
  });

  // FUSE keeps such bytes (fuse_write_update_attr() zeroes nothing) and the
  // shadow oracle cannot yet predict whether the page was still cached when the
  // file grew: that case is open work on the oracle, not asserted here.
  if (c.fs !== 'fuse') test(`[${name}] bytes stored through mmap past EOF are zeroed when the file grows`, () => {
    // xfs/ext4 zero the old EOF block/page tail before extending
    // (xfs_file_write_zero_eof, iomap_zero_range).
    const r = runClean(program(c, [
      pw(0, 100, 0xaa),
      { op: 'mmap', map: 1, fd: 0, off: 0, len: 4096, prot: 'rw' },
      { op: 'mwrite', map: 1, off: 50, len: 300, fill: 0xee },
      pw(10000, 10, 0xbb),
      pr(0, 10010),
      { op: 'munmap', map: 1 },
    ]));
    const d = fileData(r);
    assertBytes(d, 0, 50, 0xaa);
    assertBytes(d, 50, 100, 0xee);
    assertBytes(d, 100, 10000, 0, 'past the old EOF');
    assert.equal(rets(r)[2], 300, 'the store inside the last page succeeds');
  });

  test(`[${name}] truncate down then up reads zeros`, () => {
    for (const mid of [[], [FSYNC], [FSYNC, DROP]]) {
      const r = runClean(program(c, [
        pw(0, 20000, 0x11), ...mid, { op: 'truncate', fd: 0, size: 5000 }, ...mid,
        { op: 'truncate', fd: 0, size: 20000 }, pr(0, 20000), pr(4000, 2000),
      ]));
      const d = fileData(r);
      assert.equal(d.length, 20000);
      assertBytes(d, 0, 5000, 0x11);
      assertBytes(d, 5000, 20000, 0);
    }
  });

  test(`[${name}] fsync and fdatasync return 0 without faults`, () => {
    const r = runClean(program(c, [pw(0, 9000, 1), FSYNC, { op: 'fdatasync', fd: 0 }, pw(100, 10, 2), FSYNC, FSYNC]));
    assert.deepEqual(rets(r), [9000, 0, 0, 10, 0, 0]);
  });

  test(`[${name}] mmap write, msync, drop_caches, then pread sees the data`, () => {
    for (const tail of [
      [{ op: 'msync', map: 0, off: 0, len: 12288, sync: true }, DROP],
      [{ op: 'msync', map: 0, off: 0, len: 12288, sync: true }, { op: 'munmap', map: 0 }, DROP],
      [{ op: 'munmap', map: 0 }, DROP],
      [{ op: 'munmap', map: 0 }, { op: 'remount' }],
    ] as Op[][]) {
      const r = runClean(program(c, [
        pw(0, 12288, 0x55),
        FSYNC,
        { op: 'mmap', map: 0, fd: 0, off: 0, len: 12288, prot: 'rw' },
        { op: 'mwrite', map: 0, off: 100, len: 5000, fill: 0x66 },
        ...tail,
        pr(0, 12288),
      ]));
      const d = fileData(r);
      assertBytes(d, 0, 100, 0x55);
      assertBytes(d, 100, 5100, 0x66);
      assertBytes(d, 5100, 12288, 0x55);
      assert.equal(rets(r)[3], 5000);
      if (tail[0]!.op === 'msync') assert.equal(rets(r)[4], 0, 'msync(MS_SYNC) returns 0');
    }
  });

  test(`[${name}] mmap read sees written data and a hole reads zeros`, () => {
    const r = runClean(program(c, [
      { op: 'truncate', fd: 0, size: 32768 },
      pw(8192, 100, 0x77),
      FSYNC, DROP,
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 32768, prot: 'r' },
      { op: 'mread', map: 0, off: 0, len: 32768 },
      { op: 'mwrite', map: 0, off: 0, len: 1, fill: 1 },
      { op: 'mread', map: 0, off: 40960, len: 1 },
    ]));
    assert.equal(rets(r)[5], 32768);
    assert.ok(rets(r)[6]! < 0, 'store to a read-only mapping fails');
    assert.ok(rets(r)[7]! < 0, 'load outside the mapping fails');
  });

  test(`[${name}] copy_file_range copies data`, () => {
    const r = runClean(program(c, [
      pw(0, 10000, 0x12), { op: 'copy_range', fdIn: 0, offIn: 1000, fdOut: 1, offOut: 3000, len: 5000 }, pr(0, 9000, 1),
    ], [{ file: 0, direct: false }, { file: 1, direct: false }], 2));
    assert.equal(rets(r)[1], 5000);
    const d = fileData(r, 1);
    assert.equal(d.length, 8000);
    assertBytes(d, 0, 3000, 0);
    assertBytes(d, 3000, 8000, 0x12);
  });

  test(`[${name}] copy_file_range within one file: overlapping ranges are -EINVAL, unless the copy is empty after EOF shortens it`, () => {
    // generic_copy_file_checks shortens the copy to EOF first (Linux 6.18: an empty file copies 0 bytes, overlap or not).
    const overlap = { op: 'copy_range', fdIn: 0, offIn: 2049, fdOut: 0, offOut: 4096, len: 4096 } as const;
    const empty = runClean(program(c, [overlap], [{ file: 0, direct: false }], 1));
    assert.deepEqual(rets(empty), [0]);
    const full = runClean(program(c, [pw(0, 8192, 0x12), overlap], [{ file: 0, direct: false }], 1));
    assert.deepEqual(rets(full), [8192, -22]);
    // Shortened to [6000, 8192): no overlap with [1000, 3192) any more.
    const shortened = runClean(program(c, [pw(0, 8192, 0x12), { op: 'copy_range', fdIn: 0, offIn: 6000, fdOut: 0, offOut: 1000, len: 8192 }], [{ file: 0, direct: false }], 1));
    assert.deepEqual(rets(shortened), [8192, 2192]);
  });
}

// Punch hole and zero range: not on ext4 indirect inodes for zero range.
for (const [name, c] of ALL) {
  test(`[${name}] punch hole reads zeros and keeps the size`, () => {
    for (const mid of [[], [FSYNC], [FSYNC, DROP]]) {
      const r = runClean(program(c, [
        pw(0, 32768, 0x22), ...mid, { op: 'fallocate', fd: 0, mode: 'punch', off: 1000, len: 9000 }, pr(0, 32768),
        { op: 'fallocate', fd: 0, mode: 'punch', off: 30000, len: 10000 }, pr(0, 32768),
      ]));
      const i = mid.length + 1;
      assert.equal(rets(r)[i], 0);
      const d = fileData(r);
      assert.equal(d.length, 32768, 'size kept');
      assertBytes(d, 0, 1000, 0x22);
      assertBytes(d, 1000, 10000, 0);
      assertBytes(d, 10000, 30000, 0x22);
      assertBytes(d, 30000, 32768, 0);
    }
  });
}

for (const [name, c] of ALL.filter(([n]) => n !== 'ext4-indirect')) {
  test(`[${name}] zero range reads zeros; KEEP_SIZE keeps the size, without it the file grows`, () => {
    for (const mid of [[], [FSYNC], [FSYNC, DROP]]) {
      const r = runClean(program(c, [
        pw(0, 32768, 0x33), ...mid,
        { op: 'fallocate', fd: 0, mode: 'zero_keep', off: 5000, len: 3000 },
        { op: 'fallocate', fd: 0, mode: 'zero_keep', off: 30000, len: 10000 },
        pr(0, 40000),
      ]));
      const d = fileData(r);
      assert.equal(d.length, 32768);
      assertBytes(d, 0, 5000, 0x33);
      assertBytes(d, 5000, 8000, 0);
      assertBytes(d, 8000, 30000, 0x33);
      assertBytes(d, 30000, 32768, 0);
      const r2 = runClean(program(c, [
        pw(0, 32768, 0x33), ...mid, { op: 'fallocate', fd: 0, mode: 'zero', off: 30000, len: 10000 }, pr(0, 40000),
      ]));
      const d2 = fileData(r2);
      assert.equal(d2.length, 40000);
      assertBytes(d2, 0, 30000, 0x33);
      assertBytes(d2, 30000, 40000, 0);
    }
  });

  test(`[${name}] fallocate alloc extends the size with zeros; keep_size does not`, () => {
    const r = runClean(program(c, [
      pw(0, 5000, 0x44), { op: 'fallocate', fd: 0, mode: 'keep_size', off: 0, len: 65536 }, pr(0, 65536),
      { op: 'fallocate', fd: 0, mode: 'alloc', off: 4096, len: 20000 }, pr(0, 65536),
      pw(6000, 10, 0x45), pr(0, 65536),
    ]));
    assert.deepEqual(rets(r).slice(0, 5), [5000, 0, 5000, 0, 24096]);
    const d = fileData(r);
    assert.equal(d.length, 24096);
    assertBytes(d, 0, 5000, 0x44);
    assertBytes(d, 5000, 6000, 0);
    assertBytes(d, 6000, 6010, 0x45);
    assertBytes(d, 6010, 24096, 0);
  });
}

for (const [name, c] of EXTENTS) {
  test(`[${name}] collapse and insert range shift the data`, () => {
    const bs = c.blockSize!;
    for (const mid of [[], [FSYNC], [FSYNC, DROP]]) {
      const r = runClean(program(c, [
        pw(0, bs, 1), pw(bs, bs, 2), pw(2 * bs, bs, 3), pw(3 * bs, bs, 4), ...mid,
        { op: 'fallocate', fd: 0, mode: 'collapse', off: bs, len: bs }, pr(0, 4 * bs),
        { op: 'fallocate', fd: 0, mode: 'insert', off: bs, len: 2 * bs }, pr(0, 6 * bs),
      ]));
      const n = 4 + mid.length;
      assert.equal(rets(r)[n], 0, 'collapse');
      assert.equal(rets(r)[n + 1], 3 * bs);
      assert.equal(rets(r)[n + 2], 0, 'insert');
      assert.equal(rets(r)[n + 3], 5 * bs);
      const d = fileData(r);
      assert.equal(d.length, 5 * bs);
      assertBytes(d, 0, bs, 1);
      assertBytes(d, bs, 3 * bs, 0);
      assertBytes(d, 3 * bs, 4 * bs, 3);
      assertBytes(d, 4 * bs, 5 * bs, 4);
    }
  });

  test(`[${name}] collapse/insert need block alignment; collapse reaching EOF is -EINVAL; insert at EOF is -EINVAL`, () => {
    const bs = c.blockSize!;
    const r = runClean(program(c, [
      pw(0, 8 * bs, 9),
      { op: 'fallocate', fd: 0, mode: 'collapse', off: 512, len: bs },
      { op: 'fallocate', fd: 0, mode: 'insert', off: bs, len: bs + 512 },
      { op: 'fallocate', fd: 0, mode: 'collapse', off: 4 * bs, len: 4 * bs },
      { op: 'fallocate', fd: 0, mode: 'collapse', off: 4 * bs, len: 8 * bs },
      { op: 'fallocate', fd: 0, mode: 'insert', off: 8 * bs, len: bs },
      pr(0, 8 * bs),
    ]));
    assert.deepEqual(rets(r), [8 * bs, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, 8 * bs]);
  });
}

test('[ext4-indirect] fallocate: only punch hole is supported (-EOPNOTSUPP otherwise)', () => {
  const modes = ['alloc', 'keep_size', 'zero', 'zero_keep', 'collapse', 'insert', 'unshare'] as const;
  const ops: Op[] = [pw(0, 16384, 1)];
  for (const mode of modes) ops.push({ op: 'fallocate', fd: 0, mode, off: 4096, len: 4096 });
  ops.push({ op: 'fallocate', fd: 0, mode: 'punch', off: 4096, len: 4096 }, pr(0, 16384));
  const r = runClean(program({ ...EXT4IND, blockSize: 4096 }, ops));
  assert.deepEqual(rets(r), [16384, ...modes.map(() => EOPNOTSUPP), 0, 16384]);
  const d = fileData(r);
  assertBytes(d, 0, 4096, 1);
  assertBytes(d, 4096, 8192, 0);
  assertBytes(d, 8192, 16384, 1);
});

for (const [name, c] of [['fuse', FUSE], ['fuse-1k', FUSE1K]] as const) {
  test(`[${name}] collapse and insert are -EOPNOTSUPP`, () => {
    const r = runClean(program(c, [
      pw(0, 65536, 1),
      { op: 'fallocate', fd: 0, mode: 'collapse', off: 4096, len: 4096 },
      { op: 'fallocate', fd: 0, mode: 'insert', off: 4096, len: 4096 },
      pr(0, 65536),
    ]));
    assert.deepEqual(rets(r), [65536, EOPNOTSUPP, EOPNOTSUPP, 65536]);
  });
}

for (const [name, c] of [['xfs-1k-16k', XFS1K], ['xfs-1k-64k', XFS1K64], ['ext4-1k', { ...EXT4, blockSize: 1024 }], ['ext4-indirect', EXT4IND], ['fuse-1k', FUSE1K]] as const) {
  test(`[${name}] partial-block writes on 1 KiB blocks in large folios read back exactly`, () => {
    // Odd offsets and lengths inside and across blocks and folios, with the page
    // cache dropped in between so write_begin must read (or zero) the rest of a block.
    const writes: [number, number, number][] = [
      [100, 200, 1], [1000, 48, 2], [1023, 2, 3], [5000, 10000, 4], [16380, 10, 5], [3000, 1, 6],
      [40000, 7, 7], [20000, 3000, 8], [16384, 1, 9], [1024, 1024, 10],
    ];
    const expect = new Uint8Array(40007);
    for (const dropEvery of [0, 1, 3]) {
      const ops: Op[] = [];
      expect.fill(0);
      writes.forEach(([off, len, fill], i) => {
        ops.push(pw(off, len, fill));
        expect.fill(fill, off, off + len);
        if (dropEvery && i % dropEvery === 0) ops.push(i % 2 ? DROP : FSYNC);
        ops.push(pr(Math.max(0, off - 700), len + 1400));
      });
      ops.push(pr(0, 50000));
      const r = runClean(program(c, ops));
      assert.deepEqual(fileData(r), expect);
    }
  });
}

for (const [name, c] of BLOCK) {
  test(`[${name}] O_DIRECT and buffered I/O are coherent`, () => {
    const fds = [{ file: 0, direct: false }, { file: 0, direct: true }];
    const r = runClean(program(c, [
      pw(0, 16384, 0x31, 0), // buffered, dirty in the page cache
      pr(0, 16384, 1), // direct read writes back first
      pw(4096, 4096, 0x32, 1), // direct write invalidates the cached range
      pr(0, 16384, 0), // buffered read sees the direct write
      pw(8192, 512, 0x33, 1), // sector-aligned direct write
      pr(8000, 1000, 0),
      pw(100, 50, 0x34, 0), // buffered again over cached data
      pr(0, 4096, 1),
      pw(16384, 8192, 0x35, 1), // direct write extending the file
      pr(0, 24576, 0),
      pr(20480, 10240, 1), // direct read past EOF is short
    ], fds));
    const ret = rets(r);
    assert.deepEqual(ret, [16384, 16384, 4096, 16384, 512, 1000, 50, 4096, 8192, 24576, 4096]);
    const d = fileData(r);
    assert.equal(d.length, 24576);
    assertBytes(d, 0, 100, 0x31);
    assertBytes(d, 100, 150, 0x34);
    assertBytes(d, 150, 4096, 0x31);
    assertBytes(d, 4096, 8192, 0x32);
    assertBytes(d, 8192, 8704, 0x33);
    assertBytes(d, 8704, 16384, 0x31);
    assertBytes(d, 16384, 24576, 0x35);
  });

  test(`[${name}] O_DIRECT into holes and past EOF, then buffered read after drop_caches`, () => {
    const fds = [{ file: 0, direct: true }, { file: 0, direct: false }];
    const r = runClean(program(c, [
      { op: 'truncate', fd: 0, size: 65536 },
      pw(8192, 4096, 0x41, 0), // into a hole inside i_size (ext4 indirect: buffered fallback)
      pw(65536, 1024, 0x42, 0), // past EOF
      pw(70144, 512, 0x43, 0), // past EOF, leaving a gap
      pr(0, 80384, 1),
      DROP,
      pr(0, 80384, 1),
      pr(0, 70656, 0),
    ], fds));
    const d = fileData(r);
    assert.equal(d.length, 70656);
    assertBytes(d, 0, 8192, 0);
    assertBytes(d, 8192, 12288, 0x41);
    assertBytes(d, 12288, 65536, 0);
    assertBytes(d, 65536, 66560, 0x42);
    assertBytes(d, 66560, 70144, 0);
    assertBytes(d, 70144, 70656, 0x43);
  });

  test(`[${name}] an unaligned O_DIRECT write is -EINVAL and changes nothing`, () => {
    const fds = [{ file: 0, direct: true }, { file: 0, direct: false }];
    const r = runClean(program(c, [
      pw(0, 4096, 0x51, 0),
      pw(100, 512, 0x52, 0),
      pw(0, 100, 0x53, 0),
      pw(512, 1000, 0x54, 0),
      pr(0, 4096, 1),
    ], fds));
    assert.deepEqual(rets(r), [4096, EINVAL, EINVAL, EINVAL, 4096]);
    assertBytes(fileData(r), 0, 4096, 0x51);
  });
}

test('xfs_io script: the same zeroing rules through the importer', () => {
  const script = [
    'pwrite -S 0x61 0 5000',
    'truncate 2000',
    'pwrite -S 0x62 8000 100',
    'fsync',
    'fpunch 8050 10',
    'fzero -k 0 1000',
    'pread 0 8100',
  ].join('\n');
  for (const c of [XFS1K, EXT4, FUSE]) {
    const p = parseXfsIoScript(script, 't.xfsio', { direct: false, config: { inode: 'extent', ...c } as SimConfig });
    const r = runClean(p);
    const d = fileData(r);
    assert.equal(d.length, 8100);
    assertBytes(d, 0, 1000, 0);
    assertBytes(d, 1000, 2000, 0x61);
    assertBytes(d, 2000, 8000, 0);
    assertBytes(d, 8000, 8050, 0x62);
    assertBytes(d, 8050, 8060, 0);
    assertBytes(d, 8060, 8100, 0x62);
  }
});

test('an mmap store that runs into a page past EOF (SIGBUS) keeps the bytes stored before the fault', () => {
  // A memset through a shared mapping stores byte by byte until it touches the
  // page past EOF; the bytes already stored (inside i_size) are file data.
  for (const [name, c] of ALL) {
    const r = runProgram(program(c, [
      { op: 'mmap', map: 1, fd: 0, off: 0, len: 12288, prot: 'rw' },
      pw(0, 5722, 3),
      { op: 'mwrite', map: 1, off: 4753, len: 3547, fill: 7 },
      pr(0, 5722),
    ]));
    assert.equal(r.harnessError, null, name);
    assert.equal(r.violation, null, `[${name}] ${r.violation?.message ?? ''}`);
    assert.ok(rets(r)[2]! < 0, `[${name}] the store faults on the page past EOF`);
    const d = fileData(r);
    assertBytes(d, 0, 4753, 3, name);
    assertBytes(d, 4753, 5722, 7, name);
  }
});
