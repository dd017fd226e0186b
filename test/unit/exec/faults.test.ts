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
      { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 7 },
      { op: 'close_open', fd: 2 },
      { op: 'fsync', fd: 2 },
      { op: 'fsync', fd: 0 },
    ])), [4096, 0, 0, 0, -5, -5]);
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
