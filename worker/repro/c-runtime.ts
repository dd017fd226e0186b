// The fixed part of an exported C program (c.ts writes the rest): the ops as
// real syscalls, the checks against what a fixed kernel shows, and the
// iterations. It mirrors the kernel twin's executor (native/), so that an
// exported program does what `foliofuzz kernel confirm` does, in one file
// that compiles with `gcc -O2 -Wall -pthread`:
//
// - each iteration makes fresh files f0, f1, ... in DIR, opens the fds,
//   releases the threads together at a barrier, reaps every AIO, joins the
//   helper threads, reads every file back through the page cache, unmaps,
//   and (as root) syncs, drops the caches, reads every file back again and
//   reads the kernel log; then it removes the files;
// - a check that fails records a divergence; an iteration with any counts,
//   and the program prints k/N at the end (exit 1 when k > 0);
// - what a fixed kernel shows comes from the generated tables (`struct
//   want`: a result and the spans of bytes that must come with it).
//
// The C text is kept as strings, in the order the file has them: C_TYPES
// (includes and types), then c.ts's shape of the program (its sizes, fds and
// tables), C_CHECKS (divergences and the checks), C_OPS (c-ops.ts), C_RUN
// (the final reads, the kernel log, iterations, main), and c.ts's threads
// and final contents.

export const C_TYPES = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
/* A result that is not compared. */
#define NOCHECK LLONG_MIN

/* [off, off+len) of the file holds byte. */
struct span { unsigned long long off, len; unsigned char byte; };
/* A result (a read's byte count; a file's size) and the bytes that must come with it. */
struct want { long long ret; int nspans; const struct span *spans; };
/* One syscall of a pread, by the file offset it starts at. */
struct call_want { unsigned long long off; struct want w; };
`;

export const C_CHECKS = String.raw`
static const char *dir = ".";
static char dir_real[PATH_MAX];
static int dir_fd = -1, nul_fd = -1;
static int fds[NFDS], priv[NFILES];
static int have_root;
static int iteration;
static pthread_barrier_t barrier;
/* remount and evict replace fds under the other threads: they run alone. */
static pthread_rwlock_t op_lock = PTHREAD_RWLOCK_INITIALIZER;

/* Generated below. */
static void thread_body(int t);
static const struct want *final_want(int file, int disk);

/* ---- divergences --------------------------------------------------------- */

#define MAX_LINES 16
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static char *lines[MAX_LINES];
static int line_file[MAX_LINES], nlines;
/* Per file (index file+1; 0: none), this iteration's divergences. */
static int div_count[NFILES + 1];
/* A page cache invalidation failure the program's own cached writes explain: the file's checks are void. */
static int stale_excused[NFILES];
/* Several threads: a thread whose writes came out otherwise than in the fixed run is not judged further. */
static int off_path[NTHREADS];

__attribute__((format(printf, 2, 3))) static void diverge(int file, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_mu);
	div_count[file + 1]++;
	if (nlines < MAX_LINES) line_file[nlines] = file, lines[nlines++] = strdup(buf);
	pthread_mutex_unlock(&out_mu);
}

static const char *ret_text(char *buf, size_t n, long long r)
{
	if (r < 0 && r > -4096) snprintf(buf, n, "-%lld (%s)", -r, strerror((int)-r));
	else snprintf(buf, n, "%lld", r);
	return buf;
}

__attribute__((unused)) static void check_ret(int file, const char *what, long long got, long long want)
{
	char g[96], w[96];
	if (want == NOCHECK || got == want) return;
	diverge(file, "%s: returned %s, a fixed kernel returns %s", what, ret_text(g, sizeof g, got), ret_text(w, sizeof w, want));
}

