// The argument rules (oracle/rules/arguments.ts): a real run's trace is
// clean; the same trace with one call's result changed to what a kernel
// that misjudged its arguments returns is a violation, except where Linux
// may return it too (overlapping ranges in one file, an O_DIRECT side, a copy
// from EOF).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runProgram } from '../../../worker/exec/run.js';
import { judgeTrace } from '../../../worker/oracle/judge.js';
import type { FsKind, Op, Program } from '../../../worker/prog/types.js';
import type { Trace } from '../../../worker/trace/types.js';

const EINVAL = -22;

function program(fs: FsKind, ops: Op[]): Program {
  return {
    version: 1,
    config: { fs, inode: 'extent', blockSize: 1024, folioMax: 4096 },
    files: [{ name: 'f0' }],
    fds: [{ file: 0, direct: false }, { file: 0, direct: true }],
    threads: [{ ops: [{ op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 7 }, ...ops] }],
  };
}

/** The recorded trace of a clean run of p. */
function traceOf(p: Program): Trace {
  const r = runProgram(p, { record: true });
  assert.equal(r.violation, null, r.violation?.signature);
  assert.equal(r.harnessError, null);
  return r.trace!;
}

/** The trace with op `index` of thread 0 returning `ret` instead. */
function withRet(t: Trace, index: number, ret: number): Trace {
  const events = t.events.map((ev) => (ev.e === 'ret' && ev.t === 0 && ev.i === index ? { ...ev, ret } : ev));
  assert.ok(events.some((ev, k) => ev !== t.events[k]), `op ${index} has a ret event`);
  return { ...t, events };
}

/** The trace with the first system call of op `index` of thread 0 (a pwrite or pread chunk) returning `ret` instead. */
function withCallRet(t: Trace, index: number, ret: number): Trace {
  const k = t.events.findIndex((ev) => ev.e === 'call' && ev.t === 0 && ev.i === index);
  assert.ok(k >= 0, `op ${index} made a call`);
  return { ...t, events: t.events.map((ev, j) => (j === k ? { ...ev, ret } : ev)) };
}

function verdict(t: Trace): string | null {
  return judgeTrace(t).violation?.signature ?? null;
}

for (const fs of ['ext4', 'xfs', 'fuse'] as const) {
  test(`${fs}: sync_file_range and fadvise with valid arguments must not be refused`, () => {
    const t = traceOf(program(fs, [
      { op: 'sync_file_range', fd: 0, off: 0, len: 4096, flags: 7 },
      { op: 'fadvise_dontneed', fd: 0, off: 0, len: 0 },
    ]));
    assert.equal(verdict(t), null);
    assert.equal(verdict(withRet(t, 1, EINVAL)), 'INVARIANT sync_file_range:valid-args-refused @ ksys_sync_file_range');
    assert.equal(verdict(withRet(t, 2, EINVAL)), 'INVARIANT fadvise:valid-args-refused @ generic_fadvise');
  });

  test(`${fs}: copy_file_range refuses only overlapping ranges of one file, or an O_DIRECT side`, () => {
    const t = traceOf(program(fs, [
      { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 0, offOut: 16384, len: 4096 },
      { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 0, offOut: 2048, len: 4096 },
      { op: 'copy_range', fdIn: 0, offIn: 1000, fdOut: 1, offOut: 3, len: 100 },
    ]));
    assert.equal(verdict(t), null);
    assert.equal(verdict(withRet(t, 1, EINVAL)), 'INVARIANT copy_file_range:valid-args-refused @ vfs_copy_file_range');
    // Linux refuses the overlap itself; a misaligned O_DIRECT side may be refused.
    assert.equal(t.events.find((ev) => ev.e === 'ret' && ev.i === 2 && ev.ret === EINVAL) !== undefined, true, 'the overlap is refused');
    assert.equal(verdict(withRet(t, 3, EINVAL)), null);
  });

  test(`${fs}: copy_file_range returns 0 only at the source's EOF`, () => {
    const t = traceOf(program(fs, [
      { op: 'copy_range', fdIn: 0, offIn: 1024, fdOut: 0, offOut: 16384, len: 4096 },
      { op: 'copy_range', fdIn: 0, offIn: 65536, fdOut: 0, offOut: 0, len: 4096 },
    ]));
    assert.equal(verdict(t), null);
    assert.equal(verdict(withRet(t, 1, 0)), 'INVARIANT copy_file_range:nothing-copied-before-eof @ vfs_copy_file_range');
    // Past EOF there is nothing to copy: 0 is the answer.
    assert.ok(t.events.some((ev) => ev.e === 'ret' && ev.i === 2 && ev.ret === 0));
  });
}

for (const fs of ['ext4', 'xfs', 'fuse'] as const) {
  test(`${fs}: pwrite, pread and ftruncate refuse no valid arguments on a buffered file; O_DIRECT may refuse misalignment`, () => {
    const t = traceOf(program(fs, [
      { op: 'pread', fd: 0, off: 0, len: 4096 },
      { op: 'truncate', fd: 0, size: 6000 },
      { op: 'pwrite', fd: 1, off: 100, len: 10, fill: 3 },
    ]));
    assert.equal(verdict(t), null);
    assert.equal(verdict(withCallRet(t, 0, EINVAL)), 'INVARIANT pwrite:valid-args-refused @ ksys_pwrite64');
    assert.equal(verdict(withCallRet(t, 1, EINVAL)), 'INVARIANT pread:valid-args-refused @ ksys_pread64');
    assert.equal(verdict(withRet(t, 2, EINVAL)), 'INVARIANT ftruncate:valid-args-refused @ do_sys_ftruncate');
    // A misaligned O_DIRECT write: ext4 and xfs refuse it (the run above was clean), fuse takes it.
    const direct = t.events.find((ev) => ev.e === 'call' && ev.t === 0 && ev.i === 3);
    assert.ok(direct && direct.e === 'call');
    assert.equal(direct.ret, fs === 'fuse' ? 10 : EINVAL);
  });
}
