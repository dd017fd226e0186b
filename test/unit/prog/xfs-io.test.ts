import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ProgramInputError } from '../../../worker/prog/errors.js';
import type { Op, SimConfig } from '../../../worker/prog/types.js';
import { parseXfsIoScript } from '../../../worker/prog/xfs-io.js';

const EXT4: SimConfig = { fs: 'ext4', inode: 'extent', blockSize: 4096, folioMax: 16384 };
const XFS_1K: SimConfig = { fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 16384 };

function ops(script: string, config: SimConfig = EXT4): Op[] {
  return parseXfsIoScript(script, 't.xfsio', { direct: false, config }).threads[0]?.ops ?? [];
}

/** The ops of the last line only, after a preamble (e.g. one that creates a mapping). */
function lastOps(preamble: string, line: string, config: SimConfig = EXT4): Op[] {
  const before = preamble === '' ? 0 : ops(preamble, config).length;
  const script = preamble === '' ? line : `${preamble}\n${line}`;
  return ops(script, config).slice(before);
}

function rejects(script: string, message: string | RegExp, config: SimConfig = EXT4): void {
  assert.throws(() => parseXfsIoScript(script, 't.xfsio', { direct: false, config }), (err: unknown) => {
    assert.ok(err instanceof ProgramInputError, `expected ProgramInputError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const MAP = 'truncate 64k\nmmap 8k 16k';

test('the program has one file, one fd and one thread', () => {
  const p = parseXfsIoScript('fsync\n', 'a.xfsio', { direct: true, config: XFS_1K });
  assert.equal(p.version, 1);
  assert.deepEqual(p.config, XFS_1K);
  assert.deepEqual(p.files, [{ name: 'file0' }]);
  assert.deepEqual(p.fds, [{ file: 0, direct: true }]);
  assert.deepEqual(p.threads, [{ ops: [{ op: 'fsync', fd: 0 }] }]);
  assert.equal(parseXfsIoScript('', 'a', { direct: false, config: EXT4 }).fds[0]?.direct, false);
});

// Each command with its defaults and options, on ext4 (a "foreign" file for xfs_io: 4096-byte blocks).
const CASES: { preamble?: string; line: string; expect: Op[] }[] = [
  { line: 'pwrite 0 10000', expect: [{ op: 'pwrite', fd: 0, off: 0, len: 10000, fill: 0xcd, bsize: 4096 }] },
  { line: 'pwrite -S 0x41 -b 1k 512 4k', expect: [{ op: 'pwrite', fd: 0, off: 512, len: 4096, fill: 0x41, bsize: 1024 }] },
  { line: 'pwrite 0 4k -S 0x11', expect: [{ op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 0x11, bsize: 4096 }] },
  { line: 'pwrite -O 0 100', expect: [{ op: 'pwrite', fd: 0, off: 0, len: 100, fill: 0xcd }] },
  { line: 'pwrite -q -C -F 1 2', expect: [{ op: 'pwrite', fd: 0, off: 1, len: 2, fill: 0xcd, bsize: 4096 }] },
  { line: 'w 0 1', expect: [{ op: 'pwrite', fd: 0, off: 0, len: 1, fill: 0xcd, bsize: 4096 }] },
  { line: 'pread 0 8192', expect: [{ op: 'pread', fd: 0, off: 0, len: 8192, bsize: 4096 }] },
  { line: 'pread -v -b 512 16 32', expect: [{ op: 'pread', fd: 0, off: 16, len: 32, bsize: 512 }] },
  { line: 'r 1 1', expect: [{ op: 'pread', fd: 0, off: 1, len: 1, bsize: 4096 }] },
  { line: 'truncate 1m', expect: [{ op: 'truncate', fd: 0, size: 1048576 }] },
  { line: 't 0', expect: [{ op: 'truncate', fd: 0, size: 0 }] },
  { line: 'falloc 0 4k', expect: [{ op: 'fallocate', fd: 0, mode: 'alloc', off: 0, len: 4096 }] },
  { line: 'falloc -k 4k 4k', expect: [{ op: 'fallocate', fd: 0, mode: 'keep_size', off: 4096, len: 4096 }] },
  { line: 'falloc -p 0 1', expect: [{ op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 1 }] },
  { line: 'falloc -c 0 4k', expect: [{ op: 'fallocate', fd: 0, mode: 'collapse', off: 0, len: 4096 }] },
  { line: 'falloc -i 0 4k', expect: [{ op: 'fallocate', fd: 0, mode: 'insert', off: 0, len: 4096 }] },
  { line: 'falloc -u 0 4k', expect: [{ op: 'fallocate', fd: 0, mode: 'unshare', off: 0, len: 4096 }] },
  // falloc's options assign the mode: the last one wins.
  { line: 'falloc -k -p 0 1', expect: [{ op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 1 }] },
  { line: 'fpunch 4096 100', expect: [{ op: 'fallocate', fd: 0, mode: 'punch', off: 4096, len: 100 }] },
  { line: 'fzero 0 512', expect: [{ op: 'fallocate', fd: 0, mode: 'zero', off: 0, len: 512 }] },
  { line: 'fzero -k 0 512', expect: [{ op: 'fallocate', fd: 0, mode: 'zero_keep', off: 0, len: 512 }] },
  { line: 'fcollapse 4k 8k', expect: [{ op: 'fallocate', fd: 0, mode: 'collapse', off: 4096, len: 8192 }] },
  { line: 'finsert 4k 8k', expect: [{ op: 'fallocate', fd: 0, mode: 'insert', off: 4096, len: 8192 }] },
  { line: 'funshare 0 4k', expect: [{ op: 'fallocate', fd: 0, mode: 'unshare', off: 0, len: 4096 }] },
  { line: 'fsync', expect: [{ op: 'fsync', fd: 0 }] },
  { line: 's', expect: [{ op: 'fsync', fd: 0 }] },
  { line: 'fdatasync', expect: [{ op: 'fdatasync', fd: 0 }] },
  { line: 'ds', expect: [{ op: 'fdatasync', fd: 0 }] },
  { line: 'fadvise -d 0 8k', expect: [{ op: 'fadvise_dontneed', fd: 0, off: 0, len: 8192 }] },
  // sync_range: no option means SYNC_FILE_RANGE_WRITE; options assign, the last one wins.
  { line: 'sync_range 0 4k', expect: [{ op: 'sync_file_range', fd: 0, off: 0, len: 4096, flags: 2 }] },
  { line: 'sync_range -a 0 4k', expect: [{ op: 'sync_file_range', fd: 0, off: 0, len: 4096, flags: 4 }] },
  { line: 'sync_range -b 0 4k', expect: [{ op: 'sync_file_range', fd: 0, off: 0, len: 4096, flags: 1 }] },
  { line: 'sync_range -w 0 4k', expect: [{ op: 'sync_file_range', fd: 0, off: 0, len: 4096, flags: 2 }] },
  { line: 'sync_range -a -b 0 4k', expect: [{ op: 'sync_file_range', fd: 0, off: 0, len: 4096, flags: 1 }] },
  // mmap: PROT_READ|PROT_WRITE|PROT_EXEC by default.
  { line: 'mmap 0 8k', expect: [{ op: 'mmap', map: 0, fd: 0, off: 0, len: 8192, prot: 'rw' }] },
  { line: 'mmap -r 4k 4k', expect: [{ op: 'mmap', map: 0, fd: 0, off: 4096, len: 4096, prot: 'r' }] },
  { line: 'mmap -w 0 4k', expect: [{ op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'w' }] },
  { line: 'mmap -rw 0 4k', expect: [{ op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' }] },
  { line: 'mmap -x 0 4k', expect: [{ op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'r' }] },
  { line: 'mm -s 1m 0 4k', expect: [{ op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' }] },
  // mread/mwrite/msync take file offsets; without a range they cover the whole mapping.
  { preamble: MAP, line: 'mread', expect: [{ op: 'mread', map: 0, off: 8192, len: 16384 }] },
  { preamble: MAP, line: 'mread -v 9000 100', expect: [{ op: 'mread', map: 0, off: 9000, len: 100 }] },
  { preamble: MAP, line: 'mr -r 24k 0', expect: [{ op: 'mread', map: 0, off: 24576, len: 0 }] },
  { preamble: MAP, line: 'mwrite', expect: [{ op: 'mwrite', map: 0, off: 8192, len: 16384, fill: 0x58 }] },
  { preamble: MAP, line: 'mwrite -S 0x62 10000 10', expect: [{ op: 'mwrite', map: 0, off: 10000, len: 10, fill: 0x62 }] },
  { preamble: MAP, line: 'mw -r -S 300 8k 1', expect: [{ op: 'mwrite', map: 0, off: 8192, len: 1, fill: 300 & 0xff }] },
  { preamble: MAP, line: 'msync', expect: [{ op: 'msync', map: 0, off: 8192, len: 16384, sync: false }] },
  { preamble: MAP, line: 'msync -s 12k 4k', expect: [{ op: 'msync', map: 0, off: 12288, len: 4096, sync: true }] },
  { preamble: MAP, line: 'msync -a 8k 1', expect: [{ op: 'msync', map: 0, off: 8192, len: 1, sync: false }] },
  { preamble: MAP, line: 'ms -i', expect: [{ op: 'msync', map: 0, off: 8192, len: 16384, sync: false }] },
  { preamble: MAP, line: 'munmap', expect: [{ op: 'munmap', map: 0 }] },
  { preamble: MAP, line: 'mu', expect: [{ op: 'munmap', map: 0 }] },
  { line: 'copy_range -s 0 -d 8k -l 4k -f 0', expect: [{ op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 0, offOut: 8192, len: 4096 }] },
  { line: 'copy_range -l 10 -f 0', expect: [{ op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 0, offOut: 0, len: 10 }] },
];

for (const c of CASES) {
  test(`xfs_io "${c.line}"`, () => {
    assert.deepEqual(lastOps(c.preamble ?? '', c.line), c.expect);
  });
}

test('every supported command appears in the table above', () => {
  const names = new Set(CASES.map((c) => c.line.split(' ')[0]));
  for (const cmd of ['pwrite', 'pread', 'truncate', 'falloc', 'fpunch', 'fzero', 'fcollapse', 'finsert', 'funshare',
    'fsync', 'fdatasync', 'fadvise', 'sync_range', 'mmap', 'mread', 'mwrite', 'msync', 'munmap', 'copy_range']) {
    assert.ok(names.has(cmd), `${cmd} is not covered`);
  }
});

test('on xfs the default -b and the "b" suffix are the fs block size', () => {
  assert.deepEqual(ops('pwrite 0 2b\npread 1b 1', XFS_1K), [
    { op: 'pwrite', fd: 0, off: 0, len: 2048, fill: 0xcd, bsize: 1024 },
    { op: 'pread', fd: 0, off: 1024, len: 1, bsize: 1024 },
  ]);
  // Any other filesystem is "foreign" to xfs_io: 4096.
  assert.deepEqual(ops('truncate 2b', { ...XFS_1K, fs: 'fuse' }), [{ op: 'truncate', fd: 0, size: 8192 }]);
});

test('cvtnum: bases and unit suffixes', () => {
  const size = (arg: string): number => {
    const op = ops(`truncate ${arg}`)[0];
    assert.ok(op?.op === 'truncate');
    return op.size;
  };
  assert.equal(size('100'), 100);
  assert.equal(size('0x10'), 16);
  assert.equal(size('0X1f'), 31);
  assert.equal(size('010'), 8); // octal, as strtoll base 0
  assert.equal(size('+5'), 5);
  assert.equal(size('-0'), 0);
  assert.equal(size('1k'), 1024);
  assert.equal(size('1K'), 1024);
  assert.equal(size('3m'), 3 << 20);
  assert.equal(size('64m'), 2 ** 26);
  const len = (arg: string): number => {
    const op = ops(`pread 0 ${arg}`)[0];
    assert.ok(op?.op === 'pread');
    return op.len;
  };
  assert.equal(len('2g'), 2 * 2 ** 30);
  assert.equal(size('0x10k'), 16384);
  assert.equal(size('1b'), 4096);
  assert.equal(size('1s'), 512);
  assert.equal(size('2S'), 1024);
});

test('cvtnum: what xfs_io calls non-numeric', () => {
  for (const bad of ['abc', '0x', '08', '1.5k', '1kb', '1x', '-5', '-1k', '4k\t']) {
    rejects(`truncate ${bad}`, `t.xfsio:1: truncate: non-numeric truncate argument -- ${bad}`);
  }
});

test('numbers beyond the 2^40 range are refused', () => {
  rejects('truncate 1t', 't.xfsio:1: truncate: truncate argument 1t is beyond the simulator\'s range (below 2^40 bytes)');
  rejects('pwrite 0 99999999999999999999', /^t\.xfsio:1: pwrite: length argument 99999999999999999999 is beyond/);
  assert.deepEqual(ops('pread 1099511627775 1'), [{ op: 'pread', fd: 0, off: 2 ** 40 - 1, len: 1, bsize: 4096 }]);
});

test('a command that changes the file past the largest file the sim holds (64 MiB) is refused with its line', () => {
  rejects('pwrite 0 4k\ntruncate 2g', "t.xfsio:2: truncate: reaches byte 2147483648, past the largest file a program may make (64 MiB, the simulator's s_maxbytes: it keeps files in memory; a real kernel would take it)");
  rejects('pwrite 64m 1', /^t\.xfsio:1: pwrite: reaches byte 67108865, past the largest file/);
  assert.deepEqual(ops('truncate 64m'), [{ op: 'truncate', fd: 0, size: 2 ** 26 }]);
});

test('pwrite -S keeps the low byte of strtoul(seed, 0)', () => {
  const fill = (seed: string): number => {
    const op = ops(`pwrite -S ${seed} 0 1`)[0];
    assert.ok(op?.op === 'pwrite');
    return op.fill;
  };
  assert.equal(fill('0x1234'), 0x34);
  assert.equal(fill('12abc'), 12); // strtoul stops at the junk and xfs_io accepts it
  assert.equal(fill('-1'), 0xff);
  assert.equal(fill('010'), 8);
  assert.equal(fill('0'), 0);
  rejects('pwrite -S zz 0 1', 't.xfsio:1: pwrite: non-numeric seed -- zz');
});

test('comments and blank lines are skipped but counted in line numbers', () => {
  rejects('# setup\n\npwrite 0 1\n   \n  # x\nbogus 1', /^t\.xfsio:6: command "bogus" not found or not supported/);
  assert.equal(ops('# c\n\n  # indented comment\nfsync\r\n').length, 1);
});

test('words are split on spaces only, like xfs_io\'s breakline()', () => {
  assert.deepEqual(ops('  pwrite   0    1  '), [{ op: 'pwrite', fd: 0, off: 0, len: 1, fill: 0xcd, bsize: 4096 }]);
  rejects('pwrite\t0 1', /^t\.xfsio:1: command "pwrite\t0" not found/);
});

test('malformed lines give FILE:LINE: reason', () => {
  rejects('fsync\npwrite 0', 't.xfsio:2: bad argument count 1 to pwrite, expected at least 2 arguments; usage: pwrite [-S seed] [-b bs] [-O] off len');
  rejects('pwrite 0 1 2', 't.xfsio:1: pwrite: bad arguments; usage: pwrite [-S seed] [-b bs] [-O] off len');
  rejects('pwrite -x 0 1', "t.xfsio:1: pwrite: invalid option -- 'x'");
  rejects('pwrite 0 1 -b', "t.xfsio:1: pwrite: option requires an argument -- 'b'");
  rejects('pwrite -b 0 0 1', 't.xfsio:1: pwrite: bsize 0 is not supported: xfs_io would write nothing');
  rejects('pwrite abc 1', 't.xfsio:1: pwrite: non-numeric offset argument -- abc');
  rejects('pwrite 0 abc', 't.xfsio:1: pwrite: non-numeric length argument -- abc');
  rejects('pwrite -5 1', "t.xfsio:1: pwrite: invalid option -- '5'");
  rejects('truncate', 't.xfsio:1: bad argument count 0 to truncate, expected 1 arguments; usage: truncate off');
  rejects('fsync now', 't.xfsio:1: bad argument count 1 to fsync, expected 0 arguments; usage: fsync');
  rejects('fpunch -k 0 1', 't.xfsio:1: bad argument count 3 to fpunch, expected 2 arguments; usage: fpunch off len');
  rejects('fpunch x 1', 't.xfsio:1: fpunch: non-numeric offset argument -- x');
  rejects('fzero -k 0', 't.xfsio:1: fzero: bad arguments; usage: fzero [-k] off len');
  rejects('falloc -z 0 1', "t.xfsio:1: falloc: invalid option -- 'z'");
  rejects('sync_range -x 0 1', "t.xfsio:1: sync_range: invalid option -- 'x'");
  rejects('open /tmp/x', /^t\.xfsio:1: command "open" not found or not supported \(supported: pwrite, pread, /);
});

test('features the Program cannot express are refused with a reason', () => {
  rejects('pwrite -R 0 1', 't.xfsio:1: pwrite: -R is not supported: only forward writes are modelled');
  rejects('pwrite -i /etc/passwd 0 1', 't.xfsio:1: pwrite: -i is not supported: the data comes from another file');
  rejects('pwrite -W 0 1', /^t\.xfsio:1: pwrite: -W is not supported: xfs_io syncs only if the write succeeded/);
  rejects('pread -B 0 1', 't.xfsio:1: pread: -B is not supported: only forward reads are modelled');
  rejects('pread 0 eof', 't.xfsio:1: pread: reading to EOF (length eof) is not supported: give a length');
  rejects('fadvise -w 0 1', /^t\.xfsio:1: fadvise: only -d \(POSIX_FADV_DONTNEED\) is supported/);
  rejects('fadvise -d -s', /^t\.xfsio:1: fadvise: only -d/);
  rejects('fadvise', /^t\.xfsio:1: fadvise: only -d/);
  rejects('fadvise -d 0', 't.xfsio:1: fadvise: bad arguments; usage: fadvise -d off len');
  rejects('mmap -S 0 4k', 't.xfsio:1: mmap: -S is not supported: MAP_SYNC needs DAX, which the simulator does not model');
  rejects(`${MAP}\nmsync -a -s`, /^t\.xfsio:3: msync: -a and -s together are not supported/);
  rejects('copy_range -l 1 /tmp/other', /^t\.xfsio:1: copy_range: copying from another file is not supported/);
  rejects('copy_range -f 0', /^t\.xfsio:1: copy_range: -l len is required/);
  rejects('copy_range -f 1 -l 1', /^t\.xfsio:1: copy_range: file value 1 is out of range \(0-0\)/);
});

test('copy_range -f closes the file in xfs_io, so nothing may follow it', () => {
  rejects('copy_range -l 1 -f 0\n\nfsync',
    't.xfsio:3: fsync: the file is no longer open: copy_range -f on line 1 closed it (xfs_io closes the source fd after copying)');
});

test('mapping commands need a current mapping', () => {
  for (const cmd of ['mread', 'mwrite 0 1', 'msync', 'munmap']) {
    rejects(`pwrite 0 4k\n${cmd}`, `t.xfsio:2: ${cmd.split(' ')[0]}: no mapped regions`);
  }
  rejects('mmap', 't.xfsio:1: mmap: no mapped regions');
  rejects('mmap 0', 't.xfsio:1: mmap: no mapped regions');
  rejects(`${MAP}\nmunmap\nmread`, 't.xfsio:4: mread: no mapped regions');
  rejects('munmap 1', 't.xfsio:1: munmap: no mapped regions');
});

test('mread/mwrite/msync ranges must lie in the current mapping', () => {
  rejects(`${MAP}\nmread 4k 1`, 't.xfsio:3: mread: offset (4096) is before start of mapping (8192)');
  rejects(`${MAP}\nmwrite 25k 1`, 't.xfsio:3: mwrite: offset (25600) is beyond end of mapping [8192, 24576)');
  rejects(`${MAP}\nmread 20k 8k`, 't.xfsio:3: mread: range [20480, 28672) is beyond mapping [8192, 24576)');
  rejects(`${MAP}\nmsync 9000 1`, 't.xfsio:3: msync: offset address (9000) is not page aligned');
  rejects(`${MAP}\nmread 8k`, 't.xfsio:3: mread: bad arguments; usage: mread [-frv] [off len]');
  rejects(`${MAP}\nmwrite -S q`, 't.xfsio:3: mwrite: non-numeric seed -- q');
  rejects(`${MAP}\nmread -x`, "t.xfsio:3: mread: invalid option -- 'x'");
});

test('the mapping table follows xfs_io: mmap makes current, munmap promotes the next, mmap N selects', () => {
  const script = [
    'truncate 64k',
    'mmap 0 4k', // map 0, index 0
    'mmap 4k 4k', // map 1, index 1
    'mmap 8k 4k', // map 2, index 2 (current)
    'mmap 1', // select index 1 = map 1
    'mwrite 4k 1',
    'munmap', // removes map 1; map 2 slides into index 1 and becomes current
    'mwrite 8k 1',
    'munmap', // removes map 2; index 1 == count, so index 0 (map 0) becomes current
    'mread',
    'mmap', // lists only
    'munmap',
  ].join('\n');
  assert.deepEqual(ops(script).slice(4), [
    { op: 'mwrite', map: 1, off: 4096, len: 1, fill: 0x58 },
    { op: 'munmap', map: 1 },
    { op: 'mwrite', map: 2, off: 8192, len: 1, fill: 0x58 },
    { op: 'munmap', map: 2 },
    { op: 'mread', map: 0, off: 0, len: 4096 },
    { op: 'munmap', map: 0 },
  ]);
  rejects('mmap 0 4k\nmmap 3', 't.xfsio:2: mmap: value 3 is out of range (0-1)');
});

test('an mmap that fails with EINVAL adds no mapping but still runs', () => {
  assert.deepEqual(ops('mmap 0 0\nmmap 100 4k'), [
    { op: 'mmap', map: 0, fd: 0, off: 0, len: 0, prot: 'rw' },
    { op: 'mmap', map: 1, fd: 0, off: 100, len: 4096, prot: 'rw' },
  ]);
  rejects('mmap 0 0\nmread', 't.xfsio:2: mread: no mapped regions');
  // An earlier good mapping stays current.
  assert.deepEqual(ops('mmap 0 4k\nmmap 0 0\nmread').slice(2), [{ op: 'mread', map: 0, off: 0, len: 4096 }]);
});

test('the error is a ProgramInputError whose message starts with the source', () => {
  try {
    parseXfsIoScript('nope', 'dir/my script.xfsio', { direct: false, config: EXT4 });
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof ProgramInputError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ProgramInputError');
    assert.ok(err.message.startsWith('dir/my script.xfsio:1: '));
  }
});

test('an invalid config is reported by validation', () => {
  assert.throws(() => parseXfsIoScript('fsync', 'x', { direct: false, config: { ...XFS_1K, inode: 'indirect' } }),
    { message: 'x: $.config.inode: indirect inodes need fs ext4, not xfs' });
});
