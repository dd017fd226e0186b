/*
 * One run of a program: create its files afresh, open its fds, start one
 * thread per program thread and release them together, then read every file
 * back (through the cache, after dropping the caches, after a remount when
 * the executor owns the mount), collect the kernel log, write the events and
 * remove the files.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

void run_fail(struct run *r, const char *fmt, ...)
{
	pthread_mutex_lock(&r->failmu);
	if (r->failure[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->failure, sizeof r->failure, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->failmu);
}

int run_failed(struct run *r)
{
	pthread_mutex_lock(&r->failmu);
	int failed = r->failure[0] != '\0';
	pthread_mutex_unlock(&r->failmu);
	return failed;
}

/* The program's files are f0, f1, ...: its own names never reach the filesystem. */
void file_name(char *buf, size_t len, int file)
{
	snprintf(buf, len, "f%d", file);
}

int file_open_flags(int direct)
{
	return O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0);
}

int run_open_files(struct run *r)
{
	const struct program *p = r->prog;
	char name[32];
	r->dirfd = open(r->opt->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) return run_fail(r, "open %s: %s", r->opt->dir, strerror(errno)), -1;
	for (int f = 0; f < p->nfiles; f++) {
		file_name(name, sizeof name, f);
		r->priv[f] = openat(r->dirfd, name, file_open_flags(0), 0644);
		if (r->priv[f] < 0) return run_fail(r, "open %s/%s: %s", r->opt->dir, name, strerror(errno)), -1;
	}
	for (int k = 0; k < p->nfds; k++) {
		file_name(name, sizeof name, p->fds[k].file);
		r->fds[k] = openat(r->dirfd, name, file_open_flags(p->fds[k].direct), 0644);
		if (r->fds[k] < 0)
			return run_fail(r, "open %s/%s%s: %s", r->opt->dir, name, p->fds[k].direct ? " O_DIRECT" : "", strerror(errno)), -1;
	}
	return 0;
}

void run_close_files(struct run *r)
{
	for (int k = 0; k < r->prog->nfds; k++) {
		if (r->fds[k] >= 0) close(r->fds[k]);
		r->fds[k] = -1;
	}
	for (int f = 0; f < r->prog->nfiles; f++) {
		if (r->priv[f] >= 0) close(r->priv[f]);
		r->priv[f] = -1;
	}
	if (r->dirfd >= 0) close(r->dirfd);
	r->dirfd = -1;
}

/* Fresh files: whatever a previous run (or a killed executor) left is removed first. */
static int create_files(struct run *r)
{
	char name[32];
	int dirfd = open(r->opt->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) return run_fail(r, "open %s: %s", r->opt->dir, strerror(errno)), -1;
	for (int f = 0; f < r->prog->nfiles; f++) {
		file_name(name, sizeof name, f);
		if (unlinkat(dirfd, name, 0) && errno != ENOENT) {
			run_fail(r, "unlink %s/%s: %s", r->opt->dir, name, strerror(errno));
			break;
		}
		int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			run_fail(r, "create %s/%s: %s", r->opt->dir, name, strerror(errno));
			break;
		}
		close(fd);
	}
	close(dirfd);
	return run_failed(r) ? -1 : 0;
}

static void remove_files(struct run *r)
{
	char name[32];
	int dirfd = open(r->opt->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) return;
	for (int f = 0; f < r->prog->nfiles; f++) {
		file_name(name, sizeof name, f);
		unlinkat(dirfd, name, 0);
	}
	close(dirfd);
}

/* ---- the program's threads ---------------------------------------------- */

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

/* Race amplification before an op: a pause named for it, and seeded jitter. */
static void before_op(struct tctx *tc, int i)
{
	const struct options *o = tc->run->opt;
	for (int k = 0; k < o->npauses; k++)
		if (o->pauses[k].thread == tc->t && o->pauses[k].op == i) sleep_us(o->pauses[k].us);
	if (o->jitter_us) {
		tc->rng ^= tc->rng << 13, tc->rng ^= tc->rng >> 7, tc->rng ^= tc->rng << 17;
		sleep_us((unsigned)(tc->rng % o->jitter_us));
	}
}

