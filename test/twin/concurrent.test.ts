// The native executor's mappings (SIGBUS), AIO (completions, reaping) and
// threads, on real loop mounts.

import assert from 'node:assert/strict';
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Op } from '../../worker/prog/types.js';
import { decodeTrace, encodeTrace } from '../../worker/trace/codec.js';
import type { Trace } from '../../worker/trace/types.js';
import { runOnKernel } from '../../worker/twin/executor.js';
import type { FsSpec } from '../../worker/twin/provision.js';
import {
  aioEvents,
  iocbOf,
  mountForSuite,
  assertWellFormed,
  bytes,
  finals,
  indexOfEvent,
  program,
  retOf,
  rets,
} from './helpers.js';

const EFAULT = -14;
const EBUSY = -16;
const EINVAL = -22;
const ENOMEM = -12;

const SPECS: FsSpec[] = [
  { fs: 'ext4', inode: 'extent', blockSize: 4096 },
  { fs: 'xfs', inode: 'extent', blockSize: 4096 },
  { fs: 'fuse', inode: 'extent', blockSize: 4096 },
];

const MMAP_OPS: Op[] = [
  { op: 'pwrite', fd: 0, off: 0, len: 6000, fill: 1 }, // 0: pages 0 and 1 are in the file
  { op: 'mmap', map: 0, fd: 0, off: 0, len: 16384, prot: 'rw' }, // 1
  { op: 'mread', map: 0, off: 8192, len: 10 }, // 2: page 2 is past EOF: SIGBUS
  { op: 'mread', map: 0, off: 5990, len: 20 }, // 3: the last page reads zeroes past EOF
  { op: 'mwrite', map: 0, off: 4000, len: 8000, fill: 2 }, // 4: 96 + 4096 bytes stored, then SIGBUS
  { op: 'mwrite', map: 0, off: 0, len: 10, fill: 3 }, // 5
  { op: 'mmap', map: 1, fd: 0, off: 0, len: 4096, prot: 'r' }, // 6
  { op: 'mwrite', map: 1, off: 0, len: 1, fill: 9 }, // 7: read-only
  { op: 'mread', map: 1, off: 4000, len: 200 }, // 8: past the mapping
  { op: 'mread', map: 1, off: 0, len: 4 }, // 9
  { op: 'msync', map: 0, off: 0, len: 6000, sync: true }, // 10
  { op: 'msync', map: 0, off: 20000, len: 10, sync: true }, // 11: not mapped
  { op: 'remount' }, // 12: mapped: busy
  { op: 'evict', file: 0 }, // 13: mapped: busy
  { op: 'munmap', map: 0 }, // 14
  { op: 'munmap', map: 0 }, // 15: gone
  { op: 'mread', map: 0, off: 0, len: 1 }, // 16: gone
  { op: 'mmap', map: 2, fd: 0, off: 100, len: 10, prot: 'rw' }, // 17: unaligned
  { op: 'munmap', map: 1 }, // 18
  { op: 'remount' }, // 19
];

const AIO_OPS: Op[] = [
  { op: 'aio_write', fd: 0, off: 0, len: 4096, fill: 5, iocb: 1 }, // 0
  { op: 'aio_write', fd: 0, off: 4096, len: 4096, fill: 6, iocb: 2 }, // 1: never waited for
  { op: 'aio_wait', iocb: 1 }, // 2
  { op: 'aio_wait', iocb: 1 }, // 3: already waited for
  { op: 'aio_read', fd: 0, off: 0, len: 4096, iocb: 3 }, // 4: never waited for
  { op: 'aio_write', fd: 0, off: 1, len: 100, fill: 7, iocb: 4 }, // 5: unaligned
  { op: 'aio_wait', iocb: 4 }, // 6
  { op: 'aio_read', fd: 1, off: 0, len: 10, iocb: 5 }, // 7: buffered, an empty file; never waited for
];

function checkMmap(trace: Trace): void {
  assertWellFormed(trace);
  assert.deepEqual(rets(trace).map((r) => r.ret), [
    6000, 0, EFAULT, 20, EFAULT, 10, 0, EFAULT, EFAULT, 4, 0, ENOMEM, EBUSY, EBUSY, 0, EINVAL, EINVAL, EINVAL, 0, 0,
  ]);
  assert.deepEqual(retOf(trace, 0, 3).data, bytes([10, 1], [10, 0]));
  assert.equal(retOf(trace, 0, 2).data, undefined);
  assert.equal(retOf(trace, 0, 4).stored, 96 + 4096);
  assert.equal(retOf(trace, 0, 5).stored, 10);
  assert.equal(retOf(trace, 0, 7).stored, 0);
  assert.deepEqual(retOf(trace, 0, 9).data, bytes([4, 3]));
  const file0 = bytes([10, 3], [3990, 1], [2000, 2]);
  for (const via of ['cache', 'drop_caches', 'remount'] as const) assert.deepEqual(finals(trace, via), [file0], via);
}

