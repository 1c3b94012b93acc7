// SPDX-License-Identifier: MIT
/*
 * http1: strict RFC 9112 parser for HTTP/1.x request and response heads, and a scanner that
 * finds where a chunked body ends. Nothing is copied or allocated: results point into the
 * caller's buffer, so unchanged field lines can be forwarded verbatim.
 *
 * A head that arrives whole is read once: each line is validated as its end is found
 * (names, values and the target 16 bytes at a time with SSE2, values 8 at a time without;
 * framing fields are picked out by length). When it arrives in pieces, later calls only resume the search for its end
 * (memchr, state in struct http1_parser) and it is validated once, when complete. Size
 * limits are enforced line by line in stream order and reported as soon as they are
 * certain; other faults only once the empty line is there, so the outcome does not depend
 * on how the bytes were split. Bare LF is refused by default, because callers forward
 * field lines verbatim (http1_limits.allow_bare_lf).
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "http1.h"

const struct http1_limits http1_default_limits = {
	.max_start_line = 8192,
	.max_header_line = 8192,
	.max_head = 65536,
	.max_headers = 100,
};

/* Character classes, one table so each hot loop is a load and a test per byte. */
#define C_TCHAR  0x01	/* token character (RFC 9110 5.6.2) */
#define C_VALUE  0x02	/* field-value / reason-phrase byte: HTAB, SP, VCHAR, obs-text */
#define C_TARGET 0x04	/* request-target byte: VCHAR but '#', obs-text (as Go accepts) */
#define C_HOST   0x08	/* uri-host [":" port]: unreserved, sub-delims, ":", "[]", "%" */
#define C_HEX    0x10

#define IS_ALNUM(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z') || \
		     ((c) >= 'A' && (c) <= 'Z'))
#define IS_TCHAR(c) (IS_ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || \
		     (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || \
		     (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || \
		     (c) == '~')
#define IS_VALUE(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
#define IS_TARGET(c) ((c) > 0x20 && (c) != 0x7f && (c) != '#')
#define IS_HOST(c) (IS_ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' || \
		    (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || \
		    (c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || \
		    (c) == '=' || (c) == ':' || (c) == '[' || (c) == ']' || (c) == '%')
#define IS_HEX(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'f') || \
		   ((c) >= 'A' && (c) <= 'F'))
#define CT(c) ((IS_TCHAR(c) ? C_TCHAR : 0) | (IS_VALUE(c) ? C_VALUE : 0) | \
	       (IS_TARGET(c) ? C_TARGET : 0) | (IS_HOST(c) ? C_HOST : 0) | (IS_HEX(c) ? C_HEX : 0))
#define CT4(c) CT(c), CT((c) + 1), CT((c) + 2), CT((c) + 3)
#define CT16(c) CT4(c), CT4((c) + 4), CT4((c) + 8), CT4((c) + 12)
#define CT64(c) CT16(c), CT16((c) + 16), CT16((c) + 32), CT16((c) + 48)

static const unsigned char ctab[256] = { CT64(0), CT64(64), CT64(128), CT64(192) };

#define CLS(c, m) (ctab[(unsigned char)(c)] & (m))

/* Fail with a status, the offset of the offending byte and a static reason. */
#define FAIL(st_, off_, why_) do { \
	err->status = (st_); err->offset = (size_t)(off_); err->reason = (why_); \
	return -1; \
} while (0)

/* Lowercase comparison of a validated token with a lowercase literal of the same length. */
static inline bool tok_eq(const char *s, const char *lit, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((s[i] | 0x20) != lit[i])
			return false;
	return true;
}

static inline bool ci_eq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x |= 0x20;
		if (y >= 'A' && y <= 'Z')
			y |= 0x20;
		if (x != y)
			return false;
	}
	return true;
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Next element of a comma-separated list in [*pos, end): OWS trimmed, may be empty.
 * Returns false when the list is exhausted (*pos becomes NULL after the last element).
 */
static bool list_next(const char **pos, const char *end, const char **el, size_t *el_len)
{
	const char *p = *pos, *e, *comma;

	if (!p)
		return false;
	comma = memchr(p, ',', (size_t)(end - p));
	e = comma ? comma : end;
	*pos = comma ? comma + 1 : NULL;
	while (p < e && is_ows(*p))
		p++;
	while (e > p && is_ows(e[-1]))
		e--;
	*el = p;
	*el_len = (size_t)(e - p);
	return true;
}

static const char *bad_char(char c, const char *why)
{
	if (c == '\r')
		return "bare CR (CR not followed by LF)";
	if (c == '\0')
		return "NUL byte in head";
	return why;
}

/* Everything a head pass accumulates besides the caller-visible fields. */
struct head_acc {
	bool request;
	int bad;		/* 400 for requests, 502 for responses */
	const char *method;
	size_t method_len;
	int minor;
	struct http1_header *headers;
	size_t nheaders;
	struct http1_framing fr;
	const char *host;	/* Host field value */
	size_t host_len;
	unsigned host_count;
	bool authority_host;	/* host came from the request-target */
	bool connect;		/* method is CONNECT */
	bool cl_seen;
	size_t cl_off;
	bool te_seen;
	size_t te_off;		/* start of the last Transfer-Encoding field line */
	bool te_chunked_last;
	bool te_unknown;
	size_t te_unknown_off;
	bool expect_continue;
	size_t bare_lf_off;	/* the first LF without CR */
};

