/* SPDX-License-Identifier: MIT */
/*
 * upstream: connections to backend servers, and each worker's pool of idle ones.
 *
 * Reusing kept-alive backend connections across client connections is what lets a proxy
 * serve connection-per-request traffic without a backend handshake per request. Idle
 * connections stay registered for reading so a backend that closes one is noticed at once.
 */
#ifndef SPLICED_UPSTREAM_H
#define SPLICED_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http1.h"

struct worker;
struct client;
struct event;

#define UPSTREAM_BUF_MIN (16 * 1024)
#define UPSTREAM_BUF_BULK (256 * 1024)

struct upstream {
	struct worker *w;
	int fd;
	struct event *rev, *wev;
	bool rev_on, wev_on;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned bucket;
	struct client *c;		/* owner while in use; NULL while pooled */
	char *buf;			/* response bytes [off, len) */
	size_t cap, len, off;
	bool connecting;
	bool reused;			/* came from the pool for this request */
	uint64_t idle_since_ms;
	uint64_t nrequests;
	struct upstream *next, *prev;	/* pool bucket */
	/* bytes written/read on this socket since connect, for the tunnel's accounting */
	uint64_t bytes_out, bytes_in;
};

/*
 * Get a connection to addr for client c: an idle pooled one if any (reused = true) unless
 * fresh, else a new non-blocking connect (connecting = true until writable). NULL + errno
 * on failure (EMFILE, ENETUNREACH...: connect errors reported synchronously).
 */
struct upstream *upstream_get(struct worker *w, struct client *c, const struct sockaddr *addr,
			      socklen_t addrlen, bool fresh);
/* Return a healthy idle connection to the pool (or close it if the pool is full). */
void upstream_put(struct upstream *u);
/* Close and free. */
void upstream_close(struct upstream *u);
/* Detach the fd (for a tunnel), free the rest. Returns the fd. */
int upstream_steal_fd(struct upstream *u);
/* Make sure the buffer can hold at least want bytes in total. 0 or -ENOMEM. */
int upstream_buf_reserve(struct upstream *u, size_t want);
/* Close idle connections older than max_idle_ms; close all when max_idle_ms == 0. */
void upstream_pool_expire(struct worker *w, uint64_t max_idle_ms);

/* Event interest (only touches epoll when it changes). */
void upstream_want(struct upstream *u, bool rd, bool wr);

#endif
