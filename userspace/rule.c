/* SPDX-License-Identifier: MIT */
/*
 * rule: Traefik 1.7 frontend rules ("Host:a.com;PathPrefix:/api") compiled once per routing
 * snapshot and evaluated on every request.
 *
 * The text is cut into matchers and arguments exactly as Traefik's rules.go does, and each
 * matcher keeps the gorilla/mux semantics Traefik wires up: paths are matched percent-decoded,
 * Path templates are strict-slash (a trailing '/' mismatch is a 301), the Host header is not
 * a header. Most matchers become literal compares with the case folded at compile time;
 * templates and regexes are translated from Go's RE2 syntax to POSIX ERE (rule_re.c) and run
 * by glibc regexec() on the request bytes in place (REG_STARTEND), safe on a shared regex_t.
 * After rule_compile() nothing allocates: matching and rewriting use the stack (at most
 * about 33 KiB) and the caller's buffer.
 */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rule.h"
#include "rule_re.h"
#include "strbuf.h"

#define RULE_WORK_MAX	(2 * RULE_PATH_MAX)	/* rewrite work buffers */

/* ---------------------------------------------------------------------------------------- */
/* Compiled form                                                                             */

struct rule_rx {
	regex_t re;
	struct rule_rx *next;		/* every regex of a rule, for regfree() */
	struct rule_re_info info;	/* Go capture groups (ReplacePathRegex) */
};

/* One argument of a matcher: an alternative (ORed) or a name/value pair (ANDed). */
struct rule_alt {
	const char *text;	/* literal host/method (case folded), path, prefix or value */
	size_t len;
	const char *key;	/* Headers*: lowercased header name; Query: the key */
	size_t key_len;
	struct rule_rx *re;	/* NULL: compare text literally */
	bool slash;		/* Path: the template ends with '/' (strict slash) */
	bool any;		/* Query: "k=" matches any value */
};

enum rule_kind {		/* in evaluation order: cheap first */
	RULE_K_HOST,
	RULE_K_METHOD,
	RULE_K_PATH,
	RULE_K_PREFIX,
	RULE_K_HEADERS,
	RULE_K_QUERY,
	RULE_K_HOST_RE,
	RULE_K_HEADERS_RE,
};

struct rule_matcher {
	enum rule_kind kind;
	size_t nalts;
	struct rule_alt *alts;
};

/* A piece of a ReplacePathRegex replacement: literal text or a group reference. */
struct rule_seg {
	const char *lit;
	size_t len;
	int group;		/* >= 0: Go group number; -1: literal; -2: named, see lit/len */
};

struct rule_blk {
	struct rule_blk *next;
	max_align_t data[];
};

struct rule {
	struct rule_matcher *m;
	size_t nm;
	struct rule_alt *strip_lit;	/* PathStrip, PathPrefixStrip: longest first */
	size_t nstrip_lit;
	struct rule_alt *strip_re;	/* PathStripRegex, PathPrefixStripRegex: longest first */
	size_t nstrip_re;
	const char *add_prefix;
	size_t add_prefix_len;
	const char *replace;
	size_t replace_len;
	struct rule_rx *rep_re;
	struct rule_seg *rep;
	size_t nrep;
	struct rule_blk *blocks;	/* everything above lives here */
	struct rule_rx *res;
};

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static inline unsigned char upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static inline bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* a (already lowercase) equals b ignoring ASCII case */
static bool eq_fold(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] != lower(b[i]))
			return false;
	return true;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode like Go's url.unescape ('+' becomes ' ' in query mode). 0, or -1 if a
 * %-escape is malformed or the result does not fit. */
static int pct_decode(const char *s, size_t n, bool query, char *out, size_t cap, size_t *len)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -1;
			c = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
			i += 2;
		} else if (c == '+' && query) {
			c = ' ';
		}
		if (w == cap)
			return -1;
		out[w++] = c;
	}
	*len = w;
	return 0;
}

/* Go's shouldEscape(c, encodePath). */
static bool path_escapes(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return false;
	switch (c) {
	case '-': case '_': case '.': case '~':
	case '$': case '&': case '+': case ',': case '/': case ':': case ';': case '=': case '@':
		return false;
	default:
		return true;
	}
}

/* Go's validEncoded(s, encodePath). */
static bool path_valid_encoded(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
		case ',': case ';': case '=': case ':': case '@': case '[': case ']': case '%':
			break;
		default:
			if (path_escapes(s[i]))
				return false;
		}
	}
	return true;
}

/* Does escape(p) == raw, without building it? */
static bool escape_equals(const char *p, size_t pl, const char *raw, size_t rl)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;

	for (size_t i = 0; i < pl; i++) {
		unsigned char c = p[i];

		if (path_escapes(c)) {
			if (j + 3 > rl || raw[j] != '%' || raw[j + 1] != hex[c >> 4] ||
			    raw[j + 2] != hex[c & 15])
				return false;
			j += 3;
		} else {
			if (j >= rl || (unsigned char)raw[j] != c)
				return false;
			j++;
		}
	}
	return j == rl;
}

/* Append escape(s) to out[*w..cap). -ENOSPC if it does not fit. */
static int put_escaped(char *out, size_t *w, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (path_escapes(c)) {
			if (cap - *w < 3)
				return -ENOSPC;
			out[(*w)++] = '%';
			out[(*w)++] = hex[c >> 4];
			out[(*w)++] = hex[c & 15];
		} else {
			if (*w == cap)
				return -ENOSPC;
			out[(*w)++] = c;
		}
	}
	return 0;
}

static void *ralloc(struct rule *r, size_t n)
{
	struct rule_blk *b = calloc(1, sizeof(*b) + n + 1);

	if (!b)
		return NULL;
	b->next = r->blocks;
	r->blocks = b;
	return b->data;
}

