// SPDX-License-Identifier: MIT
/*
 * proxy: one client connection's HTTP/1.1 state machine.
 *
 * accept -> read head -> route -> pick server -> connect (or reuse) -> forward head and
 * body -> relay response -> keep-alive or close; tunnels and bulk bodies are handed to
 * tunnel.c at a quiet point. Everything for one connection happens on its worker's thread.
 *
 * Design: event callbacks only read; client_run() then makes all the progress the buffered
 * bytes allow (parse, write, finish, next pipelined request) and update_interest() arms
 * exactly the events the new state needs, touching epoll only when interest changes. On a
 * keep-alive request cycle that means no epoll_ctl at all: read, writev, read, writev.
 * A request's state lives in a struct txn taken from a per-worker free list, so an idle
 * keep-alive connection costs only its struct client and input buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "accesslog.h"
#include "fastpath.h"
#include "http1.h"
#include "log.h"
#include "model.h"
#include "proxy.h"
#include "proxy_head.h"
#include "rule.h"
#include "stats.h"
#include "tunnel.h"
#include "upstream.h"
#include "worker.h"

#define CLIENT_BUF_MIN	(16 * 1024)
#define CLIENT_BUF_MAX	(64 * 1024 + 512)	/* head limit plus slack */
#define BULK_BUF	UPSTREAM_BUF_BULK
#define MAX_HEADERS	100
#define PATH_BUF	16384
#define FREE_TXN_MAX	256
#define FREE_CLIENT_MAX	1024

enum body_kind {
	BODY_NONE = 0,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_EOF,	/* response delimited by the backend closing */
	BODY_RAW,	/* tunnel bytes after a 101: everything buffered */
};

struct body {
	enum body_kind kind;
	uint64_t remaining;	/* BODY_LENGTH: not yet scanned */
	struct http1_chunked ch;
	bool complete;		/* every byte of the body has been scanned */
	size_t pending;		/* scanned bytes at the source's off, not yet written */
	uint64_t sent;		/* body bytes written */
};

/* One direction of output: head iovecs first, then body bytes from the source buffer. */
struct outdir {
	struct head_out head;
	int iov_i;		/* next iovec to write */
	bool head_pending;
	bool blocked;		/* last write hit EAGAIN: wait for writable */
};

enum deadline_kind {
	DL_NONE = 0,
	DL_IDLE,		/* keep-alive idle (and head not complete, without a read timeout) */
	DL_HEAD,		/* respondingTimeouts.readTimeout: the head is taking too long */
	DL_CONNECT,		/* dialTimeout */
	DL_RESPONSE,		/* responseHeaderTimeout */
};

/*
 * Buffer rules. The request head sits at c->buf[head_at, body_off); its fields and the
 * forwarded head's iovecs point into it, so until the head is "consumed" the client buffer
 * is neither moved nor grown. It is consumed once the head is written (or, for a bodiless
 * request that may be replayed on a fresh connection, once the response head arrived).
 * Request body bytes are forwarded from body_off. The response head's iovecs point into
 * the upstream buffer likewise until written (s.head_pending).
 */
struct txn {
	struct txn *next_free;
	struct http1_request req;
	struct http1_header hdrs[MAX_HEADERS];
	size_t head_len;
	size_t body_off;	/* in c->buf: next request-body byte to forward */
	uint64_t write_deadline_ms;	/* respondingTimeouts.writeTimeout, 0 = none */
	bool head_consumed;	/* c->off == body_off from now on */
	struct model_hold *hold;
	struct model_frontend *fe;
	struct model_server *srv;
	struct model_server *failed_srv;
	int attempts;		/* connect attempts (a refused connect is retried once) */
	int replays;		/* resends after a stale pooled connection */
	bool replayable;	/* no request body: can be resent on a fresh connection */
	bool resp_started;	/* a byte of response arrived */
	bool resp_head_done;
	bool upgrade_req;
	bool upgrading;		/* 101 seen: hand off when both directions are flushed */
	bool bulk_handoff;	/* hand the rest of a bulk body to the kernel */
	bool bulk_upload;
	bool up_reusable;
	bool own_response;	/* the response is our own error page */
	struct outdir q, s;	/* q: to the backend, s: to the client */
	struct body qb, sb;
	int status;
	char errbuf[1536];	/* our own response: error page or redirect */
	char *pathbuf;
	struct request_record rec;
	uint64_t start_mono_ns;
};

struct client {
	struct client *next, *prev;
	struct worker *w;
	int fd;
	int ep;
	struct event *rev, *wev;
	bool rev_on, wev_on;
	bool eof;		/* client sent FIN */
	bool close_after;	/* close once the current response is written */
	bool dead;
	char ip[INET6_ADDRSTRLEN];
	char port[8];		/* entry point port, for X-Forwarded-Port */
	struct sockaddr_storage peer;
	char *buf;
	size_t cap, len, off;
	struct http1_parser hp;
	struct txn *t;
	struct upstream *up;
	uint64_t deadline_ms;
	enum deadline_kind dl;
	uint64_t nrequests;
};

static __thread struct txn *free_txns;
static __thread unsigned long nfree_txns;
static __thread struct http1_header resp_hdrs[MAX_HEADERS];

static void client_run(struct client *c);
static void client_free(struct client *c);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- event interest ---------------------------------------------------------------- */

static void client_want(struct client *c, bool rd, bool wr)
{
	worker_event_want(c->rev, &c->rev_on, rd);
	worker_event_want(c->wev, &c->wev_on, wr);
}

/* May the client buffer move (compact or grow)? Not while parsed fields point into it. */
static bool client_buf_movable(const struct client *c)
{
	const struct txn *t = c->t;

	return !t || !t->req.method || t->head_consumed;
}

static bool client_has_room(const struct client *c)
{
	if (c->len < c->cap)
		return true;
	return client_buf_movable(c) && (c->off > 0 || c->cap < CLIENT_BUF_MAX);
}

