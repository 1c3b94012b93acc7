/* SPDX-License-Identifier: MIT */
/*
 * rule_re: Go (RE2) regex syntax -> POSIX ERE, for the regexes and mux templates of Traefik
 * rules, which glibc's regcomp() then compiles once per configuration.
 *
 * One left-to-right pass writes the ERE while it reads the Go text; it never builds a parse
 * tree, because the two syntaxes differ only in escapes, classes, groups and flags. Classes
 * become a 256-bit byte set written back as one POSIX bracket, so bracket-syntax differences
 * cannot leak through. What POSIX would run with another meaning (non-greedy repetition,
 * flags after the start, \p classes, non-ASCII in classes) is rejected with a reason, so a
 * rule is refused at configuration time instead of routing differently from Traefik.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rule_re.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 32;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Escape one literal byte for a POSIX ERE (Go's QuoteMeta). */
static void ere_lit(struct strbuf *b, unsigned char c)
{
	if (strchr(".[]()*+?{}|^$\\", c))
		strbuf_putc(b, '\\');
	strbuf_putc(b, c);
}

void rule_re_quote(struct strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ere_lit(out, s[i]);
}

/* ---------------------------------------------------------------------------------------- */
/* Byte sets                                                                                 */

/* Matching is byte-wise (C locale): a class never holds a multi-byte character. */
struct cset {
	uint64_t w[4];
};

static void cs_add(struct cset *s, unsigned lo, unsigned hi)
{
	for (unsigned c = lo; c <= hi && c < 256; c++)
		s->w[c >> 6] |= 1ULL << (c & 63);
}

static bool cs_has(const struct cset *s, unsigned c)
{
	return s->w[c >> 6] >> (c & 63) & 1;
}

static void cs_or(struct cset *d, const struct cset *s, bool negate)
{
	for (int i = 0; i < 4; i++)
		d->w[i] |= negate ? ~s->w[i] : s->w[i];
}

/* Add ranges lo,hi (at most 4; a 0 lo ends them) to s. */
static void cs_add_ranges(struct cset *s, const unsigned char r[8])
{
	for (int j = 0; j < 8 && r[j]; j += 2)
		cs_add(s, r[j], r[j + 1]);
}

/* Add the Perl class of \d, \s or \w to s, or its complement for \D, \S or \W. */
static void cs_perl(struct cset *s, unsigned char esc)
{
	static const unsigned char d[8] = { '0', '9' };
	static const unsigned char sp[8] = { '\t', '\n', '\f', '\r', ' ', ' ' };
	static const unsigned char w[8] = { '0', '9', 'A', 'Z', 'a', 'z', '_', '_' };
	struct cset p = { { 0 } };

	cs_add_ranges(&p, (esc | 32) == 'd' ? d : (esc | 32) == 's' ? sp : w);
	cs_or(s, &p, esc < 'a');
}

static const struct {
	const char *name;
	unsigned char r[8];	/* as cs_add_ranges() takes them */
} posix_classes[] = {
	{ "alnum", { '0', '9', 'A', 'Z', 'a', 'z' } },
	{ "alpha", { 'A', 'Z', 'a', 'z' } },
	{ "ascii", { 1, 0x7f } },
	{ "blank", { '\t', '\t', ' ', ' ' } },
	{ "cntrl", { 1, 0x1f, 0x7f, 0x7f } },
	{ "digit", { '0', '9' } },
	{ "graph", { 0x21, 0x7e } },
	{ "lower", { 'a', 'z' } },
	{ "print", { 0x20, 0x7e } },
	{ "punct", { 0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e } },
	{ "space", { '\t', '\r', ' ', ' ' } },
	{ "upper", { 'A', 'Z' } },
	{ "word", { '0', '9', 'A', 'Z', 'a', 'z', '_', '_' } },
	{ "xdigit", { '0', '9', 'A', 'F', 'a', 'f' } },
};

/* ---------------------------------------------------------------------------------------- */
/* Translation                                                                               */

