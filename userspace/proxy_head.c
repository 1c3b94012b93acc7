// SPDX-License-Identifier: MIT
/*
 * proxy_head: builds the heads spliced writes, as iovec lists.
 *
 * Field lines we keep are referenced where they were received (adjacent ones merged into
 * one iovec), so a typical request head goes out as 3-5 iovecs with no copy. Hop-by-hop
 * fields (RFC 9110 7.6.1, plus those a Connection field names) are dropped; what we add
 * (X-Forwarded-*, X-Real-Ip, Connection) goes through a small scratch buffer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gofmt.h"
#include "proxy_head.h"

#define MAX_CONN_TOKENS 8

struct token {
	const char *p;
	size_t n;
};

static int add_iov(struct head_out *o, const void *p, size_t n)
{
	struct iovec *last;

	if (!n)
		return 0;
	last = o->niov ? &o->iov[o->niov - 1] : NULL;
	if (last && (const char *)last->iov_base + last->iov_len == (const char *)p) {
		last->iov_len += n;	/* adjacent: merge */
	} else {
		if (o->niov >= HEAD_IOV_MAX)
			return -E2BIG;
		o->iov[o->niov].iov_base = (void *)p;
		o->iov[o->niov].iov_len = n;
		o->niov++;
	}
	o->total += n;
	return 0;
}

/*
 * Queue n bytes by copying them into the scratch buffer when they fit, so consecutive
 * additions become one iovec; reference them in place when they don't.
 */
static int add_copy(struct head_out *o, const void *p, size_t n)
{
	if (n > sizeof(o->scratch) - o->used)
		return add_iov(o, p, n);
	memcpy(o->scratch + o->used, p, n);
	o->used += n;
	return add_iov(o, o->scratch + o->used - n, n);
}

#define ADD_LIT(o, s) add_copy(o, s, sizeof(s) - 1)

/* Queue "<a><b><c>" (no printf on the hot path). */
static int add_cat(struct head_out *o, const char *a, size_t an, const char *b, size_t bn,
		   const char *c, size_t cn)
{
	return add_copy(o, a, an) | add_copy(o, b, bn) | add_copy(o, c, cn);
}
#define ADD_HDR(o, name, val) add_cat(o, name ": ", sizeof(name ": ") - 1, val, strlen(val), \
				      "\r\n", 2)

static inline bool name_is(const struct http1_header *h, const char *name, size_t len)
{
	return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}
#define NAME_IS(h, lit) name_is(h, lit, sizeof(lit) - 1)

/* Hop-by-hop fields: never forwarded as they are. */
static bool is_hop_by_hop(const struct http1_header *h)
{
	switch (h->name_len) {
	case 2: return NAME_IS(h, "TE");
	case 7: return NAME_IS(h, "Upgrade") || NAME_IS(h, "Trailer");
	case 10: return NAME_IS(h, "Connection") || NAME_IS(h, "Keep-Alive");
	case 16: return NAME_IS(h, "Proxy-Connection");
	case 18: return NAME_IS(h, "Proxy-Authenticate");
	case 19: return NAME_IS(h, "Proxy-Authorization");
	}
	return false;
}

/* Collect the field names a Connection field lists (beyond close/keep-alive/upgrade). */
static size_t connection_tokens(const struct http1_header *hs, size_t n, struct token *out)
{
	size_t nt = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p, *end;

		if (!NAME_IS(&hs[i], "Connection"))
			continue;
		p = hs[i].value;
		end = p + hs[i].value_len;
		while (p < end && nt < MAX_CONN_TOKENS) {
			const char *s, *e;

			while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
				p++;
			s = p;
			while (p < end && *p != ',')
				p++;
			e = p;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e == s)
				continue;
			if ((e - s == 5 && !strncasecmp(s, "close", 5)) ||
			    (e - s == 10 && !strncasecmp(s, "keep-alive", 10)) ||
			    (e - s == 7 && !strncasecmp(s, "upgrade", 7)))
				continue;
			out[nt].p = s;
			out[nt].n = (size_t)(e - s);
			nt++;
		}
	}
	return nt;
}

static bool listed(const struct http1_header *h, const struct token *t, size_t nt)
{
	for (size_t i = 0; i < nt; i++)
		if (h->name_len == t[i].n && !strncasecmp(h->name, t[i].p, t[i].n))
			return true;
	return false;
}

