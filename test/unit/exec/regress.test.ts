// False positives the fuzzer once found with every switch off (corpus/regress/):
// each runs clean now, and shows what Linux does in its interleaving.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import type { Program } from '../../../worker/prog/types.js';
import { parseRepro } from '../../../worker/repro/repro.js';

const REGRESS = fileURLToPath(new URL('../../../../corpus/regress/', import.meta.url));

function replay(name: string): RunResult {
  const path = join(REGRESS, name);
  const r = parseRepro(readFileSync(path, 'utf8'), path);
  const res = runProgram(r.program, { record: true });
  assert.equal(res.harnessError, null, res.harnessError ?? '');
  assert.equal(res.violation, null, res.violation?.message);
  return res;
}

/** The AIO completions of a run, as [thread, op, result]: io_submit's own result is 0 once it took the iocb. */
function completions(res: RunResult): [number, number, number][] {
  return res.trace!.events.flatMap((e): [number, number, number][] => (e.e === 'aio' ? [[e.t, e.i, e.ret]] : []));
}

function runs(data: Uint8Array): string {
  const out: string[] = [];
  let st = 0;
  for (let i = 1; i <= data.length; i++) {
    if (i === data.length || data[i] !== data[st]) {
      out.push(`${st}-${i}:${data[st]}`);
      st = i;
    }
  }
  return out.join(' ');
}

test('ext4-aio-dio-remount-mismatch: reclaim during a direct write\'s invalidation frees a folio once; the cache shows the direct write', () => {
  // t0's direct write of 1s over [131072, 225280) invalidated the cache; the
  // later reads bring those bytes back from disk, into folios whose memory
  // no other folio shares.
  const res = replay('ext4-aio-dio-remount-mismatch.json');
  assert.equal(runs(res.files[0]!.data), '0-4096:1 4096-131072:0 131072-225280:1');
});

test('ext4-indirect-final-mismatch: blocks writeback did not write read as zeroes on an indirect inode', () => {
  // truncate to 0, then writes at 128000 and 127210 (1 KiB blocks): writeback
  // allocates only the delayed blocks it writes; block 124 ([126976, 128000))
  // up to the write at 127210 was never written and reads as zeroes.
  const res = replay('ext4-indirect-final-mismatch.json');
  assert.equal(runs(res.files[0]!.data), '0-127210:0 127210-129024:1');
});

test('fuse-read-folio-writeback: a read of a folio under writeback waits for the WRITE before the READ', () => {
  // A short WRITE cleared uptodate on a folio dirtied through a mapping; the
  // flusher sends it (bytes 0..1024 = 1) while t1's pread re-reads it.
  // fuse_do_readfolio waits for writeback first, so the cache gets what the
  // server holds after the WRITE.
  const res = replay('fuse-read-folio-writeback.json');
  assert.equal(runs(res.files[0]!.data), '0-1024:1 1024-16384:0 16384-16896:1 16896-24576:0 24576-25088:1');
});

