// FUSE buffered writes (fs/fuse/file.c): the WRITE request carries the page
// cache folios, and fsync is serialized with writers by inode_lock.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FuseFs } from '../../../worker/sim/fs/fuse.js';
import { filemapLookup } from '../../../worker/sim/mm/filemap.js';
import { newKernel } from './helpers.js';

function fuseKernel(): { k: ReturnType<typeof newKernel>; fs: FuseFs } {
  const k = newKernel({ fs: 'fuse', blockSize: 4096, folioMax: 4096 });
  return { k, fs: k.fs as FuseFs };
}

test('[fuse] the daemon reads a WRITE\'s data from the folios when it takes the request (a store meanwhile goes with it)', () => {
  const { k, fs } = fuseKernel();
  const inode = k.createFile('f');
  const file = k.openFile(inode, false);
  let ret = 0;
  // t0's write copies 0x1 into the folio, unlocks it (uptodate) and sleeps
  // on the reply; t1 then stores 0x2 into the folio, as through a pte; the
  // request is served only when both sleep or are done.
  k.sched.spawn('t0', (function* () {
    ret = yield* fs.writeIter(file, 0, new Uint8Array(4096).fill(1));
  })());
  k.sched.spawn('t1', (function* () {
    const folio = filemapLookup(inode.mapping, 0)!;
    folio.data.fill(2, 100, 110);
  })());
  assert.equal(k.sched.run().kind, 'done');
  assert.equal(ret, 4096);
  const server = new Uint8Array(4096);
  fs.server.read(inode.ino, 0, server);
  assert.deepEqual([server[99], server[100], server[109], server[110]], [1, 2, 2, 1]);
});

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
