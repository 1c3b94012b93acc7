/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for rule.c: Traefik 1.7 frontend rules. Every request piece is placed right
 * before a PROT_NONE page (guard_copy) so a matcher reading past a slice crashes the test.
 * Expected results follow Traefik 1.7.34 + containous/mux as read from their source.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rule.h"
#include "unit.h"

#define NO	RULE_NO_MATCH
#define YES	RULE_MATCH
#define SLASH	RULE_MATCH_SLASH

/* A request built from strings, each slice in its own guarded mapping. */
struct req {
	struct rule_input in;
	struct http1_header h[4];
	struct guard_buf g[12];
	int ng;
};

static const char *guarded(struct req *q, const char *s, size_t n)
{
	return guard_copy(s, n, &q->g[q->ng++]);
}

/* target may hold "?query"; hdrs are "Name: value" strings, NULL-terminated. */
static void req_init(struct req *q, const char *method, const char *host, const char *target,
		     const char *const *hdrs)
{
	const char *qm = strchr(target, '?');
	size_t plen = qm ? (size_t)(qm - target) : strlen(target);

	memset(q, 0, sizeof(*q));
	q->in.method = guarded(q, method, strlen(method));
	q->in.method_len = strlen(method);
	if (host) {
		q->in.host = guarded(q, host, strlen(host));
		q->in.host_len = strlen(host);
	}
	q->in.path = guarded(q, target, plen);
	q->in.path_len = plen;
	if (qm) {
		q->in.query = guarded(q, qm + 1, strlen(qm + 1));
		q->in.query_len = strlen(qm + 1);
	}
	for (size_t i = 0; hdrs && hdrs[i] && i < 4; i++) {
		const char *colon = strchr(hdrs[i], ':'), *v = colon + 1;

		while (*v == ' ')
			v++;
		q->h[i].name = guarded(q, hdrs[i], colon - hdrs[i]);
		q->h[i].name_len = colon - hdrs[i];
		q->h[i].value = guarded(q, v, strlen(v));
		q->h[i].value_len = strlen(v);
		q->in.nheaders++;
	}
	q->in.headers = q->h;
}

static void req_fini(struct req *q)
{
	for (int i = 0; i < q->ng; i++)
		guard_free(&q->g[i]);
}

static struct rule *compile1(const char *rule)
{
	char err[256];
	struct rule *r = rule_compile(&rule, 1, err, sizeof(err));

	if (!r)
		printf("       compile \"%s\": %s\n", rule, err);
	return r;
}

/* Compile rule (one counted check) and evaluate one request with rule_eval and rule_match. */
static bool eval1(const char *rule, const char *method, const char *host, const char *target,
		  const char *const *hdrs, enum rule_verdict *v, bool *matched)
{
	struct rule *r = compile1(rule);
	struct req q;

	if (!CHECK(r, "compile \"%s\"", rule))
		return false;
	req_init(&q, method, host, target, hdrs);
	*v = rule_eval(r, &q.in);
	*matched = rule_match(r, &q.in);
	req_fini(&q);
	rule_free(r);
	return true;
}

/* ---------------------------------------------------------------------------------------- */

struct mcase {
	const char *rule;
	const char *method, *host, *target;
	const char *hdrs[4];
	enum rule_verdict want;
};