static inline void note_bare_lf(struct head_acc *acc, size_t off)
{
	if (!acc->fr.bare_lf) {
		acc->fr.bare_lf = true;
		acc->bare_lf_off = off;
	}
}

/* "HTTP/d.d" -> minor (0 or 1); -505 for another well-formed version; -400 malformed. */
static int parse_version(const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return -400;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return -505;
	return v[7] - '0';
}

static int parse_request_line(const char *buf, size_t ls, size_t le, struct http1_request *req,
			      struct head_acc *acc, struct http1_error *err)
{
	static const char bad_form[] =
		"request-target is not origin-, absolute-, authority- or asterisk-form";
	const char *b = buf + ls, *e = buf + le, *q = b, *t, *te, *v, *x;
	int minor;

	while (q < e && CLS(*q, C_TCHAR))
		q++;
	if (q == b)
		FAIL(400, q - buf, q < e ? bad_char(*q, "invalid character in method") :
		     "empty request line");
	if (q == e)
		FAIL(400, q - buf, "request line ends after the method");
	if (*q != ' ')
		FAIL(400, q - buf, bad_char(*q, "invalid character in method"));
	req->method = b;
	req->method_len = (size_t)(q - b);
	acc->method = b;
	acc->method_len = req->method_len;

	t = ++q;
	while (q < e && CLS(*q, C_TARGET))
		q++;
	if (q == t)
		FAIL(400, q - buf, q < e && *q == ' ' ? "empty request-target (double space)" :
		     q < e ? bad_char(*q, "invalid character in request-target") :
		     "empty request-target");
	if (q == e)
		FAIL(400, q - buf, "no HTTP version (HTTP/0.9 is not supported)");
	if (*q != ' ')
		FAIL(400, q - buf, *q == '#' ? "fragment in request-target" :
		     bad_char(*q, "invalid character in request-target"));
	te = q;
	req->target = t;
	req->target_len = (size_t)(te - t);

	v = q + 1;
	minor = parse_version(v, (size_t)(e - v));
	if (minor == -505)
		FAIL(505, v - buf, "HTTP version not supported (only HTTP/1.0 and HTTP/1.1)");
	if (minor < 0) {
		x = memchr(v, '\r', (size_t)(e - v));
		FAIL(400, (x ? x : v) - buf, x ? bad_char(*x, "") : "malformed HTTP version");
	}
	req->minor_version = minor;
	acc->minor = minor;

	req->query = NULL;
	req->query_len = 0;
	if (*t == '/') {
		if (req->method_len == 7 && memcmp(b, "CONNECT", 7) == 0)
			FAIL(400, t - buf, "CONNECT needs an authority-form target (host:port)");
		x = memchr(t, '?', (size_t)(te - t));
		req->path = t;
		req->path_len = (size_t)((x ? x : te) - t);
		if (x) {
			req->query = x + 1;
			req->query_len = (size_t)(te - x - 1);
		}
		return 0;
	}
	if (*t == '*') {
		if (te - t != 1)
			FAIL(400, t - buf, "invalid request-target");
		if (req->method_len != 7 || memcmp(b, "OPTIONS", 7) != 0)
			FAIL(400, t - buf, "asterisk-form target is only for OPTIONS");
		req->path = t;
		req->path_len = 1;
		return 0;
	}
	if (req->method_len == 7 && memcmp(b, "CONNECT", 7) == 0) {
		/* authority-form: uri-host ":" port, nothing else */
		const char *colon = NULL;

		for (q = t; q < te; q++) {
			if (*q == ':')
				colon = q;
			else if (!CLS(*q, C_HOST))
				FAIL(400, q - buf, "invalid character in CONNECT authority");
		}
		if (!colon || colon == t || colon + 1 == te)
			FAIL(400, t - buf, "CONNECT target must be host:port");
		for (q = colon + 1; q < te; q++)
			if (*q < '0' || *q > '9')
				FAIL(400, q - buf, "CONNECT target must be host:port");
		req->host = t;
		req->host_len = req->target_len;
		acc->authority_host = true;
		acc->connect = true;
		req->path = te;
		req->path_len = 0;
		return 0;
	}
	/* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
	q = t;
	if (!((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
		FAIL(400, t - buf, bad_form);
	while (q < te && (IS_ALNUM(*q) || *q == '+' || *q == '-' || *q == '.'))
		q++;
	if (te - q < 3 || q[0] != ':' || q[1] != '/' || q[2] != '/')
		FAIL(400, q - buf, bad_form);
	q += 3;
	x = q;
	while (q < te && *q != '/' && *q != '?') {
		if (*q == '@')
			FAIL(400, q - buf, "userinfo in request-target");
		if (!CLS(*q, C_HOST))
			FAIL(400, q - buf, "invalid character in request-target authority");
		q++;
	}
	if (q == x)
		FAIL(400, q - buf, "empty authority in absolute-form target");
	req->host = x;
	req->host_len = (size_t)(q - x);
	acc->authority_host = true;
	if (q < te && *q == '/') {
		const char *qm = memchr(q, '?', (size_t)(te - q));

		req->path = q;
		req->path_len = (size_t)((qm ? qm : te) - q);
		q = qm ? qm : te;
	} else {
		/* empty path, which means "/" (RFC 9112 3.2.2): stay inside the buffer */
		req->path = q;
		req->path_len = 0;
	}
	if (q < te) {
		req->query = q + 1;
		req->query_len = (size_t)(te - q - 1);
	}
	return 0;
}

