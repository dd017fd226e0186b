/*
 * foliofuzz-exec: run a foliofuzz program on a real kernel and write what it
 * observed (the kernel twin). See README.md for the input and output formats;
 * the TypeScript side writes the input (worker/twin/exec-input.ts) and reads
 * the output (worker/twin/assemble.ts).
 *
 * One header for the whole executor: the program as parsed (parse.c), the
 * state of one run (run.c), and the entry points of each concern: events and
 * their JSON (trace.c), file ops (ops.c), mappings and SIGBUS (mmap.c), AIO
 * (aio.c), the mount and the caches (mount.c), the kernel log (klog.c).
 */
#ifndef FOLIOFUZZ_EXEC_H
#define FOLIOFUZZ_EXEC_H

#define _GNU_SOURCE
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses. */
#define EXIT_RUN_FAILED 1   /* a run ended in error: its trace says why */
#define EXIT_BAD_INPUT 2    /* malformed input or command line */
#define EXIT_UNSUPPORTED 3  /* the program needs what this executor cannot do */
#define EXIT_ENVIRONMENT 4  /* the directory cannot be used */

#define EXEC_FORMAT "foliofuzz-exec/1"
#define INPUT_MAGIC "foliofuzz-exec-input 1"

/* Input limits: far above what the generator makes, low enough to allocate. */
#define MAX_FILES 1024
#define MAX_FDS 1024
#define MAX_THREADS 256
#define MAX_OPS 1000000
#define MAX_BYTES (1ULL << 40)
#define MAX_BUFFER (1ULL << 30) /* one syscall's buffer */
#define PAGE 4096ULL

/* ---- the program (parse.c) ---------------------------------------------- */

enum op_kind {
	OP_PWRITE, OP_PREAD, OP_TRUNCATE, OP_FALLOCATE, OP_COPY_RANGE, OP_FSYNC,
	OP_FDATASYNC, OP_SYNC_FILE_RANGE, OP_FADVISE_DONTNEED, OP_DROP_CACHES,
	OP_EVICT, OP_REMOUNT, OP_POWER_CUT, OP_CLOSE_OPEN, OP_MMAP, OP_MREAD,
	OP_MWRITE, OP_MSYNC, OP_MUNMAP, OP_AIO_WRITE, OP_AIO_READ, OP_AIO_WAIT,
	OP_WRITEBACK_KICK, OP_RECLAIM, OP_FAIL_BIO, OP__COUNT
};

enum falloc_mode { FM_ALLOC, FM_KEEP_SIZE, FM_PUNCH, FM_ZERO, FM_ZERO_KEEP, FM_COLLAPSE, FM_INSERT, FM_UNSHARE };
enum prot { PROT_R, PROT_W, PROT_RW };

/* Every field of every op; each op uses the few its kind has (parse.c's table). */
struct op {
	enum op_kind kind;
	uint64_t fd;   /* fd, or fdIn */
	uint64_t fd2;  /* fdOut */
	uint64_t file;
	uint64_t map, iocb;
	uint64_t off;  /* off, or offIn */
	uint64_t off2; /* offOut */
	uint64_t len, bsize, size;
	uint64_t fill, mode, prot, flags;
	uint64_t sync, write, skip, shortw, seed;
};

struct thread_prog {
	struct op *ops;
	size_t n;
};

struct fd_decl {
	int file;
	int direct;
};

struct program {
	int nfiles;
	int nfds;
	struct fd_decl *fds;
	int nthreads;
	struct thread_prog *threads;
};

const char *op_name(enum op_kind k);
/* Parse the input; on error write "input line N: reason" to err and return -1. */
int program_parse(FILE *in, struct program *p, char *err, size_t errlen);
/* Why this executor cannot run the program (NULL: it can). */
const char *program_unsupported(const struct program *p, int owns_mount, char *buf, size_t len);

/* ---- options (main.c) --------------------------------------------------- */

struct pause { int thread, op; unsigned us; };

struct options {
	const char *dir;
	int runs;
	/* The mount, when the executor owns it (remount). */
	const char *device, *fstype, *mount_opts;
	/* Race amplification. */
	uint64_t seed;
	unsigned jitter_us;
	struct pause *pauses;
	int npauses;
	/* Tests: kernel log records from this file instead of /dev/kmsg. */
	const char *kmsg;
};

/* ---- events (trace.c) --------------------------------------------------- */

enum ev_kind { EV_OP, EV_CALL, EV_RET, EV_AIO, EV_STALE, EV_FINAL, EV_KLOG };
enum final_via { VIA_CACHE, VIA_DROP_CACHES, VIA_REMOUNT };

struct event {
	uint64_t seq;
	enum ev_kind kind;
	int t, i;         /* op, call, ret; aio: the submitting op */
	int64_t ret;      /* call, ret, aio */
	uint64_t off, len; /* call */
	int64_t stored;   /* ret of mwrite; -1 absent */
	uint8_t *data;    /* call, ret, aio, final: owned */
	size_t dlen;
	int has_data;
	int64_t *sizes;   /* ret: owned */
	int nsizes;
	int file;         /* stale, final */
	enum final_via via;
	int level;        /* klog */
	char *text;       /* klog: owned */
};

