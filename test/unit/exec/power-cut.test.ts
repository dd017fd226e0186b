// Power cut as a program op, end to end: the durability oracle's rules, and
// fsynced data surviving a cut on every filesystem the sim has.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DurableFile } from '../../../worker/oracle/durability.js';
import { ShadowFile } from '../../../worker/oracle/shadow.js';
import type { Op, SimConfig } from '../../../worker/prog/types.js';
import { ExportError } from '../../../worker/repro/errors.js';
import { exportRepro } from '../../../worker/repro/export.js';
import { makeRepro } from '../../../worker/repro/repro.js';
import { assertBytes, fileData, program, rets, runClean } from '../sim/helpers.js';

const CONFIGS: [string, Partial<SimConfig>][] = [
  ['ext4', { fs: 'ext4', inode: 'extent', blockSize: 1024 }],
  ['ext4-indirect', { fs: 'ext4', inode: 'indirect', blockSize: 1024 }],
  ['xfs', { fs: 'xfs', blockSize: 1024 }],
  ['fuse', { fs: 'fuse', blockSize: 1024 }],
];

/** write, fsync, overwrite part of it and append, push that to the device's cache, cut, read back. */
function scene(seed: number): Op[] {
  return [
    { op: 'pwrite', fd: 0, off: 0, len: 12288, fill: 0xab },
    { op: 'fsync', fd: 0 },
    { op: 'pwrite', fd: 0, off: 4096, len: 2048, fill: 0xcd },
    { op: 'pwrite', fd: 0, off: 12288, len: 8192, fill: 0xef },
    { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 6 },
    { op: 'power_cut', seed },
    { op: 'pread', fd: 0, off: 0, len: 32768 },
  ];
}

for (const [name, config] of CONFIGS) {
  test(`power cut (${name}): fsynced bytes and size survive over 12 seeds; later writes are old or new`, () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = runClean(program(config, scene(seed)));
      const got = fileData(r);
      // fuse's daemon keeps its later writes or not as a whole; the block filesystems never commit the append.
      assert.ok(got.length === 12288 || (name === 'fuse' && got.length === 20480), `size ${got.length}`);
      assertBytes(got, 0, 4096, 0xab, 'fsynced');
      assertBytes(got, 6144, 12288, 0xab, 'fsynced');
      for (let o = 4096; o < 6144; o += 512) {
        const sec = got.subarray(o, o + 512);
        assert.ok(sec.every((x) => x === 0xab) || sec.every((x) => x === 0xcd), `sector at ${o} is old or new, whole`);
      }
      assert.equal(rets(r)[6], got.length);
    }
  });

  test(`power cut (${name}): a second fsync after the cut makes the new data durable`, () => {
    const ops: Op[] = [
      ...scene(3).slice(0, 6),
      { op: 'pwrite', fd: 0, off: 0, len: 16384, fill: 0x11 },
      { op: 'fdatasync', fd: 0 },
      { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 0x22 },
      { op: 'power_cut', seed: 9 },
    ];
    const got = fileData(runClean(program(config, ops)));
    assert.ok(got.length >= 16384);
    for (let o = 0; o < 4096; o += 512) {
      const sec = got.subarray(o, o + 512);
      assert.ok(sec.every((x) => x === 0x11) || sec.every((x) => x === 0x22), `sector at ${o} is old or new, whole`);
    }
    assertBytes(got, 4096, 16384, 0x11, 'fsynced after the first cut');
  });
}

test('power cut: refused (-EBUSY) while a mapping is live, as a remount is', () => {
  const r = runClean(program({ fs: 'xfs' }, [
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
    { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
    { op: 'power_cut', seed: 1 },
    { op: 'munmap', map: 0 },
    { op: 'power_cut', seed: 1 },
  ]));
  assert.deepEqual(rets(r), [4096, 0, -16, 0, 0]);
  assert.equal(fileData(r).length, 0, 'never fsynced: gone');
});

test('power cut: an injected fault armed before the cut still fires after it, and fsync reports it once', () => {
  const r = runClean(program({ fs: 'ext4', blockSize: 4096 }, [
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
    { op: 'fail_bio', write: true, skip: 0 },
    { op: 'power_cut', seed: 2 },
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 2 },
    { op: 'fsync', fd: 0 },
    { op: 'fsync', fd: 0 },
  ]));
  assert.deepEqual(rets(r), [4096, 0, 0, 4096, -5, 0]);
});

// ---- the oracle's rules, on its own ---------------------------------------

function shadowOf(...writes: [number, number, number][]): ShadowFile {
  const s = new ShadowFile();
  for (const [off, len, fill] of writes) s.fill(off, len, fill);
  return s;
}