static void update_interest(struct client *c)
{
	struct txn *t = c->t;
	struct upstream *u = c->up;
	bool crd, cwr, urd, uwr;

	crd = !c->eof && client_has_room(c) &&
	      !(t && (t->q.blocked || t->upgrading || (t->bulk_handoff && t->qb.complete)));
	cwr = t && t->s.blocked;
	if (u) {
		uwr = u->connecting || (t && t->q.blocked);
		/* a bulk download waiting for its hand-off leaves the rest in the socket */
		urd = !u->connecting && t && !t->s.blocked && !t->upgrading &&
		      !(t->resp_head_done && (t->sb.complete ||
					      (t->bulk_handoff && !t->bulk_upload))) &&
		      (u->len < u->cap || (u->off > 0 && !t->s.head_pending) ||
		       (!t->resp_head_done && u->cap < 64 * 1024 + 512));
		upstream_want(u, urd, uwr);
	}
	client_want(c, crd, cwr);
}

static void set_deadline(struct client *c, enum deadline_kind kind, double seconds)
{
	c->dl = seconds > 0 ? kind : DL_NONE;
	c->deadline_ms = seconds > 0 ? c->w->now_ms + (uint64_t)(seconds * 1000) : 0;
}

/* ---- transactions ------------------------------------------------------------------ */

static struct txn *txn_new(void)
{
	struct txn *t = free_txns;

	if (t) {
		free_txns = t->next_free;
		nfree_txns--;
	} else {
		t = malloc(sizeof(*t));
		if (!t)
			return NULL;
	}
	/* Zero the small state; the big arrays are overwritten before use. */
	memset(&t->req, 0, sizeof(t->req));
	t->head_len = t->body_off = 0;
	t->write_deadline_ms = 0;
	t->head_consumed = false;
	t->hold = NULL;
	t->fe = NULL;
	t->srv = t->failed_srv = NULL;
	t->attempts = t->replays = 0;
	t->replayable = t->resp_started = t->resp_head_done = false;
	t->upgrade_req = t->upgrading = t->bulk_handoff = t->bulk_upload = false;
	t->up_reusable = true;
	t->own_response = false;
	memset(&t->qb, 0, sizeof(t->qb));
	memset(&t->sb, 0, sizeof(t->sb));
	t->q.iov_i = t->s.iov_i = 0;
	t->q.head_pending = t->s.head_pending = false;
	t->q.blocked = t->s.blocked = false;
	t->q.head.niov = t->s.head.niov = 0;
	t->status = 0;
	t->pathbuf = NULL;
	t->rec.frontend = t->rec.backend = t->rec.server_url = NULL;
	t->rec.status = 0;
	t->rec.resp_bytes = 0;
	t->rec.tunnel = t->rec.spliced = t->rec.retried = false;
	t->rec.begun = 0;
	t->rec.req_bytes = 0;
	return t;
}

static void txn_free(struct client *c, struct txn *t)
{
	if (t->hold)
		model_cache_leave(&c->w->mc, t->hold);
	free(t->pathbuf);
	if (nfree_txns < FREE_TXN_MAX) {
		t->next_free = free_txns;
		free_txns = t;
		nfree_txns++;
	} else {
		free(t);
	}
}

static void copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Complete the request's record: status, sizes, duration, names. */
static void txn_finalize(struct client *c, struct txn *t)
{
	struct request_record *r = &t->rec;

	(void)c;
	r->status = t->status;
	r->resp_bytes = t->sb.sent;
	if (t->own_response && t->s.head.niov == 1) {
		/* our error page: its body is the tail of the one iovec, after the head */
		const char *p = t->s.head.iov[0].iov_base;
		size_t len = t->s.head.iov[0].iov_len;
		const char *e = memmem(p, len, "\r\n\r\n", 4);

		r->resp_bytes = e ? len - (size_t)(e + 4 - p) : 0;
	}
	r->req_bytes = t->qb.sent;
	r->duration_ns = mono_ns() - t->start_mono_ns;
	if (t->fe) {
		r->frontend = t->fe->name;
		r->backend = t->fe->backend->name;
	}
	if (t->srv)
		r->server_url = t->srv->url;
}

/* Report the finished request to stats (and through it, the access log). */
static void txn_record(struct client *c, struct txn *t)
{
	struct request_record *r = &t->rec;

	txn_finalize(c, t);
	stats_request_done(c->w->id, r);
}

static void txn_fill_record(struct client *c, struct txn *t)
{
	struct request_record *r = &t->rec;
	const struct http1_request *q = &t->req;
	const struct http1_header *h;

	copy_field(r->method, sizeof(r->method), q->method, q->method_len);
	copy_field(r->path, sizeof(r->path), q->target, q->target_len);
	copy_field(r->host, sizeof(r->host), q->host, q->host_len);
	h = http1_find_header(q->headers, q->nheaders, "User-Agent");
	copy_field(r->user_agent, sizeof(r->user_agent), h ? h->value : NULL, h ? h->value_len : 0);
	h = http1_find_header(q->headers, q->nheaders, "Referer");
	copy_field(r->referer, sizeof(r->referer), h ? h->value : NULL, h ? h->value_len : 0);
	r->forwarded_for[0] = '\0';
	if (accesslog_enabled()) {
		/* Traefik logs the incoming X-Forwarded-For as the client host */
		h = http1_find_header(q->headers, q->nheaders, "X-Forwarded-For");
		copy_field(r->forwarded_for, sizeof(r->forwarded_for), h ? h->value : NULL,
			   h ? h->value_len : 0);
	}
	strcpy(r->proto, q->minor_version ? "HTTP/1.1" : "HTTP/1.0");
	r->entrypoint = c->ep;
	r->entrypoint_name = c->w->cfg->entrypoints[c->ep].name;
	r->client = c->peer;
	r->start_ns = real_ns();
}

