/* SPDX-License-Identifier: MIT */
/*
 * promparse.h: a strict checker of the Prometheus text exposition format (0.0.4), for the
 * metrics tests (unit/metrics and the integration scripts through build/tests/it_promcheck).
 *
 * It rejects what Prometheus' own parser rejects and more: bad metric or label names, bad
 * escapes, unparsable values, a TYPE after samples or twice, samples of one family split by
 * another, duplicate series, and histograms whose buckets are not cumulative, lack the
 * +Inf bucket, or disagree with _count. Header-only; no allocation beyond a few arrays.
 */
#ifndef SPLICED_PROMPARSE_H
#define SPLICED_PROMPARSE_H

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_FAMILIES 512
#define PROM_MAX_SERIES 20000

struct prom_family {
	char name[128];
	char type[16];		/* counter gauge histogram summary untyped */
	bool has_help, has_type, closed;
};

struct prom_check {
	struct prom_family fam[PROM_MAX_FAMILIES];
	int nfam;
	char **series;		/* "name{labels}" seen, for duplicates */
	int nseries;
	int nsamples;
	int cur;		/* family of the previous line, -1 none */
	/* histogram state of the current series group */
	char hist_key[1024];	/* labels without le */
	double last_bucket;
	bool saw_inf;
	double inf_value;
	char err[512];
};

static bool prom_name_ok(const char *s, size_t n, bool colon)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(isalpha((unsigned char)c) || c == '_' || (colon && c == ':') ||
		      (i > 0 && isdigit((unsigned char)c))))
			return false;
	}
	return true;
}

static bool prom_value_ok(const char *s, double *out)
{
	char *end;

	if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
		*out = INFINITY;
		return true;
	}
	if (!strcmp(s, "-Inf")) {
		*out = -INFINITY;
		return true;
	}
	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return true;
	}
	if (!*s)
		return false;
	*out = strtod(s, &end);
	return *end == '\0' && !(isalpha((unsigned char)s[0]));
}

static int prom_family_find(struct prom_check *pc, const char *name, bool create)
{
	for (int i = 0; i < pc->nfam; i++)
		if (!strcmp(pc->fam[i].name, name))
			return i;
	if (!create || pc->nfam == PROM_MAX_FAMILIES)
		return -1;
	snprintf(pc->fam[pc->nfam].name, sizeof(pc->fam[0].name), "%s", name);
	return pc->nfam++;
}

/* The family a sample belongs to: histogram suffixes map to their base name. */
static int prom_sample_family(struct prom_check *pc, const char *name, const char **suffix)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t n = strlen(name);

	*suffix = "";
	for (int i = 0; i < 3; i++) {
		size_t k = strlen(sfx[i]);

		if (n > k && !strcmp(name + n - k, sfx[i])) {
			char base[128];
			int f;

			snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
			f = prom_family_find(pc, base, false);
			if (f >= 0 && (!strcmp(pc->fam[f].type, "histogram") ||
				       (!strcmp(pc->fam[f].type, "summary") && i > 0))) {
				*suffix = sfx[i];
				return f;
			}
		}
	}
	return prom_family_find(pc, name, true);
}

static int prom_fail(struct prom_check *pc, int lineno, const char *why, const char *line)
{
	snprintf(pc->err, sizeof(pc->err), "line %d: %s: %.200s", lineno, why, line);
	return -1;
}

