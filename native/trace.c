/*
 * Events: each thread appends to its own buffer, numbering every event from
 * the run's one atomic counter at the moment it stands for (an op before its
 * first syscall, a ret after its last), so that across threads "A's ret has a
 * smaller number than B's op" means A returned before B started. At the end
 * of the run the buffers are merged by number and written as JSON lines, in
 * the field names of worker/trace/types.ts with "s" added for the number.
 */
#include "exec.h"

#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fputs("foliofuzz-exec: out of memory\n", stderr);
		exit(EXIT_ENVIRONMENT);
	}
	return q;
}

struct event *ev_new(struct evbuf *buf, atomic_uint_fast64_t *seq, enum ev_kind kind)
{
	if (buf->n == buf->cap) {
		buf->cap = buf->cap ? buf->cap * 2 : 64;
		buf->v = xrealloc(buf->v, buf->cap * sizeof *buf->v);
	}
	struct event *e = &buf->v[buf->n++];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->stored = -1;
	e->seq = atomic_fetch_add(seq, 1);
	return e;
}

void ev_set_data(struct event *e, const void *p, size_t n)
{
	e->data = xrealloc(NULL, n ? n : 1);
	if (n) memcpy(e->data, p, n);
	e->dlen = n;
	e->has_data = 1;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void json_base64(FILE *out, const uint8_t *p, size_t n)
{
	char q[4];
	fputc('"', out);
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		q[0] = B64[v >> 18], q[1] = B64[(v >> 12) & 63], q[2] = B64[(v >> 6) & 63], q[3] = B64[v & 63];
		fwrite(q, 1, 4, out);
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		q[0] = B64[v >> 18], q[1] = B64[(v >> 12) & 63];
		q[2] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		q[3] = '=';
		fwrite(q, 1, 4, out);
	}
	fputc('"', out);
}

/* A JSON string: quotes, backslashes and control bytes escaped; bytes >= 0x80 as \u00XX so the line stays ASCII. */
void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f) fprintf(out, "\\u%04x", *c);
		else fputc(*c, out);
	}
	fputc('"', out);
}

const char *via_name(enum final_via via)
{
	static const char *const NAME[] = { "cache", "drop_caches", "remount" };
	return NAME[via];
}

static void write_ret(FILE *out, const struct event *e)
{
	fprintf(out, ",\"t\":%d,\"i\":%d,\"ret\":%lld", e->t, e->i, (long long)e->ret);
	if (e->has_data) fputs(",\"data\":", out), json_base64(out, e->data, e->dlen);
	if (e->stored >= 0) fprintf(out, ",\"stored\":%lld", (long long)e->stored);
	if (e->sizes) {
		fputs(",\"sizes\":[", out);
		for (int k = 0; k < e->nsizes; k++) fprintf(out, "%s%lld", k ? "," : "", (long long)e->sizes[k]);
		fputc(']', out);
	}
}

static void write_event(FILE *out, const struct event *e)
{
	static const char *const NAME[] = { "op", "call", "ret", "aio", "stale", "final", "klog" };
	fprintf(out, "{\"s\":%llu,\"e\":\"%s\"", (unsigned long long)e->seq, NAME[e->kind]);
	switch (e->kind) {
	case EV_OP:
		fprintf(out, ",\"t\":%d,\"i\":%d", e->t, e->i);
		break;
	case EV_CALL:
		fprintf(out, ",\"t\":%d,\"i\":%d,\"off\":%llu,\"len\":%llu,\"ret\":%lld", e->t, e->i,
			(unsigned long long)e->off, (unsigned long long)e->len, (long long)e->ret);
		if (e->has_data) fputs(",\"data\":", out), json_base64(out, e->data, e->dlen);
		break;
	case EV_RET:
		write_ret(out, e);
		break;
	case EV_AIO:
		fprintf(out, ",\"t\":%d,\"i\":%d,\"ret\":%lld", e->t, e->i, (long long)e->ret);
		if (e->has_data) fputs(",\"data\":", out), json_base64(out, e->data, e->dlen);
		break;
	case EV_STALE:
		fprintf(out, ",\"file\":%d", e->file);
		break;
	case EV_FINAL:
		fprintf(out, ",\"file\":%d,\"via\":\"%s\",\"data\":", e->file, via_name(e->via));
		json_base64(out, e->data, e->dlen);
		break;
	case EV_KLOG:
		fprintf(out, ",\"level\":%d,\"text\":", e->level);
		json_string(out, e->text);
		break;
	}
	fputs("}\n", out);
}

static void ev_free(struct event *e)
{
	free(e->data);
	free(e->sizes);
	free(e->text);
}

/* Each buffer is already in sequence order (one thread numbers its own events in turn): a k-way merge. */
void trace_write(FILE *out, struct evbuf *bufs, int nbufs)
{
	size_t *at = calloc((size_t)nbufs, sizeof *at);
	if (!at) {
		fputs("foliofuzz-exec: out of memory\n", stderr);
		exit(EXIT_ENVIRONMENT);
	}
	for (;;) {
		int best = -1;
		for (int b = 0; b < nbufs; b++)
			if (at[b] < bufs[b].n && (best < 0 || bufs[b].v[at[b]].seq < bufs[best].v[at[best]].seq)) best = b;
		if (best < 0) break;
		struct event *e = &bufs[best].v[at[best]++];
		write_event(out, e);
		ev_free(e);
	}
	for (int b = 0; b < nbufs; b++) {
		free(bufs[b].v);
		bufs[b] = (struct evbuf){ 0 };
	}
	free(at);
}
