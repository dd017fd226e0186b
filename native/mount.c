/*
 * The ops that act on the filesystem and the caches rather than on one fd,
 * and what the executor learns about the directory it runs in.
 *
 * drop_caches: syncfs(2) of the program's filesystem (not sync(2): other
 * filesystems' dirty data is not the program's, and waiting for it is slow),
 * then "3" into /proc/sys/vm/drop_caches. Needs root; -errno otherwise.
 *
 * evict: the sim writes the inode back and evicts it, page cache and all
 * (sysEvict: -EBUSY while it is mapped). A process cannot evict an inode it
 * holds open, so the nearest real thing is: wait for AIO and helpers, write
 * the filesystem back (syncfs through a private fd, so the program's fds'
 * error cursors are not advanced), drop the file's clean pages
 * (POSIX_FADV_DONTNEED), let go of every reference the executor holds (each
 * fd of the file is pointed at /dev/null with dup2, keeping its number), prune
 * the inode and dentry caches ("2" into drop_caches: an unused clean inode is
 * evicted with its page cache), then open the file again under the same fd
 * numbers. The reopened fds sample the file's error state anew.
 *
 * remount: only when the executor owns the mount (--device, --fstype,
 * --mount-opts). -EBUSY while anything is mapped, as in the sim; otherwise wait
 * for AIO and helpers, close every file, umount(2), mount(2) again (a FUSE
 * type "fuse.DAEMON" runs `DAEMON -o OPTS DEVICE DIR` instead, DEVICE being
 * the daemon's backing directory, and DAEMON the one beside this executor
 * when there is one: native/build.mjs puts ffz-fused there), and reopen every
 * file. A mount that cannot be restored ends the run.
 *
 * Both evict and remount run alone (run.c takes the op lock exclusively).
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int write_drop_caches(const char *what)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	int ret = write(fd, what, strlen(what)) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

int64_t mount_drop_caches(struct run *r)
{
	if (syncfs(r->dirfd)) return -errno;
	return write_drop_caches("3");
}

static void quiesce(struct tctx *tc)
{
	aio_drain(tc);
	helpers_join(tc->run);
}

/* Write back, drop the clean pages, through an fd of our own. */
static int64_t flush_file(struct run *r, const char *name)
{
	int fd = openat(r->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0) return -errno;
	int64_t ret = syncfs(fd) ? -errno : -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return ret;
}

/* Reopen the file under the numbers it had; a failure here ends the run (the fds would point at /dev/null). */
static int64_t reopen_file(struct run *r, int file, const char *name)
{
	r->priv[file] = openat(r->dirfd, name, file_open_flags(0), 0644);
	if (r->priv[file] < 0) return run_fail(r, "evict: reopen %s: %s", name, strerror(errno)), -errno;
	for (int k = 0; k < r->prog->nfds; k++) {
		if (r->prog->fds[k].file != file) continue;
		int fd = openat(r->dirfd, name, file_open_flags(r->prog->fds[k].direct), 0644);
		if (fd < 0 || dup3(fd, r->fds[k], O_CLOEXEC) < 0) return run_fail(r, "evict: reopen %s: %s", name, strerror(errno)), -errno;
		close(fd);
	}
	return 0;
}

int64_t mount_evict(struct tctx *tc, int file)
{
	struct run *r = tc->run;
	char name[32];
	if (maps_live(r, file)) return -EBUSY;
	quiesce(tc);
	file_name(name, sizeof name, file);
	int64_t ret = flush_file(r, name);
	if (ret) return ret;
	for (int k = 0; k < r->prog->nfds; k++)
		if (r->prog->fds[k].file == file && dup3(r->nulfd, r->fds[k], O_CLOEXEC) < 0) ret = -errno;
	close(r->priv[file]);
	r->priv[file] = -1;
	int dropped = write_drop_caches("2");
	int64_t reopened = reopen_file(r, file, name);
	return ret ? ret : dropped ? dropped : reopened;
}

/* DAEMON's path: beside this executor (dist/native/), else DAEMON as posix_spawnp finds it on PATH. */
static void daemon_path(const char *daemon, char *buf, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	snprintf(buf, len, "%s", daemon);
	if (n <= 0 || strchr(daemon, '/')) return;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash) return;
	*slash = 0;
	char beside[sizeof self + 256];
	snprintf(beside, sizeof beside, "%s/%s", self, daemon);
	if (access(beside, X_OK) == 0) snprintf(buf, len, "%s", beside);
}