function checkAio(spec: FsSpec, trace: Trace): void {
  assertWellFormed(trace);
  // fuse's direct I/O has no alignment to keep; the block filesystems refuse the unaligned write in its completion.
  const unaligned = spec.fs === 'fuse' ? 100 : EINVAL;
  assert.deepEqual(rets(trace).map((r) => r.ret), [0, 0, 4096, EINVAL, 0, 0, unaligned, 0]);
  const aio = aioEvents(trace);
  assert.deepEqual(aio.map((a) => a.iocb).sort(), [1, 2, 3, 4, 5], 'one completion per iocb, waited for or not');
  const byId = new Map(aio.map((a) => [a.iocb, a]));
  assert.equal(byId.get(1)!.ret, 4096);
  assert.equal(byId.get(2)!.ret, 4096);
  assert.equal(byId.get(4)!.ret, unaligned);
  // Read after iocb 1 was reaped: its bytes.
  assert.deepEqual(byId.get(3)!.data, bytes([4096, 5]));
  assert.equal(byId.get(5)!.ret, 0);
  assert.deepEqual(byId.get(5)!.data, new Uint8Array(0));
  // A completion is recorded between its submission and its wait's return.
  const at = (pred: Parameters<typeof indexOfEvent>[1]): number => indexOfEvent(trace, pred);
  const done1 = at((e) => e.e === 'aio' && iocbOf(trace, e) === 1);
  assert.ok(at((e) => e.e === 'op' && e.i === 0) < done1 && done1 < at((e) => e.e === 'ret' && e.i === 2));
  const done4 = at((e) => e.e === 'aio' && iocbOf(trace, e) === 4);
  assert.ok(at((e) => e.e === 'op' && e.i === 5) < done4 && done4 < at((e) => e.e === 'ret' && e.i === 6));
  for (const [iocb, op] of [[2, 1], [3, 4], [5, 7]] as const) {
    assert.ok(at((e) => e.e === 'op' && e.i === op) < at((e) => e.e === 'aio' && iocbOf(trace, e) === iocb), `iocb ${iocb} after its submission`);
  }
  const file0 = spec.fs === 'fuse' ? bytes([1, 5], [100, 7], [3995, 5], [4096, 6]) : bytes([4096, 5], [4096, 6]);
  assert.deepEqual(finals(trace, 'remount'), [file0, new Uint8Array(0)]);
}

/** Four threads over two files: I/O, mappings, AIO, and the ops that act on the whole file or mount. */
const THREADS: Op[][] = [
  [
    { op: 'pwrite', fd: 0, off: 0, len: 16384, fill: 1, bsize: 4096 },
    { op: 'pread', fd: 0, off: 0, len: 16384, bsize: 8192 },
    { op: 'fsync', fd: 0 },
    { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 1, offOut: 8192, len: 4096 },
  ],
  [
    { op: 'pwrite', fd: 1, off: 0, len: 8192, fill: 2 },
    { op: 'mmap', map: 0, fd: 1, off: 0, len: 8192, prot: 'rw' },
    { op: 'mwrite', map: 0, off: 100, len: 5000, fill: 3 },
    { op: 'msync', map: 0, off: 0, len: 8192, sync: true },
    { op: 'munmap', map: 0 },
  ],
  [
    { op: 'aio_write', fd: 2, off: 65536, len: 8192, fill: 4, iocb: 1 },
    { op: 'aio_wait', iocb: 1 },
    { op: 'pread', fd: 2, off: 65536, len: 8192 },
    { op: 'evict', file: 1 },
  ],
  [
    { op: 'truncate', fd: 0, size: 32768 },
    { op: 'writeback_kick' },
    { op: 'reclaim' },
    { op: 'remount' },
    { op: 'close_open', fd: 0 },
    { op: 'fdatasync', fd: 0 },
  ],
];

for (const spec of SPECS) {
  describe(`kernel twin mappings and AIO on ${spec.fs}`, () => {
    const suite = mountForSuite(spec);

    test('SIGBUS past EOF is -EFAULT, a faulting mwrite reports the bytes it stored, and what the sim refuses is refused', async () => {
      const r = await suite.run(program(spec, 1, [{ file: 0, direct: false }], [MMAP_OPS]));
      assert.equal(r.status, 'done', r.stderr);
      checkMmap(r.traces[0]!);
    });

    test('AIO: io_submit results, a completion event for every iocb, un-waited ones reaped at the end', async () => {
      const fds = [{ file: 0, direct: true }, { file: 1, direct: false }];
      const r = await suite.run(program(spec, 2, fds, [AIO_OPS]));
      assert.equal(r.status, 'done', r.stderr);
      checkAio(spec, r.traces[0]!);
    });
  });
}

