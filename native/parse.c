/*
 * The input: a program in the line format of README.md, written by
 * worker/twin/exec-input.ts from a validated Program. It is still untrusted
 * here: every line is checked, and a bad one is refused with its line number
 * and what is wrong, never run.
 *
 *   foliofuzz-exec-input 1
 *   files 2
 *   fd file=0 direct=0
 *   thread
 *   pwrite fd=0 off=0 len=8192 fill=171 bsize=4096
 *   end
 */
#include "exec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum vkind { V_FD, V_FILE, V_BYTES, V_BSIZE, V_FILL, V_BOOL, V_ID, V_FLAGS, V_FMODE, V_PROT, V_COUNT, V_SEED };

struct field {
	const char *key;
	enum vkind kind;
	size_t at;
	int optional;
};

#define F(k, kind, member) { k, kind, offsetof(struct op, member), 0 }
#define OPT(k, kind, member) { k, kind, offsetof(struct op, member), 1 }
#define MAX_FIELDS 6

struct opdef {
	const char *name;
	struct field f[MAX_FIELDS];
};

/* Field names are those of worker/prog/types.ts, so the writer is generic. */
static const struct opdef OPS[OP__COUNT] = {
	[OP_PWRITE] = { "pwrite", { F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len), F("fill", V_FILL, fill), OPT("bsize", V_BSIZE, bsize) } },
	[OP_PREAD] = { "pread", { F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len), OPT("bsize", V_BSIZE, bsize) } },
	[OP_TRUNCATE] = { "truncate", { F("fd", V_FD, fd), F("size", V_BYTES, size) } },
	[OP_FALLOCATE] = { "fallocate", { F("fd", V_FD, fd), F("mode", V_FMODE, mode), F("off", V_BYTES, off), F("len", V_BYTES, len) } },
	[OP_COPY_RANGE] = { "copy_range", { F("fdIn", V_FD, fd), F("offIn", V_BYTES, off), F("fdOut", V_FD, fd2), F("offOut", V_BYTES, off2), F("len", V_BYTES, len) } },
	[OP_FSYNC] = { "fsync", { F("fd", V_FD, fd) } },
	[OP_FDATASYNC] = { "fdatasync", { F("fd", V_FD, fd) } },
	[OP_SYNC_FILE_RANGE] = { "sync_file_range", { F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len), F("flags", V_FLAGS, flags) } },
	[OP_FADVISE_DONTNEED] = { "fadvise_dontneed", { F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len) } },
	[OP_DROP_CACHES] = { "drop_caches", { { 0 } } },
	[OP_EVICT] = { "evict", { F("file", V_FILE, file) } },
	[OP_REMOUNT] = { "remount", { { 0 } } },
	[OP_POWER_CUT] = { "power_cut", { F("seed", V_SEED, seed) } },
	[OP_CLOSE_OPEN] = { "close_open", { F("fd", V_FD, fd) } },
	[OP_MMAP] = { "mmap", { F("map", V_ID, map), F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len), F("prot", V_PROT, prot) } },
	[OP_MREAD] = { "mread", { F("map", V_ID, map), F("off", V_BYTES, off), F("len", V_BYTES, len) } },
	[OP_MWRITE] = { "mwrite", { F("map", V_ID, map), F("off", V_BYTES, off), F("len", V_BYTES, len), F("fill", V_FILL, fill) } },
	[OP_MSYNC] = { "msync", { F("map", V_ID, map), F("off", V_BYTES, off), F("len", V_BYTES, len), F("sync", V_BOOL, sync) } },
	[OP_MUNMAP] = { "munmap", { F("map", V_ID, map) } },
	[OP_AIO_WRITE] = { "aio_write", { F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len), F("fill", V_FILL, fill), F("iocb", V_ID, iocb) } },
	[OP_AIO_READ] = { "aio_read", { F("fd", V_FD, fd), F("off", V_BYTES, off), F("len", V_BYTES, len), F("iocb", V_ID, iocb) } },
	[OP_AIO_WAIT] = { "aio_wait", { F("iocb", V_ID, iocb) } },
	[OP_WRITEBACK_KICK] = { "writeback_kick", { { 0 } } },
	[OP_RECLAIM] = { "reclaim", { { 0 } } },
	[OP_FAIL_BIO] = { "fail_bio", { F("write", V_BOOL, write), F("skip", V_COUNT, skip), OPT("short", V_BOOL, shortw) } },
};