static int run_daemon(const struct options *o, char *err, size_t errlen)
{
	char daemon[4096 + 256];
	daemon_path(o->fstype + strlen("fuse."), daemon, sizeof daemon);
	char *argv[] = { daemon, "-o", (char *)o->mount_opts, (char *)o->device, (char *)o->dir, NULL };
	if (!o->mount_opts || !*o->mount_opts) argv[1] = (char *)o->device, argv[2] = (char *)o->dir, argv[3] = NULL;
	/* Our stdout carries the trace: the daemon gets no stdin, and its stdout goes to our stderr. */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	pid_t pid;
	int rc = posix_spawnp(&pid, daemon, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) return snprintf(err, errlen, "spawn %s: %s", daemon, strerror(rc)), -rc;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return snprintf(err, errlen, "%s %s %s failed (status %d)", daemon, o->device, o->dir, status), -EIO;
	return 0;
}

int mount_cycle(const struct options *o, char *err, size_t errlen)
{
	/* The last close of a file may finish a moment after close(2) returns: retry a busy umount briefly. */
	for (int tries = 0;; tries++) {
		if (umount2(o->dir, 0) == 0) break;
		if (errno != EBUSY || tries == 100) return snprintf(err, errlen, "umount %s: %s", o->dir, strerror(errno)), -errno;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (strncmp(o->fstype, "fuse.", 5) == 0) return run_daemon(o, err, errlen);
	if (mount(o->device, o->dir, o->fstype, 0, o->mount_opts ? o->mount_opts : ""))
		return snprintf(err, errlen, "mount %s on %s (%s): %s", o->device, o->dir, o->fstype, strerror(errno)), -errno;
	return 0;
}

int64_t mount_remount(struct tctx *tc)
{
	struct run *r = tc->run;
	char err[256];
	if (maps_live(r, -1)) return -EBUSY;
	quiesce(tc);
	run_close_files(r);
	int ret = mount_cycle(r->opt, err, sizeof err);
	if (ret) {
		run_fail(r, "remount: %s", err);
		return ret;
	}
	return run_open_files(r) ? -EIO : 0;
}

/* ---- the header: what the directory is ---------------------------------- */

/* statfs's magic as /proc/mounts names it; FUSE by its mount entry ("fuse.ffz-fused"). */
static void fs_type_name(const char *dir, long magic, char *buf, size_t len)
{
	switch (magic) {
	case EXT4_SUPER_MAGIC: snprintf(buf, len, "ext4"); return;
	case XFS_SUPER_MAGIC: snprintf(buf, len, "xfs"); return;
	case TMPFS_MAGIC: snprintf(buf, len, "tmpfs"); return;
	case BTRFS_SUPER_MAGIC: snprintf(buf, len, "btrfs"); return;
	case FUSE_SUPER_MAGIC: break;
	default: snprintf(buf, len, "0x%lx", magic); return;
	}
	snprintf(buf, len, "fuse");
	char *real = realpath(dir, NULL);
	FILE *f = fopen("/proc/self/mounts", "re");
	char src[512], mnt[512], type[128];
	/* The last entry for the directory is the one on top. */
	while (real && f && fscanf(f, "%511s %511s %127s %*[^\n]", src, mnt, type) == 3)
		if (strcmp(mnt, real) == 0 && strncmp(type, "fuse", 4) == 0) snprintf(buf, len, "%s", type);
	if (f) fclose(f);
	free(real);
}

/* ext2/3/4: whether a new file is extent-mapped (1), not (0); -1 elsewhere. */
static int probe_extents(const char *dir, long magic)
{
	if (magic != EXT4_SUPER_MAGIC) return -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) return -1;
	int fd = openat(dfd, ".foliofuzz-probe", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int flags = 0, got = fd >= 0 ? ioctl(fd, FS_IOC_GETFLAGS, &flags) : -1;
	if (fd >= 0) close(fd);
	unlinkat(dfd, ".foliofuzz-probe", 0);
	close(dfd);
	return got ? -1 : (flags & FS_EXTENT_FL) != 0;
}

int probe_write(FILE *out, const char *dir, char *err, size_t errlen)
{
	struct statfs sf;
	struct utsname u;
	char type[128];
	if (statfs(dir, &sf)) return snprintf(err, errlen, "statfs %s: %s", dir, strerror(errno)), -1;
	uname(&u);
	fs_type_name(dir, (long)sf.f_type, type, sizeof type);
	int ext = probe_extents(dir, (long)sf.f_type);
	fprintf(out, "{\"exec\":\"%s\",\"release\":", EXEC_FORMAT);
	json_string(out, u.release);
	fputs(",\"fsType\":", out);
	json_string(out, type);
	fprintf(out, ",\"blockSize\":%ld,\"extents\":%s}\n", (long)sf.f_bsize, ext < 0 ? "null" : ext ? "true" : "false");
	return 0;
}
