import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ProgramInputError } from '../../../worker/prog/errors.js';
import { parseFsxOps } from '../../../worker/prog/fsx.js';
import type { Op, SimConfig } from '../../../worker/prog/types.js';

const EXT4: SimConfig = { fs: 'ext4', inode: 'extent', blockSize: 4096, folioMax: 16384 };
const XFS: SimConfig = { fs: 'xfs', inode: 'extent', blockSize: 4096, folioMax: 65536 };

function ops(text: string, config: SimConfig = EXT4): Op[] {
  return parseFsxOps(text, 'x.fsxops', { direct: false, config }).threads[0]?.ops ?? [];
}

function rejects(text: string, message: string | RegExp): void {
  assert.throws(() => parseFsxOps(text, 'x.fsxops', { direct: false, config: EXT4 }), (err: unknown) => {
    assert.ok(err instanceof ProgramInputError, `expected ProgramInputError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

// The first lines of a real opsfile: fsx -N 300 -S 7 -l 65536 -o 16384 -c 8 --record-ops, on ext4.
const RECORDED = `skip read 0x0 0x0 0x0
fallocate 0xb908 0x34e9 0x0
skip exchange_range 0x9000 0x3000 0x0 0xedf1
collapse_range 0xc000 0x2000 0xedf1 close_open
truncate 0x0 0x5241 0xcdf1
mapwrite 0xfe5e 0x1a2 0x5241
skip clone_range 0x8000 0x1000 0x1000 0x10000
collapse_range 0xa000 0x2000 0x10000
copy_range 0x7f31 0x2789 0xd365 0xe000
write 0x6c79 0x15a2 0xfaee close_open
zero_range 0x6ef1 0x1b1e 0xfaee close_open
zero_range 0x4a2e 0x274a 0xfaee keep_size
collapse_range 0x3000 0x3000 0xfaee
fallocate 0x9607 0xb00 0xcaee
mapread 0x7c74 0x270b 0xcaee
write 0x88d7 0x3d5a 0xcaee
`;

test('a recorded opsfile becomes the ops fsx --replay-ops runs', () => {
  assert.deepEqual(ops(RECORDED), [
    // 1: skipped; 2:
    { op: 'fallocate', fd: 0, mode: 'alloc', off: 0xb908, len: 0x34e9 },
    // 3: skipped; 4: close_open after the op
    { op: 'fallocate', fd: 0, mode: 'collapse', off: 0xc000, len: 0x2000 },
    { op: 'close_open', fd: 0 },
    { op: 'drop_caches' },
    // 5: truncate logs (0, new size, old size)
    { op: 'truncate', fd: 0, size: 0x5241 },
    // 6: mapwrite past EOF: ftruncate up, map the pages, store, msync(MS_SYNC), unmap
    { op: 'truncate', fd: 0, size: 0x10000 },
    { op: 'mmap', map: 0, fd: 0, off: 0xf000, len: 0x1000, prot: 'rw' },
    { op: 'mwrite', map: 0, off: 0xfe5e, len: 0x1a2, fill: 6 },
    { op: 'msync', map: 0, off: 0xf000, len: 0x1000, sync: true },
    { op: 'munmap', map: 0 },
    // 7: skipped clone_range is fine: fsx did not run it
    { op: 'fallocate', fd: 0, mode: 'collapse', off: 0xa000, len: 0x2000 },
    // 9: copy_range logs (offset, length, destination, size)
    { op: 'copy_range', fdIn: 0, offIn: 0x7f31, fdOut: 0, offOut: 0xd365, len: 0x2789 },
    { op: 'pwrite', fd: 0, off: 0x6c79, len: 0x15a2, fill: 10 },
    { op: 'close_open', fd: 0 },
    { op: 'drop_caches' },
    { op: 'fallocate', fd: 0, mode: 'zero', off: 0x6ef1, len: 0x1b1e },
    { op: 'close_open', fd: 0 },
    { op: 'drop_caches' },
    { op: 'fallocate', fd: 0, mode: 'zero_keep', off: 0x4a2e, len: 0x274a },
    { op: 'fallocate', fd: 0, mode: 'collapse', off: 0x3000, len: 0x3000 },
    { op: 'fallocate', fd: 0, mode: 'alloc', off: 0x9607, len: 0xb00 },
    // 15: mapread maps from the page containing the offset, read-only
    { op: 'mmap', map: 1, fd: 0, off: 0x7000, len: 0xc74 + 0x270b, prot: 'r' },
    { op: 'mread', map: 1, off: 0x7c74, len: 0x270b },
    { op: 'munmap', map: 1 },
    { op: 'pwrite', fd: 0, off: 0x88d7, len: 0x3d5a, fill: 16 },
  ]);
});

test('the program has one file and one fd, direct as asked (fsx -Z)', () => {
  const p = parseFsxOps('fsync 0x0 0x0 0x0\n', 'x', { direct: true, config: XFS });
  assert.deepEqual(p.files, [{ name: 'file0' }]);
  assert.deepEqual(p.fds, [{ file: 0, direct: true }]);
  assert.deepEqual(p.config, XFS);
  assert.deepEqual(p.threads, [{ ops: [{ op: 'fsync', fd: 0 }] }]);
});

test('read, write, punch_hole, insert_range and fsync', () => {
  assert.deepEqual(ops('write 0x0 0x2000 0x0\nread 0x10 0x20 0x2000\npunch_hole 0x100 0x200 0x2000\n'
    + 'insert_range 0x1000 0x1000 0x2000\nfsync 0x0 0x0 0x3000'), [
    { op: 'pwrite', fd: 0, off: 0, len: 0x2000, fill: 1 },
    { op: 'pread', fd: 0, off: 0x10, len: 0x20 },
    { op: 'fallocate', fd: 0, mode: 'punch', off: 0x100, len: 0x200 },
    { op: 'fallocate', fd: 0, mode: 'insert', off: 0x1000, len: 0x1000 },
    { op: 'fsync', fd: 0 },
  ]);
});

test('a mapwrite inside the file does not truncate; the size model follows every op', () => {
  // write extends to 0x3000; insert grows to 0x4000; collapse shrinks to 0x3000; the
  // mapwrite ending at 0x3800 extends; the next one ending at 0x3800 does not.
  const result = ops('write 0x0 0x3000 0x0\ninsert_range 0x0 0x1000 0x3000\ncollapse_range 0x0 0x1000 0x4000\n'
    + 'mapwrite 0x3000 0x800 0x3000\nmapwrite 0x3000 0x800 0x3800\n');
  const truncates = result.filter((op) => op.op === 'truncate');
  assert.deepEqual(truncates, [{ op: 'truncate', fd: 0, size: 0x3800 }]);
  // zero_range and fallocate with keep_size do not grow the file; without it they do.
  const grown = ops('fallocate 0x0 0x1000 0x0 keep_size\nzero_range 0x0 0x2000 0x0 keep_size\nmapwrite 0x0 0x10 0x0\n'
    + 'zero_range 0x0 0x3000 0x10\nmapwrite 0x2000 0x10 0x3000');
  assert.deepEqual(grown.filter((op) => op.op === 'truncate'), [{ op: 'truncate', fd: 0, size: 0x10 }]);
});

test('fill bytes follow the op number (counting skipped lines), never 0', () => {
  const lines: string[] = [];
  for (let i = 0; i < 256; i++) lines.push(i % 2 === 0 ? 'skip write 0x0 0x0 0x0' : 'write 0x0 0x1 0x0');
  lines.push('write 0x0 0x1 0x1', 'mapwrite 0x0 0x1 0x1');
  const fills = ops(lines.join('\n')).flatMap((op) => (op.op === 'pwrite' || op.op === 'mwrite' ? [op.fill] : []));
  assert.equal(fills[0], 2); // op 2 (op 1 was skipped)
  assert.equal(fills[127], 256 % 255); // op 256 wraps to 1, not 0
  assert.deepEqual(fills.slice(128), [257 % 255, 258 % 255]);
  assert.ok(fills.every((f) => f >= 1 && f <= 255));
});

test('flags: keep_size, unshare and the overlap marker', () => {
  assert.deepEqual(ops('fallocate 0x0 0x1000 0x0 keep_size *\nfallocate 0x0 0x1000 0x0 unshare'), [
    { op: 'fallocate', fd: 0, mode: 'keep_size', off: 0, len: 0x1000 },
    { op: 'fallocate', fd: 0, mode: 'unshare', off: 0, len: 0x1000 },
  ]);
  // UNSHARE|KEEP_SIZE: KEEP_SIZE on xfs (no shared extents in the sim), UNSHARE (EOPNOTSUPP) elsewhere.
  assert.deepEqual(ops('fallocate 0x0 0x1000 0x0 keep_size unshare', XFS),
    [{ op: 'fallocate', fd: 0, mode: 'keep_size', off: 0, len: 0x1000 }]);
  assert.deepEqual(ops('fallocate 0x0 0x1000 0x0 unshare keep_size', EXT4),
    [{ op: 'fallocate', fd: 0, mode: 'unshare', off: 0, len: 0x1000 }]);
  // Flags that the op does not use are accepted and ignored, as fsx does.
  assert.deepEqual(ops('read 0x0 0x1 0x1 keep_size'), [{ op: 'pread', fd: 0, off: 0, len: 1 }]);
});

test('skipped lines run nothing, not even their close_open', () => {
  assert.deepEqual(ops('skip write 0x0 0x100 0x0 close_open\nskip collapse_range 0x0 0x0 0x0'), []);
});

test('comments, blank lines, tabs, CRLF and decimal/octal numbers', () => {
  assert.deepEqual(ops('# recorded by hand\n\n  \t\nwrite\t16 010 0x0\r\n#read 0x0 0x1 0x0\n'), [
    { op: 'pwrite', fd: 0, off: 16, len: 8, fill: 1 },
  ]);
});

test('reflink ops that would run are refused with FILE:LINE', () => {
  rejects('write 0x0 0x1000 0x0\nclone_range 0x0 0x1000 0x2000 0x1000',
    'x.fsxops:2: clone_range is not supported by the simulator (no reflink); record with fsx -J');
  rejects('dedupe_range 0x0 0x1000 0x2000 0x1000', /^x\.fsxops:1: dedupe_range is not supported .* fsx -B$/);
  rejects('exchange_range 0x0 0x1000 0x2000 0x1000', /^x\.fsxops:1: exchange_range is not supported/);
  rejects('write_atomic 0x0 0x1000 0x0', /^x\.fsxops:1: write_atomic \(RWF_ATOMIC\) is not supported/);
  rejects('read_dontcache 0x0 0x1000 0x0', /^x\.fsxops:1: read_dontcache \(RWF_DONTCACHE\) is not supported/);
});

test('malformed lines give FILE:LINE: reason', () => {
  rejects('fsync 0x0 0x0 0x0\nwrit 0x0 0x1 0x0', /^x\.fsxops:2: unknown operation "writ" \(known: read, /);
  rejects('skip', 'x.fsxops:1: "skip" without an operation');
  rejects('write 0x0 0x1', 'x.fsxops:1: write needs 3 arguments, got 2');
  rejects('copy_range 0x0 0x1 0x2', 'x.fsxops:1: copy_range needs 4 arguments, got 3');
  rejects('write 0x0 0x1z 0x0', 'x.fsxops:1: bad number "0x1z"');
  rejects('write 0x0 ten 0x0', 'x.fsxops:1: bad number "ten"');
  rejects('write 0x0 0x 0x0', 'x.fsxops:1: bad number "0x"');
  rejects('write 0x0 0x80000000 0x0', 'x.fsxops:1: number 0x80000000 is out of range (fsx arguments are below 2^31)');
  rejects('write 0x0 0x1 0x0 keepsize', 'x.fsxops:1: unknown flag "keepsize" (known: keep_size, close_open, unshare, *)');
  rejects('skip write 0x0 0x1', 'x.fsxops:1: write needs 3 arguments, got 2');
});