static const struct mcase mcases[] = {
	/* Host: case-folded compare, port and brackets removed, no wildcard */
	{ "Host:a.com", "GET", "a.com", "/", {0}, YES },
	{ "Host:a.com", "GET", "A.COM", "/", {0}, YES },
	{ "Host:A.Com", "GET", "a.com", "/", {0}, YES },
	{ "Host:a.com", "GET", "a.com:8080", "/", {0}, YES },
	{ "Host:a.com", "GET", "b.com", "/", {0}, NO },
	{ "Host:a.com", "GET", NULL, "/", {0}, NO },
	{ "Host:a.com", "GET", "xa.com", "/", {0}, NO },
	{ "Host:a.com", "GET", "a.co", "/", {0}, NO },
	{ "Host:a.com", "GET", "a.com.", "/", {0}, NO },
	{ "Host:a.com", "GET", " a.com ", "/", {0}, YES },
	{ "Host:a.com", "GET", ":80", "/", {0}, NO },
	{ "Host:a.com,b.com", "GET", "b.com", "/", {0}, YES },
	{ "Host:a.com,b.com", "GET", "c.com", "/", {0}, NO },
	{ "Host:a.com:8080", "GET", "a.com:8080", "/", {0}, NO },
	{ "Host:*.a.com", "GET", "b.a.com", "/", {0}, NO },
	{ "Host:1:2:3:4:5:6:7:8", "GET", "[1:2:3:4:5:6:7:8]:443", "/", {0}, YES },
	{ "Host:1:2:3:4:5:6:7:8", "GET", "[1:2:3:4:5:6:7:8]", "/", {0}, YES },
	{ "Host:1:2:3:4:5:6:7:8", "GET", "[1:2:3:4:5:6:7:9]", "/", {0}, NO },
	/* HostRegexp: mux host template, anchored, case-insensitive, port ignored */
	{ "HostRegexp:{sub:[a-z]+}.example.com", "GET", "api.example.com", "/", {0}, YES },
	{ "HostRegexp:{sub:[a-z]+}.example.com", "GET", "API.Example.COM:8443", "/", {0}, YES },
	{ "HostRegexp:{sub:[a-z]+}.example.com", "GET", "api1.example.com", "/", {0}, NO },
	{ "HostRegexp:{sub:[a-z]+}.example.com", "GET", "a.b.example.com", "/", {0}, NO },
	{ "HostRegexp:{sub:[a-z]+}.example.com", "GET", "api.example.com.evil", "/", {0}, NO },
	{ "HostRegexp:{sub:[a-z]+}.example.com", "GET", "apiXexample.com", "/", {0}, NO },
	{ "HostRegexp:{sub}.example.com", "GET", "x-1.example.com", "/", {0}, YES },
	{ "HostRegexp:{sub}.example.com", "GET", "a.b.example.com", "/", {0}, NO },
	{ "HostRegexp:example.com", "GET", "EXAMPLE.com", "/", {0}, YES },
	{ "HostRegexp:{n:\\d+}.x.com", "GET", "42.x.com", "/", {0}, YES },
	{ "HostRegexp:{n:\\d+}.x.com", "GET", "4a.x.com", "/", {0}, NO },
	{ "HostRegexp:a.com,{s:[a-z]+}.b.com", "GET", "z.b.com", "/", {0}, YES },
	{ "HostRegexp:{a:[a-z]+}-{b:[0-9]+}.x", "GET", "ab-12.x", "/", {0}, YES },
	/* Path: exact template, strict slash, percent-decoded, case-sensitive */
	{ "Path:/api", "GET", "h", "/api", {0}, YES },
	{ "Path:/api", "GET", "h", "/api/", {0}, SLASH },
	{ "Path:/api/", "GET", "h", "/api", {0}, SLASH },
	{ "Path:/api/", "GET", "h", "/api/", {0}, YES },
	{ "Path:/api", "GET", "h", "/api/x", {0}, NO },
	{ "Path:/api", "GET", "h", "/apix", {0}, NO },
	{ "Path:/api", "GET", "h", "/API", {0}, NO },
	{ "Path:/api", "GET", "h", "/api?x=1", {0}, YES },
	{ "Path:/", "GET", "h", "/", {0}, YES },
	{ "Path:/a,/b", "GET", "h", "/b", {0}, YES },
	{ "Path:/users/{id:[0-9]+}", "GET", "h", "/users/42", {0}, YES },
	{ "Path:/users/{id:[0-9]+}", "GET", "h", "/users/4x", {0}, NO },
	{ "Path:/users/{id:[0-9]+}", "GET", "h", "/users/42/", {0}, SLASH },
	{ "Path:/users/{id:[0-9]+}", "GET", "h", "/users/", {0}, NO },
	{ "Path:/users/{id}", "GET", "h", "/users/abc", {0}, YES },
	{ "Path:/users/{id}", "GET", "h", "/users/a/b", {0}, NO },
	{ "Path:/users/{id}/", "GET", "h", "/users/abc", {0}, SLASH },
	{ "Path:/f/{name:[a-z]+}.txt", "GET", "h", "/f/abc.txt", {0}, YES },
	{ "Path:/f/{name:[a-z]+}.txt", "GET", "h", "/f/abcXtxt", {0}, NO },
	{ "Path:/admin", "GET", "h", "/%61dmin", {0}, YES },
	{ "Path:/a b", "GET", "h", "/a%20b", {0}, YES },
	{ "Path:/x", "GET", "h", "/x%zz", {0}, NO },
	{ "Path:/x", "GET", "h", "/x%2", {0}, NO },
	{ "PathStrip:/a,/a/", "GET", "h", "/a", {0}, SLASH },	/* longest tried first */
	{ "PathStripRegex:/u/{id:[0-9]+}", "GET", "h", "/u/1", {0}, YES },
	{ "PathStripRegex:/u/{id:[0-9]+}", "GET", "h", "/u/1/x", {0}, NO },
	/* PathPrefix: plain string prefix without '{', mux prefix template with it */
	{ "PathPrefix:/api", "GET", "h", "/api", {0}, YES },
	{ "PathPrefix:/api", "GET", "h", "/api/v1", {0}, YES },
	{ "PathPrefix:/api", "GET", "h", "/apiv2", {0}, YES },
	{ "PathPrefix:/api", "GET", "h", "/ap", {0}, NO },
	{ "PathPrefix:/api/", "GET", "h", "/api", {0}, NO },
	{ "PathPrefix:/", "GET", "h", "/anything", {0}, YES },
	{ "PathPrefix:/a,/b", "GET", "h", "/b/c", {0}, YES },
	{ "PathPrefix:/api/{ver:v[0-9]+}", "GET", "h", "/api/v2/x", {0}, YES },
	{ "PathPrefix:/api/{ver:v[0-9]+}", "GET", "h", "/api/x", {0}, NO },
	{ "PathPrefixStrip:/api", "GET", "h", "/api/x", {0}, YES },
	{ "PathPrefixStripRegex:/{v:v[0-9]}", "GET", "h", "/v1/x", {0}, YES },
	{ "PathPrefixStripRegex:/{v:v[0-9]}", "GET", "h", "/x/v1", {0}, NO },
	/* Method: rule upper-cased, request compared as sent */
	{ "Method:GET", "GET", "h", "/", {0}, YES },
	{ "Method:GET", "POST", "h", "/", {0}, NO },
	{ "Method:GET", "get", "h", "/", {0}, NO },
	{ "Method:get,post", "POST", "h", "/", {0}, YES },
	{ "Method:GET", "GETX", "h", "/", {0}, NO },
	/* Headers: pairs ANDed, name case-insensitive, value exact, any field of that name */
	{ "Headers:X-Env,prod", "GET", "h", "/", { "x-env: prod" }, YES },
	{ "Headers:X-Env,prod", "GET", "h", "/", { "X-Env: Prod" }, NO },
	{ "Headers:X-Env,prod", "GET", "h", "/", { "X-Envy: prod" }, NO },
	{ "Headers:X-Env,prod", "GET", "h", "/", {0}, NO },
	{ "Headers:X-A,1,X-B,2", "GET", "h", "/", { "X-A: 1", "X-B: 2" }, YES },
	{ "Headers:X-A,1,X-B,2", "GET", "h", "/", { "X-A: 1" }, NO },
	{ "Headers:X-A,1", "GET", "h", "/", { "X-A: 0", "X-A: 1" }, YES },
	{ "Headers:X-A,1,X-A,2", "GET", "h", "/", { "X-A: 2" }, YES },	/* a Go map */
	{ "Headers:X-A,1,X-A,2", "GET", "h", "/", { "X-A: 1" }, NO },
	{ "Headers:Host,a.com", "GET", "a.com", "/", { "Host: a.com" }, NO },
	{ "Headers:X-Url,http://x", "GET", "h", "/", { "X-Url: http://x" }, YES },
	{ "Headers:X-Url,a::b", "GET", "h", "/", { "X-Url: a:b" }, YES },
	{ "Headers:X-Url,a::b", "GET", "h", "/", { "X-Url: a::b" }, NO },
	/* HeadersRegexp: Go regex, unanchored */
	{ "HeadersRegexp:Content-Type,application/(text|json)", "GET", "h", "/",
	  { "Content-Type: application/json; charset=utf-8" }, YES },
	{ "HeadersRegexp:Content-Type,application/(text|json)", "GET", "h", "/",
	  { "Content-Type: text/html" }, NO },
	{ "HeadersRegexp:X-Id,^\\d{3}$", "GET", "h", "/", { "x-id: 123" }, YES },
	{ "HeadersRegexp:X-Id,^\\d{3}$", "GET", "h", "/", { "x-id: 1234" }, NO },
	{ "HeadersRegexp:X-Id,^\\d{3}$", "GET", "h", "/", {0}, NO },
	/* Query: pairs ANDed, first value, decoded; "a=" is "key present" */
	{ "Query:a=1", "GET", "h", "/?a=1", {0}, YES },
	{ "Query:a=1", "GET", "h", "/?a=2", {0}, NO },
	{ "Query:a=1", "GET", "h", "/?b=1", {0}, NO },
	{ "Query:a=1", "GET", "h", "/", {0}, NO },
	{ "Query:a=1", "GET", "h", "/?x=0&a=1", {0}, YES },
	{ "Query:a=1", "GET", "h", "/?a=2&a=1", {0}, NO },
	{ "Query:a=1", "GET", "h", "/?a=1;b=2", {0}, NO },
	{ "Query:a=", "GET", "h", "/?a", {0}, YES },
	{ "Query:a=", "GET", "h", "/?a=", {0}, YES },
	{ "Query:a=", "GET", "h", "/?a=x", {0}, YES },
	{ "Query:a=", "GET", "h", "/?b=x", {0}, NO },
	{ "Query:a=", "GET", "h", "/?a=%0A", {0}, NO },	/* Go's .* stops at \n */
	{ "Query:a=1,b=2", "GET", "h", "/?b=2&a=1", {0}, YES },
	{ "Query:a=1,b=2", "GET", "h", "/?a=1", {0}, NO },
	{ "Query:q=a b", "GET", "h", "/?q=a+b", {0}, YES },
	{ "Query:q=a b", "GET", "h", "/?q=a%20b", {0}, YES },
	{ "Query:k y=1", "GET", "h", "/?k%20y=1", {0}, YES },
	{ "Query:a=1", "GET", "h", "/?a=%zz&a=1", {0}, YES },	/* bad pair skipped */
	{ "Query:id={id:[0-9]+}", "GET", "h", "/?id=42", {0}, YES },
	{ "Query:id={id:[0-9]+}", "GET", "h", "/?id=4x", {0}, NO },
	{ "Query:a,1", "GET", "h", "/?a=1", {0}, YES },	/* Traefik pairs all parts */
	/* AND of matchers; grammar details */
	{ "Host:a.com;Path:/x", "GET", "a.com", "/x", {0}, YES },
	{ "Host:a.com;Path:/x", "GET", "b.com", "/x", {0}, NO },
	{ "Host:a.com;Path:/x", "GET", "a.com", "/y", {0}, NO },
	{ "Host:a.com;Path:/x", "GET", "a.com", "/x/", {0}, SLASH },
	{ "Host:a.com;Path:/x", "GET", "b.com", "/x/", {0}, NO },
	{ "Host:a.com;Method:POST;PathPrefix:/api", "POST", "a.com", "/api/1", {0}, YES },
	{ "Host:a.com;Method:POST;PathPrefix:/api", "GET", "a.com", "/api/1", {0}, NO },
	{ "Host: a.com , b.com ", "GET", "b.com", "/", {0}, YES },
	{ " Host :a.com", "GET", "a.com", "/", {0}, YES },
	{ "Host:a.com;", "GET", "a.com", "/", {0}, YES },
	{ ";;Host:a.com", "GET", "a.com", "/", {0}, YES },
	{ "Host:a.com,,b.com", "GET", "b.com", "/", {0}, YES },
	{ "Host:::a.com", "GET", "a.com", "/", {0}, YES },
	{ "AddPrefix:/x", "DELETE", NULL, "/anything", {0}, YES },
};

