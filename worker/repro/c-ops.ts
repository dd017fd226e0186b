// The ops of an exported C program as real syscalls (the fixed part; c.ts
// calls them, c-runtime.ts has the checks they use): each returns what the
// sim's op returns, a byte count, 0, or -errno, doing what the kernel twin's
// executor does (native/ops.c, mmap.c, aio.c, mount.c).
//
// - pwrite, pread: syscalls of at most bsize bytes, stopping at the first
//   short or failed one; each read's bytes checked as they come.
// - mread, mwrite: at file offsets through a MAP_SHARED mapping, page by
//   page; SIGBUS (a page past EOF) is caught per thread and the op returns
//   -EFAULT; an unknown map is -EINVAL, a range outside it or a store into a
//   read-only one -EFAULT, checked first.
// - aio_write, aio_read: io_submit of one iocb, returning 0 when it took it;
//   the result is the completion's, checked when io_getevents reaps it,
//   whoever reaps it (aio_wait, an evict or remount, the end).
// - writeback_kick, reclaim: a helper thread beside the program, as the
//   flusher and kswapd run beside it in the sim.
// - drop_caches, evict, remount: syncfs and drop_caches (as root); a process
//   cannot evict an inode it holds open, and this program does not own the
//   mount, so evict and remount let go of the files and open them again.

