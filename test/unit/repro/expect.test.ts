// What the exports expect of a real kernel (worker/repro/expect.ts), and the
// headers that say so (recipe.ts): AIO judged at completion, reads racing an
// AIO in flight left alone, bytes POSIX leaves open left out, read-your-writes
// for several threads, nothing past an injected fault; the mkfs recipe for
// each filesystem; the finding, never "a control".

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { FdDecl, Op, Program, SimConfig } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { exportRepro } from '../../../worker/repro/export.js';
import { type Span, expectations } from '../../../worker/repro/expect.js';
import { makeRepro } from '../../../worker/repro/repro.js';
import { knownRepros } from './known.js';

const EXT4: SimConfig = { fs: 'ext4', inode: 'extent', blockSize: 4096, folioMax: 16384 };
const BUFFERED_AND_DIRECT: FdDecl[] = [{ file: 0, direct: false }, { file: 0, direct: true }];

function program(config: SimConfig, fds: FdDecl[], threads: Op[][]): Program {
  return validateProgram({ version: 1, config, files: [{ name: 'f' }], fds, threads: threads.map((ops) => ({ ops })) }, 'test');
}

const span = (off: number, len: number, byte: number): Span => ({ off, len, byte });

const cText = (p: Program): string => exportRepro(makeRepro(p, [], null), 'c').files[0]!.text;

test('AIO: the completion is expected, not io_submit\'s return; a read under an AIO write in flight is left alone; an aio_read nobody waits for is judged when reaped', () => {
  const p = program(EXT4, BUFFERED_AND_DIRECT, [[
    { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 0xaa },
    { op: 'fsync', fd: 0 },
    { op: 'aio_write', fd: 1, off: 0, len: 4096, fill: 0xbb, iocb: 1 },
    { op: 'pread', fd: 0, off: 0, len: 4096 },
    { op: 'aio_wait', iocb: 1 },
    { op: 'pread', fd: 0, off: 0, len: 8192 },
    { op: 'aio_read', fd: 1, off: 0, len: 8192, iocb: 2 },
  ]]);
  const e = expectations(p);
  const ops = e.ops[0]!;
  assert.equal(ops[0]!.ret, 8192);
  assert.equal(ops[2]!.ret, null, 'io_submit\'s return is not compared');
  assert.deepEqual(ops[2]!.completion, { ret: 4096, spans: [] });
  assert.deepEqual(ops[3]!.calls, [], 'the read races the AIO write in flight');
  assert.equal(ops[3]!.ret, null);
  assert.equal(ops[4]!.ret, 4096, 'aio_wait returns the completion\'s res');
  assert.deepEqual(ops[5]!.calls, [{ off: 0, want: { ret: 8192, spans: [span(0, 4096, 0xbb), span(4096, 4096, 0xaa)] } }]);
  assert.equal(ops[6]!.ret, null);
  assert.deepEqual(ops[6]!.completion, { ret: 8192, spans: [span(0, 4096, 0xbb), span(4096, 4096, 0xaa)] });
  assert.deepEqual(e.final, { kind: 'exact', files: [{ cache: ops[5]!.calls[0]!.want, disk: ops[5]!.calls[0]!.want }] });
  assert.equal(e.cut, null);
  assert.equal(e.gap, null);

  const c = cText(p);
  assert.match(c, /ret = do_aio\(0, 1, 1, 1, 0ULL, 4096ULL, 0xbb, what, &done_t0_2\);\n\t\top_leave\(\);\n\t\t\(void\)what;/, 'no check of io_submit\'s return');
  assert.match(c, /static const struct want done_t0_2 = \{ 4096LL, 0, NULL \};/);
  assert.match(c, /static const struct want done_t0_6 = \{ 8192LL, 2, done_t0_6_spans \};/);
});

