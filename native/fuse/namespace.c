/*
 * The namespace: attributes, directories, statfs. Everything is the backing
 * directory's own answer, by a *at() call under fused_back_fd, so sizes and
 * block sizes are the ext4's: st_blksize becomes the fuse inode's block size
 * (the sim's fuse takes the config's), statfs's f_bsize the mount's.
 *
 * The sim's fuse has one flat directory of files (worker/sim/fs/fuse.ts:
 * FuseFs.createInode); mkdir and rmdir are here because they cost nothing,
 * rename, links and symlinks are not (libfuse answers ENOSYS).
 */
#include "fused.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int fd_of(const struct fuse_file_info *fi)
{
	return (int)fi->fh;
}

/* Through the fd when the request has one (fstat, ftruncate, fchmod...), else the path. */
int fused_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (fi) return fstat(fd_of(fi), st) ? -errno : 0;
	if (!path) return -ENOENT;
	return fstatat(fused_back_fd, fused_rel(path), st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/*
 * The parts of FUSE_SETATTR other than the size (file.c): libfuse runs them
 * one after another, and a missing one would fail the whole request, a
 * truncate's mtime update included.
 */
int fused_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (fi) return fchmod(fd_of(fi), mode) ? -errno : 0;
	if (!path) return -ENOENT;
	return fchmodat(fused_back_fd, fused_rel(path), mode, 0) ? -errno : 0;
}

int fused_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	if (fi) return fchown(fd_of(fi), uid, gid) ? -errno : 0;
	if (!path) return -ENOENT;
	return fchownat(fused_back_fd, fused_rel(path), uid, gid, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

int fused_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	if (fi) return futimens(fd_of(fi), tv) ? -errno : 0;
	if (!path) return -ENOENT;
	return utimensat(fused_back_fd, fused_rel(path), tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

int fused_unlink(const char *path)
{
	return unlinkat(fused_back_fd, fused_rel(path), 0) ? -errno : 0;
}

int fused_mkdir(const char *path, mode_t mode)
{
	return mkdirat(fused_back_fd, fused_rel(path), mode) ? -errno : 0;
}

int fused_rmdir(const char *path)
{
	return unlinkat(fused_back_fd, fused_rel(path), AT_REMOVEDIR) ? -errno : 0;
}

/* A directory's handle is its DIR stream. */
static DIR *dir_of(const struct fuse_file_info *fi)
{
	return (DIR *)(uintptr_t)fi->fh;
}

int fused_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(fused_back_fd, fused_rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		return -err;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

/*
 * The whole directory in one call: every entry is given with offset 0, so
 * libfuse keeps the listing and serves the kernel's later READDIRs (and
 * their offsets) from it. A READDIR at offset 0 (a rewinddir) reads anew.
 */
int fused_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		  enum fuse_readdir_flags flags)
{
	(void)path;
	(void)off;
	(void)flags;
	DIR *d = dir_of(fi);
	rewinddir(d);
	errno = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL; errno = 0) {
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_ino = e->d_ino;
		st.st_mode = (mode_t)e->d_type << 12;
		if (fill(buf, e->d_name, &st, 0, 0)) return -ENOMEM;
	}
	return -errno;
}

int fused_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir(dir_of(fi));
	return 0;
}

int fused_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int fd = dirfd(dir_of(fi));
	return (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0;
}

int fused_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return fstatvfs(fused_back_fd, st) ? -errno : 0;
}
