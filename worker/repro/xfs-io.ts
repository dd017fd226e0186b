// Export a program as xfs_io scripts (the format worker/prog/xfs-io.ts imports):
// one command per line, run as `xfs_io -f [-d] FILE < script`. Ops xfs_io has no
// command for become '#' comment lines saying what the sim did there. xfs_io
// works on one fd, so a program with several files or fds is refused. The
// header (recipe.ts) says how to make the filesystem, how to run the scripts,
// and what the file must hold afterwards on a fixed kernel (expect.ts, for the
// script imported back, so ops left as comments are left out of it too).

import { createHash } from 'node:crypto';
import { describeOp } from '../prog/describe.js';
import type { Op, Program } from '../prog/types.js';
import { parseXfsIoScript } from '../prog/xfs-io.js';
import { ExportError } from './errors.js';
import { expectations } from './expect.js';
import { firstFault } from './fixed-run.js';
import { MOUNT_DIR, faultLines, findingLines, recipeLines } from './recipe.js';
import type { Repro } from './repro.js';
import { ordinal, plural } from './words.js';

const PAGE_SIZE = 4096;
const hex = (n: number): string => `0x${n.toString(16)}`;

const FALLOC_COMMANDS: Record<string, string> = {
  alloc: 'falloc', keep_size: 'falloc -k', punch: 'fpunch', zero: 'fzero', zero_keep: 'fzero -k',
  collapse: 'fcollapse', insert: 'finsert', unshare: 'funshare',
};
const SYNC_RANGE_OPTS: Record<number, string> = { 1: '-b', 2: '-w', 4: '-a' };

interface Mapping { id: number; off: number; len: number }

/** xfs_io's mapping table as the importer tracks it (failed mmaps are not in it). */
class MapTable {
  maps: Mapping[] = [];

  /** The lines that make `id` current and check [off, off+len) lies in it, or a reason. */
  select(id: number, off: number, len: number, pageAlign: boolean): string[] | string {
    const i = this.maps.findIndex((m) => m.id === id);
    const m = this.maps[i];
    if (m === undefined) return `map ${id} is not mapped (its mmap failed)`;
    if (off < m.off || off + len > m.off + m.len) return `range [${off}, ${off + len}) is outside map ${id}`;
    if (pageAlign && (off - m.off) % PAGE_SIZE !== 0) return 'offset not page aligned in the mapping';
    return [`mmap ${i}`];
  }
}

function comment(op: Op, why: string): string {
  return `# sim: ${describeOp(op).trimEnd()} -- ${why}`;
}

/** The xfs_io lines of one op. */
function opLines(op: Op, maps: MapTable): string[] {
  switch (op.op) {
    case 'pwrite':
      return [`pwrite -S ${hex(op.fill)} ${op.bsize === undefined ? '-O' : `-b ${op.bsize}`} ${op.off} ${op.len}`];
    case 'pread':
      return [`pread ${op.bsize !== undefined ? `-b ${op.bsize} ` : op.len > 0 ? `-b ${op.len} ` : ''}${op.off} ${op.len}`];
    case 'truncate':
      return [`truncate ${op.size}`];
    case 'fallocate':
      return [`${FALLOC_COMMANDS[op.mode] ?? 'falloc'} ${op.off} ${op.len}`];
    case 'fsync':
    case 'fdatasync':
      return [op.op];
    case 'sync_file_range': {
      const opt = SYNC_RANGE_OPTS[op.flags];
      return opt === undefined
        ? [comment(op, 'xfs_io sync_range takes one flag (the last option wins); this combination has no command')]
        : [`sync_range ${opt} ${op.off} ${op.len}`];
    }
    case 'fadvise_dontneed':
      return [`fadvise -d ${op.off} ${op.len}`];
    case 'mmap': {
      if (op.len > 0 && op.off % PAGE_SIZE === 0) maps.maps.push({ id: op.map, off: op.off, len: op.len });
      return [`mmap ${op.prot === 'r' ? '-r' : op.prot === 'w' ? '-w' : '-rw'} ${op.off} ${op.len}`];
    }
    case 'mread':
    case 'mwrite':
    case 'msync': {
      const sel = maps.select(op.map, op.off, op.len, op.op === 'msync');
      if (typeof sel === 'string') return [comment(op, sel)];
      const cmd = op.op === 'mread' ? `mread ${op.off} ${op.len}`
        : op.op === 'mwrite' ? `mwrite -S ${hex(op.fill)} ${op.off} ${op.len}`
          : `msync ${op.sync ? '-s' : '-a'} ${op.off} ${op.len}`;
      return [...sel, cmd];
    }
    case 'munmap': {
      const i = maps.maps.findIndex((m) => m.id === op.map);
      if (i < 0) return [comment(op, `map ${op.map} is not mapped`)];
      maps.maps.splice(i, 1);
      return [`mmap ${i}`, 'munmap'];
    }
    case 'copy_range':
      return [comment(op, 'xfs_io copy_range copies from another file (and closes it): run it by hand')];
    case 'drop_caches':
      return [comment(op, 'sync; echo 3 > /proc/sys/vm/drop_caches')];
    case 'evict':
      return [comment(op, 'the inode was written back and evicted (approximate with syncfs + drop_caches)')];
    case 'remount':
      return [comment(op, 'clean unmount and mount again')];
    case 'power_cut':
      return [comment(op, `power cut here (seed ${op.seed}), then mount again: xfs_io cannot do it (use dm-log-writes or a VM reset; xfs_io -x -c "shutdown" only approximates it), the rest of the script runs on uncut files`)];
    case 'close_open':
      return [comment(op, 'the fd was closed and opened again (its errseq cursor sampled anew)')];
    case 'aio_write':
    case 'aio_read':
    case 'aio_wait':
      return [comment(op, 'Linux AIO (io_submit/io_getevents) on the O_DIRECT fd; xfs_io has no command for it here')];
    case 'writeback_kick':
      return [comment(op, 'the flusher was woken (background writeback, concurrent with the caller)')];
    case 'reclaim':
      return [comment(op, 'kswapd reclaimed clean folios (memory pressure)')];
    case 'fail_bio':
      return [comment(op, `fault injection: the ${ordinal(op.skip + 1)} ${op.write ? 'write' : 'read'} bio from here ${op.short === true ? 'is short' : 'fails with -EIO'} (dm-flakey or fail_make_request)`)];
  }
}

