/* SPDX-License-Identifier: MIT */
/*
 * docker_labels: Docker Swarm listings (services, tasks, networks as the Engine API returns
 * them) + Traefik 1.7 v1 labels -> a dynconf, with Traefik's names for frontends, backends
 * and servers. A pure function: JSON in, dynconf and messages out, no I/O, no logging,
 * so unit tests run it on captured fixtures.
 */
#ifndef SPLICED_DOCKER_LABELS_H
#define SPLICED_DOCKER_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

struct cJSON;
struct dynconf;

/* Caps on listings; past them the whole listing is refused (-E2BIG). */
#define DOCKER_MAX_SERVICES	4096
#define DOCKER_MAX_TASKS	65536
#define DOCKER_MAX_NETWORKS	4096
#define DOCKER_MAX_LABELS	1024	/* per service */

struct docker_labels_opts {
	bool exposed_by_default;	/* --docker.exposedByDefault */
	const char *domain;		/* --docker.domain, "" or NULL for none */
	const char *network;		/* --docker.network, "" or NULL for none */
	/*
	 * The balancer runs in a container of this engine, attached to these networks (names).
	 * Then a task's address is taken on a network both share; on the host (false), on the
	 * task's first non-ingress network by name.
	 */
	bool in_container;
	const char *const *self_networks;
	size_t nself_networks;
	/*
	 * GET /networks/docker_gwbridge, or NULL. Used when the network named (flag or label) is
	 * DOCKER_GWBRIDGE: a task's address is then its container's address on that local bridge,
	 * which the host itself can reach (overlay addresses it cannot); tasks of other nodes
	 * have none there and are left out.
	 */
	const struct cJSON *gwbridge;
};

#define DOCKER_GWBRIDGE "docker_gwbridge"

/* One operator message about the listing, e.g. a bad label; the provider logs new ones. */
struct docker_msg {
	enum log_level level;
	char *text;
};

struct docker_build {
	struct dynconf *dc;		/* owned; provider "docker" */
	struct docker_msg *msgs;
	size_t nmsgs;
	size_t nservices;		/* services listed */
	size_t nexposed;		/* services that got a frontend */
	size_t nskipped;		/* services refused for a bad or unsupported label */
	size_t nservers;		/* servers in dc */
	size_t nstarting;		/* tasks wanted running that do not run yet */
	size_t nupdating;		/* services with an update or rollback in progress */
};

/*
 * Build the configuration from the three listings: services = GET /services, tasks =
 * GET /tasks (any filter; only tasks with DesiredState and Status.State "running" are
 * served), networks = GET /networks. Returns 0 and fills *out (release with
 * docker_build_fini), or a negative errno: -EPROTO when a listing is not an array (err says
 * which), -E2BIG past the caps, -ENOMEM. A malformed or badly labelled service is skipped
 * with a message in out->msgs; the others are still built.
 */
int docker_labels_build(const struct cJSON *services, const struct cJSON *tasks,
			const struct cJSON *networks, const struct docker_labels_opts *o,
			struct docker_build *out, char *err, size_t errlen);
void docker_build_fini(struct docker_build *b);

/* Traefik's provider.Normalize: runs of characters that are not letters/digits -> "-". */
int docker_normalize(const char *s, char *dst, size_t dstlen);

/* MD5 of s as 32 lowercase hex digits (Traefik's server-name suffix). */
void docker_md5_hex(const char *s, size_t len, char out[33]);

#endif
