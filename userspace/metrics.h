/* SPDX-License-Identifier: MIT */
/*
 * metrics: /metrics in the Prometheus text exposition format (0.0.4), with Traefik 1.7's
 * metric names (traefik_entrypoint_*, traefik_backend_*, traefik_config_*), process_*,
 * and spliced's own spliced_fastpath_* / spliced_tunnel_* series. API thread only.
 */
#ifndef SPLICED_METRICS_H
#define SPLICED_METRICS_H

#include <stdint.h>

struct config;
struct model;
struct stats_snapshot;
struct strbuf;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Bytes the kernel carried, finished and live flows together (monotonic). */
struct metrics_kernel_bytes {
	uint64_t c2b, b2c;
};

/*
 * Sum the in-kernel byte counters of this process's live spliced flows (pinned sp_flows
 * map) and the finished ones (fastpath stats). Never goes backwards between calls.
 */
void metrics_kernel_bytes(struct metrics_kernel_bytes *out);

/*
 * Append the whole exposition to out: families sorted by name, each with HELP and TYPE,
 * label pairs sorted by label name, values of one family sorted by their labels.
 * m (may be NULL) gives traefik_backend_server_up; cfg names the entry points.
 */
void metrics_render(struct strbuf *out, const struct stats_snapshot *s, const struct model *m,
		    const struct config *cfg);

#endif
