/* SPDX-License-Identifier: MIT */
/*
 * stats: what every finished request reports, for /health, /metrics and the access log.
 *
 * Workers call stats_request_done() once per request, from their own thread, with a
 * record whose strings are copied (bounded) at head time. Counters are per worker and
 * updated without locks; readers (the API thread) add them up.
 */
#ifndef SPLICED_STATS_H
#define SPLICED_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define STATS_STR_MAX 256

struct request_record {
	char method[24];
	char host[STATS_STR_MAX];
	char path[STATS_STR_MAX];	/* request-target as received, truncated */
	char user_agent[STATS_STR_MAX];
	char referer[STATS_STR_MAX];
	char proto[12];			/* "HTTP/1.1" */
	const char *frontend;		/* snapshot strings: valid during the call only */
	const char *backend;
	const char *server_url;
	int entrypoint;			/* index in the static config */
	const char *entrypoint_name;
	struct sockaddr_storage client;
	int status;			/* 0: no response was sent (client gone) */
	uint64_t resp_bytes;		/* body bytes sent to the client */
	uint64_t start_ns;		/* CLOCK_REALTIME */
	uint64_t duration_ns;
	bool tunnel;			/* websocket/bulk handed to tunnel.c */
	bool spliced;
	bool retried;
};

/* Called on the worker thread that served the request. Must be cheap. */
void stats_request_done(int worker, const struct request_record *r);

/* Open client connections per entry point (gauge), updated by workers. */
void stats_conn_open(int worker, int entrypoint, int delta);

/* Set up per-worker slots; call before workers start. 0 or -ENOMEM. */
int stats_init(int nworkers, int nentrypoints);

#endif
