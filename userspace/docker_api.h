/* SPDX-License-Identifier: MIT */
/*
 * docker_api: a small read-only Docker Engine API client (libcurl + cJSON).
 *
 * One client talks to one endpoint (unix:///path or tcp://host:port). It negotiates the API
 * version from GET /version, then issues versioned GETs (/v1.41/services, ...) whose bodies
 * are parsed as JSON, and follows GET /events as a long-lived stream on its own handle,
 * driven by docker_events_wait(). Not thread-safe: one thread owns a client, except
 * docker_client_wakeup(), which any thread may call. Global state: libcurl's, set up by the
 * first docker_client_new() (curl_global_init) and kept for the life of the process.
 */
#ifndef SPLICED_DOCKER_API_H
#define SPLICED_DOCKER_API_H

#include <stddef.h>

struct cJSON;
struct docker_client;

/* Highest Engine API version whose fields we read (Engine 27); lower ones are fine. */
#define DOCKER_API_MAX_MAJOR	1
#define DOCKER_API_MAX_MINOR	47
/* Lowest we accept: 1.24 has every field the provider reads (tasks, networks, swarm). */
#define DOCKER_API_MIN_MINOR	24
/* Caps on what the engine sends us. */
#define DOCKER_API_MAX_BODY	(64u << 20)	/* one response body */
#define DOCKER_API_MAX_EVENT	(1u << 20)	/* one event line */
#define DOCKER_API_TIMEOUT_MS	10000		/* one listing request */

/*
 * Build a client for endpoint ("unix:///var/run/docker.sock", "tcp://127.0.0.1:2375").
 * No I/O happens here. NULL with errno EINVAL (bad endpoint: err says why) or ENOMEM.
 */
struct docker_client *docker_client_new(const char *endpoint, char *err, size_t errlen);
void docker_client_free(struct docker_client *c);

/*
 * GET /version and pick min(server ApiVersion, DOCKER_API_MAX_*). 0, or negative errno with
 * err set: -ECONNREFUSED/-ENOENT/... (unreachable), -EPROTO (not a Docker API, or an
 * engine whose version range does not meet ours).
 */
int docker_client_negotiate(struct docker_client *c, char *err, size_t errlen);
/* "1.41" after a successful negotiation, else "". */
const char *docker_client_api_version(const struct docker_client *c);

/*
 * GET /v<version><path> (path starts with '/', query already URL-encoded) and parse the body.
 * 0 and *out (caller frees with cJSON_Delete), or negative errno with err set:
 * -EPROTO for a non-2xx status or a body that is not JSON, -EFBIG past DOCKER_API_MAX_BODY,
 * -ETIMEDOUT, -ECONNREFUSED and friends for transport errors. *http_status gets the HTTP
 * status when one was received (else 0); it may be NULL.
 */
int docker_get_json(struct docker_client *c, const char *path, struct cJSON **out,
		    long *http_status, char *err, size_t errlen);

/*
 * Percent-encode s (RFC 3986 unreserved characters kept) into dst. 0, or -ENOSPC when dst is
 * too small (dst then holds "").
 */
int docker_url_encode(const char *s, char *dst, size_t dstlen);

/*
 * Events: the callback sees each event object of the stream (borrowed for the call).
 * docker_events_start() opens GET /v<version>/events?filters=<filters JSON>; it returns at
 * once (the stream runs inside docker_events_wait). 0 or negative errno.
 */
typedef void (*docker_event_fn)(const struct cJSON *ev, void *arg);
int docker_events_start(struct docker_client *c, const char *filters_json, docker_event_fn fn,
			void *arg);
void docker_events_stop(struct docker_client *c);

/*
 * Wait up to timeout_ms for stream data, a wakeup, or the timeout, and deliver any complete
 * events. Returns 1 while the stream is up, 0 when no stream is open (it still waits),
 * or a negative errno once the stream has ended or failed (err says why; the stream is
 * then closed: start a new one).
 */
int docker_events_wait(struct docker_client *c, int timeout_ms, char *err, size_t errlen);

/* Make a docker_events_wait() in progress (or the next one) return early. Any thread. */
void docker_client_wakeup(struct docker_client *c);

#endif
