// FUSE buffered writes (fs/fuse/file.c): the WRITE request carries the page
// cache folios, and fsync is serialized with writers by inode_lock.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FuseFs } from '../../../worker/sim/fs/fuse.js';
import { newKernel } from './helpers.js';

function fuseKernel(): { k: ReturnType<typeof newKernel>; fs: FuseFs } {
  const k = newKernel({ fs: 'fuse', blockSize: 4096, folioMax: 4096 });
  return { k, fs: k.fs as FuseFs };
}

test('[fuse] fsync waits for a buffered write in flight (inode_lock)', () => {
  const { k, fs } = fuseKernel();
  const inode = k.createFile('f');
  const file = k.openFile(inode, false);
  let pending: string[] = [];
  // t0 sleeps on its WRITE reply holding inode_lock; t1's fsync must sleep on
  // the lock, not send FSYNC; t2 runs when both sleep and sees the requests.
  k.sched.spawn('t0', (function* () {
    yield* fs.writeIter(file, 0, new Uint8Array(4096).fill(1));
  })());
  k.sched.spawn('t1', (function* () {
    yield* fs.fsync(file, 0, Number.MAX_SAFE_INTEGER, true);
  })());
  k.sched.spawn('t2', (function* () {
    pending = Array.from({ length: k.sched.pendingEvents }, (_, i) => k.sched.eventName(i));
  })());
  assert.equal(k.sched.run().kind, 'done');
  assert.deepEqual(pending, ['fuse_send_write']);
});
