/* SPDX-License-Identifier: MIT */
/*
 * tunnel: carries a (client, backend) socket pair to its end once HTTP no longer needs to
 * look at the bytes: WebSocket/Upgrade after 101, or a single bulk body. Spliced in the
 * kernel when the fast path is on and the flow qualifies, else relayed in userspace;
 * either way the caller gets one completion callback and the tunnel closes both sockets.
 */
#ifndef SPLICED_TUNNEL_H
#define SPLICED_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

#define TUNNEL_UNLIMITED UINT64_MAX

struct tunnel_spec {
	int client_fd;		/* ownership passes to the tunnel, whatever tunnel_start returns */
	int backend_fd;
	/*
	 * Bytes still to carry in each direction. TUNNEL_UNLIMITED: until EOF, which is then
	 * propagated as a half-close (shutdown SHUT_WR on the other side, after the drain).
	 * 0: nothing more travels that way; bytes that arrive are read and dropped.
	 * The flow ends when both directions are done (limit reached or EOF propagated).
	 */
	uint64_t c2b_limit;
	uint64_t b2c_limit;
	bool try_splice;	/* policy said splice; falls back to relay when it can't */
	uint32_t frontend_id;	/* shown by the flow inspector and the API */
	uint32_t backend_id;
	char frontend[64];	/* names, for logs and the API (truncated) */
	char backend[64];
};

struct tunnel_result {
	uint64_t c2b_bytes;	/* carried after tunnel_start, kernel and userspace together */
	uint64_t b2c_bytes;
	bool spliced;		/* the kernel carried (some of) it */
	int error;		/* 0, or the errno that ended the flow (ECONNRESET, ETIMEDOUT...) */
};

typedef void (*tunnel_done_fn)(void *arg, const struct tunnel_result *r);

/*
 * Start a tunnel on base (the calling thread's event loop). Precondition: a quiet point —
 * the caller has written everything it owed to either socket (or will not write anything
 * more) and holds no unread bytes for them. Returns 0; done is called exactly once, from
 * base, after both sockets are closed. Returns a negative errno only when no tunnel could
 * be set up at all (ENOMEM); the fds are closed then and done is not called.
 */
int tunnel_start(struct event_base *base, const struct tunnel_spec *s, tunnel_done_fn done,
		 void *arg);

/* Live flows, for the API and dashboard: calls fn for each flow of every thread. */
struct tunnel_info {
	struct sockaddr_storage client, backend;
	char frontend[64], backend_name[64];
	uint64_t c2b_bytes, b2c_bytes;
	uint64_t started_ns;	/* CLOCK_MONOTONIC */
	bool spliced;
};
void tunnel_foreach(void (*fn)(const struct tunnel_info *ti, void *arg), void *arg);

/*
 * Release the per-thread state tunnel_start() keeps for base (an epoll set for spliced
 * sockets, a scratch buffer). Call from base's thread once its tunnels are all done, before
 * event_base_free(). Thread state is created on a thread's first tunnel_start().
 */
void tunnel_thread_fini(struct event_base *base);

#endif