struct tr {
	struct strbuf *o;
	const char *s;
	size_t n, i;
	bool may_flag;		/* a leading (?i) / (?s) may set the flags */
	bool dotnl;		/* '.' matches '\n' too */
	int depth;
	int nposix;
	enum { TR_NONE, TR_ATOM, TR_QUANT, TR_ANCHOR } last;
	struct rule_re_info g;	/* g.icase: case-insensitive as a whole (REG_ICASE) */
	char *err;
	size_t errlen;
};

static int tr_fail(struct tr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tr_fail(struct tr *t, const char *fmt, ...)
{
	va_list ap;

	if (t->err && t->errlen) {
		va_start(ap, fmt);
		vsnprintf(t->err, t->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_special_in_bracket(unsigned c)
{
	return c == ']' || c == '[' || c == '^' || c == '-';
}

static int tr_emit_set(struct tr *t, struct cset s)
{
	struct strbuf *o = t->o;
	unsigned n = 0;
	bool neg, any = false, dash = false;

	s.w[0] &= ~1ULL;	/* NUL cannot appear in a POSIX pattern */
	for (int i = 0; i < 4; i++)
		n += __builtin_popcountll(s.w[i]);
	if (n == 0)
		return tr_fail(t, "character class matches nothing");
	if (n == 255) {
		strbuf_putc(o, '.');	/* POSIX '.' matches '\n' without REG_NEWLINE */
		return 0;
	}
	neg = n > 127;
	if (neg) {
		for (int i = 0; i < 4; i++)
			s.w[i] = ~s.w[i];
		s.w[0] &= ~1ULL;
	} else if (n == 1 && cs_has(&s, '^')) {
		strbuf_puts(o, "\\^");
		return 0;
	}
	strbuf_putc(o, '[');
	if (neg)
		strbuf_putc(o, '^');
	if (cs_has(&s, ']')) {
		strbuf_putc(o, ']');
		any = true;
	}
	for (unsigned c = 1; c < 256; c++) {
		unsigned lo;

		if (!cs_has(&s, c) || is_special_in_bracket(c))
			continue;
		lo = c;
		while (c + 1 < 256 && cs_has(&s, c + 1) && !is_special_in_bracket(c + 1))
			c++;
		strbuf_putc(o, lo);
		if (c > lo + 1)
			strbuf_putc(o, '-');
		if (c > lo)
			strbuf_putc(o, c);
		any = true;
	}
	if (cs_has(&s, '[')) {
		strbuf_putc(o, '[');
		any = true;
	}
	if (cs_has(&s, '^')) {
		if (!any && !neg) {	/* '^' first would negate: "[-^]" */
			strbuf_putc(o, '-');
			dash = true;
		}
		strbuf_putc(o, '^');
	}
	if (cs_has(&s, '-') && !dash)
		strbuf_putc(o, '-');
	strbuf_putc(o, ']');
	return 0;
}

/* UTF-8 encode a code point >= 0x80 into b (returns length). */
static size_t utf8_put(char *b, unsigned long cp)
{
	if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		b[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		b[1] = 0x80 | (cp >> 6 & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	b[0] = 0xf0 | cp >> 18;
	b[1] = 0x80 | (cp >> 12 & 0x3f);
	b[2] = 0x80 | (cp >> 6 & 0x3f);
	b[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* \xHH or \x{H...} at t->i (just past 'x'). */
static int tr_hex(struct tr *t, unsigned long *cp)
{
	unsigned long v = 0;
	size_t i = t->i;

	if (i < t->n && t->s[i] == '{') {
		size_t start = ++i;

		while (i < t->n && hexval(t->s[i]) >= 0 && v <= 0x10ffff)
			v = v * 16 + hexval(t->s[i++]);
		if (i == start || i >= t->n || t->s[i] != '}' || v > 0x10ffff)
			return tr_fail(t, "invalid \\x{...} escape");
		i++;
	} else {
		if (i + 1 >= t->n || hexval(t->s[i]) < 0 || hexval(t->s[i + 1]) < 0)
			return tr_fail(t, "invalid \\x escape");
		v = hexval(t->s[i]) << 4 | hexval(t->s[i + 1]);
		i += 2;
	}
	if (v == 0)
		return tr_fail(t, "NUL characters are not supported");
	t->i = i;
	*cp = v;
	return 0;
}

/* Parse {n}, {n,} or {n,m} at s[i]; true with *end past '}' if it is a valid repeat. */
static bool parse_repeat(const char *s, size_t n, size_t i, size_t *end, long *lo, long *hi)
{
	long a = 0, b;
	size_t j = i + 1;

	if (j >= n || s[j] < '0' || s[j] > '9')
		return false;
	while (j < n && s[j] >= '0' && s[j] <= '9' && a <= 100000)
		a = a * 10 + (s[j++] - '0');
	b = a;
	if (j < n && s[j] == ',') {
		j++;
		b = -1;
		if (j < n && s[j] >= '0' && s[j] <= '9') {
			b = 0;
			while (j < n && s[j] >= '0' && s[j] <= '9' && b <= 100000)
				b = b * 10 + (s[j++] - '0');
		}
	}
	if (j >= n || s[j] != '}')
		return false;
	*end = j + 1;
	*lo = a;
	*hi = b;
	return true;
}

static bool next_is_quant(struct tr *t)
{
	size_t end;
	long lo, hi;

	if (t->i >= t->n)
		return false;
	switch (t->s[t->i]) {
	case '*': case '+': case '?':
		return true;
	case '{':
		return parse_repeat(t->s, t->n, t->i, &end, &lo, &hi);
	}
	return false;
}

/* A multi-byte character, grouped when a quantifier follows so that it repeats whole. */
static void tr_multibyte(struct tr *t, const char *b, size_t n)
{
	t->last = TR_ATOM;
	if (next_is_quant(t)) {
		strbuf_putc(t->o, '(');
		strbuf_add(t->o, b, n);
		strbuf_putc(t->o, ')');
		t->nposix++;
	} else {
		strbuf_add(t->o, b, n);
	}
}

/* A literal character (code point). */
static void tr_char(struct tr *t, unsigned long cp)
{
	char b[4];

	if (cp >= 0x80) {
		size_t n = utf8_put(b, cp);

		tr_multibyte(t, b, n);
		return;
	}
	t->last = TR_ATOM;
	ere_lit(t->o, cp);
}

/* The escape at t->i: moves past the backslash and its letter, which goes to *ch. */
static int tr_escape_start(struct tr *t, unsigned char *ch)
{
	if (t->i + 1 >= t->n)
		return tr_fail(t, "trailing backslash");
	*ch = t->s[t->i + 1];
	t->i += 2;
	return 0;
}

/* The byte of \a, \f, \t, \n, \r or \v; 0 for any other letter. */
static unsigned char control_escape(unsigned char ch)
{
	switch (ch) {
	case 'a': return 7;
	case 'f': return '\f';
	case 't': return '\t';
	case 'n': return '\n';
	case 'r': return '\r';
	case 'v': return '\v';
	}
	return 0;
}

/* Go lets a backslash quote any ASCII punctuation, which then stands for itself. */
static bool is_quotable(unsigned char ch)
{
	return ch < 0x80 && ch > ' ' && ch != 0x7f && !((ch | 32) >= 'a' && (ch | 32) <= 'z') &&
	       !(ch >= '0' && ch <= '9');
}

/* One character of a class at t->i: a byte in *c, or a Perl class added to *set. */
static int tr_class_item(struct tr *t, unsigned *c, struct cset *set, bool *is_set)
{
	unsigned char ch = t->s[t->i];
	unsigned long cp;

	*is_set = false;
	if (ch >= 0x80)
		return tr_fail(t, "non-ASCII characters in a class are not supported");
	if (ch != '\\') {
		t->i++;
		*c = ch;
		return 0;
	}
	if (tr_escape_start(t, &ch))
		return -EINVAL;
	if (control_escape(ch)) {
		*c = control_escape(ch);
		return 0;
	}
	switch (ch) {
	case 'd': case 's': case 'w': case 'D': case 'S': case 'W':
		cs_perl(set, ch);
		*is_set = true;
		return 0;
	case 'x':
		if (tr_hex(t, &cp))
			return -EINVAL;
		if (cp >= 0x80)
			return tr_fail(t, "non-ASCII characters in a class are not supported");
		*c = cp;
		return 0;
	case 'p': case 'P':
		return tr_fail(t, "Unicode classes (\\p) are not supported");
	}
	if (is_quotable(ch)) {
		*c = ch;
		return 0;
	}
	return tr_fail(t, "invalid escape \\%c in a class", ch);
}

/* [:name:] or [:^name:] inside a class, at t->i. */
static int tr_posix_class(struct tr *t, struct cset *set)
{
	const char *end = memmem(t->s + t->i + 2, t->n - t->i - 2, ":]", 2);
	const char *name = t->s + t->i + 2;
	struct cset p = { { 0 } };
	bool cneg = false;
	size_t k, nl;

	if (!end)
		return tr_fail(t, "missing closing :]");
	if (*name == '^') {
		cneg = true;
		name++;
	}
	nl = end - name;
	for (k = 0; k < sizeof(posix_classes) / sizeof(posix_classes[0]); k++) {
		const char *cn = posix_classes[k].name;

		if (strlen(cn) == nl && !memcmp(cn, name, nl))
			break;
	}
	if (k == sizeof(posix_classes) / sizeof(posix_classes[0]))
		return tr_fail(t, "unknown class [:%.*s:]", (int)nl, name);
	cs_add_ranges(&p, posix_classes[k].r);
	if (!strcmp(posix_classes[k].name, "ascii") || !strcmp(posix_classes[k].name, "cntrl"))
		cs_add(&p, 0, 0);
	cs_or(set, &p, cneg);
	t->i = end - t->s + 2;
	return 0;
}

static int tr_class(struct tr *t)
{
	struct cset set = { { 0 } };
	bool neg = false, first = true;

	t->i++;			/* '[' */
	if (t->i < t->n && t->s[t->i] == '^') {
		neg = true;
		t->i++;
	}
	for (;;) {
		unsigned lo, hi;
		bool is_set;

		if (t->i >= t->n)
			return tr_fail(t, "missing closing ]");
		if (t->s[t->i] == ']' && !first) {
			t->i++;
			break;
		}
		first = false;
		if (t->s[t->i] == '[' && t->i + 1 < t->n && t->s[t->i + 1] == ':') {
			if (tr_posix_class(t, &set))
				return -EINVAL;
			continue;
		}
		if (tr_class_item(t, &lo, &set, &is_set))
			return -EINVAL;
		if (is_set)
			continue;
		if (t->i + 1 < t->n && t->s[t->i] == '-' && t->s[t->i + 1] != ']') {
			t->i++;
			if (tr_class_item(t, &hi, &set, &is_set))
				return -EINVAL;
			if (is_set || hi < lo)
				return tr_fail(t, "invalid character class range");
			cs_add(&set, lo, hi);
		} else {
			cs_add(&set, lo, lo);
		}
	}
	if (neg) {
		for (int i = 0; i < 4; i++)
			set.w[i] = ~set.w[i];
	}
	t->last = TR_ATOM;
	return tr_emit_set(t, set);
}

/* \Q...\E (or to the end): every byte literal. */
static int tr_quoted(struct tr *t)
{
	const char *e = memmem(t->s + t->i, t->n - t->i, "\\E", 2);
	size_t end = e ? (size_t)(e - t->s) : t->n;

	while (t->i < end) {
		unsigned char c = t->s[t->i];

		if (c >= 0x80)
			return tr_fail(t, "non-ASCII in \\Q...\\E is not supported");
		t->i++;
		tr_char(t, c);
	}
	t->i = e ? end + 2 : end;
	return 0;
}

static int tr_escape(struct tr *t)
{
	unsigned char ch = 0;
	unsigned long cp;

	if (tr_escape_start(t, &ch))
		return -EINVAL;
	if (control_escape(ch)) {
		tr_char(t, control_escape(ch));
		return 0;
	}
	switch (ch) {
	case 'd': case 's': case 'w': case 'D': case 'S': case 'W': {
		struct cset s = { { 0 } };

		cs_perl(&s, ch);
		t->last = TR_ATOM;
		return tr_emit_set(t, s);
	}
	case 'A':
		strbuf_putc(t->o, '^');
		t->last = TR_ANCHOR;
		return 0;
	case 'z':
		strbuf_putc(t->o, '$');
		t->last = TR_ANCHOR;
		return 0;
	case 'b': case 'B':
		strbuf_putc(t->o, '\\');	/* glibc knows \b and \B (ASCII word boundary) */
		strbuf_putc(t->o, ch);
		t->last = TR_ANCHOR;
		return 0;
	case 'x':
		if (tr_hex(t, &cp))
			return -EINVAL;
		tr_char(t, cp);
		return 0;
	case 'Q':
		return tr_quoted(t);
	case 'p': case 'P':
		return tr_fail(t, "Unicode classes (\\p) are not supported");
	}
	if (ch >= '0' && ch <= '9')
		return tr_fail(t, "backreferences and octal escapes (\\%c) are not supported", ch);
	if (is_quotable(ch)) {
		tr_char(t, ch);
		return 0;
	}
	return tr_fail(t, "invalid escape sequence \\%c", ch >= ' ' && ch < 0x7f ? ch : '?');
}

static int tr_group(struct tr *t)
{
	const char *s = t->s;
	size_t i = t->i + 1;	/* past '(' */
	bool capture = true;

	if (i < t->n && s[i] == '?') {
		size_t j = i + 1;

		if (j < t->n && s[j] == ':') {
			capture = false;
			i = j + 1;
		} else if (j < t->n && (s[j] == 'P' || s[j] == '<')) {
			size_t ns, ne;

			if (s[j] == 'P')
				j++;
			if (j >= t->n || s[j] != '<')
				return tr_fail(t, "invalid named group");
			ns = ++j;
			while (j < t->n && (s[j] == '_' || (s[j] >= '0' && s[j] <= '9') ||
					    ((s[j] | 32) >= 'a' && (s[j] | 32) <= 'z')))
				j++;
			ne = j;
			if (ne == ns || j >= t->n || s[j] != '>')
				return tr_fail(t, "invalid named group");
			if (t->g.ngroups >= RULE_RE_GROUPS)
				return tr_fail(t, "more than %d groups", RULE_RE_GROUPS);
			t->g.names[t->g.ngroups + 1] = s + ns;
			t->g.name_len[t->g.ngroups + 1] = ne - ns;
			i = j + 1;
		} else {
			bool fi = false, fs = false;

			while (j < t->n && (s[j] == 'i' || s[j] == 's')) {
				if (s[j] == 'i')
					fi = true;
				else
					fs = true;
				j++;
			}
			if (j >= t->n || (s[j] != ')' && s[j] != ':') || (!fi && !fs))
				return tr_fail(t, "flags other than i and s are not supported");
			if (s[j] == ')' && t->i == 0 && t->may_flag) {
				t->g.icase |= fi;
				t->dotnl |= fs;
				t->i = j + 1;
				return 0;
			}
			if ((fi && !t->g.icase) || (fs && !t->dotnl))
				return tr_fail(t, "(?i) and (?s) are only supported at the start");
			if (s[j] == ')') {	/* already in effect */
				t->i = j + 1;
				return 0;
			}
			capture = false;
			i = j + 1;
		}
	}
	if (capture) {
		if (t->g.ngroups >= RULE_RE_GROUPS)
			return tr_fail(t, "more than %d groups", RULE_RE_GROUPS);
		t->g.ngroups++;
		t->g.go2posix[t->g.ngroups] = t->nposix + 1;
	}
	t->nposix++;
	t->depth++;
	strbuf_putc(t->o, '(');
	t->i = i;
	t->last = TR_NONE;
	return 0;
}

static int tr_quant(struct tr *t, const char *q, size_t qlen)
{
	if (t->last == TR_NONE)
		return tr_fail(t, "missing argument to repetition operator");
	if (t->last == TR_QUANT)
		return tr_fail(t, "invalid nested repetition operator");
	if (t->last == TR_ANCHOR)
		return tr_fail(t, "repetition of an anchor is not supported");
	strbuf_add(t->o, q, qlen);
	t->last = TR_QUANT;
	if (t->i < t->n && t->s[t->i] == '?')
		return tr_fail(t, "non-greedy repetition is not supported");
	return 0;
}

/* Translate t->s[0..n) (Go syntax) to POSIX ERE, appended to t->o. 0 or -EINVAL. */
static int tr_run(struct tr *t)
{
	while (t->i < t->n) {
		unsigned char c = t->s[t->i];
		size_t end;
		long lo, hi;
		int rc = 0;

		switch (c) {
		case '\\':
			rc = tr_escape(t);
			break;
		case '[':
			rc = tr_class(t);
			break;
		case '(':
			rc = tr_group(t);
			break;
		case ')':
			if (t->depth == 0)
				return tr_fail(t, "unexpected )");
			t->depth--;
			strbuf_putc(t->o, ')');
			t->i++;
			t->last = TR_ATOM;
			break;
		case '|':
			strbuf_putc(t->o, '|');
			t->i++;
			t->last = TR_NONE;
			break;
		case '^': case '$':
			strbuf_putc(t->o, c);
			t->i++;
			t->last = TR_ANCHOR;
			break;
		case '.':
			strbuf_puts(t->o, t->dotnl ? "." : "[^\n]");
			t->i++;
			t->last = TR_ATOM;
			break;
		case '*': case '+': case '?':
			t->i++;
			rc = tr_quant(t, (const char *)&t->s[t->i - 1], 1);
			break;
		case '{':
			if (parse_repeat(t->s, t->n, t->i, &end, &lo, &hi)) {
				size_t at = t->i;

				if (lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo))
					return tr_fail(t, "invalid repeat count");
				t->i = end;
				rc = tr_quant(t, t->s + at, end - at);
			} else {
				t->i++;
				tr_char(t, '{');
			}
			break;
		default:
			if (c < 0x80) {
				t->i++;
				tr_char(t, c);
			} else {
				/* copy one UTF-8 sequence as it is */
				const char *b = t->s + t->i;
				size_t j = t->i + 1;

				while (j < t->n && j - t->i < 4 &&
				       ((unsigned char)t->s[j] & 0xc0) == 0x80)
					j++;
				end = j - t->i;
				t->i = j;
				tr_multibyte(t, b, end);
			}
		}
		if (rc)
			return rc;
	}
	if (t->depth)
		return tr_fail(t, "missing )");
	if (t->nposix > RULE_RE_SUBS)
		return tr_fail(t, "too many groups");
	return 0;
}

int rule_re_translate(struct strbuf *out, const char *src, size_t n, unsigned int flags,
		      struct rule_re_info *info, char *err, size_t errlen)
{
	struct tr t = {
		.o = out,
		.s = src,
		.n = n,
		.may_flag = flags & RULE_RE_LEAD_FLAGS,
		.g.icase = flags & RULE_RE_ICASE,
		.err = err,
		.errlen = errlen,
	};
	int rc = tr_run(&t);

	if (!rc && info)
		*info = t.g;
	return rc;
}
