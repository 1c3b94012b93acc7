// SPDX-License-Identifier: MIT
/*
 * Unit tests for http1.c: request and response heads (valid, invalid with the exact status
 * and offset, limits at their boundary, pipelining), the chunked-body scanner and helpers.
 *
 * Every head is parsed from a copy that ends right before a PROT_NONE page, and is also fed
 * one byte at a time and split in two at every byte: each prefix must ask for more data and
 * the final call must give the same result, field for field (compared as offsets, since
 * each copy sits at another address).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http1.h"
#include "unit.h"

#define MAXH 128

/* ---------- generic driver: parse one buffer, describe the result as text ---------- */

typedef int (*parse_fn)(const char *buf, size_t len, struct http1_parser *p,
			const struct http1_limits *lim, char *dig, size_t dn);

static long off_of(const char *p, const char *buf, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;

	if (!p)
		return -1;
	if (a < b || a > b + len)
		return -1000;	/* not in the buffer (the static "/") */
	return (long)(a - b);
}

static size_t dig_headers(char *d, size_t dn, const char *buf, size_t len,
			  const struct http1_header *h, size_t n, const struct http1_framing *f)
{
	size_t o = 0, i;

	o += (size_t)snprintf(d + o, dn - o, " cl=%lld ch=%d cc=%d ka=%d cu=%d up=%d ex=%d lf=%d n=%zu",
			      (long long)f->content_length, f->chunked, f->conn_close,
			      f->conn_keep_alive, f->conn_upgrade, f->has_upgrade,
			      f->expect_continue, f->bare_lf, n);
	for (i = 0; i < n && o < dn; i++)
		o += (size_t)snprintf(d + o, dn - o, " [%ld+%zu %ld+%zu %ld+%zu]",
				      off_of(h[i].name, buf, len), h[i].name_len,
				      off_of(h[i].value, buf, len), h[i].value_len,
				      off_of(h[i].line, buf, len), h[i].line_len);
	return o;
}

static int run_req(const char *buf, size_t len, struct http1_parser *p,
		   const struct http1_limits *lim, char *d, size_t dn)
{
	struct http1_header hdr[MAXH];
	struct http1_request r;
	struct http1_error e = { 0, 0, NULL };
	int rc;
	size_t o;

	memset(&r, 0, sizeof(r));
	r.headers = hdr;
	rc = http1_parse_request(buf, len, p, &r, lim, &e);
	if (rc == -1) {
		snprintf(d, dn, "rc=-1 status=%d off=%zu (%s)", e.status, e.offset, e.reason);
	} else if (rc < 0) {
		snprintf(d, dn, "rc=%d", rc);
	} else {
		o = (size_t)snprintf(d, dn, "rc=%d m=%ld+%zu t=%ld+%zu p=%ld+%zu q=%ld+%zu h=%ld+%zu v=%d hl=%zu",
				     rc, off_of(r.method, buf, len), r.method_len,
				     off_of(r.target, buf, len), r.target_len,
				     off_of(r.path, buf, len), r.path_len,
				     off_of(r.query, buf, len), r.query_len,
				     off_of(r.host, buf, len), r.host_len, r.minor_version,
				     r.head_len);
		dig_headers(d + o, dn - o, buf, len, r.headers, r.nheaders, &r.framing);
	}
	return rc;
}

static int run_resp(const char *buf, size_t len, struct http1_parser *p,
		    const struct http1_limits *lim, char *d, size_t dn)
{
	struct http1_header hdr[MAXH];
	struct http1_response r;
	struct http1_error e = { 0, 0, NULL };
	int rc;
	size_t o;

	memset(&r, 0, sizeof(r));
	r.headers = hdr;
	rc = http1_parse_response(buf, len, p, &r, lim, &e);
	if (rc == -1) {
		snprintf(d, dn, "rc=-1 status=%d off=%zu (%s)", e.status, e.offset, e.reason);
	} else if (rc < 0) {
		snprintf(d, dn, "rc=%d", rc);
	} else {
		o = (size_t)snprintf(d, dn, "rc=%d v=%d st=%d r=%ld+%zu hl=%zu", rc, r.minor_version,
				     r.status, off_of(r.reason, buf, len), r.reason_len, r.head_len);
		dig_headers(d + o, dn - o, buf, len, r.headers, r.nheaders, &r.framing);
	}
	return rc;
}

#define DIG 8192

/* Parse a guarded copy of msg[0..len) with a fresh parser; digest into d. */
static int run_guarded(parse_fn fn, const char *msg, size_t len, const struct http1_limits *lim,
		       char *d)
{
	struct http1_parser p = HTTP1_PARSER_INIT;
	struct guard_buf g;
	char *b = guard_copy(msg, len, &g);
	int rc = fn(b, len, &p, lim, d, DIG);

	guard_free(&g);
	return rc;
}

/*
 * Feed msg one byte at a time (each prefix in its own guarded copy, one parser state) up to
 * stop bytes, then split it in two at every byte (fresh state each time). Every prefix short
 * of `need` bytes must return -2, or (when early_ok) the very error of the whole parse, and
 * the last call must reproduce `want`. Limits the two-piece pass to `max_splits` positions.
 */
