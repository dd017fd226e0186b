/*
 * Mappings: mmap(2) MAP_SHARED of a range of a file, named by the program's
 * map id and shared by its threads; loads and stores through them at file
 * offsets, as worker/sim/mm/mmap.ts does.
 *
 * A load or store that touches a page wholly past EOF gets SIGBUS. The
 * handler jumps back (siglongjmp, one jump buffer per thread) and the op
 * returns -EFAULT, as the sim's does. Stores go page by page, the count of
 * bytes stored advanced after each page, so an mwrite that faults reports
 * exactly the bytes stored before the faulting page (`stored`), as the sim's
 * lastStored does.
 *
 * What the hardware would turn into SIGSEGV is checked first and refused like
 * the sim refuses it: an unknown map is -EINVAL, a range outside the mapping
 * or a store into a read-only one is -EFAULT. 'w' maps PROT_READ|PROT_WRITE
 * (x86 cannot map write-only; the sim lets 'w' mappings load too).
 *
 * msync takes the range clamped to the mapping (page aligned down at the
 * start); a range wholly outside it is -ENOMEM, as msync(2) says of memory
 * that is not mapped. Loads and stores hold the map table's lock shared,
 * mmap and munmap hold it alone, so no access runs into a mapping another
 * thread is taking away.
 */
#include "exec.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static __thread sigjmp_buf *bus_env;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)si, (void)uc;
	if (bus_env) siglongjmp(*bus_env, 1);
	/* Not ours: die of it as the process would have. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void sigbus_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* The live map with this id; callers hold maps.lock. */
static struct map *map_find(struct maps *m, uint32_t id)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->v[k].live && m->v[k].id == id) return &m->v[k];
	return NULL;
}

static void map_drop(struct map *mp)
{
	munmap(mp->base, mp->len);
	mp->live = 0;
}

static struct map *map_slot(struct maps *m)
{
	for (size_t k = 0; k < m->n; k++)
		if (!m->v[k].live) return &m->v[k];
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct map *v = realloc(m->v, cap * sizeof *v);
		if (!v) return NULL;
		m->v = v, m->cap = cap;
	}
	return &m->v[m->n++];
}

