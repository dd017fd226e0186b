import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '../../../worker/exec/run.js';
import type { FsKind, Op, Program } from '../../../worker/prog/types.js';

function program(fs: FsKind, ops: Op[], direct = false): Program {
  return {
    version: 1,
    config: { fs, inode: 'extent', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }, { file: 0, direct: false }, { file: 0, direct }],
    threads: [{ ops }],
  };
}

const rets = (p: Program): number[] => {
  const r = runProgram(p);
  assert.equal(r.harnessError, null);
  assert.equal(r.violation, null, r.violation?.message);
  return r.results.map((x) => x.ret);
};

for (const fs of ['xfs', 'ext4'] as const) {
  test(`[${fs}] a writeback error is reported once to every open file description (errseq)`, () => {
    assert.deepEqual(rets(program(fs, [
      { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
      { op: 'fail_bio', write: true, skip: 0 },
      { op: 'fsync', fd: 0 },
      { op: 'fsync', fd: 0 },
      { op: 'fsync', fd: 1 },
      { op: 'fsync', fd: 1 },
      { op: 'close_open', fd: 2 },
      { op: 'fsync', fd: 2 },
    ])), [4096, 0, -5, 0, -5, 0, 0, 0]);
  });

  test(`[${fs}] an error nobody has seen yet is reported to a new opener`, () => {
    assert.deepEqual(rets(program(fs, [
      { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
      { op: 'fail_bio', write: true, skip: 0 },
      { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 2 },
      { op: 'close_open', fd: 2 },
      { op: 'fsync', fd: 2 },
      { op: 'fsync', fd: 0 },
    ])), [4096, 0, 0, 0, -5, -5]);
  });

  test(`[${fs}] sync_file_range with a WAIT flag reports the error to its file once, as fsync does (file_fdatawait_range)`, () => {
    assert.deepEqual(rets(program(fs, [
      { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
      { op: 'fail_bio', write: true, skip: 0 },
      { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 7 },
      { op: 'close_open', fd: 2 },
      { op: 'fsync', fd: 2 },
      { op: 'fsync', fd: 0 },
      { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 4 },
    ])), [4096, 0, -5, 0, 0, 0, 0]);
  });

  test(`[${fs}] a failed read bio makes the read fail; the next read succeeds`, () => {
    assert.deepEqual(rets(program(fs, [
      { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 7 },
      { op: 'fsync', fd: 0 },
      { op: 'drop_caches' },
      { op: 'fail_bio', write: false, skip: 0 },
      { op: 'pread', fd: 0, off: 0, len: 4096 },
      { op: 'pread', fd: 0, off: 0, len: 4096 },
    ])), [4096, 0, 0, 0, -5, 4096]);
  });

  test(`[${fs}] a failed direct write returns -EIO and is not a writeback error`, () => {
    assert.deepEqual(rets(program(fs, [
      { op: 'pwrite', fd: 2, off: 0, len: 4096, fill: 1 },
      { op: 'fail_bio', write: true, skip: 0 },
      { op: 'pwrite', fd: 2, off: 0, len: 4096, fill: 2 },
      { op: 'fsync', fd: 0 },
    ], true)), [4096, 0, -5, 0]);
  });
}

test('[fuse] a short write from the server: the write returns what was written, the rest is read back from the server', () => {
  const p: Program = {
    version: 1,
    config: { fs: 'fuse', inode: 'extent', blockSize: 1024, folioMax: 16384 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }],
    threads: [{ ops: [
      { op: 'pwrite', fd: 0, off: 0, len: 16384, fill: 1 },
      { op: 'pread', fd: 0, off: 0, len: 16384 },
      { op: 'fail_bio', write: true, skip: 0, short: true },
      { op: 'pwrite', fd: 0, off: 1000, len: 4000, fill: 2 },
      { op: 'pread', fd: 0, off: 0, len: 16384 },
      { op: 'truncate', fd: 0, size: 0 },
    ] }],
  };
  assert.deepEqual(rets(p), [16384, 16384, 0, 2000, 16384, 0]);
});

test('[fuse] with fuse-clear-uptodate-ifs, a short write leaves the ifs claiming uptodate blocks', () => {
  const p: Program = {
    version: 1,
    config: { fs: 'fuse', inode: 'extent', blockSize: 1024, folioMax: 16384 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }],
    threads: [{ ops: [
      { op: 'pwrite', fd: 0, off: 0, len: 16384, fill: 1 },
      { op: 'drop_caches' },
      { op: 'pread', fd: 0, off: 0, len: 16384 },
      { op: 'fail_bio', write: true, skip: 0, short: true },
      { op: 'pwrite', fd: 0, off: 1000, len: 4000, fill: 2 },
      { op: 'truncate', fd: 0, size: 0 },
    ] }],
  };
  const r = runProgram(p, { bugs: new Set(['fuse-clear-uptodate-ifs']) });
  assert.equal(r.violation?.signature, 'INVARIANT folio_clear_uptodate:ifs-uptodate @ folio_clear_uptodate');
});

test('[fuse] a short WRITE into an mmap-dirtied folio: the refused bytes stay cached and reach the server at writeback', () => {
  // fuse_fill_write_pages copies all 23 bytes into the folio; the server takes
  // 11; fuse_send_write_pages clears uptodate but the folio stays dirty from
  // the mmap store, and writeback (here forced by the truncate) sends all of it.
  const p: Program = {
    version: 1,
    config: { fs: 'fuse', inode: 'extent', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }],
    threads: [{ ops: [
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
      { op: 'pwrite', fd: 0, off: 0, len: 1024, fill: 7 },
      { op: 'fail_bio', write: true, skip: 0, short: true },
      { op: 'mwrite', map: 0, off: 0, len: 113, fill: 7 },
      { op: 'pwrite', fd: 0, off: 0, len: 23, fill: 6 },
      { op: 'truncate', fd: 0, size: 4096 },
    ] }],
  };
  const r = runProgram(p);
  assert.equal(r.harnessError, null);
  assert.equal(r.violation, null, r.violation?.message);
  assert.deepEqual(r.results.map((x) => x.ret), [0, 1024, 0, 113, 11, 0]);
  const data = r.files[0]!.data;
  assert.deepEqual([...data.subarray(0, 23)], new Array(23).fill(6));
  assert.deepEqual([...data.subarray(23, 113)], new Array(90).fill(7));
});

