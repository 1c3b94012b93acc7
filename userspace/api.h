/* SPDX-License-Identifier: MIT */
/*
 * api: the API entry point (default :8080): Traefik 1.7's /api, /dashboard/, /health,
 * /ping and /metrics, served read-only by libevent's HTTP server on the main thread.
 */
#ifndef SPLICED_API_H
#define SPLICED_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;

/*
 * Entry points this module serves instead of the proxy workers: the API's (--api), and a
 * dedicated entry point of /ping or /metrics (one that is not in --defaultEntryPoints, such
 * as Traefik's implicit "traefik" on :8080). The workers must not listen on these.
 */
bool api_owns_entrypoint(const struct config *cfg, int ep);

/*
 * Listen on every entry point api_owns_entrypoint() names, except those in proxied (bit i:
 * the workers listen on entry point i; /ping or /metrics there is then not served, with a
 * warning saying why). Does nothing when no entry point is owned. 0, or a negative errno
 * with err set (busy port; the API entry point taken by the workers).
 */
int api_start(struct event_base *base, const struct config *cfg, uint32_t proxied,
	      char *err, size_t errlen);
/* /ping answers 503 from now on (lifecycle.requestAcceptGraceTimeout). */
void api_set_terminating(bool on);
void api_stop(void);

#endif