static void test_match_table(void)
{
	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *c = &mcases[i];
		enum rule_verdict v;
		bool matched;

		if (!eval1(c->rule, c->method, c->host, c->target, c->hdrs, &v, &matched))
			continue;
		if (!CHECK(v == c->want, "%-38s %s %s %-22s -> %s", c->rule, c->method,
			   c->host ? c->host : "-", c->target,
			   c->want == YES ? "match" : c->want == NO ? "no match" : "slash 301"))
			printf("       got verdict %d\n", v);
		/* rule_match agrees with rule_eval (checked silently; counted once below) */
		if (matched != (c->want != NO))
			CHECK(0, "rule_match agrees with rule_eval for \"%s\"", c->rule);
	}
}

/* Several routes of one frontend are ANDed; modifiers: last one wins. */
static void test_routes(void)
{
	const char *two[] = { "Host:a.com", "PathPrefix:/api" };
	const char *mods[] = { "AddPrefix:/one", "Host:a.com;AddPrefix:/two" };
	char err[128], out[64];
	struct rule_rewrite rw;
	struct rule *r;
	struct req q;

	r = rule_compile(two, 2, err, sizeof(err));
	CHECK(r, "compile two routes");
	req_init(&q, "GET", "a.com", "/api/1", NULL);
	CHECK(rule_match(r, &q.in), "routes ANDed: both met -> match");
	req_fini(&q);
	req_init(&q, "GET", "a.com", "/web", NULL);
	CHECK(!rule_match(r, &q.in), "routes ANDed: path route fails -> no match");
	req_fini(&q);
	req_init(&q, "GET", "b.com", "/api", NULL);
	CHECK(!rule_match(r, &q.in), "routes ANDed: host route fails -> no match");
	req_fini(&q);
	rule_free(r);

	r = rule_compile(mods, 2, err, sizeof(err));
	CHECK(r, "compile routes with two AddPrefix");
	req_init(&q, "GET", "a.com", "/x", NULL);
	CHECK(r && rule_rewrite(r, &q.in, out, sizeof(out), &rw) == 0 && rw.path_len == 6 &&
	      !memcmp(out, "/two/x", 6), "AddPrefix given twice: the last route's wins");
	req_fini(&q);
	rule_free(r);

	r = rule_compile(NULL, 0, err, sizeof(err));
	req_init(&q, "PUT", NULL, "/", NULL);
	CHECK(r && rule_match(r, &q.in), "no routes: matches every request (Traefik)");
	req_fini(&q);
	rule_free(r);
}

