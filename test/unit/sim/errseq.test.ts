// lib/errseq.c semantics.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type Errseq, errseqCheck, errseqCheckAndAdvance, errseqSample, errseqSet } from '../../../worker/sim/errseq.js';

const EIO = -5;
const ENOSPC = -28;

function cursor(e: Errseq): { v: number } {
  return { v: errseqSample(e) };
}

test('errseq: no error, nothing to report', () => {
  const e: Errseq = { v: 0 };
  const c = cursor(e);
  assert.equal(errseqCheck(e, c.v), 0);
  assert.equal(errseqCheckAndAdvance(e, c), 0);
  errseqSet(e, 0);
  assert.equal(e.v, 0, 'errseq_set(0) is a no-op');
});

test('errseq: an error is reported once per cursor', () => {
  const e: Errseq = { v: 0 };
  const a = cursor(e);
  const b = cursor(e);
  errseqSet(e, EIO);
  assert.equal(errseqCheck(e, a.v), EIO, 'errseq_check sees it without advancing');
  assert.equal(errseqCheck(e, a.v), EIO);
  assert.equal(errseqCheckAndAdvance(e, a), EIO);
  assert.equal(errseqCheckAndAdvance(e, a), 0, 'second fsync on the same file: nothing new');
  assert.equal(errseqCheckAndAdvance(e, b), EIO, 'the other opener sees it too');
  assert.equal(errseqCheckAndAdvance(e, b), 0);
});

test('errseq: a never-seen error is reported to an opener that samples after it', () => {
  const e: Errseq = { v: 0 };
  errseqSet(e, EIO);
  const late = cursor(e);
  assert.equal(late.v, 0, 'errseq_sample returns 0 while the error is unseen');
  assert.equal(errseqCheckAndAdvance(e, late), EIO);
});

test('errseq: a new opener after a seen error does not see it', () => {
  const e: Errseq = { v: 0 };
  const a = cursor(e);
  errseqSet(e, EIO);
  assert.equal(errseqCheckAndAdvance(e, a), EIO);
  const c = cursor(e);
  assert.notEqual(c.v, 0);
  assert.equal(errseqCheckAndAdvance(e, c), 0);
  assert.equal(errseqCheck(e, c.v), 0);
});

test('errseq: the counter is bumped only after the error was seen', () => {
  const e: Errseq = { v: 0 };
  const a = cursor(e);
  errseqSet(e, EIO);
  const v1 = e.v;
  errseqSet(e, EIO);
  assert.equal(e.v, v1, 'same unseen error twice: no change');
  errseqSet(e, ENOSPC);
  assert.equal(e.v >>> 13, v1 >>> 13, 'unseen: the counter is not bumped, only the errno replaced');
  assert.equal(errseqCheckAndAdvance(e, a), ENOSPC, 'the latest errno is reported');
  // Now seen: the next error bumps the counter and is reported again, even with the same errno.
  const seen = e.v;
  errseqSet(e, ENOSPC);
  assert.notEqual(e.v, seen);
  assert.equal((e.v >>> 13) - (seen >>> 13), 1, 'counter incremented once');
  assert.equal(e.v & (1 << 12), 0, 'SEEN cleared by a new error');
  assert.equal(errseqCheckAndAdvance(e, a), ENOSPC);
  assert.equal(errseqCheckAndAdvance(e, a), 0);
});

test('errseq: an opener that saw error 1 sees error 2 exactly once; a stale cursor sees only the latest', () => {
  const e: Errseq = { v: 0 };
  const a = cursor(e);
  const b = cursor(e);
  errseqSet(e, EIO);
  assert.equal(errseqCheckAndAdvance(e, a), EIO);
  errseqSet(e, ENOSPC);
  assert.equal(errseqCheckAndAdvance(e, a), ENOSPC);
  assert.equal(errseqCheckAndAdvance(e, b), ENOSPC, 'b missed EIO; it gets the current error once');
  assert.equal(errseqCheckAndAdvance(e, b), 0);
});
