import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

import { ProgramInputError } from '../../../worker/prog/errors.js';
import { findProtoFile, programFromProto, programToProto } from '../../../worker/prog/proto-codec.js';
import { FALLOC_MODES, PROGRAM_VERSION, type Op, type Program } from '../../../worker/prog/types.js';
import { OP_NAMES } from '../../../worker/prog/ops.js';

/** Every op kind, every fallocate mode, every prot, and values that need more than 32 bits (reads reach past the largest file). */
function everyOp(): Program {
  const big = 2 ** 40 - 1;
  const ops: Op[] = [
    { op: 'pwrite', fd: 0, off: 2 ** 26 - 10, len: 10, fill: 0xcd, bsize: 4096 },
    { op: 'pwrite', fd: 1, off: 0, len: 0, fill: 0 },
    { op: 'pread', fd: 0, off: big - 10, len: 10, bsize: 4096 },
    { op: 'pread', fd: 1, off: 4096, len: 2 ** 33, bsize: 1 },
    { op: 'pread', fd: 0, off: 0, len: 1 },
    { op: 'truncate', fd: 0, size: 2 ** 26 },
    ...FALLOC_MODES.map((mode, i): Op => ({ op: 'fallocate', fd: 0, mode, off: i * 4096, len: 4096 })),
    { op: 'copy_range', fdIn: 0, offIn: 1, fdOut: 1, offOut: 2, len: 3 },
    { op: 'fsync', fd: 1 },
    { op: 'fdatasync', fd: 0 },
    { op: 'sync_file_range', fd: 0, off: 0, len: 8192, flags: 7 },
    { op: 'fadvise_dontneed', fd: 1, off: 0, len: 0 },
    { op: 'drop_caches' },
    { op: 'evict', file: 1 },
    { op: 'remount' },
    { op: 'power_cut', seed: 4294967295 },
    { op: 'close_open', fd: 0 },
    { op: 'mmap', map: 0, fd: 0, off: 0, len: 8192, prot: 'r' },
    { op: 'mmap', map: 1, fd: 0, off: 0, len: 8192, prot: 'w' },
    { op: 'mmap', map: 7, fd: 1, off: 4096, len: 4096, prot: 'rw' },
    { op: 'mread', map: 0, off: 1, len: 2 },
    { op: 'mwrite', map: 7, off: 4096, len: 4096, fill: 255 },
    { op: 'msync', map: 7, off: 4096, len: 4096, sync: true },
    { op: 'msync', map: 1, off: 0, len: 4096, sync: false },
    { op: 'munmap', map: 7 },
    { op: 'aio_write', fd: 1, off: 512, len: 4096, fill: 9, iocb: 3 },
    { op: 'aio_read', fd: 1, off: 0, len: 512, iocb: 2 ** 32 - 1 },
    { op: 'aio_wait', iocb: 3 },
    { op: 'writeback_kick' },
    { op: 'reclaim' },
    { op: 'fail_bio', write: true, skip: 3 },
    { op: 'fail_bio', write: false, skip: 0 },
    { op: 'fail_bio', write: true, skip: 1, short: true },
  ];
  return {
    version: PROGRAM_VERSION,
    config: { fs: 'ext4', inode: 'indirect', blockSize: 2048, folioMax: 32768 },
    files: [{ name: 'file0' }, { name: 'other file' }],
    fds: [{ file: 0, direct: false }, { file: 1, direct: true }],
    threads: [{ ops }, { ops: [{ op: 'munmap', map: 1 }, { op: 'aio_wait', iocb: 2 ** 32 - 1 }] }, { ops: [] }],
    schedule: { strategy: 'pct', seed: 2 ** 32 - 1, depth: 3, decisions: [
      { at: '', op: 0, step: 0, nth: 0, run: 't1' },
      { at: 'jbd2/kjournald2', op: 2 ** 31 - 1, step: 7, nth: 1, run: 'ev:iomap_writepage_end_bio#3' },
    ] },
  };
}

test('round trip of a program using every op kind', () => {
  const p = everyOp();
  const kinds = new Set(p.threads.flatMap((t) => t.ops.map((op) => op.op)));
  assert.deepEqual([...kinds].sort(), [...OP_NAMES].sort(), 'the sample covers every op kind');
  const bytes = programToProto(p);
  assert.ok(bytes instanceof Uint8Array);
  assert.ok(bytes.length > 100);
  assert.deepEqual(programFromProto(bytes, 'rt.pb'), p);
});

test('every fs kind survives the round trip', () => {
  for (const fs of ['ext4', 'xfs', 'fuse'] as const) {
    const p: Program = { ...everyOp(), config: { fs, inode: 'extent', blockSize: 4096, folioMax: 4096 } };
    assert.deepEqual(programFromProto(programToProto(p), 'x').config, p.config);
  }
});

test('an absent bsize stays absent', () => {
  const back = programFromProto(programToProto(everyOp()), 'x');
  const op = back.threads[0]?.ops[1];
  assert.ok(op?.op === 'pwrite');
  assert.equal(Object.hasOwn(op, 'bsize'), false);
});