static void record_sizes(struct run *r, struct event *e)
{
	const int n = r->prog->nfiles;
	e->sizes = calloc((size_t)n ? (size_t)n : 1, sizeof *e->sizes);
	if (!e->sizes) return;
	e->nsizes = n;
	for (int f = 0; f < n; f++) {
		struct stat st;
		if (r->priv[f] < 0 || fstat(r->priv[f], &st)) {
			free(e->sizes), e->sizes = NULL, e->nsizes = 0;
			return;
		}
		e->sizes[f] = st.st_size;
	}
}

static void run_one_op(struct tctx *tc, int i)
{
	struct run *r = tc->run;
	const struct op *op = &r->prog->threads[tc->t].ops[i];
	int alone = op_exclusive(op->kind);
	struct event extras = { .stored = -1 };
	tc->i = i;
	before_op(tc, i);
	if (alone) pthread_rwlock_wrlock(&r->oplock);
	else pthread_rwlock_rdlock(&r->oplock);
	struct event *e = ev_new(tc->buf, &r->seq, EV_OP);
	e->t = tc->t, e->i = i;
	int64_t ret = op_run(tc, op, &extras);
	aio_poll(tc);
	struct event *rt = ev_new(tc->buf, &r->seq, EV_RET);
	rt->t = tc->t, rt->i = i, rt->ret = ret;
	rt->data = extras.data, rt->dlen = extras.dlen, rt->has_data = extras.has_data;
	rt->stored = extras.stored;
	record_sizes(r, rt);
	pthread_rwlock_unlock(&r->oplock);
}

static void *thread_main(void *arg)
{
	struct tctx *tc = arg;
	/* The start gate: every thread spins here so that they all leave within moments of each other. */
	while (!atomic_load(&tc->run->gate)) sched_yield();
	for (size_t i = 0; i < tc->run->prog->threads[tc->t].n && !run_failed(tc->run); i++) run_one_op(tc, (int)i);
	return NULL;
}

static int run_threads(struct run *r, struct tctx *tcs)
{
	const int n = r->prog->nthreads;
	pthread_t *tids = calloc((size_t)n + 1, sizeof *tids);
	if (!tids) return run_fail(r, "thread setup: out of memory"), -1;
	int started = 0, err = 0;
	for (; started < n; started++)
		if ((err = pthread_create(&tids[started], NULL, thread_main, &tcs[started]))) break;
	/* Those started see the failure once through the gate, and stop. */
	if (started < n) run_fail(r, "pthread_create: %s", strerror(err));
	atomic_store(&r->gate, 1);
	for (int k = 0; k < started; k++) pthread_join(tids[k], NULL);
	free(tids);
	return run_failed(r) ? -1 : 0;
}

/* ---- after the program --------------------------------------------------- */

static void read_back(struct tctx *tc, enum final_via via)
{
	struct run *r = tc->run;
	for (int f = 0; f < r->prog->nfiles && !run_failed(r); f++) {
		struct stat st;
		if (fstat(r->priv[f], &st)) return run_fail(r, "fstat f%d: %s", f, strerror(errno));
		if ((uint64_t)st.st_size > MAX_BUFFER)
			return run_fail(r, "f%d is %lld bytes, too large to read back", f, (long long)st.st_size);
		unsigned char *buf = malloc((size_t)st.st_size + 1);
		if (!buf) return run_fail(r, "reading f%d back: out of memory", f);
		size_t done = 0;
		while (done < (size_t)st.st_size) {
			ssize_t n = pread(r->priv[f], buf + done, (size_t)st.st_size - done, (off_t)done);
			if (n < 0 && errno == EINTR) continue;
			if (n < 0) run_fail(r, "reading f%d back (%s): %s", f, via_name(via), strerror(errno));
			if (n <= 0) break;
			done += (size_t)n;
		}
		struct event *e = ev_new(tc->buf, &r->seq, EV_FINAL);
		e->file = f, e->via = via;
		e->data = buf, e->dlen = done, e->has_data = 1;
	}
}