static int parse_status_line(const char *buf, size_t ls, size_t le, struct http1_response *resp,
			     struct head_acc *acc, struct http1_error *err)
{
	const char *b = buf + ls, *e = buf + le, *q;
	int minor, st;

	minor = parse_version(b, le - ls < 8 ? le - ls : 8);
	if (minor == -505)
		FAIL(502, ls, "HTTP version not supported (only HTTP/1.0 and HTTP/1.1)");
	if (minor < 0)
		FAIL(502, ls, "malformed HTTP version in status line");
	/* shortest: "HTTP/1.1 200" */
	if (le - ls < 12 || b[8] != ' ')
		FAIL(502, ls + 8, "malformed status line");
	q = b + 9;
	if (q[0] < '0' || q[0] > '9' || q[1] < '0' || q[1] > '9' || q[2] < '0' || q[2] > '9')
		FAIL(502, q - buf, "status code is not 3 digits");
	st = (q[0] - '0') * 100 + (q[1] - '0') * 10 + (q[2] - '0');
	if (st < 100 || st > 599)
		FAIL(502, q - buf, "status code out of range 100-599");
	q += 3;
	/* RFC 9112 wants SP even before an empty reason; like Go, accept its absence. */
	if (q < e) {
		if (*q != ' ')
			FAIL(502, q - buf, "status code is not 3 digits");
		q++;
	}
	resp->reason = q;
	resp->reason_len = (size_t)(e - q);
	for (; q < e; q++)
		if (!CLS(*q, C_VALUE))
			FAIL(502, q - buf, bad_char(*q, "control character in reason phrase"));
	resp->minor_version = minor;
	resp->status = st;
	acc->minor = minor;
	return 0;
}

static int parse_content_length(const char *v, size_t n, const char *buf, struct head_acc *acc,
				size_t ls, struct http1_error *err)
{
	const char *pos = v, *end = v + n, *el;
	size_t el_len, i;
	bool any = false;

	while (list_next(&pos, end, &el, &el_len)) {
		int64_t val = 0;

		if (el_len == 0)
			FAIL(acc->bad, (el < end ? el : end) - buf, "empty Content-Length value");
		for (i = 0; i < el_len; i++) {
			int d = el[i] - '0';

			if (d < 0 || d > 9)
				FAIL(acc->bad, el + i - buf, "Content-Length is not a number");
			if (val > (INT64_MAX - d) / 10)
				FAIL(acc->bad, el - buf, "Content-Length too large");
			val = val * 10 + d;
		}
		if ((acc->cl_seen || any) && val != acc->fr.content_length)
			FAIL(acc->bad, el - buf, "differing Content-Length values");
		acc->fr.content_length = val;
		any = true;
	}
	acc->cl_seen = true;
	acc->cl_off = ls;
	return 0;
}

static bool te_known(const char *c, size_t n)
{
	switch (n) {
	case 4:
		return tok_eq(c, "gzip", 4);
	case 6:
		return tok_eq(c, "x-gzip", 6);
	case 7:
		return tok_eq(c, "deflate", 7);
	case 8:
		return tok_eq(c, "compress", 8);
	case 10:
		return tok_eq(c, "x-compress", 10);
	}
	return false;
}

static int parse_transfer_encoding(const char *v, size_t n, const char *buf, struct head_acc *acc,
				   size_t ls, struct http1_error *err)
{
	const char *pos = v, *end = v + n, *el;
	size_t el_len, i;
	bool any = false;

	while (list_next(&pos, end, &el, &el_len)) {
		size_t cl;

		if (el_len == 0)
			continue;	/* empty list elements are allowed (RFC 9110 5.6.1) */
		for (cl = 0; cl < el_len && CLS(el[cl], C_TCHAR); cl++)
			;
		if (cl == 0 || (cl < el_len && !is_ows(el[cl]) && el[cl] != ';'))
			FAIL(acc->bad, el + cl - buf, "malformed Transfer-Encoding");
		for (i = cl; i < el_len && is_ows(el[i]); i++)
			;
		if (i < el_len && el[i] != ';')
			FAIL(acc->bad, el + i - buf, "malformed Transfer-Encoding");
		any = true;
		if (cl == 7 && tok_eq(el, "chunked", 7)) {
			if (i < el_len)
				FAIL(acc->bad, el + i - buf, "parameters on chunked coding");
			if (acc->fr.chunked)
				FAIL(acc->bad, el - buf, "chunked coding applied twice");
			acc->fr.chunked = true;
			acc->te_chunked_last = true;
			continue;
		}
		acc->te_chunked_last = false;
		if (!acc->te_unknown && !te_known(el, cl)) {
			acc->te_unknown = true;
			acc->te_unknown_off = (size_t)(el - buf);
		}
	}
	if (!any)
		FAIL(acc->bad, v - buf, "empty Transfer-Encoding");
	acc->te_seen = true;
	acc->te_off = ls;
	return 0;
}

static void parse_connection(const char *v, size_t n, struct http1_framing *fr)
{
	const char *pos = v, *end = v + n, *el;
	size_t el_len;

	/* the usual single token first */
	if (n == 10 && ci_eq(v, "keep-alive", 10)) {
		fr->conn_keep_alive = true;
		return;
	}
	if (n == 5 && ci_eq(v, "close", 5)) {
		fr->conn_close = true;
		return;
	}
	while (list_next(&pos, end, &el, &el_len)) {
		if (el_len == 5 && ci_eq(el, "close", 5))
			fr->conn_close = true;
		else if (el_len == 10 && ci_eq(el, "keep-alive", 10))
			fr->conn_keep_alive = true;
		else if (el_len == 7 && ci_eq(el, "upgrade", 7))
			fr->conn_upgrade = true;
	}
}