/* ---------------------------------------------------------------------------------------- */

struct tcase {			/* translation of Go regex syntax, seen through matchers */
	const char *rule;
	const char *value;	/* X header value */
	bool want;
};

static const struct tcase tcases[] = {
	{ "HeadersRegexp:X,^\\w+\\s\\d$", "ab_1 7", true },
	{ "HeadersRegexp:X,^\\w+\\s\\d$", "ab-1 7", false },
	{ "HeadersRegexp:X,^\\D\\S\\W$", "a-?", true },
	{ "HeadersRegexp:X,^\\D\\S\\W$", "1-?", false },
	{ "HeadersRegexp:X,^a\\.b$", "a.b", true },
	{ "HeadersRegexp:X,^a\\.b$", "axb", false },
	{ "HeadersRegexp:X,^a.b$", "axb", true },
	{ "HeadersRegexp:X,^[]a-]+$", "a]-", true },
	{ "HeadersRegexp:X,^[]a-]+$", "b", false },
	{ "HeadersRegexp:X,^[\\]\\\\^]+$", "]\\^", true },
	{ "HeadersRegexp:X,^[^a-z]+$", "A1", true },
	{ "HeadersRegexp:X,^[^a-z]+$", "Ab", false },
	{ "HeadersRegexp:X,^[\\W]+$", "-+", true },
	{ "HeadersRegexp:X,^[\\W]+$", "-a", false },
	{ "HeadersRegexp:X,^[\\d.]+$", "1.2", true },
	{ "HeadersRegexp:X,^[[:digit:]]+$", "123", true },
	{ "HeadersRegexp:X,^[[:^alpha:]]+$", "12", true },
	{ "HeadersRegexp:X,^[[:^alpha:]]+$", "1a", false },
	{ "HeadersRegexp:X,(?i)^abc$", "ABC", true },
	{ "HeadersRegexp:X,^abc$", "ABC", false },
	{ "HeadersRegexp:X,^(?:ab)+$", "abab", true },
	{ "HeadersRegexp:X,^(?P<n>a)b$", "ab", true },
	{ "HeadersRegexp:X,^\\Q.*\\E$", ".*", true },
	{ "HeadersRegexp:X,^\\Q.*\\E$", "ab", false },
	{ "HeadersRegexp:X,^a{2}$", "aa", true },
	{ "HeadersRegexp:X,^a{2}$", "aaa", false },
	{ "HeadersRegexp:X,^a{b$", "a{b", true },
	{ "HeadersRegexp:X,^a}$", "a}", true },
	{ "HeadersRegexp:X,^\\x41\\x{42}$", "AB", true },
	{ "HeadersRegexp:X,\\bfoo\\b", "a foo b", true },
	{ "HeadersRegexp:X,\\bfoo\\b", "afoo", false },
	{ "HeadersRegexp:X,\\Afoo\\z", "foo", true },
	{ "HeadersRegexp:X,\\Afoo\\z", "foox", false },
	{ "HeadersRegexp:X,^\xc3\xa9+$", "\xc3\xa9\xc3\xa9", true },
	{ "HeadersRegexp:X,^[a-c]+|z$", "bz", true },
	{ "HeadersRegexp:X,^\\$\\^$", "$^", true },
	{ "HeadersRegexp:X,^\\/\\-$", "/-", true },
};