/* ---- closing ----------------------------------------------------------------------- */

static void client_close(struct client *c)
{
	struct txn *t = c->t;

	if (c->dead)
		return;
	c->dead = true;
	if (t) {
		if (t->req.method) {
			if (t->status == 0 || !t->resp_head_done)
				t->status = t->status ? t->status : 499;
			txn_record(c, t);
		}
		txn_free(c, t);
		c->t = NULL;
	}
	if (c->up) {
		upstream_close(c->up);
		c->up = NULL;
	}
	client_free(c);
}

/* ---- writing ----------------------------------------------------------------------- */

/*
 * Write what d holds: head iovecs, then b->pending bytes at src + *off.
 * Returns 1 when everything queued was written, 0 when blocked, -errno on error.
 */
static int dir_flush(int fd, struct outdir *d, struct body *b, char *src, size_t *off,
		     uint64_t *counter)
{
	struct iovec iov[HEAD_IOV_MAX + 1];

	for (;;) {
		int n = 0;
		ssize_t w;

		if (d->head_pending)
			for (int i = d->iov_i; i < d->head.niov; i++)
				iov[n++] = d->head.iov[i];
		if (b->pending) {
			/* a response relayed as received is one slice: head then body */
			if (n && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len == src + *off) {
				iov[n - 1].iov_len += b->pending;
			} else {
				iov[n].iov_base = src + *off;
				iov[n].iov_len = b->pending;
				n++;
			}
		}
		if (!n) {
			d->blocked = false;
			return 1;
		}
		w = n == 1 ? send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
			   : writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				d->blocked = true;
				return 0;
			}
			return -errno;
		}
		if (counter)
			*counter += (uint64_t)w;
		while (d->head_pending && w > 0) {
			struct iovec *v = &d->head.iov[d->iov_i];

			if ((size_t)w >= v->iov_len) {
				w -= (ssize_t)v->iov_len;
				if (++d->iov_i == d->head.niov)
					d->head_pending = false;
			} else {
				v->iov_base = (char *)v->iov_base + w;
				v->iov_len -= (size_t)w;
				w = 0;
			}
		}
		if (d->head_pending && d->iov_i == d->head.niov)
			d->head_pending = false;
		if (w > 0) {
			*off += (size_t)w;
			b->pending -= (size_t)w;
			b->sent += (uint64_t)w;
		}
		if (!d->head_pending && !b->pending) {
			d->blocked = false;
			return 1;
		}
	}
}

/* Scan newly buffered body bytes (src[off + pending .. len)) into b->pending. */
static int body_scan(struct body *b, const char *src, size_t off, size_t len)
{
	size_t avail = len - off - b->pending;
	ssize_t n;

	/* a close-delimited body may still have unscanned bytes when the EOF is seen */
	if (!avail || (b->complete && b->kind != BODY_EOF))
		return 0;
	switch (b->kind) {
	case BODY_NONE:
		b->complete = true;
		break;
	case BODY_LENGTH:
		n = (ssize_t)(avail < b->remaining ? avail : b->remaining);
		b->pending += (size_t)n;
		b->remaining -= (uint64_t)n;
		if (!b->remaining)
			b->complete = true;
		break;
	case BODY_CHUNKED:
		n = http1_chunked_scan(&b->ch, src + off + b->pending, avail);
		if (n < 0)
			return -EPROTO;
		b->pending += (size_t)n;
		if (b->ch.done)
			b->complete = true;
		break;
	case BODY_EOF:
	case BODY_RAW:
		b->pending += avail;
		break;
	}
	return 0;
}

static void body_init(struct body *b, const struct http1_framing *f, bool has_body, bool eof_ok)
{
	memset(b, 0, sizeof(*b));
	if (!has_body) {
		b->kind = BODY_NONE;
		b->complete = true;
	} else if (f->chunked) {
		b->kind = BODY_CHUNKED;
	} else if (f->content_length >= 0) {
		b->kind = BODY_LENGTH;
		b->remaining = (uint64_t)f->content_length;
		b->complete = b->remaining == 0;
	} else if (eof_ok) {
		b->kind = BODY_EOF;
	} else {
		b->kind = BODY_NONE;	/* a request without framing has no body */
		b->complete = true;
	}
}

/* ---- errors we answer ourselves ------------------------------------------------------ */

/*
 * Answer with our own error page. If the request body was not consumed the connection
 * can't carry another request, so it closes after the answer.
 */
static void respond_error(struct client *c, int status)
{
	struct txn *t = c->t;
	size_t n;

	if (!t || t->s.head_pending || t->s.iov_i || t->sb.sent) {
		/* Part of a response was already sent: closing is all that is left. */
		if (t && !t->status)
			t->status = status;
		client_close(c);
		return;
	}
	if (c->up) {
		upstream_close(c->up);
		c->up = NULL;
	}
	if (!t->qb.complete || t->qb.pending || t->upgrade_req || c->w->draining)
		c->close_after = true;
	t->status = status;
	t->own_response = true;
	n = head_error_response(t->errbuf, sizeof(t->errbuf), status, c->close_after);
	t->s.head.iov[0].iov_base = t->errbuf;
	t->s.head.iov[0].iov_len = n;
	t->s.head.niov = 1;
	t->s.iov_i = 0;
	t->s.head_pending = true;
	t->s.blocked = false;
	memset(&t->sb, 0, sizeof(t->sb));
	t->sb.complete = true;
	t->resp_head_done = true;
	t->upgrading = t->bulk_handoff = false;
	t->q.head_pending = false;
	t->q.blocked = false;
	set_deadline(c, DL_NONE, 0);
}