int64_t map_mmap(struct tctx *tc, const struct op *op)
{
	struct run *r = tc->run;
	struct maps *m = &r->maps;
	static const int PROT[] = { [PROT_R] = PROT_READ, [PROT_W] = PROT_READ | PROT_WRITE, [PROT_RW] = PROT_READ | PROT_WRITE };
	pthread_rwlock_wrlock(&m->lock);
	/* Like the sim: mapping an id that is mapped replaces it. */
	struct map *old = map_find(m, (uint32_t)op->map);
	if (old) map_drop(old);
	int64_t ret = 0;
	void *p = mmap(NULL, op->len, PROT[op->prot], MAP_SHARED, r->fds[op->fd], (off_t)op->off);
	struct map *mp = p == MAP_FAILED ? NULL : map_slot(m);
	if (p == MAP_FAILED) ret = -errno;
	else if (!mp) munmap(p, op->len), ret = -ENOMEM;
	else *mp = (struct map){ (uint32_t)op->map, 1, op->prot != PROT_R, r->prog->fds[op->fd].file, p, op->off, op->len };
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

/* -EINVAL for an unknown map, -EFAULT for a range outside it; 0 and *out otherwise. Holds the lock on success. */
static int64_t map_access(struct maps *m, const struct op *op, int store, struct map **out)
{
	pthread_rwlock_rdlock(&m->lock);
	struct map *mp = map_find(m, (uint32_t)op->map);
	int64_t ret = 0;
	if (!mp) ret = -EINVAL;
	else if ((store && !mp->write) || op->off < mp->start || op->off + op->len > mp->start + mp->len) ret = -EFAULT;
	if (ret) pthread_rwlock_unlock(&m->lock);
	*out = mp;
	return ret;
}

/* Bytes up to the next page boundary of the file (the mapping starts on one). */
static uint64_t to_page_end(uint64_t pos, uint64_t left)
{
	uint64_t n = PAGE - pos % PAGE;
	return n < left ? n : left;
}

/* Copy page by page; returns the count copied, or -EFAULT on SIGBUS (*done: bytes copied before it). */
static int64_t copy_guarded(unsigned char *dst, const unsigned char *src, int fill, uint64_t pos, uint64_t len,
			    volatile uint64_t *done)
{
	sigjmp_buf env;
	*done = 0;
	if (sigsetjmp(env, 1)) {
		bus_env = NULL;
		return -EFAULT;
	}
	bus_env = &env;
	while (*done < len) {
		uint64_t n = to_page_end(pos + *done, len - *done);
		if (src) memcpy(dst + *done, src + *done, n);
		else memset(dst + *done, fill, n);
		*done += n;
	}
	bus_env = NULL;
	return (int64_t)len;
}

int64_t map_read(struct tctx *tc, const struct op *op, struct event *extras)
{
	struct map *mp;
	int64_t ret = map_access(&tc->run->maps, op, 0, &mp);
	if (ret) return ret;
	unsigned char *buf = malloc(op->len ? op->len : 1);
	volatile uint64_t done;
	if (!buf) ret = -ENOMEM;
	else ret = copy_guarded(buf, mp->base + (op->off - mp->start), 0, op->off, op->len, &done);
	pthread_rwlock_unlock(&tc->run->maps.lock);
	if (ret >= 0) {
		extras->data = buf, extras->dlen = (size_t)ret, extras->has_data = 1;
		return ret;
	}
	free(buf);
	return ret;
}

int64_t map_write(struct tctx *tc, const struct op *op, struct event *extras)
{
	struct map *mp;
	int64_t ret = map_access(&tc->run->maps, op, 1, &mp);
	extras->stored = 0;
	if (ret) return ret;
	volatile uint64_t done;
	ret = copy_guarded(mp->base + (op->off - mp->start), NULL, (int)op->fill, op->off, op->len, &done);
	pthread_rwlock_unlock(&tc->run->maps.lock);
	extras->stored = (int64_t)done;
	return ret;
}

int64_t map_msync(struct tctx *tc, const struct op *op)
{
	struct maps *m = &tc->run->maps;
	pthread_rwlock_rdlock(&m->lock);
	struct map *mp = map_find(m, (uint32_t)op->map);
	int64_t ret = 0;
	uint64_t lo = op->off > (mp ? mp->start : 0) ? op->off : (mp ? mp->start : 0);
	uint64_t end = mp && op->off + op->len < mp->start + mp->len ? op->off + op->len : (mp ? mp->start + mp->len : 0);
	if (!mp) ret = -EINVAL;
	else if (op->len == 0) ret = msync(mp->base, 0, op->sync ? MS_SYNC : MS_ASYNC) ? -errno : 0;
	else if (end <= lo) ret = -ENOMEM;
	else {
		uint64_t from = (lo - mp->start) / PAGE * PAGE;
		ret = msync(mp->base + from, end - mp->start - from, op->sync ? MS_SYNC : MS_ASYNC) ? -errno : 0;
	}
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

int64_t map_munmap(struct tctx *tc, const struct op *op)
{
	struct maps *m = &tc->run->maps;
	pthread_rwlock_wrlock(&m->lock);
	struct map *mp = map_find(m, (uint32_t)op->map);
	if (mp) map_drop(mp);
	pthread_rwlock_unlock(&m->lock);
	return mp ? 0 : -EINVAL;
}

int maps_live(struct run *r, int file)
{
	struct maps *m = &r->maps;
	int live = 0;
	pthread_rwlock_rdlock(&m->lock);
	for (size_t k = 0; k < m->n; k++)
		if (m->v[k].live && (file < 0 || m->v[k].file == file)) live = 1;
	pthread_rwlock_unlock(&m->lock);
	return live;
}

void maps_unmap_all(struct run *r)
{
	struct maps *m = &r->maps;
	pthread_rwlock_wrlock(&m->lock);
	for (size_t k = 0; k < m->n; k++)
		if (m->v[k].live) map_drop(&m->v[k]);
	pthread_rwlock_unlock(&m->lock);
}