static char *rdup(struct rule *r, const char *s, size_t n)
{
	char *p = ralloc(r, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---------------------------------------------------------------------------------------- */
/* Compilation                                                                               */

enum rule_fn {
	FN_HOST,
	FN_HOST_REGEXP,
	FN_PATH,
	FN_PATH_STRIP,
	FN_PATH_STRIP_REGEX,
	FN_PATH_PREFIX,
	FN_PATH_PREFIX_STRIP,
	FN_PATH_PREFIX_STRIP_REGEX,
	FN_METHOD,
	FN_HEADERS,
	FN_HEADERS_REGEXP,
	FN_ADD_PREFIX,
	FN_REPLACE_PATH,
	FN_REPLACE_PATH_REGEX,
	FN_QUERY,
	FN__COUNT,
};

static const char *const fn_names[FN__COUNT] = {
	[FN_HOST] = "Host",
	[FN_HOST_REGEXP] = "HostRegexp",
	[FN_PATH] = "Path",
	[FN_PATH_STRIP] = "PathStrip",
	[FN_PATH_STRIP_REGEX] = "PathStripRegex",
	[FN_PATH_PREFIX] = "PathPrefix",
	[FN_PATH_PREFIX_STRIP] = "PathPrefixStrip",
	[FN_PATH_PREFIX_STRIP_REGEX] = "PathPrefixStripRegex",
	[FN_METHOD] = "Method",
	[FN_HEADERS] = "Headers",
	[FN_HEADERS_REGEXP] = "HeadersRegexp",
	[FN_ADD_PREFIX] = "AddPrefix",
	[FN_REPLACE_PATH] = "ReplacePath",
	[FN_REPLACE_PATH_REGEX] = "ReplacePathRegex",
	[FN_QUERY] = "Query",
};

struct cc {
	struct rule *r;
	char *err;
	size_t errlen;
	const char *name;	/* matcher being compiled */
	const char *text;	/* its text, for messages */
	size_t text_len;
};

static int cc_fail(struct cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cc_fail(struct cc *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "matcher \"%s\": %s in \"%.*s\"", c->name, msg,
			 (int)c->text_len, c->text);
	return -EINVAL;
}

static int cc_nomem(struct cc *c)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "out of memory compiling rule");
	return -ENOMEM;
}

/* regcomp() a translated pattern and keep it for rule_free(). */
static int cc_regcomp(struct cc *c, struct strbuf *o, const char *what, int cflags,
		      const struct rule_re_info *info, struct rule_rx **out)
{
	struct rule_rx *re;
	char msg[128];
	int rc;

	if (o->oom)
		return cc_nomem(c);
	re = ralloc(c->r, sizeof(*re));
	if (!re)
		return cc_nomem(c);
	rc = regcomp(&re->re, o->buf, REG_EXTENDED | cflags);
	if (rc) {
		regerror(rc, &re->re, msg, sizeof(msg));
		return cc_fail(c, "regex \"%s\": %s", what, msg);
	}
	re->next = c->r->res;
	c->r->res = re;
	if (info)
		re->info = *info;
	*out = re;
	return 0;
}

/* Compile a plain Go regex (HeadersRegexp, ReplacePathRegex): unanchored. */
static int go_regex(struct cc *c, const char *src, bool nosub, struct rule_rx **out)
{
	struct strbuf o = STRBUF_INIT;
	struct rule_re_info info;
	char why[128];
	int rc;

	if (rule_re_translate(&o, src, strlen(src), RULE_RE_LEAD_FLAGS, &info, why, sizeof(why))) {
		strbuf_release(&o);
		return cc_fail(c, "regex \"%s\": %s", src, why);
	}
	strbuf_add(&o, "", 0);	/* an empty regex must still be a string */
	rc = cc_regcomp(c, &o, src, (info.icase ? REG_ICASE : 0) | (nosub ? REG_NOSUB : 0), &info,
			out);
	strbuf_release(&o);
	return rc;
}

enum tpl_kind { TPL_HOST, TPL_PATH, TPL_PREFIX, TPL_QUERY };

/*
 * A gorilla/mux template ("/users/{id:[0-9]+}"): a literal when it has no variables, else a
 * regex built as mux does: literal parts quoted, each {name:re} a group (default [^/]+,
 * [^.]+ for hosts, .* for query values), anchored, strict slash for Path.
 */
static int tpl_compile(struct cc *c, const char *tpl, enum tpl_kind kind, bool nosub,
		       struct rule_alt *a)
{
	size_t n = strlen(tpl), pos = 0, body = n;
	const char *eq = kind == TPL_QUERY ? strchr(tpl, '=') : NULL;
	struct strbuf o = STRBUF_INIT;
	char why[128];
	int level = 0, rc;
	bool vars = false;

	if ((kind == TPL_PATH || kind == TPL_PREFIX) && n && tpl[0] != '/')
		return cc_fail(c, "path template \"%s\" must start with '/'", tpl);
	for (size_t i = 0; i < n; i++) {
		if (tpl[i] == '{') {
			level++;
			vars = true;
		} else if (tpl[i] == '}' && --level < 0) {
			break;
		}
	}
	if (level)
		return cc_fail(c, "unbalanced braces in template \"%s\"", tpl);
	if (eq) {
		a->key = tpl;
		a->key_len = eq - tpl;
	}
	if (kind == TPL_PATH && n && tpl[n - 1] == '/') {
		a->slash = true;
		body = n - 1;
	}
	if (!vars) {
		switch (kind) {
		case TPL_HOST: {
			char *l = rdup(c->r, tpl, n);

			if (!l)
				return cc_nomem(c);
			for (size_t i = 0; i < n; i++)
				l[i] = lower(l[i]);
			a->text = l;
			a->len = n;
			break;
		}
		case TPL_PATH:
			a->text = tpl;
			a->len = body;
			break;
		case TPL_PREFIX:
			a->text = tpl;
			a->len = n;
			break;
		case TPL_QUERY:
			a->text = eq + 1;
			a->len = n - (eq + 1 - tpl);
			a->any = a->len == 0;
			break;
		}
		return 0;
	}
	strbuf_putc(&o, '^');
	while (pos < body) {
		size_t i = pos, j, colon;
		const char *patt;
		size_t plen;

		while (i < body && tpl[i] != '{')
			i++;
		rule_re_quote(&o, tpl + pos, i - pos);
		if (i == body)
			break;
		level = 0;
		for (j = i; j < n; j++) {
			if (tpl[j] == '{')
				level++;
			else if (tpl[j] == '}' && --level == 0)
				break;
		}
		for (colon = i + 1; colon < j && tpl[colon] != ':'; colon++)
			;
		if (colon < j) {
			patt = tpl + colon + 1;
			plen = j - colon - 1;
		} else {
			patt = kind == TPL_HOST ? "[^.]+" : kind == TPL_QUERY ? ".*" : "[^/]+";
			plen = strlen(patt);
		}
		if (colon == i + 1 || plen == 0) {
			strbuf_release(&o);
			return cc_fail(c, "missing name or pattern in \"%.*s\"", (int)(j + 1 - i),
				       tpl + i);
		}
		strbuf_putc(&o, '(');
		rc = rule_re_translate(&o, patt, plen, kind == TPL_HOST ? RULE_RE_ICASE : 0, NULL,
				       why, sizeof(why));
		if (rc) {
			strbuf_release(&o);
			return cc_fail(c, "regex \"%.*s\": %s", (int)plen, patt, why);
		}
		strbuf_putc(&o, ')');
		pos = j + 1;
	}
	if (kind == TPL_PATH)
		strbuf_puts(&o, "/?");
	if (kind == TPL_QUERY && eq && eq[1] == '\0')
		strbuf_puts(&o, "[^\n]*");
	if (kind != TPL_PREFIX)
		strbuf_putc(&o, '$');
	rc = cc_regcomp(c, &o, tpl, (kind == TPL_HOST ? REG_ICASE : 0) | (nosub ? REG_NOSUB : 0),
			NULL, &a->re);
	strbuf_release(&o);
	if (rc)
		return rc;
	a->text = tpl;
	a->len = n;
	return 0;
}