struct evbuf {
	struct event *v;
	size_t n, cap;
};

/* A new event in buf, numbered now from the run's counter: take it at the moment it stands for. */
struct event *ev_new(struct evbuf *buf, atomic_uint_fast64_t *seq, enum ev_kind kind);
/* Copy n bytes into the event's data. */
void ev_set_data(struct event *e, const void *p, size_t n);
/* Merge every buffer by sequence number, write one JSON line per event, free them. */
void trace_write(FILE *out, struct evbuf *bufs, int nbufs);
void json_string(FILE *out, const char *s);
const char *via_name(enum final_via via);

/* ---- one run (run.c) ---------------------------------------------------- */

struct map {
	uint32_t id;
	int live;
	int write;
	int file;
	unsigned char *base;
	uint64_t start, len;
};

struct maps {
	pthread_rwlock_t lock;
	struct map *v;
	size_t n, cap;
};

struct aio_slot {
	uint32_t id;
	int t, i; /* the op that submitted it: iocb ids may be reused, submissions may not */
	int write, done, waited;
	int64_t res;
	unsigned char *buf;
	uint64_t len;
	struct iocb cb;
};

struct aio {
	aio_context_t ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct aio_slot **slots; /* individually allocated: the kernel holds &slot->cb */
	size_t n, cap, inflight;
	int reaping;
};

struct helpers {
	pthread_mutex_t mu;
	pthread_t *v;
	size_t n, cap;
};

struct run {
	const struct program *prog;
	const struct options *opt;
	int index;
	int dirfd;
	int nulfd;
	int *priv; /* per file: the executor's own O_RDWR fd (sizes, final reads, helpers) */
	int *fds;  /* per program fd */
	/* Ops share it; remount and evict, which close and reopen files, take it alone. */
	pthread_rwlock_t oplock;
	struct maps maps;
	struct aio aio;
	struct helpers helpers;
	struct evbuf *bufs; /* one per thread, then the main thread's */
	atomic_uint_fast64_t seq;
	/* A failure that ends the run (the mount could not be restored, say). */
	pthread_mutex_t failmu;
	char failure[512];
	atomic_int gate; /* the program's threads start when it opens */
};

struct tctx {
	struct run *run;
	int t;
	int i; /* the op under way */
	struct evbuf *buf;
	uint64_t rng;
};

void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int run_failed(struct run *r);
/* Run the program once; writes its events and end line. 0: done, -1: it failed. */
int run_program(FILE *out, const struct program *p, const struct options *opt, int index);
/* Open every file and fd of the run (after a remount too). */
int run_open_files(struct run *r);
void run_close_files(struct run *r);
int file_open_flags(int direct);
void file_name(char *buf, size_t len, int file);

/* ---- ops (ops.c) -------------------------------------------------------- */

/* Run one op; its return value (bytes, 0, or -errno). Records call events and the ret's extras. */
int64_t op_run(struct tctx *tc, const struct op *op, struct event *extras);
/* Whether an op must run alone (it closes and reopens files). */
int op_exclusive(enum op_kind k);
void helpers_join(struct run *r);

/* ---- mappings (mmap.c) -------------------------------------------------- */

void sigbus_install(void);
int64_t map_mmap(struct tctx *tc, const struct op *op);
int64_t map_read(struct tctx *tc, const struct op *op, struct event *extras);
int64_t map_write(struct tctx *tc, const struct op *op, struct event *extras);
int64_t map_msync(struct tctx *tc, const struct op *op);
int64_t map_munmap(struct tctx *tc, const struct op *op);
/* Whether any mapping (of file, or of any file when file < 0) is live. */
int maps_live(struct run *r, int file);
void maps_unmap_all(struct run *r);

/* ---- AIO (aio.c) -------------------------------------------------------- */

int aio_start(struct run *r);
int64_t aio_submit_op(struct tctx *tc, const struct op *op);
int64_t aio_wait_op(struct tctx *tc, const struct op *op);
/* Reap every iocb still in flight, recording each. */
void aio_drain(struct tctx *tc);
/* Record the completions already there, without waiting (as each op ends). */
void aio_poll(struct tctx *tc);
void aio_stop(struct run *r);

/* ---- the mount and the caches (mount.c) --------------------------------- */

int64_t mount_drop_caches(struct run *r);
int64_t mount_evict(struct tctx *tc, int file);
int64_t mount_remount(struct tctx *tc);
/* Unmount and mount again; 0 or -errno (the files must be closed). */
int mount_cycle(const struct options *opt, char *err, size_t errlen);
/* Write the header line: uname, statfs, and for ext2/3/4 whether new files get extents. */
int probe_write(FILE *out, const char *dir, char *err, size_t errlen);

/* ---- the kernel log (klog.c) -------------------------------------------- */

/* /dev/kmsg from now on (the _ONCE warnings re-armed first), or (tests) a file of records from its start; -1 when unreadable. */
int klog_open(const char *path);
/* Record the lines the run caused as klog events, and the stale-cache warnings as stale events. */
void klog_collect(int fd, struct tctx *tc, const char *dir);

#endif