test('a store past EOF that a later extension exposes is not expected either way (POSIX leaves it open)', () => {
  const p = program({ ...EXT4, fs: 'xfs' }, [{ file: 0, direct: false }], [[
    { op: 'truncate', fd: 0, size: 1000 },
    { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
    { op: 'mwrite', map: 0, off: 2000, len: 100, fill: 7 },
    { op: 'pwrite', fd: 0, off: 3000, len: 100, fill: 9 },
  ]]);
  const e = expectations(p);
  assert.equal(e.final.kind, 'exact');
  if (e.final.kind !== 'exact') return;
  const { cache } = e.final.files[0]!;
  assert.equal(cache.ret, 3100);
  assert.deepEqual(cache.spans, [span(0, 2000, 0), span(2100, 900, 0), span(3000, 100, 9)]);
});

test('several threads: read-your-writes where no other thread may change the bytes, cache against disk at the end', () => {
  const p = program(EXT4, [{ file: 0, direct: false }], [
    [{ op: 'pwrite', fd: 0, off: 8192, len: 4096, fill: 0xaa }, { op: 'pread', fd: 0, off: 8192, len: 4096 }],
    [
      { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 0xbb },
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
      { op: 'mwrite', map: 0, off: 100, len: 10, fill: 0xcc },
      { op: 'pread', fd: 0, off: 0, len: 4096 },
    ],
  ]);
  const e = expectations(p);
  assert.ok(e.concurrent);
  const [t0, t1] = e.ops as [typeof e.ops[0], typeof e.ops[0]];
  assert.deepEqual(t0[1]!.calls, [{ off: 8192, want: { ret: null, spans: [span(8192, 4096, 0xaa)] } }]);
  assert.equal(t0[0]!.pathRet, 4096, 't0\'s read assumes its write wrote it all');
  assert.equal(t0[0]!.ret, null, 'results depend on the interleaving');
  assert.deepEqual(t1[3]!.calls, [], 't0\'s write may zero up to its start: t1\'s bytes are not its own alone');
  assert.deepEqual(e.final, { kind: 'cache-vs-disk', excused: [[[100, 110]]] });

  const c = cText(p);
  assert.match(c, /ret = do_pread\(what, 0, 8192ULL, 4096ULL, 4096ULL, off_path\[0\] \? NULL : calls_t0_1, 1\);/);
  assert.match(c, /if \(ret != 4096LL\) off_path\[0\] = 1;/);
  assert.match(c, /static const struct span excused_f0\[\] = \{ \{ 100ULL, 10ULL, 0 \} \};/);
  assert.match(c, /#define FINAL_CACHE_VS_DISK 1/);
  assert.match(c, /#define JITTER_US 200/);
});

test('an injected fault: nothing from it on is expected, and the header says why', () => {
  const ops: Op[] = [
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
    { op: 'fsync', fd: 0 },
    { op: 'fail_bio', write: true, skip: 0 },
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 2 },
    { op: 'fsync', fd: 0 },
    { op: 'pread', fd: 0, off: 0, len: 4096 },
  ];
  const p = program(EXT4, [{ file: 0, direct: false }], [ops]);
  const e = expectations(p);
  assert.deepEqual(e.cut, { t: 0, i: 2 });
  assert.equal(e.ops[0]![1]!.ret, 0);
  for (const w of e.ops[0]!.slice(2)) assert.deepEqual(w, { ret: null, calls: [], load: null, completion: null, pathRet: null });
  assert.equal(e.final.kind, 'none');
  const c = cText(p);
  assert.match(c, / \* Needs fault injection this export cannot do: t0 #2 fail_bio write=true skip=0 is\n \* {3}a failing bio \(dm-flakey, or fail_make_request\);\n \* {3}the ops from there on still run, but nothing from t0 #2 on is checked/);
  const after = c.slice(c.indexOf('/* #2 fail_bio'), c.indexOf('static void thread_body'));
  assert.doesNotMatch(after, /check_ret|calls_t0/, 'no expectation after the fault');
  const xfsIo = exportRepro(makeRepro(p, [], null), 'xfs_io').files[0]!.text;
  assert.match(xfsIo, /^# Needs fault injection/m);
  assert.doesNotMatch(xfsIo, /Expected afterwards/);

  const two = program(EXT4, [{ file: 0, direct: false }], [ops, [{ op: 'pread', fd: 0, off: 0, len: 4096 }]]);
  assert.equal(expectations(two).final.kind, 'none');
  assert.match(cText(two), /it may strike any thread at any time, so nothing but the kernel log is checked\./);
});

test('the header\'s recipe: the twin\'s mkfs line for ext4 1 KiB indirect, xfs 2 KiB, and fuse with its daemon', () => {
  const ops: Op[][] = [[{ op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 }]];
  const fd: FdDecl[] = [{ file: 0, direct: false }];
  const ext4 = cText(program({ fs: 'ext4', inode: 'indirect', blockSize: 1024, folioMax: 4096 }, fd, ops));
  assert.match(ext4, /^ \* Filesystem: ext4 with indirect-block inodes, 1024-byte blocks\. As root:$/m);
  assert.match(ext4, /^ \* {3}truncate -s 64M \/tmp\/ffz\.img$/m);
  assert.match(ext4, /^ \* {3}mkfs\.ext4 -q -F -b 1024 -O \^extent,\^64bit -E lazy_itable_init=0,lazy_journal_init=0 \$DEV$/m);
  assert.match(ext4, /^ \* {3}mkdir -p \/mnt\/ffz && mount -t ext4 \$DEV \/mnt\/ffz$/m);
  assert.match(ext4, /^ \* {3}\.\/repro \/mnt\/ffz 1000$/m);
  assert.match(ext4, /#define FS_MAGIC EXT4_SUPER_MAGIC\n#define FS_BLOCK 1024\n#define FS_EXTENTS 0\n/);

  const xfs = cText(program({ fs: 'xfs', inode: 'extent', blockSize: 2048, folioMax: 4096 }, fd, ops));
  assert.match(xfs, /^ \* {3}truncate -s 320M \/tmp\/ffz\.img$/m);
  assert.match(xfs, /^ \* {3}mkfs\.xfs -q -f -b size=2048 \$DEV$/m);
  assert.match(xfs, /#define FS_MAGIC XFS_SUPER_MAGIC\n#define FS_BLOCK 2048\n#define FS_EXTENTS -1\n/);

  const fuse = cText(program({ fs: 'fuse', inode: 'extent', blockSize: 4096, folioMax: 4096 }, fd, ops));
  assert.match(fuse, /^ \* Filesystem: fuse \(ffz-fused over ext4\), 4096-byte blocks\. As root:$/m);
  assert.match(fuse, /^ \* {3}mkfs\.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 \$DEV$/m);
  assert.match(fuse, /^ \* {3}mkdir -p \/mnt\/ffz-back \/mnt\/ffz && mount -t ext4 \$DEV \/mnt\/ffz-back$/m);
  assert.match(fuse, /^ \* {3}ffz-fused -o subtype=ffz-fused \/mnt\/ffz-back \/mnt\/ffz$/m);
  assert.match(fuse, /write-through \(it never asks for the writeback cache/);
  assert.match(fuse, /keeping the page cache across opens \(FOPEN_KEEP_CACHE\)/);
  assert.match(fuse, /A substitute must do the same: bindfs -o kernel_cache \/mnt\/ffz-back \/mnt\/ffz/);
  assert.match(fuse, /^ \* {3}umount \/mnt\/ffz && umount \/mnt\/ffz-back && losetup -d \$DEV$/m);
});

test('the header names the finding and its message, and a program without one is never called a control', () => {
  const k = knownRepros().find((x) => x.name === 'dio-extend-no-isize-extended')!;
  const withFinding = exportRepro(k.repro, 'c').files[0]!.text;
  assert.match(withFinding, /^ \* foliofuzz reproducer: DATA lost-write write <- skipped @ iomap_writeback_range$/m);
  assert.match(withFinding, /^ \* The finding: DATA lost-write write <- skipped @ iomap_writeback_range$/m);
  // The message says which read saw it, then the cause in words.
  assert.match(withFinding, /^ \* {3}the sim \(foliofuzz-sim\/\d+\) with dio-extend-no-isize-extended on: DATA pread:mismatch @ ksys_pread64: pread at 0: byte \d+ is 0x0, expected 0x5; byte \d+: stored by t0 #4 mwrite, never written back: skipped by iomap_writeback_range; /m);
  assert.match(withFinding, /^ \* Expected: what a fixed kernel does, which is the foliofuzz simulator/m);
  const bare = exportRepro(makeRepro(k.program, [], null), 'c').files[0]!.text;
  for (const text of [withFinding, bare]) assert.doesNotMatch(text, /control/i);
  assert.match(bare, /^ \* No finding is recorded with this program/m);
});

test('the xfs_io export: the recipe, the run line, and the final contents a fixed kernel leaves as an md5', () => {
  const p = program({ ...EXT4, fs: 'xfs' }, [{ file: 0, direct: true }], [[
    { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 0xaa },
    { op: 'aio_write', fd: 0, off: 4096, len: 4096, fill: 0xbb, iocb: 0 },
    { op: 'truncate', fd: 0, size: 6000 },
  ]]);
  const text = exportRepro(makeRepro(p, [], null), 'xfs_io').files[0]!.text;
  assert.match(text, /^# {3}mkfs\.xfs -q -f -b size=4096 \$DEV$/m);
  assert.match(text, /^# {3}grep -v '\^#' xfs_io\.txt \| xfs_io -f -d \/mnt\/ffz\/f0$/m);
  // The script leaves the AIO out (xfs_io has no command for it): so does what it expects.
  const want = new Uint8Array(6000);
  want.fill(0xaa, 0, 4096);
  assert.match(text, new RegExp(`^# {3}/mnt/ffz/f0 is 6000 bytes, md5 ${createHash('md5').update(want).digest('hex')}$`, 'm'));
  assert.ok(text.split('\n').filter((l) => l !== '').every((l) => l.startsWith('#') || /^(pwrite|truncate)/.test(l)), text);
});

test('an AIO that fails at once is expected to fail with the same errno at its completion', () => {
  const p = program(EXT4, BUFFERED_AND_DIRECT, [[
    { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 0xaa },
    { op: 'aio_read', fd: 1, off: 100, len: 512, iocb: 0 },
    { op: 'aio_wait', iocb: 0 },
  ]]);
  const ops = expectations(p).ops[0]!;
  assert.deepEqual(ops[1]!.completion, { ret: -22, spans: [] });
  assert.equal(ops[2]!.ret, -22);
});
