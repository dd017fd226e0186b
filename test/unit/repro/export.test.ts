// The exporters, over every known reproducer: every format either exports or
// refuses with an ExportError naming why; the C program of every known and
// regress program compiles with -O2 -Wall -Werror (running them is the kernel
// twin's test, test/twin/export.test.ts, on the filesystems they need);
// the xfs_io scripts run under the real xfs_io without a rejected command and
// import back to the same ops; the fsx opsfile imports back to the same ops;
// the text trace shows the interleaving, the frames and the violation.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseFsxOps } from '../../../worker/prog/fsx.js';
import type { Op, Program } from '../../../worker/prog/types.js';
import { DEFAULT_CONFIG } from '../../../worker/prog/types.js';
import { parseXfsIoScript } from '../../../worker/prog/xfs-io.js';
import { ExportError } from '../../../worker/repro/errors.js';
import { EXPORT_FORMATS, exportRepro } from '../../../worker/repro/export.js';
import { makeRepro, parseRepro, type Repro } from '../../../worker/repro/repro.js';
import { runRealXfsIoSync } from '../../differential/real-xfs-io.js';
import { knownRepros } from './known.js';

const known = knownRepros();

/** Ops with no xfs_io command: the export writes them as comments. */
const XFS_IO_COMMENTED = new Set<Op['op']>([
  'copy_range', 'drop_caches', 'evict', 'remount', 'close_open', 'aio_write', 'aio_read', 'aio_wait',
  'writeback_kick', 'reclaim', 'fail_bio', 'power_cut',
]);

/** One syscall whenever bsize covers the whole length: the same I/O. */
function normalise(ops: Op[], dropFill = false): Op[] {
  const mapIds = new Map<number, number>();
  const mapId = (m: number): number => mapIds.get(m) ?? (mapIds.set(m, mapIds.size), mapIds.size - 1);
  return ops.map((op) => {
    const o = { ...op } as Op & { bsize?: number; map?: number; fill?: number };
    if ((o.op === 'pwrite' || o.op === 'pread') && (o.bsize === undefined || o.bsize >= o.len)) delete o.bsize;
    if (o.map !== undefined) o.map = mapId(o.map);
    if (dropFill) delete o.fill;
    return o;
  });
}

function expectOrRefuse(r: Repro, format: (typeof EXPORT_FORMATS)[number]): { name: string; text: string }[] | null {
  try {
    return exportRepro(r, format).files;
  } catch (e) {
    assert.ok(e instanceof ExportError, `${format}: ${String(e)}`);
    assert.match(e.message, new RegExp(`^${format.replace('_', '_?')} export: `));
    return null;
  }
}

const workDir = mkdtempSync(join(tmpdir(), 'foliofuzz-repro-test-'));
test.after(() => rmSync(workDir, { recursive: true, force: true }));

const REGRESS = fileURLToPath(new URL('../../../../corpus/regress/', import.meta.url));

test('the C export of every known and regress program compiles with gcc -O2 -Wall -Werror -pthread', () => {
  const regress = readdirSync(REGRESS).filter((f) => f.endsWith('.json'))
    .map((f) => ({ name: f.replace(/\.json$/, ''), repro: parseRepro(readFileSync(join(REGRESS, f), 'utf8'), f) }));
  const all = [...known.map((k) => ({ name: k.name, repro: k.repro })), ...regress];
  assert.ok(regress.length > 20 && known.length > 10, `${regress.length} regress and ${known.length} known programs`);
  const sources = all.map(({ name, repro }) => {
    const src = join(workDir, `${name}.c`);
    writeFileSync(src, exportRepro(repro, 'c').files[0]!.text);
    return src;
  });
  // One compiler run for all of them (-c: each is a whole program with its own main).
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-pthread', '-c', ...sources], { encoding: 'utf8', cwd: workDir });
  assert.equal(cc.status, 0, cc.stderr);
});

