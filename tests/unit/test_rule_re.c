/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for rule_re.c: the Go regex -> POSIX ERE translator, seen directly (test_rule.c
 * sees it through matchers). Checks the exact ERE text, that glibc compiles it, the group map
 * ReplacePathRegex relies on, and the reason given for each syntax that is refused. Every
 * source is placed right before a PROT_NONE page and passed without its NUL.
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rule_re.h"
#include "unit.h"

/* A check name shows control characters as '~', to keep one line per check. */
static const char *shown(const char *s)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = '~';
	return buf;
}

/*
 * Translate src (guarded, not NUL-terminated) into out; returns the rc, err gets the reason.
 * Group names in info point into the guarded copy, which is gone on return: see test_groups.
 */
static int translate(const char *src, unsigned int flags, struct strbuf *out,
		     struct rule_re_info *info, char *err, size_t errlen)
{
	struct guard_buf g;
	size_t n = strlen(src);
	const char *s = guard_copy(src, n, &g);
	int rc;

	rc = rule_re_translate(out, s, n, flags, info, err, errlen);
	guard_free(&g);
	return rc;
}

struct okcase {
	const char *src;
	unsigned int flags;
	const char *ere;
	bool icase;
};

static const struct okcase okcases[] = {
	{ "", 0, "", false },
	{ "abc", 0, "abc", false },
	{ "a.b", 0, "a[^\n]b", false },			/* Go's '.' stops at \n */
	{ "(?s)a.b", RULE_RE_LEAD_FLAGS, "a.b", false },
	{ "(?i)abc", RULE_RE_LEAD_FLAGS, "abc", true },
	{ "(?is)a.", RULE_RE_LEAD_FLAGS, "a.", true },
	{ "(?i)x", RULE_RE_ICASE, "x", true },		/* already in effect */
	{ "a(?i:b)", RULE_RE_ICASE, "a(b)", true },
	{ "x", RULE_RE_ICASE, "x", true },
	/* Perl classes and their complements, as one bracket each */
	{ "\\d+", 0, "[0-9]+", false },
	{ "\\D", 0, "[^0-9]", false },
	{ "\\s", 0, "[\t\n\f\r ]", false },			/* no \v, as RE2 */
	{ "\\w", 0, "[0-9A-Z_a-z]", false },
	{ "\\W", 0, "[^0-9A-Z_a-z]", false },
	{ "[\\d.]", 0, "[.0-9]", false },
	{ "[\\W]", 0, "[^0-9A-Z_a-z]", false },
	/* bracket syntax: ']' first, '[' and '^' late, '-' last */
	{ "[]a-]", 0, "[]a-]", false },
	{ "[\\]\\[]", 0, "[][]", false },
	{ "[\\^]", 0, "\\^", false },
	{ "[\\^a]", 0, "[a^]", false },
	{ "[\\^\\-]", 0, "[-^]", false },
	{ "[^a]", 0, "[^a]", false },
	{ "[^\\n]", 0, "[^\n]", false },
	{ "[a-cx-z]", 0, "[a-cx-z]", false },
	{ "[ab]", 0, "[ab]", false },
	{ "[\\s\\S]", 0, ".", false },			/* every byte but NUL */
	{ "[[:alpha:]]", 0, "[A-Za-z]", false },
	{ "[[:^alpha:]]", 0, "[^A-Za-z]", false },
	{ "[[:xdigit:]_]", 0, "[0-9A-F_a-f]", false },
	{ "[\\t\\v]", 0, "[\t\v]", false },
	/* escapes and anchors */
	{ "a\\.b", 0, "a\\.b", false },
	{ "\\$\\^\\/\\-", 0, "\\$\\^/-", false },
	{ "\\x41\\x{42}", 0, "AB", false },
	{ "\\x{e9}", 0, "\xc3\xa9", false },
	{ "\\x{20ac}", 0, "\xe2\x82\xac", false },
	{ "\\x{1F600}", 0, "\xf0\x9f\x98\x80", false },
	{ "\\Q.*\\E+", 0, "\\.\\*+", false },
	{ "\\Qa.b", 0, "a\\.b", false },			/* \Q to the end */
	{ "a\\Q\\Eb", 0, "ab", false },
	{ "\\Aab\\z", 0, "^ab$", false },
	{ "\\bx\\B", 0, "\\bx\\B", false },
	{ "\\a\\f\\t\\n\\r\\v", 0, "\a\f\t\n\r\v", false },
	/* repetition */
	{ "a{2,3}b{2}c{1,}", 0, "a{2,3}b{2}c{1,}", false },
	{ "a{", 0, "a\\{", false },
	{ "a{,2}", 0, "a\\{,2\\}", false },
	{ "a}", 0, "a\\}", false },
	{ "\xc3\xa9+", 0, "(\xc3\xa9)+", false },		/* a whole character repeats */
	{ "\\x{e9}{2}", 0, "(\xc3\xa9){2}", false },
	{ "\xc3\xa9x", 0, "\xc3\xa9x", false },
	/* groups */
	{ "(?:ab)+|c", 0, "(ab)+|c", false },
	{ "(?P<n>a)(?<m>b)", 0, "(a)(b)", false },
};