static void test_translation(void)
{
	for (size_t i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		const struct tcase *c = &tcases[i];
		char hdr[128];
		const char *hdrs[2] = { hdr, NULL };
		enum rule_verdict v;
		bool matched;

		snprintf(hdr, sizeof(hdr), "X: %s", c->value);
		if (!eval1(c->rule, "GET", "h", "/", hdrs, &v, &matched))
			continue;
		CHECK(matched == c->want, "regex %-32s on \"%s\" -> %s", c->rule + 16, c->value,
		      c->want ? "match" : "no match");
	}
}

/* ---------------------------------------------------------------------------------------- */

struct rcase {
	const char *rule;
	const char *target;
	int rc;
	const char *path, *fwd, *replaced;	/* NULL: header not added */
};

static const struct rcase rcases[] = {
	{ "PathPrefixStrip:/api", "/api/users", 0, "/users", "/api", NULL },
	{ "PathPrefixStrip:/api", "/api", 0, "/", "/api", NULL },
	{ "PathPrefixStrip:/api", "/apiv2", 0, "/v2", "/api", NULL },
	{ "PathPrefixStrip:/a,/a/b", "/a/b/c", 0, "/c", "/a/b", NULL },
	{ "PathPrefixStrip:/a/b,/a", "/a/x", 0, "/x", "/a", NULL },
	{ "PathPrefixStrip:/api/", "/api/x", 0, "/x", "/api/", NULL },
	{ "PathStrip:/api", "/api", 0, "/", "/api", NULL },
	{ "PathPrefixStripRegex:/api/{ver:v[0-9]+}", "/api/v12/users", 0, "/users", "/api/v12",
	  NULL },
	{ "PathStripRegex:/u/{id}", "/u/7", 0, "/", "/u/7", NULL },
	{ "PathPrefixStripRegex:/a/{x:[0-9]}", "/a/12", 0, "/2", "/a/1", NULL },
	{ "PathPrefixStripRegex:/{seg}", "/a%20b/c", 0, "/c", "/a b", NULL },
	{ "PathPrefixStripRegex:/{seg}", "/a%0Ab/c", 0, "/c", "/a b", NULL },
	{ "PathPrefixStrip:/a/{id}", "/a/1", -ENOENT, NULL, NULL, NULL },
	{ "AddPrefix:/v1", "/users", 0, "/v1/users", NULL, NULL },
	{ "AddPrefix:/a b", "/x", 0, "/a%20b/x", NULL, NULL },
	{ "PathPrefixStrip:/api;AddPrefix:/v2", "/api/x", 0, "/v2/x", "/api", NULL },
	{ "AddPrefix:/v2;PathPrefixStrip:/api", "/api/x", 0, "/v2/x", "/api", NULL },
	{ "ReplacePath:/new", "/old/x", 0, "/new", NULL, "/old/x" },
	{ "ReplacePath:/a,/b", "/old", 0, "/b", NULL, "/old" },
	{ "ReplacePathRegex:^/api/(.*) /v2/$1", "/api/users", 0, "/v2/users", NULL, "/api/users" },
	{ "ReplacePathRegex:^/api/(.*) /v2/$1", "/web", 0, "/web", NULL, NULL },
	{ "ReplacePathRegex:a b", "/aXa", 0, "/bXb", NULL, "/aXa" },
	{ "ReplacePathRegex:x* -", "/ab", 0, "/-/-a-b-", NULL, "/ab" },	/* '/' added */
	{ "ReplacePathRegex:^/(?P<name>[a-z]+)/(\\d+) /${name}-$2", "/user/42", 0, "/user-42",
	  NULL, "/user/42" },
	{ "ReplacePathRegex:^/(?:x|y)/(\\d+) /n/$1", "/y/5", 0, "/n/5", NULL, "/y/5" },
	{ "ReplacePathRegex:^/x /$$1", "/x", 0, "/$1", NULL, "/x" },
	{ "ReplacePathRegex:^/(a) /$1x", "/a", 0, "/", NULL, "/a" },
	{ "ReplacePathRegex:^/(a) /${1}x", "/a", 0, "/ax", NULL, "/a" },
	{ "ReplacePathRegex:^/(a) /$9", "/a", 0, "/", NULL, "/a" },
	{ "ReplacePathRegex:^/(a) /$", "/a", 0, "/$", NULL, "/a" },
	{ "ReplacePathRegex:^/(a) /<$0>", "/a", 0, "/%3C/a%3E", NULL, "/a" },
	{ "PathPrefixStrip:/api;AddPrefix:/v2;ReplacePathRegex:^/v2/(.*) /v3/$1", "/api/x", 0,
	  "/v3/x", "/api", "/v2/x" },
	{ "ReplacePathRegex:^/a /b;ReplacePath:/c", "/a", 0, "/c", NULL, "/a" },
	/* the client's encoding survives when it still encodes the new path (Go's RawPath) */
	{ "PathPrefixStrip:/api", "/api/a%2Fb", 0, "/a%2Fb", "/api", NULL },
	{ "PathPrefixStrip:/api", "/api/%7Euser", 0, "/%7Euser", "/api", NULL },
	{ "PathPrefixStrip:/api", "/api/a%20b", 0, "/a%20b", "/api", NULL },
	{ "ReplacePath:/a b", "/x", 0, "/a%20b", NULL, "/x" },
	{ "ReplacePath:/x", "/a%20b", 0, "/x", NULL, "/a b" },
	{ "Host:a.com", "/keep%2Fme", 0, "/keep%2Fme", NULL, NULL },
};

