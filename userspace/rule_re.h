/* SPDX-License-Identifier: MIT */
/*
 * rule_re: Go (RE2) regex syntax, as written in Traefik rules and mux templates, translated
 * to POSIX ERE text for glibc regcomp(REG_EXTENDED). Traefik compiles these patterns with Go's
 * regexp package and glibc has no RE2, so rule.c rewrites the syntax once at compile time;
 * what glibc would run with another meaning is rejected with a reason instead. Matching is
 * byte-wise (the caller runs regexec() in the C locale). Nothing here is on the request path.
 */
#ifndef SPLICED_RULE_RE_H
#define SPLICED_RULE_RE_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

#define RULE_RE_GROUPS	32	/* capture groups of one Go regex */
#define RULE_RE_SUBS	64	/* POSIX subexpressions of one translation */

enum rule_re_flag {
	RULE_RE_ICASE = 1 << 0,		/* compiled with REG_ICASE anyway: (?i) is in effect */
	RULE_RE_LEAD_FLAGS = 1 << 1,	/* a leading (?i) or (?s) applies to the whole regex */
};

/* What a translation found: how to compile it and where the Go groups went. */
struct rule_re_info {
	bool icase;				/* compile with REG_ICASE */
	int ngroups;				/* capture groups in the Go source */
	int go2posix[RULE_RE_GROUPS + 1];	/* Go group number -> POSIX subexpression */
	const char *names[RULE_RE_GROUPS + 1];	/* group names, pointing into src; NULL: unnamed */
	size_t name_len[RULE_RE_GROUPS + 1];
};

/*
 * Translate the Go regex src[0..n) (need not be NUL-terminated) to POSIX ERE, appended to
 * out. flags: RULE_RE_ICASE, RULE_RE_LEAD_FLAGS. On success *info (when info is not NULL)
 * says how to compile the result; its names point into src. Returns 0, or -EINVAL for syntax
 * that is invalid in Go or that glibc would run with another meaning, with the reason in err
 * (may be NULL), e.g. "non-greedy repetition is not supported"; out then holds a partial
 * pattern. Running out of memory is not reported here: check out->oom, as strbuf users do.
 */
int rule_re_translate(struct strbuf *out, const char *src, size_t n, unsigned int flags,
		      struct rule_re_info *info, char *err, size_t errlen);

/* Append s[0..n) (no NUL) to out as an ERE matching exactly those bytes (Go's QuoteMeta). */
void rule_re_quote(struct strbuf *out, const char *s, size_t n);

#endif