static void test_ok(void)
{
	for (size_t i = 0; i < sizeof(okcases) / sizeof(okcases[0]); i++) {
		const struct okcase *c = &okcases[i];
		struct strbuf out = STRBUF_INIT;
		struct rule_re_info info = { 0 };
		char err[128] = "";
		regex_t re;
		int rc;

		strbuf_putc(&out, '<');	/* appended, never overwritten */
		rc = translate(c->src, c->flags, &out, &info, err, sizeof(err));
		if (!CHECK(rc == 0 && out.buf[0] == '<' && !strcmp(out.buf + 1, c->ere) &&
			   info.icase == c->icase, "translate \"%s\"", shown(c->src)))
			printf("       got rc %d \"%s\" icase %d err \"%s\"; want \"<%s\" %d\n", rc,
			       out.buf, info.icase, err, c->ere, c->icase);
		rc = regcomp(&re, out.buf + 1, REG_EXTENDED | REG_NOSUB);
		CHECK(rc == 0, "regcomp accepts the translation of \"%s\"", shown(c->src));
		if (rc == 0)
			regfree(&re);
		strbuf_release(&out);
	}
}

/* The ERE does what the Go regex does on a few subjects (C locale, byte-wise). */
struct semcase {
	const char *src;
	unsigned int flags;
	const char *subject;
	bool want;
};

static const struct semcase semcases[] = {
	{ "^\xc3\xa9+$", 0, "\xc3\xa9\xc3\xa9", true },
	{ "^\xc3\xa9+$", 0, "\xc3\xa9\xa9", false },	/* not just the last byte repeated */
	{ "^a.b$", 0, "a\nb", false },
	{ "(?s)^a.b$", RULE_RE_LEAD_FLAGS, "a\nb", true },
	{ "(?i)^abc$", RULE_RE_LEAD_FLAGS, "AbC", true },
	{ "^[^a]$", 0, "\n", true },
	{ "^[\\^\\-]+$", 0, "^-^", true },
	{ "^[\\^\\-]+$", 0, "^a", false },
	{ "^\\W+$", 0, "-+", true },
	{ "^\\W+$", 0, "-a", false },
};

static void test_semantics(void)
{
	for (size_t i = 0; i < sizeof(semcases) / sizeof(semcases[0]); i++) {
		const struct semcase *c = &semcases[i];
		struct strbuf out = STRBUF_INIT;
		struct rule_re_info info;
		char err[128];
		regex_t re;
		bool ok = false;

		if (translate(c->src, c->flags, &out, &info, err, sizeof(err)) == 0 &&
		    regcomp(&re, out.buf, REG_EXTENDED | REG_NOSUB | (info.icase ? REG_ICASE : 0))
		    == 0) {
			ok = (regexec(&re, c->subject, 0, NULL, 0) == 0) == c->want;
			regfree(&re);
		}
		CHECK(ok, "\"%s\" %s the subject \"%s\"", c->src,
		      c->want ? "matches" : "does not match", shown(c->subject));
		strbuf_release(&out);
	}
}