test('durability oracle: untouched durable bytes must read back exactly', () => {
  const d = new DurableFile();
  const s = shadowOf([0, 100, 7]);
  d.makeStable(DurableFile.capture(s), s, 'vfs_fsync_range');
  const got = new Uint8Array(100).fill(7);
  assert.equal(d.judge(got), null);
  got[50] = 8;
  assert.equal(d.judge(got)?.what, 'durable');
});

test('durability oracle: a changed byte holds its durable value or one written since, nothing else', () => {
  const d = new DurableFile();
  const s = shadowOf([0, 100, 7]);
  d.makeStable(DurableFile.capture(s), s, 'vfs_fsync_range');
  s.fill(10, 10, 8);
  d.note(s);
  s.fill(10, 5, 9);
  d.note(s);
  const got = new Uint8Array(100).fill(7);
  got.fill(9, 10, 12);
  got.fill(8, 14, 16);
  assert.equal(d.judge(got), null);
  got[11] = 0;
  assert.equal(d.judge(got)?.what, 'garbage');
});

test('durability oracle: the size is one the file had since it was durable; a shrink may leave zeroes', () => {
  const d = new DurableFile();
  const s = shadowOf([0, 100, 7]);
  d.makeStable(DurableFile.capture(s), s, 'vfs_fsync_range');
  s.fill(100, 100, 8);
  d.note(s);
  s.truncate(50);
  d.note(s);
  const full = new Uint8Array(200).fill(7);
  full.fill(8, 100);
  assert.equal(d.judge(full), null);
  assert.equal(d.judge(full.subarray(0, 50)), null);
  assert.equal(d.judge(new Uint8Array(201))?.what, 'size');
  assert.equal(d.judge(full.subarray(0, 49))?.what, 'size');
  // The truncate's zeroing reached the disk, its size did not.
  const zeroed = new Uint8Array(100).fill(7);
  zeroed.fill(0, 50);
  assert.equal(d.judge(zeroed), null);
});

test('durability oracle: bytes that were unknown at some moment are not judged', () => {
  const d = new DurableFile();
  const s = shadowOf([0, 100, 7]);
  d.makeStable(DurableFile.capture(s), s, 'vfs_fsync_range');
  s.forget(20, 10);
  d.note(s);
  const got = new Uint8Array(100).fill(7);
  got.fill(0x55, 20, 30);
  assert.equal(d.judge(got), null);
});

test('power cut exports: C marks the spot and compares nothing after it, xfs_io comments it, fsx refuses it', () => {
  const p = program({ fs: 'ext4' }, [
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
    { op: 'fsync', fd: 0 },
    { op: 'power_cut', seed: 5 },
    { op: 'pread', fd: 0, off: 0, len: 4096 },
  ]);
  const r = makeRepro(p, [], null);
  const c = exportRepro(r, 'c').files[0]!.text;
  assert.match(c, /power_cut \(seed 5\): the sim cut the power here; nothing from here on is checked/);
  assert.match(c, /Needs fault injection this export cannot do: t0 #2 power_cut seed=5/);
  // The fsync before the cut is compared; the pread after it is run with nothing expected of it.
  assert.match(c, /ret = rc\(fsync\(fds\[0\]\)\);\n\t\top_leave\(\);\n\t\tcheck_ret\(0, what, ret, 0LL\);/);
  assert.match(c, /ret = do_pread\(what, 0, 0ULL, 4096ULL, 4096ULL, NULL, 0\);\n\t\top_leave\(\);\n\t\t\(void\)what;/);
  const xfsIo = exportRepro(r, 'xfs_io').files[0]!.text;
  assert.match(xfsIo, /^# sim: power_cut seed=5 -- power cut here/m);
  assert.throws(() => exportRepro(r, 'fsx'), (e: unknown) => e instanceof ExportError && /fsx has no power_cut operation/.test(e.message));
});

test('durability oracle: an fsync makes durable what the file held when it began, not what completed during it', () => {
  const d = new DurableFile();
  const s = shadowOf([0, 100, 7]);
  const at = DurableFile.capture(s);
  s.fill(0, 50, 9); // an AIO write completing while the fsync runs
  d.makeStable(at, s, 'vfs_fsync_range');
  const got = new Uint8Array(100).fill(7);
  assert.equal(d.judge(got), null, 'the AIO data may be lost');
  got.fill(9, 0, 50);
  assert.equal(d.judge(got), null, 'or there');
  got[60] = 9;
  assert.equal(d.judge(got)?.what, 'durable');
});
