// The native executor on real loop-mounted filesystems: one sequential
// program per filesystem, every event checked against what the kernel must
// do; every fallocate mode where the filesystem has it; one mount per
// filesystem for every program and run (mount once, run many).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Op } from '../../worker/prog/types.js';
import type { Trace } from '../../worker/trace/types.js';
import type { FsSpec } from '../../worker/twin/provision.js';
import {
  assertWellFormed,
  mountForSuite,
  bytes,
  callsOf,
  finals,
  program,
  retOf,
  rets,
} from './helpers.js';

const AB = 0xab;
const EOPNOTSUPP = -95;

const SPECS: FsSpec[] = [
  { fs: 'ext4', inode: 'extent', blockSize: 1024 },
  { fs: 'ext4', inode: 'extent', blockSize: 4096 },
  { fs: 'ext4', inode: 'indirect', blockSize: 1024 },
  { fs: 'ext4', inode: 'indirect', blockSize: 4096 },
  { fs: 'xfs', inode: 'extent', blockSize: 4096 },
  { fs: 'fuse', inode: 'extent', blockSize: 4096 },
];

// fd 0: file 0 buffered, fd 1: file 0 O_DIRECT, fd 2: file 1 buffered.
const FDS = [{ file: 0, direct: false }, { file: 0, direct: true }, { file: 1, direct: false }];
const OPS: Op[] = [
  { op: 'pwrite', fd: 0, off: 0, len: 10000, fill: AB, bsize: 4096 }, // 0
  { op: 'pread', fd: 0, off: 4090, len: 20 }, // 1
  { op: 'pread', fd: 0, off: 9990, len: 100, bsize: 64 }, // 2: the first call is short, the op stops there
  { op: 'truncate', fd: 0, size: 6000 }, // 3
  { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 2, offOut: 0, len: 200 }, // 4
  { op: 'fsync', fd: 0 }, // 5
  { op: 'pwrite', fd: 1, off: 8192, len: 4096, fill: 0x11 }, // 6: direct, past EOF
  { op: 'pread', fd: 1, off: 4096, len: 4096 }, // 7: direct, across the old EOF
  { op: 'fadvise_dontneed', fd: 0, off: 0, len: 0 }, // 8
  { op: 'sync_file_range', fd: 2, off: 0, len: 0, flags: 7 }, // 9
  { op: 'close_open', fd: 0 }, // 10
  { op: 'drop_caches' }, // 11
  { op: 'evict', file: 1 }, // 12
  { op: 'pread', fd: 2, off: 0, len: 300 }, // 13: short at EOF
  { op: 'pwrite', fd: 0, off: 1, len: 0, fill: 1 }, // 14: no syscall at all
  { op: 'remount' }, // 15
  { op: 'pread', fd: 0, off: 0, len: 12288 }, // 16: through the remounted fd
  { op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 4096 }, // 17
];

const FILE0 = bytes([6000, AB], [2192, 0], [4096, 0x11]);

/** The same on every filesystem, fuse included (its daemon punches as the sim's does). */
function checkSequential(trace: Trace): void {
  assertWellFormed(trace);
  assert.deepEqual(rets(trace).map((r) => r.ret),
    [10000, 20, 10, 0, 200, 0, 4096, 4096, 0, 0, 0, 0, 0, 200, 0, 0, 12288, 0]);
  assert.deepEqual(callsOf(trace, 0, 0).map((c) => [c.off, c.len, c.ret]), [[0, 4096, 4096], [4096, 4096, 4096], [8192, 1808, 1808]]);
  assert.deepEqual(callsOf(trace, 0, 1).map((c) => c.data), [bytes([20, AB])]);
  assert.deepEqual(callsOf(trace, 0, 2).map((c) => [c.off, c.len, c.ret, c.data]), [[9990, 64, 10, bytes([10, AB])]]);
  assert.deepEqual(callsOf(trace, 0, 7).map((c) => c.data), [bytes([1904, AB], [2192, 0])]);
  assert.deepEqual(callsOf(trace, 0, 13).map((c) => c.data), [bytes([200, AB])]);
  assert.deepEqual(callsOf(trace, 0, 14), []);
  assert.deepEqual(callsOf(trace, 0, 16).map((c) => c.data), [FILE0]);
  assert.deepEqual(rets(trace).map((r) => r.sizes), [
    [10000, 0], [10000, 0], [10000, 0], [6000, 0], [6000, 200], [6000, 200],
    ...Array.from({ length: 12 }, () => [12288, 200]),
  ]);
  const file0 = bytes([4096, 0], [1904, AB], [2192, 0], [4096, 0x11]); // FILE0 after the punch
  for (const via of ['cache', 'drop_caches', 'remount'] as const) assert.deepEqual(finals(trace, via), [file0, bytes([200, AB])], via);
}

