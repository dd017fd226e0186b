// Spans of stale bytes past EOF move with the blocks a collapse or an insert shifts.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { shiftSpans } from '../../../worker/oracle/shadow.js';

test('shiftSpans: a collapse drops what it removes and moves what lay past it down; what lay below stays', () => {
  assert.deepEqual(shiftSpans([4608, 8192], 0, -4096), [512, 4096]);
  assert.deepEqual(shiftSpans([1000, 3000], 2048, -1024), [1000, 2048]);
  assert.deepEqual(shiftSpans([1000, 5000], 2048, -1024), [1000, 2048, 2048, 3976]);
  assert.deepEqual(shiftSpans([2048, 3072], 2048, -1024), []);
  assert.deepEqual(shiftSpans([100, 200, 9000, 9100], 4096, -4096), [100, 200, 4904, 5004]);
});

test('shiftSpans: an insert moves what lay at or past the offset up', () => {
  assert.deepEqual(shiftSpans([4608, 8192], 0, 1024), [5632, 9216]);
  assert.deepEqual(shiftSpans([1000, 3000], 2048, 1024), [1000, 2048, 3072, 4024]);
  assert.deepEqual(shiftSpans([], 0, 1024), []);
});
