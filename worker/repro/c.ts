// Export a program as a C program for a real kernel: pthreads, one thread per
// sim thread, real syscalls. argv[1] is the directory to work in (default ".").
// The files are created and the fds opened before the threads start together
// on a barrier; each op prints its result. For a sequential program each
// result is compared with what the sim returned with every switch off (the
// fixed kernel), and a difference prints a MISMATCH line. Ops the kernel has no
// syscall for (evict, remount, fail_bio, power_cut) are approximated or commented.

import { runProgram } from '../exec/run.js';
import { definedId, referencedId, type IdSpace } from '../prog/ops.js';
import type { FallocMode, Op, Program } from '../prog/types.js';
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

const PRELUDE = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ALIGN 4096

static const char *dir = ".";
static pthread_barrier_t barrier;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static aio_context_t aio_ctx;
static int mismatches;

/* -errno on failure, as the sim reports results. */
__attribute__((unused)) static long rc(long r) { return r < 0 ? -errno : r; }

static void report(int t, int i, const char *what, long ret, int check, long want) {
	pthread_mutex_lock(&out_lock);
	printf("t%d #%d %s = %ld\n", t, i, what, ret);
	if (check && ret != want) {
		printf("MISMATCH t%d #%d %s: got %ld, the sim returned %ld\n", t, i, what, ret, want);
		mismatches++;
	}
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

__attribute__((unused)) static char *buffer(size_t len, int fill) {
	void *p = NULL;
	if (posix_memalign(&p, ALIGN, len ? len : 1)) { perror("posix_memalign"); exit(2); }
	memset(p, fill, len);
	return p;
}

/* pwrite/pread issued as syscalls of at most bsize bytes, like xfs_io -b. */
__attribute__((unused)) static long rw_chunks(int write, int fd, char *buf, size_t len, off_t off, size_t bsize) {
	size_t done = 0;
	if (len == 0) return rc(write ? pwrite(fd, buf, 0, off) : pread(fd, buf, 0, off));
	while (done < len) {
		size_t n = len - done < bsize ? len - done : bsize;
		ssize_t r = write ? pwrite(fd, buf + done, n, off + done) : pread(fd, buf + done, n, off + done);
		if (r < 0) return done ? (long)done : -errno;
		done += r;
		if ((size_t)r < n) break;
	}
	return done;
}

struct run { unsigned long len; int byte; };

/* Compare what a read returned with the sim's bytes (run-length encoded). */
__attribute__((unused)) static void check_data(int t, int i, const char *buf, long n, const struct run *runs, int nruns) {
	long at = 0;
	for (int r = 0; r < nruns && at < n; r++) {
		for (unsigned long k = 0; k < runs[r].len && at < n; k++, at++) {
			if ((unsigned char)buf[at] != runs[r].byte) {
				pthread_mutex_lock(&out_lock);
				printf("MISMATCH t%d #%d data: byte %ld of the read is 0x%02x, the sim read 0x%02x\n", t, i, at, (unsigned char)buf[at], runs[r].byte);
				mismatches++;
				pthread_mutex_unlock(&out_lock);
				return;
			}
		}
	}
}

__attribute__((unused)) static void drop_caches(void) {
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3", 1) != 1) perror("drop_caches (needs root)");
	if (fd >= 0) close(fd);
}

__attribute__((unused)) static long aio_rw(int write, int fd, struct iocb *cb, char *buf, size_t len, off_t off, int id) {
	struct iocb *list[1] = { cb };
	memset(cb, 0, sizeof(*cb));
	cb->aio_data = id;
	cb->aio_fildes = fd;
	cb->aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	long r = syscall(SYS_io_submit, aio_ctx, 1, list);
	return r < 0 ? -errno : 0;
}
`;

interface Ctx {
  p: Program;
  /** Expected result per thread and op (sequential programs only). */
  want: number[][] | null;
  /** Expected bytes of each pread, by op index (sequential programs only). */
  reads: Map<number, Uint8Array>;
}

const pathOf = (file: number): string => `file${file}`;

function openFlags(direct: boolean): string {
  return direct ? 'O_RDWR | O_CREAT | O_DIRECT' : 'O_RDWR | O_CREAT';
}

/** The C statements of one op; they set `ret`. */
function opBody(op: Op, c: Ctx, index: number): string[] {
  switch (op.op) {
    case 'pwrite':
      return [`char *buf = buffer(${op.len}, 0x${op.fill.toString(16)});`, `ret = rw_chunks(1, fds[${op.fd}], buf, ${op.len}, ${op.off}, ${op.bsize ?? op.len});`, 'free(buf);'];
    case 'pread':
      return [`char *buf = buffer(${op.len}, 0);`, `ret = rw_chunks(0, fds[${op.fd}], buf, ${op.len}, ${op.off}, ${op.bsize ?? op.len});`, ...checkRead(c, index), 'free(buf);'];
    case 'truncate':
      return [`ret = rc(ftruncate(fds[${op.fd}], ${op.size}));`];
    case 'fallocate':
      return [`ret = rc(fallocate(fds[${op.fd}], ${FALLOC_FLAGS[op.mode]}, ${op.off}, ${op.len}));`];
    case 'copy_range':
      return [`loff_t in = ${op.offIn}, out = ${op.offOut};`, `ret = rc(copy_file_range(fds[${op.fdIn}], &in, fds[${op.fdOut}], &out, ${op.len}, 0));`];
    case 'fsync':
      return [`ret = rc(fsync(fds[${op.fd}]));`];
    case 'fdatasync':
      return [`ret = rc(fdatasync(fds[${op.fd}]));`];
    case 'sync_file_range':
      return [`ret = rc(sync_file_range(fds[${op.fd}], ${op.off}, ${op.len}, ${op.flags}));`];
    case 'fadvise_dontneed':
      return [`ret = -posix_fadvise(fds[${op.fd}], ${op.off}, ${op.len}, POSIX_FADV_DONTNEED);`];
    case 'drop_caches':
      return ['drop_caches();', 'ret = 0;'];
    case 'evict':
    case 'remount': {
      // No syscall evicts one inode or remounts: write everything back and drop the caches.
      const fds = c.p.fds.map((d, i) => ({ d, i })).filter(({ d }) => op.op === 'remount' || d.file === op.file);
      return [
        `/* ${op.op}: approximated by syncfs + fadvise(DONTNEED) + drop_caches (a real test would umount/mount) */`,
        ...fds.map(({ i }) => `syncfs(fds[${i}]); posix_fadvise(fds[${i}], 0, 0, POSIX_FADV_DONTNEED);`),
        'drop_caches();', 'ret = 0;',
      ];
    }
    case 'close_open':
      return [`close(fds[${op.fd}]);`, `fds[${op.fd}] = openat(dir_fd, "${pathOf(c.p.fds[op.fd]!.file)}", ${openFlags(c.p.fds[op.fd]!.direct)}, 0644);`, `ret = fds[${op.fd}] < 0 ? -errno : 0;`];
    case 'mmap': {
      return [
        `maps[${op.map}] = mmap(NULL, ${op.len}, ${op.prot === 'r' ? 'PROT_READ' : op.prot === 'w' ? 'PROT_WRITE' : 'PROT_READ | PROT_WRITE'}, MAP_SHARED, fds[${op.fd}], ${op.off});`,
        `map_off[${op.map}] = ${op.off}; map_len[${op.map}] = ${op.len};`,
        `ret = maps[${op.map}] == MAP_FAILED ? -errno : 0;`,
        `if (maps[${op.map}] == MAP_FAILED) maps[${op.map}] = NULL;`,
      ];
    }
    case 'mread':
      return [`volatile char *m = maps[${op.map}] + (${op.off} - map_off[${op.map}]);`, 'unsigned sum = 0;',
        `for (size_t k = 0; k < ${op.len}; k++) sum += m[k];`, `ret = ${op.len}; (void)sum;`];
    case 'mwrite':
      return [`memset(maps[${op.map}] + (${op.off} - map_off[${op.map}]), 0x${op.fill.toString(16)}, ${op.len});`, `ret = ${op.len};`];
    case 'msync':
      return [`size_t start = (${op.off} - map_off[${op.map}]) & ~(size_t)(ALIGN - 1);`,
        `ret = rc(msync(maps[${op.map}] + start, ${op.len} + (${op.off} - map_off[${op.map}]) - start, ${op.sync ? 'MS_SYNC' : 'MS_ASYNC'}));`];
    case 'munmap':
      return [`ret = rc(munmap(maps[${op.map}], map_len[${op.map}]));`, `maps[${op.map}] = NULL;`];
    case 'aio_write':
      return [`aio_buf[${op.iocb}] = buffer(${op.len}, 0x${op.fill.toString(16)});`,
        `ret = aio_rw(1, fds[${op.fd}], &iocbs[${op.iocb}], aio_buf[${op.iocb}], ${op.len}, ${op.off}, ${op.iocb});`];
    case 'aio_read':
      return [`aio_buf[${op.iocb}] = buffer(${op.len}, 0);`,
        `ret = aio_rw(0, fds[${op.fd}], &iocbs[${op.iocb}], aio_buf[${op.iocb}], ${op.len}, ${op.off}, ${op.iocb});`];
    case 'aio_wait':
      return [
        `while (!aio_done[${op.iocb}]) {`,
        '\tstruct io_event ev;',
        '\tif (syscall(SYS_io_getevents, aio_ctx, 1, 1, &ev, NULL) != 1) { perror("io_getevents"); break; }',
        '\taio_res[ev.data] = ev.res; aio_done[ev.data] = 1;',
        '}',
        `ret = aio_res[${op.iocb}];`,
      ];
    case 'writeback_kick':
      return ['/* writeback_kick: start writeback of every file without waiting, as the flusher would */',
        ...c.p.fds.map((_, i) => `sync_file_range(fds[${i}], 0, 0, SYNC_FILE_RANGE_WRITE);`), 'ret = 0;'];
    case 'reclaim':
      return ['/* reclaim: memory pressure; approximated by dropping clean page cache of every file */',
        ...c.p.fds.map((_, i) => `posix_fadvise(fds[${i}], 0, 0, POSIX_FADV_DONTNEED);`), 'ret = 0;'];
    case 'power_cut':
      return ['/* power_cut (seed ' + op.seed + '): the sim cut the power here and mounted again (crash recovery).',
        ' * No syscall cuts the power: on a real kernel run the ops up to here, then cut it',
        ' * (dm-log-writes replay, a VM reset, or the fsstress/godown of xfstests), mount and go on.',
        ' * Skipped here: the results after it are not compared with the sim. */',
        'ret = 0;'];
    case 'fail_bio':
      return [`/* fail_bio: the sim failed the ${ordinal(op.skip + 1)} ${op.write ? 'write' : 'read'} bio from here${op.short === true ? ' (short fuse WRITE)' : ' with -EIO'}.`,
        ' * On a real kernel: dm-flakey (error_writes / drop_writes) under the filesystem, or',
        ' * fail_make_request (/sys/kernel/debug/fail_make_request + /sys/block/DEV/make-it-fail). */',
        'ret = 0;'];
  }
}

