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

int klog_open(void)
{
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

/* One record "prio,seq,usec,flags;text\n KEY=value...": level and the text's first line. */
static int parse_record(char *rec, int *level, char **text)
{
	char *semi = strchr(rec, ';');
	if (!semi) return -1;
	*level = atoi(rec) & 7;
	*text = semi + 1;
	char *nl = strchr(*text, '\n');
	if (nl) *nl = '\0';
	return 0;
}

void klog_collect(int fd, struct tctx *tc, const char *dir)
{
	static char rec[8192];
	char *real = realpath(dir, NULL);
	int after_stale = 0;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof rec - 1);
		if (n < 0 && errno == EPIPE) continue; /* records overwritten before we read them: go on */
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		rec[n] = '\0';
		int level;
		char *text;
		if (parse_record(rec, &level, &text)) continue;
		int k = after_stale ? stale_file(text, real ? real : dir, tc->run->prog->nfiles) : -1;
		if (k >= 0) {
			struct event *e = ev_new(tc->buf, &tc->run->seq, EV_STALE);
			e->file = k;
		}
		after_stale = strstr(text, STALE_TEXT) != NULL;
		if (!wanted(level, text)) continue;
		struct event *e = ev_new(tc->buf, &tc->run->seq, EV_KLOG);
		e->level = level;
		e->text = strdup(text);
		if (!e->text) e->text = strdup("");
	}
	free(real);
}
