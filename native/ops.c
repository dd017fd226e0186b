/*
 * The ops that are plain system calls on a file descriptor, and the dispatch
 * of every op to its concern. A failed call returns -errno, as the sim does.
 *
 * pwrite and pread go out in syscalls of at most bsize bytes (xfs_io -b), one
 * `call` event each, stopping at the first short or failed one, exactly as
 * worker/exec/run.ts issues them.
 *
 * writeback_kick and reclaim stand for kernel threads that run beside the
 * program (the flusher, kswapd): each starts a helper thread and returns 0.
 * The helper does the nearest thing a process can ask for, over every file
 * through the executor's own fds: writeback_kick sync_file_range(
 * SYNC_FILE_RANGE_WRITE) (start writeback of every dirty page, wait for
 * none), reclaim posix_fadvise(POSIX_FADV_DONTNEED) (drop the clean pages
 * that are not mapped, after starting writeback of the dirty ones). Helpers
 * are joined before anything closes files (remount, evict) and at the end.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char *io_buffer(uint64_t n)
{
	void *p = NULL;
	/* Aligned for O_DIRECT, whatever the fd. */
	return posix_memalign(&p, PAGE, n ? n : 1) ? NULL : p;
}

/* pwrite or pread in syscalls of at most bsize bytes; a read's calls carry the bytes they returned. */
static int64_t op_chunked(struct tctx *tc, const struct op *op, int write)
{
	struct run *r = tc->run;
	uint64_t bsize = op->bsize ? op->bsize : op->len;
	uint64_t chunk = bsize < op->len ? bsize : op->len;
	unsigned char *buf = io_buffer(chunk);
	if (!buf) return -ENOMEM;
	if (write) memset(buf, (int)op->fill, chunk);
	uint64_t done = 0;
	int64_t ret = 0;
	while (done < op->len) {
		uint64_t n = op->len - done < bsize ? op->len - done : bsize;
		off_t pos = (off_t)(op->off + done);
		ssize_t got = write ? pwrite(r->fds[op->fd], buf, n, pos) : pread(r->fds[op->fd], buf, n, pos);
		ret = got < 0 ? -errno : got;
		struct event *e = ev_new(tc->buf, &r->seq, EV_CALL);
		e->t = tc->t, e->i = tc->i, e->off = op->off + done, e->len = n, e->ret = ret;
		if (!write) ev_set_data(e, buf, ret > 0 ? (size_t)ret : 0);
		if (ret <= 0) break;
		done += (uint64_t)ret;
		if ((uint64_t)ret < n) break;
	}
	free(buf);
	return done > 0 ? (int64_t)done : ret;
}

static int64_t op_fallocate(struct run *r, const struct op *op)
{
	static const int MODE[] = {
		[FM_ALLOC] = 0,
		[FM_KEEP_SIZE] = FALLOC_FL_KEEP_SIZE,
		[FM_PUNCH] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		[FM_ZERO] = FALLOC_FL_ZERO_RANGE,
		[FM_ZERO_KEEP] = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		[FM_COLLAPSE] = FALLOC_FL_COLLAPSE_RANGE,
		[FM_INSERT] = FALLOC_FL_INSERT_RANGE,
		[FM_UNSHARE] = FALLOC_FL_UNSHARE_RANGE,
	};
	return fallocate(r->fds[op->fd], MODE[op->mode], (off_t)op->off, (off_t)op->len) ? -errno : 0;
}

static int64_t op_copy_range(struct run *r, const struct op *op)
{
	loff_t in = (loff_t)op->off, out = (loff_t)op->off2;
	ssize_t n = copy_file_range(r->fds[op->fd], &in, r->fds[op->fd2], &out, op->len, 0);
	return n < 0 ? -errno : n;
}

