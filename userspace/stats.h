/* SPDX-License-Identifier: MIT */
/*
 * stats: what every finished request reports, for /health, /metrics, the dashboard and the
 * access log.
 *
 * Workers call stats_request_begin() when a routed request starts and stats_request_done()
 * once it ends, from their own thread, with a record whose strings were copied (bounded) at
 * head time. Each worker owns its counter tables (one writer, no lock, no atomic RMW, no
 * malloc after a series' first request); the API thread adds them up in a snapshot. Slot
 * nworkers (stats_api_worker()) belongs to the API thread's own requests.
 *
 * Module state: the per-worker tables, the recent-error rings and the reload counters,
 * created by stats_init() and freed by stats_fini().
 */
#ifndef SPLICED_STATS_H
#define SPLICED_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STATS_STR_MAX 256

struct config;
struct event_base;

enum stats_proto {
	STATS_PROTO_HTTP = 0,	/* Traefik's "protocol" label values */
	STATS_PROTO_WEBSOCKET,
	STATS_PROTO_SSE,
	STATS_NPROTO,
};

/* Histogram buckets of the request-duration metrics: Traefik's defaults, in seconds. */
#define STATS_NBUCKETS 4
extern const double stats_bucket_le[STATS_NBUCKETS];

struct request_record {
	char method[24];
	char host[STATS_STR_MAX];
	char path[STATS_STR_MAX];	/* request-target as received, truncated */
	char user_agent[STATS_STR_MAX];
	char referer[STATS_STR_MAX];
	char forwarded_for[STATS_STR_MAX];	/* X-Forwarded-For as received (access log only) */
	char proto[12];			/* "HTTP/1.1" */
	const char *frontend;		/* snapshot strings: valid during the call only */
	const char *backend;
	const char *server_url;		/* set once a server was picked for the request */
	int entrypoint;			/* index in the static config */
	const char *entrypoint_name;
	struct sockaddr_storage client;
	int status;			/* 0: no response was sent (client gone) */
	uint64_t resp_bytes;		/* body bytes sent to the client */
	uint64_t req_bytes;		/* body bytes received from the client */
	uint64_t start_ns;		/* CLOCK_REALTIME */
	uint64_t duration_ns;
	uint8_t protocol;		/* enum stats_proto */
	uint8_t begun;			/* set by stats_request_begin(); 0 in a fresh record */
	bool tunnel;			/* websocket/bulk handed to tunnel.c */
	bool spliced;
	bool retried;
};

/*
 * Set up the per-worker tables for cfg->workers workers plus the API thread, open the
 * access log (--accessLog) and, when base is given, arm the main-thread timers (1 s
 * window of /health, access-log flushes). Call before workers start. 0, or a negative
 * errno with err naming the problem (e.g. an access log path that cannot be opened).
 */
int stats_init(const struct config *cfg, struct event_base *base, char *err, size_t errlen);
/* Flush the access log and free everything (after the workers stopped). */
void stats_fini(void);

/*
 * A routed request starts (entry point, method, protocol and r->backend are known): it
 * counts in traefik_*_open_connections until stats_request_done(). Sets r->begun.
 */
void stats_request_begin(int worker, struct request_record *r);

/* Called once per request on the worker thread that served it. Cheap: no lock, no malloc. */
void stats_request_done(int worker, const struct request_record *r);

/* Open client connections per entry point (gauge), updated by workers. */
void stats_conn_open(int worker, int entrypoint, int delta);

/*
 * A request whose connection became a tunnel (WebSocket after 101, bulk body): counted and
 * logged when the tunnel ends, with the tunnel's bytes. stats_tunnel_begin() copies r
 * (strings included); stats_tunnel_end() must run on the same worker thread and frees it.
 * On allocation failure the request is counted at once and NULL returned;
 * stats_tunnel_end(NULL, ...) does nothing.
 */
struct stats_tunnel;
struct stats_tunnel *stats_tunnel_begin(int worker, const struct request_record *r);
void stats_tunnel_end(struct stats_tunnel *st, uint64_t c2b_bytes, uint64_t b2c_bytes,
		      bool spliced);

/* A provider's configuration was rejected (traefik_config_reloads_failure_total). Any thread.
 * Successful reloads are seen through model_generation(). */
void stats_config_reload_failed(void);

/* The slot the API thread passes as worker. */
int stats_api_worker(void);

/* Close the current 1-second window of /health (status_code_count, count). Main thread. */
void stats_tick(void);

/* ---- readers (API thread) ------------------------------------------------------------ */

struct stats_series {
	int entrypoint;			/* entry-point series: index in the config */
	const char *backend;		/* backend series: name; NULL for entry-point series */
	const char *server;		/* backend series: server URL, "" in gauge series */
	int code;			/* HTTP status; 0 in gauge series (inflight only) */
	const char *method;		/* "GET", ..., "OTHER" */
	enum stats_proto proto;
	uint64_t count;
	uint64_t dur_ns;		/* sum of durations */
	uint64_t bytes_out, bytes_in;
	uint64_t retried;		/* requests resent to another server/connection */
	uint64_t bucket[STATS_NBUCKETS];	/* observations <= stats_bucket_le[i], cumulative */
	int64_t inflight;
};

struct stats_error {
	int status;
	char method[24];
	char host[STATS_STR_MAX];
	char path[STATS_STR_MAX];	/* without the query, like Go's URL.Path */
	int64_t time_ns;		/* CLOCK_REALTIME */
};

#define STATS_MAX_CODE 1000

struct stats_snapshot {
	struct stats_series *ep, *be;	/* entry-point and backend series, merged over workers */
	size_t nep, nbe;
	uint64_t codes[STATS_MAX_CODE];	/* total requests by status code */
	uint64_t window[STATS_MAX_CODE];	/* in the current 1-second window */
	uint64_t total_count, window_count, total_dur_ns, total_bytes;
	struct stats_error *errors;	/* newest first */
	size_t nerrors;
	int64_t conns[16];		/* open client connections per entry point */
	uint64_t reloads, reload_failures;
	double last_reload_ok, last_reload_fail;	/* unix seconds, 0 = never */
	uint64_t dropped;		/* requests not counted: a table was full */
	int64_t start_real_ns, start_mono_ns;	/* when stats_init() ran */
};

/* Add up every worker's counters. NULL + errno on allocation failure. */
struct stats_snapshot *stats_snapshot_take(void);
void stats_snapshot_free(struct stats_snapshot *s);

/* Method label for a request method ("GET", ..., "OTHER"). */
const char *stats_method_label(const char *method);
const char *stats_proto_label(enum stats_proto p);

#endif
