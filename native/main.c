/*
 * foliofuzz-exec: the command line.
 *
 *   foliofuzz-exec --dir DIR [--program FILE] [--runs N] [--out FILE]
 *                  [--device DEV --fstype TYPE [--mount-opts OPTS]]
 *                  [--seed N] [--jitter-us N] [--pause T:I:US]... [--kmsg FILE]
 *   foliofuzz-exec --check [--program FILE] [--device DEV --fstype TYPE]
 *   foliofuzz-exec --probe DIR
 *
 * --check reads the program and says whether this executor can run it (exit
 * 0, 2 or 3), running nothing; --probe writes the header line for DIR.
 * --kmsg (tests) reads kernel log records from FILE instead of /dev/kmsg.
 * Reads the program (README.md's line format) from FILE or stdin, runs it N
 * times in DIR and writes the header line, then per run its events and end
 * line, to FILE or stdout. Exit statuses: exec.h.
 */
#include "exec.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage_error(const char *fmt, const char *arg)
{
	fputs("foliofuzz-exec: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nusage: foliofuzz-exec --dir DIR [--program FILE] [--runs N] [--out FILE]\n"
	      "         [--device DEV --fstype TYPE [--mount-opts OPTS]] [--seed N] [--jitter-us N] [--pause T:I:US]...\n"
	      "       foliofuzz-exec --check [--program FILE] [--device DEV --fstype TYPE]\n"
	      "       foliofuzz-exec --probe DIR\n", stderr);
	exit(EXIT_BAD_INPUT);
}

static uint64_t number(const char *s, uint64_t max, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max) usage_error(what, s);
	return v;
}

static void add_pause(struct options *o, const char *s)
{
	int t, i;
	unsigned us;
	char tail;
	if (sscanf(s, "%d:%d:%u%c", &t, &i, &us, &tail) != 3 || t < 0 || i < 0) usage_error("--pause wants THREAD:OP:MICROSECONDS, got '%s'", s);
	struct pause *v = realloc(o->pauses, ((size_t)o->npauses + 1) * sizeof *v);
	if (!v) usage_error("out of memory at '%s'", s);
	o->pauses = v;
	o->pauses[o->npauses++] = (struct pause){ t, i, us };
}

struct cli {
	struct options o;
	const char *program, *out, *probe;
	int check;
};

static void parse_args(int argc, char **argv, struct cli *c)
{
	static const struct option LONG[] = {
		{ "dir", required_argument, 0, 'd' }, { "program", required_argument, 0, 'p' },
		{ "runs", required_argument, 0, 'n' }, { "out", required_argument, 0, 'o' },
		{ "device", required_argument, 0, 'D' }, { "fstype", required_argument, 0, 'T' },
		{ "mount-opts", required_argument, 0, 'O' }, { "seed", required_argument, 0, 's' },
		{ "jitter-us", required_argument, 0, 'j' }, { "pause", required_argument, 0, 'P' },
		{ "probe", required_argument, 0, 'q' }, { "check", no_argument, 0, 'c' },
		{ "kmsg", required_argument, 0, 'k' }, { 0, 0, 0, 0 },
	};
	memset(c, 0, sizeof *c);
	c->o.runs = 1;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", LONG, NULL)) != -1) {
		switch (ch) {
		case 'd': c->o.dir = optarg; break;
		case 'p': c->program = optarg; break;
		case 'n': c->o.runs = (int)number(optarg, 1000000, "--runs wants a count 0..1000000, got '%s'"); break;
		case 'o': c->out = optarg; break;
		case 'D': c->o.device = optarg; break;
		case 'T': c->o.fstype = optarg; break;
		case 'O': c->o.mount_opts = optarg; break;
		case 's': c->o.seed = number(optarg, UINT64_MAX, "--seed wants a number, got '%s'"); break;
		case 'j': c->o.jitter_us = (unsigned)number(optarg, 10000000, "--jitter-us wants microseconds (at most 10 s), got '%s'"); break;
		case 'P': add_pause(&c->o, optarg); break;
		case 'q': c->probe = optarg; break;
		case 'c': c->check = 1; break;
		case 'k': c->o.kmsg = optarg; break;
		default: usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
	if (!c->probe && !c->check && !c->o.dir) usage_error("%s", "--dir is required");
	if (!c->o.device != !c->o.fstype) usage_error("%s", "--device and --fstype go together");
}

static FILE *open_out(const char *path)
{
	if (!path) return stdout;
	FILE *f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "foliofuzz-exec: %s: %s\n", path, strerror(errno));
		exit(EXIT_ENVIRONMENT);
	}
	return f;
}

static void read_program(const char *path, struct program *p)
{
	char err[512];
	FILE *in = path && strcmp(path, "-") != 0 ? fopen(path, "re") : stdin;
	if (!in) {
		fprintf(stderr, "foliofuzz-exec: %s: %s\n", path, strerror(errno));
		exit(EXIT_BAD_INPUT);
	}
	if (program_parse(in, p, err, sizeof err)) {
		fprintf(stderr, "foliofuzz-exec: %s: %s\n", path && strcmp(path, "-") ? path : "stdin", err);
		exit(EXIT_BAD_INPUT);
	}
	if (in != stdin) fclose(in);
}

int main(int argc, char **argv)
{
	struct cli c;
	struct program p;
	char err[512];
	parse_args(argc, argv, &c);
	if (c.probe) {
		if (probe_write(stdout, c.probe, err, sizeof err) == 0) return 0;
		fprintf(stderr, "foliofuzz-exec: %s\n", err);
		return EXIT_ENVIRONMENT;
	}
	read_program(c.program, &p);
	const char *why = program_unsupported(&p, c.o.device != NULL, err, sizeof err);
	if (why) {
		fprintf(stderr, "foliofuzz-exec: %s\n", why);
		return EXIT_UNSUPPORTED;
	}
	if (c.check) return 0;
	struct stat st;
	errno = 0;
	if (stat(c.o.dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "foliofuzz-exec: --dir %s: %s\n", c.o.dir, errno ? strerror(errno) : "not a directory");
		return EXIT_ENVIRONMENT;
	}
	FILE *out = open_out(c.out);
	if (probe_write(out, c.o.dir, err, sizeof err)) {
		fprintf(stderr, "foliofuzz-exec: %s\n", err);
		return EXIT_ENVIRONMENT;
	}
	fflush(out);
	sigbus_install();
	for (int k = 0; k < c.o.runs; k++)
		if (run_program(out, &p, &c.o, k)) return EXIT_RUN_FAILED;
	return fclose(out) ? EXIT_ENVIRONMENT : 0;
}