/* The n bytes at file offset off against the spans a fixed kernel shows there. */
static void check_bytes(int file, const char *what, const char *verb, unsigned long long off, const unsigned char *buf,
			long long n, const struct want *w)
{
	for (int k = 0; n > 0 && k < w->nspans; k++) {
		const struct span *s = &w->spans[k];
		unsigned long long lo = s->off > off ? s->off : off;
		unsigned long long hi = s->off + s->len < off + (unsigned long long)n ? s->off + s->len : off + (unsigned long long)n;
		for (unsigned long long p = lo; p < hi; p++) {
			if (buf[p - off] == s->byte) continue;
			diverge(file, "%s: byte %llu is 0x%02x, a fixed kernel %s 0x%02x", what, p, buf[p - off], verb, s->byte);
			return;
		}
	}
}

static void check_want(int file, const char *what, const char *verb, unsigned long long off, const unsigned char *buf,
		       long long got, const struct want *w)
{
	if (!w) return;
	check_ret(file, what, got, w->ret);
	check_bytes(file, what, verb, off, buf, got, w);
}

`;

export const C_RUN = String.raw`
/* ---- the kernel log (root) ----------------------------------------------- */

static int kmsg_fd = -1;

static void kmsg_mark(void)
{
	if (kmsg_fd < 0 && have_root) kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0) lseek(kmsg_fd, 0, SEEK_END);
}

/* The file a "File: PATH PID: ..." line after a page cache invalidation failure names, or -1. */
static int stale_file(const char *text)
{
	char want[PATH_MAX + 48];
	for (int f = 0; f < NFILES; f++) {
		snprintf(want, sizeof want, "File: %s/f%d PID", dir_real, f);
		if (strstr(text, want)) return f;
	}
	return -1;
}

/*
 * A WARNING or BUG is a divergence (a fixed kernel logs none). "Page cache
 * invalidation failure on direct I/O" is one too for a file the program
 * never wrote through the page cache; for the others it is what a program
 * racing cached and direct writes gets, and the file's checks are void.
 * The log does not say whose a line is: other processes' lines count too.
 */
static void kmsg_scan(void)
{
	char rec[8192];
	int after_stale = 0;
	while (kmsg_fd >= 0) {
		ssize_t n = read(kmsg_fd, rec, sizeof rec - 1);
		if (n < 0 && errno == EPIPE) continue;
		if (n <= 0) break;
		rec[n] = 0;
		char *text = strchr(rec, ';');
		if (!text) continue;
		text++;
		text[strcspn(text, "\n")] = 0;
		int f = after_stale ? stale_file(text) : -1;
		if (f >= 0 && stale_is_bug[f]) diverge(f, "the kernel logged a page cache invalidation failure on direct I/O for f%d", f);
		else if (f >= 0) stale_excused[f] = 1;
		after_stale = strstr(text, "Page cache invalidation failure") != NULL;
		if (strstr(text, "WARNING: CPU:") || strstr(text, "kernel BUG at")) diverge(-1, "the kernel logged: %s", text);
	}
}

/* ---- the files after the program ----------------------------------------- */

static unsigned char *read_back(int f, long long *size)
{
	struct stat st;
	*size = 0;
	if (fstat(priv[f], &st)) return NULL;
	unsigned char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) return NULL;
	while (*size < st.st_size) {
		ssize_t n = pread(priv[f], buf + *size, (size_t)(st.st_size - *size), (off_t)*size);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		*size += n;
	}
	return buf;
}

static const char *via_text(int disk)
{
	return disk ? "after syncfs and drop_caches" : "through the page cache";
}

/* Several threads: what the page cache showed must be what reached the disk, except bytes stored through a mapping. */
static void compare_cache_disk(int f, const unsigned char *cache, long long csize, const unsigned char *disk, long long dsize)
{
	if (csize != dsize) {
		diverge(f, "f%d was %lld bytes in the page cache, %lld after syncfs and drop_caches", f, csize, dsize);
		return;
	}
	for (long long p = 0; p < csize; p++) {
		if (cache[p] == disk[p]) continue;
		int excused = 0;
		for (int k = 0; k < excused_n[f]; k++)
			excused |= (unsigned long long)p >= excused_spans[f][k].off &&
				   (unsigned long long)p < excused_spans[f][k].off + excused_spans[f][k].len;
		if (excused) continue;
		diverge(f, "f%d byte %lld was 0x%02x in the page cache, 0x%02x after syncfs and drop_caches", f, p, cache[p], disk[p]);
		return;
	}
}

