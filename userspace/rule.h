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

/* Caps on untrusted rule text; rule_compile() rejects more with a message. */
#define RULE_MAX_LEN	1024	/* bytes in one rule string */
#define RULE_MAX_ARGS	32	/* comma-separated arguments of one matcher */
#define RULE_MAX_ROUTES	32	/* rules (routes) of one frontend */
#define RULE_PATH_MAX	8192	/* decoded path or query value a matcher can look at */

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
 * that names the matcher and what is wrong, e.g. `unknown matcher "Hots" in "Hots:a.com"`
 * (errno = ENOMEM when out of memory). Zero routes compile to a rule that matches every
 * request, as a Traefik frontend without routes does. Modifiers given more than once
 * (AddPrefix, ReplacePath...) keep the last one, in array order.
 */
struct rule *rule_compile(const char *const *rules, size_t nrules, char *err, size_t errlen);
void rule_free(struct rule *r);

/*
 * Does the request match every matcher of the rule? Also true for RULE_MATCH_SLASH below
 * (the route is selected); use rule_eval() to answer such a request as Traefik does.
 */
bool rule_match(const struct rule *r, const struct rule_input *in);

enum rule_verdict {
	RULE_NO_MATCH = 0,
	RULE_MATCH,
	RULE_MATCH_SLASH,	/* matched only with one trailing '/' added or removed: answer 301 */
};

/*
 * rule_match() with the detail Traefik 1.7 acts on: a Path, PathStrip or PathStripRegex
 * template matches a path that differs from it only by a trailing '/' (mux strict slash),
 * and Traefik then answers 301 to the other form instead of proxying. Paths are matched
 * percent-decoded, as Go does; a path with a bad %-escape matches no path matcher.
 */
enum rule_verdict rule_eval(const struct rule *r, const struct rule_input *in);

/*
 * The Location of the 301 for RULE_MATCH_SLASH: in->path with its trailing '/' removed (or
 * one added), cleaned like Go's path.Clean, then "?query" when the request had a '?'.
 * Writes *len bytes to out (no NUL). Returns 0, or -ENOSPC if out is too small.
 */
int rule_slash_location(const struct rule_input *in, char *out, size_t cap, size_t *len);

/* Does the rule carry path modifiers (so the path must be rewritten after a match)? */
bool rule_has_rewrite(const struct rule *r);

/*
 * Apply the rule's modifiers to in->path, writing the new path to out (cap bytes, no NUL;
 * always starts with '/', percent-encoded as Go's URL.EscapedPath would send it).
 * Call only after rule_match() returned true. Returns 0, -ENOSPC if out is too small (or
 * the path is longer than RULE_PATH_MAX), or -ENOENT where Traefik answers 404: a
 * PathStrip/PathPrefixStrip prefix that matched as a template but is not a literal prefix.
 * fwd_prefix/replaced point into the rule or into out (past path_len, at its end) and stay
 * valid as long as both; they carry the decoded path text, control characters as spaces.
 * With several strip or replace modifiers Traefik adds one header each; this gives the first.
 */
int rule_rewrite(const struct rule *r, const struct rule_input *in, char *out, size_t cap,
		 struct rule_rewrite *rw);

#endif