describe('kernel twin threads', () => {
  const spec: FsSpec = { fs: 'ext4', inode: 'extent', blockSize: 4096 };
  const suite = mountForSuite(spec);

  test('a four-thread program with jitter and a pause: every run well-formed, and its JSON round-trips', async () => {
    const fds = [{ file: 0, direct: false }, { file: 1, direct: false }, { file: 0, direct: true }];
    const prog = program(spec, 2, fds, THREADS);
    const r = await suite.run(prog, {
      runs: 4, seed: 7, jitterUs: 300, pauses: [{ thread: 3, op: 3, us: 2000 }],
    });
    assert.equal(r.status, 'done', r.stderr);
    assert.equal(r.traces.length, 4);
    for (const trace of r.traces) {
      assertWellFormed(trace);
      // The remount ran alone: no other op was between its op and ret.
      const start = indexOfEvent(trace, (e) => e.e === 'op' && e.t === 3 && e.i === 3);
      const end = indexOfEvent(trace, (e) => e.e === 'ret' && e.t === 3 && e.i === 3);
      assert.ok(trace.events.slice(start + 1, end).every((e) => e.e === 'aio'), 'nothing ran beside the remount');
      assert.ok([0, EBUSY].includes(retOf(trace, 3, 3).ret), 'remount: done, or busy with the mapping');
      assert.deepEqual(retOf(trace, 2, 1).ret, 8192);
      assert.deepEqual(aioEvents(trace).map((a) => [a.iocb, a.ret]), [[1, 8192]]);
      assert.deepEqual(decodeTrace(encodeTrace(trace), 'round trip'), trace);
      for (const via of ['cache', 'drop_caches', 'remount'] as const) assert.equal(finals(trace, via).length, 2);
    }
  });

  test('kernel log lines: warnings kept, the rest dropped, a stale-page-cache warning for a run file is a stale event', async () => {
    const dir = realpathSync(suite.mount().dir);
    const kmsg = join(suite.parent(), 'kmsg');
    writeFileSync(kmsg, [
      '6,100,1000,-;EXT4-fs (loop0): mounted filesystem',
      '4,101,1001,-;blk_update_request: I/O error',
      ' SUBSYSTEM=block',
      '2,102,1002,-;Page cache invalidation failure on direct I/O.  Possible data corruption due to collision with buffered I/O!',
      `2,103,1003,-;File: ${dir}/f1 PID: 77 Comm: foliofuzz-exec`,
      '6,104,1004,-;------------[ cut here ]------------',
      '12,105,1005,-;WARNING: CPU: 0 PID: 1 at fs/iomap/buffered-io.c:100 iomap_foo+0x1/0x2',
      '2,106,1006,-;File: /elsewhere/f1 PID: 78 Comm: other',
      '6,107,1007,-;kernel BUG at mm/filemap.c:1',
    ].join('\n') + '\n');
    const prog = program(spec, 2, [{ file: 0, direct: false }], [[{ op: 'fsync', fd: 0 }]]);
    const r = await runOnKernel(prog, { dir: suite.mount().dir, kmsg });
    assert.equal(r.status, 'done', r.stderr);
    const trace = r.traces[0]!;
    assert.deepEqual(trace.events.filter((e) => e.e === 'klog' || e.e === 'stale'), [
      { e: 'klog', level: 4, text: 'blk_update_request: I/O error' },
      { e: 'klog', level: 2, text: 'Page cache invalidation failure on direct I/O.  Possible data corruption due to collision with buffered I/O!' },
      { e: 'stale', file: 1 },
      { e: 'klog', level: 2, text: `File: ${dir}/f1 PID: 77 Comm: foliofuzz-exec` },
      { e: 'klog', level: 4, text: 'WARNING: CPU: 0 PID: 1 at fs/iomap/buffered-io.c:100 iomap_foo+0x1/0x2' },
      { e: 'klog', level: 2, text: 'File: /elsewhere/f1 PID: 78 Comm: other' },
      { e: 'klog', level: 6, text: 'kernel BUG at mm/filemap.c:1' },
    ]);
    // After the program's own events.
    const last = trace.events.findIndex((e) => e.e === 'klog');
    assert.ok(trace.events.slice(0, last).some((e) => e.e === 'final'));
  });
});
