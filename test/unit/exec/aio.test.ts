import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '../../../worker/exec/run.js';
import type { FsKind, Op, Program } from '../../../worker/prog/types.js';

/** io_submit took the iocb: its result comes with the completion (aio_wait), even when it completed at once (fuse). */
const SUBMITTED = 0;

function program(fs: FsKind, ops: Op[]): Program {
  return {
    version: 1,
    config: { fs, inode: 'extent', blockSize: 4096, folioMax: 16384 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: true }, { file: 0, direct: false }],
    threads: [{ ops }],
  };
}

for (const fs of ['xfs', 'ext4', 'fuse'] as const) {
  test(`[${fs}] aio_write then aio_wait: the result is the length and a buffered read sees the data`, () => {
    const r = runProgram(program(fs, [
      { op: 'pwrite', fd: 1, off: 0, len: 16384, fill: 0x11 },
      { op: 'pread', fd: 1, off: 0, len: 16384 },
      { op: 'aio_write', fd: 0, off: 4096, len: 8192, fill: 0x22, iocb: 7 },
      { op: 'aio_wait', iocb: 7 },
      { op: 'pread', fd: 1, off: 0, len: 16384 },
    ]));
    assert.equal(r.harnessError, null);
    assert.equal(r.violation, null, r.violation?.message);
    const rets = r.results.map((x) => x.ret);
    assert.deepEqual(rets, [16384, 16384, SUBMITTED, 8192, 16384]);
    const d = r.files[0]!.data;
    assert.equal(d[4095], 0x11);
    assert.equal(d[4096], 0x22);
    assert.equal(d[12287], 0x22);
    assert.equal(d[12288], 0x11);
  });

  test(`[${fs}] aio_read returns the file's bytes; aio_wait of an unknown iocb is -EINVAL`, () => {
    const r = runProgram(program(fs, [
      { op: 'pwrite', fd: 1, off: 0, len: 8192, fill: 0x33 },
      { op: 'fsync', fd: 1 },
      { op: 'aio_read', fd: 0, off: 0, len: 8192, iocb: 1 },
      { op: 'aio_wait', iocb: 1 },
      { op: 'aio_wait', iocb: 1 },
    ]));
    assert.equal(r.violation, null, r.violation?.message);
    assert.deepEqual(r.results.map((x) => x.ret).slice(3), [8192, -22]);
  });
}

test('an extending aio write that is never waited for still takes effect', () => {
  const r = runProgram(program('xfs', [
    { op: 'aio_write', fd: 0, off: 0, len: 4096, fill: 0x44, iocb: 1 },
  ]));
  assert.equal(r.violation, null, r.violation?.message);
  assert.equal(r.files[0]!.data.length, 4096);
  assert.equal(r.files[0]!.data[0], 0x44);
});

test('direct I/O in flight holds truncate back (inode_dio_wait)', () => {
  const r = runProgram(program('ext4', [
    { op: 'pwrite', fd: 1, off: 0, len: 8192, fill: 0x55 },
    { op: 'aio_write', fd: 0, off: 0, len: 4096, fill: 0x66, iocb: 1 },
    { op: 'truncate', fd: 1, size: 2048 },
    { op: 'aio_wait', iocb: 1 },
  ]));
  assert.equal(r.violation, null, r.violation?.message);
  const d = r.files[0]!.data;
  assert.equal(d.length, 2048);
  assert.equal(d[0], 0x66, 'the write completed before the truncate went on');
});