static void test_rewrite_table(void)
{
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];
		struct rule *r = compile1(c->rule);
		char out[256], got[256] = "";
		struct rule_rewrite rw;
		struct req q;
		int rc;
		bool ok;

		if (!CHECK(r, "compile \"%s\"", c->rule))
			continue;
		req_init(&q, "GET", "a.com", c->target, NULL);
		rc = rule_rewrite(r, &q.in, out, sizeof(out), &rw);
		if (rc == 0)
			snprintf(got, sizeof(got), "%.*s", (int)rw.path_len, out);
		ok = rc == c->rc && (rc || !strcmp(got, c->path));
		if (rc == 0) {
			ok = ok && (c->fwd ? rw.fwd_prefix && rw.fwd_prefix_len == strlen(c->fwd) &&
					      !memcmp(rw.fwd_prefix, c->fwd, rw.fwd_prefix_len)
					   : !rw.fwd_prefix);
			ok = ok && (c->replaced ? rw.replaced &&
						  rw.replaced_len == strlen(c->replaced) &&
						  !memcmp(rw.replaced, c->replaced, rw.replaced_len)
						: !rw.replaced);
		}
		if (!CHECK(ok, "rewrite %-40s %-14s -> %s%s%s%s%s", c->rule, c->target,
			   c->rc ? "error" : c->path, c->fwd ? " prefix=" : "",
			   c->fwd ? c->fwd : "",
			   c->replaced ? " replaced=" : "", c->replaced ? c->replaced : ""))
			printf("       got rc %d path \"%s\" prefix \"%.*s\" replaced \"%.*s\"\n",
			       rc,
			       got, rw.fwd_prefix ? (int)rw.fwd_prefix_len : 0,
			       rw.fwd_prefix ? rw.fwd_prefix : "",
			       rw.replaced ? (int)rw.replaced_len : 0,
			       rw.replaced ? rw.replaced : "");
		req_fini(&q);
		rule_free(r);
	}
}

static void test_rewrite_misc(void)
{
	struct rule *r = compile1("AddPrefix:/v1");
	struct rule *h = compile1("Host:a.com;Method:GET");
	struct rule *s = compile1("PathPrefixStripRegex:/{a}");
	char out[64];
	struct rule_rewrite rw;
	struct req q;

	req_init(&q, "GET", "a.com", "/users", NULL);
	CHECK(r && rule_rewrite(r, &q.in, out, 5, &rw) == -ENOSPC,
	      "rewrite into a 5-byte buffer -> -ENOSPC");
	CHECK(r && rule_rewrite(r, &q.in, out, 9, &rw) == 0 && rw.path_len == 9,
	      "rewrite into an exact-size buffer -> 0");
	CHECK(s && rule_rewrite(s, &q.in, out, 6, &rw) == -ENOSPC,
	      "rewrite: room for X-Forwarded-Prefix but not the path -> -ENOSPC");
	CHECK(s && rule_rewrite(s, &q.in, out, 7, &rw) == 0 && rw.path_len == 1 && out[0] == '/' &&
	      rw.fwd_prefix == out + 1 && rw.fwd_prefix_len == 6,
	      "X-Forwarded-Prefix stored at the end of out, after the path");
	CHECK(r && rule_has_rewrite(r), "AddPrefix has a rewrite");
	CHECK(h && !rule_has_rewrite(h), "Host;Method has no rewrite");
	CHECK(s && rule_has_rewrite(s), "PathPrefixStripRegex has a rewrite");
	req_fini(&q);
	rule_free(r);
	rule_free(h);
	rule_free(s);
}

struct lcase {
	const char *target;
	const char *want;
};

static const struct lcase lcases[] = {
	{ "/x/", "/x" },
	{ "/x?a=1", "/x/?a=1" },
	{ "/x?", "/x/?" },
	{ "/a//b/", "/a/b" },
	{ "/a/./b/../c", "/a/c/" },
	{ "/a%20b", "/a%20b/" },
	{ "/users/42/?q=%20", "/users/42?q=%20" },
};

static void test_slash_location(void)
{
	char out[64];
	size_t n;
	struct req q;

	for (size_t i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++) {
		req_init(&q, "GET", "h", lcases[i].target, NULL);
		n = 0;
		CHECK(rule_slash_location(&q.in, out, sizeof(out), &n) == 0 &&
		      n == strlen(lcases[i].want) && !memcmp(out, lcases[i].want, n),
		      "301 Location for %s is %s", lcases[i].target, lcases[i].want);
		req_fini(&q);
	}
	req_init(&q, "GET", "h", "/abcdef?x=1", NULL);
	CHECK(rule_slash_location(&q.in, out, 8, &n) == -ENOSPC,
	      "301 Location: small buffer -> -ENOSPC");
	req_fini(&q);
}

/* ---------------------------------------------------------------------------------------- */

struct ecase {
	const char *rule;
	const char *want1, *want2;	/* substrings of the message */
};

