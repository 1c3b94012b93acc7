/* SPDX-License-Identifier: MIT */
/*
 * rule: Traefik v1 frontend rules ("Host:a.com;PathPrefix:/api") compiled once per
 * configuration snapshot and matched against request heads on every request.
 *
 * A compiled rule is immutable: rule_match() and rule_rewrite() may run concurrently on
 * any number of threads. Grammar and semantics: Traefik 1.7 (see the project notes).
 */
#ifndef SPLICED_RULE_H
#define SPLICED_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "http1.h"

struct rule;

/* What a rule looks at: slices of the parsed request head. */
struct rule_input {
	const char *method;
	size_t method_len;
	const char *host;	/* raw Host value (may carry a port or [v6]); NULL if none */
	size_t host_len;
	const char *path;	/* as in the request-target, without the query */
	size_t path_len;
	const char *query;	/* without '?'; NULL if none */
	size_t query_len;
	const struct http1_header *headers;
	size_t nheaders;
};

/* Path rewrite produced by modifiers (PathStrip, PathPrefixStrip, AddPrefix, ReplacePath...). */
struct rule_rewrite {
	size_t path_len;	/* new path written to the caller's buffer */
	const char *fwd_prefix;	/* X-Forwarded-Prefix value to add, or NULL */
	size_t fwd_prefix_len;
	const char *replaced;	/* X-Replaced-Path value to add (the old path), or NULL */
	size_t replaced_len;
};

/*
 * Compile the routes of one frontend; they are ANDed, as Traefik 1.7 does with several
 * routes on one frontend. Returns NULL on error with errno = EINVAL and a message in err
 * that names the matcher and what is wrong, e.g. `unknown matcher "Hots" in "Hots:a.com"`.
 */
struct rule *rule_compile(const char *const *rules, size_t nrules, char *err, size_t errlen);
void rule_free(struct rule *r);

/* Does the request match every matcher of the rule? */
bool rule_match(const struct rule *r, const struct rule_input *in);

/* Does the rule carry path modifiers (so the path must be rewritten after a match)? */
bool rule_has_rewrite(const struct rule *r);

/*
 * Apply the rule's modifiers to in->path, writing the new path to out (cap bytes).
 * Call only after rule_match() returned true. Returns 0, or -ENOSPC if out is too small.
 * fwd_prefix/replaced point into in->path or into the rule and stay valid as long as both.
 */
int rule_rewrite(const struct rule *r, const struct rule_input *in, char *out, size_t cap,
		 struct rule_rewrite *rw);

#endif