static void check_file(int f, int disk, const unsigned char *data, long long size)
{
	char what[128];
	const struct want *w = final_want(f, disk);
	if (!w) return;
	snprintf(what, sizeof what, "f%d read back %s after the program", f, via_text(disk));
	if (size != w->ret) diverge(f, "%s: %lld bytes, a fixed kernel holds %lld", what, size, w->ret);
	check_bytes(f, what, "holds", 0, data, size, w);
}

static void final_reads(void)
{
	unsigned char *cache[NFILES];
	long long csize[NFILES];
	for (int f = 0; f < NFILES; f++) {
		cache[f] = read_back(f, &csize[f]);
		if (cache[f]) check_file(f, 0, cache[f], csize[f]);
	}
	maps_unmap_all();
	if (have_root && syncfs(dir_fd) == 0 && write_drop_caches("3") == 0) {
		for (int f = 0; f < NFILES; f++) {
			long long dsize;
			unsigned char *disk = read_back(f, &dsize);
			if (disk) check_file(f, 1, disk, dsize);
			if (disk && cache[f] && FINAL_CACHE_VS_DISK) compare_cache_disk(f, cache[f], csize[f], disk, dsize);
			free(disk);
		}
	}
	for (int f = 0; f < NFILES; f++) free(cache[f]);
}

/* ---- one iteration ------------------------------------------------------- */

/* Before each op: on odd iterations of a program of several threads, a random pause of up to JITTER_US µs. */
__attribute__((unused)) static void op_enter(unsigned *seed, int alone)
{
#if JITTER_US
	if (iteration & 1) {
		struct timespec ts = { 0, (long)(rand_r(seed) % JITTER_US) * 1000 };
		nanosleep(&ts, NULL);
	}
#else
	(void)seed;
#endif
	if (alone) pthread_rwlock_wrlock(&op_lock);
	else pthread_rwlock_rdlock(&op_lock);
}

__attribute__((unused)) static void op_leave(void)
{
	pthread_rwlock_unlock(&op_lock);
}

static void *thread_main(void *arg)
{
	pthread_barrier_wait(&barrier);
	thread_body((int)(intptr_t)arg);
	return NULL;
}

static int setup_files(void)
{
	char name[32];
	for (int f = 0; f < NFILES; f++) {
		snprintf(name, sizeof name, "f%d", f);
		unlinkat(dir_fd, name, 0);
		if ((priv[f] = open_file(f, 0, 1)) < 0) return fprintf(stderr, "create %s/%s: %s\n", dir, name, strerror(errno)), -1;
	}
	for (int k = 0; k < NFDS; k++)
		if ((fds[k] = open_file(fd_file[k], fd_direct[k], 0)) < 0) return fprintf(stderr, "open fd %d: %s\n", k, strerror(errno)), -1;
	aio_ctx = 0;
	if (NAIO_USED && syscall(SYS_io_setup, NAIO, &aio_ctx)) return fprintf(stderr, "io_setup: %s\n", strerror(errno)), -1;
	return 0;
}

static void teardown_files(void)
{
	char name[32];
	if (aio_ctx) syscall(SYS_io_destroy, aio_ctx);
	for (int k = 0; k < NAIO; k++) free(slots[k].buf), slots[k] = (struct slot){ 0 };
	submissions = 0, inflight = 0;
	for (int k = 0; k < NFDS; k++) close(fds[k]);
	for (int f = 0; f < NFILES; f++) {
		close(priv[f]);
		snprintf(name, sizeof name, "f%d", f);
		unlinkat(dir_fd, name, 0);
	}
}

