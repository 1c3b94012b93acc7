/* SPDX-License-Identifier: MIT */
/*
 * dynconf: one provider's dynamic configuration (Traefik 1.7's types.Configuration):
 * frontends and backends by name. Providers (file, docker) produce one; model.c compiles
 * all of them into the routing snapshot; api.c prints them back in Traefik's JSON shape.
 *
 * A dynconf owns all its strings. It is built once and never changed after it is handed on.
 * Arrays are sorted by name (dynconf_sort) so output and priorities are stable.
 */
#ifndef SPLICED_DYNCONF_H
#define SPLICED_DYNCONF_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Caps on provider data: config from files and Docker is data, never trusted. */
#define DYNCONF_MAX_NAME	256
#define DYNCONF_MAX_RULE	1024
#define DYNCONF_MAX_URL		512
#define DYNCONF_MAX_FRONTENDS	4096
#define DYNCONF_MAX_BACKENDS	4096
#define DYNCONF_MAX_SERVERS	1024	/* per backend */
#define DYNCONF_MAX_ROUTES	16	/* per frontend */
#define DYNCONF_MAX_ENTRYPOINTS	16	/* per frontend */
#define DYNCONF_MAX_WEIGHT	1000

struct dc_server {
	char *name;
	char *url;		/* http://ip:port */
	int weight;		/* >= 0; 0 takes the server out of rotation */
};

struct dc_backend {
	char *name;
	struct dc_server *servers;
	size_t nservers;
	char *lb_method;	/* "wrr" or "drr" (drr is served as wrr) */
};

struct dc_route {
	char *name;
	char *rule;
};

struct dc_frontend {
	char *name;
	char *backend;
	struct dc_route *routes;
	size_t nroutes;
	int priority;		/* 0 = sum of rule lengths */
	bool pass_host_header;
	char **entrypoints;	/* empty = --defaultEntryPoints */
	size_t nentrypoints;
};

struct dynconf {
	char *provider;		/* "file", "docker" */
	struct dc_backend *backends;
	size_t nbackends;
	struct dc_frontend *frontends;
	size_t nfrontends;
};

struct dynconf *dynconf_new(const char *provider);
void dynconf_free(struct dynconf *dc);

/* Builders used by providers. They copy their string arguments; NULL + errno on failure. */
struct dc_backend *dynconf_add_backend(struct dynconf *dc, const char *name, const char *method);
struct dc_server *dynconf_add_server(struct dc_backend *b, const char *name, const char *url,
				     int weight);
struct dc_frontend *dynconf_add_frontend(struct dynconf *dc, const char *name,
					 const char *backend);
struct dc_route *dynconf_add_route(struct dc_frontend *f, const char *name, const char *rule);
int dynconf_add_entrypoint(struct dc_frontend *f, const char *entrypoint);

struct dc_backend *dynconf_find_backend(const struct dynconf *dc, const char *name);
struct dc_frontend *dynconf_find_frontend(const struct dynconf *dc, const char *name);

/* Sort backends, servers, frontends and routes by name. */
void dynconf_sort(struct dynconf *dc);

/* Deep equality, for "an identical config is skipped". */
bool dynconf_equal(const struct dynconf *a, const struct dynconf *b);

/*
 * Build from Traefik 1.7 dynamic-configuration JSON ({"frontends":{...},"backends":{...}}).
 * Returns NULL with errno = EINVAL and err naming the field path and the fault, e.g.
 * `frontends.web.routes.r1.rule: must be a string`. Does not check rules or URLs:
 * model.c does that with everything else it validates.
 */
struct dynconf *dynconf_from_json(const struct cJSON *root, const char *provider,
				  char *err, size_t errlen);

/* Traefik's API shape for one provider's Configuration ({"backends":..,"frontends":..}). */
struct cJSON *dynconf_to_json(const struct dynconf *dc);

#endif