static void check_split(const char *name, parse_fn fn, const char *msg, size_t len, size_t need,
			const struct http1_limits *lim, const char *want, bool early_ok)
{
	static char d[DIG];
	struct http1_parser p = HTTP1_PARSER_INIT;
	struct guard_buf g;
	size_t k, bad_at = (size_t)-1, step;
	bool ok = true, lin = true;
	char *b;
	int rc;

	for (k = 0; k <= len; k++) {
		/* every prefix behind a guard page; big heads share one copy to stay fast */
		if (len <= 4096) {
			b = guard_copy(msg, k, &g);
			rc = fn(b, k, &p, lim, d, DIG);
			guard_free(&g);
		} else {
			rc = fn(msg, k, &p, lim, d, DIG);
		}
		if (rc == -2 && k < need) {
			/* resumed searches start where the previous one stopped */
			if (k > 0 && p.scanned != k && k <= (lim ? lim->max_head : 65536))
				lin = false;
			continue;
		}
		if (rc == -1 && early_ok && strcmp(d, want) == 0)
			break;
		if (k >= need && strcmp(d, want) == 0)
			break;
		ok = false;
		bad_at = k;
		break;
	}
	if (!CHECK(ok && k <= len, "%s: byte at a time", name))
		printf("       at %zu: %s\n       want %s\n", bad_at, d, want);
	CHECK(lin, "%s: search resumes where it stopped", name);

	ok = true;
	step = len > 2000 ? len / 200 : 1;
	for (k = 0; k < need && k < len; k += step) {
		struct http1_parser q = HTTP1_PARSER_INIT;

		b = guard_copy(msg, k, &g);
		rc = fn(b, k, &q, lim, d, DIG);
		guard_free(&g);
		if (rc != -2 && !(rc == -1 && early_ok && strcmp(d, want) == 0)) {
			ok = false;
			bad_at = k;
			break;
		}
		if (rc == -1)
			continue;
		b = guard_copy(msg, len, &g);
		fn(b, len, &q, lim, d, DIG);
		guard_free(&g);
		if (strcmp(d, want) != 0) {
			ok = false;
			bad_at = k;
			break;
		}
	}
	if (!CHECK(ok, "%s: split in two at every byte", name))
		printf("       split at %zu: %s\n       want %s\n", bad_at, d, want);
}

/* ---------- table-driven heads ---------- */

struct hcase {
	const char *name;
	const char *msg;
	size_t len;		/* 0: strlen(msg) */
	int status;		/* 0: valid; else the error status */
	size_t tail;		/* valid: bytes after the head (body, next message) */
	const char *at;		/* invalid: offset = where this first occurs ... */
	int delta;		/* ... plus this */
	bool lax;		/* parse with allow_bare_lf */
};

static const struct http1_limits lax_limits = { 8192, 8192, 65536, 100, true };

static void run_case(const struct hcase *c, parse_fn fn)
{
	static char want[DIG], d[DIG];
	size_t len = c->len ? c->len : strlen(c->msg);
	const struct http1_limits *lim = c->lax ? &lax_limits : NULL;
	int rc = run_guarded(fn, c->msg, len, lim, want);

	if (!c->status) {
		if (!CHECK(rc > 0 && (size_t)rc == len - c->tail, "%s: valid, head %zu bytes", c->name,
			   len - c->tail))
			printf("       got %s\n", want);
	} else {
		const char *m = memmem(c->msg, len, c->at, strlen(c->at));
		long off = m ? (long)(m - c->msg) + c->delta : -1;

		snprintf(d, sizeof(d), "rc=-1 status=%d off=%ld", c->status, off);
		if (!CHECK(rc == -1 && strncmp(want, d, strlen(d)) == 0 && want[strlen(d)] == ' ',
			   "%s: %d at %ld", c->name, c->status, off))
			printf("       got %s\n", want);
	}
	check_split(c->name, fn, c->msg, len, c->status ? len : len - c->tail, lim, want, false);
}

#define V(n, m) { n, m, 0, 0, 0, NULL, 0, false }
#define VT(n, m, t) { n, m, 0, 0, t, NULL, 0, false }
#define VLAX(n, m) { n, m, 0, 0, 0, NULL, 0, true }
#define X(n, m, st, at, d) { n, m, 0, st, 0, at, d, false }
#define XL(n, m, l, st, at, d) { n, m, l, st, 0, at, d, false }

