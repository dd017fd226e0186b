// The ext4 journal rule (jbd2): handles join the running transaction and wait
// while it is locked for commit; kjournald2 commits one transaction at a time;
// in ordered mode a commit waits for its inodes' data I/O before the commit
// block; fsync waits for the commit of the transaction holding the inode's
// metadata; after a power cut what a completed commit held survives and what
// the running transaction held does not.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Ext4Fs } from '../../../worker/sim/fs/ext4.js';
import { Journal, TState } from '../../../worker/sim/fs/jbd2.js';
import type { Kernel } from '../../../worker/sim/kernel.js';
import { type Choice, type Co, type Policy, Sched, WaitQueue } from '../../../worker/sim/sched.js';
import { sysFallocate, sysFsync, sysFtruncate, sysPowerCut, sysPread, sysPwrite, sysSyncFileRange } from '../../../worker/sim/vfs/syscalls.js';
import { assertBytes, drive, newKernel, throwsViolation } from './helpers.js';
import { Violation } from '../../../worker/sim/checks.js';
import { BlockAllocator } from '../../../worker/sim/fs/balloc.js';
import { BlockFs } from '../../../worker/sim/fs/blockfs.js';
import type { Inode } from '../../../worker/sim/include/fs.js';
import { BLOCK_I } from '../../../worker/sim/fs/block-inode.js';

