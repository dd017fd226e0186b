// One op of every kind, each with every optional field, and a program they are
// valid in: for the tests that walk the op schema (ops.ts) and the code that
// takes field roles from it.

import type { Op, Program } from '../../../worker/prog/types.js';

/** Byte fields well above a block, so each has smaller values to try. */
export const SAMPLE_OPS: readonly Op[] = [
  { op: 'pwrite', fd: 0, off: 5000, len: 9000, fill: 7, bsize: 4096 },
  { op: 'pread', fd: 0, off: 5000, len: 9000, bsize: 4096 },
  { op: 'truncate', fd: 0, size: 20000 },
  { op: 'fallocate', fd: 0, mode: 'punch', off: 5000, len: 9000 },
  { op: 'copy_range', fdIn: 0, offIn: 5000, fdOut: 2, offOut: 7000, len: 9000 },
  { op: 'fsync', fd: 0 },
  { op: 'fdatasync', fd: 0 },
  { op: 'sync_file_range', fd: 0, off: 5000, len: 9000, flags: 2 },
  { op: 'fadvise_dontneed', fd: 0, off: 5000, len: 9000 },
  { op: 'drop_caches' },
  { op: 'evict', file: 1 },
  { op: 'remount' },
  { op: 'power_cut', seed: 5 },
  { op: 'close_open', fd: 0 },
  { op: 'mmap', map: 0, fd: 0, off: 4096, len: 16384, prot: 'rw' },
  { op: 'mread', map: 0, off: 5000, len: 3000 },
  { op: 'mwrite', map: 0, off: 5000, len: 3000, fill: 9 },
  { op: 'msync', map: 0, off: 4096, len: 16384, sync: true },
  { op: 'munmap', map: 0 },
  { op: 'aio_write', fd: 1, off: 8192, len: 4096, fill: 3, iocb: 0 },
  { op: 'aio_read', fd: 2, off: 8192, len: 4096, iocb: 1 },
  { op: 'aio_wait', iocb: 0 },
  { op: 'writeback_kick' },
  { op: 'reclaim' },
  { op: 'fail_bio', write: true, skip: 1, short: true },
];

/** Two files, a buffered fd and two O_DIRECT ones (AIO needs one; a mutated AIO fd has another to go to). */
export function sampleProgram(ops: Op[]): Program {
  return {
    version: 1,
    config: { fs: 'xfs', inode: 'extent', blockSize: 4096, folioMax: 16384 },
    files: [{ name: 'a' }, { name: 'b' }],
    fds: [{ file: 0, direct: false }, { file: 1, direct: true }, { file: 0, direct: true }],
    threads: [{ ops }],
  };
}
