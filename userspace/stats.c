// SPDX-License-Identifier: MIT
/*
 * stats: per-worker request counters. Minimal for now (status-code counts, totals);
 * /health, /metrics and the access log read from here.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "stats.h"

struct worker_stats {
	_Atomic uint64_t requests;
	_Atomic uint64_t by_class[6];	/* 1xx..5xx, [0] = no response */
	_Atomic uint64_t resp_bytes;
	_Atomic uint64_t duration_ns;
	_Atomic int64_t open_conns[16];
	char pad[64];
};

static struct worker_stats *wstats;
static int nwstats;

int stats_init(int nworkers, int nentrypoints)
{
	(void)nentrypoints;
	wstats = calloc((size_t)nworkers, sizeof(*wstats));
	if (!wstats)
		return -ENOMEM;
	nwstats = nworkers;
	return 0;
}

void stats_request_done(int worker, const struct request_record *r)
{
	struct worker_stats *s;
	int cls;

	if (!wstats || worker < 0 || worker >= nwstats)
		return;
	s = &wstats[worker];
	cls = r->status >= 100 && r->status < 600 ? r->status / 100 : 0;
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->by_class[cls], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->resp_bytes, r->resp_bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->duration_ns, r->duration_ns, memory_order_relaxed);
}

void stats_conn_open(int worker, int entrypoint, int delta)
{
	if (!wstats || worker < 0 || worker >= nwstats || entrypoint < 0 || entrypoint >= 16)
		return;
	atomic_fetch_add_explicit(&wstats[worker].open_conns[entrypoint], delta,
				  memory_order_relaxed);
}