static const struct ecase ecases[] = {
	{ "Hots:a.com", "unknown matcher \"Hots\"", "in \"Hots:a.com\"" },
	{ "Host:a.com;Pth:/x", "unknown matcher \"Pth\"", NULL },
	{ "host:a.com", "unknown matcher \"host\"", NULL },
	{ "Host:", "\"Host\"", "no arguments" },
	{ "Host", "\"Host\"", "no arguments" },
	{ "Host:,,", "\"Host\"", "no arguments" },
	{ "Path:api", "\"Path\"", "must start with '/'" },
	{ "PathPrefixStripRegex:api", "\"PathPrefixStripRegex\"", "must start with '/'" },
	{ "PathPrefix:/{a", "\"PathPrefix\"", "unbalanced braces" },
	{ "Path:/a}", "\"Path\"", "unbalanced braces" },
	{ "Path:/{:[0-9]+}", "\"Path\"", "missing name or pattern" },
	{ "HostRegexp:{a:}.x", "\"HostRegexp\"", "missing name or pattern" },
	{ "Headers:X-A", "\"Headers\"", "pairs" },
	{ "HeadersRegexp:X,a,Y", "\"HeadersRegexp\"", "pairs" },
	{ "Query:a", "\"Query\"", "pairs" },
	{ "Query:a=b=c", "\"Query\"", "pairs" },
	{ "HeadersRegexp:X,(a", "\"HeadersRegexp\"", "missing )" },
	{ "HeadersRegexp:X,a)", "\"HeadersRegexp\"", "unexpected )" },
	{ "HeadersRegexp:X,[a", "\"HeadersRegexp\"", "missing closing ]" },
	{ "HeadersRegexp:X,a**", "\"HeadersRegexp\"", "nested repetition" },
	{ "HeadersRegexp:X,*a", "\"HeadersRegexp\"", "missing argument" },
	{ "HeadersRegexp:X,(a)\\1", "\"HeadersRegexp\"", "backreferences" },
	{ "HeadersRegexp:X,a\\q", "\"HeadersRegexp\"", "invalid escape" },
	{ "HeadersRegexp:X,a{1001}", "\"HeadersRegexp\"", "repeat count" },
	{ "HeadersRegexp:X,a(?m)b", "\"HeadersRegexp\"", "flags" },
	{ "HeadersRegexp:X,a(?i)b", "\"HeadersRegexp\"", "only supported at the start" },
	{ "HeadersRegexp:X,[[:foo:]]", "\"HeadersRegexp\"", "unknown class" },
	{ "HeadersRegexp:X,\\x00", "\"HeadersRegexp\"", "NUL" },
	{ "Path:/{id:\\pL+}", "\"Path\"", "\\p" },
	{ "Path:/{id:[0-9]+?}", "\"Path\"", "non-greedy" },
	{ "Path:/{id:(?i)x}", "\"Path\"", "only supported at the start" },
	{ "HostRegexp:{a:[z-a]}.x", "\"HostRegexp\"", "class range" },
	{ "HostRegexp:{a:[\xc3\xa9]}.x", "\"HostRegexp\"", "non-ASCII" },
	{ "ReplacePathRegex:^/a", "\"ReplacePathRegex\"", "one space" },
	{ "ReplacePathRegex:^/a b c", "\"ReplacePathRegex\"", "one space" },
	{ "ReplacePathRegex:(a /b", "\"ReplacePathRegex\"", "missing )" },
	{ "", "empty rule", NULL },
	{ ":::", "no matcher name", NULL },
	{ "Host:a\nb", "control character", "Host:a" },
};

static void test_errors(void)
{
	char big[RULE_MAX_LEN + 64], many[512], err[256];
	const char *routes[RULE_MAX_ROUTES + 1];
	const char *p;
	struct rule *r;

	for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		const struct ecase *c = &ecases[i];
		char shown[64];

		snprintf(shown, sizeof(shown), "%s", c->rule[0] ? c->rule : "(empty)");
		for (char *s = shown; *s; s++)
			if (*s == '\n')
				*s = '~';	/* keep one line per check */
		err[0] = '\0';
		errno = 0;
		r = rule_compile(&c->rule, 1, err, sizeof(err));
		if (!CHECK(!r && errno == EINVAL && strstr(err, c->want1) &&
			   (!c->want2 || strstr(err, c->want2)),
			   "reject %-28s: %s", shown, c->want1))
			printf("       got %s errno %d: %s\n", r ? "a rule" : "NULL", errno, err);
		rule_free(r);
	}

	memset(big, 'a', sizeof(big));
	memcpy(big, "Host:", 5);
	big[RULE_MAX_LEN + 1] = '\0';
	p = big;
	r = rule_compile(&p, 1, err, sizeof(err));
	CHECK(!r && strstr(err, "longer than 1024") && strstr(err, "Host:"),
	      "reject a rule of 1025 bytes, naming it: %s", err);
	rule_free(r);
	big[RULE_MAX_LEN] = '\0';
	r = rule_compile(&p, 1, err, sizeof(err));
	CHECK(r, "accept a rule of exactly 1024 bytes");
	rule_free(r);

	strcpy(many, "Host:a");
	for (int i = 1; i <= RULE_MAX_ARGS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",h%d", i);
	p = many;
	r = rule_compile(&p, 1, err, sizeof(err));
	CHECK(!r && strstr(err, "\"Host\"") && strstr(err, "more than 32"),
	      "reject 33 arguments, naming the matcher: %s", err);
	rule_free(r);
	*strrchr(many, ',') = '\0';
	r = rule_compile(&p, 1, err, sizeof(err));
	CHECK(r, "accept 32 arguments");
	rule_free(r);

	for (int i = 0; i <= RULE_MAX_ROUTES; i++)
		routes[i] = "Host:a";
	r = rule_compile(routes, RULE_MAX_ROUTES + 1, err, sizeof(err));
	CHECK(!r && errno == EINVAL && strstr(err, "routes"), "reject 33 routes: %s", err);
	r = rule_compile(routes, RULE_MAX_ROUTES, err, sizeof(err));
	CHECK(r, "accept 32 routes");
	rule_free(r);

	routes[1] = NULL;
	r = rule_compile(routes, 2, err, sizeof(err));
	CHECK(!r && strstr(err, "route 1"), "reject a NULL route: %s", err);
	p = "Hots:x";
	r = rule_compile(&p, 1, NULL, 0);
	CHECK(!r && errno == EINVAL, "no error buffer: still NULL/EINVAL");
	r = rule_compile(&p, 1, err, 8);
	CHECK(!r && strlen(err) == 7, "error message truncated to the buffer");
}