/* Does the validated host value (Host field) hold only uri-host [":" port] characters? */
static int check_host(const char *v, size_t n, const char *buf, struct http1_error *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!CLS(v[i], C_HOST))
			FAIL(400, v + i - buf, "invalid character in Host");
	return 0;
}

/* Is any byte of w a control byte (below 0x20, HTAB included) or DEL? */
static inline bool swar_ctl(uint64_t w)
{
	uint64_t d = w ^ 0x7f7f7f7f7f7f7f7fULL;

	return ((w - 0x2020202020202020ULL) & ~w & 0x8080808080808080ULL) ||
	       ((d - 0x0101010101010101ULL) & ~d & 0x8080808080808080ULL);
}

/* Record a validated field line and look at the framing fields, picked by length first. */
static inline __attribute__((always_inline))
int field_semantics(const char *buf, size_t ls, size_t line_len, size_t nl, const char *v,
		    size_t vl, struct head_acc *acc, struct http1_error *err)
{
	const char *b = buf + ls;
	struct http1_header *h = &acc->headers[acc->nheaders++];
	unsigned key;

	h->name = b;
	h->name_len = nl;
	h->value = v;
	h->value_len = vl;
	h->line = b;
	h->line_len = line_len;

	/* length and first letter select the candidate; an if chain predicts better than a
	 * jump table here */
	key = (unsigned)nl << 8 | ((unsigned char)b[0] | 0x20);
	if (key == (4 << 8 | 'h')) {
		if (acc->request && tok_eq(b, "host", 4)) {
			if (acc->host_count++)
				FAIL(400, ls, "several Host fields");
			if (check_host(v, vl, buf, err))
				return -1;
			acc->host = v;
			acc->host_len = vl;
		}
	} else if (key == (10 << 8 | 'c')) {
		if (tok_eq(b, "connection", 10))
			parse_connection(v, vl, &acc->fr);
	} else if (key == (14 << 8 | 'c')) {
		if (tok_eq(b, "content-length", 14))
			return parse_content_length(v, vl, buf, acc, ls, err);
	} else if (key == (17 << 8 | 't')) {
		if (tok_eq(b, "transfer-encoding", 17))
			return parse_transfer_encoding(v, vl, buf, acc, ls, err);
	} else if (key == (7 << 8 | 'u')) {
		if (tok_eq(b, "upgrade", 7))
			acc->fr.has_upgrade = true;
	} else if (key == (6 << 8 | 'e')) {
		if (acc->request && tok_eq(b, "expect", 6) &&
		    http1_token_list_has(v, vl, "100-continue"))
			acc->expect_continue = true;
	}
	return 0;
}

/*
 * The careful path for a field line buf[ls..le), whose line end is at lf: names the first
 * fault exactly. Most lines take field_fast() instead and never come here.
 */
static int parse_field(const char *buf, size_t ls, size_t le, size_t lf, struct head_acc *acc,
		       struct http1_error *err)
{
	const char *b = buf + ls, *e = buf + le, *q = b, *colon, *v, *ve;

	if (is_ows(*q))
		FAIL(acc->bad, ls, acc->nheaders ?
		     "obs-fold (field line starting with whitespace)" :
		     "whitespace between start line and first field");
	while (q < e && CLS(*q, C_TCHAR))
		q++;
	if (q == e)
		FAIL(acc->bad, q - buf, "field line without colon");
	if (*q != ':') {
		if (is_ows(*q))
			FAIL(acc->bad, q - buf, "whitespace before colon in field name");
		FAIL(acc->bad, q - buf, bad_char(*q, "invalid character in field name"));
	}
	if (q == b)
		FAIL(acc->bad, ls, "empty field name");
	colon = q;
	v = q + 1;
	while (v < e && is_ows(*v))
		v++;
	for (q = v; q < e; q++)
		if (!CLS(*q, C_VALUE))
			FAIL(acc->bad, q - buf, bad_char(*q, "control character in field value"));
	ve = e;
	while (ve > v && is_ows(ve[-1]))
		ve--;
	return field_semantics(buf, ls, lf + 1 - ls, (size_t)(colon - b), v, (size_t)(ve - v),
			       acc, err);
}

/*
 * The common case of a field line starting at ls, in one scan: token name, ':', a value
 * checked 8 bytes at a time, CRLF or LF. Returns false as soon as anything is unusual
 * (a fault, a byte needing a closer look, the end of the data), for the careful path.
 */
struct fast_field {
	size_t nl;		/* name length */
	size_t v, vl;		/* value offset and length, OWS trimmed */
	size_t le;		/* end of the line's content */
	size_t lf;		/* offset of its LF */
};

static inline bool field_fast(const char *buf, size_t ls, size_t end, struct fast_field *f)
{
	size_t q = ls, v, ve, stop;
	unsigned char c;

#ifdef __SSE2__
	/* most names are letters, digits and '-': skip those 16 at a time */
	while (end - q >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(buf + q));
		__m128i l = _mm_or_si128(x, _mm_set1_epi8(0x20));
		__m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)),
					      _mm_cmplt_epi8(l, _mm_set1_epi8('z' + 1)));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
					      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
		__m128i dash = _mm_cmpeq_epi8(x, _mm_set1_epi8('-'));
		unsigned m = ~(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit),
									dash)) & 0xffff;

		if (m) {
			q += (size_t)__builtin_ctz(m);
			break;
		}
		q += 16;
	}
