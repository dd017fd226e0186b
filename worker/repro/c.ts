// Export a program as one C file for a real kernel: pthreads, one thread per
// program thread, real syscalls, and the checks of what a fixed kernel shows
// (expect.ts) compiled in, so that it needs nothing of foliofuzz:
//
//   gcc -O2 -Wall -pthread -o repro repro.c && ./repro DIR 1000
//
// runs the program 1000 times on fresh files in DIR and prints how many
// iterations diverged from a fixed kernel (k/N), with the first one's
// divergences. The header says how to make the filesystem the program needs
// (recipe.ts), what it expects and why, and what it cannot do (faults).
// This file writes the program's own parts; the fixed parts are
// c-runtime.ts (checks, iterations) and c-ops.ts (the ops as syscalls).

import { describeOp } from '../prog/describe.js';
import { definedId, referencedId, type IdSpace } from '../prog/ops.js';
import type { FallocMode, Op, Program } from '../prog/types.js';
import { describeSpec } from '../twin/provision.js';
import { C_OPS } from './c-ops.js';
import { C_CHECKS, C_RUN, C_TYPES } from './c-runtime.js';
import { type Expectations, type OpWant, type Span, type Want, expectations } from './expect.js';
import { MOUNT_DIR, faultLines, findingLines, recipeLines, referenceLines } from './recipe.js';
import type { Repro } from './repro.js';
import { ordinal } from './words.js';

const FALLOC_FLAGS: Record<FallocMode, string> = {
  alloc: '0',
  keep_size: 'FALLOC_FL_KEEP_SIZE',
  punch: 'FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE',
  zero: 'FALLOC_FL_ZERO_RANGE',
  zero_keep: 'FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE',
  collapse: 'FALLOC_FL_COLLAPSE_RANGE',
  insert: 'FALLOC_FL_INSERT_RANGE',
  unshare: 'FALLOC_FL_UNSHARE_RANGE',
};

const FS_MAGIC = { ext4: 'EXT4_SUPER_MAGIC', xfs: 'XFS_SUPER_MAGIC', fuse: 'FUSE_SUPER_MAGIC' } as const;

/** Before each op of a program of several threads, odd iterations pause up to this many µs. */
const JITTER_US = 200;

const u = (n: number): string => `${n}ULL`;
const hex = (n: number): string => `0x${n.toString(16)}`;
const what = (t: number, i: number, op: Op): string => `t${t} #${i} ${describeOp(op).trimEnd()}`;

