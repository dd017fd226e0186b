/*
 * ffz-fused: the kernel twin's FUSE daemon, a passthrough of one backing
 * directory (an ext4 that worker/twin/provision.ts mounts) that answers every
 * request the way the sim's fuse server does (worker/sim/fs/fuse.ts:
 * FuseServer for the data, FuseFs for which requests exist at all).
 *
 *   ffz-fused [-o OPTIONS] [-f] [-d] [-s] BACKDIR MOUNTPOINT
 *
 * Built by native/build.mjs on libfuse3's path-based (high-level) API; see
 * native/README.md. One header for its three files: the command line and the
 * connection's capabilities (main.c), the namespace (namespace.c: lookup,
 * attributes, directories, statfs) and file data (file.c: open, read, write,
 * truncate, fallocate, sync).
 */
#ifndef FFZ_FUSED_H
#define FFZ_FUSED_H

#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <fuse.h>

/* The backing directory, open for the daemon's life: every path is resolved under it with the *at() calls. */
extern int fused_back_fd;

/* A request's path ("/", "/f0") as a path under fused_back_fd (".", "f0"). */
const char *fused_rel(const char *path);

/* namespace.c */
int fused_getattr(const char *path, struct stat *st, struct fuse_file_info *fi);
int fused_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int fused_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int fused_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
int fused_unlink(const char *path);
int fused_mkdir(const char *path, mode_t mode);
int fused_rmdir(const char *path);
int fused_opendir(const char *path, struct fuse_file_info *fi);
int fused_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		  enum fuse_readdir_flags flags);
int fused_releasedir(const char *path, struct fuse_file_info *fi);
int fused_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi);
int fused_statfs(const char *path, struct statvfs *st);

/* file.c */
int fused_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int fused_open(const char *path, struct fuse_file_info *fi);
int fused_release(const char *path, struct fuse_file_info *fi);
int fused_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int fused_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int fused_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int fused_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi);
int fused_flush(const char *path, struct fuse_file_info *fi);
int fused_fsync(const char *path, int datasync, struct fuse_file_info *fi);

#endif