/* Every file through the cache, after dropping the caches, after a remount when the mount is ours. */
static void finish(struct tctx *tc)
{
	struct run *r = tc->run;
	aio_drain(tc);
	helpers_join(r);
	read_back(tc, VIA_CACHE);
	maps_unmap_all(r);
	if (!run_failed(r) && mount_drop_caches(r) == 0) read_back(tc, VIA_DROP_CACHES);
	if (!run_failed(r) && r->opt->device) {
		char err[256];
		run_close_files(r);
		if (mount_cycle(r->opt, err, sizeof err)) run_fail(r, "remount after the program: %s", err);
		else if (run_open_files(r) == 0) read_back(tc, VIA_REMOUNT);
	}
}

static int run_init(struct run *r, const struct program *p, const struct options *opt, int index)
{
	memset(r, 0, sizeof *r);
	r->prog = p, r->opt = opt, r->index = index, r->dirfd = -1;
	r->priv = malloc(((size_t)p->nfiles + 1) * sizeof *r->priv);
	r->fds = malloc(((size_t)p->nfds + 1) * sizeof *r->fds);
	r->bufs = calloc((size_t)p->nthreads + 1, sizeof *r->bufs);
	if (!r->priv || !r->fds || !r->bufs) return -1;
	for (int f = 0; f <= p->nfiles; f++) r->priv[f] = -1;
	for (int k = 0; k <= p->nfds; k++) r->fds[k] = -1;
	r->nulfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	/* A remount waiting for the lock must not starve behind a stream of ops. */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->oplock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_rwlock_init(&r->maps.lock, NULL);
	pthread_mutex_init(&r->aio.mu, NULL);
	pthread_cond_init(&r->aio.cv, NULL);
	pthread_mutex_init(&r->helpers.mu, NULL);
	pthread_mutex_init(&r->failmu, NULL);
	return r->nulfd < 0 ? -1 : 0;
}

static void run_destroy(struct run *r)
{
	/* A run that failed part-way may leave helpers running and I/O in flight: both end before the files close. */
	helpers_join(r);
	aio_stop(r);
	maps_unmap_all(r);
	run_close_files(r);
	if (r->nulfd >= 0) close(r->nulfd);
	free(r->maps.v);
	free(r->helpers.v);
	free(r->priv);
	free(r->fds);
}

static void write_end(FILE *out, struct run *r)
{
	if (r->failure[0] == '\0') {
		fputs("{\"end\":\"done\"}\n", out);
		return;
	}
	fputs("{\"end\":\"error\",\"error\":", out);
	json_string(out, r->failure);
	fputs("}\n", out);
}

/* Each thread's jitter stream: from the seed, the run and the thread; never 0 (xorshift stays at 0). */
static uint64_t jitter_seed(uint64_t seed, int run, int thread)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL;
	x ^= ((uint64_t)run << 32) | (uint64_t)(thread + 1);
	return x | 1;
}

int run_program(FILE *out, const struct program *p, const struct options *opt, int index)
{
	struct run r;
	/* Out now: a run the executor dies in is still known to have started. */
	fprintf(out, "{\"run\":%d}\n", index);
	fflush(out);
	if (run_init(&r, p, opt, index)) {
		fputs("{\"end\":\"error\",\"error\":\"run setup: out of memory or no /dev/null\"}\n", out);
		return -1;
	}
	struct tctx *tcs = calloc((size_t)p->nthreads + 1, sizeof *tcs);
	for (int t = 0; tcs && t <= p->nthreads; t++)
		tcs[t] = (struct tctx){ &r, t, 0, &r.bufs[t], jitter_seed(opt->seed, index, t) };
	int kmsg = klog_open(opt->kmsg);
	if (!tcs) run_fail(&r, "run setup: out of memory");
	else if (create_files(&r) == 0 && run_open_files(&r) == 0 && aio_start(&r) == 0 && run_threads(&r, tcs) == 0) finish(&tcs[p->nthreads]);
	if (tcs && kmsg >= 0) klog_collect(kmsg, &tcs[p->nthreads], opt->dir);
	if (kmsg >= 0) close(kmsg);
	run_destroy(&r);
	trace_write(out, r.bufs, p->nthreads + 1);
	remove_files(&r);
	write_end(out, &r);
	fflush(out);
	free(r.bufs);
	free(tcs);
	return r.failure[0] ? -1 : 0;
}
