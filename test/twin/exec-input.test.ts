// The executor's input: the line format written from a Program, every op
// accepted by the C parser, malformed input refused with its line and what is
// wrong, and programs the executor cannot run refused by name.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Op, OpName } from '../../worker/prog/types.js';
import { OP_NAMES } from '../../worker/prog/ops.js';
import { programToExecInput } from '../../worker/twin/exec-input.js';
import {
  ExecutorError,
  ExecutorMissingError,
  ExecutorRefusedError,
  checkRunnable,
  findExecutor,
  runOnKernel,
} from '../../worker/twin/executor.js';
import { program } from './helpers.js';

const SPEC = { fs: 'ext4', inode: 'extent', blockSize: 4096 } as const;
const MOUNT = { device: '/dev/loop-none', fsType: 'ext4', options: '' };

/** One op of every kind, valid in a program of two files and fds 0 (buffered) and 1 (direct). */
const EVERY_OP: { [K in OpName]: Extract<Op, { op: K }> } = {
  pwrite: { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 171, bsize: 4096 },
  pread: { op: 'pread', fd: 0, off: 0, len: 100 },
  truncate: { op: 'truncate', fd: 0, size: 5000 },
  fallocate: { op: 'fallocate', fd: 0, mode: 'zero_keep', off: 0, len: 4096 },
  copy_range: { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 1, offOut: 4096, len: 10 },
  fsync: { op: 'fsync', fd: 0 },
  fdatasync: { op: 'fdatasync', fd: 1 },
  sync_file_range: { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 7 },
  fadvise_dontneed: { op: 'fadvise_dontneed', fd: 0, off: 0, len: 0 },
  drop_caches: { op: 'drop_caches' },
  evict: { op: 'evict', file: 1 },
  remount: { op: 'remount' },
  power_cut: { op: 'power_cut', seed: 4294967295 },
  close_open: { op: 'close_open', fd: 1 },
  mmap: { op: 'mmap', map: 4000000000, fd: 0, off: 0, len: 4096, prot: 'rw' },
  mread: { op: 'mread', map: 4000000000, off: 0, len: 10 },
  mwrite: { op: 'mwrite', map: 4000000000, off: 0, len: 10, fill: 0 },
  msync: { op: 'msync', map: 4000000000, off: 0, len: 10, sync: true },
  munmap: { op: 'munmap', map: 4000000000 },
  aio_write: { op: 'aio_write', fd: 1, off: 0, len: 4096, fill: 1, iocb: 7 },
  aio_read: { op: 'aio_read', fd: 1, off: 0, len: 4096, iocb: 8 },
  aio_wait: { op: 'aio_wait', iocb: 7 },
  writeback_kick: { op: 'writeback_kick' },
  reclaim: { op: 'reclaim' },
  fail_bio: { op: 'fail_bio', write: true, skip: 3, short: true },
};

const FDS = [{ file: 0, direct: false }, { file: 1, direct: true }];

test('a program becomes the executor input line format', () => {
  const ops: Op[] = [EVERY_OP.pwrite, EVERY_OP.fallocate, EVERY_OP.copy_range, EVERY_OP.mmap, EVERY_OP.msync, EVERY_OP.fail_bio, EVERY_OP.drop_caches];
  const p = program(SPEC, 2, FDS, [ops, [EVERY_OP.pread]]);
  assert.equal(programToExecInput(p), [
    'foliofuzz-exec-input 1',
    'files 2',
    'fd file=0 direct=0',
    'fd file=1 direct=1',
    'thread',
    'pwrite fd=0 off=0 len=8192 fill=171 bsize=4096',
    'fallocate fd=0 mode=zero_keep off=0 len=4096',
    'copy_range fdIn=0 offIn=0 fdOut=1 offOut=4096 len=10',
    'mmap map=4000000000 fd=0 off=0 len=4096 prot=rw',
    'msync map=4000000000 off=0 len=10 sync=1',
    'fail_bio write=1 skip=3 short=1',
    'drop_caches',
    'thread',
    'pread fd=0 off=0 len=100',
    'end',
    '',
  ].join('\n'));
});

