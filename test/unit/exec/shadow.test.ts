import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShadowFile } from '../../../worker/oracle/shadow.js';
import { runProgram } from '../../../worker/exec/run.js';
import type { Op, Program } from '../../../worker/prog/types.js';

function program(fs: 'xfs' | 'fuse', ops: Op[]): Program {
  return {
    version: 1,
    config: { fs, inode: 'extent', blockSize: 4096, folioMax: 65536 },
    files: [{ name: 'f0' }],
    fds: [{ file: 0, direct: false }],
    threads: [{ ops }],
  };
}

// Store through a mapping past EOF (inside the EOF page), then grow the file.
const POST_EOF_STORE: Op[] = [
  { op: 'pwrite', fd: 0, off: 0, len: 100, fill: 0xaa },
  { op: 'mmap', map: 1, fd: 0, off: 0, len: 4096, prot: 'rw' },
  { op: 'mwrite', map: 1, off: 50, len: 300, fill: 0xee },
  { op: 'pwrite', fd: 0, off: 10000, len: 10, fill: 0xbb },
  { op: 'pread', fd: 0, off: 0, len: 10010 },
];

test('shadow: bytes stored past EOF read as zeroes when a block filesystem grows the file', () => {
  const sh = new ShadowFile(false);
  sh.fill(0, 100, 0xaa);
  sh.storeMapped(50, 300, 0xee);
  assert.equal(sh.size, 100);
  sh.fill(10000, 10, 0xbb);
  const got = new Uint8Array(10010);
  got.fill(0xaa, 0, 50);
  got.fill(0xee, 50, 100);
  got.fill(0xbb, 10000);
  assert.equal(sh.firstDifferenceAt(0, got), -1);
  got[200] = 0xee;
  assert.equal(sh.firstDifferenceAt(0, got), 200, 'junk past the old EOF is a difference');
});

test('shadow: with fuse semantics those bytes are unknown until written again', () => {
  const sh = new ShadowFile(true);
  sh.fill(0, 100, 0xaa);
  sh.storeMapped(50, 300, 0xee);
  sh.fill(10000, 10, 0xbb);
  const got = new Uint8Array(10010);
  got.fill(0xaa, 0, 50);
  got.fill(0xee, 50, 350);
  got.fill(0xbb, 10000);
  assert.equal(sh.firstDifferenceAt(0, got), -1, 'kept junk is accepted');
  got.fill(0, 100, 350);
  assert.equal(sh.firstDifferenceAt(0, got), -1, 'zeroes are accepted too');
  got[360] = 1;
  assert.equal(sh.firstDifferenceAt(0, got), 360, 'bytes never stored past EOF are still judged');
  sh.fill(100, 250, 0x11);
  got.fill(0xee, 100, 350);
  assert.equal(sh.firstDifferenceAt(0, got), 100, 'a later write makes them known again');
});

test('shadow: truncation drops pending post-EOF stores', () => {
  const sh = new ShadowFile(true);
  sh.fill(0, 100, 0xaa);
  sh.storeMapped(50, 300, 0xee);
  sh.truncate(40);
  sh.truncate(1000);
  const got = new Uint8Array(1000);
  got.fill(0xaa, 0, 40);
  got[200] = 0xee;
  assert.equal(sh.firstDifferenceAt(0, got), 200);
});

test('exec: an mmap store past EOF followed by growth runs clean on xfs (zeroed) and on fuse (kept)', () => {
  for (const fs of ['xfs', 'fuse'] as const) {
    const r = runProgram(program(fs, POST_EOF_STORE));
    assert.equal(r.harnessError, null, fs);
    assert.equal(r.violation, null, `${fs}: ${r.violation?.message ?? ''}`);
    const data = r.files[0]!.data;
    assert.equal(data.length, 10010);
    if (fs === 'xfs') assert.equal(data[200], 0, 'xfs zeroes the old EOF page tail before extending');
    else assert.equal(data[200], 0xee, 'fuse keeps the bytes: fuse_write_update_attr zeroes nothing');
  }
});

test('shadow: on a block filesystem, only post-EOF stores the page cache still holds unzeroed after growth are unknown', () => {
  // The sim reports [200, 220) still unzeroed (writeback won the folio lock
  // between i_size_write and pagecache_isize_extended); the rest of the
  // store past EOF was zeroed and must read as zeroes.
  const asked: [number, number][] = [];
  const sh = new ShadowFile(false, (from, to) => {
    asked.push([from, to]);
    return [[200, 220]];
  });
  sh.fill(0, 100, 0xaa);
  sh.storeMapped(50, 300, 0xee);
  sh.fill(10000, 10, 0xbb);
  assert.deepEqual(asked, [[100, 350]]);
  const got = new Uint8Array(10010);
  got.fill(0xaa, 0, 50);
  got.fill(0xee, 50, 100);
  got.fill(0xbb, 10000);
  assert.equal(sh.firstDifferenceAt(0, got), -1, 'zeroes are accepted');
  got.fill(0xee, 200, 220);
  assert.equal(sh.firstDifferenceAt(0, got), -1, 'the unzeroed store is accepted');
  got[220] = 0xee;
  assert.equal(sh.firstDifferenceAt(0, got), 220, 'the zeroed part of the store is judged');
});