int head_build_request(struct head_out *o, const struct http1_request *req,
		       const struct request_fwd *f)
{
	struct token conn[MAX_CONN_TOKENS];
	size_t nconn = connection_tokens(req->headers, req->nheaders, conn);
	bool have_proto = false, have_fhost = false, have_fport = false, have_real = false;
	bool have_fserver = false, have_xff = false;
	const char *target_end = req->target + req->target_len;
	int ret = 0;

	o->niov = 0;
	o->total = 0;
	o->used = 0;

	/* Request line, in origin-form, HTTP/1.1 (or 1.0 for 1.0 clients). */
	if (!f->path && !f->http10 && req->path == req->target &&
	    !memcmp(target_end, " HTTP/1.1\r\n", 11)) {
		/* unchanged: the received line, contiguous with the fields that follow */
		ret |= add_iov(o, req->method, (size_t)(target_end + 11 - req->method));
	} else {
		ret |= add_iov(o, req->method, req->method_len + 1);
		if (f->path) {
			ret |= add_iov(o, f->path, f->path_len);
			if (req->query)
				ret |= add_iov(o, req->query - 1, req->query_len + 1);
		} else if (req->path && req->path != req->target) {
			/* absolute-form: send the path and query only ("/" for an empty path) */
			if (!req->path_len)
				ret |= ADD_LIT(o, "/");
			ret |= add_iov(o, req->path, (size_t)(target_end - req->path));
		} else {
			ret |= add_iov(o, req->target, req->target_len);
		}
		if (f->http10)
			ret |= ADD_LIT(o, " HTTP/1.0\r\n");
		else
			ret |= ADD_LIT(o, " HTTP/1.1\r\n");
	}

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];

		if (is_hop_by_hop(h)) {
			if (f->upgrade && NAME_IS(h, "Upgrade"))
				ret |= add_iov(o, h->line, h->line_len);
			continue;
		}
		if (nconn && listed(h, conn, nconn))
			continue;
		switch (h->name_len) {
		case 4:
			if (f->host_override && NAME_IS(h, "Host")) {
				ret |= ADD_HDR(o, "Host", f->host_override);
				continue;
			}
			break;
		case 9:
			if (NAME_IS(h, "X-Real-Ip"))
				have_real = true;
			break;
		case 15:
			if (NAME_IS(h, "X-Forwarded-For")) {
				have_xff = true;
				continue;	/* merged below */
			}
			break;
		case 16:
			if (NAME_IS(h, "X-Forwarded-Host"))
				have_fhost = true;
			else if (NAME_IS(h, "X-Forwarded-Port"))
				have_fport = true;
			break;
		case 17:
			if (NAME_IS(h, "X-Forwarded-Proto"))
				have_proto = true;
			break;
		case 18:
			if (NAME_IS(h, "X-Forwarded-Server"))
				have_fserver = true;
			break;
		}
		ret |= add_iov(o, h->line, h->line_len);
	}
	if (ret)
		return -E2BIG;

	/* Trusted forwarded headers (Traefik's default) are kept; the chain grows. */
	ret |= ADD_LIT(o, "X-Forwarded-For: ");
	if (have_xff) {
		for (size_t i = 0; i < req->nheaders; i++) {
			const struct http1_header *h = &req->headers[i];

			if (h->name_len != 15 || !NAME_IS(h, "X-Forwarded-For") || !h->value_len)
				continue;
			ret |= add_copy(o, h->value, h->value_len);
			ret |= ADD_LIT(o, ", ");
		}
	}
	ret |= add_cat(o, f->client_ip, strlen(f->client_ip), "\r\n", 2, "", 0);
	if (!have_fhost && req->host)
		ret |= ADD_LIT(o, "X-Forwarded-Host: ") | add_copy(o, req->host, req->host_len) |
		       ADD_LIT(o, "\r\n");
	if (!have_fport)
		ret |= ADD_HDR(o, "X-Forwarded-Port", f->port);
	if (!have_proto)
		ret |= ADD_LIT(o, "X-Forwarded-Proto: http\r\n");
	if (!have_fserver)
		ret |= ADD_HDR(o, "X-Forwarded-Server", f->server_name);
	if (!have_real)
		ret |= ADD_HDR(o, "X-Real-Ip", f->client_ip);
	if (f->fwd_prefix)
		ret |= ADD_LIT(o, "X-Forwarded-Prefix: ") |
		       add_copy(o, f->fwd_prefix, f->fwd_prefix_len) | ADD_LIT(o, "\r\n");
	if (f->replaced)
		ret |= ADD_LIT(o, "X-Replaced-Path: ") | add_copy(o, f->replaced, f->replaced_len) |
		       ADD_LIT(o, "\r\n");
	if (f->upgrade)
		ret |= ADD_LIT(o, "Connection: Upgrade\r\n");
	else if (f->http10 || f->close)
		ret |= ADD_LIT(o, "Connection: close\r\n");
	ret |= ADD_LIT(o, "\r\n");
	return ret ? -E2BIG : 0;
}