/* The iteration's divergences, less those of files a page cache invalidation failure excused; their lines kept. */
static int tally(void)
{
	int n = div_count[0], kept = 0;
	for (int f = 0; f < NFILES; f++) n += stale_excused[f] ? 0 : div_count[f + 1];
	for (int k = 0; k < nlines; k++) {
		if (line_file[k] >= 0 && stale_excused[line_file[k]]) free(lines[k]);
		else lines[kept++] = lines[k];
	}
	nlines = kept;
	memset(div_count, 0, sizeof div_count);
	memset(stale_excused, 0, sizeof stale_excused);
	memset(off_path, 0, sizeof off_path);
	return n;
}

/* -1 when the files could not be set up; else the divergences counted. */
static int run_iteration(void)
{
	pthread_t th[NTHREADS];
	kmsg_mark();
	if (setup_files()) return -1;
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (int t = 0; t < NTHREADS; t++) pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t);
	for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
	pthread_barrier_destroy(&barrier);
	aio_drain();
	helpers_join();
	final_reads();
	kmsg_scan();
	teardown_files();
	return tally();
}

/* ---- the directory, and main --------------------------------------------- */

/* What DIR is; a warning when it is not what the program was found on. */
static void describe_dir(void)
{
	struct statfs sf;
	struct utsname u;
	uname(&u);
	if (statfs(dir, &sf)) return;
	int ext = -1;
	if ((long)sf.f_type == EXT4_SUPER_MAGIC) {
		int flags = 0, fd = openat(dir_fd, ".ffz-probe", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) ext = (flags & FS_EXTENT_FL) != 0;
		if (fd >= 0) close(fd);
		unlinkat(dir_fd, ".ffz-probe", 0);
	}
	printf("%s: Linux %s, statfs type 0x%lx, %ld-byte blocks%s\n", dir, u.release, (long)sf.f_type, (long)sf.f_bsize,
	       ext < 0 ? "" : ext ? ", extents" : ", no extents");
	if ((long)sf.f_type != FS_MAGIC || sf.f_bsize != FS_BLOCK || (FS_EXTENTS >= 0 && ext >= 0 && ext != FS_EXTENTS))
		printf("warning: the program was found on %s; see the recipe at the top\n", FS_NEED);
}

static int seen_before(const char *line)
{
	static char *seen[16];
	static int nseen;
	for (int k = 0; k < nseen; k++)
		if (strcmp(seen[k], line) == 0) return 1;
	if (nseen < 16) seen[nseen++] = strdup(line);
	return 0;
}

/* Every line of the first diverging iteration; of later ones, a first line not seen before. */
static void report(int n, int first)
{
	if (n && first) {
		printf("iteration %d diverged:\n", iteration);
		for (int k = 0; k < nlines; k++) printf("  %s\n", lines[k]);
	} else if (n && nlines && !seen_before(lines[0])) {
		printf("iteration %d diverged: %s\n", iteration, lines[0]);
	}
	if (n && first && nlines) seen_before(lines[0]);
	for (int k = 0; k < nlines; k++) free(lines[k]);
	nlines = 0;
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long n = 1;
	char *end;
	if (argc > 1) dir = argv[1];
	if (argc > 2 && ((n = strtol(argv[2], &end, 10)) < 1 || *end)) return fprintf(stderr, "usage: %s [DIR [ITERATIONS]]\n", argv[0]), 2;
	if ((dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !realpath(dir, dir_real)) return perror(dir), 2;
	nul_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	signal(SIGBUS, on_sigbus);
	have_root = access("/proc/sys/vm/drop_caches", W_OK) == 0;
	describe_dir();
	if (!have_root) printf("not root: drop_caches, the contents on disk and the kernel log are not checked\n");
	int diverged = 0;
	for (iteration = 0; iteration < n; iteration++) {
		int d = run_iteration();
		if (d < 0) return 2;
		report(d, diverged == 0);
		diverged += d > 0;
	}
	printf("%d/%ld iterations diverged from a fixed kernel\n", diverged, n);
	return diverged ? 1 : 0;
}
`;