test('the executor reads every op the language has; fault injection and a remount without the mount are refused by name', () => {
  assert.deepEqual(Object.keys(EVERY_OP).sort(), [...OP_NAMES].sort(), 'EVERY_OP covers the language');
  const runnable = OP_NAMES.filter((n) => n !== 'fail_bio' && n !== 'power_cut').map((n) => EVERY_OP[n]);
  checkRunnable(program(SPEC, 2, FDS, [runnable]), MOUNT);
  for (const name of ['fail_bio', 'power_cut'] as const) {
    const p = program(SPEC, 2, FDS, [[EVERY_OP.pwrite, EVERY_OP[name]]]);
    assert.throws(() => checkRunnable(p, MOUNT), (e: Error) => e instanceof ExecutorRefusedError &&
      /^needs fault injection: thread 0 op 1 is .*device-mapper/.test(e.message) && e.message.includes(name));
  }
  assert.throws(() => checkRunnable(program(SPEC, 1, [], [[], [EVERY_OP.remount]])),
    (e: Error) => e instanceof ExecutorRefusedError && /^needs its own mount: thread 1 op 0 is remount/.test(e.message));
});

test('a run of a program with fail_bio is refused before it touches the directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ffzt-refuse-'));
  try {
    const p = program(SPEC, 1, [{ file: 0, direct: false }], [[{ op: 'fail_bio', write: false, skip: 0 }]]);
    await assert.rejects(runOnKernel(p, { dir }), (e: Error) => e instanceof ExecutorRefusedError && e.message.startsWith('needs fault injection'));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const HEAD = 'foliofuzz-exec-input 1\nfiles 2\nfd file=0 direct=0\nthread\n';

/** Malformed inputs and the message each must get. */
const MALFORMED: [string, string, RegExp][] = [
  ['empty', '', /input line 0: empty input/],
  ['wrong magic', 'foliofuzz-exec-input 2\n', /input line 1: expected 'foliofuzz-exec-input 1'/],
  ['no files line', 'foliofuzz-exec-input 1\nfd file=0 direct=0\n', /input line 2: expected 'files N'/],
  ['too many files', 'foliofuzz-exec-input 1\nfiles 5000\n', /input line 2: expected 'files N' with N at most 1024/],
  ['fd of a missing file', 'foliofuzz-exec-input 1\nfiles 1\nfd file=1 direct=0\n', /input line 3: fd: file must be below 1/],
  ['fd after a thread', `${HEAD}fd file=0 direct=0\nend\n`, /input line 5: fd lines must come before the first thread/],
  ['op before a thread', 'foliofuzz-exec-input 1\nfiles 1\nfsync fd=0\n', /input line 3: op before the first 'thread' line/],
  ['unknown op', `${HEAD}pwritev fd=0\nend\n`, /input line 5: unknown op 'pwritev'/],
  ['missing field', `${HEAD}pwrite fd=0 off=0 len=1\nend\n`, /input line 5: pwrite: missing field 'fill'/],
  ['unknown field', `${HEAD}fsync fd=0 sync=1\nend\n`, /input line 5: fsync: unknown field 'sync'/],
  ['field twice', `${HEAD}fsync fd=0 fd=0\nend\n`, /input line 5: fsync: field 'fd' given twice/],
  ['fd out of range', `${HEAD}fsync fd=1\nend\n`, /input line 5: fsync: fd must be an fd index below 1, got '1'/],
  ['negative', `${HEAD}truncate fd=0 size=-1\nend\n`, /input line 5: truncate: size must be a byte count below 2\^40, got '-1'/],
  ['too big', `${HEAD}truncate fd=0 size=1099511627776\nend\n`, /size must be a byte count below 2\^40/],
  ['not a number', `${HEAD}pwrite fd=0 off=0x10 len=1 fill=1\nend\n`, /pwrite: off must be a byte count below 2\^40, got '0x10'/],
  ['bad fill', `${HEAD}pwrite fd=0 off=0 len=1 fill=256\nend\n`, /fill must be a byte value 0..255/],
  ['bad mode', `${HEAD}fallocate fd=0 mode=shrink off=0 len=1\nend\n`, /fallocate: mode must be a fallocate mode .* got 'shrink'/],
  ['bad prot', `${HEAD}mmap map=0 fd=0 off=0 len=1 prot=x\nend\n`, /mmap: prot must be r, w or rw, got 'x'/],
  ['bad bool', `${HEAD}msync map=0 off=0 len=1 sync=yes\nend\n`, /msync: sync must be 0 or 1, got 'yes'/],
  ['zero bsize', `${HEAD}pread fd=0 off=0 len=1 bsize=0\nend\n`, /bsize must be a positive byte count/],
  ['huge buffer', `${HEAD}pread fd=0 off=0 len=2147483648\nend\n`, /pread: a syscall of 2147483648 bytes is more than the executor buffers/],
  ['not key=value', `${HEAD}fsync 0\nend\n`, /fsync: expected key=value, got '0'/],
  ['empty line', `${HEAD}\nend\n`, /input line 5: empty line/],
  ['control byte', `${HEAD}fsync\tfd=0\nend\n`, /input line 5: unexpected byte 0x09 at column 6/],
  ['binary', `${HEAD}\u0000\u00ff\nend\n`, /input line 5: unexpected byte 0x00/],
  ['overlong line', `${HEAD}fsync ${'x'.repeat(5000)}\nend\n`, /input line 5: line longer than 4095 bytes/],
  ['truncated', `${HEAD}fsync fd=0\n`, /input line 5: input ends without 'end' \(truncated\?\)/],
  ['after end', `${HEAD}end\nfsync fd=0\n`, /input line 6: text after 'end'/],
];

test('malformed input is refused with its line and what is wrong, never run', () => {
  const exe = findExecutor();
  for (const [what, input, message] of MALFORMED) {
    const r = spawnSync(exe, ['--check'], { input, encoding: 'utf8' });
    assert.equal(r.status, 2, `${what}: status (stderr ${r.stderr})`);
    assert.match(r.stderr, message, what);
    assert.equal(r.signal, null, what);
  }
  // Without --check too: refused before the directory is looked at.
  const r = spawnSync(exe, ['--dir', '/nonexistent'], { input: `${HEAD}bogus\nend\n`, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /input line 5: unknown op 'bogus'/);
  assert.equal(r.stdout, '');
});

test('a bad command line is refused', () => {
  const exe = findExecutor();
  for (const args of [['--dir'], ['--dir', '/tmp', '--runs', 'many'], ['--dir', '/tmp', '--device', '/dev/x'], ['--bogus'], ['--dir', '/tmp', 'extra'],
    ['--dir', '/tmp', '--pause', '1:2']]) {
    const r = spawnSync(exe, args, { input: '', encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /usage: foliofuzz-exec/, args.join(' '));
  }
});

test('an input refused by the executor is an ExecutorError; a missing executor says how to build it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ffzt-exec-'));
  const saved = process.env['FOLIOFUZZ_EXEC'];
  try {
    await assert.rejects(runOnKernel(program(SPEC, 1, [], [[]]), { dir: join(dir, 'missing') }),
      (e: Error) => e instanceof ExecutorError && /--dir .*missing: No such file or directory/.test(e.message));
    process.env['FOLIOFUZZ_EXEC'] = join(dir, 'no-such-executor');
    assert.throws(() => findExecutor(), (e: Error) => e instanceof ExecutorMissingError &&
      e.message.includes('apt-get install gcc libc6-dev') && e.message.includes('node native/build.mjs'));
  } finally {
    if (saved === undefined) delete process.env['FOLIOFUZZ_EXEC'];
    else process.env['FOLIOFUZZ_EXEC'] = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mutated input never crashes the executor: it runs, refuses the input, or refuses the program', () => {
  const exe = findExecutor();
  const p = program(SPEC, 2, FDS, [[EVERY_OP.pwrite, EVERY_OP.mmap, EVERY_OP.fallocate], [EVERY_OP.aio_write, EVERY_OP.fail_bio]]);
  const base = Buffer.from(programToExecInput(p));
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const statuses = new Set<number>();
  for (let k = 0; k < 150; k++) {
    let input = Buffer.from(base);
    for (let m = 1 + rnd(3); m > 0; m--) {
      const at = rnd(input.length);
      const kind = rnd(3);
      if (kind === 0) input[at] = rnd(256);
      else if (kind === 1) input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + rnd(10))]);
      else input = Buffer.concat([input.subarray(0, at), Buffer.from(String(rnd(1e9))), input.subarray(at)]);
    }
    const r = spawnSync(exe, ['--check'], { input });
    assert.equal(r.signal, null, `killed by ${r.signal} on ${JSON.stringify(input.toString('latin1'))}`);
    assert.ok([0, 2, 3].includes(r.status!), `status ${r.status} on ${JSON.stringify(input.toString('latin1'))}`);
    statuses.add(r.status!);
  }
  assert.ok(statuses.has(2) && statuses.has(3), 'both refusals were exercised');
});