test('[xfs] a direct write that fails part-way races with an AIO direct write in flight: its landed bio may come last', () => {
  // xfs_file_dio_write_unaligned lets a sub-block overwrite run under the
  // shared iolock (IOMAP_DIO_OVERWRITE_ONLY), and an aligned direct write
  // never waits for other direct I/O: both are in flight at once, and the
  // one that fails with -EIO still had a bio land after the AIO's.
  const p: Program = {
    version: 1,
    config: { fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }, { file: 0, direct: true }],
    threads: [{ ops: [
      { op: 'pwrite', fd: 0, off: 0, len: 512, fill: 1 },
      { op: 'writeback_kick' },
      { op: 'reclaim' },
      { op: 'pwrite', fd: 0, off: 32768, len: 83, fill: 1 },
      { op: 'fail_bio', write: true, skip: 0 },
      { op: 'aio_write', fd: 1, off: 0, len: 512, fill: 1, iocb: 1 },
      { op: 'pwrite', fd: 1, off: 0, len: 2048, fill: 5 },
    ] }],
    schedule: { strategy: 'replay', seed: 251, depth: 2, decisions: [
      { at: 't0', op: 3, step: 2, nth: 0, run: 'kswapd' },
      { at: 'kswapd', op: 1, step: 1, nth: 0, run: 'flush' },
      { at: 'flush', op: 1, step: 1, nth: 0, run: 'kswapd' },
      { at: 't0', op: 3, step: 7, nth: 0, run: 'flush' },
      { at: 't0', op: 3, step: 8, nth: 0, run: 'ev:iomap_writepage_end_bio#0' },
      { at: 't0', op: 6, step: 2, nth: 0, run: 'ev:iomap_dio_bio_end_io#2' },
      { at: 't0', op: 6, step: 2, nth: 2, run: 'ev:iomap_dio_bio_end_io#0' },
      { at: 't0', op: 6, step: 2, nth: 3, run: 'dio/complete' },
    ] },
  };
  const r = runProgram(p);
  assert.equal(r.harnessError, null);
  assert.equal(r.violation, null, r.violation?.message);
  assert.deepEqual(r.results.map((x) => x.ret), [512, 0, 0, 83, 0, 0, -5]);
  assert.deepEqual([...r.files[0]!.data.subarray(0, 1024)], new Array(1024).fill(5));
});

test('[fuse] a failed WRITE clears uptodate on a folio dirtied through a mapping: the next read brings back the server\'s bytes', () => {
  // fuse_send_write_pages clears uptodate on every folio of a request that
  // failed; the mmap store in that folio was never written back, and the
  // final read re-reads the folio from the server (zeroes), store and all.
  const p: Program = {
    version: 1,
    config: { fs: 'fuse', inode: 'extent', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }, { file: 0, direct: false }],
    threads: [{ ops: [
      { op: 'fallocate', fd: 1, mode: 'zero', off: 8192, len: 1024 },
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
      { op: 'fail_bio', write: true, skip: 0 },
      { op: 'mwrite', map: 0, off: 0, len: 113, fill: 5 },
      { op: 'pwrite', fd: 0, off: 0, len: 23, fill: 5 },
    ] }],
  };
  const r = runProgram(p);
  assert.equal(r.harnessError, null);
  assert.equal(r.violation, null, r.violation?.message);
  assert.deepEqual(r.results.map((x) => x.ret), [0, 0, 0, 113, -5]);
  assert.deepEqual([...r.files[0]!.data.subarray(0, 113)], new Array(113).fill(0));
});