test('encoding refuses an invalid program instead of wrapping its numbers', () => {
  const p = everyOp();
  p.fds.push({ file: 5, direct: false });
  assert.throws(() => programToProto(p), { message: 'programToProto: $.fds[2].file: must be a file index in 0..1, got 5' });
});

test('malformed bytes give a ProgramInputError naming the source', () => {
  const good = programToProto(everyOp());
  for (const bad of [good.slice(0, good.length - 3), Uint8Array.from([0x0a, 0xff, 0xff]), Uint8Array.from([0x0f])]) {
    assert.throws(() => programFromProto(bad, 'net:msg'), (err: unknown) =>
      err instanceof ProgramInputError && err.message.startsWith('net:msg: malformed protobuf Program: '));
  }
});

test('an empty message fails validation by path', () => {
  assert.throws(() => programFromProto(new Uint8Array(0), 'empty.pb'),
    { message: 'empty.pb: $.version: unsupported program version 0 (this build reads 1)' });
});

test('an op with no kind set is named by path', () => {
  // Program { version: 1, threads: [ { ops: [ {} ] } ] }
  const bytes = Uint8Array.from([0x08, 0x01, 0x2a, 0x02, 0x0a, 0x00]);
  assert.throws(() => programFromProto(bytes, 'k.pb'), { message: 'k.pb: $.threads[0].ops[0]: op kind not set' });
});

test('unspecified and unknown enum values are rejected by validation', () => {
  const type = new protobuf.Root().loadSync(findProtoFile()).lookupType('foliofuzz.v1.Program');
  const encode = (obj: Record<string, unknown>): Uint8Array => type.encode(type.fromObject(obj)).finish();
  const base = {
    version: 1,
    config: { fs: 'FS_KIND_XFS', inode: 'INODE_KIND_EXTENT', blockSize: 4096, folioMax: 16384 },
    files: [{ name: 'f' }],
    fds: [{ file: 0 }],
    threads: [{ ops: [{ fallocate: { fd: 0, mode: 'FALLOC_MODE_PUNCH', off: 0, len: 1 } }] }],
  };
  assert.equal(programFromProto(encode(base), 'ok.pb').threads[0]?.ops[0]?.op, 'fallocate');
  assert.throws(() => programFromProto(encode({ ...base, config: { ...base.config, fs: 0 } }), 'e.pb'),
    { message: 'e.pb: $.config.fs: must be one of ext4|xfs|fuse, got "FS_KIND_UNSPECIFIED"' });
  assert.throws(() => programFromProto(encode({ ...base, config: { ...base.config, inode: 9 } }), 'e.pb'),
    { message: 'e.pb: $.config.inode: must be one of extent|indirect, got 9' });
  assert.throws(() => programFromProto(encode({ ...base, threads: [{ ops: [{ fallocate: { fd: 0, off: 0, len: 1 } }] }] }), 'e.pb'),
    { message: 'e.pb: $.threads[0].ops[0].mode: must be one of alloc|keep_size|punch|zero|zero_keep|collapse|insert|unshare, got "FALLOC_MODE_UNSPECIFIED"' });
  assert.throws(() => programFromProto(encode({ ...base, threads: [{ ops: [{ mmap: { map: 0, fd: 0, off: 0, len: 1 } }] }] }), 'e.pb'),
    { message: 'e.pb: $.threads[0].ops[0].prot: must be one of r|w|rw, got "MMAP_PROT_UNSPECIFIED"' });
});

test('decoded values out of range are caught by validation', () => {
  const type = new protobuf.Root().loadSync(findProtoFile()).lookupType('foliofuzz.v1.Program');
  const bytes = type.encode(type.fromObject({
    version: 1,
    config: { fs: 'FS_KIND_XFS', inode: 'INODE_KIND_EXTENT', blockSize: 4096, folioMax: 16384 },
    files: [{ name: 'f' }],
    fds: [{ file: 0 }],
    threads: [{ ops: [{ pwrite: { fd: 3, off: '18446744073709551615', len: 1, fill: 300 } }] }],
  })).finish();
  assert.throws(() => programFromProto(bytes, 'r.pb'), { message: 'r.pb: $.threads[0].ops[0].fd: must be an fd index in 0..0, got 3' });
});

test('the .proto is found from the source tree and from the compiled tree', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const found = findProtoFile(here);
  assert.ok(existsSync(found));
  assert.ok(found.endsWith(join('proto', 'foliofuzz.proto')));
  // dist/worker/prog and worker/prog resolve to the same package root.
  const root = dirname(dirname(found));
  assert.equal(findProtoFile(join(root, 'dist', 'worker', 'prog')), found);
  assert.equal(findProtoFile(join(root, 'worker', 'prog')), found);
  assert.throws(() => findProtoFile('/'), /cannot find proto\/foliofuzz\.proto above \//);
});