#endif
	while (q < end && CLS(buf[q], C_TCHAR))
		q++;
	if (q == ls || q >= end || buf[q] != ':')
		return false;
	f->nl = q - ls;
	v = q + 1;
	while (v < end && is_ows(buf[v]))
		v++;
	q = v;
#ifdef __SSE2__
	/* 16 bytes per step: the first byte <= 0x1f or DEL ends the fast scan */
	while (end - q >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(buf + q));
		__m128i lo = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
		__m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(lo, del));

		if (!m) {
			q += 16;
			continue;
		}
		q += (size_t)__builtin_ctz(m);
		c = (unsigned char)buf[q];
		if (c != '\t')
			goto line_end;
		q++;
	}
#endif
	for (;;) {
		if (end - q >= 8) {
			uint64_t w;

			memcpy(&w, buf + q, 8);
			if (!swar_ctl(w)) {
				q += 8;
				continue;
			}
			stop = q + 8;
		} else {
			stop = end;
		}
		/* a control byte in the next few: only HTAB may be skipped */
		for (; q < stop; q++) {
			c = (unsigned char)buf[q];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				goto line_end;
		}
		if (q >= end)
			return false;
	}
line_end:
	if (c == '\n') {
		f->lf = q;
	} else if (c == '\r' && q + 1 < end && buf[q + 1] == '\n') {
		f->lf = q + 1;
	} else {
		return false;
	}
	f->le = q;
	ve = q;
	while (ve > v && is_ows(buf[ve - 1]))
		ve--;
	f->v = v;
	f->vl = ve - v;
	return true;
}

/*
 * The common request line, "METHOD /origin-form HTTP/1.x" CRLF, in one scan from pos.
 * Returns the offset of its LF, or 0 when anything is unusual (another target form, a
 * fault, the end of the data, the length limit): then the careful path takes over.
 */
static inline size_t request_line_fast(const char *buf, size_t pos, size_t end, size_t max,
				       struct http1_request *req, struct head_acc *acc)
{
	static const char v10[8] = "HTTP/1.0", v11[8] = "HTTP/1.1";
	size_t q = pos, t, te, lf;
	const char *x;
	uint64_t w, w10, w11;

	while (q < end && CLS(buf[q], C_TCHAR))
		q++;
	if (q == pos || q + 1 >= end || buf[q] != ' ' || buf[q + 1] != '/')
		return 0;
	if (q - pos == 7 && memcmp(buf + pos, "CONNECT", 7) == 0)
		return 0;
	t = ++q;
#ifdef __SSE2__
	while (end - q >= 16) {
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(buf + q));
		__m128i lo = _mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8(0x20)), y);
		__m128i del = _mm_cmpeq_epi8(y, _mm_set1_epi8(0x7f));
		__m128i hash = _mm_cmpeq_epi8(y, _mm_set1_epi8('#'));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(lo, del), hash));

		if (m) {
			q += (size_t)__builtin_ctz(m);
			goto target_end;
		}
		q += 16;
	}
#endif
	while (q < end && CLS(buf[q], C_TARGET))
		q++;
#ifdef __SSE2__
target_end:
#endif
	if (end - q < 10 || buf[q] != ' ')
		return 0;
	te = q;
	memcpy(&w, buf + q + 1, 8);
	memcpy(&w10, v10, 8);
	memcpy(&w11, v11, 8);
	if (w != w11 && w != w10)
		return 0;
	q += 9;
	if (buf[q] == '\n') {
		lf = q;
		note_bare_lf(acc, q);
	} else if (buf[q] == '\r' && q + 1 < end && buf[q + 1] == '\n') {
		lf = q + 1;
	} else {
		return 0;
	}
	if (q - pos > max)
		return 0;
	req->method = buf + pos;
	req->method_len = t - 1 - pos;
	req->target = buf + t;
	req->target_len = te - t;
	req->minor_version = w == w11;
	req->path = buf + t;
	x = memchr(buf + t, '?', te - t);
	if (x) {
		req->path_len = (size_t)(x - (buf + t));
		req->query = x + 1;
		req->query_len = te - (size_t)(x + 1 - buf);
	} else {
		req->path_len = te - t;
		req->query = NULL;
		req->query_len = 0;
	}
	acc->method = req->method;
	acc->method_len = req->method_len;
	acc->minor = req->minor_version;
	return lf;
}

/* Where the line search stands: resumed from struct http1_parser between calls. */
struct scan {
	size_t pos;		/* where to look for the next LF */
	size_t ls;		/* start of the current line */
	size_t nf;		/* complete field lines so far */
	bool started;		/* the start line is complete */
};

static int line_too_long(const struct head_acc *acc, bool started, size_t at,
			 struct http1_error *err)
{
	if (!started)
		FAIL(acc->request ? 414 : 502, at,
		     acc->request ? "request line too long" : "status line too long");
	FAIL(acc->request ? 431 : 502, at, "field line too long");
}

/*
 * Search for the empty line ending the head, from s. Measures and counts lines on the way:
 * limit faults are reported (-1) as soon as they are certain, in stream order. Returns the
 * head length, or -2 with s at the point to resume from.
 */
