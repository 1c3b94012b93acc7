// SPDX-License-Identifier: MIT
/*
 * flows_cli: the flow inspector behind `spliced flows`. It needs no daemon API: it opens the
 * maps the daemon pinned and walks sp_flows, which holds every live flow — spliced ones
 * (counters kept by the BPF verdict) and, while the fast path is loaded, the ones relayed in
 * userspace (counters refreshed by the daemon about every 100 ms). With the fast path off
 * there are no maps; the daemon's API lists the relayed flows then.
 *
 * Bytes shown per direction are kernel-redirected plus userspace-carried; the state column
 * says who carries them: "spliced", "relayed", or "paused <dir>:<reason>" when the kernel
 * passed a side's bytes to userspace: "throttled" (the side reached its budget at least once;
 * userspace caught up and the kernel took it back), "limit" (for good), "redirect" (the
 * peer was not in the map yet; resumes like a throttle).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <spliced/flow.h>

#include "fastpath.h"
#include "flows_cli.h"

struct row {
	uint64_t id;
	struct sp_flow f;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: spliced flows [--fastpath.pin DIR] [--json] [--stats]\n"
		"  Lists the live flows of the spliced that pinned its maps in DIR\n"
		"  (default " FASTPATH_DEFAULT_PIN_DIR ").\n"
		"  --json   one JSON object per flow, raw byte counts\n"
		"  --stats  also print what the kernel verdict did (sp_stats, all CPUs)\n");
}

static int open_map(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

static void human(uint64_t v, char *out, size_t n)
{
	static const char units[] = "BKMGTP";
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%" PRIu64 "B", v);
	else
		snprintf(out, n, "%.1f%c", d, units[u]);
}

static const char *reason_name(int r)
{
	switch (r) {
	case SP_PAUSE_BUDGET: return "throttled";	/* at its budget at least once; resumes */
	case SP_PAUSE_LIMIT: return "limit";
	case SP_PAUSE_REDIRECT: return "redirect";
	case SP_PAUSE_OTHER: return "insert";
	default: return "?";
	}
}

/* "spliced", "relayed" or "paused c2b:throttled" (the kernel passed that side to userspace). */
static void state_text(const struct sp_flow *f, char *out, size_t n)
{
	if (f->state == SP_FLOW_RELAYED) {
		snprintf(out, n, "relayed");
	} else if (f->paused_c2b || f->paused_b2c) {
		size_t k = (size_t)snprintf(out, n, "paused");

		if (f->paused_c2b && k < n)
			k += (size_t)snprintf(out + k, n - k, " c2b:%s", reason_name(f->paused_c2b));
		if (f->paused_b2c && k < n)
			snprintf(out + k, n - k, " b2c:%s", reason_name(f->paused_b2c));
	} else {
		snprintf(out, n, "spliced");
	}
}

static void json_str(const char *s, size_t max)
{
	putchar('"');
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int print_stats(const char *dir)
{
	int fd = open_map(dir, SP_MAP_STATS), ncpu = libbpf_num_possible_cpus();
	struct sp_stats *per, sum = { 0 };
	__u32 zero = 0;

	if (fd < 0 || ncpu <= 0)
		return -1;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per || bpf_map_lookup_elem(fd, &zero, per)) {
		free(per);
		close(fd);
		return -1;
	}
	for (int c = 0; c < ncpu; c++) {
		sum.redirected += per[c].redirected;
		sum.redirect_fail += per[c].redirect_fail;
		sum.passed += per[c].passed;
		sum.dropped += per[c].dropped;
		sum.fin_dropped += per[c].fin_dropped;
		sum.unknown += per[c].unknown;
		sum.budget_pause += per[c].budget_pause;
		sum.resumed += per[c].resumed;
		sum.trimmed += per[c].trimmed;
		sum.trimmed_bytes += per[c].trimmed_bytes;
		if (per[c].backlog_max > sum.backlog_max)
			sum.backlog_max = per[c].backlog_max;
	}
	printf("verdict: redirected=%llu passed=%llu dropped=%llu fin_dropped=%llu "
	       "redirect_fail=%llu throttled=%llu resumed=%llu trimmed=%llu trimmed_bytes=%llu "
	       "unknown=%llu backlog_max=%llu\n",
	       (unsigned long long)sum.redirected, (unsigned long long)sum.passed,
	       (unsigned long long)sum.dropped, (unsigned long long)sum.fin_dropped,
	       (unsigned long long)sum.redirect_fail, (unsigned long long)sum.budget_pause,
	       (unsigned long long)sum.resumed, (unsigned long long)sum.trimmed,
	       (unsigned long long)sum.trimmed_bytes, (unsigned long long)sum.unknown,
	       (unsigned long long)sum.backlog_max);
	free(per);
	close(fd);
	return 0;
}

