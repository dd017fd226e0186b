import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ProgramInputError } from '../../../worker/prog/errors.js';
import { DEFAULT_CONFIG, PROGRAM_VERSION, type Program } from '../../../worker/prog/types.js';
import { parseProgramJson, validateProgram } from '../../../worker/prog/validate.js';

/** A valid program using every op kind, as plain JSON-able data. */
function sample(): Program {
  return {
    version: PROGRAM_VERSION,
    config: { fs: 'ext4', inode: 'indirect', blockSize: 1024, folioMax: 65536 },
    files: [{ name: 'a' }, { name: 'b' }],
    fds: [{ file: 0, direct: false }, { file: 1, direct: true }],
    threads: [
      {
        ops: [
          { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 0xcd, bsize: 4096 },
          { op: 'pread', fd: 1, off: 4096, len: 4096 },
          { op: 'truncate', fd: 0, size: 100 },
          { op: 'fallocate', fd: 0, mode: 'zero_keep', off: 0, len: 4096 },
          { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 1, offOut: 4096, len: 10 },
          { op: 'fsync', fd: 0 },
          { op: 'fdatasync', fd: 1 },
          { op: 'sync_file_range', fd: 0, off: 0, len: 0, flags: 7 },
          { op: 'fadvise_dontneed', fd: 0, off: 0, len: 0 },
          { op: 'drop_caches' },
          { op: 'evict', file: 1 },
          { op: 'remount' },
          { op: 'close_open', fd: 1 },
          { op: 'mmap', map: 3, fd: 0, off: 0, len: 8192, prot: 'rw' },
          { op: 'power_cut', seed: 4294967295 },
        ],
      },
      {
        ops: [
          { op: 'mread', map: 3, off: 0, len: 1 },
          { op: 'mwrite', map: 3, off: 1, len: 1, fill: 255 },
          { op: 'msync', map: 3, off: 0, len: 4096, sync: true },
          { op: 'munmap', map: 3 },
        ],
      },
    ],
  };
}

type Mutate = (p: Record<string, unknown> & Program) => void;

