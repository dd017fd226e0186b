// The trace codec (worker/trace/codec.ts) and the assembly of the executor's
// output into traces (worker/twin/assemble.ts): round trips, and untrusted
// input refused with the path of the bad field.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Program } from '../../worker/prog/types.js';
import { checkSignature } from '../../worker/report/signature.js';
import { TraceInputError, base64ToBytes, bytesToBase64, decodeTrace, encodeTrace, traceToJson } from '../../worker/trace/codec.js';
import { TRACE_FORMAT, type Trace, type TraceEvent } from '../../worker/trace/types.js';
import { parseExecutorOutput, tracesFromOutput } from '../../worker/twin/assemble.js';
import { bytes, program } from './helpers.js';

const PROGRAM: Program = program({ fs: 'xfs', inode: 'extent', blockSize: 4096 }, 2, [{ file: 0, direct: false }, { file: 1, direct: true }], [
  [{ op: 'pwrite', fd: 0, off: 0, len: 100, fill: 1 }, { op: 'pread', fd: 0, off: 0, len: 10, bsize: 5 }],
  [{ op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' }, { op: 'mread', map: 0, off: 0, len: 3 },
    { op: 'aio_write', fd: 1, off: 0, len: 4096, fill: 2, iocb: 9 }, { op: 'aio_read', fd: 1, off: 0, len: 4096, iocb: 10 }],
]);

/** One event of every kind. */
const EVENTS: TraceEvent[] = [
  { e: 'op', t: 0, i: 0 },
  { e: 'call', t: 0, i: 0, off: 0, len: 100, ret: 100 },
  { e: 'ret', t: 0, i: 0, ret: 100, sizes: [100, 0] },
  { e: 'op', t: 0, i: 1 },
  { e: 'call', t: 0, i: 1, off: 0, len: 5, ret: 5, data: bytes([5, 1]) },
  { e: 'call', t: 0, i: 1, off: 5, len: 5, ret: -5, data: new Uint8Array(0) },
  { e: 'ret', t: 0, i: 1, ret: 5 },
  { e: 'ret', t: 1, i: 1, ret: 3, data: bytes([3, 1]), unsettled: [[0, 3]] },
  { e: 'ret', t: 1, i: 0, ret: -14, stored: 4096 },
  { e: 'aio', t: 1, i: 2, ret: 4096 },
  { e: 'aio', t: 1, i: 3, ret: 2, data: bytes([2, 7]) },
  { e: 'ioerr', file: 1, pos: 0, len: 4096, write: true, writeback: false },
  { e: 'wberr', file: 0 },
  { e: 'stale', file: 1 },
  { e: 'stale', file: 1, pos: 4096, len: 512 },
  { e: 'fallback', file: 1, pos: 0, len: 4096 },
  { e: 'posteof', file: 0, ranges: [[100, 4096]] },
  { e: 'recovered', file: 0, data: bytes([100, 1]) },
  { e: 'final', file: 0, via: 'cache', data: bytes([100, 1]) },
  { e: 'final', file: 1, via: 'remount', data: new Uint8Array(0) },
  { e: 'klog', level: 4, text: 'WARNING: CPU: 1 PID: 7 at fs/iomap/buffered-io.c:1 "quoted" \\ back' },
];

function kernelTrace(events: TraceEvent[] = EVENTS): Trace {
  return {
    format: TRACE_FORMAT,
    source: { kind: 'kernel', release: '6.18.44', fsType: 'fuse.ffz-fused', blockSize: 4096, run: 3 },
    program: PROGRAM,
    events,
    end: { outcome: 'done' },
  };
}

test('base64: bytes round-trip, and only the canonical spelling is accepted', () => {
  for (const n of [0, 1, 2, 3, 4, 255, 1000]) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37) & 255);
    assert.deepEqual(base64ToBytes(bytesToBase64(b)), b);
  }
  assert.equal(bytesToBase64(Uint8Array.of(0xfb, 0xff)), '+/8=');
  assert.deepEqual(base64ToBytes('+/8='), Uint8Array.of(0xfb, 0xff));
  for (const bad of ['A', 'AB', 'ABC', 'AB=', 'AB==x', '-_8=', 'QR==', 'QUI ', ' QUI=', 'QU\nI=', 'QUI=QUI=', '====']) {
    assert.equal(base64ToBytes(bad), null, bad);
  }
});