function threadFn(c: Ctx, t: number): string[] {
  const lines = [`static void *thread${t}(void *arg) {`, '\t(void)arg;', '\tlong ret;', '\tpthread_barrier_wait(&barrier);'];
  c.p.threads[t]!.ops.forEach((op, i) => {
    const want = c.want?.[t]?.[i];
    lines.push('\t{', ...opBody(op, c, i).map((l) => `\t\t${l}`),
      `\t\treport(${t}, ${i}, "${op.op}", ret, ${want === undefined ? 0 : 1}, ${want ?? 0});`, '\t}');
  });
  lines.push('\treturn NULL;', '}');
  return lines;
}

/** The run-length encoding of bytes, as C initialisers. */
function runs(data: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length;) {
    let j = i;
    while (j < data.length && data[j] === data[i]) j++;
    out.push(`{ ${j - i}, 0x${data[i]!.toString(16)} }`);
    i = j;
  }
  return out;
}

/** The check of a pread's bytes against the sim's, when known. */
function checkRead(c: Ctx, index: number): string[] {
  const data = c.reads.get(index);
  if (data === undefined) return [];
  if (data.length === 0) return [];
  const rs = runs(data);
  return [`static const struct run want[] = { ${rs.join(', ')} };`, `if (ret > 0) check_data(0, ${index}, buf, ret, want, ${rs.length});`];
}

