// The multi-threaded data oracle: read-your-writes over bytes no other thread
// may change, judged from the program text alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnWrites } from '../../../worker/oracle/own-writes.js';
import { runProgram } from '../../../worker/exec/run.js';
import type { Op, Program } from '../../../worker/prog/types.js';

function program(t0: Op[], t1: Op[]): Program {
  return {
    version: 1,
    config: { fs: 'xfs', inode: 'extent', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }, { file: 0, direct: true }],
    threads: [{ ops: t0 }, { ops: t1 }],
  };
}

const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

test('a thread must read back what it alone wrote', () => {
  const p = program([{ op: 'pwrite', fd: 0, off: 0, len: 100, fill: 1 }], [{ op: 'pwrite', fd: 0, off: 8192, len: 100, fill: 2 }]);
  const o = new OwnWrites(p);
  o.opDone(1, 0, 100, false);
  assert.equal(o.check(1, 0, 8192, bytes(100, 2)), null);
  assert.deepEqual(o.check(1, 0, 8192, bytes(100, 0)), { pos: 8192, got: 0, want: 2, op: 0 });
});

test('bytes another thread may change are not judged', () => {
  // t0's write may zero everything below its start when it extends the file.
  const p = program([{ op: 'pwrite', fd: 0, off: 16384, len: 10, fill: 1 }], [{ op: 'pwrite', fd: 0, off: 8192, len: 100, fill: 2 }]);
  const o = new OwnWrites(p);
  o.opDone(1, 0, 100, false);
  assert.equal(o.check(1, 0, 8192, bytes(100, 0)), null);
});

test('a truncate or fallocate in another thread, and any injected fault, leave nothing to judge', () => {
  for (const other of [
    { op: 'truncate', fd: 0, size: 0 },
    { op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 4096 },
    { op: 'fail_bio', write: true, skip: 0 },
    { op: 'remount' },
  ] as Op[]) {
    const p = program([other], [{ op: 'pwrite', fd: 0, off: 8192, len: 100, fill: 2 }]);
    const o = new OwnWrites(p);
    o.opDone(1, 0, 100, false);
    assert.equal(o.check(1, 0, 8192, bytes(100, 0)), null, other.op);
  }
});

test('direct writes, failed stores and stores past the size the thread made sure of are not known', () => {
  const t1: Op[] = [
    { op: 'pwrite', fd: 1, off: 0, len: 4096, fill: 3 },
    { op: 'mwrite', map: 0, off: 100, len: 10, fill: 4 },
    { op: 'mmap', map: 0, fd: 0, off: 0, len: 8192, prot: 'rw' },
    { op: 'mwrite', map: 0, off: 4090, len: 10, fill: 5 },
  ];
  const p = program([], t1);
  const o = new OwnWrites(p);
  o.opDone(1, 0, 4096, true);
  assert.equal(o.check(1, 0, 0, bytes(4096, 0)), null);
  o.opDone(1, 1, -14, false);
  assert.equal(o.check(1, 0, 100, bytes(10, 0)), null);
  // The direct write made the file 4096 long: a store past that is not file data.
  o.opDone(1, 3, 10, false);
  assert.deepEqual(o.check(1, 0, 4090, bytes(10, 0)), { pos: 4090, got: 0, want: 5, op: 3 });
  assert.equal(o.check(1, 0, 4096, bytes(4, 0)), null);
});

test('a multi-threaded program whose threads touch separate bytes runs clean', () => {
  const p = program(
    [{ op: 'pwrite', fd: 0, off: 0, len: 13000, fill: 170 }, { op: 'pread', fd: 0, off: 0, len: 13000 }],
    [
      { op: 'truncate', fd: 0, size: 32768 },
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 32768, prot: 'rw' },
      { op: 'mwrite', map: 0, off: 14000, len: 100, fill: 187 },
      { op: 'mread', map: 0, off: 14000, len: 100 },
      { op: 'pread', fd: 0, off: 14000, len: 100 },
    ],
  );
  for (let seed = 0; seed < 200; seed++) {
    const r = runProgram({ ...p, schedule: { strategy: seed % 2 ? 'pct' : 'random', seed, depth: 3, decisions: [] } });
    assert.equal(r.violation, null, `seed ${seed}: ${r.violation?.message}`);
  }
});

test("a thread's own power cut forgets what it wrote but had not made durable", () => {
  // Found by a no-switch campaign: ext4 indirect, the write at 0 came after
  // the fdatasync and was still in the page cache when the power went.
  const p: Program = {
    version: 1,
    config: { fs: 'ext4', inode: 'indirect', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f0' }, { name: 'f1' }],
    fds: [{ file: 0, direct: false }, { file: 1, direct: false }],
    threads: [
      { ops: [
        { op: 'pwrite', fd: 0, off: 12288, len: 1024, fill: 2 },
        { op: 'fdatasync', fd: 0 },
        { op: 'pwrite', fd: 0, off: 0, len: 1024, fill: 2 },
        { op: 'power_cut', seed: 1245461744 },
        { op: 'pread', fd: 0, off: 0, len: 1024 },
      ] },
      { ops: [{ op: 'pread', fd: 1, off: 0, len: 1024 }] },
    ],
  };
  const o = new OwnWrites(p);
  o.opDone(0, 2, 1024, false);
  assert.deepEqual(o.check(0, 0, 0, bytes(1024, 0)), { pos: 0, got: 0, want: 2, op: 2 });
  o.opDone(0, 3, 0, false);
  assert.equal(o.check(0, 0, 0, bytes(1024, 0)), null, 'the cut may have lost the write');
  const r = runProgram(p);
  assert.equal(r.violation, null, r.violation?.signature);
  // Every op of both threads ran to its end.
  assert.equal(r.results.length, 6);
});

test("a thread's own AIO write in flight is as foreign as another thread's write", () => {
  // The AIO (0x5) may land after the thread's later buffered write (0x6) of
  // the same bytes, and its completion invalidates the cache there.
  const p = program(
    [
      { op: 'aio_write', fd: 1, off: 69632, len: 4096, fill: 5, iocb: 0 },
      { op: 'pwrite', fd: 0, off: 69632, len: 8192, fill: 6 },
      { op: 'aio_wait', iocb: 0 },
    ],
    [],
  );
  const o = new OwnWrites(p);
  o.opDone(0, 0, 0, true);
  o.opDone(0, 1, 8192, false);
  assert.equal(o.check(0, 0, 69632, bytes(4096, 5)), null, 'the AIO landed last');
  assert.deepEqual(o.check(0, 0, 73728, bytes(4096, 5)), { pos: 73728, got: 5, want: 6, op: 1 }, 'past the AIO the write is judged');
});