static struct rule_matcher *new_matcher(struct cc *c, enum rule_kind kind, size_t nalts)
{
	struct rule_matcher *m = &c->r->m[c->r->nm++];

	m->kind = kind;
	m->nalts = nalts;
	m->alts = ralloc(c->r, nalts * sizeof(*m->alts));
	return m->alts ? m : NULL;
}

/* Host, Method: literal alternatives, their case folded once here by fold(). */
static int literal_matcher(struct cc *c, enum rule_kind kind, char **args, size_t nargs,
			   unsigned char (*fold)(unsigned char))
{
	struct rule_matcher *m = new_matcher(c, kind, nargs);

	if (!m)
		return cc_nomem(c);
	for (size_t i = 0; i < nargs; i++) {
		for (char *p = args[i]; *p; p++)
			*p = fold(*p);
		m->alts[i].text = args[i];
		m->alts[i].len = strlen(args[i]);
	}
	return 0;
}

/* Longest first, stable (Go's sort.Sort on <= 12 elements is an insertion sort). */
static void sort_by_len_desc(char **args, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		char *a = args[i];
		size_t j = i;

		while (j > 0 && strlen(args[j - 1]) < strlen(a)) {
			args[j] = args[j - 1];
			j--;
		}
		args[j] = a;
	}
}

/* Parse a ReplacePathRegex replacement into segments ($1, ${name}, $$ as Go's Expand). */
static int parse_replacement(struct cc *c, const char *s)
{
	struct rule *r = c->r;
	size_t n = strlen(s), cap = 2 * n + 2, k = 0;
	struct rule_seg *seg = ralloc(r, cap * sizeof(*seg));

	if (!seg)
		return cc_nomem(c);
	for (size_t i = 0; i < n;) {
		size_t j = i, ns, ne;
		bool brace;
		long num = 0;

		while (j < n && s[j] != '$')
			j++;
		if (j > i)
			seg[k++] = (struct rule_seg){ s + i, j - i, -1 };
		if (j == n)
			break;
		if (j + 1 < n && s[j + 1] == '$') {
			seg[k++] = (struct rule_seg){ s + j, 1, -1 };
			i = j + 2;
			continue;
		}
		brace = j + 1 < n && s[j + 1] == '{';
		ns = ne = j + 1 + brace;
		while (ne < n && (s[ne] == '_' || (s[ne] >= '0' && s[ne] <= '9') ||
				  ((s[ne] | 32) >= 'a' && (s[ne] | 32) <= 'z')))
			ne++;
		if (ne == ns || (brace && (ne >= n || s[ne] != '}'))) {
			/* malformed: a raw '$' */
			seg[k++] = (struct rule_seg){ s + j, 1, -1 };
			i = j + 1;
			continue;
		}
		i = ne + brace;
		for (size_t q = ns; q < ne; q++) {
			if (s[q] < '0' || s[q] > '9' || num >= 100000000) {
				num = -1;
				break;
			}
			num = num * 10 + (s[q] - '0');
		}
		if (s[ns] == '0' && ne - ns > 1)
			num = -1;
		if (num >= 0) {
			if (num <= r->rep_re->info.ngroups)
				seg[k++] = (struct rule_seg){ NULL, 0, (int)num };
		} else {
			seg[k++] = (struct rule_seg){ s + ns, ne - ns, -2 };
		}
	}
	r->rep = seg;
	r->nrep = k;
	return 0;
}