static const char *const FALLOC_MODES[] = { "alloc", "keep_size", "punch", "zero", "zero_keep", "collapse", "insert", "unshare", NULL };
static const char *const PROTS[] = { "r", "w", "rw", NULL };

const char *op_name(enum op_kind k)
{
	return k < OP__COUNT ? OPS[k].name : "?";
}

struct parser {
	FILE *in;
	int line;
	char *err;
	size_t errlen;
	struct program *p;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
	int n = snprintf(ps->err, ps->errlen, "input line %d: ", ps->line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < ps->errlen) vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A decimal number below max: digits only, no sign, no leading zeros beyond "0". */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	if (*s == '\0' || strlen(s) > 20 || (s[0] == '0' && s[1] != '\0')) return -1;
	uint64_t v = 0;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9') return -1;
		if (v > (UINT64_MAX - 9) / 10) return -1;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (v >= max) return -1;
	*out = v;
	return 0;
}

static int word_index(const char *s, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(s, words[i]) == 0) return i;
	return -1;
}

static int parse_value(struct parser *ps, const char *op, const struct field *f, const char *val, uint64_t *out)
{
	const struct program *p = ps->p;
	switch (f->kind) {
	case V_FD:
		if (parse_uint(val, (uint64_t)p->nfds, out)) return fail(ps, "%s: %s must be an fd index below %d, got '%s'", op, f->key, p->nfds, val);
		return 0;
	case V_FILE:
		if (parse_uint(val, (uint64_t)p->nfiles, out)) return fail(ps, "%s: %s must be a file index below %d, got '%s'", op, f->key, p->nfiles, val);
		return 0;
	case V_BYTES:
		if (parse_uint(val, MAX_BYTES, out)) return fail(ps, "%s: %s must be a byte count below 2^40, got '%s'", op, f->key, val);
		return 0;
	case V_BSIZE:
		if (parse_uint(val, MAX_BYTES, out) || *out == 0) return fail(ps, "%s: %s must be a positive byte count below 2^40, got '%s'", op, f->key, val);
		return 0;
	case V_FILL:
		if (parse_uint(val, 256, out)) return fail(ps, "%s: %s must be a byte value 0..255, got '%s'", op, f->key, val);
		return 0;
	case V_BOOL:
		if (parse_uint(val, 2, out)) return fail(ps, "%s: %s must be 0 or 1, got '%s'", op, f->key, val);
		return 0;
	case V_ID:
	case V_SEED:
		if (parse_uint(val, 1ULL << 32, out)) return fail(ps, "%s: %s must be an integer below 2^32, got '%s'", op, f->key, val);
		return 0;
	case V_FLAGS:
		if (parse_uint(val, 8, out)) return fail(ps, "%s: %s must be sync_file_range flags 0..7, got '%s'", op, f->key, val);
		return 0;
	case V_COUNT:
		if (parse_uint(val, 1 << 16, out)) return fail(ps, "%s: %s must be a count 0..65535, got '%s'", op, f->key, val);
		return 0;
	case V_FMODE: {
		int i = word_index(val, FALLOC_MODES);
		if (i < 0) return fail(ps, "%s: %s must be a fallocate mode (alloc keep_size punch zero zero_keep collapse insert unshare), got '%s'", op, f->key, val);
		*out = (uint64_t)i;
		return 0;
	}
	case V_PROT: {
		int i = word_index(val, PROTS);
		if (i < 0) return fail(ps, "%s: %s must be r, w or rw, got '%s'", op, f->key, val);
		*out = (uint64_t)i;
		return 0;
	}
	}
	return fail(ps, "%s: %s: internal: unknown value kind", op, f->key);
}

