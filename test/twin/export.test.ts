// Exported C programs run on Linux, on the filesystem their header names (a
// loop mount provisioned the way the header's recipe makes it): the kernel
// bug the fuzzer found shows in most iterations; a healthy program with AIO
// in it, one of several threads, and reproducers of bugs fixed long ago
// diverge in none; a compiled-in read-your-writes check that expects the
// wrong byte is caught every time.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../worker/exec/run.js';
import type { Program } from '../../worker/prog/types.js';
import { exportRepro } from '../../worker/repro/export.js';
import { makeRepro } from '../../worker/repro/repro.js';
import { knownRepros } from '../unit/repro/known.js';
import { mountForSuite, program } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SPEC = { fs: 'ext4', inode: 'indirect', blockSize: 1024 } as const;
const ITERATIONS = 20;

interface Outcome {
  diverged: number;
  status: number | null;
  stdout: string;
}

const work = mkdtempSync(join(tmpdir(), 'ffz-export-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The program's C export (or that text changed by edit), built as its header says. */
function build(name: string, p: Program | string, edit: (c: string) => string = (c) => c): string {
  const text = typeof p === 'string' ? p : exportRepro(makeRepro(p, [], null), 'c').files[0]!.text;
  const src = join(work, `${name}.c`);
  writeFileSync(src, edit(text));
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-pthread', '-o', join(work, name), src], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  return join(work, name);
}

function run(bin: string, dir: string): Outcome {
  const r = spawnSync(bin, [dir, String(ITERATIONS)], { encoding: 'utf8', timeout: 120_000 });
  const m = new RegExp(`^(\\d+)/${ITERATIONS} iterations diverged from a fixed kernel$`, 'm').exec(r.stdout);
  assert.ok(m, `no k/N line: ${r.stdout}${r.stderr}`);
  return { diverged: Number(m[1]), status: r.status, stdout: r.stdout };
}

function reproducesHere(release: string): boolean {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'corpus', 'known', 'manifest.json'), 'utf8')) as
    { switch: string; kernel?: { reproducesOn: string[] } }[];
  const e = manifest.find((x) => x.switch === 'dio-extend-no-isize-extended')!;
  return e.kernel!.reproducesOn.some((r) => release.startsWith(r));
}

describe(`exported C programs on ext4 with indirect-block inodes, 1024-byte blocks`, () => {
  const suite = mountForSuite(SPEC);

  test('dio-extend-no-isize-extended: the store the direct write exposes is lost in most iterations', (t) => {
    const k = knownRepros().find((x) => x.name === 'dio-extend-no-isize-extended')!;
    const out = run(build('dio-extend', exportRepro(k.repro, 'c').files[0]!.text), suite.mount().dir);
    const release = /Linux (\S+),/.exec(out.stdout)?.[1] ?? '?';
    if (!reproducesHere(release)) {
      t.diagnostic(`Linux ${release}: ${out.diverged}/${ITERATIONS}; the bug was seen on other releases (corpus/known/manifest.json)`);
      return;
    }
    assert.ok(out.diverged > ITERATIONS / 2, out.stdout);
    assert.equal(out.status, 1);
    assert.match(out.stdout, /^ {2}t0 #5 pread fd=1 off=0 len=8192: byte 5120 is 0x00, a fixed kernel reads 0x05$/m);
    assert.doesNotMatch(out.stdout, /^warning:/m, 'the mount is what the header asks for');
  });

  test('a healthy program with AIO in it diverges in no iteration: completions judged by io_getevents\' res', () => {
    const p = program(SPEC, 1, [{ file: 0, direct: false }, { file: 0, direct: true }], [[
      { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 0xaa },
      { op: 'fsync', fd: 0 },
      { op: 'aio_write', fd: 1, off: 8192, len: 4096, fill: 0xbb, iocb: 1 },
      { op: 'aio_wait', iocb: 1 },
      { op: 'aio_write', fd: 1, off: 0, len: 4096, fill: 0xcc, iocb: 2 },
      { op: 'pread', fd: 0, off: 0, len: 12288 },
      { op: 'aio_wait', iocb: 2 },
      { op: 'aio_read', fd: 1, off: 0, len: 12288, iocb: 3 },
      { op: 'pread', fd: 0, off: 0, len: 12288 },
    ]]);
    // The sim completes the extending write at once (a fallback to buffered I/O over a hole), yet
    // io_submit returns 0 and the bytes come with the completion (aio_wait): comparing io_submit's
    // return with the completion's count was the old export's false MISMATCH.
    const sim = runProgram(p);
    assert.equal(sim.violation, null);
    const ret = (i: number): number | undefined => sim.results.find((r) => r.index === i)?.ret;
    assert.deepEqual([ret(2), ret(3)], [0, 4096], JSON.stringify(sim.results));
    const out = run(build('aio', p), suite.mount().dir);
    assert.equal(out.diverged, 0, out.stdout);
    assert.equal(out.status, 0);
  });

  test('several threads: read-your-writes and cache against disk find nothing, and an expectation off by one byte is caught', () => {
    const p = program(SPEC, 1, [{ file: 0, direct: false }], [
      [{ op: 'pwrite', fd: 0, off: 8192, len: 4096, fill: 0xaa }, { op: 'pread', fd: 0, off: 8192, len: 4096 }],
      [
        { op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 0xbb },
        { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
        { op: 'mwrite', map: 0, off: 100, len: 10, fill: 0xcc },
        { op: 'munmap', map: 0 },
        { op: 'fsync', fd: 0 },
      ],
    ]);
    const dir = suite.mount().dir;
    const healthy = run(build('threads', p), dir);
    assert.equal(healthy.diverged, 0, healthy.stdout);
    const check = '{ 8192ULL, 4096ULL, 0xaa }';
    const wrong = run(build('threads-wrong', p, (c) => {
      assert.ok(c.includes(check), 'the read-your-writes check is compiled in');
      return c.replace(check, '{ 8192ULL, 4096ULL, 0xab }');
    }), dir);
    assert.equal(wrong.diverged, ITERATIONS, wrong.stdout);
    assert.match(wrong.stdout, /^ {2}t0 #1 pread fd=0 off=8192 len=4096: byte 8192 is 0xaa, a fixed kernel reads 0xab$/m);
  });
});

describe('exported C programs of bugs fixed long ago, on xfs with 1024-byte blocks', () => {
  const suite = mountForSuite({ fs: 'xfs', inode: 'extent', blockSize: 1024 });
  for (const name of ['iomap-no-validity-check', 'mkwrite-ifs-zeroed']) {
    test(`${name}: a fixed kernel's results, reads and final contents in every iteration`, () => {
      const k = knownRepros().find((x) => x.name === name)!;
      const out = run(build(name, exportRepro(k.repro, 'c').files[0]!.text), suite.mount().dir);
      assert.equal(out.diverged, 0, out.stdout);
      assert.equal(out.status, 0);
      assert.doesNotMatch(out.stdout, /^warning:/m);
    });
  }
});