static int compile_matcher(struct cc *c, enum rule_fn fn, char **args, size_t nargs)
{
	struct rule *r = c->r;
	struct rule_matcher *m;
	int rc;

	switch (fn) {
	case FN_HOST:
		return literal_matcher(c, RULE_K_HOST, args, nargs, lower);
	case FN_HOST_REGEXP:
		m = new_matcher(c, RULE_K_HOST_RE, nargs);
		if (!m)
			return cc_nomem(c);
		for (size_t i = 0; i < nargs; i++)
			if ((rc = tpl_compile(c, args[i], TPL_HOST, true, &m->alts[i])))
				return rc;
		/* literal templates compare like Host */
		return 0;
	case FN_METHOD:
		return literal_matcher(c, RULE_K_METHOD, args, nargs, upper);
	case FN_PATH_STRIP:
	case FN_PATH_STRIP_REGEX:
	case FN_PATH_PREFIX_STRIP:
	case FN_PATH_PREFIX_STRIP_REGEX: {
		bool re = fn == FN_PATH_STRIP_REGEX || fn == FN_PATH_PREFIX_STRIP_REGEX;
		struct rule_alt *strip = ralloc(r, nargs * sizeof(*strip));

		if (!strip)
			return cc_nomem(c);
		sort_by_len_desc(args, nargs);
		for (size_t i = 0; i < nargs; i++) {
			if (re) {
				if ((rc = tpl_compile(c, args[i], TPL_PREFIX, false, &strip[i])))
					return rc;
			} else {
				strip[i].text = args[i];
				strip[i].len = strlen(args[i]);
			}
		}
		if (re) {
			r->strip_re = strip;
			r->nstrip_re = nargs;
		} else {
			r->strip_lit = strip;
			r->nstrip_lit = nargs;
		}
	}
		__attribute__((fallthrough));	/* they match like Path / PathPrefix */
	case FN_PATH:
	case FN_PATH_PREFIX: {
		bool exact = fn == FN_PATH || fn == FN_PATH_STRIP || fn == FN_PATH_STRIP_REGEX;

		m = new_matcher(c, exact ? RULE_K_PATH : RULE_K_PREFIX, nargs);
		if (!m)
			return cc_nomem(c);
		for (size_t i = 0; i < nargs; i++) {
			struct rule_alt *a = &m->alts[i];

			if (exact)
				rc = tpl_compile(c, args[i], TPL_PATH, true, a);
			else if (fn == FN_PATH_PREFIX_STRIP_REGEX || strchr(args[i], '{'))
				rc = tpl_compile(c, args[i], TPL_PREFIX, true, a);
			else	/* Traefik's plain prefix matcher: no '/' check */
				rc = (a->text = args[i], a->len = strlen(args[i]), 0);
			if (rc)
				return rc;
		}
		return 0;
	}
	case FN_HEADERS:
	case FN_HEADERS_REGEXP: {
		size_t k = 0;

		if (nargs % 2)
			return cc_fail(c, "needs name,value pairs, got %zu arguments", nargs);
		m = new_matcher(c, fn == FN_HEADERS ? RULE_K_HEADERS : RULE_K_HEADERS_RE,
				nargs / 2);
		if (!m)
			return cc_nomem(c);
		for (size_t i = 0; i < nargs; i += 2) {
			struct rule_alt *a = NULL;

			/* a Go map: a name given twice keeps its last value */
			for (size_t j = 0; j < k && !a; j++)
				if (!strcmp(m->alts[j].key, args[i]))
					a = &m->alts[j];
			if (!a)
				a = &m->alts[k++];
			memset(a, 0, sizeof(*a));
			a->key = args[i];
			a->key_len = strlen(args[i]);
			a->text = args[i + 1];
			a->len = strlen(args[i + 1]);
			if (fn == FN_HEADERS_REGEXP && a->len &&
			    (rc = go_regex(c, args[i + 1], true, &a->re)))
				return rc;
		}
		for (size_t j = 0; j < k; j++)
			for (char *p = (char *)m->alts[j].key; *p; p++)
				*p = lower(*p);
		m->nalts = k;
		return 0;
	}
	case FN_QUERY: {
		char *parts[2 * RULE_MAX_ARGS];
		size_t np = 0;

		for (size_t i = 0; i < nargs; i++) {
			char *p = args[i];

			for (;;) {	/* strings.Split(arg, "="): every '=' separates */
				char *e = strchr(p, '=');

				if (np == 2 * RULE_MAX_ARGS)
					return cc_fail(c, "more than %d key=value parts",
						       2 * RULE_MAX_ARGS);
				parts[np++] = p;
				if (!e)
					break;
				*e = '\0';
				p = e + 1;
			}
		}
		if (np % 2)
			return cc_fail(c, "needs key=value pairs, got %zu parts", np);
		m = new_matcher(c, RULE_K_QUERY, np / 2);
		if (!m)
			return cc_nomem(c);
		for (size_t i = 0; i < np; i += 2) {
			size_t kl = strlen(parts[i]), vl = strlen(parts[i + 1]);
			char *tpl = ralloc(r, kl + vl + 2);

			if (!tpl)
				return cc_nomem(c);
			memcpy(tpl, parts[i], kl);
			tpl[kl] = '=';
			memcpy(tpl + kl + 1, parts[i + 1], vl);
			if ((rc = tpl_compile(c, tpl, TPL_QUERY, true, &m->alts[i / 2])))
				return rc;
		}
		return 0;
	}
	case FN_ADD_PREFIX:
		r->add_prefix = args[nargs - 1];
		r->add_prefix_len = strlen(args[nargs - 1]);
		return 0;
	case FN_REPLACE_PATH:
		r->replace = args[nargs - 1];
		r->replace_len = strlen(args[nargs - 1]);
		return 0;
	case FN_REPLACE_PATH_REGEX: {
		char *a = args[nargs - 1], *sp = strchr(a, ' ');

		if (!sp || strchr(sp + 1, ' '))
			return cc_fail(c, "expected \"<regex> <replacement>\" separated by exactly "
				       "one space, got \"%s\"", a);
		*sp = '\0';
		if ((rc = go_regex(c, a, false, &r->rep_re)))
			return rc;
		return parse_replacement(c, sp + 1);
	}
	case FN__COUNT:
		break;
	}
	return -EINVAL;
}