/* Go group numbers -> POSIX subexpressions, and names, as ReplacePathRegex expands them. */
static void test_groups(void)
{
	const char *src = "(?:x)(?P<year>\\d{4})-\xc3\xa9*(?<m>a(b))";
	struct strbuf out = STRBUF_INIT;
	struct rule_re_info info;
	struct guard_buf g;
	const char *s = guard_copy(src, strlen(src), &g);
	char err[128];
	int rc;

	rc = rule_re_translate(&out, s, strlen(src), RULE_RE_LEAD_FLAGS, &info, err, sizeof(err));
	CHECK_EQ_INT(rc, 0, "groups: translated");
	CHECK_EQ_STR(out.buf, "(x)([0-9]{4})-(\xc3\xa9)*(a(b))", "groups: ERE");
	CHECK_EQ_INT(info.ngroups, 3, "groups: 3 Go capture groups");
	CHECK(info.go2posix[1] == 2 && info.go2posix[2] == 4 && info.go2posix[3] == 5,
	      "groups: Go 1,2,3 are POSIX 2,4,5 (skipping (?:) and the grouped character)");
	CHECK(info.names[1] == s + 9 && info.name_len[1] == 4 && !memcmp(s + 9, "year", 4),
	      "groups: group 1 is named year, pointing into the source");
	CHECK(info.names[2] && info.name_len[2] == 1 && info.names[2][0] == 'm',
	      "groups: group 2 is named m (the (?<name>) form)");
	CHECK(!info.names[3] && !info.names[0], "groups: group 3 and the whole match are unnamed");
	guard_free(&g);
	strbuf_release(&out);
}

struct errcase {
	const char *src;
	unsigned int flags;
	const char *why;	/* the whole message */
};

static const struct errcase errcases[] = {
	{ "a\\", 0, "trailing backslash" },
	{ "[a\\", 0, "trailing backslash" },
	{ "(a", 0, "missing )" },
	{ "a)", 0, "unexpected )" },
	{ "[a", 0, "missing closing ]" },
	{ "[]", 0, "missing closing ]" },
	{ "[[:alpha", 0, "missing closing :]" },
	{ "[[:foo:]]", 0, "unknown class [:foo:]" },
	{ "a**", 0, "invalid nested repetition operator" },
	{ "*a", 0, "missing argument to repetition operator" },
	{ "(*)", 0, "missing argument to repetition operator" },
	{ "a|+", 0, "missing argument to repetition operator" },
	{ "^*", 0, "repetition of an anchor is not supported" },
	{ "\\b+", 0, "repetition of an anchor is not supported" },
	{ "a+?", 0, "non-greedy repetition is not supported" },
	{ "a{1001}", 0, "invalid repeat count" },
	{ "a{3,1}", 0, "invalid repeat count" },
	{ "(a)\\1", 0, "backreferences and octal escapes (\\1) are not supported" },
	{ "\\0", 0, "backreferences and octal escapes (\\0) are not supported" },
	{ "\\q", 0, "invalid escape sequence \\q" },
	{ "\\\x01", 0, "invalid escape sequence \\?" },
	{ "[\\q]", 0, "invalid escape \\q in a class" },
	{ "[\\1]", 0, "invalid escape \\1 in a class" },
	{ "\\xZ1", 0, "invalid \\x escape" },
	{ "\\x4", 0, "invalid \\x escape" },
	{ "\\x{}", 0, "invalid \\x{...} escape" },
	{ "\\x{110000}", 0, "invalid \\x{...} escape" },
	{ "\\x{41", 0, "invalid \\x{...} escape" },
	{ "\\x00", 0, "NUL characters are not supported" },
	{ "[\\x{0}]", 0, "NUL characters are not supported" },
	{ "\\pL", 0, "Unicode classes (\\p) are not supported" },
	{ "[\\P{Greek}]", 0, "Unicode classes (\\p) are not supported" },
	{ "[z-a]", 0, "invalid character class range" },
	{ "[a-\\d]", 0, "invalid character class range" },
	{ "[\xc3\xa9]", 0, "non-ASCII characters in a class are not supported" },
	{ "[\\x{e9}]", 0, "non-ASCII characters in a class are not supported" },
	{ "\\Q\xc3\xa9\\E", 0, "non-ASCII in \\Q...\\E is not supported" },
	{ "[^[:ascii:][:^ascii:]]", 0, "character class matches nothing" },
	{ "(?m)a", RULE_RE_LEAD_FLAGS, "flags other than i and s are not supported" },
	{ "(?)a", RULE_RE_LEAD_FLAGS, "flags other than i and s are not supported" },
	{ "(?i)a", 0, "(?i) and (?s) are only supported at the start" },
	{ "a(?i)b", RULE_RE_LEAD_FLAGS, "(?i) and (?s) are only supported at the start" },
	{ "(?s)a", RULE_RE_ICASE, "(?i) and (?s) are only supported at the start" },
	{ "(?i:a)", 0, "(?i) and (?s) are only supported at the start" },
	{ "(?P<>a)", 0, "invalid named group" },
	{ "(?P<a-b>x)", 0, "invalid named group" },
	{ "(?Px)", 0, "invalid named group" },
};

