/*
 * Asynchronous I/O through the kernel's native interface, by syscall(2)
 * (no libaio): one context per run, one slot per submitted iocb.
 *
 * aio_write and aio_read return what io_submit said: 0 when it took the iocb,
 * else its -errno; an iocb io_submit refused is completed there and then with
 * that error (the sim completes an I/O that fails at once the same way). The
 * completion's result comes from io_getevents.
 *
 * aio_wait waits for the newest iocb of its id (-EINVAL when there is none,
 * or a wait already collected it: a reused id names the newer submission,
 * as in the sim). As each op ends, completions already there are recorded
 * without waiting (aio_poll). Threads take turns reaping:
 * the one reaping calls io_getevents and records an `aio` event for every
 * iocb it gets, its own or another's; the others sleep until a round ends
 * and look again. iocbs nobody waited for are reaped at the end of the run
 * (aio_drain), and before a remount or an evict, and recorded the same way.
 */
#include "exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long sys_io_setup(unsigned nr, aio_context_t *ctx) { return syscall(SYS_io_setup, nr, ctx); }
static long sys_io_destroy(aio_context_t ctx) { return syscall(SYS_io_destroy, ctx); }
static long sys_io_submit(aio_context_t ctx, long n, struct iocb **cbs) { return syscall(SYS_io_submit, ctx, n, cbs); }
static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev, struct timespec *ts)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, ts);
}

static size_t count_aio_ops(const struct program *p)
{
	size_t n = 0;
	for (int t = 0; t < p->nthreads; t++)
		for (size_t i = 0; i < p->threads[t].n; i++)
			n += p->threads[t].ops[i].kind == OP_AIO_WRITE || p->threads[t].ops[i].kind == OP_AIO_READ;
	return n;
}

int aio_start(struct run *r)
{
	size_t n = count_aio_ops(r->prog);
	if (n == 0) return 0;
	/* Room for every iocb of the program at once: none is ever refused for lack of it. */
	if (sys_io_setup((unsigned)(n < 65536 ? n : 65536), &r->aio.ctx)) {
		run_fail(r, "io_setup(%zu): %s", n, strerror(errno));
		return -1;
	}
	return 0;
}

static void record_completion(struct tctx *tc, struct aio_slot *s)
{
	struct event *e = ev_new(tc->buf, &tc->run->seq, EV_AIO);
	e->t = s->t, e->i = s->i, e->ret = s->res;
	if (!s->write) ev_set_data(e, s->buf, s->res > 0 ? (size_t)s->res : 0);
	free(s->buf);
	s->buf = NULL;
}

/* A new slot, registered before io_submit so a reaper can find it; aio.mu held. */
static struct aio_slot *slot_new(struct aio *a, const struct tctx *tc, const struct op *op)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct aio_slot **v = realloc(a->slots, cap * sizeof *v);
		if (!v) return NULL;
		a->slots = v, a->cap = cap;
	}
	struct aio_slot *s = calloc(1, sizeof *s);
	void *buf = NULL;
	if (!s || posix_memalign(&buf, PAGE, op->len ? op->len : 1)) return free(s), NULL;
	s->id = (uint32_t)op->iocb;
	s->t = tc->t, s->i = tc->i;
	s->write = op->kind == OP_AIO_WRITE;
	s->buf = buf;
	s->len = op->len;
	if (s->write) memset(buf, (int)op->fill, op->len);
	a->slots[a->n++] = s;
	return s;
}

int64_t aio_submit_op(struct tctx *tc, const struct op *op)
{
	struct run *r = tc->run;
	struct aio *a = &r->aio;
	pthread_mutex_lock(&a->mu);
	struct aio_slot *s = slot_new(a, tc, op);
	if (!s) return pthread_mutex_unlock(&a->mu), -ENOMEM;
	size_t index = a->n - 1;
	a->inflight++;
	pthread_mutex_unlock(&a->mu);
	struct iocb *cb = &s->cb;
	memset(cb, 0, sizeof *cb);
	cb->aio_data = index;
	cb->aio_lio_opcode = s->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_fildes = (uint32_t)r->fds[op->fd];
	cb->aio_buf = (uint64_t)(uintptr_t)s->buf;
	cb->aio_nbytes = op->len;
	cb->aio_offset = (int64_t)op->off;
	long got = sys_io_submit(a->ctx, 1, &cb);
	if (got == 1) return 0;
	int64_t err = got < 0 ? -errno : -EAGAIN;
	pthread_mutex_lock(&a->mu);
	s->res = err, s->done = 1;
	a->inflight--;
	record_completion(tc, s);
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return err;
}