/* Split one rule as Traefik's parseRules does and compile each matcher. */
static int compile_rule(struct cc *c, const char *rule)
{
	size_t len = strlen(rule);
	const char *p = rule, *end = rule + len;

	if (len == 0) {
		snprintf(c->err, c->errlen, "empty rule");
		return -EINVAL;
	}
	if (len > RULE_MAX_LEN) {
		snprintf(c->err, c->errlen, "rule \"%.40s...\" is longer than %d bytes", rule,
			 RULE_MAX_LEN);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = rule[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(c->err, c->errlen,
				 "rule \"%s\" has a control character at byte %zu", rule, i);
			return -EINVAL;
		}
	}
	while (p < end) {
		const char *f = p, *fe = memchr(p, ';', end - p), *q, *ns, *ne;
		char *args_text, *w, *argv[RULE_MAX_ARGS + 1];
		size_t nargs = 0;
		int fn, rc;

		if (!fe)
			fe = end;
		p = fe + 1;
		if (fe == f)
			continue;	/* strings.FieldsFunc drops empty fields */
		c->text = f;
		c->text_len = fe - f;
		/* name: first non-empty ':'-field, trimmed */
		for (q = f; q < fe && *q == ':'; q++)
			;
		if (q == fe) {
			snprintf(c->err, c->errlen, "no matcher name in \"%.*s\"", (int)(fe - f),
				 f);
			return -EINVAL;
		}
		ns = q;
		while (q < fe && *q != ':')
			q++;
		ne = q;
		while (ns < ne && is_space(*ns))
			ns++;
		while (ne > ns && is_space(ne[-1]))
			ne--;
		for (fn = 0; fn < FN__COUNT; fn++)
			if (strlen(fn_names[fn]) == (size_t)(ne - ns) &&
			    !memcmp(fn_names[fn], ns, ne - ns))
				break;
		if (fn == FN__COUNT) {
			snprintf(c->err, c->errlen, "unknown matcher \"%.*s\" in \"%.*s\"",
				 (int)(ne - ns), ns, (int)(fe - f), f);
			return -EINVAL;
		}
		c->name = fn_names[fn];
		/* rest: the other ':'-fields joined by ':' (runs of ':' collapse) */
		args_text = ralloc(c->r, fe - q + 1);
		if (!args_text)
			return cc_nomem(c);
		w = args_text;
		for (; q < fe; q++) {
			if (*q == ':' && (w == args_text || w[-1] == ':'))
				continue;
			*w++ = *q;
		}
		if (w > args_text && w[-1] == ':')
			w--;
		*w = '\0';
		/* args: ','-fields, empty ones dropped, then trimmed */
		for (char *a = args_text; *a;) {
			char *e = strchr(a, ','), *s, *t, *next;

			if (!e)
				e = a + strlen(a);
			next = *e ? e + 1 : e;
			if (e > a) {
				if (nargs == RULE_MAX_ARGS)
					return cc_fail(c, "more than %d arguments", RULE_MAX_ARGS);
				s = a;
				t = e;
				while (s < t && is_space(*s))
					s++;
				while (t > s && is_space(t[-1]))
					t--;
				*t = '\0';
				argv[nargs++] = s;
			}
			a = next;
		}
		if (!nargs)
			return cc_fail(c, "has no arguments");
		rc = compile_matcher(c, fn, argv, nargs);
		if (rc)
			return rc;
	}
	return 0;
}

struct rule *rule_compile(const char *const *rules, size_t nrules, char *err, size_t errlen)
{
	char dummy[1];
	struct cc c = { .err = err, .errlen = errlen };
	size_t maxm = 0;
	int rc = -EINVAL;

	if (!err || !errlen) {
		c.err = dummy;
		c.errlen = sizeof(dummy);
	}
	c.err[0] = '\0';
	if (nrules > RULE_MAX_ROUTES || (nrules && !rules)) {
		if (rules)
			snprintf(c.err, c.errlen, "a frontend has at most %d routes, got %zu",
				 RULE_MAX_ROUTES, nrules);
		else
			snprintf(c.err, c.errlen, "%zu routes but no rule array", nrules);
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < nrules; i++) {
		if (!rules[i]) {
			snprintf(c.err, c.errlen, "route %zu has no rule", i);
			errno = EINVAL;
			return NULL;
		}
		for (const char *p = rules[i]; *p && p - rules[i] <= RULE_MAX_LEN; p++)
			maxm += *p == ';';
		maxm++;
	}
	c.r = calloc(1, sizeof(*c.r));
	if (!c.r) {
		errno = ENOMEM;
		return NULL;
	}
	c.r->m = ralloc(c.r, (maxm + 1) * sizeof(*c.r->m));
	if (!c.r->m) {
		rc = cc_nomem(&c);
		goto out;
	}
	for (size_t i = 0; i < nrules; i++) {
		rc = compile_rule(&c, rules[i]);
		if (rc)
			goto out;
	}
	/* cheap matchers first; the result does not depend on the order */
	for (size_t i = 1; i < c.r->nm; i++) {
		struct rule_matcher m = c.r->m[i];
		size_t j = i;

		while (j > 0 && c.r->m[j - 1].kind > m.kind) {
			c.r->m[j] = c.r->m[j - 1];
			j--;
		}
		c.r->m[j] = m;
	}
	rc = 0;
out:
	if (rc) {
		rule_free(c.r);
		errno = -rc;
		return NULL;
	}
	return c.r;
}

void rule_free(struct rule *r)
{
	int saved = errno;

	if (!r)
		return;
	for (struct rule_rx *re = r->res; re; re = re->next)
		regfree(&re->re);
	while (r->blocks) {
		struct rule_blk *b = r->blocks;

		r->blocks = b->next;
		free(b);
	}
	free(r);
	errno = saved;
}

bool rule_has_rewrite(const struct rule *r)
{
	return r->nstrip_lit || r->nstrip_re || r->add_prefix || r->replace || r->rep_re;
}

/* ---------------------------------------------------------------------------------------- */
/* Matching                                                                                  */

struct mctx {
	const struct rule_input *in;
	const char *path;	/* decoded path */
	size_t path_len;
	int path_state;		/* 0: not looked at, 1: ok, -1: bad escape or too long */
	char pbuf[RULE_PATH_MAX];
};

static bool mctx_path(struct mctx *m)
{
	const struct rule_input *in = m->in;

	if (m->path_state)
		return m->path_state > 0;
	m->path = in->path ? in->path : "";
	m->path_len = in->path ? in->path_len : 0;
	m->path_state = 1;
	if (memchr(m->path, '%', m->path_len)) {
		if (pct_decode(m->path, m->path_len, false, m->pbuf, sizeof(m->pbuf),
			       &m->path_len)) {
			log_debug("rule: path not matched: bad %%-escape or longer than %d bytes",
				  RULE_PATH_MAX);
			m->path_state = -1;
			return false;
		}
		m->path = m->pbuf;
	}
	return true;
}

/* The request host as Go sees it for routing: trimmed, without port and IPv6 brackets. */
static void req_host(const struct rule_input *in, const char **h, size_t *hl)
{
	const char *p = in->host, *q;
	size_t n = in->host_len;

	if (!p) {
		*h = "";
		*hl = 0;
		return;
	}
	while (n && is_space(*p))
		p++, n--;
	while (n && is_space(p[n - 1]))
		n--;
	if (n && *p == '[') {
		q = memchr(p, ']', n);
		if (q && (q + 1 == p + n || q[1] == ':')) {
			p++;
			n = q - p;
		}
	} else if ((q = memchr(p, ':', n))) {
		n = q - p;
	}
	*h = p;
	*hl = n;
}