/* Parse labels "{a="x",b="y"}" at *p; copies the label text without le into key. */
static int prom_labels(const char **p, char *key, size_t kcap, char *le, size_t lecap,
		       char *why, size_t wcap)
{
	const char *s = *p;
	size_t kn = 0;
	bool first = true;
	char last[128] = "";

	key[0] = le[0] = '\0';
	if (*s != '{') {
		*p = s;
		return 0;
	}
	s++;
	while (*s != '}') {
		const char *n0 = s;
		char lname[128], val[1024];
		size_t vn = 0;

		if (!first) {
			if (*s != ',') {
				snprintf(why, wcap, "expected , between labels");
				return -1;
			}
			s++;
			if (*s == '}')
				break;	/* trailing comma is allowed */
			n0 = s;
		}
		first = false;
		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		if (!prom_name_ok(n0, (size_t)(s - n0), false) || (size_t)(s - n0) >= sizeof(lname)) {
			snprintf(why, wcap, "bad label name");
			return -1;
		}
		snprintf(lname, sizeof(lname), "%.*s", (int)(s - n0), n0);
		if (!strncmp(lname, "__", 2)) {
			snprintf(why, wcap, "reserved label name %s", lname);
			return -1;
		}
		if (last[0] && strcmp(last, lname) >= 0 && strcmp(lname, "le") != 0) {
			snprintf(why, wcap, "labels not sorted by name (%s after %s)", lname, last);
			return -1;
		}
		snprintf(last, sizeof(last), "%s", lname);
		if (s[0] != '=' || s[1] != '"') {
			snprintf(why, wcap, "expected =\" after label %s", lname);
			return -1;
		}
		s += 2;
		while (*s && *s != '"') {
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n') {
					snprintf(why, wcap, "bad escape in label %s", lname);
					return -1;
				}
				if (vn < sizeof(val) - 1)
					val[vn++] = s[1] == 'n' ? '\n' : s[1];
				s += 2;
				continue;
			}
			if (*s == '\n') {
				snprintf(why, wcap, "newline in label value");
				return -1;
			}
			if (vn < sizeof(val) - 1)
				val[vn++] = *s;
			s++;
		}
		if (*s != '"') {
			snprintf(why, wcap, "unterminated label value");
			return -1;
		}
		val[vn] = '\0';
		s++;
		if (!strcmp(lname, "le")) {
			snprintf(le, lecap, "%.63s", val);
		} else {
			int w = snprintf(key + kn, kcap - kn, "%s%s=\"%s\"", kn ? "," : "", lname, val);

			if (w > 0 && (size_t)w < kcap - kn)
				kn += (size_t)w;
		}
	}
	*p = s + 1;
	return 0;
}