function checkShape(p: Program): void {
  if (p.files.length !== 1 || p.fds.length !== 1) {
    throw new ExportError(`xfs_io export: the program has ${plural(p.files.length, 'file')} and ${plural(p.fds.length, 'fd')}; an xfs_io script works on one file through one fd (use the C export)`);
  }
}

/** The script of one thread (fd 0 of the program is xfs_io's file). */
function threadScript(p: Program, t: number): string[] {
  const maps = new MapTable();
  return p.threads[t]!.ops.flatMap((op) => opLines(op, maps));
}

/** What the file holds after a sequential script, as a fixed kernel leaves it (the script as written: ops it has no command for are left out). */
function expectedLines(r: Repro, script: string, file: string): string[] {
  const p = r.program;
  const e = expectations(parseXfsIoScript(script, 'xfs_io export', { direct: p.fds[0]!.direct, config: p.config }));
  if (e.final.kind !== 'exact') return [`Expected afterwards: nothing is stated: ${e.final.kind === 'none' ? e.final.why : 'several threads'}.`];
  const { ret: size, spans } = e.final.files[0]!.cache;
  const check = `md5sum ${file}, and as root again after sync; echo 3 > /proc/sys/vm/drop_caches`;
  const head = 'Expected afterwards (a fixed kernel, for the script as written: ops it has no command for are left out):';
  const whole = spans.reduce((n, s) => n + s.len, 0) === size;
  if (whole) {
    const bytes = new Uint8Array(size ?? 0);
    for (const s of spans) bytes.fill(s.byte, s.off, s.off + s.len);
    return [head, `  ${file} is ${size} bytes, md5 ${createHash('md5').update(bytes).digest('hex')}`, `  (${check})`];
  }
  const shown = spans.slice(0, MAX_SPANS).map((s) => `    [${s.off}, ${s.off + s.len}) 0x${s.byte.toString(16).padStart(2, '0')}`);
  return [
    head,
    `  ${file} is ${size} bytes; bytes not listed may be either (POSIX leaves them open: stores past EOF that`,
    `  an extension exposed), the rest hold (${check}):`,
    ...shown,
    ...(spans.length > MAX_SPANS ? [`    ... and ${spans.length - MAX_SPANS} more spans`] : []),
  ];
}

const MAX_SPANS = 24;

function concurrentLines(file: string): string[] {
  return [
    'Expected afterwards: the threads race, so only what holds for any interleaving: md5sum ' + file + ' gives the',
    'same before and (as root) after sync; echo 3 > /proc/sys/vm/drop_caches, except where the scripts stored',
    'through a mapping.',
  ];
}

/** The header: the finding, the filesystem recipe, how to run, what to expect; '#' lines, which xfs_io does not take. */
function headerLines(r: Repro, scripts: string[]): string[] {
  const p = r.program;
  const file = `${MOUNT_DIR}/f0`;
  const xfsIo = `xfs_io -f${p.fds[0]!.direct ? ' -d' : ''} ${file}`;
  const run = scripts.length === 1
    ? `grep -v '^#' xfs_io.txt | ${xfsIo}`
    : `for s in ${scripts.map((_s, t) => `xfs_io-t${t}.txt`).join(' ')}; do grep -v '^#' $s | ${xfsIo} & done; wait`;
  const cut = firstFault(p);
  const expected = cut !== null ? [] : scripts.length === 1 ? expectedLines(r, scripts[0]!, file) : concurrentLines(file);
  const sections = [
    [`foliofuzz reproducer: ${r.signature || 'a program with no recorded finding'}`],
    [`switches in the sim: ${r.bugs.join(', ') || '(none)'}; sim config fs=${p.config.fs} inode=${p.config.inode} blockSize=${p.config.blockSize} folioMax=${p.config.folioMax}`],
    findingLines(r),
    faultLines(p, cut),
    // xfs_io (6.1) has no comment syntax: "#" lines are for people and for `foliofuzz import --xfs-io`.
    recipeLines(p, run),
    expected,
  ].filter((x) => x.length > 0);
  return sections.flatMap((x, k) => [...(k > 0 ? ['#'] : []), ...x.map((l) => `# ${l}`.trimEnd())]);
}

/** One script per thread: `xfs_io.txt` for a sequential program, `xfs_io-tN.txt` otherwise. */
export function exportXfsIo(r: Repro): { name: string; text: string }[] {
  const p = r.program;
  checkShape(p);
  const scripts = p.threads.map((_th, t) => threadScript(p, t).join('\n') + '\n');
  const head = headerLines(r, scripts);
  if (p.threads.length === 1) return [{ name: 'xfs_io.txt', text: [...head, scripts[0]!].join('\n') }];
  const inter = (t: number): string[] => [
    `# thread ${t} of ${p.threads.length}: run the scripts concurrently on the same file;`,
    `# the sim's interleaving (${p.schedule?.strategy ?? 'default'} schedule, ${plural(p.schedule?.decisions.length ?? 0, 'decision')}) is in the text export`,
  ];
  return scripts.map((script, t) => ({ name: `xfs_io-t${t}.txt`, text: [...head, ...inter(t), script].join('\n') }));
}
