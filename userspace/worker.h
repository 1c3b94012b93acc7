/* SPDX-License-Identifier: MIT */
/*
 * worker: one event loop per core. Each worker owns its SO_REUSEPORT listeners, its client
 * connections, its pool of idle backend connections and a coarse timer that enforces
 * deadlines; nothing on the request path is shared with other workers except the routing
 * snapshot (read-only) and each backend's round-robin position (one atomic add).
 */
#ifndef SPLICED_WORKER_H
#define SPLICED_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "model.h"

struct event_base;
struct event;
struct client;
struct upstream;

struct listener {
	int fd;
	int ep;			/* entry point index */
	struct event *ev;
};

/* Idle backend connections of one worker, by server address. */
#define POOL_BUCKETS 256
struct pool {
	struct upstream *bucket[POOL_BUCKETS];
	unsigned count[POOL_BUCKETS];
	unsigned long idle;
};

enum worker_cmd {
	WORKER_CMD_NONE = 0,
	WORKER_CMD_DRAIN,	/* stop accepting, finish in-flight requests, then exit */
	WORKER_CMD_STOP,	/* close everything now and exit */
};

struct worker {
	int id;
	const struct config *cfg;
	struct event_base *base;
	pthread_t thread;
	struct model_cache mc;
	struct listener *listeners;
	size_t nlisteners;
	struct pool pool;
	struct client *clients;		/* every live client connection (for deadlines, drain) */
	unsigned long nclients;
	struct client *free_clients;	/* recycled client structs */
	unsigned long nfree;
	int cmd_fd;			/* eventfd: the main thread's doorbell */
	struct event *cmd_ev;
	struct event *tick_ev;
	_Atomic int cmd;
	bool draining;
	bool exited;
	uint64_t now_ms;		/* CLOCK_MONOTONIC, refreshed each tick and event */
	char hostname[64];		/* X-Forwarded-Server */
};

/* Create workers and their listeners (bound now, so errors are reported at start-up). */
int workers_create(const struct config *cfg, struct worker **out, char *err, size_t errlen);
/* Start the threads. */
int workers_start(struct worker *ws, int n);
/* Ask every worker to drain / stop (thread-safe), and join them. */
void workers_command(struct worker *ws, int n, enum worker_cmd cmd);
/* Wait up to timeout_s for every worker to exit; true if all did. */
bool workers_wait(struct worker *ws, int n, double timeout_s);
void workers_destroy(struct worker *ws, int n);

uint64_t worker_now_ms(void);

/*
 * Arm or disarm ev to match want, touching epoll only on a change (*on tracks the state).
 * Both proxy.c (client sockets) and upstream.c (backend sockets) drive their events this way.
 */
int worker_event_want(struct event *ev, bool *on, bool want);

/* A non-blocking listening socket for ep (SO_REUSEPORT, dual stack for ":port"). fd or -1. */
int worker_listen_socket(const struct entrypoint_conf *ep, char *err, size_t errlen);

#endif