/* 301 to the strict-slash form of the path, as gorilla/mux answers under Traefik 1.7. */
static void respond_redirect(struct client *c, const struct rule_input *in)
{
	struct txn *t = c->t;
	char loc[1024];
	size_t len, n;

	if (rule_slash_location(in, loc, sizeof(loc) - 1, &len)) {
		respond_error(c, 414);
		return;
	}
	loc[len] = '\0';
	respond_error(c, 301);
	if (c->dead || !t->own_response)
		return;
	n = head_redirect_response(t->errbuf, sizeof(t->errbuf), 301, loc, c->close_after);
	if (!n) {
		respond_error(c, 414);
		return;
	}
	t->s.head.iov[0].iov_len = n;
}

/* A request head we could not parse: answer and close, like Go's server. */
static void respond_bad_request(struct client *c, int status)
{
	char buf[512];
	size_t n = head_error_response(buf, sizeof(buf), status, true);
	struct request_record r;

	if (send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* best effort: the connection is closed right after */
	}
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.entrypoint = c->ep;
	r.entrypoint_name = c->w->cfg->entrypoints[c->ep].name;
	r.client = c->peer;
	r.start_ns = real_ns();
	strcpy(r.proto, "HTTP/1.1");
	stats_request_done(c->w->id, &r);
	client_close(c);
}

/* ---- connecting ------------------------------------------------------------------------ */

static struct model_server *pick_server(struct txn *t)
{
	struct model_backend *b = t->fe->backend;
	struct model_server *s = model_backend_next(b);

	/* After a failure, move on to a different server if there is one. */
	for (size_t i = 0; s && s == t->failed_srv && b->nservers > 1 && i < b->seqlen; i++)
		s = model_backend_next(b);
	return s;
}

static int build_request_head(struct client *c)
{
	struct txn *t = c->t;
	struct request_fwd f = {
		.client_ip = c->ip,
		.port = c->port,
		.server_name = c->w->hostname,
		.http10 = t->req.minor_version == 0,
		.upgrade = t->upgrade_req,
		.close = t->bulk_upload,
	};
	struct rule_rewrite rw;

	if (!t->fe->pass_host_header)
		f.host_override = t->srv->hostport;
	if (rule_has_rewrite(t->fe->rule)) {
		struct rule_input in = {
			.method = t->req.method, .method_len = t->req.method_len,
			.host = t->req.host, .host_len = t->req.host_len,
			.path = t->req.path, .path_len = t->req.path_len,
			.query = t->req.query, .query_len = t->req.query_len,
			.headers = t->req.headers, .nheaders = t->req.nheaders,
		};

		int ret;

		if (!t->pathbuf)
			t->pathbuf = malloc(PATH_BUF);
		if (!t->pathbuf)
			return -ENOMEM;
		ret = rule_rewrite(t->fe->rule, &in, t->pathbuf, PATH_BUF, &rw);
		if (ret)
			return ret;	/* -ENOENT: Traefik answers 404 */
		f.path = t->pathbuf;
		f.path_len = rw.path_len;
		f.fwd_prefix = rw.fwd_prefix;
		f.fwd_prefix_len = rw.fwd_prefix_len;
		f.replaced = rw.replaced;
		f.replaced_len = rw.replaced_len;
	}
	return head_build_request(&t->q.head, &t->req, &f);
}

/* The backend connection is usable: queue the request head (rebuilt for this server). */
static void send_request_head(struct client *c)
{
	struct txn *t = c->t;

	int ret = build_request_head(c);

	if (ret) {
		respond_error(c, ret == -ENOENT ? 404 : ret == -ENOMEM ? 503 : 431);
		return;
	}
	t->q.iov_i = 0;
	t->q.head_pending = true;
	t->q.blocked = false;
	set_deadline(c, DL_RESPONSE, c->w->cfg->response_header_timeout);
}

/*
 * Get a connection for t->srv (picking one if unset) and queue the head. A connect that
 * fails at once is retried once on another server; then 502. fresh: bypass the pool.
 */
static void connect_backend(struct client *c, bool fresh)
{
	struct txn *t = c->t;
	struct upstream *u;

	for (;;) {
		if (!t->srv) {
			t->srv = pick_server(t);
			if (!t->srv) {
				respond_error(c, 503);
				return;
			}
		}
		t->attempts++;
		u = upstream_get(c->w, c, (struct sockaddr *)&t->srv->addr, t->srv->addrlen, fresh);
		if (u)
			break;
		log_debug("connect to %s failed: %s", t->srv->url, strerror(errno));
		if (t->attempts >= 2 || t->fe->backend->nservers < 2) {
			respond_error(c, 502);
			return;
		}
		t->failed_srv = t->srv;
		t->srv = NULL;
		t->rec.retried = true;
	}
	c->up = u;
	u->bytes_in = u->bytes_out = 0;
	if (u->connecting) {
		set_deadline(c, DL_CONNECT, c->w->cfg->dial_timeout);
		return;
	}
	send_request_head(c);
}

void proxy_upstream_writable(struct client *c)
{
	struct txn *t = c->t;
	struct upstream *u = c->up;

	c->w->now_ms = worker_now_ms();
	if (!t || !u)
		return;
	if (u->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return;
		u->connecting = false;
		if (err) {
			log_debug("connect to %s failed: %s", t->srv->url, strerror(err));
			upstream_close(u);
			c->up = NULL;
			if (t->attempts < 2 && t->fe->backend->nservers > 1) {
				t->failed_srv = t->srv;
				t->srv = NULL;
				t->rec.retried = true;
				connect_backend(c, false);
			} else {
				respond_error(c, 502);
			}
		} else {
			send_request_head(c);
		}
	} else {
		t->q.blocked = false;
	}
	client_run(c);
}

/* ---- request head ------------------------------------------------------------------------ */