test('a trace round-trips through JSON, every event kind and every end', () => {
  const violation = {
    signature: checkSignature('WARN', 'ifs_free:uptodate-mismatch', 'ifs_free'), invariant: 'ifs_free:uptodate-mismatch',
    kind: 'WARN' as const, message: 'm', stacks: [{ thread: 't0', frames: ['ifs_free'] }], traceTail: ['t0 #1 pread = 5'], step: 17,
  };
  const ends: Trace['end'][] = [{ outcome: 'done' }, { outcome: 'timeout' }, { outcome: 'error', error: 'boom' }, { outcome: 'violation', violation }];
  for (const end of ends) {
    const trace = { ...kernelTrace(), end };
    assert.deepEqual(decodeTrace(encodeTrace(trace), 't'), trace);
  }
  const sim: Trace = { ...kernelTrace(), source: { kind: 'sim', simVersion: 'foliofuzz-sim/5', bugs: ['fuse-clear-uptodate-ifs'] } };
  assert.deepEqual(decodeTrace(encodeTrace(sim), 't'), sim);
  // Bytes travel as base64.
  const json = traceToJson(kernelTrace()) as { events: Record<string, unknown>[] };
  assert.equal(json.events[4]!['data'], 'AQEBAQE=');
});

const DELETE = Symbol('delete');