/* Reject src (built by repeating unit n times) with exactly why. */
static void reject_repeated(const char *unit, int n, const char *why)
{
	struct strbuf src = STRBUF_INIT, out = STRBUF_INIT;
	char err[128] = "";

	for (int i = 0; i < n; i++)
		strbuf_puts(&src, unit);
	CHECK(!src.oom && translate(src.buf, 0, &out, NULL, err, sizeof(err)) == -EINVAL &&
	      !strcmp(err, why), "reject %d x \"%s\": %s", n, unit, why);
	strbuf_release(&src);
	strbuf_release(&out);
}

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(errcases) / sizeof(errcases[0]); i++) {
		const struct errcase *c = &errcases[i];
		struct strbuf out = STRBUF_INIT;
		struct rule_re_info info = { .ngroups = -7 };
		char err[128] = "";
		int rc;

		rc = translate(c->src, c->flags, &out, &info, err, sizeof(err));
		if (!CHECK(rc == -EINVAL && !strcmp(err, c->why) && info.ngroups == -7,
			   "reject %-24s: %s", shown(c->src), c->why))
			printf("       got rc %d \"%s\"\n", rc, err);
		strbuf_release(&out);
	}
}

/* RULE_RE_GROUPS Go groups, RULE_RE_SUBS POSIX subexpressions. */
static void test_limits(void)
{
	struct strbuf src = STRBUF_INIT, out = STRBUF_INIT;

	reject_repeated("(a)", 33, "more than 32 groups");
	reject_repeated("(?P<n>a)", 33, "more than 32 groups");
	reject_repeated("(?:)", 65, "too many groups");
	for (int i = 0; i < 64; i++)
		strbuf_puts(&src, "(?:)");
	CHECK(!src.oom && translate(src.buf, 0, &out, NULL, NULL, 0) == 0,
	      "accept 64 POSIX subexpressions");
	strbuf_release(&src);
	strbuf_release(&out);
}

static void test_err_buffer(void)
{
	struct strbuf out = STRBUF_INIT;
	char err[8] = "xxxxxxx";

	CHECK(translate("a)", 0, &out, NULL, NULL, 0) == -EINVAL,
	      "no error buffer: still -EINVAL");
	CHECK(translate("a)", 0, &out, NULL, err, sizeof(err)) == -EINVAL &&
	      !strcmp(err, "unexpec"), "reason truncated to the buffer: \"%s\"", err);
	strbuf_release(&out);
}

static void test_quote(void)
{
	struct strbuf out = STRBUF_INIT;
	const char *all = ".[]()*+?{}|^$\\";
	regex_t re;
	bool ok;

	rule_re_quote(&out, "a/b-", 4);
	CHECK_EQ_STR(out.buf, "a/b-", "quote: plain bytes stay");
	strbuf_release(&out);
	rule_re_quote(&out, all, strlen(all));
	CHECK_EQ_STR(out.buf, "\\.\\[\\]\\(\\)\\*\\+\\?\\{\\}\\|\\^\\$\\\\",
		     "quote: every ERE metacharacter escaped");
	ok = regcomp(&re, out.buf, REG_EXTENDED | REG_NOSUB) == 0;
	CHECK(ok && regexec(&re, all, 0, NULL, 0) == 0 && regexec(&re, "x", 0, NULL, 0) != 0,
	      "quote: the ERE matches the quoted text and not other text");
	if (ok)
		regfree(&re);
	strbuf_release(&out);
}

int main(void)
{
	unit_begin("rule_re");
	test_ok();
	test_semantics();
	test_groups();
	test_errors();
	test_limits();
	test_err_buffer();
	test_quote();
	return unit_done();
}