/* A complete head is in the buffer: route it and start the transaction. */
static void start_request(struct client *c, int head_len)
{
	struct txn *t = c->t;
	struct http1_request *q = &t->req;
	const struct fastpath_opts *fo;
	enum rule_verdict verdict = RULE_MATCH;
	struct rule_input in;

	t->head_len = (size_t)head_len;
	t->body_off = c->off + (size_t)head_len;
	if (c->w->cfg->write_timeout > 0)
		t->write_deadline_ms = c->w->now_ms + (uint64_t)(c->w->cfg->write_timeout * 1000);
	t->start_mono_ns = mono_ns();
	c->nrequests++;
	txn_fill_record(c, t);
	if (q->framing.conn_close || q->minor_version == 0 || c->w->draining)
		c->close_after = true;
	t->upgrade_req = q->framing.conn_upgrade && q->framing.has_upgrade;
	t->rec.protocol = STATS_PROTO_HTTP;
	if (t->upgrade_req) {
		/* Traefik's "protocol" label: websocket only for Upgrade: websocket */
		const struct http1_header *up = http1_find_header(q->headers, q->nheaders, "Upgrade");

		if (up && http1_token_list_has(up->value, up->value_len, "websocket"))
			t->rec.protocol = STATS_PROTO_WEBSOCKET;
	}
	body_init(&t->qb, &q->framing, q->framing.chunked || q->framing.content_length > 0,
		  false);
	t->replayable = t->qb.kind == BODY_NONE && !t->upgrade_req;

	t->hold = model_cache_enter(&c->w->mc);
	if (!t->hold) {
		respond_error(c, 503);
		return;
	}
	in = (struct rule_input){
		.method = q->method, .method_len = q->method_len,
		.host = q->host, .host_len = q->host_len,
		.path = q->path, .path_len = q->path_len,
		.query = q->query, .query_len = q->query_len,
		.headers = q->headers, .nheaders = q->nheaders,
	};
	t->fe = model_route(t->hold->m, c->ep, &in, &verdict);
	if (!t->fe) {
		respond_error(c, 404);
		return;
	}
	if (verdict == RULE_MATCH_SLASH) {
		/* mux strict slash: Traefik redirects to the rule's form of the path */
		respond_redirect(c, &in);
		return;
	}
	/*
	 * A large announced upload goes to the kernel after the head: the backend connection
	 * becomes single-use (Connection: close) so no later request can ride on it.
	 */
	fo = fastpath_options();
	if (fastpath_enabled() && fo && t->qb.kind == BODY_LENGTH && !t->upgrade_req &&
	    !q->framing.expect_continue && t->qb.remaining >= fo->bulk_threshold) {
		t->bulk_handoff = true;
		t->bulk_upload = true;
		t->up_reusable = false;
		c->close_after = true;
	}
	t->rec.backend = t->fe->backend->name;
	stats_request_begin(c->w->id, &t->rec);	/* in flight until txn_record() */
	connect_backend(c, false);
}

/* ---- tunnel hand-off ------------------------------------------------------------------------- */

/* The tunnel's request is counted and logged now, with the bytes the tunnel carried. */
/* Tunnels of this worker still open: draining waits for them (up to the grace time). */
static __thread unsigned long live_tunnels;

unsigned long proxy_live_tunnels(void)
{
	return live_tunnels;
}

static void tunnel_finished(void *arg, const struct tunnel_result *r)
{
	live_tunnels--;
	stats_tunnel_end(arg, r->c2b_bytes, r->b2c_bytes, r->spliced);
}

/*
 * Both directions are flushed: give the two sockets to tunnel.c and forget them. For a
 * 101 both directions run until EOF; for a bulk body, the rest of that body.
 */
static void handoff(struct client *c)
{
	struct txn *t = c->t;
	struct worker *w = c->w;
	struct tunnel_spec spec;
	struct stats_tunnel *st;

	memset(&spec, 0, sizeof(spec));
	spec.try_splice = fastpath_enabled();
	if (t->upgrading) {
		spec.c2b_limit = TUNNEL_UNLIMITED;
		spec.b2c_limit = TUNNEL_UNLIMITED;
	} else if (t->bulk_upload) {
		/* the rest of the body; the response follows until the backend closes */
		spec.c2b_limit = t->qb.remaining;
		spec.b2c_limit = TUNNEL_UNLIMITED;
	} else {
		spec.c2b_limit = 0;
		spec.b2c_limit = t->sb.remaining;
	}
	spec.frontend_id = t->fe->id;
	spec.backend_id = t->fe->backend->id;
	snprintf(spec.frontend, sizeof(spec.frontend), "%s", t->fe->name);
	snprintf(spec.backend, sizeof(spec.backend), "%s", t->fe->backend->name);
	spec.client_fd = c->fd;
	spec.backend_fd = upstream_steal_fd(c->up);
	c->up = NULL;
	c->fd = -1;
	t->rec.tunnel = true;
	t->rec.spliced = spec.try_splice;
	if (!t->status)
		t->status = 200;
	txn_finalize(c, t);
	st = stats_tunnel_begin(w->id, &t->rec);	/* counted when the tunnel ends */
	txn_free(c, t);
	c->t = NULL;
	c->dead = true;
	client_free(c);
	live_tunnels++;
	if (tunnel_start(w->base, &spec, tunnel_finished, st)) {
		live_tunnels--;
		log_warn("tunnel: could not start (out of memory); connection closed");
		stats_tunnel_end(st, 0, 0, false);
	}
}

/* ---- response ---------------------------------------------------------------------------------- */