/* Defined only when the ASan runtime is linked in (weak: NULL otherwise). */
extern void __asan_init(void) __attribute__((weak));

/* ASan's regexec interceptor ignores REG_STARTEND and runs strlen() on the subject. */
static __attribute__((noinline)) int rx_exec_copy(const regex_t *re, const char *s, size_t eo,
						  size_t nmatch, regmatch_t *m, int eflags)
{
	char copy[RULE_WORK_MAX + 1];

	if (eo > RULE_WORK_MAX)
		return REG_NOMATCH;
	memcpy(copy, s, eo);
	copy[eo] = '\0';
	return regexec(re, copy, nmatch, m, eflags);
}

/*
 * regexec() on s[so..eo), which need not be NUL-terminated (REG_STARTEND; s[0..so) is the
 * context for ^ and \b). Under ASan (even uninstrumented code linked with its runtime) a
 * terminated copy is passed instead, so the interceptor does not read past the slice.
 */
static int rx_exec(const regex_t *re, const char *s, size_t so, size_t eo, size_t nmatch,
		   regmatch_t *m, int eflags)
{
	m[0].rm_so = so;
	m[0].rm_eo = eo;
	if (__asan_init)
		return rx_exec_copy(re, s, eo, nmatch, m, eflags | REG_STARTEND);
	return regexec(re, s, nmatch, m, eflags | REG_STARTEND);
}

static bool rx_match(const struct rule_rx *re, const char *s, size_t n)
{
	regmatch_t m[1];

	return rx_exec(&re->re, s ? s : "", 0, n, 1, m, 0) == 0;
}

static enum rule_verdict match_path(const struct rule_matcher *mt, struct mctx *m)
{
	const char *p;
	size_t n;

	if (!mctx_path(m))
		return RULE_NO_MATCH;
	p = m->path;
	n = m->path_len;
	for (size_t i = 0; i < mt->nalts; i++) {
		const struct rule_alt *a = &mt->alts[i];
		bool hit;

		if (mt->kind == RULE_K_PREFIX) {
			hit = a->re ? rx_match(a->re, p, n)
				    : n >= a->len && !memcmp(p, a->text, a->len);
			if (hit)
				return RULE_MATCH;
			continue;
		}
		if (a->re)
			hit = rx_match(a->re, p, n);
		else	/* the template without its trailing '/', then "[/]?" */
			hit = (n == a->len || (n == a->len + 1 && p[n - 1] == '/')) &&
			      !memcmp(p, a->text, a->len);
		if (hit)
			return (n && p[n - 1] == '/') == a->slash ? RULE_MATCH : RULE_MATCH_SLASH;
	}
	return RULE_NO_MATCH;
}

/* Headers / HeadersRegexp: every pair must be met by one of the fields of that name. */
static bool match_headers(const struct rule_matcher *mt, const struct rule_input *in)
{
	for (size_t i = 0; i < mt->nalts; i++) {
		const struct rule_alt *a = &mt->alts[i];
		bool found = false;

		if (a->key_len == 4 && !memcmp(a->key, "host", 4))
			return false;	/* Go moves Host out of the header map */
		for (size_t j = 0; j < in->nheaders && !found; j++) {
			const struct http1_header *h = &in->headers[j];

			if (h->name_len != a->key_len || !eq_fold(a->key, h->name, a->key_len))
				continue;
			if (a->re)
				found = rx_match(a->re, h->value, h->value_len);
			else
				found = !a->len || (h->value_len == a->len &&
						    !memcmp(h->value, a->text, a->len));
		}
		if (!found)
			return false;
	}
	return true;
}

/*
 * Query: the first value of the key, decoded as url.ParseQuery does ('&' separates, a pair
 * with ';' or a bad escape is skipped), matched against the template "key=value".
 */
static bool match_query_pair(const struct rule_alt *a, const struct rule_input *in)
{
	char buf[RULE_MAX_LEN + 1 + RULE_PATH_MAX];
	const char *q = in->query, *end;
	size_t kl = a->key_len, vl;

	if (!q)
		return false;
	end = q + in->query_len;
	while (q < end) {
		const char *seg = q, *se = memchr(q, '&', end - q), *eqs;
		size_t dl;

		if (!se)
			se = end;
		q = se + 1;
		if (se == seg || memchr(seg, ';', se - seg))
			continue;
		eqs = memchr(seg, '=', se - seg);
		if (!eqs)
			eqs = se;
		if (pct_decode(seg, eqs - seg, true, buf, RULE_MAX_LEN, &dl) || dl != kl ||
		    memcmp(buf, a->key, kl))
			continue;
		buf[kl] = '=';
		if (pct_decode(eqs + (eqs < se), se - eqs - (eqs < se), true, buf + kl + 1,
			       RULE_PATH_MAX, &vl))
			continue;
		if (a->re)
			return rx_match(a->re, buf, kl + 1 + vl);
		if (a->any)
			return !memchr(buf + kl + 1, '\n', vl);
		return vl == a->len && !memcmp(buf + kl + 1, a->text, vl);
	}
	return false;
}

static enum rule_verdict match_one(const struct rule_matcher *mt, struct mctx *m)
{
	const struct rule_input *in = m->in;
	const char *h;
	size_t hl;

