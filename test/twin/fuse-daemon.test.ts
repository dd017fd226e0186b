// The kernel twin's fuse daemon (native/fuse, ffz-fused) answers as the
// sim's fuse server does: the same small program run by the sim
// (worker/exec/run.ts runProgram) and on the kernel over the daemon
// (runOnKernel) returns the same from every op and leaves the same contents,
// for every fallocate mode and for the requests around it. And the known
// reproducer that needs a fallocate on fuse runs on the kernel now.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../worker/exec/run.js';
import { FALLOC_MODES, type FallocMode, type Op, type Program } from '../../worker/prog/types.js';
import { validateProgram } from '../../worker/prog/validate.js';
import type { Trace } from '../../worker/trace/types.js';
import type { FsSpec } from '../../worker/twin/provision.js';
import { type Suite, assertWellFormed, finals, mountForSuite, program, retOf, rets } from './helpers.js';

const FUSE: FsSpec = { fs: 'fuse', inode: 'extent', blockSize: 4096 };
const EOPNOTSUPP = -95;
const KNOWN = fileURLToPath(new URL('../../../corpus/known/', import.meta.url));

/** The sim's trace of a program (every bug switch off); a violation would make it no reference. */
function simTrace(prog: Program): Trace {
  const r = runProgram(prog, { record: true });
  assert.equal(r.violation, null, r.violation?.message);
  assert.equal(r.harnessError, null);
  return r.trace!;
}

/**
 * What both sides report: each op's result (and what an mread loaded or an
 * mwrite stored), each call with the bytes it read, the sizes where the sim
 * gives them, and the final contents through the cache and after a remount.
 */
function observed(trace: Trace, sizesOf: Set<string>): unknown {
  return {
    rets: trace.events.flatMap((e) => (e.e === 'ret'
      ? [{ t: e.t, i: e.i, ret: e.ret, data: e.data, stored: e.stored, sizes: sizesOf.has(`${e.t}:${e.i}`) ? e.sizes : undefined }]
      : [])),
    calls: trace.events.flatMap((e) => (e.e === 'call' ? [{ ...e }] : [])),
    cache: finals(trace, 'cache'),
    remount: finals(trace, 'remount'),
  };
}

async function assertSameAsSim(suite: Suite, prog: Program): Promise<Trace> {
  const sim = simTrace(prog);
  const r = await suite.run(prog);
  assert.equal(r.status, 'done', r.stderr);
  const kernel = r.traces[0]!;
  assertWellFormed(kernel);
  const sized = new Set(sim.events.flatMap((e) => (e.e === 'ret' && e.sizes ? [`${e.t}:${e.i}`] : [])));
  assert.deepEqual(observed(kernel, sized), observed(sim, sized));
  return kernel;
}

/**
 * One mode at four places in a cached 16 KiB file: whole pages inside,
 * unaligned inside, across EOF, and past EOF; a read of everything after
 * each (what the cache holds after the kernel's own invalidation).
 */
function fallocOps(mode: FallocMode): Op[] {
  const readAll: Op = { op: 'pread', fd: 0, off: 0, len: 32768 };
  const at = (off: number, len: number): Op[] => [{ op: 'fallocate', fd: 0, mode, off, len }, readAll];
  return [
    { op: 'pwrite', fd: 0, off: 0, len: 16384, fill: 0x5a },
    ...at(4096, 4096),
    ...at(1000, 2000),
    ...at(14000, 6000),
    ...at(24576, 4096),
    { op: 'fsync', fd: 0 },
  ];
}

/** The daemon's answer for a mode, as the sim's (FuseFs.fallocate): these three are refused. */
function refused(mode: FallocMode): boolean {
  return mode === 'collapse' || mode === 'insert' || mode === 'unshare';
}

describe('the fuse daemon answers as the sim\'s fuse server', () => {
  const suite = mountForSuite(FUSE);

  for (const mode of FALLOC_MODES) {
    test(`fallocate ${mode}: the same results, reads, sizes and final contents as the sim`, async () => {
      const prog = program(FUSE, 1, [{ file: 0, direct: false }], [fallocOps(mode)]);
      const kernel = await assertSameAsSim(suite, prog);
      // Not the same by both failing: the modes the sim takes succeed.
      for (const i of [1, 3, 5, 7]) assert.equal(retOf(kernel, 0, i).ret, refused(mode) ? EOPNOTSUPP : 0, `op ${i}`);
    });
  }

  test('a fallocate that extends the file makes the pages behind it storable through a mapping, as in the sim', async () => {
    const ops: Op[] = [
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 8192, prot: 'rw' },
      { op: 'fallocate', fd: 0, mode: 'zero', off: 2048, len: 4096 },
      { op: 'mwrite', map: 0, off: 2048, len: 2405, fill: 7 },
      { op: 'mread', map: 0, off: 4000, len: 200 },
      { op: 'msync', map: 0, off: 0, len: 8192, sync: true },
      { op: 'fallocate', fd: 0, mode: 'alloc', off: 0, len: 8192 },
      { op: 'mwrite', map: 0, off: 7000, len: 1192, fill: 8 },
      { op: 'munmap', map: 0 },
    ];
    const kernel = await assertSameAsSim(suite, program(FUSE, 1, [{ file: 0, direct: false }], [ops]));
    assert.deepEqual(rets(kernel).map((e) => e.ret), [0, 0, 2405, 200, 0, 0, 1192, 0]);
  });

  test('writes, truncates, copy_file_range (the kernel\'s splice fallback), fsync and direct I/O: as the sim', async () => {
    const ops: Op[] = [
      { op: 'pwrite', fd: 0, off: 100, len: 9000, fill: 1, bsize: 4096 },
      { op: 'truncate', fd: 0, size: 5000 },
      { op: 'truncate', fd: 0, size: 12288 },
      { op: 'copy_range', fdIn: 0, offIn: 50, fdOut: 2, offOut: 3000, len: 7000 },
      { op: 'pwrite', fd: 1, off: 4096, len: 4096, fill: 2 },
      { op: 'pread', fd: 1, off: 0, len: 12288 },
      { op: 'pread', fd: 0, off: 4000, len: 200 },
      { op: 'fdatasync', fd: 2 },
      { op: 'pwrite', fd: 1, off: 12000, len: 1000, fill: 3 },
      { op: 'pread', fd: 2, off: 0, len: 16384 },
    ];
    const fds = [{ file: 0, direct: false }, { file: 0, direct: true }, { file: 1, direct: false }];
    await assertSameAsSim(suite, program(FUSE, 2, fds, [ops]));
  });

  test('the known reproducer fuse-writethrough-eof-zeroed runs: its fallocate and its store succeed, as in the sim', async () => {
    const path = join(KNOWN, 'fuse-writethrough-eof-zeroed.json');
    const prog = validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
    const sim = simTrace(prog);
    const r = await suite.run(prog, { runs: 4, seed: 1, jitterUs: 50 });
    assert.equal(r.status, 'done', r.stderr);
    for (const trace of r.traces) {
      assertWellFormed(trace);
      // mmap, fallocate zero, mwrite, writeback_kick, pwrite: what the race leaves in the file is the kernel's to say.
      assert.deepEqual(rets(trace).map((e) => e.ret), rets(sim).map((e) => e.ret));
      assert.deepEqual(rets(trace).map((e) => e.ret), [0, 0, 2405, 0, 4096]);
    }
  });
});