/** Validate a mutated copy of sample() and expect the exact error message (or a match). */
function rejects(mutate: Mutate, message: string | RegExp): void {
  const p = structuredClone(sample()) as Record<string, unknown> & Program;
  mutate(p);
  assert.throws(() => validateProgram(p, 'prog.json'), (err: unknown) => {
    assert.ok(err instanceof ProgramInputError, `expected ProgramInputError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** Set a field of thread 0's op i, whatever its kind. */
function setOp(p: Program, i: number, field: string, value: unknown): void {
  const op = p.threads[0]?.ops[i] as unknown as Record<string, unknown>;
  op[field] = value;
}

test('a valid program with every op kind passes and comes back equal', () => {
  const p = sample();
  const out = validateProgram(p, 'prog.json');
  assert.deepEqual(out, p);
  assert.notEqual(out, p, 'validateProgram returns a fresh copy');
});

test('optional bsize may be absent and stays absent', () => {
  const out = validateProgram(sample(), 'prog.json');
  assert.equal('bsize' in (out.threads[0]?.ops[1] ?? {}), false);
});

test('-0 is normalised to 0', () => {
  const p = sample();
  setOp(p, 0, 'off', -0);
  const op = validateProgram(p, 'x').threads[0]?.ops[0];
  assert.ok(op?.op === 'pwrite');
  assert.ok(Object.is(op.off, 0));
});

test('parseProgramJson parses and validates JSON text', () => {
  const p = parseProgramJson(JSON.stringify(sample()), 'prog.json');
  assert.deepEqual(p, sample());
});

test('parseProgramJson reports invalid JSON with the source', () => {
  assert.throws(() => parseProgramJson('{"version": 1,', 'bad.json'), (err: unknown) =>
    err instanceof ProgramInputError && err.message.startsWith('bad.json: invalid JSON: '));
});

test('the root must be an object with exactly the known fields', () => {
  assert.throws(() => validateProgram([], 's'), { message: 's: $: expected an object, got []' });
  rejects((p) => { p['extra'] = 1; }, 'prog.json: $.extra: unknown field');
  rejects((p) => { delete (p as Partial<Program>).fds; }, 'prog.json: $.fds: missing field');
});

test('version must be PROGRAM_VERSION', () => {
  rejects((p) => { p.version = 2; }, 'prog.json: $.version: unsupported program version 2 (this build reads 1)');
  rejects((p) => { (p as Record<string, unknown>)['version'] = '1'; },
    'prog.json: $.version: unsupported program version "1" (this build reads 1)');
});

test('config fields are checked', () => {
  rejects((p) => { (p.config as unknown as Record<string, unknown>)['fs'] = 'btrfs'; },
    'prog.json: $.config.fs: must be one of ext4|xfs|fuse, got "btrfs"');
  rejects((p) => { p.config.fs = 'xfs'; },
    'prog.json: $.config.inode: indirect inodes need fs ext4, not xfs');
  rejects((p) => { (p.config as unknown as Record<string, unknown>)['inode'] = 'extents'; },
    'prog.json: $.config.inode: must be one of extent|indirect, got "extents"');
  rejects((p) => { p.config.blockSize = 512; },
    'prog.json: $.config.blockSize: must be one of 1024|2048|4096, got 512');
  rejects((p) => { p.config.folioMax = 2048; },
    'prog.json: $.config.folioMax: must be a power of two from 4096 to 65536, got 2048');
  rejects((p) => { p.config.folioMax = 131072; },
    'prog.json: $.config.folioMax: must be a power of two from 4096 to 65536, got 131072');
  rejects((p) => { p.config.folioMax = 12288; },
    'prog.json: $.config.folioMax: must be a power of two from 4096 to 65536, got 12288');
  rejects((p) => { (p.config as unknown as Record<string, unknown>)['sectorSize'] = 512; },
    'prog.json: $.config.sectorSize: unknown field');
});

test('DEFAULT_CONFIG is valid', () => {
  const p = { ...sample(), config: DEFAULT_CONFIG, threads: [{ ops: [] }] };
  assert.deepEqual(validateProgram(p, 'x').config, DEFAULT_CONFIG);
});

test('files need plain, unique names', () => {
  rejects((p) => { p.files[1] = { name: '' }; },
    "prog.json: $.files[1].name: must be a file name (1..255 bytes, no '/' or NUL), got \"\"");
  rejects((p) => { p.files[0] = { name: 'd/f' }; },
    "prog.json: $.files[0].name: must be a file name (1..255 bytes, no '/' or NUL), got \"d/f\"");
  rejects((p) => { p.files[1] = { name: 'a' }; }, 'prog.json: $.files[1].name: duplicate file name "a"');
});

test('fds must name a declared file and say whether they are direct', () => {
  rejects((p) => { p.fds[1] = { file: 2, direct: false }; },
    'prog.json: $.fds[1].file: must be a file index in 0..1, got 2');
  rejects((p) => { (p.fds[0] as unknown as Record<string, unknown>)['direct'] = 1; },
    'prog.json: $.fds[0].direct: must be a boolean, got 1');
});

test('a program needs at least one thread', () => {
  rejects((p) => { p.threads = []; }, 'prog.json: $.threads: a program needs at least one thread');
});

test('unknown ops and unknown op fields are named by path', () => {
  rejects((p) => { setOp(p, 2, 'op', 'ftruncate'); },
    /^prog\.json: \$\.threads\[0\]\.ops\[2\]\.op: unknown op "ftruncate" \(known: pwrite, pread, /);
  rejects((p) => { setOp(p, 2, 'op', 'toString'); }, /^prog\.json: \$\.threads\[0\]\.ops\[2\]\.op: unknown op "toString"/);
  rejects((p) => { (p.threads[0] as { ops: unknown[] }).ops[0] = 7; },
    'prog.json: $.threads[0].ops[0]: expected an op object, got 7');
  rejects((p) => { setOp(p, 5, 'len', 1); }, 'prog.json: $.threads[0].ops[5].len: unknown field');
  rejects((p) => { setOp(p, 1, 'fill', 1); }, 'prog.json: $.threads[0].ops[1].fill: unknown field');
  rejects((p) => { delete (p.threads[0]?.ops[3] as unknown as Record<string, unknown>)['mode']; },
    'prog.json: $.threads[0].ops[3].mode: missing field');
  rejects((p) => { (p.threads[1] as unknown as Record<string, unknown>)['name'] = 't1'; },
    'prog.json: $.threads[1].name: unknown field');
});

test('offsets, lengths and sizes are non-negative safe integers below 2^40', () => {
  rejects((p) => { setOp(p, 0, 'off', -1); },
    'prog.json: $.threads[0].ops[0].off: must be a non-negative integer below 2^40, got -1');
  rejects((p) => { setOp(p, 0, 'len', 2 ** 40); },
    'prog.json: $.threads[0].ops[0].len: must be a non-negative integer below 2^40, got 1099511627776');
  rejects((p) => { setOp(p, 1, 'len', 1.5); },
    'prog.json: $.threads[0].ops[1].len: must be a non-negative integer below 2^40, got 1.5');
  rejects((p) => { setOp(p, 2, 'size', '100'); },
    'prog.json: $.threads[0].ops[2].size: must be a non-negative integer below 2^40, got "100"');
  rejects((p) => { setOp(p, 4, 'offOut', null); },
    'prog.json: $.threads[0].ops[4].offOut: must be a non-negative integer below 2^40, got null');
  assert.doesNotThrow(() => {
    // A read may look anywhere in that range: past EOF it reads nothing, on the sim as on a kernel.
    const p = sample();
    setOp(p, 1, 'off', 2 ** 40 - 1);
    validateProgram(p, 'x');
  });
});

test('an op that changes a file stays inside the largest file the sim holds (64 MiB): offset plus length, and sizes', () => {
  const past = "past the largest file a program may make (64 MiB, the simulator's s_maxbytes: it keeps files in memory; a real kernel would take it)";
  rejects((p) => { setOp(p, 0, 'off', 2 ** 26 - 8191); }, `prog.json: $.threads[0].ops[0].off: pwrite reaches byte ${2 ** 26 + 1}, ${past}`);
  rejects((p) => { setOp(p, 2, 'size', 2 ** 26 + 1); }, `prog.json: $.threads[0].ops[2].size: truncate reaches byte ${2 ** 26 + 1}, ${past}`);
  rejects((p) => { setOp(p, 4, 'offOut', 2 ** 26); }, `prog.json: $.threads[0].ops[4].offOut: copy_range reaches byte ${2 ** 26 + 10}, ${past}`);
  assert.doesNotThrow(() => {
    const p = sample();
    setOp(p, 0, 'off', 2 ** 26 - 8192);
    setOp(p, 2, 'size', 2 ** 26);
    validateProgram(p, 'x');
  });
});

test('bsize, when present, is a positive integer', () => {
  rejects((p) => { setOp(p, 0, 'bsize', 0); },
    'prog.json: $.threads[0].ops[0].bsize: must be a positive integer below 2^40, got 0');
});

test('fill is a byte', () => {
  rejects((p) => { setOp(p, 0, 'fill', 256); }, 'prog.json: $.threads[0].ops[0].fill: must be a byte value 0..255, got 256');
  rejects((p) => { (p.threads[1]?.ops[1] as unknown as Record<string, unknown>)['fill'] = -1; },
    'prog.json: $.threads[1].ops[1].fill: must be a byte value 0..255, got -1');
});

test('fd and file indexes must be in range', () => {
  rejects((p) => { setOp(p, 0, 'fd', 2); }, 'prog.json: $.threads[0].ops[0].fd: must be an fd index in 0..1, got 2');
  rejects((p) => { setOp(p, 4, 'fdIn', -1); }, 'prog.json: $.threads[0].ops[4].fdIn: must be an fd index in 0..1, got -1');
  rejects((p) => { setOp(p, 10, 'file', 2); }, 'prog.json: $.threads[0].ops[10].file: must be a file index in 0..1, got 2');
  rejects((p) => { p.fds = []; setOp(p, 0, 'fd', 0); },
    'prog.json: $.threads[0].ops[0].fd: must be an fd index, but the program declares no fds, got 0');
});

test('maps must be created by some mmap op, in any thread', () => {
  rejects((p) => { (p.threads[1]?.ops[0] as unknown as Record<string, unknown>)['map'] = 4; },
    'prog.json: $.threads[1].ops[0].map: map 4 is not created by any mmap op');
  rejects((p) => { setOp(p, 13, 'map', 2 ** 32); },
    'prog.json: $.threads[0].ops[13].map: must be a map id (a non-negative integer below 2^32), got 4294967296');
  // A use before the mmap, in program order, is the simulator's business (EINVAL/SIGSEGV), not malformed.
  const p = sample();
  p.threads.reverse();
  assert.doesNotThrow(() => validateProgram(p, 'x'));
});

test('enum-valued fields are checked', () => {
  rejects((p) => { setOp(p, 3, 'mode', 'hole'); },
    'prog.json: $.threads[0].ops[3].mode: must be one of alloc|keep_size|punch|zero|zero_keep|collapse|insert|unshare, got "hole"');
  rejects((p) => { setOp(p, 13, 'prot', 'x'); }, 'prog.json: $.threads[0].ops[13].prot: must be one of r|w|rw, got "x"');
  rejects((p) => { setOp(p, 7, 'flags', 8); }, 'prog.json: $.threads[0].ops[7].flags: must be sync_file_range flags (0..7), got 8');
  rejects((p) => { (p.threads[1]?.ops[2] as unknown as Record<string, unknown>)['sync'] = 'yes'; },
    'prog.json: $.threads[1].ops[2].sync: must be a boolean, got "yes"');
});

test('a power cut seed is a uint32', () => {
  const at = sample().threads[0]!.ops.findIndex((o) => o.op === 'power_cut');
  rejects((p) => { setOp(p, at, 'seed', -1); },
    `prog.json: $.threads[0].ops[${at}].seed: must be a seed (an integer 0..4294967295), got -1`);
  rejects((p) => { setOp(p, at, 'seed', 2 ** 32); },
    `prog.json: $.threads[0].ops[${at}].seed: must be a seed (an integer 0..4294967295), got 4294967296`);
  rejects((p) => { delete (p.threads[0]?.ops[at] as unknown as Record<string, unknown>)['seed']; },
    `prog.json: $.threads[0].ops[${at}].seed: missing field`);
});

test('schedule decisions: anchored ones pass; positional ones of sim/4 and bad fields are refused with the path', () => {
  const decision = { at: 't0', op: 3, step: 4, nth: 1, run: 'ev:iomap_dio_bio_end_io#0' };
  const withSchedule = (decisions: unknown[]): Mutate => (p) => {
    (p as Record<string, unknown>)['schedule'] = { strategy: 'replay', seed: 0, depth: 0, decisions };
  };
  const ok = structuredClone(sample()) as Record<string, unknown> & Program;
  withSchedule([decision, { ...decision, at: '', run: 't1' }, { ...decision, at: 'jbd2/kjournald2' }])(ok);
  assert.deepEqual(validateProgram(ok, 'prog.json').schedule?.decisions.length, 3);
  rejects(withSchedule([{ pick: 1, hash: 3 }]), /^prog\.json: \$\.schedule\.decisions\[0\]: a positional \{pick, hash\} decision of foliofuzz-sim\/4/);
  rejects(withSchedule([decision, { ...decision, run: '' }]), /^prog\.json: \$\.schedule\.decisions\[1\]\.run: must be a thread/);
  rejects(withSchedule([{ ...decision, at: 't0|1' }]), /\$\.schedule\.decisions\[0\]\.at: must be a thread's name/);
  rejects(withSchedule([{ ...decision, step: -1 }]), /\$\.schedule\.decisions\[0\]\.step: must be a count of preemption points, got -1/);
  rejects(withSchedule([{ ...decision, extra: 1 }]), /\$\.schedule\.decisions\[0\]\.extra: unknown field/);
});