static int field_index(const struct opdef *d, const char *key)
{
	for (int i = 0; i < MAX_FIELDS && d->f[i].key; i++)
		if (strcmp(d->f[i].key, key) == 0) return i;
	return -1;
}

/* The biggest buffer one syscall of the op needs: refused above MAX_BUFFER. */
static uint64_t op_buffer(const struct op *op)
{
	switch (op->kind) {
	case OP_PWRITE:
	case OP_PREAD:
		return op->bsize && op->bsize < op->len ? op->bsize : op->len;
	case OP_MREAD:
	case OP_MWRITE:
	case OP_AIO_WRITE:
	case OP_AIO_READ:
		return op->len;
	default:
		return 0;
	}
}

/* "name key=value ..." into op; tokens are separated by single spaces. */
static int parse_op(struct parser *ps, char *line, struct op *op)
{
	char *save = NULL;
	char *name = strtok_r(line, " ", &save);
	if (!name) return fail(ps, "empty line");
	int k;
	for (k = 0; k < OP__COUNT; k++)
		if (strcmp(OPS[k].name, name) == 0) break;
	if (k == OP__COUNT) return fail(ps, "unknown op '%s'", name);
	const struct opdef *d = &OPS[k];
	memset(op, 0, sizeof *op);
	op->kind = (enum op_kind)k;
	int seen[MAX_FIELDS] = { 0 };
	for (char *tok = strtok_r(NULL, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) return fail(ps, "%s: expected key=value, got '%s'", d->name, tok);
		*eq = '\0';
		int fi = field_index(d, tok);
		if (fi < 0) return fail(ps, "%s: unknown field '%s'", d->name, tok);
		if (seen[fi]) return fail(ps, "%s: field '%s' given twice", d->name, tok);
		seen[fi] = 1;
		if (parse_value(ps, d->name, &d->f[fi], eq + 1, (uint64_t *)((char *)op + d->f[fi].at))) return -1;
	}
	for (int i = 0; i < MAX_FIELDS && d->f[i].key; i++)
		if (!seen[i] && !d->f[i].optional) return fail(ps, "%s: missing field '%s'", d->name, d->f[i].key);
	if (op_buffer(op) > MAX_BUFFER)
		return fail(ps, "%s: a syscall of %llu bytes is more than the executor buffers (%llu)", d->name,
			    (unsigned long long)op_buffer(op), (unsigned long long)MAX_BUFFER);
	return 0;
}

/* The next line without its newline; NULL at EOF. Refuses overlong lines and any byte that is not printable ASCII. */
static char *next_line(struct parser *ps, char *buf, size_t len, int *bad)
{
	size_t n = 0;
	int c;
	*bad = 0;
	while ((c = getc(ps->in)) != EOF && c != '\n') {
		if (n == 0) ps->line++;
		if (n == len - 1) {
			*bad = fail(ps, "line longer than %zu bytes", len - 1);
			return NULL;
		}
		if (c < 0x20 || c > 0x7e) {
			*bad = fail(ps, "unexpected byte 0x%02x at column %zu", (unsigned)c, n + 1);
			return NULL;
		}
		buf[n++] = (char)c;
	}
	if (c == EOF && n == 0) return NULL;
	if (n == 0) ps->line++;
	buf[n] = '\0';
	return buf;
}

static int add_op(struct parser *ps, struct thread_prog *t, const struct op *op, size_t *cap)
{
	if (t->n >= MAX_OPS) return fail(ps, "more than %d ops in one thread", MAX_OPS);
	if (t->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		struct op *v = realloc(t->ops, *cap * sizeof *v);
		if (!v) return fail(ps, "out of memory");
		t->ops = v;
	}
	t->ops[t->n++] = *op;
	return 0;
}