int flows_cli_main(int argc, char **argv)
{
	const char *dir = FASTPATH_DEFAULT_PIN_DIR;
	bool json = false, stats = false;
	struct row *rows = NULL;
	size_t nrows = 0, cap = 0, nspliced = 0;
	uint64_t key, next, *prev = NULL;
	struct timespec ts;
	uint64_t now;
	int fd, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--stats")) {
			stats = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strncmp(argv[i], "--fastpath.pin=", 15)) {
			dir = argv[i] + 15;
		} else if (!strcmp(argv[i], "--fastpath.pin") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fprintf(stderr, "spliced flows: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	fd = open_map(dir, SP_MAP_FLOWS);
	if (fd < 0) {
		fprintf(stderr, "spliced flows: cannot open %s/%s: %s\n"
			"  Is spliced running with the fast path on and --fastpath.pin=%s? With the\n"
			"  fast path off nothing is pinned: the API lists the relayed flows then.\n",
			dir, SP_MAP_FLOWS, strerror(errno), dir);
		return 1;
	}
	/* Snapshot first, print afterwards: the map changes while we walk it. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (nrows == cap) {
			struct row *nr = realloc(rows, (cap ? cap * 2 : 64) * sizeof(*rows));

			if (!nr) {
				rc = 1;
				break;
			}
			rows = nr;
			cap = cap ? cap * 2 : 64;
		}
		if (bpf_map_lookup_elem(fd, &key, &rows[nrows].f))
			continue;	/* ended meanwhile */
		rows[nrows++].id = key;
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (!json)
		printf("%-20s %-22s %-22s %-16s %-16s %9s %9s %8s  %s\n", "ID", "CLIENT", "BACKEND",
		       "FRONTEND", "BACKEND NAME", "C2B", "B2C", "AGE", "STATE");
	for (size_t i = 0; i < nrows; i++) {
		const struct sp_flow *f = &rows[i].f;
		uint64_t c2b = f->bytes_c2b + f->user_c2b, b2c = f->bytes_b2c + f->user_b2c;
		double age = now > f->start_ns ? (double)(now - f->start_ns) / 1e9 : 0;
		char st[64], a[16], b[16];

		state_text(f, st, sizeof(st));
		if (f->state == SP_FLOW_SPLICED)
			nspliced++;
		if (json) {
			printf("{\"id\":%" PRIu64 ",\"client\":", rows[i].id);
			json_str(f->client, sizeof(f->client));
			printf(",\"backend\":");
			json_str(f->backend, sizeof(f->backend));
			printf(",\"frontend_name\":");
			json_str(f->frontend_name, sizeof(f->frontend_name));
			printf(",\"backend_name\":");
			json_str(f->backend_name, sizeof(f->backend_name));
			printf(",\"frontend_id\":%u,\"backend_id\":%u,\"pid\":%u,\"state\":\"%s\","
			       "\"c2b_bytes\":%" PRIu64 ",\"b2c_bytes\":%" PRIu64 ","
			       "\"kernel_c2b\":%llu,\"kernel_b2c\":%llu,\"age_s\":%.3f}\n",
			       f->frontend_id, f->backend_id, f->pid, st, c2b, b2c,
			       (unsigned long long)f->bytes_c2b, (unsigned long long)f->bytes_b2c, age);
			continue;
		}
		human(c2b, a, sizeof(a));
		human(b2c, b, sizeof(b));
		printf("%-20" PRIu64 " %-22.48s %-22.48s %-16.32s %-16.32s %9s %9s %7.1fs  %s\n",
		       rows[i].id, f->client, f->backend, f->frontend_name, f->backend_name, a, b,
		       age, st);
	}
	if (!json)
		printf("%zu flows: %zu spliced, %zu relayed\n", nrows, nspliced, nrows - nspliced);
	if (stats && print_stats(dir)) {
		fprintf(stderr, "spliced flows: cannot read %s/%s\n", dir, SP_MAP_STATS);
		rc = 1;
	}
	free(rows);
	return rc;
}