/** Decoding a good trace's JSON with the value at `path` replaced (or deleted) fails with `message`. */
function refuses(path: (string | number)[], value: unknown, message: string): void {
  const json: unknown = JSON.parse(encodeTrace(kernelTrace()));
  let at = json as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === DELETE) delete at[last];
  else at[last] = value;
  assert.throws(() => decodeTrace(JSON.stringify(json), 'f.json'), (e: Error) => {
    assert.ok(e instanceof TraceInputError, `${e.name}: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

test('untrusted traces are refused with the path of the first bad field', () => {
  assert.throws(() => decodeTrace('{', 'f.json'), /^TraceInputError: f\.json: invalid JSON/);
  const violation = (signature: string): unknown => ({ signature, invariant: 'a', kind: 'BUG', message: '', stacks: [], traceTail: [], step: 0 });
  const cases: [(string | number)[], unknown, string][] = [
    [['format'], 'foliofuzz-trace/0', '$.format: must be foliofuzz-trace/1, got "foliofuzz-trace/0"'],
    [['extra'], 1, '$.extra: unknown field'],
    [['end'], DELETE, '$.end: missing field'],
    [['source', 'kind'], 'vm', '$.source.kind: must be one of sim|kernel, got "vm"'],
    [['source', 'blockSize'], 0, '$.source.blockSize: must be a positive block size, got 0'],
    [['source', 'fsType'], 'ext4 x', '$.source.fsType: must be a filesystem type name, got "ext4 x"'],
    [['program', 'threads', 0, 'ops', 0, 'len'], -1, '$.program: $.threads[0].ops[0].len: must be a non-negative integer below 2^40, got -1'],
    [['events'], {}, '$.events: expected an array, got {}'],
    [['events', 0], 7, '$.events[0]: expected an object, got 7'],
    [['events', 0, 'e'], 'exit', '$.events[0].e: must be one of op|call|ret|aio|ioerr|wberr|stale|fallback|posteof|recovered|final|klog, got "exit"'],
    [['events', 0, 'x'], 1, '$.events[0].x: unknown field'],
    [['events', 1, 'ret'], DELETE, '$.events[1].ret: missing field'],
    [['events', 0, 't'], 2, '$.events[0].t: must be a thread index below 2, got 2'],
    [['events', 0, 'i'], 2, '$.events[0].i: must be an op index of thread 0 (below 2), got 2'],
    [['events', 1, 'ret'], -5000, '$.events[1].ret: must be a byte count, 0, or -errno, got -5000'],
    [['events', 4, 'data'], 'AQEBAQ==', '$.events[4].data: holds 4 bytes, but ret says 5'],
    [['events', 4, 'data'], 'AQEB AQE=', '$.events[4].data: must be base64 bytes, got "AQEB AQE="'],
    [['events', 2, 'sizes'], [1], '$.events[2].sizes: must hold one size per file (2), got 1'],
    [['events', 7, 'unsettled'], [[5, 3]], '$.events[7].unsettled[0][1]: must be an end offset from 5 to 2^40, got 3'],
    [['events', 7, 'unsettled'], [[5]], '$.events[7].unsettled[0]: must be a [start, end) pair, got [5]'],
    [['events', 9, 'i'], 1, '$.events[9].i: names a mread op, not an aio_write or aio_read'],
    [['events', 9, 'data'], 'AAA=', '$.events[9].data: holds 2 bytes, but ret says 4096'],
    [['events', 11, 'write'], 1, '$.events[11].write: must be a boolean, got 1'],
    [['events', 12, 'file'], 2, '$.events[12].file: must be a file index below 2, got 2'],
    [['events', 18, 'via'], 'disk', '$.events[18].via: must be one of cache|drop_caches|remount, got "disk"'],
    [['events', 20, 'level'], 8, '$.events[20].level: must be a log level 0..7, got 8'],
    [['end'], { outcome: 'error' }, '$.end.error: missing field'],
    [['end'], { outcome: 'done', error: 'x' }, '$.end.error: unknown field'],
    [['end'], { outcome: 'violation', violation: violation('WARN a @ f') }, '$.end.violation.kind: is BUG, but the signature says WARN'],
    [['end'], { outcome: 'violation', violation: violation('nonsense') }, '$.end.violation.signature: is not a signature: "nonsense"'],
  ];
  for (const [path, value, message] of cases) refuses(path, value, `f.json: ${message}`);
});

const HEADER = '{"exec":"foliofuzz-exec/1","release":"6.18.44","fsType":"ext4","blockSize":1024,"extents":false}';

test("the executor's output becomes one trace per run; a run cut off ends as the caller says", () => {
  const out = [
    HEADER,
    '{"run":0}',
    '{"s":0,"e":"op","t":0,"i":0}',
    '{"s":1,"e":"call","t":0,"i":0,"off":0,"len":100,"ret":100}',
    '{"s":2,"e":"ret","t":0,"i":0,"ret":100,"sizes":[100,0]}',
    '{"s":5,"e":"final","file":0,"via":"cache","data":"AQ=="}',
    '{"end":"done"}',
    '{"run":1}',
    '{"s":0,"e":"op","t":1,"i":0}',
    '{"end":"error","error":"remount: umount: busy"}',
    '{"run":2}',
    '{"s":0,"e":"op","t":0,"i":0}',
    '{"s":1,"e":"ca', // cut off mid-line by a kill
  ].join('\n');
  const parsed = parseExecutorOutput(out, PROGRAM, 'out');
  assert.deepEqual(parsed.header, { release: '6.18.44', fsType: 'ext4', blockSize: 1024, extents: false });
  const traces = tracesFromOutput(parsed, PROGRAM, { outcome: 'timeout' });
  assert.equal(traces.length, 3);
  assert.deepEqual(traces[0]!.source, { kind: 'kernel', release: '6.18.44', fsType: 'ext4', blockSize: 1024, run: 0 });
  assert.deepEqual(traces[0]!.events.map((e) => e.e), ['op', 'call', 'ret', 'final']);
  assert.deepEqual(traces[0]!.events[3], { e: 'final', file: 0, via: 'cache', data: Uint8Array.of(1) });
  assert.deepEqual(traces[0]!.end, { outcome: 'done' });
  assert.deepEqual(traces[1]!.end, { outcome: 'error', error: 'remount: umount: busy' });
  assert.deepEqual(traces[2]!.events, [{ e: 'op', t: 0, i: 0 }]);
  assert.deepEqual(traces[2]!.end, { outcome: 'timeout' });
  // Assembled traces are traces: they round-trip.
  for (const t of traces) assert.deepEqual(decodeTrace(encodeTrace(t), 't'), t);
});

test("malformed executor output is refused with its line", () => {
  const cases: [string[], RegExp][] = [
    [['{"exec":"foliofuzz-exec/2"}'], /^out: line 1: expected the header/],
    [[HEADER, 'nope'], /^out: line 2: invalid JSON/],
    [[HEADER, '[1]'], /^out: line 2: expected a JSON object/],
    [[HEADER, '{"s":0,"e":"op","t":0,"i":0}'], /^out: line 2: an event or end line outside a run/],
    [[HEADER, '{"run":1}'], /^out: line 2: expected \{"run":0\}/],
    [[HEADER, '{"run":0}', '{"run":1}'], /^out: line 3: run 1 starts before run 0 ended/],
    [[HEADER, '{"run":0}', '{"s":3,"e":"op","t":0,"i":0}', '{"s":3,"e":"op","t":1,"i":0}'], /^out: line 4: sequence number must rise past 3, got 3/],
    [[HEADER, '{"run":0}', '{"e":"op","t":0,"i":0}'], /^out: line 3: sequence number must rise past -1, got undefined/],
    [[HEADER, '{"run":0}', '{"s":0,"e":"op","t":5,"i":0}'], /^out: line 3: \$\.t: must be a thread index below 2, got 5/],
    [[HEADER, '{"run":0}', '{"end":"maybe"}'], /^out: line 3: expected \{"end":"done"\}/],
    [[HEADER, '{"run":0}', '{"end":"done"}', '{"s":9,"e":"op","t":0,"i":0}'], /^out: line 4: an event or end line outside a run/],
  ];
  for (const [lines, message] of cases) {
    assert.throws(() => parseExecutorOutput(`${lines.join('\n')}\n`, PROGRAM, 'out'),
      (e: Error) => e instanceof TraceInputError && message.test(e.message), lines.join(' | '));
  }
});