/* Parse the response head from the upstream buffer. 1 done, 0 need more, -1 answered. */
static int parse_response(struct client *c)
{
	struct txn *t = c->t;
	struct upstream *u = c->up;
	struct http1_response resp = { .headers = resp_hdrs };
	struct http1_parser hp = HTTP1_PARSER_INIT;
	const struct fastpath_opts *fo;
	struct http1_error err;
	bool has_body;
	int n;

	for (;;) {
		if (u->len == u->off)
			return 0;
		n = http1_parse_response(u->buf + u->off, u->len - u->off, &hp, &resp, NULL, &err);
		if (n == HTTP1_NEED_MORE)
			return 0;
		if (n < 0) {
			log_warn("backend %s: malformed response head: %s", t->srv->url, err.reason);
			respond_error(c, 502);
			return -1;
		}
		if (resp.status >= 100 && resp.status < 200 && resp.status != 101) {
			/* Interim (100 Continue): pass it on as it is and read on. */
			ssize_t w = send(c->fd, u->buf + u->off, (size_t)n, MSG_NOSIGNAL);

			if (w != n) {
				client_close(c);
				return -1;
			}
			u->off += (size_t)n;
			hp = (struct http1_parser)HTTP1_PARSER_INIT;
			continue;
		}
		break;
	}
	t->status = resp.status;
	t->resp_head_done = true;
	set_deadline(c, DL_NONE, 0);
	if (t->bulk_upload && t->bulk_handoff) {
		/* answered before the upload was handed off: finish it all in userspace */
		t->bulk_handoff = false;
	}
	if (resp.status == 101) {
		if (!t->upgrade_req) {
			respond_error(c, 502);
			return -1;
		}
		t->upgrading = true;
		t->up_reusable = false;
		memset(&t->qb, 0, sizeof(t->qb));
		t->qb.kind = BODY_RAW;
		memset(&t->sb, 0, sizeof(t->sb));
		t->sb.kind = BODY_RAW;
	} else {
		has_body = http1_response_has_body(t->req.method, t->req.method_len, resp.status);
		body_init(&t->sb, &resp.framing, has_body, true);
		if (t->sb.kind == BODY_EOF)
			c->close_after = true;
		if (resp.framing.conn_close || resp.minor_version == 0 || t->sb.kind == BODY_EOF ||
		    t->upgrade_req)
			t->up_reusable = false;
		if (!t->qb.complete || t->qb.pending || t->q.head_pending) {
			/* answered before the whole request was sent: neither side can go on */
			c->close_after = true;
			t->up_reusable = false;
		}
		fo = fastpath_options();
		if (fastpath_enabled() && fo && !t->bulk_handoff && t->sb.kind == BODY_LENGTH &&
		    t->qb.complete && !t->q.head_pending && !t->qb.pending &&
		    t->sb.remaining >= fo->bulk_threshold) {
			/* bulk download: the rest of the body goes through the kernel */
			t->bulk_handoff = true;
			t->up_reusable = false;
			c->close_after = true;
		}
	}
	if (head_build_response(&t->s.head, u->buf + u->off, &resp, c->close_after)) {
		respond_error(c, 502);
		return -1;
	}
	t->s.iov_i = 0;
	t->s.head_pending = true;
	/* the head's iovecs point into u->buf: step past it, the bytes stay where they are */
	u->off += (size_t)n;
	return 1;
}

/* Finish a request whose response has been written completely. */
static void finish_request(struct client *c)
{
	struct txn *t = c->t;
	struct upstream *u = c->up;

	if (u) {
		c->up = NULL;
		if (t->up_reusable && t->qb.complete && !t->qb.pending && !t->q.head_pending &&
		    u->len == u->off && !u->connecting) {
			u->nrequests++;
			upstream_put(u);
		} else {
			upstream_close(u);
		}
	}
	/* the next request (pipelined or not) starts after this one's body */
	if (t->qb.complete && !t->qb.pending)
		c->off = t->body_off;
	else
		c->close_after = true;
	txn_record(c, t);
	txn_free(c, t);
	c->t = NULL;
	if (c->close_after || c->w->draining) {
		client_close(c);
		return;
	}
	set_deadline(c, DL_IDLE, c->w->cfg->idle_timeout);
}

/* ---- the driver ---------------------------------------------------------------------------------- */

/* Move unconsumed client bytes to the front so the buffer has room at its end. */
static void client_compact(struct client *c)
{
	size_t shift = c->off;

	if (!shift || !client_buf_movable(c))
		return;
	if (c->len > c->off)
		memmove(c->buf, c->buf + c->off, c->len - c->off);
	c->len -= shift;
	c->off = 0;
	if (c->t && c->t->req.method)
		c->t->body_off -= shift;
}

static void upstream_compact(struct client *c, struct upstream *u)
{
	if (!u->off || (c->t && c->t->s.head_pending))
		return;
	if (u->len > u->off)
		memmove(u->buf, u->buf + u->off, u->len - u->off);
	u->len -= u->off;
	u->off = 0;
}

/* Try to parse a request head at c->buf + c->off. 1 started, 0 need more, -1 closed. */
static int try_head(struct client *c)
{
	struct http1_error err;
	struct txn *t;
	int n;

	if (c->len == c->off)
		return 0;
	if (!c->t) {
		c->t = txn_new();
		if (!c->t) {
			client_close(c);
			return -1;
		}
		c->hp = (struct http1_parser)HTTP1_PARSER_INIT;
	}
	t = c->t;
	t->req.headers = t->hdrs;
	n = http1_parse_request(c->buf + c->off, c->len - c->off, &c->hp, &t->req, NULL, &err);
	if (n == HTTP1_NEED_MORE) {
		t->req.method = NULL;
		/* part of a head is here: from now on the read timeout (if any) applies */
		if (c->w->cfg->read_timeout > 0) {
			if (c->dl != DL_HEAD)
				set_deadline(c, DL_HEAD, c->w->cfg->read_timeout);
		} else if (c->dl != DL_IDLE) {
			set_deadline(c, DL_IDLE, c->w->cfg->idle_timeout);
		}
		return 0;
	}
	if (n < 0) {
		log_debug("client %s: bad request head at byte %zu: %s", c->ip, err.offset,
			  err.reason);
		txn_free(c, t);
		c->t = NULL;
		respond_bad_request(c, err.status ? err.status : 400);
		return -1;
	}
	set_deadline(c, DL_NONE, 0);
	start_request(c, n);
	return 1;
}