/**
 * Every mode once, placed so that each leaves a size of its own: alloc and
 * zero past EOF grow the file, keep_size and zero_keep past EOF do not,
 * collapse takes 4 KiB out and insert puts 4 KiB in. The file starts at 64 KiB.
 */
const FALLOC_OPS: Op[] = [
  { op: 'fallocate', fd: 0, mode: 'alloc', off: 65536, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'keep_size', off: 69632, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'punch', off: 8192, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'zero', off: 69632, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'zero_keep', off: 73728, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'collapse', off: 8192, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'insert', off: 0, len: 4096 },
  { op: 'fallocate', fd: 0, mode: 'unshare', off: 0, len: 4096 },
];

/** [ret, size after] per op of FALLOC_OPS, on Linux 6.18. */
function fallocExpected(spec: FsSpec): [number, number][] {
  const none: [number, number] = [EOPNOTSUPP, 65536];
  // ext4 without extents can only punch.
  if (spec.inode === 'indirect') return FALLOC_OPS.map((op) => (op.op === 'fallocate' && op.mode === 'punch' ? [0, 65536] : none));
  const grown: [number, number][] = [[0, 69632], [0, 69632], [0, 69632], [0, 73728], [0, 73728]];
  // fuse (ffz-fused, as the sim's daemon) has no collapse, insert or unshare.
  if (spec.fs === 'fuse') return [...grown, [EOPNOTSUPP, 73728], [EOPNOTSUPP, 73728], [EOPNOTSUPP, 73728]];
  // ext4 has no reflink, so nothing to unshare.
  const unshare: [number, number] = [spec.fs === 'xfs' ? 0 : EOPNOTSUPP, 73728];
  return [...grown, [0, 69632], [0, 73728], unshare];
}

for (const spec of SPECS) {
  const name = `${spec.fs}${spec.fs === 'ext4' ? `-${spec.inode}` : ''} ${spec.blockSize}`;
  describe(`kernel twin on ${name}`, () => {
    const suite = mountForSuite(spec);

    test('a sequential program: results, calls, read bytes, sizes and final contents, twice on one mount', async () => {
      const prog = program(spec, 2, FDS, [OPS]);
      const r = await suite.run(prog, { runs: 2 });
      assert.equal(r.status, 'done', r.stderr);
      assert.equal(r.traces.length, 2);
      const fsType = spec.fs === 'fuse' ? 'fuse.ffz-fused' : spec.fs;
      for (const [run, trace] of r.traces.entries()) {
        assert.deepEqual({ ...trace.source, release: '' }, { kind: 'kernel', release: '', fsType, blockSize: spec.blockSize, run });
        checkSequential(trace);
      }
      assert.equal(r.header?.extents, spec.fs === 'ext4' ? spec.inode === 'extent' : null);
    });

    test('every fallocate mode reaches the kernel as itself', async () => {
      const ops: Op[] = [{ op: 'pwrite', fd: 0, off: 0, len: 65536, fill: 1 }, ...FALLOC_OPS];
      const r = await suite.run(program(spec, 1, [{ file: 0, direct: false }], [ops]));
      assert.equal(r.status, 'done', r.stderr);
      const trace = r.traces[0]!;
      assertWellFormed(trace);
      assert.equal(retOf(trace, 0, 0).ret, 65536);
      assert.deepEqual(rets(trace).slice(1).map((e) => [e.ret, e.sizes![0]]), fallocExpected(spec));
      const cached = finals(trace, 'cache');
      assert.deepEqual(finals(trace, 'drop_caches'), cached);
      assert.deepEqual(finals(trace, 'remount'), cached);
    });
  });
}