/** Text safe inside a C block comment. */
const commentSafe = (s: string): string => s.replace(/\*\//g, '* /');

// ---------------------------------------------------------------------------
// The header

function checksLines(e: Expectations): string[] {
  if (e.concurrent) {
    return [
      'What it checks, each iteration on fresh files: the threads race, so what holds for every',
      'interleaving: what a thread reads of bytes it wrote itself and no other thread may change',
      '(read-your-writes), and, as root, that the page cache and the disk agree after the program',
      '(except bytes stored through a mapping) and that the kernel logged no WARNING or BUG. The threads',
      `start together at a barrier; odd iterations pause up to ${JITTER_US} µs before each op.`,
    ];
  }
  return [
    'What it checks, each iteration on fresh files: every op\'s result (while no AIO is in flight),',
    'the bytes of every read (pread, mread, aio_read), every AIO completion (io_getevents\' res, when',
    'reaped), and every file\'s final contents through the page cache; as root also after syncfs and',
    'drop_caches, and that the kernel logged no WARNING or BUG.',
  ];
}

/** What ops with no syscall of their own become. */
function approximationLines(p: Program): string[] {
  const has = (name: Op['op']): boolean => p.threads.some((t) => t.ops.some((o) => o.op === name));
  const out: string[] = [];
  if (has('evict')) {
    out.push('evict: the file is written back, its clean pages dropped, every fd of it let go of and opened',
      '  again, the inode cache pruned (as root): a process cannot evict an inode it holds open.');
  }
  if (has('remount')) out.push('remount: the same for every file: this program does not own the mount.');
  if (has('writeback_kick') || has('reclaim')) {
    out.push('writeback_kick, reclaim: a helper thread runs sync_file_range(WRITE) or fadvise(DONTNEED) over',
      '  every file beside the program, as the flusher and kswapd run beside it in the sim.');
  }
  return out.length ? ['Ops with no syscall of their own:', ...out.map((l) => `  ${l}`)] : [];
}

function header(r: Repro, e: Expectations): string {
  const p = r.program;
  const sections = [
    [`foliofuzz reproducer: ${r.signature || 'a program with no recorded finding'}`],
    findingLines(r),
    referenceLines(),
    checksLines(e),
    faultLines(p, e.cut),
    e.gap !== null && e.cut === null ? [`Not checked: ${e.gap}.`] : [],
    approximationLines(p),
    [
      'Build: gcc -O2 -Wall -pthread -o repro repro.c',
      'Run:   ./repro DIR [ITERATIONS]: fresh files f0, f1, ... in DIR each iteration; prints the first',
      '       diverging iteration\'s divergences and k/N at the end; exit 0 none diverged, 1 some did, 2 setup failed.',
    ],
    recipeLines(p, `./repro ${MOUNT_DIR} 1000`),
  ].filter((s) => s.length > 0);
  const body = sections.map((s) => s.map((l) => commentSafe(` * ${l}`).trimEnd()).join('\n')).join('\n *\n');
  return `/*\n${body}\n */`;
}

// ---------------------------------------------------------------------------
// The program's shape

function slots(p: Program, space: IdSpace): number {
  let n = 1;
  for (const o of p.threads.flatMap((t) => t.ops)) n = Math.max(n, (definedId(o, space) ?? referencedId(o, space) ?? -1) + 1);
  return n;
}

function countOps(p: Program, test: (op: Op) => boolean): number {
  return p.threads.reduce((n, t) => n + t.ops.filter(test).length, 0);
}

function spanList(spans: Span[]): string {
  return spans.map((s) => `{ ${u(s.off)}, ${u(s.len)}, ${hex(s.byte)} }`).join(', ');
}

/** A static span array named `name` and the initializer of a struct want over it. */
function wantInit(w: Want, name: string, out: string[]): string {
  if (w.spans.length > 0) out.push(`static const struct span ${name}[] = { ${spanList(w.spans)} };`);
  return `{ ${w.ret === null ? 'NOCHECK' : `${w.ret}LL`}, ${w.spans.length}, ${w.spans.length > 0 ? name : 'NULL'} }`;
}

function excusedLines(p: Program, e: Expectations): string[] {
  const excused = e.final.kind === 'cache-vs-disk' ? e.final.excused : p.files.map(() => []);
  const out: string[] = [];
  excused.forEach((ranges, f) => {
    const spans = ranges.map(([a, b]) => `{ ${u(a)}, ${u(b - a)}, 0 }`);
    out.push(`static const struct span excused_f${f}[] = { ${spans.length ? spans.join(', ') : '{ 0, 0, 0 }'} };`);
  });
  out.push(`static const struct span *const excused_spans[NFILES] = { ${p.files.map((_f, f) => `excused_f${f}`).join(', ')} };`);
  out.push(`static const int excused_n[NFILES] = { ${excused.map((r) => r.length).join(', ')} };`);
  return out;
}

function shape(p: Program, e: Expectations): string {
  const nAio = countOps(p, (o) => o.op === 'aio_write' || o.op === 'aio_read');
  const c = p.config;
  return [
    `#define NFILES ${p.files.length}`,
    `#define NFDS ${p.fds.length}`,
    `#define NTHREADS ${p.threads.length}`,
    `#define NMAPS ${slots(p, 'map')}`,
    `#define NAIO ${Math.max(1, nAio)}`,
    `#define NAIO_USED ${nAio > 0 ? 1 : 0}`,
    `#define NHELPERS ${Math.max(1, countOps(p, (o) => o.op === 'writeback_kick' || o.op === 'reclaim'))}`,
    // Pauses shift the program's threads against each other; a helper thread's race with the next op
    // (writeback_kick, then a write) is lost more often than not when that op waits.
    `#define JITTER_US ${p.threads.length > 1 ? JITTER_US : 0}`,
    `#define FINAL_CACHE_VS_DISK ${e.final.kind === 'cache-vs-disk' ? 1 : 0}`,
    `#define FS_MAGIC ${FS_MAGIC[c.fs]}`,
    `#define FS_BLOCK ${c.blockSize}`,
    `#define FS_EXTENTS ${c.fs === 'ext4' ? (c.inode === 'extent' ? 1 : 0) : -1}`,
    `#define FS_NEED "${describeSpec(c)}"`,
    '',
    `static const int fd_file[NFDS] = { ${p.fds.map((d) => d.file).join(', ')} };`,
    `static const int fd_direct[NFDS] = { ${p.fds.map((d) => (d.direct ? 1 : 0)).join(', ')} };`,
    `static const int stale_is_bug[NFILES] = { ${e.staleIsBug.map((b) => (b ? 1 : 0)).join(', ')} };`,
    ...excusedLines(p, e),
  ].join('\n');
}

// ---------------------------------------------------------------------------
// The threads

interface OpCtx {
  p: Program;
  t: number;
  i: number;
  w: OpWant;
  concurrent: boolean;
  /** The AIO slot of this op, when it submits one. */
  slot: number;
  /** Static tables the op's statements use. */
  tables: string[];
}

/** An expectation a concurrent thread may have lost (off_path): then NULL. */
function guarded(c: OpCtx, ref: string): string {
  return c.concurrent ? `off_path[${c.t}] ? NULL : ${ref}` : ref;
}

function preadCall(c: OpCtx, op: Extract<Op, { op: 'pread' }>): string {
  const name = `calls_t${c.t}_${c.i}`;
  const inits = c.w.calls.map((cw, k) => `{ ${u(cw.off)}, ${wantInit(cw.want, `${name}_${k}`, c.tables)} }`);
  if (inits.length > 0) c.tables.push(`static const struct call_want ${name}[] = { ${inits.join(', ')} };`);
  const list = inits.length > 0 ? guarded(c, name) : 'NULL';
  return `do_pread(what, ${op.fd}, ${u(op.off)}, ${u(op.len)}, ${u(op.bsize ?? op.len)}, ${list}, ${inits.length})`;
}

function wantRef(c: OpCtx, w: Want | null, name: string): string {
  if (w === null) return 'NULL';
  c.tables.push(`static const struct want ${name} = ${wantInit(w, `${name}_spans`, c.tables)};`);
  return guarded(c, `&${name}`);
}

/** The C expression an op evaluates to: its result. */
function opCall(op: Op, c: OpCtx): string {
  const fd = (n: number): string => `fds[${n}]`;
  switch (op.op) {
    case 'pwrite': return `do_pwrite(${op.fd}, ${u(op.off)}, ${u(op.len)}, ${hex(op.fill)}, ${u(op.bsize ?? op.len)})`;
    case 'pread': return preadCall(c, op);
    case 'truncate': return `rc(ftruncate(${fd(op.fd)}, ${op.size}LL))`;
    case 'fallocate': return `rc(fallocate(${fd(op.fd)}, ${FALLOC_FLAGS[op.mode]}, ${op.off}LL, ${op.len}LL))`;
    case 'copy_range': return `do_copy_range(${op.fdIn}, ${u(op.offIn)}, ${op.fdOut}, ${u(op.offOut)}, ${u(op.len)})`;
    case 'fsync': return `rc(fsync(${fd(op.fd)}))`;
    case 'fdatasync': return `rc(fdatasync(${fd(op.fd)}))`;
    case 'sync_file_range': return `rc(sync_file_range(${fd(op.fd)}, ${op.off}LL, ${op.len}LL, ${op.flags}))`;
    case 'fadvise_dontneed': return `-posix_fadvise(${fd(op.fd)}, ${op.off}LL, ${op.len}LL, POSIX_FADV_DONTNEED)`;
    case 'drop_caches': return 'do_drop_caches()';
    case 'evict': return `do_evict(${op.file})`;
    case 'remount': return 'do_remount()';
    case 'close_open': return `do_close_open(${op.fd})`;
    case 'mmap': return `do_mmap(${op.map}, ${op.fd}, ${u(op.off)}, ${u(op.len)}, ${op.prot === 'r' ? 0 : op.prot === 'w' ? 1 : 2})`;
    case 'mread': return `do_mread(what, ${op.map}, ${u(op.off)}, ${u(op.len)}, ${wantRef(c, c.w.load, `load_t${c.t}_${c.i}`)})`;
    case 'mwrite': return `do_mwrite(${op.map}, ${u(op.off)}, ${u(op.len)}, ${hex(op.fill)})`;
    case 'msync': return `do_msync(${op.map}, ${u(op.off)}, ${u(op.len)}, ${op.sync ? 1 : 0})`;
    case 'munmap': return `do_munmap(${op.map})`;
    case 'aio_write':
    case 'aio_read': {
      const w = wantRef(c, c.w.completion, `done_t${c.t}_${c.i}`);
      const fill = op.op === 'aio_write' ? hex(op.fill) : '0';
      return `do_aio(${c.slot}, ${op.iocb}, ${op.op === 'aio_write' ? 1 : 0}, ${op.fd}, ${u(op.off)}, ${u(op.len)}, ${fill}, what, ${w})`;
    }
    case 'aio_wait': return `do_aio_wait(${op.iocb})`;
    case 'writeback_kick': return 'do_helper(0)';
    case 'reclaim': return 'do_helper(1)';
    case 'fail_bio':
    case 'power_cut': return '0';
  }
}

/** The file an op's divergences concern (a page cache invalidation failure on it voids them), or -1. */
function fileOf(p: Program, op: Op): number {
  if ('fd' in op) return p.fds[op.fd]!.file;
  if (op.op === 'copy_range') return p.fds[op.fdOut]!.file;
  if (op.op === 'evict') return op.file;
  // A mapping, or an iocb: the file of every op that makes it, when that is one file.
  const makers = p.threads.flatMap((t) => t.ops.filter((o) => ('map' in op && o.op === 'mmap' && o.map === op.map)
    || (op.op === 'aio_wait' && (o.op === 'aio_write' || o.op === 'aio_read') && o.iocb === op.iocb)));
  const files = new Set(makers.map((o) => ('fd' in o ? p.fds[o.fd]!.file : -1)));
  return files.size === 1 ? [...files][0]! : -1;
}

function faultComment(op: Op): string {
  if (op.op === 'power_cut') return `/* power_cut (seed ${op.seed}): the sim cut the power here; nothing from here on is checked */`;
  if (op.op === 'fail_bio') {
    return `/* fail_bio: the sim failed the ${ordinal(op.skip + 1)} ${op.write ? 'write' : 'read'} I/O from here${op.short === true ? ' (a short fuse WRITE)' : ' with -EIO'}; ` +
      'nothing from here on is checked. On a real kernel: dm-flakey under the filesystem, or fail_make_request. */';
  }
  return '';
}

function opBlock(op: Op, c: OpCtx): string[] {
  const lines = [`\t/* #${c.i} ${commentSafe(describeOp(op).trimEnd())} */`];
  if (op.op === 'fail_bio' || op.op === 'power_cut') return [...lines, `\t${faultComment(op)}`];
  const alone = op.op === 'evict' || op.op === 'remount';
  lines.push('\t{', `\t\tconst char *what = "${what(c.t, c.i, op)}";`, `\t\top_enter(&seed, ${alone ? 1 : 0});`,
    `\t\tret = ${opCall(op, c)};`, '\t\top_leave();');
  if (c.w.ret !== null) lines.push(`\t\tcheck_ret(${fileOf(c.p, op)}, what, ret, ${c.w.ret}LL);`);
  if (c.concurrent && c.w.pathRet !== null) lines.push(`\t\tif (ret != ${c.w.pathRet}LL) off_path[${c.t}] = 1;`);
  lines.push('\t\t(void)what;', '\t}');
  return lines;
}

function threadFn(p: Program, e: Expectations, t: number, slotOf: Map<string, number>, tables: string[]): string[] {
  const lines = [`static void thread${t}(void)`, '{', `\tunsigned seed = (unsigned)iteration * 2654435761u + ${t}u;`, '\tlong long ret = 0;', ''];
  p.threads[t]!.ops.forEach((op, i) => {
    const c: OpCtx = { p, t, i, w: e.ops[t]![i]!, concurrent: e.concurrent, slot: slotOf.get(`${t}:${i}`) ?? -1, tables };
    lines.push(...opBlock(op, c));
  });
  lines.push('\t(void)ret;', '\t(void)seed;', '}');
  return lines;
}

function threads(p: Program, e: Expectations): string {
  const slotOf = new Map<string, number>();
  p.threads.forEach((th, t) => th.ops.forEach((op, i) => {
    if (op.op === 'aio_write' || op.op === 'aio_read') slotOf.set(`${t}:${i}`, slotOf.size);
  }));
  const tables: string[] = [];
  const fns = p.threads.map((_th, t) => threadFn(p, e, t, slotOf, tables).join('\n'));
  const body = [
    'static void thread_body(int t)', '{', '\tswitch (t) {',
    ...p.threads.map((_th, t) => `\tcase ${t}: thread${t}(); break;`), '\t}', '}',
  ];
  return [...tables, '', ...fns.flatMap((f) => [f, '']), ...body].join('\n');
}

// ---------------------------------------------------------------------------
// The final contents

function finals(e: Expectations): string {
  if (e.final.kind !== 'exact') {
    return ['static const struct want *final_want(int file, int disk)', '{', '\t(void)file, (void)disk;', '\treturn NULL;', '}'].join('\n');
  }
  const tables: string[] = [];
  const rows = e.final.files.map((f, k) => {
    const cache = wantInit(f.cache, `final_f${k}_cache`, tables);
    const disk = f.disk ? wantInit(f.disk, `final_f${k}_disk`, tables) : '{ NOCHECK, 0, NULL }';
    return `{ ${cache}, ${disk} }`;
  });
  const checked = e.final.files.map((f) => `{ 1, ${f.disk ? 1 : 0} }`);
  return [
    ...tables,
    `static const struct want final_wants[NFILES][2] = { ${rows.join(', ')} };`,
    `static const int final_checked[NFILES][2] = { ${checked.join(', ')} };`,
    '',
    'static const struct want *final_want(int file, int disk)',
    '{',
    '\treturn final_checked[file][disk] ? &final_wants[file][disk] : NULL;',
    '}',
  ].join('\n');
}

export function exportC(r: Repro): string {
  const p = r.program;
  const e = expectations(p);
  return [header(r, e), C_TYPES, shape(p, e), C_CHECKS, C_OPS, C_RUN, threads(p, e), '', finals(e), ''].join('\n');
}