/* client -> backend: the head, then request-body bytes as they are scanned. */
static int pump_request(struct client *c, struct txn *t, struct upstream *u)
{
	int ret;

	if (body_scan(&t->qb, c->buf, t->body_off, c->len) < 0) {
		log_debug("client %s: malformed chunked request body", c->ip);
		t->status = 400;
		client_close(c);
		return -1;
	}
	if (!t->q.head_pending && !t->qb.pending)
		return 1;
	ret = dir_flush(u->fd, &t->q, &t->qb, c->buf, &t->body_off, &u->bytes_out);
	if (!t->q.head_pending && !t->replayable && !t->head_consumed) {
		t->head_consumed = true;	/* nobody points into the head any more */
		c->off = t->body_off;
	}
	if (t->head_consumed)
		c->off = t->body_off;
	if (ret >= 0)
		return ret;
	if (t->replayable && u->reused && !t->resp_started && t->replays < 2) {
		/* a stale pooled connection: resend on a fresh one */
		upstream_close(u);
		c->up = NULL;
		t->replays++;
		t->rec.retried = true;
		connect_backend(c, true);
		return 0;
	}
	log_debug("backend %s: write failed: %s", t->srv->url, strerror(-ret));
	respond_error(c, 502);
	return 0;
}

static void client_run(struct client *c)
{
	for (int rounds = 0; rounds < 64 && !c->dead; rounds++) {
		struct txn *t = c->t;
		struct upstream *u;
		size_t zero = 0;
		int ret;

		if (!t || !t->req.method) {
			if (c->len == c->off && (c->eof || c->w->draining)) {
				client_close(c);
				return;
			}
			client_compact(c);
			if (try_head(c) <= 0)
				break;
			continue;
		}
		u = c->up;
		if (u && !u->connecting && !t->q.blocked && !t->own_response &&
		    (t->q.head_pending || !t->qb.complete || t->qb.pending)) {
			if (pump_request(c, t, u) < 0)
				return;
			if (c->up != u)
				continue;	/* replaced or answered */
		}
		if (u && !t->resp_head_done && u->len > u->off) {
			t->resp_started = true;
			ret = parse_response(c);
			if (ret < 0)
				continue;	/* answered or closed */
			if (ret == 0)
				break;
			if (t->replayable && !t->head_consumed) {
				t->head_consumed = true;
				c->off = t->body_off;
			}
		}
		if (t->resp_head_done && !t->s.blocked) {
			if (u && body_scan(&t->sb, u->buf, u->off, u->len) < 0) {
				log_warn("backend %s: malformed chunked response body", t->srv->url);
				client_close(c);
				return;
			}
			ret = dir_flush(c->fd, &t->s, &t->sb, u ? u->buf : t->errbuf,
					u ? &u->off : &zero, NULL);
			if (ret < 0) {
				client_close(c);
				return;
			}
			if (ret == 0)
				break;
		}
		if (t->upgrading && !t->q.blocked && !t->s.blocked) {
			/* client bytes that came after the request head go first */
			if (t->q.head_pending || t->qb.pending || t->body_off != c->len)
				continue;
			handoff(c);
			return;
		}
		if (t->bulk_handoff && !t->own_response && c->up && !c->up->connecting &&
		    !t->q.head_pending && !t->qb.pending && !t->q.blocked && !t->s.head_pending &&
		    !t->sb.pending && !t->s.blocked &&
		    (t->bulk_upload ? !t->resp_started : t->resp_head_done)) {
			handoff(c);
			return;
		}
		if (t->resp_head_done && t->sb.complete && !t->s.head_pending && !t->sb.pending) {
			finish_request(c);
			continue;
		}
		break;
	}
	if (!c->dead) {
		if (c->up && c->up->len == c->up->cap)
			upstream_compact(c, c->up);
		if (c->len == c->cap)
			client_compact(c);
		update_interest(c);
	}
}

/* ---- event callbacks ---------------------------------------------------------------------- */

static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	ssize_t n;

	(void)what;
	c->w->now_ms = worker_now_ms();
	if (c->len == c->cap) {
		client_compact(c);
		if (c->len == c->cap && client_buf_movable(c) && c->cap < CLIENT_BUF_MAX) {
			char *p = realloc(c->buf, CLIENT_BUF_MAX);

			if (!p) {
				client_close(c);
				return;
			}
			c->buf = p;
			c->cap = CLIENT_BUF_MAX;
		}
		if (c->len == c->cap) {
			update_interest(c);
			return;
		}
	}
	n = recv(fd, c->buf + c->len, c->cap - c->len, 0);
	if (n > 0) {
		c->len += (size_t)n;
	} else if (n == 0) {
		c->eof = true;
		/* a request cut short can't be completed: give up on it */
		if (c->t && c->t->req.method && !c->t->qb.complete) {
			client_close(c);
			return;
		}
	} else if (errno != EAGAIN && errno != EINTR) {
		client_close(c);
		return;
	}
	client_run(c);
}

static void on_client_write(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	c->w->now_ms = worker_now_ms();
	if (c->t)
		c->t->s.blocked = false;
	client_run(c);
}

