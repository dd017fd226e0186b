// A real kernel's trace lacks what only the sim sees, and reports some
// things later than they happened; the oracle judges it no more strictly
// than the sim's own run, and no less where the trace is exact. Each case
// here is one a kernel campaign met on Linux 6.18.44.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeTrace } from '../../../worker/oracle/judge.js';
import type { FdDecl, Op, Program } from '../../../worker/prog/types.js';
import type { Trace, TraceEvent } from '../../../worker/trace/types.js';

function program(fds: FdDecl[], ops: Op[][]): Program {
  return {
    version: 1, config: { fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 4096 }, files: [{ name: 'f0' }], fds,
    threads: ops.map((o) => ({ ops: o })),
  };
}

function trace(p: Program, events: TraceEvent[], kind: 'kernel' | 'sim'): Trace {
  const source = kind === 'kernel'
    ? { kind, release: '6.18.44', fsType: 'xfs', blockSize: 1024, run: 0 } as const
    : { kind, simVersion: 'test', bugs: [] };
  return { format: 'foliofuzz-trace/1', source, program: p, events, end: { outcome: 'done' } };
}

/** Each op of thread t in turn: its `op` and `ret` events with the given results. */
function seq(t: number, rets: number[], extra: (i: number) => Partial<Extract<TraceEvent, { e: 'ret' }>> = () => ({})): TraceEvent[] {
  return rets.flatMap((ret, i): TraceEvent[] => [{ e: 'op', t, i }, { e: 'ret', t, i, ret, ...extra(i) }]);
}

test('an fsync -EIO after the program collided its own direct and buffered writes: a kernel records it silently when its log line is rate-limited', () => {
  const p = program([{ file: 0, direct: false }, { file: 0, direct: true }], [[
    { op: 'aio_write', fd: 1, off: 0, len: 4096, fill: 1, iocb: 1 },
    { op: 'pwrite', fd: 0, off: 2048, len: 4096, fill: 2 },
    { op: 'aio_wait', iocb: 1 },
    { op: 'fsync', fd: 0 },
  ]]);
  const events: TraceEvent[] = [
    { e: 'op', t: 0, i: 0 }, { e: 'ret', t: 0, i: 0, ret: 0 },
    { e: 'op', t: 0, i: 1 }, { e: 'call', t: 0, i: 1, off: 2048, len: 4096, ret: 4096 }, { e: 'ret', t: 0, i: 1, ret: 4096 },
    { e: 'op', t: 0, i: 2 }, { e: 'aio', t: 0, i: 0, ret: 4096 }, { e: 'ret', t: 0, i: 2, ret: 4096 },
    { e: 'op', t: 0, i: 3 }, { e: 'ret', t: 0, i: 3, ret: -5 },
  ];
  assert.equal(judgeTrace(trace(p, events, 'kernel')).violation, null);
  // The sim always reports the collision (a `stale` event): without one, its -EIO has no cause.
  assert.equal(judgeTrace(trace(p, events, 'sim')).violation?.signature, 'INVARIANT fsync:spurious-error @ file_check_and_advance_wb_err');
  // Nor may a kernel's fsync fail on a file the program never wrote directly.
  const buffered = program([{ file: 0, direct: false }], [[{ op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 1 }, { op: 'fsync', fd: 0 }]]);
  const bad: TraceEvent[] = [
    { e: 'op', t: 0, i: 0 }, { e: 'call', t: 0, i: 0, off: 0, len: 4096, ret: 4096 }, { e: 'ret', t: 0, i: 0, ret: 4096 },
    { e: 'op', t: 0, i: 1 }, { e: 'ret', t: 0, i: 1, ret: -5 },
  ];
  assert.equal(judgeTrace(trace(buffered, bad, 'kernel')).violation?.signature, 'INVARIANT fsync:spurious-error @ file_check_and_advance_wb_err');
});

test('an extending AIO write reported after a truncate it may have come before: the size the kernel observed is taken', () => {
  const p = program([{ file: 0, direct: false }, { file: 0, direct: true }], [[
    { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 1 },
    { op: 'aio_write', fd: 1, off: 8192, len: 4096, fill: 2, iocb: 1 },
    { op: 'truncate', fd: 0, size: 4096 },
    { op: 'aio_wait', iocb: 1 },
  ]]);
  // The AIO landed before the truncate; the trace only learns of it at the wait.
  const events: TraceEvent[] = [
    ...seq(0, [8192, 0, 0], (i) => ({ sizes: [[8192, 8192, 4096][i]!] })).flatMap((e) =>
      e.e === 'op' && e.i === 0 ? [e, { e: 'call' as const, t: 0, i: 0, off: 0, len: 8192, ret: 8192 }] : [e]),
    { e: 'op', t: 0, i: 3 }, { e: 'aio', t: 0, i: 1, ret: 4096 }, { e: 'ret', t: 0, i: 3, ret: 4096, sizes: [4096] },
    { e: 'final', file: 0, via: 'cache', data: new Uint8Array(4096).fill(1) },
    { e: 'final', file: 0, via: 'drop_caches', data: new Uint8Array(4096).fill(1) },
  ];
  assert.equal(judgeTrace(trace(p, events, 'kernel')).violation, null);
  // A size the kernel reports that no order of the two explains is still wrong.
  const wrong = events.map((e) => (e.e === 'final' ? { ...e, data: new Uint8Array(2048).fill(1) } : e));
  wrong[wrong.length - 3] = { e: 'ret', t: 0, i: 3, ret: 4096, sizes: [4096] };
  assert.equal(judgeTrace(trace(p, wrong, 'kernel')).violation?.signature, 'DATA final:size @ filemap_read');
});
