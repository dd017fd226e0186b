// The minimizer's program edits carry the schedule's decisions along: each
// stays anchored at the op it was taken in, wherever that op moves.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutOps, dropEmptyThreads, dropThread, mergeThreads, moveOp } from '../../../worker/fuzz/minimize-edit.js';
import type { Decision, Op, Program } from '../../../worker/prog/types.js';

const w = (fill: number): Op => ({ op: 'pwrite', fd: 0, off: 0, len: 10, fill });

function threeThreads(decisions: Decision[]): Program {
  return {
    version: 1,
    config: { fs: 'xfs', inode: 'extent', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: false }],
    threads: [{ ops: [w(1), w(2), w(3)] }, { ops: [w(4), w(5)] }, { ops: [w(6)] }],
    schedule: { strategy: 'replay', seed: 0, depth: 0, decisions },
  };
}

const d = (at: string, op: number, run: string): Decision => ({ at, op, step: 2, nth: 0, run });

test('a cut op takes its decisions; later ops of its thread bring theirs down; other threads keep theirs', () => {
  const p = threeThreads([d('t0', 0, 't1'), d('t0', 1, 'flush'), d('t0', 2, 't2'), d('t0', 3, 't1'), d('t1', 1, 'ev:x#0'), d('', 0, 't2')]);
  const q = cutOps(p, [{ thread: 0, index: 1 }]);
  assert.deepEqual(q.schedule!.decisions, [d('t0', 0, 't1'), d('t0', 1, 't2'), d('t0', 2, 't1'), d('t1', 1, 'ev:x#0'), d('', 0, 't2')]);
  assert.deepEqual(p.schedule!.decisions.length, 6, 'the input is left alone');
});

test('a dropped thread takes the decisions taken in it and those that ran it; later threads are renamed', () => {
  const p = threeThreads([d('t0', 0, 't1'), d('t1', 0, 't2'), d('t2', 0, 't0'), d('t0', 1, 't2'), d('kswapd', 1, 't2')]);
  const q = dropThread(p, 1);
  assert.deepEqual(q.schedule!.decisions, [d('t1', 0, 't0'), d('t0', 1, 't1'), d('kswapd', 1, 't1')]);
});

test('a merged thread\'s decisions follow its ops into the other thread', () => {
  const p = threeThreads([d('t2', 0, 't0'), d('t2', 1, 'flush'), d('t0', 3, 'flush'), d('t1', 0, 't2'), d('t0', 1, 't1')]);
  const q = mergeThreads(p, 2, 1);
  // t2's op 0 is t1's op 2 now; its end is t1's end (op 3); t0 is untouched.
  assert.deepEqual(q.threads.map((t) => t.ops.length), [3, 3]);
  assert.deepEqual(q.schedule!.decisions, [d('t1', 2, 't0'), d('t1', 3, 'flush'), d('t0', 3, 'flush'), d('t0', 1, 't1')]);
});

test('an emptied thread dropped renames the threads after it', () => {
  const p = threeThreads([d('t1', 0, 't2'), d('t2', 0, 't0'), d('t2', 1, 't1')]);
  const q = dropEmptyThreads(cutOps(p, [{ thread: 1, index: 0 }, { thread: 1, index: 1 }]));
  assert.equal(q.threads.length, 2);
  assert.deepEqual(q.schedule!.decisions, [d('t1', 0, 't0')]);
});

test('an op moved down its thread takes its decisions; the ops it passed move up with theirs', () => {
  const p = threeThreads([d('t0', 0, 't1'), d('t0', 1, 'flush'), d('t0', 2, 't2'), d('t0', 3, 't1'), d('t1', 0, 't0')]);
  const q = moveOp(p, 0, 0, 2);
  assert.deepEqual(q.threads[0]!.ops.map((op) => (op.op === 'pwrite' ? op.fill : -1)), [2, 3, 1]);
  assert.deepEqual(q.schedule!.decisions, [d('t0', 2, 't1'), d('t0', 0, 'flush'), d('t0', 1, 't2'), d('t0', 3, 't1'), d('t1', 0, 't0')]);
});
