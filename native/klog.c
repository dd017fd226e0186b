/*
 * The kernel log lines a run caused: /dev/kmsg is opened before the run and
 * positioned at its end, and read after it. Kept: lines at level <= 4
 * (warning and worse) and any that mention WARNING, BUG or "Page cache
 * invalidation failure", as `klog` events. Lines other processes caused in the
 * same moments are kept too: the log does not say whose they are.
 *
 * dio_warn_stale_pagecache logs "Page cache invalidation failure on direct
 * I/O ..." and then "File: PATH PID: ... Comm: ...": a File line under the
 * run's directory naming one of its files (f<k>) after such a line is a
 * `stale` event for file k. The kernel rate-limits the message (a burst of ten
 * a day, fs/direct-io.c), so its absence proves nothing; and it prints at most
 * 128 bytes of path, so keep the directory short.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STALE_TEXT "Page cache invalidation failure"

/*
 * WARN_ON_ONCE and friends fire once per boot: a warning an earlier run (or
 * an earlier campaign) fired would stay silent for every later one. Writing
 * to debugfs's clear_warn_once (lib/bug.c, clear_once_table) re-arms them all,
 * so each run can see each warning. Without debugfs the runs still go on,
 * blind to warnings that fired before.
 */
static void klog_rearm_warn_once(void)
{
	int fd = open("/sys/kernel/debug/clear_warn_once", O_WRONLY | O_CLOEXEC);
	if (fd < 0) return;
	if (write(fd, "1", 1) != 1) { /* nothing more to do: the warnings stay as they were */ }
	close(fd);
}

int klog_open(const char *path)
{
	/* A file of records (tests) is read from its start; the kernel's log from now on. */
	if (path) return open(path, O_RDONLY | O_CLOEXEC);
	klog_rearm_warn_once();
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int wanted(int level, const char *text)
{
	return level <= 4 || strstr(text, "WARNING") || strstr(text, "BUG") || strstr(text, STALE_TEXT);
}

/* "File: /dir/f3 PID: ..." -> 3 when /dir is the run's directory and 3 names a file; else -1. */
static int stale_file(const char *text, const char *dir, int nfiles)
{
	if (strncmp(text, "File: ", 6) != 0 || !dir) return -1;
	const char *path = text + 6;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/') dl--;
	if (strncmp(path, dir, dl) != 0 || path[dl] != '/' || path[dl + 1] != 'f') return -1;
	char *end;
	long k = strtol(path + dl + 2, &end, 10);
	if (end == path + dl + 2 || *end != ' ' || k < 0 || k >= nfiles) return -1;
	return (int)k;
}

/* A record's first line "prio,seq,usec,flags;text": its level and text. */
static int parse_record(char *line, int *level, char **text)
{
	char *semi = strchr(line, ';');
	if (!semi || line[0] < '0' || line[0] > '9') return -1;
	*level = atoi(line) & 7;
	*text = semi + 1;
	return 0;
}

struct klog_state {
	struct tctx *tc;
	const char *dir;
	int after_stale;
};

static void klog_line(struct klog_state *st, char *line)
{
	int level;
	char *text;
	/* Continuation lines (" KEY=value") and anything else that is not a record are skipped. */
	if (parse_record(line, &level, &text)) return;
	struct run *r = st->tc->run;
	int k = st->after_stale ? stale_file(text, st->dir, r->prog->nfiles) : -1;
	if (k >= 0) ev_new(st->tc->buf, &r->seq, EV_STALE)->file = k;
	st->after_stale = strstr(text, STALE_TEXT) != NULL;
	if (!wanted(level, text)) return;
	struct event *e = ev_new(st->tc->buf, &r->seq, EV_KLOG);
	e->level = level;
	e->text = strdup(text);
}

/*
 * /dev/kmsg returns one record per read; a file, whatever fits: either way
 * the bytes are split into lines, a line cut by the buffer carried over.
 */
void klog_collect(int fd, struct tctx *tc, const char *dir)
{
	static char buf[65536];
	char *real = realpath(dir, NULL);
	struct klog_state st = { tc, real ? real : dir, 0 };
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n < 0 && (errno == EPIPE || errno == EINTR)) continue; /* EPIPE: records overwritten before we read them */
		if (n <= 0) break;
		have += (size_t)n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			klog_line(&st, line);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		/* A line longer than the buffer: keep its start only. */
		if (have == sizeof buf - 1) {
			buf[have] = '\0';
			klog_line(&st, buf);
			have = 0;
		}
	}
	if (have) {
		buf[have] = '\0';
		klog_line(&st, buf);
	}
	free(real);
}