int head_build_response(struct head_out *o, const char *buf, const struct http1_response *resp,
			bool close)
{
	struct token conn[MAX_CONN_TOKENS];
	size_t nconn = connection_tokens(resp->headers, resp->nheaders, conn);
	const char *eol = memchr(buf, '\n', resp->head_len);
	bool upgrade = resp->status == 101;
	int ret = 0;

	o->niov = 0;
	o->total = 0;
	o->used = 0;
	if (!eol)
		return -EINVAL;
	ret |= add_iov(o, buf, (size_t)(eol + 1 - buf));
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct http1_header *h = &resp->headers[i];

		if (is_hop_by_hop(h)) {
			if (upgrade && NAME_IS(h, "Upgrade"))
				ret |= add_iov(o, h->line, h->line_len);
			else if (NAME_IS(h, "Trailer"))	/* announces chunked trailers: keep */
				ret |= add_iov(o, h->line, h->line_len);
			continue;
		}
		if (nconn && listed(h, conn, nconn))
			continue;
		ret |= add_iov(o, h->line, h->line_len);
	}
	if (upgrade)
		ret |= ADD_LIT(o, "Connection: Upgrade\r\n");
	else if (close)
		ret |= ADD_LIT(o, "Connection: close\r\n");
	/* the received empty line: with nothing added, head (and body) stay one slice */
	ret |= add_iov(o, buf + resp->head_len - 2, 2);
	return ret ? -E2BIG : 0;
}

const char *head_status_text(int status)
{
	/* 499 is Traefik's own code for a client that went away; the rest are Go's texts */
	return status == 499 ? "Client Closed Request" : gofmt_status_text(status);
}

/* "Sun, 29 Nov 2026 10:00:00 GMT", formatted at most once a second per thread. */
static const char *http_date(void)
{
	static __thread char cached[40];
	static __thread time_t cached_at;
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached_at) {
		gmtime_r(&now, &tm);
		strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached_at = now;
	}
	return cached;
}

size_t head_error_response(char *buf, size_t cap, int status, bool close)
{
	char body[64];
	int n;

	/*
	 * Go's http.NotFound (no route) and oxy's error handler (StatusText as the body), or
	 * the server's "400 Bad Request" for a request it could not parse.
	 */
	if (status == 404)
		snprintf(body, sizeof(body), "404 page not found\n");
	else if (status == 400 || status == 414 || status == 431 || status == 501 || status == 505)
		snprintf(body, sizeof(body), "%d %s", status, head_status_text(status));
	else
		snprintf(body, sizeof(body), "%s", head_status_text(status));
	n = snprintf(buf, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "%s"
		     "Date: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "\r\n%s",
		     status, head_status_text(status),
		     status == 404 ? "X-Content-Type-Options: nosniff\r\n" : "",
		     http_date(), strlen(body), close ? "Connection: close\r\n" : "", body);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t head_redirect_response(char *buf, size_t cap, int status, const char *location, bool close)
{
	int n;

	/* the body names the location; Go html-escapes it, a path here has no <>&"' left */
	for (const char *p = location; *p; p++)
		if (strchr("<>&\"'", *p))
			return 0;
	n = snprintf(buf, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/html; charset=utf-8\r\n"
		     "Location: %s\r\n"
		     "Date: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "\r\n<a href=\"%s\">%s</a>.\n\n",
		     status, head_status_text(status), location, http_date(),
		     strlen(location) + strlen(head_status_text(status)) + 18,
		     close ? "Connection: close\r\n" : "", location, head_status_text(status));
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}