static int head_search(const char *buf, size_t len, const struct http1_limits *lim,
		       const struct head_acc *acc, struct scan *s, struct http1_error *err)
{
	size_t region = len < lim->max_head ? len : lim->max_head;
	size_t pos = s->pos, ls = s->ls, nf = s->nf, i, clen;
	bool started = s->started;
	const char *lf;

	while (pos < region && (lf = memchr(buf + pos, '\n', region - pos))) {
		i = (size_t)(lf - buf);
		clen = i - ls - (i > ls && buf[i - 1] == '\r');
		if (!started) {
			if (clen == 0 && acc->request) {
				/* RFC 9112 2.2: ignore empty lines before the request line */
				pos = ls = i + 1;
				continue;
			}
			if (clen > lim->max_start_line)
				return line_too_long(acc, false, ls + lim->max_start_line, err);
			started = true;
		} else if (clen == 0) {
			return (int)(i + 1);
		} else {
			if (clen > lim->max_header_line)
				return line_too_long(acc, true, ls + lim->max_header_line, err);
			if (++nf > lim->max_headers)
				FAIL(acc->request ? 431 : 502, ls, "too many fields");
		}
		pos = ls = i + 1;
	}

	/* No line end in [pos, region): is the incomplete line already too long? */
	clen = region - ls;
	if (clen && buf[region - 1] == '\r')
		clen--;
	if (clen > (started ? lim->max_header_line : lim->max_start_line))
		return line_too_long(acc, started, ls + (started ? lim->max_header_line :
							 lim->max_start_line), err);
	if (len > lim->max_head)
		FAIL(acc->request ? 431 : 502, lim->max_head,
		     acc->request ? "request head too large" : "response head too large");
	s->pos = region;
	s->ls = ls;
	s->nf = nf;
	s->started = started;
	return HTTP1_NEED_MORE;
}

/* Checks that need the whole head; fills the framing. `end` is the empty line's offset. */
static int finish_head(struct head_acc *acc, struct http1_request *req, size_t end,
		       const struct http1_limits *lim, struct http1_error *err)
{
	struct http1_framing *fr = &acc->fr;

	if (fr->bare_lf && !lim->allow_bare_lf)
		FAIL(acc->bad, acc->bare_lf_off, "line ends in LF without CR (CRLF required)");
	if (acc->request) {
		/* CONNECT names its host in the target; Go (Traefik) exempts it too */
		if (acc->minor == 1 && !acc->host_count && !acc->connect)
			FAIL(400, end, "missing Host field (required in HTTP/1.1)");
		if (!acc->authority_host) {
			req->host = acc->host;
			req->host_len = acc->host_len;
		}
		if (acc->minor == 1)
			fr->expect_continue = acc->expect_continue;
	}
	if (acc->te_seen) {
		if (acc->minor == 0)
			FAIL(acc->bad, acc->te_off, "Transfer-Encoding in an HTTP/1.0 message");
		if (acc->cl_seen)
			FAIL(acc->bad, acc->te_off > acc->cl_off ? acc->te_off : acc->cl_off,
			     "both Transfer-Encoding and Content-Length");
		if (acc->request && acc->te_unknown)
			FAIL(501, acc->te_unknown_off, "unsupported transfer coding");
		if (!acc->te_chunked_last) {
			if (acc->request)
				FAIL(400, acc->te_off, "chunked is not the final transfer coding");
			/* response: the body runs until the connection closes */
			fr->chunked = false;
		}
		fr->content_length = -1;
	}
	return 0;
}

/*
 * Parse a head from the start, validating each line as it is found. Limits are checked as
 * head_search() does, line by line, so faults come out in the same order whatever the
 * split. When a line is faulty or incomplete, the rest is left to head_search(): a syntax
 * fault is reported only once the empty line is there (-2 until then), which keeps the
 * outcome independent of how the bytes arrived.
 */
static int head_parse(const char *buf, size_t len, const struct http1_limits *lim,
		      struct head_acc *acc, struct http1_request *req,
		      struct http1_response *resp, struct scan *s, struct http1_error *err)
{
	size_t region = len < lim->max_head ? len : lim->max_head;
	size_t pos = 0, nf = 0, i, clen;
	struct http1_error serr = { 0, 0, NULL };
	struct fast_field f;
	const char *lf;
	int rc;

