// The minimizer's argument edits reach every field the op schema calls an
// offset, a size or a length, a fill and a bsize, and fail_bio's fault
// arguments; renumbering reaches every fd, file, map and iocb field.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simplifyCandidates } from '../../../worker/fuzz/minimize-args.js';
import { renumber } from '../../../worker/fuzz/minimize-edit.js';
import { isByteKind, opFields } from '../../../worker/prog/ops.js';
import type { Op, Program } from '../../../worker/prog/types.js';
import { SAMPLE_OPS, sampleProgram } from '../prog/sample-ops.js';

const values = (op: Op): Record<string, unknown> => op as unknown as Record<string, unknown>;

/** The fields of the last op that some edit (keeping the op's kind) changes, and how. */
function editedFields(p: Program, faultsOnly: boolean): Map<string, unknown[]> {
  const index = p.threads[0]!.ops.length - 1;
  const before = values(p.threads[0]!.ops[index]!);
  const out = new Map<string, unknown[]>();
  for (const edit of simplifyCandidates(p, { thread: 0, index }, faultsOnly)) {
    const q = edit(p);
    const op = q?.threads[0]!.ops[index];
    if (op === undefined || op.op !== before['op']) continue;
    for (const f of opFields(op.op)) {
      if (values(op)[f.name] !== before[f.name]) out.set(f.name, [...(out.get(f.name) ?? []), values(op)[f.name]]);
    }
  }
  return out;
}

test('every offset, size and length gets smaller candidates; fill becomes the first fill; bsize goes', () => {
  const first: Op = { op: 'pwrite', fd: 0, off: 0, len: 1, fill: 1 };
  for (const sample of SAMPLE_OPS.filter((op) => op.op !== 'fail_bio')) {
    const p = sampleProgram([first, structuredClone(sample)]);
    const edited = editedFields(p, false);
    const expected = opFields(sample.op).filter((f) => isByteKind(f.kind) || f.kind === 'fill' || f.kind === 'bsize').map((f) => f.name);
    assert.deepEqual([...edited.keys()].sort(), expected.sort(), sample.op);
    for (const f of opFields(sample.op)) {
      const got = edited.get(f.name) ?? [];
      const old = values(sample)[f.name] as number;
      if (isByteKind(f.kind)) assert.ok(got.every((v) => typeof v === 'number' && v < old && (v > 0 || f.kind !== 'length')), `${sample.op}.${f.name}: ${got.join(',')}`);
      if (f.kind === 'fill') assert.deepEqual(got, [1]);
      if (f.kind === 'bsize') assert.deepEqual(got, [undefined]);
    }
    assert.equal(editedFields(p, true).size, 0, `${sample.op}: no edits when only faults are simplified`);
  }
});

test('a fault goes to the first I/O and loses short, only when faults are simplified', () => {
  const p = sampleProgram([{ op: 'fail_bio', write: true, skip: 1, short: true }]);
  assert.deepEqual([...editedFields(p, true)], [['skip', [0]], ['short', [undefined]]]);
  assert.equal(editedFields(p, false).size, 0);
});

test('renumber drops unused fds and files and numbers maps from 0, iocbs from 1, wherever they sit', () => {
  const p = sampleProgram([
    { op: 'copy_range', fdIn: 2, offIn: 0, fdOut: 2, offOut: 4096, len: 10 },
    { op: 'evict', file: 1 },
    { op: 'mmap', map: 9, fd: 2, off: 0, len: 4096, prot: 'r' },
    { op: 'mread', map: 9, off: 0, len: 1 },
    { op: 'aio_read', fd: 3, off: 0, len: 512, iocb: 7 },
    { op: 'aio_wait', iocb: 7 },
  ]);
  p.files.push({ name: 'c' });
  p.fds.push({ file: 2, direct: true });
  const q = renumber(p);
  assert.deepEqual(q.files, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  assert.deepEqual(q.fds, [{ file: 0, direct: true }, { file: 2, direct: true }]);
  assert.deepEqual(q.threads[0]!.ops, [
    { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 0, offOut: 4096, len: 10 },
    { op: 'evict', file: 1 },
    { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'r' },
    { op: 'mread', map: 0, off: 0, len: 1 },
    { op: 'aio_read', fd: 1, off: 0, len: 512, iocb: 1 },
    { op: 'aio_wait', iocb: 1 },
  ]);
});