	switch (mt->kind) {
	case RULE_K_HOST:
	case RULE_K_HOST_RE:
		req_host(in, &h, &hl);
		if (mt->kind == RULE_K_HOST && (!in->host || !hl))
			return RULE_NO_MATCH;
		for (size_t i = 0; i < mt->nalts; i++) {
			const struct rule_alt *a = &mt->alts[i];

			if (a->re ? rx_match(a->re, h, hl)
				  : a->len == hl && eq_fold(a->text, h, hl))
				return RULE_MATCH;
		}
		return RULE_NO_MATCH;
	case RULE_K_METHOD:
		for (size_t i = 0; i < mt->nalts; i++)
			if (in->method && mt->alts[i].len == in->method_len &&
			    !memcmp(mt->alts[i].text, in->method, in->method_len))
				return RULE_MATCH;
		return RULE_NO_MATCH;
	case RULE_K_PATH:
	case RULE_K_PREFIX:
		return match_path(mt, m);
	case RULE_K_HEADERS:
	case RULE_K_HEADERS_RE:
		return match_headers(mt, in) ? RULE_MATCH : RULE_NO_MATCH;
	case RULE_K_QUERY:
		for (size_t i = 0; i < mt->nalts; i++)
			if (!match_query_pair(&mt->alts[i], in))
				return RULE_NO_MATCH;
		return RULE_MATCH;
	}
	return RULE_NO_MATCH;
}

enum rule_verdict rule_eval(const struct rule *r, const struct rule_input *in)
{
	struct mctx m;		/* not zeroed: pbuf is only written when decoding */
	bool slash = false;

	m.in = in;
	m.path_state = 0;
	for (size_t i = 0; i < r->nm; i++) {
		enum rule_verdict v = match_one(&r->m[i], &m);

		if (v == RULE_NO_MATCH)
			return RULE_NO_MATCH;
		slash |= v == RULE_MATCH_SLASH;
	}
	return slash ? RULE_MATCH_SLASH : RULE_MATCH;
}

bool rule_match(const struct rule *r, const struct rule_input *in)
{
	return rule_eval(r, in) != RULE_NO_MATCH;
}

/* ---------------------------------------------------------------------------------------- */
/* Rewriting                                                                                 */

/*
 * Copy a header value to the end of out (below *tail), control characters as spaces, and
 * point *at / *at_len at it.
 */
static int put_aux(char *out, size_t *tail, const char *s, size_t n, const char **at,
		   size_t *at_len)
{
	if (*tail < n)
		return -ENOSPC;
	*tail -= n;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		out[*tail + i] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : c;
	}
	*at = out + *tail;
	*at_len = n;
	return 0;
}

static size_t utf8_width(const char *s, size_t n)
{
	unsigned char c = s[0];
	size_t w = c < 0x80 ? 1 : c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;

	if (w > n)
		return 1;
	for (size_t i = 1; i < w; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return w;
}

/* Go's Regexp.ReplaceAllString(src, repl) into dst. -ENOSPC if it does not fit. */
static int replace_all(const struct rule *r, const char *src, size_t n, char *dst, size_t cap,
		       size_t *outlen)
{
	const struct rule_rx *re = r->rep_re;
	const struct rule_re_info *gi = &re->info;
	regmatch_t m[RULE_RE_SUBS + 1];
	size_t nmatch = re->re.re_nsub < RULE_RE_SUBS ? re->re.re_nsub + 1 : RULE_RE_SUBS + 1;
	size_t last = 0, pos = 0, w = 0;

#define PUT(p, l) do {							\
		if (cap - w < (size_t)(l))				\
			return -ENOSPC;					\
		memcpy(dst + w, (p), (l));				\
		w += (l);						\
	} while (0)

	while (pos <= n) {
		size_t a0, a1, width;

		if (rx_exec(&re->re, src, pos, n, nmatch, m, pos ? REG_NOTBOL : 0))
			break;
		a0 = m[0].rm_so;
		a1 = m[0].rm_eo;
		PUT(src + last, a0 - last);
		if (a1 > last || a0 == 0) {
			for (size_t i = 0; i < r->nrep; i++) {
				const struct rule_seg *sg = &r->rep[i];
				int g = sg->group;

				if (g == -1) {
					PUT(sg->lit, sg->len);
					continue;
				}
				if (g == -2) {	/* first group of that name that took part */
					int k;

					for (k = 1; k <= gi->ngroups; k++)
						if (gi->names[k] && gi->name_len[k] == sg->len &&
						    !memcmp(gi->names[k], sg->lit, sg->len) &&
						    m[gi->go2posix[k]].rm_so >= 0)
							break;
					if (k > gi->ngroups)
						continue;
					g = k;
				}
				if (g > 0) {
					int pi = gi->go2posix[g];

					if ((size_t)pi >= nmatch || m[pi].rm_so < 0)
						continue;
					PUT(src + m[pi].rm_so, m[pi].rm_eo - m[pi].rm_so);
				} else {
					PUT(src + a0, a1 - a0);
				}
			}
		}
		last = a1;
		width = pos < n ? utf8_width(src + pos, n - pos) : 0;
		if (pos + width > a1)
			pos += width;
		else if (pos + 1 > a1)
			pos++;
		else
			pos = a1;
	}
	PUT(src + last, n - last);
#undef PUT
	*outlen = w;
	return 0;
}

/* Does raw percent-decode to exactly p? */
static bool decodes_to(const char *raw, size_t rl, const char *p, size_t pl)
{
	size_t j = 0;

	for (size_t i = 0; i < rl; i++, j++) {
		unsigned char c = raw[i];

		if (c == '%') {
			if (i + 2 >= rl || hexval(raw[i + 1]) < 0 || hexval(raw[i + 2]) < 0)
				return false;
			c = hexval(raw[i + 1]) << 4 | hexval(raw[i + 2]);
			i += 2;
		}
		if (j >= pl || (unsigned char)p[j] != c)
			return false;
	}
	return j == pl;
}

/* "/" + TrimPrefix(s, "/"), in place in a buffer of RULE_WORK_MAX. */
static int ensure_slash(char *s, size_t *n)
{
	if (*n && s[0] == '/')
		return 0;
	if (*n + 1 > RULE_WORK_MAX)
		return -ENOSPC;
	memmove(s + 1, s, *n);
	s[0] = '/';
	(*n)++;
	return 0;
}

/*
 * Traefik runs the modifiers on Go's URL: Path (decoded) and RawPath (the client's encoding,
 * kept only when it differs from the default one). The same is done here on p and raw, and
 * the result is sent as URL.EscapedPath(): raw when it still encodes p, else escape(p).
 */