/* One io_getevents round by the calling thread; aio.mu held on entry and exit. */
static void reap_round(struct tctx *tc)
{
	struct aio *a = &tc->run->aio;
	struct io_event ev[64];
	/* Bounded: an iocb counted in flight may yet be refused by io_submit, and then nothing comes. */
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	a->reaping = 1;
	pthread_mutex_unlock(&a->mu);
	long n = sys_io_getevents(a->ctx, 1, 64, ev, &ts);
	int err = errno;
	pthread_mutex_lock(&a->mu);
	for (long k = 0; k < n; k++) {
		if (ev[k].data >= a->n) continue;
		struct aio_slot *s = a->slots[ev[k].data];
		s->res = ev[k].res, s->done = 1;
		a->inflight--;
		record_completion(tc, s);
	}
	if (n < 0 && err != EINTR) {
		/* Nothing more will ever come: fail what is left rather than wait forever. */
		run_fail(tc->run, "io_getevents: %s", strerror(err));
		for (size_t k = 0; k < a->n; k++)
			if (!a->slots[k]->done) a->slots[k]->done = 1, a->slots[k]->res = -err, a->inflight--;
	}
	a->reaping = 0;
	pthread_cond_broadcast(&a->cv);
}

/*
 * Completions already there, taken without waiting: called as each op ends,
 * so an AIO's completion is recorded no later than the op it completed
 * during (or after), not only when somebody waits for it: a completion
 * recorded late would be judged as if it landed after ops it came before.
 */
void aio_poll(struct tctx *tc)
{
	struct aio *a = &tc->run->aio;
	pthread_mutex_lock(&a->mu);
	if (a->inflight > 0 && !a->reaping) {
		struct io_event ev[64];
		struct timespec zero = { 0, 0 };
		long n = sys_io_getevents(a->ctx, 0, 64, ev, &zero);
		for (long k = 0; k < n; k++) {
			if (ev[k].data >= a->n) continue;
			struct aio_slot *s = a->slots[ev[k].data];
			s->res = ev[k].res, s->done = 1;
			a->inflight--;
			record_completion(tc, s);
		}
		if (n > 0) pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
}

int64_t aio_wait_op(struct tctx *tc, const struct op *op)
{
	struct aio *a = &tc->run->aio;
	pthread_mutex_lock(&a->mu);
	/* As the sim names them: an id is its newest submission's, until a wait collects it. */
	struct aio_slot *s = NULL;
	for (size_t k = a->n; k-- > 0 && !s;)
		if (a->slots[k]->id == (uint32_t)op->iocb) s = a->slots[k];
	if (!s || s->waited) return pthread_mutex_unlock(&a->mu), -EINVAL;
	s->waited = 1;
	while (!s->done) {
		if (a->reaping) pthread_cond_wait(&a->cv, &a->mu);
		else reap_round(tc);
	}
	int64_t res = s->res;
	pthread_mutex_unlock(&a->mu);
	return res;
}

void aio_drain(struct tctx *tc)
{
	struct aio *a = &tc->run->aio;
	pthread_mutex_lock(&a->mu);
	while (a->inflight > 0) {
		if (a->reaping) pthread_cond_wait(&a->cv, &a->mu);
		else reap_round(tc);
	}
	pthread_mutex_unlock(&a->mu);
}

void aio_stop(struct run *r)
{
	struct aio *a = &r->aio;
	if (a->ctx) sys_io_destroy(a->ctx);
	a->ctx = 0;
	for (size_t k = 0; k < a->n; k++) {
		free(a->slots[k]->buf);
		free(a->slots[k]);
	}
	free(a->slots);
	a->slots = NULL;
	a->n = a->cap = a->inflight = 0;
}
