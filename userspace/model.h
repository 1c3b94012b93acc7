/* SPDX-License-Identifier: MIT */
/*
 * model: the routing snapshot. Every provider's latest dynconf, compiled together with the
 * static configuration into one immutable struct model: frontends sorted by priority with
 * their compiled rules, backends with resolved server addresses and a lock-free weighted
 * round-robin sequence. A new snapshot replaces the old one atomically; requests keep the
 * snapshot they started with until they end.
 *
 * Threads: model_publish() may be called from any thread (providers). Readers on worker
 * threads use a per-thread struct model_cache: one relaxed atomic load per request to see
 * whether a new snapshot exists, no shared lock and no shared refcount on the request path.
 */
#ifndef SPLICED_MODEL_H
#define SPLICED_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "dynconf.h"
#include "rule.h"

struct model_server {
	const char *name;		/* points into the dynconf */
	const char *url;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char hostport[280];		/* "10.0.0.5:80", for Host when passHostHeader is false */
	int weight;
	uint32_t id;			/* index in the backend */
};

struct model_backend {
	const char *name;
	const char *provider;
	struct model_server *servers;
	size_t nservers;
	uint32_t *seq;			/* weighted round-robin order of server indexes */
	size_t seqlen;			/* 0: no server with weight > 0 (503) */
	_Atomic uint64_t *rr;		/* shared position in seq (own cache line) */
	uint32_t id;
};

struct model_frontend {
	const char *name;
	const char *provider;
	struct rule *rule;
	int priority;
	bool pass_host_header;
	uint32_t entrypoint_mask;	/* bit i = config entry point i */
	struct model_backend *backend;
	uint32_t id;
};

/* A provider's configuration, shared by the snapshots built from it. */
struct model_conf {
	struct dynconf *dc;
	_Atomic long refs;
};

struct model {
	_Atomic long refs;
	uint64_t generation;
	struct model_frontend *frontends;	/* highest priority first */
	size_t nfrontends;
	struct model_backend *backends;
	size_t nbackends;
	struct model_conf **confs;		/* one per provider, sorted by provider name */
	size_t nconfs;
	const struct config *cfg;
};

/* Set the static configuration used by every build. Call once before any publish. */
void model_setup(const struct config *cfg);

/*
 * Replace provider dc->provider's configuration with dc (ownership passes, also on error)
 * and swap in a snapshot built from every provider's latest. Thread-safe.
 * Returns 0, or -EINVAL when dc does not validate: the last good snapshot stays in
 * service, and err (if given) holds the reason, e.g. `frontend "web": rule: unknown
 * matcher "Hots"`. Frontends or servers that can't be used are dropped with a warning
 * (unknown entry point, missing backend) as Traefik does, without rejecting the rest.
 */
int model_publish(struct dynconf *dc, char *err, size_t errlen);

/*
 * Build a snapshot without publishing it (tests, validation). Takes ownership of the
 * dynconfs (freed with the snapshot, or at once on failure). NULL + errno, err filled.
 */
struct model *model_build(struct dynconf *const *confs, size_t nconfs, const struct config *cfg,
			  char *err, size_t errlen);

/* Take / drop a reference on the current snapshot (never NULL after model_setup). */
struct model *model_acquire(void);
void model_release(struct model *m);

/* Snapshot generation counter, bumped on every publish. */
uint64_t model_generation(void);

/* Pick a server: the next one in the backend's shared weighted round-robin sequence. */
static inline struct model_server *model_backend_next(struct model_backend *b)
{
	uint64_t n;

	if (!b->seqlen)
		return NULL;
	n = atomic_fetch_add_explicit(b->rr, 1, memory_order_relaxed);
	return &b->servers[b->seq[n % b->seqlen]];
}

/*
 * First frontend (by priority) on entry point ep whose rule matches, or NULL. *verdict (if
 * given) tells a plain match from one that Traefik answers with a 301 (strict slash).
 */
struct model_frontend *model_route(const struct model *m, int ep, const struct rule_input *in,
				   enum rule_verdict *verdict);

/*
 * Per-thread view. model_cache_enter() returns the snapshot a new request should use and
 * counts the request on it; model_cache_leave() uncounts it. A snapshot is released by the
 * thread once it is no longer current and no request of the thread uses it.
 */
struct model_hold {
	struct model *m;
	unsigned long users;
	struct model_hold *next;
};

struct model_cache {
	struct model_hold *cur;
	struct model_hold *old;		/* superseded, still used by some request */
	uint64_t gen;
};

void model_cache_init(struct model_cache *c);
void model_cache_fini(struct model_cache *c);
struct model_hold *model_cache_enter(struct model_cache *c);
void model_cache_leave(struct model_cache *c, struct model_hold *h);

/* Free every published configuration (process exit). */
void model_shutdown(void);

#endif