/**
 * What each pread of a sequential program reads with every switch off: the
 * file's contents after the ops before it (the final contents of the prefix
 * program), cut to the read's range and result.
 */
function expectedReads(p: Program, want: number[][] | null): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  if (want === null) return out;
  p.threads[0]!.ops.forEach((op, i) => {
    const ret = want[0]?.[i];
    if (op.op !== 'pread' || ret === undefined || ret <= 0) return;
    const prefix: Program = { ...p, threads: [{ ops: p.threads[0]!.ops.slice(0, i) }] };
    delete prefix.schedule;
    const res = runProgram(prefix);
    const file = res.violation === null && res.harnessError === null ? res.files[p.fds[op.fd]!.file] : undefined;
    if (file !== undefined && file.data.length >= op.off + ret) out.set(i, file.data.slice(op.off, op.off + ret));
  });
  return out;
}

/** Expected results: the sim with every switch off, when the program is sequential. */
function expected(p: Program): number[][] | null {
  if (p.threads.length !== 1) return null;
  const res = runProgram(p);
  const want: number[][] = p.threads.map(() => []);
  // Past a power cut the C program (which cannot cut the power) runs on uncut files: nothing to compare.
  const cut = p.threads[0]!.ops.findIndex((o) => o.op === 'power_cut');
  for (const r of res.results) if (cut < 0 || r.index < cut) want[r.thread]![r.index] = r.ret;
  return want;
}