static int prom_check_line(struct prom_check *pc, char *line, int lineno)
{
	char name[128], key[1024], le[64], why[256], ser[1300];
	const char *p = line, *suffix;
	double v;
	int f;

	if (line[0] == '#') {
		char kw[8], fname[128];
		int n = 0;

		if (sscanf(line, "# %7s %127s %n", kw, fname, &n) < 2)
			return 0;	/* a plain comment */
		if (strcmp(kw, "HELP") && strcmp(kw, "TYPE"))
			return 0;
		if (!prom_name_ok(fname, strlen(fname), true))
			return prom_fail(pc, lineno, "bad metric name", line);
		f = prom_family_find(pc, fname, true);
		if (f < 0)
			return prom_fail(pc, lineno, "too many families", line);
		if (pc->fam[f].closed || (pc->cur >= 0 && pc->cur != f && pc->fam[f].has_type))
			return prom_fail(pc, lineno, "family split or repeated", line);
		if (pc->cur >= 0 && pc->cur != f)
			pc->fam[pc->cur].closed = true;
		pc->cur = f;
		if (!strcmp(kw, "HELP")) {
			if (pc->fam[f].has_help)
				return prom_fail(pc, lineno, "second HELP", line);
			pc->fam[f].has_help = true;
			return 0;
		}
		if (pc->fam[f].has_type)
			return prom_fail(pc, lineno, "second TYPE", line);
		snprintf(pc->fam[f].type, sizeof(pc->fam[f].type), "%s", line + n);
		if (strcmp(pc->fam[f].type, "counter") && strcmp(pc->fam[f].type, "gauge") &&
		    strcmp(pc->fam[f].type, "histogram") && strcmp(pc->fam[f].type, "summary") &&
		    strcmp(pc->fam[f].type, "untyped"))
			return prom_fail(pc, lineno, "unknown TYPE", line);
		pc->fam[f].has_type = true;
		return 0;
	}
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
		p++;
	if (!prom_name_ok(line, (size_t)(p - line), true) || (size_t)(p - line) >= sizeof(name))
		return prom_fail(pc, lineno, "bad metric name", line);
	snprintf(name, sizeof(name), "%.*s", (int)(p - line), line);
	if (prom_labels(&p, key, sizeof(key), le, sizeof(le), why, sizeof(why)))
		return prom_fail(pc, lineno, why, line);
	if (*p != ' ')
		return prom_fail(pc, lineno, "expected a space before the value", line);
	p++;
	{
		char val[64];
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);

		if (n >= sizeof(val))
			return prom_fail(pc, lineno, "value too long", line);
		snprintf(val, sizeof(val), "%.*s", (int)n, p);
		if (!prom_value_ok(val, &v))
			return prom_fail(pc, lineno, "bad value", line);
		if (sp) {
			char *end;

			strtoll(sp + 1, &end, 10);
			if (*end || end == sp + 1)
				return prom_fail(pc, lineno, "bad timestamp", line);
		}
	}
	f = prom_sample_family(pc, name, &suffix);
	if (f < 0)
		return prom_fail(pc, lineno, "too many families", line);
	if (pc->fam[f].closed || (pc->cur >= 0 && pc->cur != f && pc->fam[pc->cur].closed == false &&
				 pc->fam[f].has_type && pc->cur != f))
		return prom_fail(pc, lineno, "sample outside its family's block", line);
	if (pc->cur >= 0 && pc->cur != f)
		pc->fam[pc->cur].closed = true;
	pc->cur = f;
	if (!strcmp(pc->fam[f].type, "counter") && (v < 0 || isnan(v)))
		return prom_fail(pc, lineno, "negative counter", line);
	if (!strcmp(pc->fam[f].type, "histogram")) {
		if (!*suffix)
			return prom_fail(pc, lineno, "histogram sample without _bucket/_sum/_count",
					 line);
		if (!strcmp(suffix, "_bucket")) {
			double bound;

			if (!le[0] || !prom_value_ok(le, &bound))
				return prom_fail(pc, lineno, "bucket without a valid le", line);
			if (strcmp(pc->hist_key, key)) {
				if (pc->hist_key[0] && !pc->saw_inf)
					return prom_fail(pc, lineno, "previous histogram has no +Inf",
							 line);
				snprintf(pc->hist_key, sizeof(pc->hist_key), "%s", key);
				pc->last_bucket = 0;
				pc->saw_inf = false;
			}
			if (v < pc->last_bucket)
				return prom_fail(pc, lineno, "buckets not cumulative", line);
			pc->last_bucket = v;
			if (isinf(bound)) {
				pc->saw_inf = true;
				pc->inf_value = v;
			}
		} else if (!strcmp(suffix, "_count")) {
			if (strcmp(pc->hist_key, key) || !pc->saw_inf)
				return prom_fail(pc, lineno, "_count without +Inf bucket before it", line);
			if (v != pc->inf_value)
				return prom_fail(pc, lineno, "_count differs from the +Inf bucket", line);
		}
	} else if (le[0] && strcmp(pc->fam[f].type, "summary")) {
		/* a plain label called le is fine outside histograms */
	}
	snprintf(ser, sizeof(ser), "%s{%s%s%s}", name, key, le[0] ? ",le=" : "", le);
	for (int i = 0; i < pc->nseries; i++)
		if (!strcmp(pc->series[i], ser))
			return prom_fail(pc, lineno, "duplicate series", line);
	if (pc->nseries < PROM_MAX_SERIES) {
		pc->series[pc->nseries] = strdup(ser);
		if (pc->series[pc->nseries])
			pc->nseries++;
	}
	pc->nsamples++;
	return 0;
}

/* Check a whole exposition. 0 when valid, -1 with pc->err set. pc is reset first. */
static int prom_check_text(struct prom_check *pc, const char *text)
{
	char *copy = strdup(text), *line, *save = NULL;
	size_t len = strlen(text);
	int lineno = 0, rc = 0;

	memset(pc, 0, sizeof(*pc));
	pc->cur = -1;
	pc->series = calloc(PROM_MAX_SERIES, sizeof(char *));
	if (!copy || !pc->series) {
		snprintf(pc->err, sizeof(pc->err), "out of memory");
		free(copy);
		return -1;
	}
	if (len && text[len - 1] != '\n') {
		snprintf(pc->err, sizeof(pc->err), "no newline at the end");
		rc = -1;
	}
	for (line = strtok_r(copy, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (!*line)
			continue;
		rc = prom_check_line(pc, line, lineno);
	}
	if (!rc && pc->hist_key[0] && !pc->saw_inf) {
		snprintf(pc->err, sizeof(pc->err), "last histogram has no +Inf bucket");
		rc = -1;
	}
	for (int i = 0; i < pc->nseries; i++)
		free(pc->series[i]);
	free(pc->series);
	pc->series = NULL;
	free(copy);
	return rc;
}

#endif
