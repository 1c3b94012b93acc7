// SPDX-License-Identifier: MIT
/*
 * upstream: backend connections and the per-worker idle pool.
 *
 * A connection is created non-blocking (TCP_NODELAY) and lives in one worker. While a
 * client owns it, its events go to that client's state machine; while it sits in the pool
 * its read event stays armed, so a backend closing an idle connection (or sending stray
 * bytes) is seen immediately and the connection is dropped instead of being handed to the
 * next request. The pool is a small hash of LIFO lists keyed by server address.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proxy.h"
#include "upstream.h"
#include "worker.h"

static unsigned addr_hash(const struct sockaddr *sa, socklen_t len)
{
	const unsigned char *p = (const unsigned char *)sa;
	unsigned h = 2166136261u;

	for (socklen_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % POOL_BUCKETS;
}

static bool addr_eq(const struct upstream *u, const struct sockaddr *sa, socklen_t len)
{
	if (u->addrlen != len || u->addr.ss_family != sa->sa_family)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&u->addr, *b = (const void *)sa;

		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	return memcmp(&u->addr, sa, len) == 0;
}

static void pool_unlink(struct upstream *u)
{
	struct worker *w = u->w;

	if (u->prev)
		u->prev->next = u->next;
	else
		w->pool.bucket[u->bucket] = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->next = u->prev = NULL;
	w->pool.idle--;
	w->pool.count[u->bucket]--;
}

void upstream_want(struct upstream *u, bool rd, bool wr)
{
	worker_event_want(u->rev, &u->rev_on, rd);
	worker_event_want(u->wev, &u->wev_on, wr);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;
	char b;
	ssize_t n;

	(void)fd;
	(void)what;
	if (u->c) {
		proxy_upstream_readable(u->c);
		return;
	}
	/* Pooled: EOF, an error or stray bytes all mean the connection can't be reused. */
	n = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	pool_unlink(u);
	upstream_close(u);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;

	(void)fd;
	(void)what;
	if (u->c)
		proxy_upstream_writable(u->c);
	else
		upstream_want(u, u->rev_on, false);
}

int upstream_buf_reserve(struct upstream *u, size_t want)
{
	char *p;

	if (u->cap >= want)
		return 0;
	p = realloc(u->buf, want);
	if (!p)
		return -ENOMEM;
	u->buf = p;
	u->cap = want;
	return 0;
}

static struct upstream *upstream_connect(struct worker *w, const struct sockaddr *addr,
					 socklen_t addrlen)
{
	struct upstream *u;
	int one = 1, fd, saved;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, addr, addrlen) < 0 && errno != EINPROGRESS) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		goto fail;
	u->w = w;
	u->fd = fd;
	memcpy(&u->addr, addr, addrlen);
	u->addrlen = addrlen;
	u->bucket = addr_hash(addr, addrlen);
	u->connecting = true;
	u->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, u);
	u->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_write, u);
	if (!u->rev || !u->wev || upstream_buf_reserve(u, UPSTREAM_BUF_MIN))
		goto fail;
	return u;
fail:
	saved = errno ? errno : ENOMEM;
	if (u) {
		if (u->rev)
			event_free(u->rev);
		if (u->wev)
			event_free(u->wev);
		free(u->buf);
		free(u);
	}
	close(fd);
	errno = saved;
	return NULL;
}

struct upstream *upstream_get(struct worker *w, struct client *c, const struct sockaddr *addr,
			      socklen_t addrlen, bool fresh)
{
	unsigned b = addr_hash(addr, addrlen);
	struct upstream *u;

	for (u = fresh ? NULL : w->pool.bucket[b]; u; u = u->next) {
		if (addr_eq(u, addr, addrlen)) {
			pool_unlink(u);
			u->c = c;
			u->reused = true;
			u->len = u->off = 0;
			return u;
		}
	}
	u = upstream_connect(w, addr, addrlen);
	if (!u)
		return NULL;
	u->c = c;
	u->reused = false;
	return u;
}

void upstream_put(struct upstream *u)
{
	struct worker *w = u->w;

	if (w->draining || u->len != u->off) {
		upstream_close(u);
		return;
	}
	/* per bucket, not per address: a hash collision only lowers the cap */
	if (w->pool.count[u->bucket] >= (unsigned)w->cfg->max_idle_conns_per_host) {
		upstream_close(u);
		return;
	}
	/* A bulk buffer is not worth keeping on an idle connection. */
	if (u->cap > UPSTREAM_BUF_MIN) {
		char *p = realloc(u->buf, UPSTREAM_BUF_MIN);

		if (p) {
			u->buf = p;
			u->cap = UPSTREAM_BUF_MIN;
		}
	}
	u->c = NULL;
	u->len = u->off = 0;
	u->idle_since_ms = w->now_ms;
	upstream_want(u, true, false);
	u->prev = NULL;
	u->next = w->pool.bucket[u->bucket];
	if (u->next)
		u->next->prev = u;
	w->pool.bucket[u->bucket] = u;
	w->pool.idle++;
	w->pool.count[u->bucket]++;
}

void upstream_close(struct upstream *u)
{
	if (!u)
		return;
	event_free(u->rev);
	event_free(u->wev);
	if (u->fd >= 0)
		close(u->fd);
	free(u->buf);
	free(u);
}

int upstream_steal_fd(struct upstream *u)
{
	int fd = u->fd;

	u->fd = -1;
	upstream_close(u);
	return fd;
}

void upstream_pool_expire(struct worker *w, uint64_t max_idle_ms)
{
	for (unsigned b = 0; b < POOL_BUCKETS; b++) {
		struct upstream *u = w->pool.bucket[b], *next;

		for (; u; u = next) {
			next = u->next;
			if (max_idle_ms == 0 || w->now_ms - u->idle_since_ms >= max_idle_ms) {
				pool_unlink(u);
				upstream_close(u);
			}
		}
	}
}
