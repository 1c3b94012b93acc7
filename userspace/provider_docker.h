/* SPDX-License-Identifier: MIT */
/*
 * provider_docker: Docker Swarm provider. Reads services, tasks and networks from the Docker
 * API (read-only GETs over the unix socket or tcp), maps Traefik v1 labels to a dynconf
 * and publishes it; follows /events to converge in under a second, with a poll as safety net.
 */
#ifndef SPLICED_PROVIDER_DOCKER_H
#define SPLICED_PROVIDER_DOCKER_H

#include <stdbool.h>

struct dynconf;

struct docker_opts {
	bool enabled;			/* --docker (or any --docker.* flag) */
	char endpoint[256];		/* unix:///var/run/docker.sock or tcp://host:port */
	bool swarm_mode;		/* --docker.swarmMode */
	bool exposed_by_default;	/* default true */
	bool watch;			/* default true */
	char domain[256];		/* --docker.domain */
	char network[256];		/* --docker.network */
	int refresh_seconds;		/* --docker.swarmModeRefreshSeconds, default 15 (<= 0 -> 15) */
};

void docker_opts_default(struct docker_opts *o);

/*
 * Called with each new configuration (ownership passes). May be called from the provider's
 * own thread. The provider never publishes a config that lost every backend because of a
 * transient API error.
 */
typedef void (*docker_publish_fn)(struct dynconf *dc, void *arg);

/* Start the provider thread. 0 or negative errno (message logged). */
int docker_provider_start(const struct docker_opts *o, docker_publish_fn publish, void *arg);
/* Stop and join it. Safe to call when not started. */
void docker_provider_stop(void);

#endif
