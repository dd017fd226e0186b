/*
 * File data: each open file is an fd on the backing file (fi->fh), and every
 * request on it is the one system call on that fd that does what the sim's
 * server does to its store (worker/sim/fs/fuse.ts, FuseServer). Requests that
 * carry an fd use it, never the path: with hard_remove and nullpath_ok
 * (main.c) a file unlinked while open has none.
 *
 * Not here, on purpose:
 * - FUSE_COPY_FILE_RANGE: the sim's daemon has none (sysCopyFileRange,
 *   worker/sim/vfs/syscalls.ts), so libfuse answers ENOSYS, the kernel sets
 *   no_copy_file_range and copy_file_range(2) falls back to splice through
 *   the page cache, as the sim models it.
 * - FUSE_LSEEK (SEEK_DATA/SEEK_HOLE), locks, ioctl, poll: ENOSYS, the
 *   kernel's generic fallbacks; the sim has none of them.
 */
#include "fused.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The flags the backing file is opened with, from the client's open flags.
 * - O_DIRECT is the client's business: the kernel sends FUSE_READ/WRITE at
 *   whatever offsets and lengths the program used (fuse direct I/O has no
 *   alignment), which the backing ext4 would refuse under O_DIRECT. The
 *   sim's server is a plain store either way.
 * - O_APPEND: the kernel has already placed an appending write (at its
 *   i_size); the offset in FUSE_WRITE is where it goes.
 * - Write-only becomes read-write, so that a read the kernel sends on any fh
 *   of the inode can be served.
 * - O_CREAT and O_EXCL belong to create only; the kernel does not send them
 *   with FUSE_OPEN.
 */
static int backing_flags(int flags)
{
	flags &= ~(O_DIRECT | O_APPEND | O_CREAT | O_EXCL | O_NOCTTY);
	if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags | O_CLOEXEC;
}

/*
 * FOPEN_KEEP_CACHE: the kernel keeps the inode's page cache across this open
 * (as bindfs's kernel_cache did). The sim's opens never touch the cache;
 * without it every open(2), the executor's own included, would drop the
 * file's cached pages (fuse_finish_open's invalidate_inode_pages2).
 */
static void file_opened(struct fuse_file_info *fi, int fd)
{
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
}

static int file_fd(const struct fuse_file_info *fi)
{
	return fi ? (int)fi->fh : -1;
}

int fused_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int excl = fi->flags & O_EXCL;
	int fd = openat(fused_back_fd, fused_rel(path), backing_flags(fi->flags) | O_CREAT | excl, mode);
	if (fd < 0) return -errno;
	file_opened(fi, fd);
	return 0;
}

int fused_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(fused_back_fd, fused_rel(path), backing_flags(fi->flags));
	if (fd < 0) return -errno;
	file_opened(fi, fd);
	return 0;
}

int fused_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close(file_fd(fi));
	return 0;
}

/* FuseServer.read: the bytes below the backing file's size; a short read at EOF (the kernel zeroes the rest). */
int fused_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread(file_fd(fi), buf, size, off);
	return n < 0 ? -errno : (int)n;
}

/* FuseServer.write: the bytes land, the size grows to cover them. A short write is passed on as such. */
int fused_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pwrite(file_fd(fi), buf, size, off);
	return n < 0 ? -errno : (int)n;
}

/* FuseServer.setSize (FUSE_SETATTR with a size): through the fd when the kernel sends one (ftruncate), else the path. */
int fused_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (fi) return ftruncate(file_fd(fi), size) ? -errno : 0;
	if (!path) return -ENOENT;
	int fd = openat(fused_back_fd, fused_rel(path), O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	int ret = ftruncate(fd, size) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * FuseFs.fallocate: mode 0 (alloc) and KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE,
 * ZERO_RANGE and ZERO_RANGE|KEEP_SIZE, each passed to fallocate(2) on the
 * backing file, which does to it what the sim's server does to its store:
 * punch and zero clear the range below the size, and without KEEP_SIZE the
 * size grows to off+len. Any other mode (COLLAPSE_RANGE, INSERT_RANGE,
 * UNSHARE_RANGE) is EOPNOTSUPP, the sim's answer; the kernel's
 * fuse_file_fallocate refuses them before sending, so this is for a request
 * that should never come. EOPNOTSUPP, never ENOSYS: ENOSYS would make the
 * kernel stop sending FUSE_FALLOCATE for good (fc->no_fallocate).
 */
#define FUSED_FALLOC_MODES (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)

int fused_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)path;
	if (mode & ~FUSED_FALLOC_MODES) return -EOPNOTSUPP;
	if (!fi) return -EBADF;
	return fallocate(file_fd(fi), mode, off, len) ? -errno : 0;
}

/*
 * FUSE_FLUSH (every close(2) of a client fd): the sim's server has no such
 * request, and write-through leaves nothing for the daemon to flush.
 */
int fused_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

/* FuseServer.fsync: what the backing file holds becomes durable. */
int fused_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int fd = file_fd(fi);
	return (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0;
}