int rule_rewrite(const struct rule *r, const struct rule_input *in, char *out, size_t cap,
		 struct rule_rewrite *rw)
{
	char p[RULE_WORK_MAX], raw[RULE_WORK_MAX];
	const char *path = in->path ? in->path : "";
	size_t pl, rl = in->path ? in->path_len : 0, tail = cap, w = 0;
	bool has_raw;
	int rc;

	memset(rw, 0, sizeof(*rw));
	if (rl > RULE_PATH_MAX)
		return -ENOSPC;
	if (pct_decode(path, rl, false, p, sizeof(p), &pl)) {
		memcpy(p, path, rl);	/* Go would have answered 400; keep the bytes */
		pl = rl;
		has_raw = false;
	} else {
		has_raw = !escape_equals(p, pl, path, rl);
	}
	if (has_raw)
		memcpy(raw, path, rl);

	if (r->nstrip_re) {	/* StripPrefixRegex: cut what the prefix template matched */
		size_t k = SIZE_MAX;

		for (size_t i = 0; i < r->nstrip_re && k == SIZE_MAX; i++) {
			const struct rule_alt *a = &r->strip_re[i];
			regmatch_t m[1];

			if (a->re) {
				if (!rx_exec(&a->re->re, p, 0, pl, 1, m, 0))
					k = m[0].rm_eo;
			} else if (pl >= a->len && !memcmp(p, a->text, a->len)) {
				k = a->len;
			}
		}
		if (k == SIZE_MAX)
			return -ENOENT;
		rc = put_aux(out, &tail, p, k, &rw->fwd_prefix, &rw->fwd_prefix_len);
		if (rc)
			return rc;
		memmove(p, p + k, pl - k);
		pl -= k;
		if (has_raw && k <= rl) {
			memmove(raw, raw + k, rl - k);
			rl -= k;
		}
	}
	if (r->nstrip_lit) {	/* StripPrefix: the longest literal prefix */
		const struct rule_alt *a = NULL;

		for (size_t i = 0; i < r->nstrip_lit && !a; i++)
			if (pl >= r->strip_lit[i].len &&
			    !memcmp(p, r->strip_lit[i].text, r->strip_lit[i].len))
				a = &r->strip_lit[i];
		if (!a)
			return -ENOENT;
		memmove(p, p + a->len, pl - a->len);
		pl -= a->len;
		if ((rc = ensure_slash(p, &pl)))
			return rc;
		if (has_raw) {
			if (rl >= a->len && !memcmp(raw, a->text, a->len)) {
				memmove(raw, raw + a->len, rl - a->len);
				rl -= a->len;
			}
			if ((rc = ensure_slash(raw, &rl)))
				return rc;
		}
		if (!rw->fwd_prefix) {
			rw->fwd_prefix = a->text;
			rw->fwd_prefix_len = a->len;
		}
	}
	if (r->add_prefix) {
		size_t n = r->add_prefix_len;

		if (pl + n > sizeof(p) || (has_raw && rl + n > sizeof(raw)))
			return -ENOSPC;
		memmove(p + n, p, pl);
		memcpy(p, r->add_prefix, n);
		pl += n;
		if (has_raw) {
			memmove(raw + n, raw, rl);
			memcpy(raw, r->add_prefix, n);
			rl += n;
		}
	}
	if (r->rep_re && rx_match(r->rep_re, p, pl)) {
		size_t nl;

		rc = put_aux(out, &tail, p, pl, &rw->replaced, &rw->replaced_len);
		if (rc)
			return rc;
		/* out's free front part is the scratch space */
		rc = replace_all(r, p, pl, out, tail, &nl);
		if (rc)
			return rc;
		if (nl > sizeof(p))
			return -ENOSPC;
		memcpy(p, out, nl);
		pl = nl;
	}
	if (r->replace) {
		if (!rw->replaced) {
			rc = put_aux(out, &tail, p, pl, &rw->replaced, &rw->replaced_len);
			if (rc)
				return rc;
		}
		memcpy(p, r->replace, r->replace_len);
		pl = r->replace_len;
	}

	has_raw = has_raw && path_valid_encoded(raw, rl) && decodes_to(raw, rl, p, pl);
	if (!(has_raw ? rl && raw[0] == '/' : pl && p[0] == '/')) {
		if (tail == 0)
			return -ENOSPC;
		out[w++] = '/';
	}
	if (has_raw) {
		if (tail - w < rl)
			return -ENOSPC;
		memcpy(out + w, raw, rl);
		w += rl;
	} else if ((rc = put_escaped(out, &w, tail, p, pl))) {
		return rc;
	}
	rw->path_len = w;
	return 0;
}

/* Go's path.Clean on an absolute path, in place; returns the new length. */
static size_t clean_path(char *s, size_t n)
{
	size_t r = 1, w = 1, dotdot = 1;

	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && s[w] != '/')
					w--;
			}
		} else {
			if (w != 1)
				s[w++] = '/';
			while (r < n && s[r] != '/')
				s[w++] = s[r++];
		}
	}
	return w;
}

int rule_slash_location(const struct rule_input *in, char *out, size_t cap, size_t *len)
{
	char p[RULE_PATH_MAX + 1];
	const char *path = in->path ? in->path : "";
	size_t pl, n = in->path ? in->path_len : 0, w = 0;
	bool trailing;
	int rc;

	if (pct_decode(path, n, false, p, RULE_PATH_MAX, &pl)) {
		if (n > RULE_PATH_MAX)
			return -ENOSPC;
		memcpy(p, path, n);
		pl = n;
	}
	if (pl && p[pl - 1] == '/')
		pl--;
	else
		p[pl++] = '/';
	if (cap == 0)
		return -ENOSPC;
	if (!pl || p[0] != '/')
		out[w++] = '/';
	if ((rc = put_escaped(out, &w, cap, p, pl)))
		return rc;
	/* http.Redirect cleans the path but keeps a trailing slash */
	trailing = out[w - 1] == '/';
	w = clean_path(out, w);
	if (trailing && out[w - 1] != '/') {
		if (w == cap)
			return -ENOSPC;
		out[w++] = '/';
	}
	if (in->query) {
		if (cap - w < in->query_len + 1)
			return -ENOSPC;
		out[w++] = '?';
		memcpy(out + w, in->query, in->query_len);
		w += in->query_len;
	}
	*len = w;
	return 0;
}
