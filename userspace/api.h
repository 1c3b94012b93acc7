/* SPDX-License-Identifier: MIT */
/*
 * api: the API entry point (default :8080): Traefik 1.7's /api, /dashboard/, /health,
 * /ping and /metrics, served read-only by libevent's HTTP server on the main thread.
 */
#ifndef SPLICED_API_H
#define SPLICED_API_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct config;

/* True for the entry point api_start() serves (the workers must not listen there). */
bool api_owns_entrypoint(const struct config *cfg, int ep);
/* Listen on the API entry point. 0 or negative errno with err set. */
int api_start(struct event_base *base, const struct config *cfg, char *err, size_t errlen);
/* /ping answers 503 from now on (lifecycle.requestAcceptGraceTimeout). */
void api_set_terminating(bool on);
void api_stop(void);

#endif