/* ---------------------------------------------------------------------------------------- */

#define NTHREADS 4
#define ITERS 100000

struct ccase {
	const char *method, *host, *target;
	const char *hdr;
};

static const char *crules[] = {
	"Host:a.com,b.com;PathPrefix:/api",
	"HostRegexp:{s:[a-z]+}.x.com;Path:/u/{id:[0-9]+}",
	"Query:k={v:[0-9]+};Method:GET,POST",
	"HeadersRegexp:X-T,^(json|xml)$;PathPrefixStripRegex:/{v:v[0-9]}",
};

static const struct ccase ccases[] = {
	{ "GET", "a.com", "/api/x", NULL },
	{ "GET", "B.com:80", "/apix", NULL },
	{ "GET", "c.com", "/api", NULL },
	{ "GET", "ab.x.com", "/u/12", NULL },
	{ "GET", "ab.x.com", "/u/12/", NULL },
	{ "GET", "a1.x.com", "/u/12", NULL },
	{ "POST", "h", "/?k=42", NULL },
	{ "PUT", "h", "/?k=42", NULL },
	{ "GET", "h", "/?k=4x", NULL },
	{ "GET", "h", "/v1/a", "X-T: xml" },
	{ "GET", "h", "/v1/a", "X-T: html" },
	{ "GET", "h", "/w1/a", "X-T: json" },
};

#define NC (sizeof(ccases) / sizeof(ccases[0]))
#define NR (sizeof(crules) / sizeof(crules[0]))

struct cshared {
	struct rule *rules[NR];
	struct req reqs[NC];
	enum rule_verdict want[NR][NC];
};

struct cthread {
	struct cshared *sh;
	int seed;
	long mismatches;
	long evals;
};

static void *conc_worker(void *arg)
{
	struct cthread *t = arg;
	unsigned x = t->seed;

	for (long i = 0; i < ITERS; i++) {
		size_t ri, ci;

		x = x * 1103515245 + 12345;
		ri = (x >> 8) % NR;
		ci = (x >> 16) % NC;
		if (rule_eval(t->sh->rules[ri], &t->sh->reqs[ci].in) != t->sh->want[ri][ci])
			t->mismatches++;
		t->evals++;
	}
	return NULL;
}

static void test_concurrency(void)
{
	static struct cshared sh;
	struct cthread th[NTHREADS];
	pthread_t tid[NTHREADS];
	long total = 0, bad = 0;
	int nmatch = 0;
	bool ok = true;

	for (size_t i = 0; i < NR; i++) {
		sh.rules[i] = compile1(crules[i]);
		ok = ok && sh.rules[i];
	}
	if (!CHECK(ok, "concurrency: compile %zu rules", NR))
		return;
	for (size_t c = 0; c < NC; c++) {
		const char *hdrs[2] = { ccases[c].hdr, NULL };

		req_init(&sh.reqs[c], ccases[c].method, ccases[c].host, ccases[c].target, hdrs);
		for (size_t i = 0; i < NR; i++) {
			sh.want[i][c] = rule_eval(sh.rules[i], &sh.reqs[c].in);
			nmatch += sh.want[i][c] != NO;
		}
	}
	CHECK(nmatch == 6, "concurrency: single-threaded baseline has 6 matches (got %d)", nmatch);
	for (int i = 0; i < NTHREADS; i++) {
		th[i] = (struct cthread){ .sh = &sh, .seed = 7 + i * 131 };
		if (pthread_create(&tid[i], NULL, conc_worker, &th[i]))
			ok = false;
	}
	CHECK(ok, "concurrency: started %d threads", NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		total += th[i].evals;
		bad += th[i].mismatches;
	}
	CHECK(total == (long)NTHREADS * ITERS && bad == 0,
	      "concurrency: %ld evaluations on %d threads, %ld differ from the baseline", total,
	      NTHREADS, bad);
	for (size_t c = 0; c < NC; c++)
		req_fini(&sh.reqs[c]);
	for (size_t i = 0; i < NR; i++)
		rule_free(sh.rules[i]);
}

int main(void)
{
	unit_begin("rule");
	test_match_table();
	test_routes();
	test_translation();
	test_rewrite_table();
	test_rewrite_misc();
	test_slash_location();
	test_errors();
	test_concurrency();
	return unit_done();
}