void proxy_upstream_readable(struct client *c)
{
	struct upstream *u = c->up;
	struct txn *t = c->t;
	ssize_t n;

	c->w->now_ms = worker_now_ms();
	if (!t || !u)
		return;
	if (u->len == u->cap) {
		upstream_compact(c, u);
		if (u->len == u->cap && !t->s.head_pending) {
			size_t want = t->resp_head_done ? BULK_BUF : 64 * 1024 + 512;

			if (u->cap < want && upstream_buf_reserve(u, want)) {
				client_close(c);
				return;
			}
		}
		if (u->len == u->cap) {
			if (!t->resp_head_done) {
				log_warn("backend %s: response head too large", t->srv->url);
				respond_error(c, 502);
				client_run(c);
				return;
			}
			update_interest(c);
			return;
		}
	}
	/* a large body: read it in big chunks */
	if (t->resp_head_done && u->cap < BULK_BUF && u->off == u->len && !t->s.head_pending &&
	    (t->sb.kind == BODY_CHUNKED || t->sb.kind == BODY_EOF ||
	     (t->sb.kind == BODY_LENGTH && t->sb.remaining > u->cap))) {
		u->off = u->len = 0;
		if (upstream_buf_reserve(u, BULK_BUF)) {
			client_close(c);
			return;
		}
	}
	n = recv(u->fd, u->buf + u->len, u->cap - u->len, 0);
	if (n > 0) {
		u->len += (size_t)n;
		u->bytes_in += (uint64_t)n;
		client_run(c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	proxy_upstream_failed(c, n == 0 ? 0 : errno);
}

void proxy_upstream_failed(struct client *c, int err)
{
	struct txn *t = c->t;
	struct upstream *u = c->up;

	if (!t || !u)
		return;
	if (!t->resp_started && t->replayable && u->reused && t->replays < 2) {
		/* a kept-alive connection the backend had closed: replay on a fresh one */
		log_debug("backend %s closed a reused connection; retrying", t->srv->url);
		upstream_close(u);
		c->up = NULL;
		t->replays++;
		t->rec.retried = true;
		t->q.head_pending = false;
		connect_backend(c, true);
		if (!c->dead)
			client_run(c);
		return;
	}
	if (t->resp_head_done && t->sb.kind == BODY_EOF && !err) {
		/* the body ended with the connection */
		t->sb.complete = true;
		t->up_reusable = false;
		upstream_want(u, false, u->wev_on);
		client_run(c);
		return;
	}
	if (!t->resp_head_done) {
		log_debug("backend %s: connection %s before the response", t->srv->url,
			  err ? strerror(err) : "closed");
		respond_error(c, 502);
		client_run(c);
		return;
	}
	/* a truncated body: nothing can tell the client but closing */
	client_close(c);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void client_free(struct client *c)
{
	struct worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nclients--;
	stats_conn_open(w->id, c->ep, -1);
	event_free(c->rev);
	event_free(c->wev);
	if (c->fd >= 0)
		close(c->fd);
	if (w->nfree < FREE_CLIENT_MAX && c->cap == CLIENT_BUF_MIN) {
		c->next = w->free_clients;
		w->free_clients = c;
		w->nfree++;
		return;
	}
	free(c->buf);
	free(c);
}

void proxy_client_new(struct worker *w, int fd, int ep, const struct sockaddr *peer,
		      socklen_t peerlen)
{
	struct client *c = w->free_clients;
	char *buf;

	if (c) {
		w->free_clients = c->next;
		w->nfree--;
		buf = c->buf;
	} else {
		c = malloc(sizeof(*c));
		buf = malloc(CLIENT_BUF_MIN);
		if (!c || !buf) {
			free(c);
			free(buf);
			close(fd);
			return;
		}
	}
	memset(c, 0, sizeof(*c));
	c->buf = buf;
	c->cap = CLIENT_BUF_MIN;
	c->w = w;
	c->fd = fd;
	c->ep = ep;
	memcpy(&c->peer, peer, peerlen < sizeof(c->peer) ? peerlen : sizeof(c->peer));
	if (peer->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, c->ip,
			  sizeof(c->ip));
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)peer;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], c->ip, sizeof(c->ip));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, c->ip, sizeof(c->ip));
	}
	snprintf(c->port, sizeof(c->port), "%d", w->cfg->entrypoints[ep].port);
	c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_client_read, c);
	c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_client_write, c);
	if (!c->rev || !c->wev) {
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		close(fd);
		free(c->buf);
		free(c);
		return;
	}
	c->next = w->clients;
	if (c->next)
		c->next->prev = c;
	w->clients = c;
	w->nclients++;
	stats_conn_open(w->id, ep, 1);
	set_deadline(c, DL_IDLE, w->cfg->idle_timeout);
	client_want(c, true, false);
}

void proxy_tick(struct worker *w)
{
	struct client *c, *next;

	for (c = w->clients; c; c = next) {
		next = c->next;
		if (c->t && c->t->write_deadline_ms && c->t->write_deadline_ms <= w->now_ms) {
			/* respondingTimeouts.writeTimeout: like Go's server, give up the connection */
			log_debug("client %s: write timeout", c->ip);
			client_close(c);
			continue;
		}
		if (c->dl == DL_NONE || c->deadline_ms > w->now_ms)
			continue;
		switch (c->dl) {
		case DL_IDLE:
			log_debug("client %s: idle timeout", c->ip);
			client_close(c);
			break;
		case DL_HEAD:
			log_debug("client %s: read timeout with the request head incomplete", c->ip);
			client_close(c);
			break;
		case DL_CONNECT:
		case DL_RESPONSE:
			log_debug("client %s: backend %s timed out", c->ip,
				  c->t && c->t->srv ? c->t->srv->url : "?");
			if (c->t)
				c->t->up_reusable = false;
			respond_error(c, 504);
			if (!c->dead)
				client_run(c);
			break;
		default:
			break;
		}
	}
}

void proxy_drain(struct worker *w)
{
	struct client *c, *next;

	for (c = w->clients; c; c = next) {
		next = c->next;
		if (!c->t || !c->t->req.method) {
			if (c->len == c->off) {
				client_close(c);
				continue;
			}
		}
		c->close_after = true;
	}
}

void proxy_close_all(struct worker *w)
{
	while (w->clients)
		client_close(w->clients);
}

void proxy_worker_fini(struct worker *w)
{
	struct client *c, *next;
	struct txn *t, *tn;

	proxy_close_all(w);
	for (c = w->free_clients; c; c = next) {
		next = c->next;
		free(c->buf);
		free(c);
	}
	w->free_clients = NULL;
	w->nfree = 0;
	for (t = free_txns; t; t = tn) {
		tn = t->next_free;
		free(t);
	}
	free_txns = NULL;
	nfree_txns = 0;
}