test('aio-read-mmap-store: a direct AIO read in flight across a store through a mapping may return the older bytes', () => {
  // The AIO read flushed and read the disk (0x2) before the store (0x3) was
  // written back; it completes during the next op. The store still reaches the file.
  const res = replay('aio-read-mmap-store.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 512, 0, 1024, 512]);
  assert.equal(runs(res.files[0]!.data), '0-512:3');
});

test('copy-range-aio-write: copy_file_range over the range of an AIO write in flight copies what it finds', () => {
  // The direct AIO write of 0x5 over [49152, 65536) completes while the copy
  // of [61440, 63488) to 0 runs: the copy carries the AIO's bytes.
  const res = replay('copy-range-aio-write.json');
  assert.equal(runs(res.files[0]!.data), '0-2048:5 2048-45056:0 45056-49152:1 49152-65536:5 65536-73728:1');
});

test('fuse-store-stale-folio: a store into a folio a failed WRITE cleared is lost when the folio is re-read', () => {
  // pwrite -EIO cleared uptodate on the mapped folio at 24576; the next store
  // (0x5) goes through the old pte into that folio, and the final read
  // re-reads it from the server (0x1).
  const res = replay('fuse-store-stale-folio.json');
  assert.deepEqual(res.results.map((x) => x.ret), [4096, 0, 0, 30, -5, 219]);
  assert.equal(runs(res.files[0]!.data), '0-24576:0 24576-28672:1');
});

test('fuse-copy-range-failed-write-store-lost: a copy_file_range whose WRITE fails loses a store into the destination folio', () => {
  // A store of 4s at 0 through a mapping dirties folio 0; copy_file_range
  // [0, 1024) -> 2048 of the same file falls back to splice_copy_file_range
  // (the daemon has no FUSE_COPY_FILE_RANGE), whose fuse_perform_write into
  // folio 0 gets -EIO: fuse_send_write_pages clears the folio's uptodate, and
  // the final read re-reads it from the server, which never had the store.
  // (The copy goes through the buffered fd: through an O_DIRECT one it is
  // direct I/O, as splice_direct_to_actor does, and meets no folio.)
  const res = replay('fuse-copy-range-failed-write-store-lost.json');
  assert.equal(res.results[4]!.ret, -5);
  assert.equal(runs(res.files[0]!.data), '0-8192:0 8192-9216:4');
});

test('fuse-fallocate-mmap-store: a store racing with FALLOC_FL_ZERO_RANGE may reach the server while the cache is zeroed', () => {
  // t0 stores 0x1 at 8192 through a mapping after t1's zero-range sent
  // FALLOCATE; t0's direct read flushes that folio to the server; then
  // truncate_pagecache_range zeroes the cached range. The cache shows zeroes
  // (the server keeps the store: allowed, nothing orders the two).
  const res = replay('fuse-fallocate-mmap-store.json');
  assert.equal(runs(res.files[0]!.data), '0-4987:1 4987-12288:0 12288-13312:1');
});

test('fuse-fsync-under-write: fdatasync waits for a buffered write in flight; a store into its folios reaches the server', () => {
  // t1 writes 64 KiB of 0x1 while t0 stores 0x4 at 24059 and calls
  // fdatasync: fuse_fsync takes inode_lock, so the WRITE is done before the
  // dirty folio is written back; cache and server both end with the store.
  const res = replay('fuse-fsync-under-write.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 512, 840, 65536, 0]);
  assert.equal(runs(res.files[0]!.data), '0-24059:1 24059-24899:4 24899-65536:1 65536-131072:0 131072-131584:1');
});

test('ext4-zero-range-read-error: a zero range that fails reading a partial block leaves the cache zeroed, the disk not', () => {
  // FALLOC_FL_ZERO_RANGE|KEEP_SIZE over [29184, 30208) with 1 KiB blocks:
  // truncate_pagecache_range zeroes the cached bytes, then the partial-block
  // zeroing must read block 28 and the read fails: -EIO, the cache keeps the
  // zeroes over [29696, 30208) while the disk keeps t1's 0x1.
  const res = replay('ext4-zero-range-read-error.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 16384, 1024, 0, -5]);
  assert.equal(runs(res.files[0]!.data), '0-16384:0 16384-29696:1 29696-30208:0 30208-32768:1');
});

test('ext4-zero-range-writeback-realloc: a zero range keeps the blocks a writeback racing with it converts', () => {
  // a's 7s were freed (truncate, committed). b: pwrite 0x9 over [12288,
  // 13824), 0x8 over [16384, 17408), writeback_kick, then ZERO_RANGE|KEEP_SIZE
  // over [13312, 17408). The flusher runs inside the zero range's page cache
  // truncation and maps blocks 12-13 for writeback; its completion converts
  // them by file offset (ext4_convert_unwritten_extents). ext4_zero_range
  // converts blocks in place (EXT4_GET_BLOCKS_CONVERT_UNWRITTEN) and frees
  // none, so block 13 never maps one of a's old blocks: it reads zeroes.
  const path = join(REGRESS, 'ext4-zero-range-writeback-realloc.json');
  const r = parseRepro(readFileSync(path, 'utf8'), path);
  let op = -1;
  let flushInZeroRange = false;
  const res = runProgram(r.program, {
    onOpStart: (_t, i) => (op = i),
    onSwitch: (_from, to) => {
      if (to.name === 'flush' && op === 7) flushInZeroRange = true;
    },
  });
  assert.equal(res.harnessError, null, res.harnessError ?? '');
  assert.equal(res.violation, null, res.violation?.message);
  assert.ok(flushInZeroRange, 'the flusher runs during the zero range');
  assert.deepEqual(res.results.map((x) => x.ret), [12288, 0, 0, 0, 1536, 1024, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '');
  assert.equal(runs(res.files[1]!.data), '0-12288:0 12288-13312:9 13312-17408:0');
});

test('ext4-punch-writeback-realloc: a partial invalidation discards the punched blocks\' dirty state, so writeback never maps them', () => {
  // a's 7s were freed (truncate, committed). b: pwrite 0x9 over [12288,
  // 13824), 0x8 over [16384, 17408), writeback_kick, punch [13312, 17408),
  // then a KEEP_SIZE fallocate of [12288, 14336). The flusher runs inside
  // the punch's page cache truncation. ext4_invalidate_folio ->
  // block_invalidate_folio -> discard_buffer cleared block 13's dirty state
  // (the folio at 12288 is truncated only partly), so the flusher writes
  // block 12 alone; block 13 gets a new unwritten block from the fallocate
  // (one of a's old ones) that no writeback completion converts: zeroes.
  const path = join(REGRESS, 'ext4-punch-writeback-realloc.json');
  const r = parseRepro(readFileSync(path, 'utf8'), path);
  let op = -1;
  let flushInPunch = false;
  const res = runProgram(r.program, {
    onOpStart: (_t, i) => (op = i),
    onSwitch: (_from, to) => {
      if (to.name === 'flush' && op === 7) flushInPunch = true;
    },
  });
  assert.equal(res.harnessError, null, res.harnessError ?? '');
  assert.equal(res.violation, null, res.violation?.message);
  assert.ok(flushInPunch, 'the flusher runs during the punch');
  assert.deepEqual(res.results.map((x) => x.ret), [12288, 0, 0, 0, 1536, 1024, 0, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '');
  assert.equal(runs(res.files[1]!.data), '0-12288:0 12288-13312:9 13312-17408:0');
});

test('ext4 punch of whole blocks inside a mapped page write-protects it: a later store faults and is written back', () => {
  // ext4_truncate_page_cache_block_range -> ext4_truncate_folio: folio_mkclean
  // of the page straddling the punch, so the store into the punched block
  // goes through ext4_page_mkwrite (which reserves it again) instead of a pte
  // left writable by the first store; block_invalidate_folio discarded the
  // block's dirty state, and without the fault its data would never be
  // written back (commit 17207d0bb209's reproducer, as a punch).
  const program: Program = {
    version: 1,
    config: { fs: 'ext4', inode: 'extent', blockSize: 1024, folioMax: 4096 },
    files: [{ name: 'a' }],
    fds: [{ file: 0, direct: false }],
    threads: [{
      ops: [
        { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 },
        { op: 'fsync', fd: 0 },
        { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
        { op: 'mwrite', map: 0, off: 0, len: 4096, fill: 2 },
        { op: 'fallocate', fd: 0, mode: 'punch', off: 1024, len: 1024 },
        { op: 'mwrite', map: 0, off: 1024, len: 1024, fill: 3 },
        { op: 'fsync', fd: 0 },
        { op: 'munmap', map: 0 },
        { op: 'remount' },
      ],
    }],
  };
  const res = runProgram(program);
  assert.equal(res.harnessError, null, res.harnessError ?? '');
  assert.equal(res.violation, null, res.violation?.message);
  assert.deepEqual(res.results.map((x) => x.ret), [4096, 0, 0, 4096, 0, 1024, 0, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-1024:2 1024-2048:3 2048-4096:2');
});

test('xfs-read-under-extending-aio: a read past EOF while an extending AIO write completes sees the new size', () => {
  // The AIO write of [8192, 9216) extends the 1536-byte file; it completes
  // while the direct read of [4096, 5120) runs, and the read finds the hole
  // inside the new size: 1024 zero bytes, not 0.
  const res = replay('xfs-read-under-extending-aio.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 0, 1024]);
  assert.deepEqual(completions(res), [[0, 0, 1536], [0, 1, 1024]]);
  assert.equal(runs(res.files[0]!.data), '0-1536:1 1536-8192:0 8192-9216:1');
});

test('xfs-unaligned-aio-over-hole: a sub-block AIO direct write over a hole completes before io_submit returns', () => {
  // [4608, 6656) is inside EOF but over a hole: not an overwrite, so xfs
  // retries it exclusive with IOMAP_DIO_FORCE_WAIT; its sub-block zeroing is
  // done before the buffered write of [6144, 10240) that follows.
  const res = replay('xfs-unaligned-aio-over-hole.json');
  assert.deepEqual(res.results.map((x) => x.ret), [16384, 0, 4096, -22]);
  assert.deepEqual(completions(res), [[0, 1, 2048]], 'completed inside io_submit: before the buffered write');
  assert.equal(runs(res.files[0]!.data), '0-4608:0 4608-10240:2 10240-12288:0 12288-28672:2');
});

test('fuse-truncate-nowrite: a writeback WRITE racing with a truncate to 0 is held back and cropped (FUSE_NOWRITE)', () => {
  // t2 dirties page 0 through a mapping and kicks the flusher while t0
  // truncates f0 to 0. fuse_do_setattr holds FUSE_NOWRITE across SETATTR:
  // the flusher's WRITE waits in queued_writes and goes out cropped to the
  // new i_size, i.e. not at all. The page cache and the server both end empty
  // (the harness's remount check would report a server size of 4096).
  const res = replay('fuse-truncate-nowrite.json');
  assert.equal(res.files[0]!.data.length, 0);
});

test('ext4-failed-dio-stale-cache: a direct write that fails part-way leaves a racing buffered read\'s older bytes cached', () => {
  // t1's direct write of 0xf over [0, 8192) fails with -EIO after a bio
  // landed; t0's buffered read of [0, 65536) cached the older bytes meanwhile
  // and no invalidation follows a failed write: the cache shows 0x2 and 0x3.
  // What follows 8192 depends on the interleaving after the failed write; the
  // jbd2 commit thread (merged after this reproducer was recorded) changed
  // where its replay list leads there, not what happens over [0, 8192).
  const res = replay('ext4-failed-dio-stale-cache.json');
  assert.equal(runs(res.files[0]!.data).split(' ').slice(0, 2).join(' '), '0-4096:2 4096-8192:3');
  assert.equal(res.files[0]!.data[8192], 14, 't0 wrote 0xe at 8192 after the failed write');
});

test('fuse-store-after-failed-write-8k: a store whose next page faults re-reads the folio a failed WRITE cleared, losing its first part', () => {
  // The failed WRITE at 8192 cleared the 8 KiB folio [8192, 16384), whose
  // first page stays mapped. The store of 0x2 over [11264, 12588) lands in
  // that page, then faults on the next one: filemap_fault finds the folio
  // not uptodate and fuse_read_folio reads it whole from the server, over
  // the bytes just stored. Only the part after the fault stays.
  const res = replay('fuse-store-after-failed-write-8k.json');
  const data = res.files[0]!.data;
  assert.equal(data.length, 12289);
  assert.equal(runs(data.subarray(11264, 12288)), '0-1024:0', 'the first part was re-read from the server');
  assert.equal(data[12288], 2, 'the part stored after the fault stays');
});

test('fuse-power-cut-aborts-requests: a request the dead daemon never answered does not reach the restarted one', () => {
  // t4 cuts the power while t0's buffered read of f0 waits for its READ
  // (under invalidate_lock shared, which the cut does not wait for): the
  // daemon dies at once and fuse_abort_conn ends the READ, so the pread
  // fails. The program's threads run on while the cut holds the kernel
  // quiet: t1 dirties f0.0's folio [61440, 65536) through a mapping (f0.0
  // is 98304 bytes) and the flusher sends its WRITE to the dead daemon. The
  // restart brings f0.0 back empty, and that WRITE, never answered, ends
  // with the old connection too: it never lands (it used to grow the
  // server's f0.0 to 65536 behind an i_size of 0).
  const res = replay('fuse-power-cut-aborts-requests.json');
  const ret = (t: number, i: number): number | undefined => res.results.find((x) => x.thread === t && x.index === i)?.ret;
  assert.equal(ret(4, 0), 0, 'the power cut');
  assert.equal(ret(0, 2), -5, 'the pread whose READ the abort ended');
  assert.equal(res.files[1]!.name, 'f0.0');
  assert.equal(res.files[1]!.data.length, 0);
});

test('ext4-indirect-power-cut-durable: a block truncate freed is not reallocated before the truncate commits', () => {
  // fsync commits block 4 at pblk B (the punch of block 0 commits with the
  // second fsync). truncate to 4096 frees B in the running transaction; the
  // extending write's writeback allocates blocks 3 and 4 and must not take
  // B (ext4_mb_free_metadata keeps it until the commit), so nothing forces
  // a commit mapping block 3 before its data reached the disk. The cut
  // loses the uncommitted truncate and write: the file is what the second
  // fsync made durable.
  const res = replay('ext4-indirect-power-cut-durable.json');
  assert.deepEqual(res.results.map((x) => x.ret), [512, 1024, 0, 0, 0, 0, 1024, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-4096:0 4096-4608:1');
});

test('ext4-indirect-power-cut-garbage: the same with a write over [3072, 4608): block 3 does not show the first write\'s bytes', () => {
  const res = replay('ext4-indirect-power-cut-garbage.json');
  assert.deepEqual(res.results.map((x) => x.ret), [256, 512, 0, 0, 0, 0, 1536, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-4096:0 4096-4352:1');
});

test('xfs-post-eof-store-exposed-setattr: a store past EOF that an extension exposes stays in the cache over a hole', () => {
  // t3's store of 0x5 at [8101, 8125) lands past f0.0.0's EOF (6144), in
  // block 7, a hole. Its zero range at 13312 grows the file to 17408:
  // truncate_setsize does i_size_write before pagecache_isize_extended, and
  // the flusher writes the folio back in between (the hole block skipped),
  // so nothing zeroes the store. The cache shows it inside EOF while the
  // disk reads zeroes there: unspecified by POSIX, accepted by the
  // writeback check and the cache-vs-disk check.
  const res = replay('xfs-post-eof-store-exposed-setattr.json');
  const ret = (t: number, i: number): number | undefined => res.results.find((x) => x.thread === t && x.index === i)?.ret;
  assert.equal(ret(3, 8), 24, 'the store past EOF');
  assert.equal(ret(3, 9), 0, 'the extending zero range');
  const f = res.files[3]!;
  assert.equal(f.name, 'f0.0.0');
  assert.equal(f.data.length, 17408);
  assert.equal(runs(f.data.subarray(6144, 12800)), '0-1957:0 1957-1981:5 1981-6656:0', 'the store shows inside EOF in the cache');
});

test('xfs-post-eof-store-exposed-write: the same race through an extending buffered write', () => {
  // t0's store of 0x4 at [1116, 1204) lands past f0's EOF (1024), in block
  // 1, a hole; an extending write's iomap_write_end does i_size_write before
  // pagecache_isize_extended and writeback of page 0 wins the folio lock.
  // Later ops rewrite or drop the folio: the file ends as written.
  const res = replay('xfs-post-eof-store-exposed-write.json');
  const ret = (t: number, i: number): number | undefined => res.results.find((x) => x.thread === t && x.index === i)?.ret;
  assert.equal(ret(0, 6), 88, 'the store past EOF');
  assert.equal(runs(res.files[0]!.data), '0-51200:0 51200-53248:1');
  assert.equal(runs(res.files[1]!.data), '0-4096:7 4096-20480:1');
});

test('xfs-post-eof-store-exposed-mkwrite-dio: a store past the EOF its page_mkwrite saw lands after an extension moved i_size', () => {
  // t0's store of 0x2 at [2186, 2430) faults: iomap_page_mkwrite sees EOF
  // 2048 and reserves block 0 only (2 KiB blocks), though iomap_dirty_folio
  // dirties both. While it holds the folio lock t1's extending direct write
  // does i_size_write(12288); pagecache_isize_extended waits for the lock.
  // The store lands inside the new EOF, in block 1, a hole, and t0's msync
  // writes the folio back (skipping block 1) before pagecache_isize_extended
  // runs. The bytes are post-EOF for the pte the store went through:
  // unspecified, kept in the cache, zeroes on disk.
  const res = replay('xfs-post-eof-store-exposed-mkwrite-dio.json');
  const ret = (t: number, i: number): number | undefined => res.results.find((x) => x.thread === t && x.index === i)?.ret;
  assert.equal(ret(0, 4), 244, 'the store');
  assert.equal(ret(1, 0), 4096, 'the extending direct write');
  assert.equal(ret(0, 5), 0, 'the msync');
  const f = res.files[0]!;
  assert.equal(f.name, 'f0');
  assert.equal(runs(f.data), '0-2048:1 2048-2186:0 2186-2430:2 2430-8192:0 8192-12288:3', 'the store shows inside EOF in the cache');
});

test('ext4-failed-zero-range-extends-size: a zero range that fails on its edge block leaves the size it already set', () => {
  // The file is 225280 bytes; FALLOC_FL_ZERO_RANGE over [225279, 227327)
  // allocates first (ext4_alloc_file_blocks with new_size updates i_size),
  // then ext4_zero_partial_blocks reads the edge block, and the injected read
  // error fails the call: -EIO with i_size already 227327, the new part zero.
  const res = replay('ext4-failed-zero-range-extends-size.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 0, -5]);
  assert.deepEqual(completions(res), [[0, 0, 65536]]);
  assert.equal(res.violation, null);
  assert.equal(runs(res.files[0]!.data), '0-159744:0 159744-225280:4 225280-227327:0');
});

test('xfs-dio-completion-no-isize-extended: an AIO direct write completing beyond EOF does not zero the page cache under a buffered write', () => {
  // The AIO write at 65536 completes while the buffered write at 36864
  // extends the file over the old EOF (37888). xfs_dio_write_end_io only
  // writes i_size; the sim also ran pagecache_isize_extended from the old
  // EOF it read before sleeping on the folio lock, and zeroed [37888, 40960)
  // of what the buffered write had just copied.
  const res = replay('xfs-dio-completion-no-isize-extended.json');
  assert.deepEqual(res.results.map((x) => x.ret), [4096, 0, 16384]);
  assert.equal(res.violation, null);
  assert.equal(runs(res.files[0]!.data), '0-33792:0 33792-53248:3 53248-65536:0 65536-66560:3');
});

test('xfs-unshare-hole-no-delalloc: FALLOC_FL_UNSHARE_RANGE over a hole reserves nothing', () => {
  // xfs_buffered_write_iomap_begin never allocates for zeroing or unsharing
  // a hole; the sim reserved delalloc there, which after a remount left
  // blocks past EOF that a truncate up then zeroed through the page cache
  // (WARN iomap_zero_iter:beyond-eof).
  const res = replay('xfs-unshare-hole-no-delalloc.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 1024, 1024, 0, 0, 0]);
  assert.equal(res.violation, null);
  assert.equal(runs(res.files[0]!.data), '0-1024:1 1024-16384:0');
});

test('ext4-indirect-fsync-spurious-error-power-cut: an msync through a mapping made during the cut reports the error recorded after it', () => {
  // t1's mmap of fd 2 (f0.1) runs while t0's power cut quiesces, after its
  // hasMappings check: the mapping keeps the old mount's description, whose
  // f_wb_err its earlier fsync advanced to the first fault's error. The new
  // mount's errseq starts at 0; the fault armed after the cut fails a
  // writeback of f0.1, and t2's msync through the mapping gets -EIO from
  // errseq_check_and_advance. The oracle reset its count of f0.1's errors at
  // the cut but not that description's cursor, so it took the error for one
  // already reported.
  const res = replay('ext4-indirect-fsync-spurious-error-power-cut.json');
  const ret = (t: number, i: number): number | undefined => res.results.find((x) => x.thread === t && x.index === i)?.ret;
  assert.equal(ret(2, 1), -5, 'the fsync before the cut reports the first fault');
  assert.equal(ret(1, 2), 0, 'the mmap during the cut');
  assert.equal(ret(0, 3), 0, 'the power cut');
  assert.equal(ret(2, 3), -5, 'the msync after the cut reports the second fault');
});

test('ext4-failed-aio-under-direct-write: a failed AIO direct write whose other bio lands after a later direct write leaves its bytes', () => {
  // t0's AIO write of 3s over [111616, 113664) is in flight (two bios) when
  // its direct write of 6s over [110592, 112640) runs; the later write's bio
  // for block 109 completes first, then the AIO's bio for the same block,
  // and the AIO's other bio fails (the armed fault): the AIO completes with
  // -EIO inside the later write. Nothing orders overlapping direct writes in
  // flight, so block 109 holds the AIO's 3s. The oracle forgot the AIO's
  // range at its completion, and the later write's end then marked its own
  // bytes known again over it.
  const res = replay('ext4-failed-aio-under-direct-write.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 1024, 0, 2048]);
  assert.equal(runs(res.files[0]!.data), '0-110592:0 110592-111616:6 111616-113664:3');
});

test('ext4-failed-aio-power-cut-garbage: a failed AIO direct write may still reach the disk after a truncate forgot it', () => {
  // The AIO write of 3s over [0, 16384) is in flight across the fsync that
  // makes [8192, 9216) of 2s durable; one of its bios then fails, the others
  // land in the volatile cache while the truncate to 0 runs, and the power
  // cut keeps some of their sectors. The oracle marked the AIO's range
  // unknown at its completion but noted the durability only after the
  // truncate, when there was nothing left to be unknown.
  const res = replay('ext4-failed-aio-power-cut-garbage.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 1024, 0, 0, 0, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-8192:0 8192-8704:3 8704-9216:2 9216-9728:0 9728-10240:3 10240-16384:0');
});

test('ext4-indirect-copy-range-failed-writeback: a copy whose source writeback failed meanwhile copies what the disk holds', () => {
  // The flusher writes back [0, 512) of 7s while copy_range runs; the armed
  // fault fails that bio, the folio ends clean and kswapd reclaims it, so the
  // copy reads the source back from disk: zeroes, which it writes at 8192.
  const res = replay('ext4-indirect-copy-range-failed-writeback.json');
  assert.deepEqual(res.results.map((x) => x.ret), [512, 0, 0, 0, 512]);
  assert.equal(runs(res.files[0]!.data), '0-8704:0');
});

test('xfs-power-cut-commit-after-cut: a log commit the flusher forces after the cut never reaches the disk', () => {
  // f0's zero range over its written blocks is durable (fsync); a later write
  // dirties part of block 13 again, and the flusher, running while the power
  // cut empties the page cache, converts the block at I/O completion and
  // then reuses a busy extent, which forces a log commit. The machine is
  // dead by then: recovery finds the zero range's metadata, not a block 13
  // marked written over the stale 4s its data write never replaced.
  const res = replay('xfs-power-cut-commit-after-cut.json');
  assert.deepEqual(res.results.map((x) => x.ret), [8192, 0, 0, 0, 0, 4096, 4096, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-65536:0');
});

test('xfs-power-cut-flusher-after-cut: writeback that runs after the cut does not reach the media', () => {
  // f0's 6s at [57344, 69632) are durable; its truncate to 0 is not. During
  // the cut the flusher writes f1's delalloc data back into the blocks f0
  // freed; the device has no power then, so recovery shows f0 as it was
  // committed, with its 6s.
  const res = replay('xfs-power-cut-flusher-after-cut.json');
  assert.deepEqual(res.results.map((x) => x.ret), [12288, 0, 0, 6144, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-57344:0 57344-69632:6');
});

test('xfs-dio-fallback-stale-pagecache: a direct write that fell back to buffered I/O after the program\'s own collision is the program\'s cached write', () => {
  // t1's store through a mapping keeps the folio busy while t2's AIO direct
  // write invalidates it; the invalidation fails and the write goes on
  // buffered, dirtying the folio while t0's AIO direct write over the same
  // block is in flight, so t0's post-write invalidation fails: the
  // dio_warn_stale_pagecache the kernel prints for the program's collision.
  const res = replay('xfs-dio-fallback-stale-pagecache.json');
  const ret = (t: number, i: number): number | undefined => res.results.find((x) => x.thread === t && x.index === i)?.ret;
  assert.equal(ret(1, 4), 47, 't1 stores through the mapping');
  assert.equal(ret(2, 0), 0, 't2\'s AIO is submitted');
  assert.equal(ret(0, 1), 0, 't0\'s AIO is submitted');
  assert.deepEqual(completions(res), [[2, 0, 512], [0, 1, 1024]], 't2\'s direct write completes (buffered) first');
  assert.equal(runs(res.files[0]!.data), '0-1024:2 1024-4096:0');
});

test('ext4-indirect-unaligned-dio-hole-buffered: an unaligned O_DIRECT write into a hole of an indirect inode is done buffered, not refused', () => {
  // Found by a kernel campaign (a DIVERGENCE; 6.18 returns 3584): ext4_dio_write_iter
  // has no alignment check of its own. ext4_iomap_begin answers a hole inside
  // i_size of an indirect inode with -ENOTBLK before iomap_dio_bio_iter would
  // check the sector alignment, and the write falls back to buffered I/O.
  const res = replay('ext4-indirect-unaligned-dio-hole-buffered.json');
  assert.equal(res.results[1]!.ret, 3584);
  assert.equal(runs(res.files[0]!.data), '0-180:0 180-3764:2 3764-4097:0 4097-8193:1');
});

test('ext4-indirect-copy-range-unaligned-dio-hole: copy_file_range into an O_DIRECT fd at an unaligned offset over a hole succeeds', () => {
  // The same fallback through splice: iter_file_splice_write's direct write
  // meets the hole first (-ENOTBLK, buffered), so 6.18 copies all 16384 bytes.
  const res = replay('ext4-indirect-copy-range-unaligned-dio-hole.json');
  assert.equal(res.results[1]!.ret, 16384);
});

test('xfs-copy-range-reflink-whole-blocks: copy_file_range on xfs clones whole blocks and returns a short count', () => {
  // Found by a kernel campaign (a DIVERGENCE; 6.18 returns 2048): xfs has
  // ->remap_file_range (reflink), which vfs_copy_file_range tries first with
  // REMAP_FILE_CAN_SHORTEN; generic_remap_checks cuts 2189 bytes that do not
  // end at the source's EOF down to whole 1 KiB blocks.
  const res = replay('xfs-copy-range-reflink-whole-blocks.json');
  assert.equal(res.results[1]!.ret, 2048);
  assert.equal(runs(res.files[0]!.data), '0-4089:0 4089-7161:5 7161-8192:0 8192-10240:5');
});


test('ext4-copy-range-odirect-source-unaligned: an O_DIRECT source read into pipe pages must keep each bio sector-aligned in memory', () => {
  // Found by a kernel campaign (a DIVERGENCE; 6.18 returns -EINVAL 20/20):
  // copy_splice_read reads an O_DIRECT source into pipe pages (ITER_BVEC).
  // The hole at 1025..2047 zero-fills 1023 bytes of them, and the written
  // block after it would start a bio at byte 1023 of a page:
  // bdev_iter_is_aligned refuses it. A pread(2) of the same range reads 3071.
  const res = replay('ext4-copy-range-odirect-source-unaligned.json');
  assert.equal(res.results[1]!.ret, -22);
});

test('ext4-indirect-misaligned-dio-partly-written: a direct write refused for its alignment past its first mapping has written that mapping', () => {
  // Found by a kernel campaign (the sim flagged itself, every switch off):
  // ext4 checks a direct write's alignment per mapping (iomap_dio_bio_iter),
  // so the bio for the block inside EOF is out before the misaligned tail
  // past EOF is refused: -EINVAL, and byte 5120 holds the write (6.18 alike).
  // The oracle takes such a write's range as unknown on ext4, as for -EIO.
  const res = replay('ext4-indirect-misaligned-dio-partly-written.json');
  assert.deepEqual(completions(res), [[0, 1, -22]]);
  assert.equal(res.files[0]!.data[5120], 4);
});

test('xfs-sync-file-range-reports-wb-error: sync_file_range with a WAIT flag reports the file\'s writeback error once, as fsync does', () => {
  // Found by a kernel campaign (6.18's trace broke fsync:error-lost): the
  // program's own direct and buffered writes collide (dio_warn_stale_pagecache
  // sets -EIO in the mapping's errseq); file_fdatawait_range reports it to
  // fd 0 through file_check_and_advance_wb_err, so the fsync of fd 0 after it
  // returns 0. The sim waited without reporting, and the oracle expected the
  // fsync to say it.
  const res = replay('xfs-sync-file-range-reports-wb-error.json');
  assert.deepEqual([res.results[4]!.ret, res.results[5]!.ret, res.results[7]!.ret], [-5, -5, 0]);
});

test('fuse-truncate-up-keeps-post-eof-store: a growing truncate on fuse writes a store past the old EOF back at the new size', () => {
  // Found by a kernel campaign (a DIVERGENCE; 6.18 reads 0x03 at 67312):
  // fuse_do_setattr does not write back before SETATTR; after the size
  // change, invalidate_inode_pages2 launders the dirty EOF folio
  // (fuse_launder_folio) at the new size, so the store past the old EOF is
  // not zeroed. The sim flushed first, at the old size, and zeroed it.
  const res = replay('fuse-truncate-up-keeps-post-eof-store.json');
  assert.equal(res.files[0]!.data[67312], 3);
});

test('copy-range-page-cache-to-odirect-unaligned: an O_DIRECT destination written from page cache pages that start mid-page is -EINVAL', () => {
  // Found by a kernel campaign (two DIVERGENCEs, xfs and ext4; 6.18 returns
  // -EINVAL): filemap_splice_read lends the pipe the source's page cache
  // pages at the source's offset in its page (2049, 218), and the direct
  // write of iter_file_splice_write finds that memory misaligned for a bio
  // (bdev_iter_is_aligned). The sim wrote from a buffer of its own.
  for (const name of ['xfs-copy-range-page-cache-to-odirect-unaligned.json', 'ext4-copy-range-page-cache-to-odirect-unaligned.json']) {
    assert.equal(replay(name).results[1]!.ret, -22, name);
  }
});

test('copy-range-direct-einval-after-chunks: a copy_file_range into an O_DIRECT file refused for a misaligned mapping may have written the ones before', () => {
  // Met by the signatures benchmark (every switch off): the splice's direct
  // write of its first chunk writes the mappings before the misaligned one
  // and returns -EINVAL, which splice_direct_to_actor returns since nothing
  // moved; on ext4 the oracle takes the destination range as unknown, as for
  // a misaligned direct pwrite (FsSemantics.misalignedDirectWriteMayLand).
  const res = replay('copy-range-direct-einval-after-chunks.json');
  assert.ok(res.results.some((r) => r.ret === -22), 'the copy is refused');
});

test('ext4-misaligned-dio-past-eof-exposed: ext4 zeroes the EOF block past i_size after a failed extending direct write', () => {
  // Met by the signatures benchmark (every switch off); 6.18 reads zeroes
  // where the sim read the failed write's bytes: the second 4096-byte call
  // sends a bio for the rest of the EOF block, then is refused (-EINVAL) for
  // its misaligned tail; ext4_truncate_failed_write frees the blocks past EOF
  // and ext4_block_truncate_page zeroes the EOF block past i_size, so the
  // later growth exposes zeroes.
  const res = replay('ext4-misaligned-dio-past-eof-exposed.json');
  const calls = res.trace!.events.flatMap((e) => (e.e === 'call' && e.i === 0 ? [e.ret] : []));
  assert.deepEqual(calls, [4096, -22]);
  assert.equal(res.files[0]!.data[45568], 0);
});

test('ext4-truncate-zero-folio-under-writeback: zeroing the EOF block on truncate visits a folio under writeback over an unwritten extent', () => {
  // Met by the signatures benchmark (every switch off): t1 truncates a
  // buffered 4 KiB write to 1024 while t0's fsync writes it back (the block
  // is unwritten until the bio completes, the folio under writeback and
  // clean). Zeroing [1024, 4096) over an unwritten mapping takes the folio
  // batch; filemap_get_folios_dirty keeps a folio that is dirty or under
  // writeback, so the tail is zeroed and dirtied, and the later extension by
  // a direct write shows zeroes there after the remount, not the write's 9s.
  const res = replay('ext4-truncate-zero-folio-under-writeback.json');
  assert.equal(runs(res.files[0]!.data.subarray(0, 4096)), '0-1024:9 1024-4096:0');
});

test('ext4-indirect-failed-writeback-past-eof-extended: a failed write of the EOF block leaves its tail past EOF stale on the disk, which a direct write\'s extension exposes', () => {
  // Met by a campaign without scenes (every switch off): a truncate to 14506
  // zeroes the EOF block's tail in the page cache; its writeback fails
  // (fail_bio), so the disk keeps the 1s the block held; an extending direct
  // write at 16384 (ext4 zeroes nothing between the old EOF and it) grows the
  // file over them, and kswapd evicts the clean folio: the final read brings
  // the 1s back. EIO makes what the failed bio carried unknown, past EOF too.
  const res = replay('ext4-indirect-failed-writeback-past-eof-extended.json');
  assert.ok(res.trace!.events.some((e) => e.e === 'ioerr' && e.write), 'a write to the disk failed');
  assert.equal(res.files[0]!.data[14506], 1);
});

test('xfs-aio-extend-store-past-old-eof: an AIO that extends at completion write-protects the old EOF folio (the fix the sim assumes); mainline does not', () => {
  // Met by the signatures benchmark (every switch off): a store at 4096 made
  // the EOF folio's pte writable with blocks reserved up to EOF 6144; an AIO
  // direct write at 8192 grew the size at completion; the next store at 6144
  // went through the old pte into a block page_mkwrite never reserved, and
  // writeback skipped it as a hole. 6.18 flushes the dirty folio over the
  // hole when it zeroes [EOF, 8192) at the submission (20 runs clean here);
  // with zero-range-hole-flush's fix the store is lost unless the completion
  // write-protects the folio, which dio-extend-no-isize-extended turns off.
  const res = replay('xfs-aio-extend-store-past-old-eof.json');
  assert.deepEqual([...res.files[0]!.data.subarray(6144, 6144 + 138)], new Array(138).fill(4));
  const path = join(REGRESS, 'xfs-aio-extend-store-past-old-eof.json');
  const mainline = runProgram(parseRepro(readFileSync(path, 'utf8'), path).program, { bugs: new Set(['dio-extend-no-isize-extended']) });
  assert.equal(mainline.violation?.signature, 'DATA lost-write write <- skipped @ iomap_writeback_range');
});

test('ext4-indirect-power-cut-stale-tail-extended: bytes written past the size a power cut took back may be on the disk, and an extension exposes them', () => {
  // Met by a 5-minute campaign with every switch off: sync_file_range wrote
  // 3s into [9728, 12288) of block 2 without committing the size 12288; after
  // the cut the size is 9728 again, and an extending direct write at 16384
  // (ext4 zeroes nothing before it) makes the 3s file data.
  const res = replay('ext4-indirect-power-cut-stale-tail-extended.json');
  assert.equal(res.files[0]!.data.length, 18432);
  assert.equal(res.files[0]!.data[10240], 3);
});

test('ext4-dio-copy-range-short-chunk-landed: a copy to a direct destination returns 65536 though its refused next chunk wrote a block past that', () => {
  // f1 (O_DIRECT) has block 21 written ([86016, 90112): zeroes and the 7s
  // at 89088); copy_file_range of 108339 bytes of zeroes from f0 moves a
  // 65536-byte pipe-full, then the direct write of [65536, 108339) writes
  // block 21 (already written, so no unwritten conversion hides it) before
  // it refuses the misaligned tail with -EINVAL. The call reports 65536;
  // byte 89088 is 0. Linux 6.18.44 does the same.
  const res = replay('ext4-dio-copy-range-short-chunk-landed.json');
  assert.deepEqual(res.results.map((x) => x.ret), [1024, 1024, 65536]);
  assert.equal(res.files[1]!.name, 'f1');
  assert.equal(runs(res.files[1]!.data), '0-90112:0', 'the 7s at 89088 are overwritten past the count returned');
});

test('ext4-failed-dio-past-eof-power-cut-extended: a failed direct write\'s bytes past EOF stay on the disk across a power cut, and an extension shows them', () => {
  // f1 is 512 bytes (2 KiB blocks, fsynced). A direct write of 3s over
  // [0, 4096) fails (its second bio), after its first bio put 3s in block 0,
  // past EOF too; i_size stays 512. The power cut keeps the size and each
  // unflushed sector of block 0 or not; the AIO write at 8192 grows the file,
  // and ext4 does not zero the old EOF block's tail on disk: its 3s show.
  const res = replay('ext4-failed-dio-past-eof-power-cut-extended.json');
  assert.deepEqual(res.results.map((x) => x.ret), [512, 0, 0, -5, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-512:3 512-1024:0 1024-2048:3 2048-8192:0 8192-9216:3');
});

test('ext4-failed-dio-past-eof-extended-power-cut-garbage: the same bytes, shown by an extension before the cut, are what recovery finds', () => {
  // The failed direct write leaves 3s in block 0 past f1's EOF at 512; the
  // write at 8192 grows f1 over them before f0's fsync commits the new size
  // (one journal for both files); after the cut f1 shows them from 512 on.
  const res = replay('ext4-failed-dio-past-eof-extended-power-cut-garbage.json');
  assert.deepEqual(res.results.map((x) => x.ret), [512, 0, -5, 1024, 0, 0, 0]);
  assert.equal(runs(res.files[1]!.data), '0-2048:3 2048-8192:0 8192-9216:3');
});


test('ext4-truncate-partial-block-under-writeback-remount: a batch folio whose writeback ended before zero range locked it is remapped and zeroed, not skipped as clean', () => {
  // t1 writes 1s over [0, 53248) and fsyncs; t0 truncates to 49270 while
  // the writeback bio of folio [32768, 65536) is in flight. Zero range maps
  // the partial block as unwritten and batches the folio (under writeback);
  // the bio completes before write_begin locks it, converting the extent.
  // The folio is clean by then, but the mapping is stale: write_begin must
  // remap before it skips a clean batch folio, and the remapped (written)
  // block is zeroed past 49270 and written again. Skipping it left the 1s on
  // the disk, where the extension by the AIO write at 65536 showed them after
  // a remount.
  const res = replay('ext4-truncate-partial-block-under-writeback-remount.json');
  assert.deepEqual(res.results.map((x) => x.ret), [53248, 0, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-49270:1 49270-65536:0 65536-67584:1');
});

test('ext4-insert-range-aio-in-flight-power-cut: a direct write in flight at the cut lands in a block an uncommitted insert range moved, and recovery shows it at the old place', () => {
  // f0 holds 4s over [0, 4096), fsynced (1 KiB blocks). An insert range at 0
  // moves those blocks to [4096, 8192), not committed; an AIO direct write of
  // 5s at 4096 overwrites the first of them in place and is in flight at the
  // power cut. Recovery brings back the committed map, where that block is
  // [0, 1024) again: the sector of the write that reached the disk shows 5s
  // there, at an offset nothing wrote after the fsync.
  const res = replay('ext4-insert-range-aio-in-flight-power-cut.json');
  assert.deepEqual(res.results.map((x) => x.ret), [4096, 0, 0, 0, 0]);
  assert.equal(runs(res.files[0]!.data), '0-512:4 512-1024:5 1024-4096:4');
});

test('xfs-aio-extension-under-fault-store: a store whose fault slept while an AIO extended the file lands inside the new EOF, as file data', () => {
  // f0 is 5120 bytes (1 KiB blocks), mapped. An AIO direct write at 16384
  // extends it at completion; t0's store at 7168 (past the old EOF) faults,
  // and while the fault reads the folio the completion sets i_size to 17408,
  // then sleeps on the folio lock (write-protecting the old EOF page). The
  // fault's page_mkwrite sees the new size and reserves the whole page: the
  // store is file data, reported before the AIO's completion is.
  const res = replay('xfs-aio-extension-under-fault-store.json');
  assert.deepEqual(res.results.map((x) => x.ret), [0, 0, 0, 219]);
  const order = res.trace!.events.flatMap((e) => (e.e === 'aio' || (e.e === 'ret' && e.i === 3) ? [e.e] : []));
  assert.deepEqual(order, ['ret', 'aio'], 'the store returns before the completion is reported');
  assert.equal(runs(res.files[0]!.data), '0-7168:0 7168-7387:5 7387-16384:0 16384-17408:5');
});

test('xfs-remap-holds-both-iolocks: a write waits for a clone of the same file to finish (xfs_reflink_remap_prep locks both inodes)', () => {
  // t1 writes [512, 4608), then clones [0, 1024) to 8192 on xfs (1 KiB
  // blocks); t0 writes [8192, 11264). The clone used to flush its ranges
  // unlocked: t0's extending write slipped in while the source was written
  // back, the clone then dropped t0's dirty folio with the destination's
  // cache and wrote its own block there, and a clean unmount left the file
  // 9216 bytes where the cache said 11264. Now t0 runs after the clone.
  const res = replay('xfs-remap-holds-both-iolocks.json');
  const rets = res.trace!.events.flatMap((e) => (e.e === 'ret' ? [`t${e.t}#${e.i}=${e.ret}`] : []));
  assert.deepEqual(rets, ['t1#0=4096', 't1#1=1024', 't0#0=3072']);
  assert.equal(runs(res.files[0]!.data), '0-512:0 512-4608:3 4608-8192:0 8192-11264:3');
});

test('ext4-insert-drops-folio-past-eof: insert range drops the page cache to its end, so a folio a fault left past EOF does not come back inside the file', () => {
  // ext4, 1 KiB blocks. t1 maps [0, 8192) and writes [2048, 6144) by AIO
  // while t0 truncates to 4096; t1's store to [2048, 4692) faults on the
  // second page, which filemap_fault read in while the file was 6144 bytes,
  // then found past the new EOF (SIGBUS, the folio left in the cache). An
  // insert of 1024 at 0 then shifts [2048, 4096) to [3072, 5120): the sim
  // used to flush and drop the cache only up to the old EOF, so the stale
  // folio at 4096 became file data, zeroes where the disk had the store's 1s.
  // ext4_insert_range truncates the page cache from the offset to the end.
  const res = replay('ext4-insert-drops-folio-past-eof.json');
  const rets = res.trace!.events.flatMap((e) => (e.e === 'ret' ? [`t${e.t}#${e.i}=${e.ret}`] : []));
  assert.deepEqual(rets, ['t1#0=0', 't1#1=0', 't0#0=0', 't1#2=-14', 't1#3=0']);
  assert.equal(runs(res.files[0]!.data), '0-3072:0 3072-5120:1');
});

test('ext4-failed-aio-past-eof-extended: the bios of a failed AIO direct write that landed past EOF may show when the file grows over them', () => {
  // ext4, 2 KiB blocks. f0 is 23793 bytes of which [16384, 18432) was
  // punched; an AIO direct write of 2s to [16384, 24576) fails on its first
  // bio (-EIO) while the others land, the EOF block's tail [23793, 24576)
  // among them; the size stays. A direct write at 32768 then grows the file
  // over that tail without zeroing it (ext4's direct write does not), so the
  // 2s show. The oracle forgot only the part inside EOF and wanted zeroes.
  const res = replay('ext4-failed-aio-past-eof-extended.json');
  assert.deepEqual(completions(res), [[0, 5, -5]]);
  assert.equal(runs(res.files[0]!.data), '0-8192:0 8192-16384:2 16384-18432:0 18432-24576:2 24576-32768:0 32768-33280:2');
});

test('ext4-collapse-moves-stale-past-eof: bytes a power cut left past EOF move down with their block in a collapse, and show when the file grows over them', () => {
  // ext4, 4 KiB blocks. f0 is [4096, 4608) of 1s, fsynced; a direct write
  // fills [4096, 8192) with 1s and the power cut takes the size back to
  // 4608 with some of those sectors on the disk past it. A collapse of
  // [0, 4096) moves that block to 0 (size 512); a direct write at 8192 grows
  // the file over [512, 4096) without zeroing it, and a landed sector shows.
  // The oracle kept the stale span at [4608, 8192), where it had been.
  const res = replay('ext4-collapse-moves-stale-past-eof.json');
  assert.equal(runs(res.files[0]!.data), '0-512:1 512-2048:0 2048-2560:1 2560-8192:0 8192-9728:1');
});