static int parse_header(struct parser *ps, char *buf, size_t len)
{
	int bad;
	char *line = next_line(ps, buf, len, &bad);
	if (!line) return bad ? -1 : fail(ps, "empty input (expected '%s')", INPUT_MAGIC);
	if (strcmp(line, INPUT_MAGIC) != 0) return fail(ps, "expected '%s', got '%.60s'", INPUT_MAGIC, line);
	line = next_line(ps, buf, len, &bad);
	uint64_t n;
	if (!line) return bad ? -1 : fail(ps, "missing 'files N'");
	if (strncmp(line, "files ", 6) != 0 || parse_uint(line + 6, MAX_FILES + 1, &n))
		return fail(ps, "expected 'files N' with N at most %d, got '%.60s'", MAX_FILES, line);
	ps->p->nfiles = (int)n;
	return 0;
}

static int parse_fd(struct parser *ps, char *line)
{
	struct program *p = ps->p;
	uint64_t file, direct;
	char fbuf[32], dbuf[32];
	char tail;
	if (sscanf(line, "fd file=%31[0-9] direct=%31[0-9]%c", fbuf, dbuf, &tail) != 2)
		return fail(ps, "expected 'fd file=F direct=0|1', got '%.60s'", line);
	if (parse_uint(fbuf, (uint64_t)p->nfiles, &file)) return fail(ps, "fd: file must be below %d, got '%s'", p->nfiles, fbuf);
	if (parse_uint(dbuf, 2, &direct)) return fail(ps, "fd: direct must be 0 or 1, got '%s'", dbuf);
	if (p->nfds >= MAX_FDS) return fail(ps, "more than %d fds", MAX_FDS);
	p->fds[p->nfds].file = (int)file;
	p->fds[p->nfds].direct = (int)direct;
	p->nfds++;
	return 0;
}

static int parse_body(struct parser *ps, char *buf, size_t len)
{
	struct program *p = ps->p;
	size_t cap = 0;
	int bad;
	char *line;
	while ((line = next_line(ps, buf, len, &bad))) {
		if (strcmp(line, "end") == 0) {
			if ((line = next_line(ps, buf, len, &bad))) return fail(ps, "text after 'end'");
			return bad ? -1 : 0;
		}
		if (strncmp(line, "fd ", 3) == 0) {
			if (p->nthreads > 0) return fail(ps, "fd lines must come before the first thread");
			if (parse_fd(ps, line)) return -1;
		} else if (strcmp(line, "thread") == 0) {
			if (p->nthreads >= MAX_THREADS) return fail(ps, "more than %d threads", MAX_THREADS);
			p->threads[p->nthreads++] = (struct thread_prog){ 0 };
			cap = 0;
		} else {
			if (p->nthreads == 0) return fail(ps, "op before the first 'thread' line");
			struct op op;
			if (parse_op(ps, line, &op) || add_op(ps, &p->threads[p->nthreads - 1], &op, &cap)) return -1;
		}
	}
	return bad ? -1 : fail(ps, "input ends without 'end' (truncated?)");
}

int program_parse(FILE *in, struct program *p, char *err, size_t errlen)
{
	struct parser ps = { in, 0, err, errlen, p };
	static char buf[4096];
	memset(p, 0, sizeof *p);
	p->fds = calloc(MAX_FDS, sizeof *p->fds);
	p->threads = calloc(MAX_THREADS, sizeof *p->threads);
	if (!p->fds || !p->threads) return fail(&ps, "out of memory");
	if (parse_header(&ps, buf, sizeof buf)) return -1;
	return parse_body(&ps, buf, sizeof buf);
}

const char *program_unsupported(const struct program *p, int owns_mount, char *buf, size_t len)
{
	for (int t = 0; t < p->nthreads; t++) {
		for (size_t i = 0; i < p->threads[t].n; i++) {
			enum op_kind k = p->threads[t].ops[i].kind;
			if (k == OP_FAIL_BIO || k == OP_POWER_CUT) {
				snprintf(buf, len, "needs fault injection: thread %d op %zu is %s, and this executor has no "
					 "device-mapper fault injection yet", t, i, op_name(k));
				return buf;
			}
			if (k == OP_REMOUNT && !owns_mount) {
				snprintf(buf, len, "needs its own mount: thread %d op %zu is remount, which the executor can only do "
					 "given the mount (--device, --fstype, --mount-opts)", t, i);
				return buf;
			}
		}
	}
	return NULL;
}