	if (acc->request) {
		i = request_line_fast(buf, 0, region, lim->max_start_line, req, acc);
		if (i) {
			pos = i + 1;
			goto fields;
		}
	}
	for (;;) {
		lf = pos < region ? memchr(buf + pos, '\n', region - pos) : NULL;
		if (!lf) {
			*s = (struct scan){ pos, pos, 0, false };
			return head_search(buf, len, lim, acc, s, err);
		}
		i = (size_t)(lf - buf);
		clen = i - pos;
		if (clen && buf[i - 1] == '\r')
			clen--;
		else
			note_bare_lf(acc, i);
		if (clen == 0 && acc->request) {
			pos = i + 1;	/* an empty line before the request line */
			continue;
		}
		if (clen > lim->max_start_line)
			return line_too_long(acc, false, pos + lim->max_start_line, err);
		if (acc->request)
			rc = parse_request_line(buf, pos, pos + clen, req, acc, &serr);
		else
			rc = parse_status_line(buf, pos, pos + clen, resp, acc, &serr);
		pos = i + 1;
		if (rc)
			goto faulty;
		break;
	}
fields:
	for (;;) {
		size_t ls = pos;

		/* the empty line */
		if (pos < region && buf[pos] == '\n') {
			note_bare_lf(acc, pos);
			i = pos;
			break;
		}
		if (region - pos >= 2 && buf[pos] == '\r' && buf[pos + 1] == '\n') {
			i = pos + 1;
			break;
		}
		if (field_fast(buf, ls, region, &f)) {
			clen = f.le - ls;
			if (f.le == f.lf)
				note_bare_lf(acc, f.lf);
			if (clen > lim->max_header_line)
				return line_too_long(acc, true, ls + lim->max_header_line, err);
			if (++nf > lim->max_headers)
				FAIL(acc->request ? 431 : 502, ls, "too many fields");
			pos = f.lf + 1;
			if (field_semantics(buf, ls, pos - ls, f.nl, buf + f.v, f.vl, acc, &serr))
				goto faulty;
			continue;
		}
		lf = memchr(buf + ls, '\n', region - ls);
		if (!lf) {
			*s = (struct scan){ ls, ls, nf, true };
			return head_search(buf, len, lim, acc, s, err);
		}
		i = (size_t)(lf - buf);
		clen = i - ls;
		if (clen && buf[i - 1] == '\r')
			clen--;
		else
			note_bare_lf(acc, i);
		if (clen > lim->max_header_line)
			return line_too_long(acc, true, ls + lim->max_header_line, err);
		if (++nf > lim->max_headers)
			FAIL(acc->request ? 431 : 502, ls, "too many fields");
		pos = i + 1;
		if (parse_field(buf, ls, ls + clen, i, acc, &serr))
			goto faulty;
	}
	if (finish_head(acc, req, pos, lim, err))
		return -1;
	return (int)(i + 1);

faulty:
	/* Find the end of the head (or a limit fault) before reporting the fault. */
	*s = (struct scan){ pos, pos, nf, true };
	rc = head_search(buf, len, lim, acc, s, err);
	if (rc > 0) {
		*err = serr;
		return -1;
	}
	return rc;
}

static void acc_init(struct head_acc *acc, bool request, struct http1_header *headers)
{
	memset(acc, 0, sizeof(*acc));
	acc->request = request;
	acc->bad = request ? 400 : 502;
	acc->headers = headers;
	acc->fr.content_length = -1;
}

static int parse_head(const char *buf, size_t len, struct http1_parser *p,
		      const struct http1_limits *lim, struct http1_error *err, bool request,
		      struct http1_request *req, struct http1_response *resp,
		      struct http1_header *headers)
{
	struct http1_limits lim_int;
	struct http1_error dummy;
	struct head_acc acc;
	struct scan s;
	int rc;

	if (!lim)
		lim = &http1_default_limits;
	if (lim->max_head > INT_MAX) {
		/* the head length must fit the int we return */
		lim_int = *lim;
		lim_int.max_head = INT_MAX;
		lim = &lim_int;
	}
	if (!err)
		err = &dummy;
	acc_init(&acc, request, headers);
	if (p->phase != 0 && len >= p->scanned) {
		/* Resume the search; validate from the start once the head is complete. */
		s = (struct scan){ p->scanned, p->line_start, p->nfields, p->phase == 2 };
		rc = head_search(buf, len, lim, &acc, &s, err);
		if (rc <= 0)
			goto out;
		len = (size_t)rc;
	}
	rc = head_parse(buf, len, lim, &acc, req, resp, &s, err);
	if (rc > 0) {
		if (request) {
			req->headers = headers;
			req->nheaders = acc.nheaders;
			req->head_len = (size_t)rc;
			req->framing = acc.fr;
		} else {
			resp->headers = headers;
			resp->nheaders = acc.nheaders;
			resp->head_len = (size_t)rc;
			resp->framing = acc.fr;
		}
	}
out:
	if (rc == HTTP1_NEED_MORE && s.pos > 0) {
		p->scanned = s.pos;
		p->line_start = s.ls;
		p->nfields = s.nf;
		p->phase = s.started ? 2 : 1;
	} else {
		memset(p, 0, sizeof(*p));
	}
	return rc;
}

int http1_parse_request(const char *buf, size_t len, struct http1_parser *p,
			struct http1_request *req, const struct http1_limits *lim,
			struct http1_error *err)
{
	req->host = NULL;
	req->host_len = 0;
	return parse_head(buf, len, p, lim, err, true, req, NULL, req->headers);
}

int http1_parse_response(const char *buf, size_t len, struct http1_parser *p,
			 struct http1_response *resp, const struct http1_limits *lim,
			 struct http1_error *err)
{
	return parse_head(buf, len, p, lim, err, false, NULL, resp, resp->headers);
}

bool http1_response_has_body(const char *method, size_t method_len, int status)
{
	if (status < 200 || status == 204 || status == 304)
		return false;
	if (method_len == 4 && memcmp(method, "HEAD", 4) == 0)
		return false;
	/* a 2xx to CONNECT turns the connection into a tunnel: no message body */
	if (method_len == 7 && memcmp(method, "CONNECT", 7) == 0 && status < 300)
		return false;
	return true;
}

const struct http1_header *http1_find_header(const struct http1_header *h, size_t n,
					     const char *name)
{
	size_t nl = strlen(name), i;

	for (i = 0; i < n; i++)
		if (h[i].name_len == nl && ci_eq(h[i].name, name, nl))
			return &h[i];
	return NULL;
}

bool http1_token_list_has(const char *value, size_t len, const char *token)
{
	const char *pos = value, *end = value + len, *el;
	size_t tl = strlen(token), el_len;

	if (!value)
		return false;
	while (list_next(&pos, end, &el, &el_len))
		if (el_len == tl && ci_eq(el, token, tl))
			return true;
	return false;
}

