/* SPDX-License-Identifier: MIT */
/*
 * unit.h: the whole unit-test harness, header-only.
 *
 * Each check prints one line ("ok   <name>" or "FAIL <name>: why"), and unit_done() prints
 * the suite summary "unit/<suite>: N tests, N passed, N failed" that tests/run.sh adds up.
 * guard_copy() places a buffer right before a PROT_NONE page so any over-read by a parser
 * crashes the test instead of passing by luck.
 */
#ifndef SPLICED_UNIT_H
#define SPLICED_UNIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int unit_passed, unit_failed;
static const char *unit_suite = "unnamed";

static inline void unit_begin(const char *suite)
{
	unit_suite = suite;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline int unit_check(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int unit_check(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf(cond ? "ok   " : "FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond)
		printf("  (%s:%d)", file, line);
	printf("\n");
	if (cond)
		unit_passed++;
	else
		unit_failed++;
	return cond;
}

/* A fixture file's whole text, NUL-terminated (free it); exits the suite if it can't be read. */
static inline char *unit_fixture(const char *path)
{
	char *buf = NULL;
	long n;
	FILE *f = fopen(path, "r");

	if (!f) {
		printf("FAIL cannot open %s (run from the repository root)\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		printf("FAIL cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	return buf;
}

/* CHECK(cond, "name fmt", ...): one counted check. Evaluates to cond. */
#define CHECK(cond, ...) unit_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* CHECK_EQ_INT / CHECK_EQ_STR print both sides on failure. */
#define CHECK_EQ_INT(got, want, name) do { \
	long long g__ = (long long)(got), w__ = (long long)(want); \
	if (!CHECK(g__ == w__, "%s", name)) printf("       got %lld, want %lld\n", g__, w__); \
} while (0)
#define CHECK_EQ_STR(got, want, name) do { \
	const char *g__ = (got), *w__ = (want); \
	int eq__ = (g__ && w__) ? strcmp(g__, w__) == 0 : g__ == w__; \
	if (!CHECK(eq__, "%s", name)) printf("       got \"%s\", want \"%s\"\n", g__ ? g__ : "(null)", w__ ? w__ : "(null)"); \
} while (0)

static inline int unit_done(void)
{
	printf("unit/%s: %d tests, %d passed, %d failed\n", unit_suite,
	       unit_passed + unit_failed, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

/*
 * Copy len bytes so that the last one sits just before an inaccessible page.
 * Returns the copy; release it with guard_free(). Exits on mmap failure.
 */
struct guard_buf {
	void *map;
	size_t maplen;
};

static inline char *guard_copy(const void *src, size_t len, struct guard_buf *g)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + pg - 1) / pg + 1;
	char *base;

	g->maplen = pages * pg;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	base = g->map;
	if (mprotect(base + (pages - 1) * pg, pg, PROT_NONE) != 0) {
		perror("mprotect");
		exit(2);
	}
	base += (pages - 1) * pg - len;
	memcpy(base, src, len);
	return base;
}

static inline void guard_free(struct guard_buf *g)
{
	munmap(g->map, g->maplen);
}

#endif