export const C_OPS = String.raw`
/* ---- plain syscalls ------------------------------------------------------ */

static unsigned char *io_buffer(unsigned long long n)
{
	void *p = NULL;
	/* Aligned for O_DIRECT, whatever the fd. */
	if (posix_memalign(&p, PAGE, n ? n : 1)) {
		perror("posix_memalign");
		exit(2);
	}
	return p;
}

__attribute__((unused)) static long long rc(long r)
{
	return r < 0 ? -errno : r;
}

/* pwrite in syscalls of at most bsize bytes, stopping at the first short or failed one (xfs_io -b). */
__attribute__((unused)) static long long do_pwrite(int fd, unsigned long long off, unsigned long long len, int fill,
						  unsigned long long bsize)
{
	unsigned long long chunk = bsize < len ? bsize : len, done = 0;
	unsigned char *buf = io_buffer(chunk);
	long long ret = 0;
	memset(buf, fill, chunk);
	while (done < len) {
		unsigned long long n = len - done < bsize ? len - done : bsize;
		ret = rc(pwrite(fds[fd], buf, n, (off_t)(off + done)));
		if (ret <= 0) break;
		done += (unsigned long long)ret;
		if ((unsigned long long)ret < n) break;
	}
	free(buf);
	return done > 0 ? (long long)done : ret;
}

/* pread likewise; each syscall's bytes checked against the fixed kernel's call at the same offset. */
__attribute__((unused)) static long long do_pread(const char *what, int fd, unsigned long long off, unsigned long long len,
						 unsigned long long bsize, const struct call_want *cw, int ncw)
{
	unsigned long long chunk = bsize < len ? bsize : len, done = 0;
	unsigned char *buf = io_buffer(chunk);
	long long ret = 0;
	for (int call = 0; done < len; call++) {
		unsigned long long n = len - done < bsize ? len - done : bsize;
		ret = rc(pread(fds[fd], buf, n, (off_t)(off + done)));
		for (int k = 0; cw && k < ncw; k++)
			if (cw[k].off == off + done) check_want(fd_file[fd], what, "reads", off + done, buf, ret, &cw[k].w);
		if (ret <= 0) break;
		done += (unsigned long long)ret;
		if ((unsigned long long)ret < n) break;
	}
	free(buf);
	return done > 0 ? (long long)done : ret;
}

__attribute__((unused)) static long long do_copy_range(int in, unsigned long long off_in, int out, unsigned long long off_out,
						      unsigned long long len)
{
	loff_t i = (loff_t)off_in, o = (loff_t)off_out;
	return rc(copy_file_range(fds[in], &i, fds[out], &o, len, 0));
}

/* close(2) and open(2) again, atomically for the other threads: the new description takes the old number. */
__attribute__((unused)) static long long do_close_open(int fd)
{
	char name[32];
	snprintf(name, sizeof name, "f%d", fd_file[fd]);
	int nfd = openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | (fd_direct[fd] ? O_DIRECT : 0), 0644);
	if (nfd < 0) return -errno;
	long long ret = dup3(nfd, fds[fd], O_CLOEXEC) < 0 ? -errno : 0;
	close(nfd);
	return ret;
}

/* ---- mappings ------------------------------------------------------------ */

struct map { unsigned char *base; unsigned long long start, len; int live, write, file; };
static struct map maps[NMAPS];
static pthread_rwlock_t map_lock = PTHREAD_RWLOCK_INITIALIZER;
static __thread sigjmp_buf *bus_env;

static void on_sigbus(int sig)
{
	if (bus_env) siglongjmp(*bus_env, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int maps_live(int file)
{
	int live = 0;
	pthread_rwlock_rdlock(&map_lock);
	for (int k = 0; k < NMAPS; k++) live |= maps[k].live && (file < 0 || maps[k].file == file);
	pthread_rwlock_unlock(&map_lock);
	return live;
}

static void maps_unmap_all(void)
{
	pthread_rwlock_wrlock(&map_lock);
	for (int k = 0; k < NMAPS; k++) {
		if (maps[k].live) munmap(maps[k].base, maps[k].len);
		maps[k].live = 0;
	}
	pthread_rwlock_unlock(&map_lock);
}

/* prot: 0 r, 1 w, 2 rw ('w' maps PROT_READ|PROT_WRITE: x86 cannot map write-only). Mapping a live id replaces it. */
__attribute__((unused)) static long long do_mmap(int id, int fd, unsigned long long off, unsigned long long len, int prot)
{
	long long ret = 0;
	pthread_rwlock_wrlock(&map_lock);
	if (maps[id].live) munmap(maps[id].base, maps[id].len);
	maps[id].live = 0;
	void *p = mmap(NULL, len, prot ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fds[fd], (off_t)off);
	if (p == MAP_FAILED) ret = -errno;
	else maps[id] = (struct map){ p, off, len, 1, prot != 0, fd_file[fd] };
	pthread_rwlock_unlock(&map_lock);
	return ret;
}

/* -EINVAL for an unknown map, -EFAULT for a range outside it or a store into a read-only one; holds map_lock on 0. */
static long long map_access(int id, unsigned long long off, unsigned long long len, int store)
{
	pthread_rwlock_rdlock(&map_lock);
	struct map *m = &maps[id];
	long long ret = 0;
	if (!m->live) ret = -EINVAL;
	else if ((store && !m->write) || off < m->start || off + len > m->start + m->len) ret = -EFAULT;
	if (ret) pthread_rwlock_unlock(&map_lock);
	return ret;
}

/* Copy page by page; SIGBUS (a page past EOF) makes it -EFAULT, as in the sim. */
static long long guarded_copy(unsigned char *dst, const unsigned char *src, int fill, unsigned long long pos,
			      unsigned long long len)
{
	sigjmp_buf env;
	volatile unsigned long long done = 0;
	if (sigsetjmp(env, 1)) {
		bus_env = NULL;
		return -EFAULT;
	}
	bus_env = &env;
	while (done < len) {
		unsigned long long n = PAGE - (pos + done) % PAGE;
		if (n > len - done) n = len - done;
		if (src) memcpy(dst + done, src + done, n);
		else memset(dst + done, fill, n);
		done += n;
	}
	bus_env = NULL;
	return (long long)len;
}

__attribute__((unused)) static long long do_mread(const char *what, int id, unsigned long long off, unsigned long long len,
						 const struct want *w)
{
	long long ret = map_access(id, off, len, 0);
	if (ret) return ret;
	struct map *m = &maps[id];
	unsigned char *buf = io_buffer(len);
	int file = m->file;
	ret = guarded_copy(buf, m->base + (off - m->start), 0, off, len);
	pthread_rwlock_unlock(&map_lock);
	if (ret > 0 && w) check_bytes(file, what, "loads", off, buf, ret, w);
	free(buf);
	return ret;
}

__attribute__((unused)) static long long do_mwrite(int id, unsigned long long off, unsigned long long len, int fill)
{
	long long ret = map_access(id, off, len, 1);
	if (ret) return ret;
	struct map *m = &maps[id];
	ret = guarded_copy(m->base + (off - m->start), NULL, fill, off, len);
	pthread_rwlock_unlock(&map_lock);
	return ret;
}

/* The range clamped to the mapping, page aligned down; wholly outside it -ENOMEM. */
__attribute__((unused)) static long long do_msync(int id, unsigned long long off, unsigned long long len, int sync)
{
	long long ret = 0;
	pthread_rwlock_rdlock(&map_lock);
	struct map *m = &maps[id];
	if (!m->live) ret = -EINVAL;
	else if (len == 0) ret = rc(msync(m->base, 0, sync ? MS_SYNC : MS_ASYNC));
	else {
		unsigned long long lo = off > m->start ? off : m->start;
		unsigned long long end = off + len < m->start + m->len ? off + len : m->start + m->len;
		unsigned long long from = (lo - m->start) / PAGE * PAGE;
		if (end <= lo) ret = -ENOMEM;
		else ret = rc(msync(m->base + from, end - m->start - from, sync ? MS_SYNC : MS_ASYNC));
	}
	pthread_rwlock_unlock(&map_lock);
	return ret;
}

__attribute__((unused)) static long long do_munmap(int id)
{
	long long ret = 0;
	pthread_rwlock_wrlock(&map_lock);
	if (!maps[id].live) ret = -EINVAL;
	else munmap(maps[id].base, maps[id].len);
	maps[id].live = 0;
	pthread_rwlock_unlock(&map_lock);
	return ret;
}

/* ---- AIO: io_submit, and io_getevents whoever waits ---------------------- */

/* One slot per submitting op of the program. */
struct slot {
	struct iocb cb;
	unsigned char *buf;
	int id, write, file, submitted, done, waited;
	long long res;
	unsigned long long order, off;
	const char *what;
	const struct want *w;
};
static struct slot slots[NAIO];
static aio_context_t aio_ctx;
static pthread_mutex_t aio_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t aio_cv = PTHREAD_COND_INITIALIZER;
static int reaping, inflight;
static unsigned long long submissions;

/* Its completion (aio_mu held): checked against the fixed kernel's as it is reaped. */
static void aio_completed(struct slot *s, long long res)
{
	char what[512];
	s->res = res, s->done = 1;
	inflight--;
	snprintf(what, sizeof what, "%s: its completion", s->what);
	if (s->write && s->w) check_ret(s->file, what, res, s->w->ret);
	else check_want(s->file, what, "reads", s->off, s->buf, res, s->w);
	free(s->buf);
	s->buf = NULL;
}

__attribute__((unused)) static long long do_aio(int k, int id, int write, int fd, unsigned long long off, unsigned long long len,
					       int fill, const char *what, const struct want *w)
{
	struct slot *s = &slots[k];
	struct iocb *list[1] = { &s->cb };
	pthread_mutex_lock(&aio_mu);
	*s = (struct slot){ .buf = io_buffer(len), .id = id, .write = write, .file = fd_file[fd], .submitted = 1,
			    .order = ++submissions, .off = off, .what = what, .w = w };
	if (write) memset(s->buf, fill, len);
	inflight++;
	pthread_mutex_unlock(&aio_mu);
	s->cb.aio_data = (uint64_t)k;
	s->cb.aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	s->cb.aio_fildes = (uint32_t)fds[fd];
	s->cb.aio_buf = (uint64_t)(uintptr_t)s->buf;
	s->cb.aio_nbytes = len;
	s->cb.aio_offset = (int64_t)off;
	long got = syscall(SYS_io_submit, aio_ctx, 1, list);
	if (got == 1) return 0;
	long long err = got < 0 ? -errno : -EAGAIN;
	pthread_mutex_lock(&aio_mu);
	aio_completed(s, err);
	pthread_cond_broadcast(&aio_cv);
	pthread_mutex_unlock(&aio_mu);
	return err;
}

/* One io_getevents round by the calling thread (aio_mu held on entry and exit). */
static void reap_round(void)
{
	struct io_event ev[64];
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	reaping = 1;
	pthread_mutex_unlock(&aio_mu);
	long n = syscall(SYS_io_getevents, aio_ctx, 1, 64, ev, &ts);
	int err = errno;
	pthread_mutex_lock(&aio_mu);
	for (long k = 0; k < n; k++)
		if (ev[k].data < NAIO && !slots[ev[k].data].done) aio_completed(&slots[ev[k].data], ev[k].res);
	if (n < 0 && err != EINTR) {
		fprintf(stderr, "io_getevents: %s\n", strerror(err));
		for (int k = 0; k < NAIO; k++)
			if (slots[k].submitted && !slots[k].done) aio_completed(&slots[k], -err);
	}
	reaping = 0;
	pthread_cond_broadcast(&aio_cv);
}

/* Waits for the newest submission of the id nobody waited for (-EINVAL if none), reaping whatever comes. */
__attribute__((unused)) static long long do_aio_wait(int id)
{
	struct slot *s = NULL;
	pthread_mutex_lock(&aio_mu);
	for (int k = 0; k < NAIO; k++)
		if (slots[k].submitted && slots[k].id == id && !slots[k].waited && (!s || slots[k].order > s->order)) s = &slots[k];
	if (!s) return pthread_mutex_unlock(&aio_mu), -EINVAL;
	s->waited = 1;
	while (!s->done) {
		if (reaping) pthread_cond_wait(&aio_cv, &aio_mu);
		else reap_round();
	}
	long long res = s->res;
	pthread_mutex_unlock(&aio_mu);
	return res;
}

static void aio_drain(void)
{
	pthread_mutex_lock(&aio_mu);
	while (inflight > 0) {
		if (reaping) pthread_cond_wait(&aio_cv, &aio_mu);
		else reap_round();
	}
	pthread_mutex_unlock(&aio_mu);
}

/* ---- helpers: the flusher and kswapd, beside the program ----------------- */

static pthread_t helpers[NHELPERS];
static int nhelpers;
static pthread_mutex_t helper_mu = PTHREAD_MUTEX_INITIALIZER;

static void *helper_main(void *arg)
{
	int reclaim = (int)(intptr_t)arg;
	for (int f = 0; f < NFILES; f++) {
		if (reclaim) posix_fadvise(priv[f], 0, 0, POSIX_FADV_DONTNEED);
		else sync_file_range(priv[f], 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	return NULL;
}

/*
 * writeback_kick: start writeback of every dirty page of every file, waiting
 * for none; reclaim: drop the clean pages that are not mapped. Through the
 * program's own fds, in a thread of their own that runs beside the program.
 */
__attribute__((unused)) static long long do_helper(int reclaim)
{
	pthread_mutex_lock(&helper_mu);
	int err = nhelpers < NHELPERS ? pthread_create(&helpers[nhelpers], NULL, helper_main, (void *)(intptr_t)reclaim) : EAGAIN;
	if (!err) nhelpers++;
	pthread_mutex_unlock(&helper_mu);
	return -err;
}

static void helpers_join(void)
{
	pthread_mutex_lock(&helper_mu);
	for (int k = 0; k < nhelpers; k++) pthread_join(helpers[k], NULL);
	nhelpers = 0;
	pthread_mutex_unlock(&helper_mu);
}

/* ---- the caches, evict, remount ------------------------------------------ */

static int write_drop_caches(const char *what)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	int ret = write(fd, what, strlen(what)) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* syncfs, then "3" into drop_caches; without root only the syncfs (the start said so). */
__attribute__((unused)) static long long do_drop_caches(void)
{
	if (syncfs(dir_fd)) return -errno;
	return have_root ? write_drop_caches("3") : 0;
}

static int open_file(int f, int direct, int create)
{
	char name[32];
	snprintf(name, sizeof name, "f%d", f);
	return openat(dir_fd, name, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0) | (create ? O_CREAT | O_EXCL : 0), 0644);
}

/*
 * A process cannot evict an inode it holds open: write it back, drop its
 * clean pages, point every fd of it at /dev/null (numbers kept), let go of
 * our own, prune the inode cache ("2" into drop_caches, as root), and open
 * it again under the same numbers (file < 0: every file).
 */
static long long release_and_reopen(int file)
{
	long long ret = syncfs(dir_fd) ? -errno : 0;
	for (int f = 0; f < NFILES; f++) {
		if (file >= 0 && f != file) continue;
		posix_fadvise(priv[f], 0, 0, POSIX_FADV_DONTNEED);
		for (int k = 0; k < NFDS; k++)
			if (fd_file[k] == f && dup3(nul_fd, fds[k], O_CLOEXEC) < 0) ret = -errno;
		close(priv[f]);
	}
	if (have_root) write_drop_caches(file < 0 ? "3" : "2");
	for (int f = 0; f < NFILES; f++) {
		if (file >= 0 && f != file) continue;
		priv[f] = open_file(f, 0, 0);
		for (int k = 0; k < NFDS; k++) {
			if (fd_file[k] != f) continue;
			int nfd = open_file(f, fd_direct[k], 0);
			if (nfd < 0 || dup3(nfd, fds[k], O_CLOEXEC) < 0) ret = -errno;
			if (nfd >= 0) close(nfd);
		}
	}
	return ret;
}

/* evict: -EBUSY while the file is mapped, as in the sim. */
__attribute__((unused)) static long long do_evict(int file)
{
	if (maps_live(file)) return -EBUSY;
	aio_drain();
	helpers_join();
	return release_and_reopen(file);
}

/* remount: -EBUSY while anything is mapped; this program does not own the mount, so every file is evicted instead. */
__attribute__((unused)) static long long do_remount(void)
{
	if (maps_live(-1)) return -EBUSY;
	aio_drain();
	helpers_join();
	return release_and_reopen(-1);
}

`;