/* Chunked-body scanner states; 0 must be the start so HTTP1_CHUNKED_INIT works. */
enum http1_chunk_state {
	HTTP1_CH_SIZE_START = 0,	/* first hex digit of a chunk-size */
	HTTP1_CH_SIZE,			/* more hex digits */
	HTTP1_CH_SIZE_WS,		/* BWS after the size: only ';' may follow */
	HTTP1_CH_EXT,			/* chunk extensions, up to CR */
	HTTP1_CH_SIZE_LF,		/* LF ending the size line */
	HTTP1_CH_DATA,
	HTTP1_CH_DATA_CR,		/* CRLF after chunk data */
	HTTP1_CH_DATA_LF,
	HTTP1_CH_TRAILER_START,		/* a trailer field, or the final CRLF */
	HTTP1_CH_TRAILER_NAME,
	HTTP1_CH_TRAILER_VALUE,
	HTTP1_CH_TRAILER_LF,
	HTTP1_CH_FINAL_LF,
	HTTP1_CH_ERROR,
};

/*
 * Framing lines must end in CRLF here: accepting a bare LF inside a body we forward verbatim
 * is how chunk-smuggling differences between proxies and servers start.
 */
ssize_t http1_chunked_scan(struct http1_chunked *st, const char *buf, size_t len)
{
	size_t i = 0;

	if (st->state == HTTP1_CH_ERROR)
		return -1;
	if (st->done)
		return 0;
	while (i < len) {
		unsigned char c = (unsigned char)buf[i];

		/* a size line counts from its first digit through its LF; trailers likewise */
		if (st->state <= HTTP1_CH_SIZE_LF) {
			if (st->state == HTTP1_CH_SIZE_START)
				st->line_len = 0;
			if (++st->line_len > HTTP1_CHUNKED_MAX_LINE)
				goto bad;
		} else if (st->state >= HTTP1_CH_TRAILER_START &&
			   ++st->trailer_len > HTTP1_CHUNKED_MAX_TRAILERS) {
			goto bad;
		}
		switch (st->state) {
		case HTTP1_CH_DATA: {
			size_t n = len - i;

			if (n > st->remaining)
				n = (size_t)st->remaining;
			i += n;
			st->remaining -= n;
			if (!st->remaining)
				st->state = HTTP1_CH_DATA_CR;
			continue;
		}
		case HTTP1_CH_SIZE_START:
			if (!CLS(c, C_HEX))
				goto bad;
			st->remaining = 0;
			st->state = HTTP1_CH_SIZE;
			/* fallthrough */
		case HTTP1_CH_SIZE:
			if (CLS(c, C_HEX)) {
				/* 15 hex digits of value at most: no chunk is near 2^60 bytes */
				unsigned d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

				if (st->remaining >> 56)
					goto bad;
				st->remaining = st->remaining << 4 | d;
			} else if (c == ';') {
				st->state = HTTP1_CH_EXT;
			} else if (c == ' ' || c == '\t') {
				st->state = HTTP1_CH_SIZE_WS;
			} else if (c == '\r') {
				st->state = HTTP1_CH_SIZE_LF;
			} else {
				goto bad;
			}
			break;
		case HTTP1_CH_SIZE_WS:
			if (c == ';')
				st->state = HTTP1_CH_EXT;
			else if (c != ' ' && c != '\t')
				goto bad;
			break;
		case HTTP1_CH_EXT:
			if (c == '\r')
				st->state = HTTP1_CH_SIZE_LF;
			else if (!CLS(c, C_VALUE))
				goto bad;
			break;
		case HTTP1_CH_SIZE_LF:
			if (c != '\n')
				goto bad;
			st->state = st->remaining ? HTTP1_CH_DATA : HTTP1_CH_TRAILER_START;
			st->trailer_len = 0;
			break;
		case HTTP1_CH_DATA_CR:
			if (c != '\r')
				goto bad;
			st->state = HTTP1_CH_DATA_LF;
			break;
		case HTTP1_CH_DATA_LF:
			if (c != '\n')
				goto bad;
			st->state = HTTP1_CH_SIZE_START;
			break;
		case HTTP1_CH_TRAILER_START:
			if (c == '\r')
				st->state = HTTP1_CH_FINAL_LF;
			else if (CLS(c, C_TCHAR))
				st->state = HTTP1_CH_TRAILER_NAME;
			else
				goto bad;	/* obs-fold, empty name, bare LF */
			break;
		case HTTP1_CH_TRAILER_NAME:
			if (c == ':')
				st->state = HTTP1_CH_TRAILER_VALUE;
			else if (!CLS(c, C_TCHAR))
				goto bad;
			break;
		case HTTP1_CH_TRAILER_VALUE:
			if (c == '\r')
				st->state = HTTP1_CH_TRAILER_LF;
			else if (!CLS(c, C_VALUE))
				goto bad;
			break;
		case HTTP1_CH_TRAILER_LF:
			if (c != '\n')
				goto bad;
			st->state = HTTP1_CH_TRAILER_START;
			break;
		case HTTP1_CH_FINAL_LF:
			if (c != '\n')
				goto bad;
			st->done = true;
			return (ssize_t)(i + 1);
		default:
			goto bad;
		}
		i++;
	}
	return (ssize_t)i;
bad:
	st->state = HTTP1_CH_ERROR;
	return -1;
}
