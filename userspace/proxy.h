/* SPDX-License-Identifier: MIT */
/*
 * proxy: the per-connection HTTP/1.1 state machine: read a request head, route it, pick a
 * server, forward the rewritten head and the body, relay the response, keep both sides
 * alive when HTTP allows, and hand tunnels and bulk bodies to tunnel.c.
 */
#ifndef SPLICED_PROXY_H
#define SPLICED_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct worker;
struct client;
struct upstream;

/* A new client connection accepted on entry point ep (fd non-blocking). */
void proxy_client_new(struct worker *w, int fd, int ep, const struct sockaddr *peer,
		      socklen_t peerlen);

/* Upstream events, dispatched by upstream.c while the upstream is owned by client c. */
void proxy_upstream_readable(struct client *c);
void proxy_upstream_writable(struct client *c);
/* A pooled or owned upstream saw EOF/error while c owns it. */
void proxy_upstream_failed(struct client *c, int err);

/* Enforce deadlines on every client of w (called from the worker's tick). */
void proxy_tick(struct worker *w);
/* Begin draining: idle clients are closed now, busy ones after their current request. */
void proxy_drain(struct worker *w);
/* Close every client now. */
void proxy_close_all(struct worker *w);
/* Tunnels handed off by the calling worker thread that are still open. */
unsigned long proxy_live_tunnels(void);
/* Free the recycled client structs. */
void proxy_worker_fini(struct worker *w);

#endif