export function exportC(r: Repro): string {
  const p = r.program;
  const ops = p.threads.flatMap((t) => t.ops);
  // The C arrays indexed by map and iocb id: one past the largest id any op names, at least 1.
  const slots = (space: IdSpace): number => {
    let n = 1;
    for (const o of ops) n = Math.max(n, (definedId(o, space) ?? referencedId(o, space) ?? -1) + 1);
    return n;
  };
  const nIocb = slots('iocb');
  const nMap = slots('map');
  const want = expected(p);
  const c: Ctx = { p, want, reads: expectedReads(p, want) };
  const cfg = p.config;
  const out = [
    `/* foliofuzz reproducer: ${r.signature === '' ? 'a control that must stay silent' : r.signature}`,
    ` * switches in the sim: ${r.bugs.join(', ') || '(none)'}`,
    ` * sim config: fs=${cfg.fs} inode=${cfg.inode} blockSize=${cfg.blockSize} folioMax=${cfg.folioMax}`,
    ` * build: gcc -Wall -Werror -pthread -o repro repro.c; run: ./repro DIR (on a ${cfg.fs} mount) */`,
    PRELUDE,
    `__attribute__((unused)) static int dir_fd = AT_FDCWD;`,
    `__attribute__((unused)) static int fds[${p.fds.length}];`,
    `__attribute__((unused)) static char *maps[${nMap}];`,
    `__attribute__((unused)) static off_t map_off[${nMap}];`,
    `__attribute__((unused)) static size_t map_len[${nMap}];`,
    `__attribute__((unused)) static struct iocb iocbs[${nIocb}];`,
    `__attribute__((unused)) static char *aio_buf[${nIocb}];`,
    `__attribute__((unused)) static long aio_res[${nIocb}];`,
    `__attribute__((unused)) static int aio_done[${nIocb}];`,
    '',
  ];
  p.threads.forEach((_, t) => out.push(...threadFn(c, t), ''));
  out.push(
    'int main(int argc, char **argv) {',
    '\tif (argc > 1) dir = argv[1];',
    '\tdir_fd = open(dir, O_RDONLY | O_DIRECTORY);',
    '\tif (dir_fd < 0) { perror(dir); return 2; }',
    ...p.files.map((f, i) => `\tclose(openat(dir_fd, "${pathOf(i)}", O_RDWR | O_CREAT | O_TRUNC, 0644)); /* sim name: ${f.name.replace(/\*\//g, '')} */`),
    ...p.fds.map((d, i) => `\tfds[${i}] = openat(dir_fd, "${pathOf(d.file)}", ${openFlags(d.direct)}, 0644);\n\tif (fds[${i}] < 0) { perror("open fd${i}"); return 2; }`),
    `\tif (syscall(SYS_io_setup, ${nIocb + 1}, &aio_ctx) < 0) perror("io_setup");`,
    `\tpthread_t th[${p.threads.length}];`,
    `\tpthread_barrier_init(&barrier, NULL, ${p.threads.length});`,
    ...p.threads.map((_, t) => `\tpthread_create(&th[${t}], NULL, thread${t}, NULL);`),
    ...p.threads.map((_, t) => `\tpthread_join(th[${t}], NULL);`),
    '\tprintf("%d mismatches\\n", mismatches);',
    '\treturn mismatches ? 1 : 0;',
    '}',
  );
  return `${out.join('\n')}\n`;
}