/* close(2) and open(2) again, atomically for the other threads: the new description takes the old number. */
static int64_t op_close_open(struct run *r, const struct op *op)
{
	char name[32];
	const struct fd_decl *d = &r->prog->fds[op->fd];
	file_name(name, sizeof name, d->file);
	int fd = openat(r->dirfd, name, file_open_flags(d->direct), 0644);
	if (fd < 0) return -errno;
	int64_t ret = dup3(fd, r->fds[op->fd], O_CLOEXEC) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* ---- helpers: the flusher and kswapd ------------------------------------- */

struct helper_arg {
	struct run *run;
	int reclaim;
};

static void *helper_main(void *p)
{
	struct helper_arg *a = p;
	for (int f = 0; f < a->run->prog->nfiles; f++) {
		int fd = a->run->priv[f];
		if (a->reclaim) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		else sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	free(a);
	return NULL;
}

static int64_t helper_start(struct run *r, int reclaim)
{
	struct helper_arg *a = malloc(sizeof *a);
	if (!a) return -ENOMEM;
	*a = (struct helper_arg){ r, reclaim };
	struct helpers *h = &r->helpers;
	pthread_mutex_lock(&h->mu);
	int err = 0;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		pthread_t *v = realloc(h->v, cap * sizeof *v);
		if (!v) err = ENOMEM;
		else h->v = v, h->cap = cap;
	}
	if (!err) err = pthread_create(&h->v[h->n], NULL, helper_main, a);
	if (!err) h->n++;
	pthread_mutex_unlock(&h->mu);
	if (err) free(a);
	return -err;
}

void helpers_join(struct run *r)
{
	struct helpers *h = &r->helpers;
	pthread_mutex_lock(&h->mu);
	for (size_t k = 0; k < h->n; k++) pthread_join(h->v[k], NULL);
	h->n = 0;
	pthread_mutex_unlock(&h->mu);
}

/* ---- dispatch ---------------------------------------------------------- */

int op_exclusive(enum op_kind k)
{
	return k == OP_REMOUNT || k == OP_EVICT;
}

int64_t op_run(struct tctx *tc, const struct op *op, struct event *extras)
{
	struct run *r = tc->run;
	int fd = r->fds[op->fd];
	switch (op->kind) {
	case OP_PWRITE: return op_chunked(tc, op, 1);
	case OP_PREAD: return op_chunked(tc, op, 0);
	case OP_TRUNCATE: return ftruncate(fd, (off_t)op->size) ? -errno : 0;
	case OP_FALLOCATE: return op_fallocate(r, op);
	case OP_COPY_RANGE: return op_copy_range(r, op);
	case OP_FSYNC: return fsync(fd) ? -errno : 0;
	case OP_FDATASYNC: return fdatasync(fd) ? -errno : 0;
	case OP_SYNC_FILE_RANGE: return sync_file_range(fd, (off_t)op->off, (off_t)op->len, (unsigned)op->flags) ? -errno : 0;
	case OP_FADVISE_DONTNEED: return -posix_fadvise(fd, (off_t)op->off, (off_t)op->len, POSIX_FADV_DONTNEED);
	case OP_DROP_CACHES: return mount_drop_caches(r);
	case OP_EVICT: return mount_evict(tc, (int)op->file);
	case OP_REMOUNT: return mount_remount(tc);
	case OP_CLOSE_OPEN: return op_close_open(r, op);
	case OP_MMAP: return map_mmap(tc, op);
	case OP_MREAD: return map_read(tc, op, extras);
	case OP_MWRITE: return map_write(tc, op, extras);
	case OP_MSYNC: return map_msync(tc, op);
	case OP_MUNMAP: return map_munmap(tc, op);
	case OP_AIO_WRITE:
	case OP_AIO_READ: return aio_submit_op(tc, op);
	case OP_AIO_WAIT: return aio_wait_op(tc, op);
	case OP_WRITEBACK_KICK: return helper_start(r, 0);
	case OP_RECLAIM: return helper_start(r, 1);
	case OP_POWER_CUT:
	case OP_FAIL_BIO:
	case OP__COUNT: break;
	}
	/* program_unsupported refused these before the run. */
	return -ENOSYS;
}
