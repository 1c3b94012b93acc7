/* SPDX-License-Identifier: MIT */
/*
 * http1: strict HTTP/1.x message-head parser (RFC 9112) and body-framing scanner.
 *
 * No I/O and no allocation. Parsed fields are pointer/length pairs into the caller's
 * buffer, which must stay put while they are used. Return convention (picohttpparser):
 * > 0 bytes of head consumed (through the empty line), -2 need more data, -1 invalid.
 */
#ifndef SPLICED_HTTP1_H
#define SPLICED_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_NEED_MORE (-2)
#define HTTP1_INVALID   (-1)

struct http1_limits {
	size_t max_start_line;	/* request/status line, bytes without CRLF (414 / 502) */
	size_t max_header_line;	/* one field line (431) */
	size_t max_head;	/* whole head including the empty line (431) */
	size_t max_headers;	/* field lines; must be <= the caller's array (431) */
	bool allow_bare_lf;	/* accept LF without CR as a line end (RFC 9112 2.2 allows it);
				 * only for callers that rewrite lines when framing.bare_lf is
				 * set, since forwarding such a `line` verbatim invites request
				 * smuggling through peers that split on CRLF only */
};

/* Defaults: 8 KiB start line, 8 KiB field line, 64 KiB head, 100 fields, CRLF required. */
extern const struct http1_limits http1_default_limits;

struct http1_header {
	const char *name;
	size_t name_len;
	const char *value;	/* OWS trimmed on both sides */
	size_t value_len;
	const char *line;	/* whole field line, for verbatim forwarding */
	size_t line_len;	/* including its CRLF (or LF) */
};

/* Framing and connection facts, derived from the fields by the parser. */
struct http1_framing {
	int64_t content_length;	/* -1 when absent */
	bool chunked;		/* Transfer-Encoding ends in chunked */
	bool conn_close;	/* Connection: close */
	bool conn_keep_alive;	/* Connection: keep-alive (matters for HTTP/1.0) */
	bool conn_upgrade;	/* Connection: upgrade */
	bool has_upgrade;	/* an Upgrade field is present */
	bool expect_continue;	/* request: Expect: 100-continue */
	bool bare_lf;		/* some line ended in LF without CR (only with allow_bare_lf):
				 * rewrite such lines with CRLF instead of copying `line` */
};

struct http1_request {
	const char *method;
	size_t method_len;
	const char *target;	/* request-target as sent */
	size_t target_len;
	const char *path;	/* origin-form path (for absolute-form: the path part), no query;
				 * length 0 for an absolute-form target without a path (which
				 * means "/") and for CONNECT; "*" for OPTIONS * */
	size_t path_len;
	const char *query;	/* after '?', without it; NULL when absent */
	size_t query_len;
	const char *host;	/* Host field value (or the absolute-form / CONNECT authority,
				 * which wins over the field); NULL if none */
	size_t host_len;
	int minor_version;	/* HTTP/1.<minor>: 0 or 1 */
	struct http1_header *headers;	/* caller's array */
	size_t nheaders;
	size_t head_len;	/* bytes from the start through the empty line */
	struct http1_framing framing;
};

struct http1_response {
	int minor_version;
	int status;
	const char *reason;
	size_t reason_len;
	struct http1_header *headers;
	size_t nheaders;
	size_t head_len;
	struct http1_framing framing;
};

/* Where and why a head was rejected, and the status to answer with. */
struct http1_error {
	int status;		/* 400, 414, 431, 501, 505 (request); 502 for a bad response */
	size_t offset;		/* byte offset of the fault in the buffer */
	const char *reason;	/* static string, e.g. "space before colon in field name" */
};

/*
 * Incremental parse state. Zero it (HTTP1_PARSER_INIT) before the first call for a message;
 * pass the same one with the grown buffer on each later call so the terminator search
 * resumes where it stopped (total work stays linear when bytes arrive one at a time).
 */
struct http1_parser {
	size_t scanned;		/* bytes searched for line ends so far */
	size_t line_start;	/* private: start of the current, incomplete line */
	size_t nfields;		/* private: complete field lines seen */
	int phase;		/* private: 0 fresh; searching: 1 start line, 2 end of head */
};
#define HTTP1_PARSER_INIT { 0 }

/*
 * Parse a request head from buf[0..len). req->headers must point to an array of at least
 * lim->max_headers entries (lim NULL = defaults). Returns the head length (> 0), -2 or -1
 * (err filled; err may be NULL). Strict RFC 9112: rejects obs-fold, whitespace before ':',
 * bare CR, bare LF (unless lim->allow_bare_lf), control characters, a missing Host in
 * HTTP/1.1 (CONNECT excepted, as in Go), several Host fields, Content-Length together with
 * Transfer-Encoding, differing or malformed Content-Length, Transfer-Encoding in HTTP/1.0, a
 * Transfer-Encoding with an unknown coding (501) or whose final coding is not chunked (400),
 * a fragment in the target. A well-formed version other than HTTP/1.0 and 1.1 (HTTP/2.0, the
 * h2 preface "PRI * HTTP/2.0") gets 505, a malformed one 400. Empty lines before the request
 * line are skipped (RFC 9112 2.2); they count in head_len. Limits: request line 414, field
 * line, head size and field count 431, reported as soon as they are certain; other faults
 * once the whole head is there, so the outcome does not depend on how the bytes were split.
 * On -2, *req holds nothing useful yet; after > 0 or -1, *p is zero again.
 */
int http1_parse_request(const char *buf, size_t len, struct http1_parser *p,
			struct http1_request *req, const struct http1_limits *lim,
			struct http1_error *err);

/*
 * Same for a response head: "HTTP/1.x" SP 3-digit status (100-599) SP reason; a missing SP
 * before an empty reason is accepted, as Go does. A Transfer-Encoding whose final coding is
 * not chunked makes the body close-delimited (chunked false, content_length -1). Every
 * fault, limits included, gets err->status 502.
 */
int http1_parse_response(const char *buf, size_t len, struct http1_parser *p,
			 struct http1_response *resp, const struct http1_limits *lim,
			 struct http1_error *err);

/* Does a response to `method` with `status` carry a body? (HEAD, 1xx, 204, 304: no) */
bool http1_response_has_body(const char *method, size_t method_len, int status);

/* Case-insensitive field lookup; returns the first match or NULL. */
const struct http1_header *http1_find_header(const struct http1_header *h, size_t n,
					     const char *name);

/* Is `token` one of the comma-separated tokens of value (case-insensitive)? */
bool http1_token_list_has(const char *value, size_t len, const char *token);

/*
 * Chunked-body scanner: finds where a chunked body ends without changing a byte, so the
 * bytes can be forwarded as they are. Zero it before the body (HTTP1_CHUNKED_INIT).
 * Returns how many of the len bytes belong to the body (<= len); st->done becomes true when
 * the last-chunk, trailers and final CRLF have been consumed. -1 on malformed framing.
 */
struct http1_chunked {
	int state;
	uint64_t remaining;	/* data bytes left in the current chunk */
	size_t line_len;	/* length of the size/trailer line so far (capped) */
	bool done;
	size_t trailer_len;	/* bytes of trailer section so far (capped) */
};
#define HTTP1_CHUNKED_INIT { 0, 0, 0, false, 0 }

/* A chunk-size line (extensions and CRLF included) longer than this, or a trailer section
 * (fields and the final CRLF) longer than that: -1. */
#define HTTP1_CHUNKED_MAX_LINE		4096
#define HTTP1_CHUNKED_MAX_TRAILERS	16384

ssize_t http1_chunked_scan(struct http1_chunked *st, const char *buf, size_t len);

#endif