function filled(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

function ext4(k: Kernel): Ext4Fs {
  assert.ok(k.fs instanceof Ext4Fs);
  return k.fs;
}

/** Round robin over the runnable threads at every choice point (completions when none can run). */
const SWITCHING: Policy = {
  pick(sched: Sched, enabled: readonly Choice[]): number {
    const threads = enabled.map((c, i) => ({ c, i })).filter(({ c }) => c.kind === 'thread');
    if (threads.length === 0) return 0;
    const at = threads.findIndex(({ c }) => c.kind === 'thread' && c.thread === sched.current);
    return threads[(at + 1) % threads.length]!.i;
  },
};

/** A journal over a fake owner that records commits and holds the ordered-data wait until released. */
function fakeJournal(s: Sched): { j: Journal<string>; installed: string[][]; release: () => void } {
  const installed: string[][] = [];
  const wq = new WaitQueue('data');
  let released = false;
  const j = new Journal<string>(s, {
    snapshotInode: (inode) => inode.name,
    installCommitted: (snaps) => void installed.push([...snaps]),
    waitInodeData: function* (): Co<void> {
      yield* s.waitUntil(wq, () => released);
    },
  });
  return { j, installed, release: () => { released = true; s.wakeAll(wq); } };
}

test('jbd2: a handle started while the transaction is locked waits and joins the next one', () => {
  const s = new Sched(100_000, SWITCHING);
  const { j, installed, release } = fakeJournal(s);
  const inode = { name: 'a' } as unknown as Inode;
  const events: string[] = [];
  s.spawn('t0', (function* () {
    const h = yield* j.start();
    j.joinInode(h, inode);
    events.push(`t0 in tid ${h.transaction.tid}`);
    j.logStartCommit(h.transaction.tid);
    // Let kjournald2 lock the transaction while this handle is open, and t1 try to start one.
    while (j.running?.state !== TState.Locked) yield* s.preempt();
    for (let i = 0; i < 5; i++) yield* s.preempt();
    assert.equal(j.running?.state, TState.Locked, 'the commit waits for t_updates');
    events.push('t0 stops');
    j.stop(h);
  })());
  s.spawn('t1', (function* () {
    while (j.running?.state !== TState.Locked) yield* s.preempt();
    const h = yield* j.start();
    events.push(`t1 in tid ${h.transaction.tid}`);
    j.stop(h);
    release();
  })());
  const o = s.run();
  assert.equal(o.kind, 'done');
  assert.deepEqual(events, ['t0 in tid 1', 't0 stops', 't1 in tid 2']);
  assert.deepEqual(installed, [['a']]);
  assert.equal(j.commitSequence, 1);
});

test('jbd2: ordered mode, the commit block waits for the data of the transaction\'s inodes', () => {
  const s = new Sched(100_000, SWITCHING);
  const { j, installed, release } = fakeJournal(s);
  const inode = { name: 'a' } as unknown as Inode;
  let committedBeforeRelease = false;
  s.spawn('t0', (function* () {
    const h = yield* j.start();
    j.joinInode(h, inode);
    j.stop(h);
    j.logStartCommit(h.transaction.tid);
    for (let i = 0; i < 10; i++) yield* s.preempt();
    assert.equal(j.committing?.state, TState.Flush, 'flushing ordered data');
    committedBeforeRelease = installed.length > 0;
    release();
    yield* j.logWaitCommit(h.transaction.tid);
  })());
  assert.equal(s.run().kind, 'done');
  assert.equal(committedBeforeRelease, false);
  assert.deepEqual(installed, [['a']]);
});

test('jbd2 (ext4): fsync waits for the commit holding the inode\'s metadata; nothing to commit, no commit', () => {
  const k = newKernel({ fs: 'ext4', blockSize: 1024 });
  const fs = ext4(k);
  const inode = k.createFile('a');
  const f = k.openFile(inode, false);
  drive(k, () => sysPwrite(k, f, 0, filled(8192, 1)));
  assert.equal(drive(k, () => sysFtruncate(k, f, 6000)), 0);
  const tid = fs.journal.tidOf(inode);
  assert.ok(tid > fs.journal.commitSequence, 'the truncate joined the running transaction');
  assert.equal(drive(k, () => sysFsync(k, f, false)), 0);
  assert.ok(fs.journal.commitSequence >= tid, 'fsync returned after that transaction committed');
  const seq = fs.journal.commitSequence;
  assert.equal(drive(k, () => sysFsync(k, f, true)), 0);
  assert.equal(fs.journal.commitSequence, seq, 'metadata unchanged: no new commit');
});

test('jbd2 (ext4): after a power cut, a committed transaction\'s metadata survives even unfsynced; the running one\'s does not', () => {
  for (const inodeKind of ['extent', 'indirect'] as const) {
    const k = newKernel({ fs: 'ext4', inode: inodeKind, blockSize: 1024 });
    const fs = ext4(k);
    const a = k.createFile('a');
    const b = k.createFile('b');
    const fa = k.openFile(a, false);
    const fb = k.openFile(b, false);
    drive(k, () => sysPwrite(k, fa, 0, filled(8192, 1)));
    drive(k, () => sysPwrite(k, fb, 0, filled(8192, 2)));
    assert.equal(drive(k, () => sysFsync(k, fa, false)), 0);
    assert.equal(drive(k, () => sysFsync(k, fb, false)), 0);
    // Both truncates join the running transaction; b's fsync commits it, a's truncate with it.
    assert.equal(drive(k, () => sysFtruncate(k, fa, 3000)), 0);
    assert.equal(drive(k, () => sysFtruncate(k, fb, 5000)), 0);
    assert.equal(drive(k, () => sysFsync(k, fb, false)), 0);
    // This one stays in the running transaction: lost at the cut.
    if (inodeKind === 'extent') assert.equal(drive(k, () => sysFallocate(k, fa, 'alloc', 0, 20000)), 0);
    else assert.equal(drive(k, () => sysFtruncate(k, fa, 20000)), 0);
    assert.equal(a.iSize, 20000);
    assert.ok(fs.journal.tidOf(a) > fs.journal.commitSequence);
    assert.equal(drive(k, () => sysPowerCut(k, 7)), 0);
    assert.equal(a.iSize, 3000, `${inodeKind}: a's committed truncate survived, its uncommitted extension did not`);
    assert.equal(b.iSize, 5000);
    const got = new Uint8Array(8192);
    assert.equal(drive(k, () => sysPread(k, fa, 0, got)), 3000);
    assertBytes(got, 0, 3000, 1, 'a');
  }
});

test('jbd2 (ext4): a freed data block is not reallocated until the transaction that freed it commits', () => {
  // ext4_mb_clear_bb (data=ordered) queues freed blocks on the transaction
  // (ext4_mb_free_metadata); ext4_process_freed_data frees them at its commit.
  for (const inodeKind of ['extent', 'indirect'] as const) {
    const k = newKernel({ fs: 'ext4', inode: inodeKind, blockSize: 1024 });
    const a = k.createFile('a');
    const fa = k.openFile(a, false);
    const pblkOf = (lblk: number): number => {
      const { ext } = BLOCK_I(a).extents.lookup(lblk);
      assert.ok(ext && ext.pblk >= 0, `block ${lblk} is allocated`);
      return ext.pblk + (lblk - ext.lblk);
    };
    drive(k, () => sysPwrite(k, fa, 0, filled(1024, 1)));
    assert.equal(drive(k, () => sysFsync(k, fa, false)), 0);
    const old = pblkOf(0);
    // The truncate frees the block in the running transaction; the committed map still holds it.
    assert.equal(drive(k, () => sysFtruncate(k, fa, 0)), 0);
    drive(k, () => sysPwrite(k, fa, 0, filled(1024, 2)));
    assert.equal(drive(k, () => sysSyncFileRange(k, fa, 0, 0, 2 | 4)), 0);
    assert.notEqual(pblkOf(0), old, `${inodeKind}: writeback did not reuse the block the uncommitted truncate freed`);
    // Once the truncate commits, the block is free again.
    assert.equal(drive(k, () => sysFsync(k, fa, false)), 0);
    drive(k, () => sysPwrite(k, fa, 1024, filled(1024, 3)));
    assert.equal(drive(k, () => sysFsync(k, fa, false)), 0);
    assert.equal(pblkOf(1), old, `${inodeKind}: after the commit the freed block is allocated again`);
  }
});

test('jbd2: J_ASSERT where the kernel has one: a handle stopped twice', () => {
  const s = new Sched(100_000);
  const { j } = fakeJournal(s);
  s.spawn('t0', (function* () {
    const h = yield* j.start();
    j.stop(h);
    j.stop(h);
  })());
  throwsViolation(() => s.run(), 'J_ASSERT:journal_current_handle() == handle');
});

test('block allocator: a free of free blocks is the filesystem\'s corruption report (xfs_free_ag_extent, mb_free_blocks)', () => {
  for (const [fs, site] of [['xfs', 'xfs_free_ag_extent'], ['ext4', 'mb_free_blocks']] as const) {
    const k = newKernel({ fs });
    assert.ok(k.fs instanceof BlockFs);
    const alloc = k.fs.alloc;
    const got = alloc.alloc(4)!;
    alloc.release(got.start, 2);
    assert.throws(() => alloc.release(got.start + 1, 2), (e: unknown) => e instanceof Violation && e.invariant === 'free-extent:already-free' && e.site === site);
    // Blocks next to a free run, not in it, free as usual.
    alloc.release(got.start + 2, 2);
    assert.throws(() => alloc.release(got.start + 3, 1), (e: unknown) => e instanceof Violation && e.invariant === 'free-extent:already-free');
  }
  // Without a filesystem the allocator's own report is a plain Error.
  const bare = new BlockAllocator(0, 64);
  assert.throws(() => bare.release(10, 1), /freed twice/);
});