for (const k of known) {
  const r = k.repro;

  test(`${k.name}: every format exports or refuses clearly; json parses back`, () => {
    for (const f of EXPORT_FORMATS) {
      const files = expectOrRefuse(r, f);
      if (f === 'json' || f === 'text' || f === 'c') assert.ok(files !== null && files.length === 1, `${f} never refuses`);
    }
    assert.deepEqual(parseRepro(exportRepro(r, 'json').files[0]!.text, 'r.json'), r);
  });

  test(`${k.name}: the text trace shows ops, context switches, frames and the violation`, () => {
    const text = exportRepro(r, 'text').files[0]!.text;
    assert.match(text, /^switches: {2}/m);
    assert.match(text, /^t0 #0 > /m);
    assert.match(text, /^t0 #0 < /m);
    if (k.signature === '') {
      assert.match(text, /no violation: the run stayed silent/);
    } else {
      assert.ok(text.includes(`\n${k.signature}\n`), 'names the violation');
      assert.match(text, /^ {2}stacks:$/m);
    }
    for (const l of text.split('\n').filter((x) => x.includes('-- switch '))) {
      assert.match(l, /^ {3}-- switch \S+ -> \S+; \S+ is in (user space \(no kernel frames\)|[a-z_0-9]+( <- [a-z_0-9]+)*)$/);
    }
  });

  const xfs = expectOrRefuse(r, 'xfs_io');
  if (xfs !== null) {
    test(`${k.name}: the xfs_io export runs under the real xfs_io and imports back to the same ops`, () => {
      // One script per thread (run concurrently on one file); each must run alone too.
      assert.equal(xfs.length, r.program.threads.length);
      xfs.forEach(({ text: script }, t) => {
        const direct = r.program.fds[0]!.direct;
        // xfs_io 6.1 has no comment syntax, hence the grep in the script's run line.
        const real = runRealXfsIoSync(script.split('\n').filter((l) => !l.startsWith('#')).join('\n'), { direct, parentDir: workDir });
        assert.doesNotMatch(real.stderr, /not found|bad argument|invalid option|non-numeric|usage|no mapped regions/i, real.stderr);
        const back = parseXfsIoScript(script, 'x.xfs_io', { direct, config: r.program.config });
        const fitting = r.program.threads[t]!.ops.filter((o) => !XFS_IO_COMMENTED.has(o.op)
          && !(o.op === 'sync_file_range' && ![1, 2, 4].includes(o.flags)));
        assert.deepEqual(normalise(back.threads[0]!.ops), normalise(fitting));
      });
    });
  }

  const fsx = expectOrRefuse(r, 'fsx');
  if (fsx !== null) {
    test(`${k.name}: the fsx export imports back to the same ops`, () => {
      const back = parseFsxOps(fsx[0]!.text, 'x.fsxops', { direct: r.program.fds[0]!.direct, config: r.program.config });
      assert.deepEqual(normalise(back.threads[0]!.ops, true), normalise(r.program.threads[0]!.ops, true));
    });
  }
}

/** A one-thread program over fsx's whole op set. */
function fsxProgram(): Program {
  const ops: Op[] = [
    { op: 'pwrite', fd: 0, off: 0, len: 8192, fill: 1 },
    { op: 'pread', fd: 0, off: 100, len: 1000 },
    { op: 'truncate', fd: 0, size: 20000 },
    ...(['alloc', 'keep_size', 'punch', 'zero', 'zero_keep', 'collapse', 'insert', 'unshare'] as const)
      .map((mode): Op => ({ op: 'fallocate', fd: 0, mode, off: 4096, len: 4096 })),
    { op: 'copy_range', fdIn: 0, offIn: 0, fdOut: 0, offOut: 16384, len: 4096 },
    { op: 'fsync', fd: 0 },
  ];
  return { version: 1, config: { ...DEFAULT_CONFIG, fs: 'ext4' }, files: [{ name: 'f' }], fds: [{ file: 0, direct: false }], threads: [{ ops }] };
}

test('the text trace shows the kernel frames of a thread preempted inside a syscall', () => {
  const k = known.find((x) => x.name === 'iomap-no-validity-check')!;
  const text = exportRepro(k.repro, 'text').files[0]!.text;
  assert.match(text, /^ {3}-- switch t0 -> \S+; t0 is in iomap_file_buffered_write <- ksys_pwrite64$/m);
});

test('fsx export covers fsx op set and refuses what does not fit, naming the op', () => {
  const p = fsxProgram();
  const text = exportRepro(makeRepro(p, [], null), 'fsx').files[0]!.text;
  const back = parseFsxOps(text, 'x', { direct: false, config: p.config });
  assert.deepEqual(normalise(back.threads[0]!.ops, true), normalise(p.threads[0]!.ops, true));
  const bad: Program = { ...p, threads: [{ ops: [...p.threads[0]!.ops, { op: 'fdatasync', fd: 0 }] }] };
  assert.throws(() => exportRepro(makeRepro(bad, [], null), 'fsx'),
    (e: unknown) => e instanceof ExportError && e.message === 'fsx export: t0 op 13 (fdatasync fd=0) does not fit: fsx has no fdatasync operation');
});

test('a concurrent program exports one xfs_io script per thread, with a header on the interleaving', () => {
  const p: Program = {
    version: 1, config: DEFAULT_CONFIG, files: [{ name: 'f' }], fds: [{ file: 0, direct: false }],
    threads: [{ ops: [{ op: 'pwrite', fd: 0, off: 0, len: 4096, fill: 7 }] }, { ops: [{ op: 'pread', fd: 0, off: 0, len: 4096 }, { op: 'reclaim' }] }],
  };
  const files = exportRepro(makeRepro(p, [], null), 'xfs_io').files;
  assert.deepEqual(files.map((f) => f.name), ['xfs_io-t0.txt', 'xfs_io-t1.txt']);
  assert.match(files[1]!.text, /^# thread 1 of 2: run the scripts concurrently/m);
  assert.match(files[1]!.text, /^pread -b 4096 0 4096$/m);
  assert.match(files[1]!.text, /^# sim: reclaim -- kswapd reclaimed/m);
});