static const struct hcase req_cases[] = {
	V("minimal 1.1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	V("1.0 without Host", "GET /x HTTP/1.0\r\n\r\n"),
	V("curl-like", "GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n"
	  "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"),
	VLAX("bare LF endings, allowed", "GET / HTTP/1.1\nHost: a\n\n"),
	VLAX("mixed endings, allowed", "GET / HTTP/1.1\r\nHost: a\n\r\n"),
	VLAX("leading bare LF line, allowed", "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	VLAX("bare LF in long field, allowed", "GET / HTTP/1.1\r\nHost: a\r\n"
	     "X-Long: 0123456789abcdef0123456789\n\n"),
	V("leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	X("bare LF endings", "GET / HTTP/1.1\nHost: a\n\n", 400, "\nHost", 0),
	X("bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "\r\n\n", 2),
	X("mixed endings", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "a\n", 1),
	X("leading bare LF line", "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "\nGET", 0),
	X("bare LF after a long value", "GET / HTTP/1.1\r\nHost: a\r\n"
	  "X-Long: 0123456789abcdef0123456789\n\r\n", 400, "9\n", 1),
	V("absolute-form", "GET http://example.com:8080/p/q?z=1 HTTP/1.1\r\nHost: other\r\n\r\n"),
	V("absolute-form, no path", "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	V("absolute-form, query only", "GET https://e.com?a=b HTTP/1.1\r\nHost: e.com\r\n\r\n"),
	V("CONNECT authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
	V("CONNECT without Host", "CONNECT [::1]:8443 HTTP/1.1\r\n\r\n"),
	V("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
	VT("Content-Length body", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 5),
	V("equal Content-Length fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "content-length: 05\r\n\r\n"),
	V("Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 7,7\r\n\r\n"),
	V("Content-Length max", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n"),
	V("chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
	V("gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	V("TE over two fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	  "TRANSFER-ENCODING: Chunked\r\n\r\n"),
	V("TE empty elements", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n"),
	V("websocket upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
	  "Upgrade: websocket\r\n\r\n"),
	V("Connection fields", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nconnection: CLOSE\r\n\r\n"),
	V("Expect", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"),
	V("empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nY:   \r\n\r\n"),
	V("OWS, tabs and obs-text", "GET / HTTP/1.1\r\nHost: a\r\nX:  \t v\tw \xff \t \r\n\r\n"),
	VT("pipelined", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", 28),
	V("extension method", "M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n"),
	V("raw UTF-8 in path", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
	V("IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
	V("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
	V("token characters in name", "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n"),

	X("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "  /", 1),
	X("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "HTTP", 0),
	X("bad method char", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "@", 0),
	X("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, " GET", 0),
	X("tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "\t", 0),
	X("control char in target", "GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n", 400, "\x01", 0),
	X("DEL in target", "GET /a\x7fz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "\x7f", 0),
	X("fragment", "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "#", 0),
	X("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP", 0),
	X("h2 preface", "PRI * HTTP/2.0\r\n\r\n", 505, "HTTP", 0),
	X("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP", 0),
	X("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "http", 0),
	X("short version", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "HTTP", 0),
	X("long version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "HTTP", 0),
	X("HTTP/0.9 form", "GET /\r\n\r\n", 400, "\r\n\r\n", 0),
	X("method only", "GET\r\n\r\n", 400, "\r\n\r\n", 0),
	X("bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "\rHost", 0),
	X("absolute-form without Host", "GET http://a/ HTTP/1.1\r\n\r\n", 400, "\r\n\r\n", 2),
	X("missing Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "\r\n\r\n", 2),
	X("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nhost: a\r\n\r\n", 400, "host", 0),
	X("space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, " b", 0),
	X("slash in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "/b", 0),
	X("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, " :", 0),
	X("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "\t:", 0),
	X("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400, " c", 0),
	X("space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, " Host", 0),
	X("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, ": x", 0),
	X("control char in name", "GET / HTTP/1.1\r\nHost: a\r\nX\x01: y\r\n\r\n", 400, "\x01", 0),
	X("field without colon", "GET / HTTP/1.1\r\nHost: a\r\nXy\r\n\r\n", 400, "Xy", 2),
	XL("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35, 400, "X: a", 4),
	X("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, "\x7f", 0),
	X("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "\rb", 0),
	X("CR CR LF", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400, "\r\r", 0),
	X("LF inside line is a line end", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", 400, "b\r", 1),
	X("Content-Length letters", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n", 400, "a\r\n\r", 0),
	X("Content-Length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "-1", 0),
	X("Content-Length plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400, "+1", 0),
	X("Content-Length inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400, " 2", 0),
	X("Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "\r\n\r\n", 0),
	X("Content-Length empty element", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,,1\r\n\r\n", 400, ",1\r", 0),
	X("Content-Length differing list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400, "6", 0),
	X("Content-Length differing fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", 400, "6", 0),
	X("Content-Length overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
	  400, "92", 0),
	X("Content-Length huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	  400, "99", 0),
	X("TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n", 400, "Content-Length", 0),
	X("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 400, "Transfer", 0),
	X("TE gzip only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "Transfer", 0),
	X("TE chunked, gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	  400, "Transfer", 0),
	X("TE unknown", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n", 501, "foo", 0),
	X("TE unknown before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br2, chunked\r\n\r\n",
	  501, "br2", 0),
	X("TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501, "identity", 0),
	X("TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	  400, "chunked\r", 0),
	X("TE chunked in two fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 400, "chunked\r\n\r\n", 0),
	X("TE chunked with parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
	  400, ";q", 0),
	X("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400, "\r\n\r\n", 0),
	X("TE malformed", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n\r\n", 400, "x\r", 0),
	X("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer", 0),
	X("CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "/x", 0),
	X("CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400, "example", 0),
	X("CONNECT bad port", "CONNECT example.com:4x3 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "x3", 0),
	X("asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "*", 0),
	X("asterisk plus more", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "*", 0),
	X("authority-form with GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ":80", 0),
	X("relative target", "GET x/y HTTP/1.1\r\nHost: a\r\n\r\n", 400, "/y", 0),
	X("userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "@", 0),
	X("empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "/x", 0),
	X("only empty lines then garbage", "\r\n\r\n\x01\r\n\r\n", 400, "\x01", 0),
};

static const struct hcase resp_cases[] = {
	VT("200 with body", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 3),
	V("empty reason with SP", "HTTP/1.1 204 \r\n\r\n"),
	V("no SP, no reason", "HTTP/1.1 204\r\n\r\n"),
	V("HTTP/1.0", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n"),
	V("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
	V("gzip: close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
	V("unknown coding: close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, foo\r\n\r\n"),
	V("101 upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
	V("reason with tab and obs-text", "HTTP/1.1 404 Not\tFound \xe9\r\n\r\n"),
	VLAX("bare LF response, allowed", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
	X("bare LF response", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 502, "\nContent", 0),
	VT("100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 19),
	V("599", "HTTP/1.1 599 Edge\r\n\r\n"),

	X("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 502, "20", 0),
	X("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 502, "0 OK", 0),
	X("status 099", "HTTP/1.1 099 X\r\n\r\n", 502, "099", 0),
	X("status 600", "HTTP/1.1 600 X\r\n\r\n", 502, "600", 0),
	X("HTTP/2.0 status line", "HTTP/2.0 200 OK\r\n\r\n", 502, "HTTP", 0),
	X("double space", "HTTP/1.1  200 OK\r\n\r\n", 502, "  ", 1),
	X("control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 502, "\x01", 0),
	X("bad version", "HTP/1.1 200 OK\r\n\r\n", 502, "HTP", 0),
	X("no space after status", "HTTP/1.1 200OK\r\n\r\n", 502, "OK", 0),
	X("empty status line", "\r\n\r\n", 502, "\r\n", 0),
	X("TE and CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	  502, "Transfer", 0),
	X("differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 502, "2\r", 0),
	X("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,chunked\r\n\r\n", 502, "chunked\r", 0),
	X("TE in 1.0 response", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502, "Transfer", 0),
	X("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", 502, "\tb", 0),
	X("space before colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 502, " :", 0),
	X("bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 502, "\rb", 0),
};

/* ---------- field-level checks on valid heads ---------- */

struct preq {
	struct guard_buf g;
	char *buf;
	size_t len;
	struct http1_request r;
	struct http1_header h[MAXH];
	struct http1_error e;
	int rc;
};

static int preq_lim(struct preq *t, const char *msg, const struct http1_limits *lim)
{
	struct http1_parser p = HTTP1_PARSER_INIT;

	memset(t, 0, sizeof(*t));
	t->len = strlen(msg);
	t->buf = guard_copy(msg, t->len, &t->g);
	t->r.headers = t->h;
	t->rc = http1_parse_request(t->buf, t->len, &p, &t->r, lim, &t->e);
	return t->rc;
}

static int preq(struct preq *t, const char *msg)
{
	return preq_lim(t, msg, NULL);
}

static bool span_is(const char *p, size_t n, const char *s)
{
	if (!p)
		return s == NULL;
	return s && strlen(s) == n && memcmp(p, s, n) == 0;
}

#define CHECK_SPAN(p, n, s, name) do { \
	if (!CHECK(span_is(p, n, s), "%s", name)) \
		printf("       got \"%.*s\", want \"%s\"\n", (int)(p ? (n) : 4), p ? p : "NULL", \
		       s ? s : "NULL"); \
} while (0)

static void test_request_fields(void)
{
	struct preq t;

	preq(&t, "GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n"
	     "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n");
	CHECK_SPAN(t.r.method, t.r.method_len, "GET", "curl: method");
	CHECK_SPAN(t.r.target, t.r.target_len, "/index.html?x=1&y=2", "curl: target");
	CHECK_SPAN(t.r.path, t.r.path_len, "/index.html", "curl: path");
	CHECK_SPAN(t.r.query, t.r.query_len, "x=1&y=2", "curl: query");
	CHECK_SPAN(t.r.host, t.r.host_len, "example.com", "curl: host");
	CHECK_EQ_INT(t.r.minor_version, 1, "curl: minor version");
	CHECK_EQ_INT(t.r.nheaders, 3, "curl: 3 fields");
	CHECK_SPAN(t.r.headers[1].name, t.r.headers[1].name_len, "User-Agent", "curl: field name");
	CHECK_SPAN(t.r.headers[1].value, t.r.headers[1].value_len, "curl/7.88.1", "curl: field value");
	CHECK_SPAN(t.r.headers[1].line, t.r.headers[1].line_len, "User-Agent: curl/7.88.1\r\n",
		   "curl: field line with CRLF");
	CHECK(t.r.framing.content_length == -1 && !t.r.framing.chunked && !t.r.framing.bare_lf,
	      "curl: no body, CRLF only");
	CHECK_EQ_INT(t.r.head_len, t.len, "curl: head_len");
	guard_free(&t.g);

	preq(&t, "GET /x HTTP/1.0\r\n\r\n");
	CHECK(t.rc > 0 && t.r.host == NULL && t.r.minor_version == 0 && t.r.query == NULL,
	      "1.0: no host, minor 0, no query");
	guard_free(&t.g);

	preq(&t, "GET http://example.com:8080/p/q?z=1 HTTP/1.1\r\nHost: other\r\n\r\n");
	CHECK_SPAN(t.r.host, t.r.host_len, "example.com:8080", "absolute-form: host from target");
	CHECK_SPAN(t.r.path, t.r.path_len, "/p/q", "absolute-form: path");
	CHECK_SPAN(t.r.query, t.r.query_len, "z=1", "absolute-form: query");
	guard_free(&t.g);

	preq(&t, "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
	CHECK(t.r.path_len == 0 && t.r.path == t.r.target + t.r.target_len,
	      "absolute-form without path: empty path at the end of the target");
	CHECK(t.r.query == NULL, "absolute-form without path: no query");
	guard_free(&t.g);

	preq(&t, "GET https://e.com?a=b HTTP/1.1\r\nHost: e.com\r\n\r\n");
	CHECK(t.r.path_len == 0 && t.r.path && *t.r.path == '?',
	      "absolute-form query only: empty path, in the buffer");
	CHECK_SPAN(t.r.query, t.r.query_len, "a=b", "absolute-form query only: query");
	guard_free(&t.g);

	preq(&t, "CONNECT [::1]:8443 HTTP/1.1\r\n\r\n");
	CHECK_SPAN(t.r.host, t.r.host_len, "[::1]:8443", "CONNECT: host is the authority");
	CHECK_EQ_INT(t.r.path_len, 0, "CONNECT: empty path");
	guard_free(&t.g);

	preq(&t, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK_SPAN(t.r.path, t.r.path_len, "*", "OPTIONS *: path *");
	guard_free(&t.g);

	preq(&t, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(t.rc == (int)t.len && t.r.method == t.buf + 4 && !t.r.framing.bare_lf,
	      "leading empty lines skipped, counted in head_len");
	guard_free(&t.g);

	preq_lim(&t, "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &lax_limits);
	CHECK(t.rc == (int)t.len && t.r.method == t.buf + 3 && t.r.framing.bare_lf,
	      "allow_bare_lf: leading bare LF line skipped and flagged");
	guard_free(&t.g);

	preq_lim(&t, "GET / HTTP/1.1\nHost: a\n\n", &lax_limits);
	CHECK(t.rc > 0 && t.r.framing.bare_lf && t.r.headers[0].line_len == 8,
	      "allow_bare_lf: accepted, flagged, line_len counts the LF");
	CHECK_SPAN(t.r.host, t.r.host_len, "a", "allow_bare_lf: host");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\nHost: a\n\n");
	CHECK(t.rc == -1 && t.e.status == 400 && t.e.offset == 14 && t.e.reason &&
	      strstr(t.e.reason, "CRLF"), "bare LF rejected by default, with a reason naming CRLF");
	guard_free(&t.g);

	preq(&t, "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
	CHECK(t.rc == (int)t.len - 5 && t.r.framing.content_length == 5 && !t.r.framing.chunked,
	      "Content-Length: 5, head ends before the body");
	guard_free(&t.g);

	preq(&t, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 7,7\r\n\r\n");
	CHECK_EQ_INT(t.r.framing.content_length, 7, "Content-Length list of equal values");
	guard_free(&t.g);

	preq(&t, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
	CHECK(t.r.framing.content_length == INT64_MAX, "Content-Length INT64_MAX");
	guard_free(&t.g);

	preq(&t, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	     "TRANSFER-ENCODING: Chunked\r\n\r\n");
	CHECK(t.rc > 0 && t.r.framing.chunked && t.r.framing.content_length == -1,
	      "TE over two fields ends in chunked");
	guard_free(&t.g);

	preq(&t, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
	     "Upgrade: websocket\r\n\r\n");
	CHECK(t.r.framing.conn_keep_alive && t.r.framing.conn_upgrade && t.r.framing.has_upgrade &&
	      !t.r.framing.conn_close, "Connection: keep-alive, Upgrade + Upgrade field");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nconnection: CLOSE\r\n\r\n");
	CHECK(t.r.framing.conn_close && !t.r.framing.conn_keep_alive && !t.r.framing.has_upgrade,
	      "Connection close from the second field, any case");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n");
	CHECK(!t.r.framing.conn_close, "Connection: closed/xclose is not close");
	guard_free(&t.g);

	preq(&t, "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
	CHECK(t.r.framing.expect_continue, "Expect: 100-Continue (any case)");
	guard_free(&t.g);

	preq(&t, "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	CHECK(t.rc > 0 && !t.r.framing.expect_continue, "Expect ignored in HTTP/1.0");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nY:   \r\n\r\n");
	CHECK(t.r.nheaders == 3 && t.r.headers[1].value_len == 0 && t.r.headers[2].value_len == 0,
	      "empty values");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\r\nHost: a\r\nX:  \t v\tw \xff \t \r\n\r\n");
	CHECK_SPAN(t.r.headers[1].value, t.r.headers[1].value_len, "v\tw \xff", "OWS trimmed");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef0123456789abcdef\t!\r\n\r\n");
	CHECK_SPAN(t.r.headers[1].value, t.r.headers[1].value_len,
		   "0123456789abcdef0123456789abcdef\t!", "tab after 8-byte blocks accepted");
	guard_free(&t.g);

	preq(&t, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef0123456789abcdef\x1f!\r\n\r\n");
	CHECK(t.rc == -1 && t.e.offset == t.len - 6, "control char after 8-byte blocks rejected");
	guard_free(&t.g);

	preq(&t, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n");
	CHECK(t.rc == 28 && t.r.head_len == 28 && t.r.nheaders == 1, "pipelined: first head only");
	CHECK_SPAN(t.r.host, t.r.host_len, "a", "pipelined: first host");
	if (t.rc == 28) {
		struct http1_parser p = HTTP1_PARSER_INIT;
		struct http1_request r2;
		struct http1_header h2[4];
		int rc;

		memset(&r2, 0, sizeof(r2));
		r2.headers = h2;
		rc = http1_parse_request(t.buf + 28, t.len - 28, &p, &r2, NULL, NULL);
		CHECK(rc == 28 && span_is(r2.path, r2.path_len, "/2") &&
		      span_is(r2.host, r2.host_len, "b"), "pipelined: second head from the rest");
	}
	guard_free(&t.g);
}

static void test_response_fields(void)
{
	struct http1_parser p = HTTP1_PARSER_INIT;
	struct http1_header h[8];
	struct http1_response r;
	struct http1_error e;
	struct guard_buf g;
	const char *m = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
	char *b = guard_copy(m, strlen(m), &g);
	int rc;

	memset(&r, 0, sizeof(r));
	r.headers = h;
	rc = http1_parse_response(b, strlen(m), &p, &r, NULL, &e);
	CHECK(rc == (int)strlen(m) - 3 && r.status == 404 && r.minor_version == 1,
	      "response: status 404, head before body");
	CHECK_SPAN(r.reason, r.reason_len, "Not Found", "response: reason");
	CHECK(r.framing.content_length == 3 && r.framing.conn_close && r.nheaders == 2,
	      "response: CL 3, close");
	guard_free(&g);

	m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
	b = guard_copy(m, strlen(m), &g);
	memset(&p, 0, sizeof(p));
	rc = http1_parse_response(b, strlen(m), &p, &r, NULL, &e);
	CHECK(rc > 0 && !r.framing.chunked && r.framing.content_length == -1,
	      "response: TE gzip is close-delimited");
	guard_free(&g);

	m = "HTTP/1.1 204\r\n\r\n";
	b = guard_copy(m, strlen(m), &g);
	memset(&p, 0, sizeof(p));
	rc = http1_parse_response(b, strlen(m), &p, &r, NULL, &e);
	CHECK(rc > 0 && r.status == 204 && r.reason_len == 0, "response: 204 without reason");
	guard_free(&g);
}

/* ---------- limits ---------- */

static char *build_head(size_t *out_len, const char *line1_fill, size_t fill, size_t nfields,
			size_t field_fill, size_t last_fill)
{
	size_t cap = 256 + fill + nfields * (field_fill + 16) + last_fill, o = 0, i;
	char *m = malloc(cap);

	o += (size_t)sprintf(m + o, "GET /%s", line1_fill);
	memset(m + o, 'a', fill);
	o += fill;
	o += (size_t)sprintf(m + o, " HTTP/1.1\r\nHost: h\r\n");
	for (i = 0; i < nfields; i++) {
		o += (size_t)sprintf(m + o, "X%03zu: ", i);
		memset(m + o, 'v', field_fill);
		o += field_fill;
		m[o++] = '\r';
		m[o++] = '\n';
	}
	if (last_fill) {
		o += (size_t)sprintf(m + o, "Z: ");
		memset(m + o, 'z', last_fill);
		o += last_fill;
		m[o++] = '\r';
		m[o++] = '\n';
	}
	m[o++] = '\r';
	m[o++] = '\n';
	*out_len = o;
	return m;
}

static void limit_case(const char *name, const char *m, size_t len,
		       const struct http1_limits *lim, int status, long off)
{
	static char d[DIG], want[DIG];
	int rc = run_guarded(run_req, m, len, lim, d);

	if (status == 0) {
		if (!CHECK(rc == (int)len, "%s: passes", name))
			printf("       got %s\n", d);
	} else {
		snprintf(want, sizeof(want), "rc=-1 status=%d off=%ld ", status, off);
		if (!CHECK(rc == -1 && strncmp(d, want, strlen(want)) == 0, "%s: %d at %ld", name,
			   status, off))
			printf("       got %s\n", d);
	}
	check_split(name, run_req, m, len, status ? len : len, lim, d, status != 0);
}

static void test_limits(void)
{
	const struct http1_limits small = { 40, 30, 200, 3, false };
	size_t len;
	char *m;

	/*
	 * Small limits, fed every way. The request line "GET /<fill> HTTP/1.1" is 14 + fill
	 * bytes; "Host: h\r\n" follows at 16 + fill, so with no fill the fields start at 25
	 * and a field line "X000: <fill>" is 6 + fill bytes.
	 */
	m = build_head(&len, "", 26, 0, 0, 0);
	limit_case("start line at limit", m, len, &small, 0, 0);
	free(m);
	m = build_head(&len, "", 27, 0, 0, 0);
	limit_case("start line one over", m, len, &small, 414, 40);
	free(m);
	m = build_head(&len, "", 0, 1, 24, 0);
	limit_case("field line at limit", m, len, &small, 0, 0);
	free(m);
	m = build_head(&len, "", 0, 1, 25, 0);
	limit_case("field line one over", m, len, &small, 431, 25 + 30);
	free(m);
	m = build_head(&len, "", 0, 2, 1, 0);
	limit_case("fields at limit (Host + 2)", m, len, &small, 0, 0);
	free(m);
	m = build_head(&len, "", 0, 3, 1, 0);
	limit_case("fields one over", m, len, &small, 431, 25 + 2 * 9);
	free(m);
	/* head: 25 + "Z: " + fill + CRLF + CRLF = 32 + fill */
	{
		struct http1_limits hl = { 40, 300, 200, 3, false };

		m = build_head(&len, "", 0, 0, 0, 168);
		limit_case("head at limit", m, len, &hl, 0, 0);
		free(m);
		m = build_head(&len, "", 0, 0, 0, 169);
		limit_case("head one over", m, len, &hl, 431, 200);
		free(m);
	}

	/* the defaults: 8 KiB lines, 64 KiB head, 100 fields */
	m = build_head(&len, "", 8192 - 14, 0, 0, 0);
	limit_case("default start line 8192", m, len, NULL, 0, 0);
	free(m);
	m = build_head(&len, "", 8192 - 13, 0, 0, 0);
	limit_case("default start line 8193", m, len, NULL, 414, 8192);
	free(m);
	m = build_head(&len, "", 0, 1, 8192 - 6, 0);
	limit_case("default field line 8192", m, len, NULL, 0, 0);
	free(m);
	m = build_head(&len, "", 0, 1, 8192 - 5, 0);
	limit_case("default field line 8193", m, len, NULL, 431, 25 + 8192);
	free(m);
	m = build_head(&len, "", 0, 99, 1, 0);
	limit_case("default 100 fields", m, len, NULL, 0, 0);
	free(m);
	m = build_head(&len, "", 0, 100, 1, 0);
	limit_case("default 101 fields", m, len, NULL, 431, 25 + 99 * 9);
	free(m);
	/* 64 KiB head: 14 + 9 + 9 fields of (6 + 7000 + 2) + "Z: " + f + 2 + 2 */
	m = build_head(&len, "", 0, 9, 7000, 0);
	{
		size_t base = len, f = 65536 - base - 5;

		free(m);
		m = build_head(&len, "", 0, 9, 7000, f);
		limit_case("default head 65536", m, len, NULL, 0, 0);
		free(m);
		m = build_head(&len, "", 0, 9, 7000, f + 1);
		limit_case("default head 65537", m, len, NULL, 431, 65536);
		free(m);
	}

	/* response limits answer 502 */
	{
		static char d[DIG];
		const struct http1_limits rl = { 20, 30, 200, 3, false };
		const char *r1 = "HTTP/1.1 200 OK12345\r\n\r\n";	/* 20 */
		const char *r2 = "HTTP/1.1 200 OK123456\r\n\r\n";	/* 21 */

		CHECK(run_guarded(run_resp, r1, strlen(r1), &rl, d) > 0, "response status line at limit");
		run_guarded(run_resp, r2, strlen(r2), &rl, d);
		CHECK(strncmp(d, "rc=-1 status=502 off=20 ", 24) == 0, "response status line over: 502");
	}
}

/* ---------- chunked scanner ---------- */

/* Scan msg whole: returns the body length found, -1, or -2 if not done at the end. */
static ssize_t chunk_whole(const char *msg, size_t len)
{
	struct http1_chunked st = HTTP1_CHUNKED_INIT;
	struct guard_buf g;
	char *b = guard_copy(msg, len, &g);
	ssize_t n = http1_chunked_scan(&st, b, len);

	guard_free(&g);
	if (n >= 0 && !st.done)
		return -2;
	return n;
}

/* Byte at a time and split at every byte must agree with the whole scan. */
static bool chunk_pieces(const char *msg, size_t len, ssize_t want)
{
	struct http1_chunked st = HTTP1_CHUNKED_INIT;
	size_t k, total = 0;
	ssize_t n;

	for (k = 0; k < len && !st.done; k++) {
		n = http1_chunked_scan(&st, msg + k, 1);
		if (n < 0)
			return want == -1;
		if (n != 1)
			return false;
		total++;
	}
	if (want == -1 || (ssize_t)total != want || !st.done)
		return false;
	for (k = 0; k <= len; k++) {
		struct http1_chunked s2 = HTTP1_CHUNKED_INIT;
		ssize_t a = http1_chunked_scan(&s2, msg, k), b2;

		if (a < 0)
			return false;
		if (s2.done) {
			if (a != want)
				return false;
			continue;
		}
		if (a != (ssize_t)k)
			return false;
		b2 = http1_chunked_scan(&s2, msg + k, len - k);
		if (b2 < 0 || a + b2 != want || !s2.done)
			return false;
	}
	return true;
}

struct ccase {
	const char *name;
	const char *msg;
	ssize_t want;		/* body length, or -1 */
};

static void test_chunked(void)
{
	static const struct ccase cases[] = {
		{ "simple", "5\r\nhello\r\n0\r\n\r\n", 15 },
		{ "two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 26 },
		{ "bytes after the end", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 15 },
		{ "extensions", "5;foo=bar\r\nhello\r\n0;x;y=\"q;r\"\r\n\r\n", 33 },
		{ "BWS before extension", "5 \t;a\r\nhello\r\n0\r\n\r\n", 19 },
		{ "trailers", "5\r\nhello\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", 27 },
		{ "hex digits both cases", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", 35 },
		{ "leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 20 },
		{ "empty body", "0\r\n\r\n", 5 },
		{ "CRLF in data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 14 },
		{ "empty size", "\r\nhello\r\n0\r\n\r\n", -1 },
		{ "non-hex size", "g\r\n", -1 },
		{ "0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", -1 },
		{ "negative size", "-5\r\n", -1 },
		{ "leading space", " 5\r\nhello\r\n0\r\n\r\n", -1 },
		{ "space without extension", "5 \r\nhello\r\n0\r\n\r\n", -1 },
		{ "bare LF after size", "5\nhello\r\n0\r\n\r\n", -1 },
		{ "bare CR after size", "5\rhello\r\n0\r\n\r\n", -1 },
		{ "data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", -1 },
		{ "bare LF after data", "5\r\nhello\n0\r\n\r\n", -1 },
		{ "control char in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", -1 },
		{ "trailer without colon", "0\r\nX\r\n\r\n", -1 },
		{ "trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", -1 },
		{ "trailer empty name", "0\r\n: a\r\n\r\n", -1 },
		{ "trailer control char", "0\r\nX: a\x7f\r\n\r\n", -1 },
		{ "final bare LF", "0\r\n\n", -1 },
		{ "final CR CR", "0\r\n\r\r", -1 },
		{ "15 hex digits", "fffffffffffffff\r\n", -2 },
		{ "16 hex digits", "ffffffffffffffff\r\n", -1 },
		{ "17 digits with leading 1", "10000000000000000\r\n", -1 },
		{ "many leading zeros", "00000000000000000000000000005\r\nhello\r\n0\r\n\r\n", 43 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ccase *c = &cases[i];
		size_t len = strlen(c->msg);
		ssize_t n = chunk_whole(c->msg, len);

		if (!CHECK(n == c->want, "chunked %s: %zd", c->name, c->want))
			printf("       got %zd\n", n);
		if (c->want != -2)
			CHECK(chunk_pieces(c->msg, len, c->want), "chunked %s: byte at a time and split",
			      c->name);
	}

	{
		struct http1_chunked st = HTTP1_CHUNKED_INIT;
		const char *m = "fffffffffffffff\r\n";
		ssize_t n = http1_chunked_scan(&st, m, strlen(m));

		CHECK(n == (ssize_t)strlen(m) && st.remaining == 0xfffffffffffffffULL && !st.done,
		      "chunked: 15-digit size parsed exactly");
		n = http1_chunked_scan(&st, "abc", 3);
		CHECK(n == 3 && st.remaining == 0xfffffffffffffffULL - 3, "chunked: data counts down");
	}
	{
		struct http1_chunked st = HTTP1_CHUNKED_INIT;
		const char *m = "5\r\nhello\r\n0\r\n\r\nXYZ";
		ssize_t n = http1_chunked_scan(&st, m, strlen(m));

		CHECK(n == 15 && st.done, "chunked: done, stops before the next message");
		CHECK(http1_chunked_scan(&st, "XYZ", 3) == 0, "chunked: after done, 0");
	}
	{
		struct http1_chunked st = HTTP1_CHUNKED_INIT;

		CHECK(http1_chunked_scan(&st, "z", 1) == -1 && http1_chunked_scan(&st, "5\r\n", 3) == -1,
		      "chunked: error is sticky");
	}
	{
		/* size line with extensions at and over the cap */
		size_t cap = HTTP1_CHUNKED_MAX_LINE, len;
		char *m = malloc(cap + 64);

		m[0] = '1';
		m[1] = ';';
		memset(m + 2, 'e', cap - 4);
		memcpy(m + cap - 2, "\r\nx\r\n0\r\n\r\n", 11);
		len = cap - 2 + 10;
		CHECK(chunk_whole(m, len) == (ssize_t)len, "chunked: size line at the cap passes");
		memset(m + 2, 'e', cap - 3);
		memcpy(m + cap - 1, "\r\nx\r\n0\r\n\r\n", 11);
		CHECK(chunk_whole(m, cap - 1 + 10) == -1, "chunked: size line over the cap fails");
		free(m);
	}
	{
		/* trailers at and over the cap: "0\r\n" then "T: vvv\r\n" ... "\r\n" */
		size_t cap = HTTP1_CHUNKED_MAX_TRAILERS, len;
		char *m = malloc(cap + 64);

		memcpy(m, "0\r\nT: ", 6);
		memset(m + 6, 'v', cap - 7);
		memcpy(m + cap - 1, "\r\n\r\n", 4);
		len = cap + 3;
		CHECK(chunk_whole(m, len) == (ssize_t)len, "chunked: trailers at the cap pass");
		memset(m + 6, 'v', cap - 6);
		memcpy(m + cap, "\r\n\r\n", 4);
		CHECK(chunk_whole(m, cap + 4) == -1, "chunked: trailers over the cap fail");
		free(m);
	}
	{
		/* a large body fed in uneven pieces */
		struct http1_chunked st = HTTP1_CHUNKED_INIT;
		size_t blen = 3 * 100000 + 64, o = 0, k, total = 0;
		char *m = malloc(blen);
		ssize_t n = 0;

		for (k = 0; k < 3; k++) {
			o += (size_t)sprintf(m + o, "%x\r\n", 99990);
			memset(m + o, 'd', 99990);
			o += 99990;
			m[o++] = '\r';
			m[o++] = '\n';
		}
		o += (size_t)sprintf(m + o, "0\r\n\r\n");
		for (k = 0; k < o && !st.done; k += 997) {
			n = http1_chunked_scan(&st, m + k, o - k < 997 ? o - k : 997);
			if (n < 0)
				break;
			total += (size_t)n;
		}
		CHECK(n >= 0 && st.done && total == o, "chunked: 300 KB body in 997-byte pieces");
		free(m);
	}
}

/* ---------- mutated heads: the split must never change the outcome ---------- */

static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/*
 * Mutate valid heads (replace, insert, delete bytes from a set that matters to the grammar),
 * parse each whole behind a guard page, one byte at a time and in two random pieces, with
 * the default limits, small limits and allow_bare_lf: the three digests must agree.
 */
static void test_mutations(void)
{
	static const char *seeds[] = {
		"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\n"
		"Accept: */*\r\nConnection: keep-alive, Upgrade\r\nUpgrade: ws\r\n\r\n",
		"POST http://a.b:80/p HTTP/1.1\r\nHost: a.b\r\nContent-Length: 12\r\n"
		"Transfer-Encoding: gzip, chunked\r\nExpect: 100-continue\r\n\r\n",
		"CONNECT h:443 HTTP/1.0\r\nX-Long-Header-Name-Here: 0123456789abcdef0123456789\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nTransfer-Encoding: chunked\r\nX: \t y \r\n\r\n",
	};
	static const char bytes[] = "\r\n \t:\0\x7f\x80" "a,/?#;\"-";
	static const struct http1_limits tiny = { 30, 40, 120, 3, false };
	static char d1[DIG], d2[DIG], d3[DIG];
	unsigned long runs = 0, mismatches = 0, parsed = 0, invalid = 0;
	char m[512];
	size_t iter;

	for (iter = 0; iter < 3000; iter++) {
		const char *seed = seeds[iter % 5];
		bool resp = seed[0] == 'H';
		parse_fn fn = resp ? run_resp : run_req;
		const struct http1_limits *lim = iter % 3 == 0 ? NULL :
						 iter % 3 == 1 ? &tiny : &lax_limits;
		size_t len = strlen(seed), k, nmut = 1 + rng() % 3, cut;
		struct http1_parser p = HTTP1_PARSER_INIT;
		struct guard_buf g;
		char *b;
		int rc1, rc2 = -2, rc3;

		memcpy(m, seed, len);
		for (k = 0; k < nmut; k++) {
			size_t at = rng() % len;
			char c = bytes[rng() % (sizeof(bytes) - 1)];

			switch (rng() % 3) {
			case 0:
				m[at] = c;
				break;
			case 1:
				if (len + 1 < sizeof(m)) {
					memmove(m + at + 1, m + at, len - at);
					m[at] = c;
					len++;
				}
				break;
			default:
				if (len > 1) {
					memmove(m + at, m + at + 1, len - at - 1);
					len--;
				}
				break;
			}
		}
		b = guard_copy(m, len, &g);
		rc1 = fn(b, len, &p, lim, d1, DIG);
		guard_free(&g);

		/* one byte at a time, stopping at the first answer */
		memset(&p, 0, sizeof(p));
		for (k = 1; k <= len && rc2 == -2; k++) {
			b = guard_copy(m, k, &g);
			rc2 = fn(b, k, &p, lim, d2, DIG);
			guard_free(&g);
		}
		/* two pieces */
		memset(&p, 0, sizeof(p));
		cut = rng() % (len + 1);
		b = guard_copy(m, cut, &g);
		rc3 = fn(b, cut, &p, lim, d3, DIG);
		guard_free(&g);
		if (rc3 == -2) {
			b = guard_copy(m, len, &g);
			rc3 = fn(b, len, &p, lim, d3, DIG);
			guard_free(&g);
		}
		runs++;
		if (rc1 > 0)
			parsed++;
		else if (rc1 == -1)
			invalid++;
		/* a prefix may end at an earlier head of a pipelined stream only if the whole
		 * parse stopped there too; compare the digests */
		if (rc1 != -2 && (strcmp(d1, d2) != 0 || strcmp(d1, d3) != 0)) {
			if (mismatches++ < 3)
				printf("       mismatch on \"%.*s\"\n         whole %s\n         bytes %s\n"
				       "         split@%zu %s\n", (int)len, m, d1, d2, cut, d3);
		}
	}
	CHECK(mismatches == 0, "mutations: %lu heads (%lu valid, %lu invalid): whole, byte at a "
	      "time and two pieces agree", runs, parsed, invalid);
	CHECK(parsed > 100 && invalid > 1000, "mutations: both outcomes well represented");
}

/* ---------- helpers ---------- */

static void test_helpers(void)
{
	struct http1_header h[3] = {
		{ "Host", 4, "a", 1, NULL, 0 },
		{ "X-Forwarded-For", 15, "1.2.3.4", 7, NULL, 0 },
		{ "x-forwarded-for", 15, "5.6.7.8", 7, NULL, 0 },
	};
	const char *v = "keep-alive ,\tUpgrade, , x";

	CHECK(http1_find_header(h, 3, "x-FORWARDED-for") == &h[1], "find_header: first match, any case");
	CHECK(http1_find_header(h, 3, "X-Forwarded") == NULL, "find_header: prefix is no match");
	CHECK(http1_find_header(h, 0, "Host") == NULL, "find_header: empty array");
	CHECK(http1_token_list_has(v, strlen(v), "upgrade"), "token_list_has: middle, any case");
	CHECK(http1_token_list_has(v, strlen(v), "KEEP-ALIVE"), "token_list_has: first");
	CHECK(http1_token_list_has(v, strlen(v), "x"), "token_list_has: last");
	CHECK(!http1_token_list_has(v, strlen(v), "keep"), "token_list_has: no prefix match");
	CHECK(!http1_token_list_has(v, strlen(v), "close"), "token_list_has: absent");
	CHECK(!http1_token_list_has(v, 10, "Upgrade"), "token_list_has: stays within len");
	CHECK(!http1_token_list_has("", 0, "close"), "token_list_has: empty value");
	CHECK(!http1_response_has_body("HEAD", 4, 200), "has_body: HEAD");
	CHECK(!http1_response_has_body("GET", 3, 101), "has_body: 1xx");
	CHECK(!http1_response_has_body("GET", 3, 204), "has_body: 204");
	CHECK(!http1_response_has_body("GET", 3, 304), "has_body: 304");
	CHECK(!http1_response_has_body("CONNECT", 7, 200), "has_body: CONNECT 2xx");
	CHECK(http1_response_has_body("CONNECT", 7, 407), "has_body: CONNECT 407");
	CHECK(http1_response_has_body("GET", 3, 200), "has_body: GET 200");
	CHECK(http1_response_has_body("POST", 4, 500), "has_body: POST 500");
	CHECK(http1_default_limits.max_start_line == 8192 && http1_default_limits.max_header_line == 8192 &&
	      http1_default_limits.max_head == 65536 && http1_default_limits.max_headers == 100,
	      "default limits");
}

int main(void)
{
	size_t i;

	unit_begin("http1");
	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++)
		run_case(&req_cases[i], run_req);
	for (i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++)
		run_case(&resp_cases[i], run_resp);
	test_request_fields();
	test_response_fields();
	test_limits();
	test_chunked();
	test_mutations();
	test_helpers();
	return unit_done();
}
