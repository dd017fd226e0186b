/*
 * The command line and the connection: what the daemon asks the kernel for
 * at FUSE_INIT, and the loop.
 *
 *   ffz-fused [-o OPTIONS] [-f] [-d] [-s] BACKDIR MOUNTPOINT
 *
 * The first argument that is not an option is the backing directory; the
 * rest is libfuse's fuse_main: the mount options (provision.ts passes
 * subtype=ffz-fused, so /proc/mounts says fuse.ffz-fused), -f to stay in the
 * foreground, -d to trace requests, -s for one thread. By default it mounts,
 * detaches (the command exits 0 once the mount is up, which is what
 * provision.ts and the executor's remount wait for) and serves requests on
 * libfuse's multi-threaded loop: a real daemon answers requests concurrently,
 * so the kernel side of a race (a writeback WRITE beside a write(2)'s WRITE)
 * is not serialized by the daemon. It exits 0 when the mount goes away
 * (umount, fusermount3 -u: the loop reads ENODEV) or on SIGTERM, SIGINT and
 * SIGHUP (libfuse unmounts first).
 */
#include "fused.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fused_back_fd = -1;

const char *fused_rel(const char *path)
{
	if (!path) return ".";
	while (*path == '/') path++;
	return *path ? path : ".";
}

/*
 * The capabilities, against libfuse 3's defaults, so that the kernel runs
 * the mount the way the sim's FuseFs is (and bindfs on libfuse 2, which the
 * twin used before, was):
 * - no FUSE_CAP_WRITEBACK_CACHE: write-through, every write(2) a WRITE
 *   request before it returns (FuseFs.fusePerformWrite);
 * - no FUSE_CAP_AUTO_INVAL_DATA: an attribute reply with a new mtime does not
 *   drop the page cache (the sim's cache changes only by what its syscalls
 *   do; libfuse 2 never asked for it);
 * - no FUSE_CAP_ASYNC_DIO: a direct I/O is one synchronous request, as
 *   FuseFs.readIter and fuseDirectWrite send it (libfuse 2 never asked);
 * - no READDIRPLUS: a listing carries no attributes that could refresh a
 *   file's size from outside a request on it.
 * The configuration: inode numbers are the backing files' (use_ino); unlink
 * removes at once (hard_remove: no .fuse_hidden files left behind when a
 * file is unlinked open), and requests on such a file go by its fd
 * (nullpath_ok). Entry and attribute timeouts stay libfuse's (1 s), as
 * bindfs had them.
 */
static void *fused_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_ASYNC_DIO |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	cfg->use_ino = 1;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	return NULL;
}

static const struct fuse_operations fused_ops = {
	.init = fused_init,
	.getattr = fused_getattr,
	.chmod = fused_chmod,
	.chown = fused_chown,
	.utimens = fused_utimens,
	.truncate = fused_truncate,
	.unlink = fused_unlink,
	.mkdir = fused_mkdir,
	.rmdir = fused_rmdir,
	.create = fused_create,
	.open = fused_open,
	.release = fused_release,
	.read = fused_read,
	.write = fused_write,
	.fallocate = fused_fallocate,
	.flush = fused_flush,
	.fsync = fused_fsync,
	.opendir = fused_opendir,
	.readdir = fused_readdir,
	.releasedir = fused_releasedir,
	.fsyncdir = fused_fsyncdir,
	.statfs = fused_statfs,
	/* No copy_file_range, lseek, locks: see file.c. */
};

/* fuse_opt_parse's callback: take the first non-option argument as the backing directory, pass the rest on. */
static int take_backing_dir(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)outargs;
	char **back = data;
	if (key != FUSE_OPT_KEY_NONOPT || *back) return 1;
	*back = strdup(arg);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-o OPTIONS] [-f] [-d] [-s] BACKDIR MOUNTPOINT\n", prog);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	char *back = NULL;
	if (fuse_opt_parse(&args, &back, NULL, take_backing_dir) == -1) return 2;
	if (!back) {
		usage(argv[0]);
		fuse_opt_free_args(&args);
		return 2;
	}
	/* Opened before fuse_main detaches (and changes directory to /), so a relative BACKDIR works. */
	fused_back_fd = open(back, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fused_back_fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], back, strerror(errno));
		free(back);
		fuse_opt_free_args(&args);
		return 2;
	}
	int ret = fuse_main(args.argc, args.argv, &fused_ops, NULL);
	close(fused_back_fd);
	free(back);
	fuse_opt_free_args(&args);
	return ret;
}
