// SPDX-License-Identifier: MIT
/*
 * metrics: the Prometheus text format, built from a stats snapshot on the API thread.
 *
 * Series of one family are rendered into separate blocks and sorted by their label text,
 * so scrapes are stable and diffable; label pairs are written in label-name order, as
 * Prometheus' Go client writes them. Backend series are kept per server in stats (the
 * dashboard shows servers) and summed over servers here, which gives Traefik's label set.
 * spliced_fastpath_bytes_total counts what the kernel carried: the finished flows' totals
 * plus the live flows read from the pinned sp_flows map, so bytes userspace never sees
 * still show up while a flow runs.
 */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spliced/flow.h>

#include "config.h"
#include "fastpath.h"
#include "gofmt.h"
#include "metrics.h"
#include "model.h"
#include "stats.h"
#include "strbuf.h"
#include "tunnel.h"

struct block {
	char *key;	/* label text, the sort key */
	char *text;	/* the block's sample lines */
};

struct family {
	struct block *b;
	size_t n, cap;
	bool oom;
};

static void fam_add(struct family *f, struct strbuf *key, struct strbuf *text)
{
	if (key->oom || text->oom || f->oom)
		goto fail;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct block *nb = realloc(f->b, cap * sizeof(*nb));

		if (!nb)
			goto fail;
		f->b = nb;
		f->cap = cap;
	}
	f->b[f->n].key = key->buf ? key->buf : strdup("");
	f->b[f->n].text = text->buf ? text->buf : strdup("");
	f->n++;
	return;
fail:
	f->oom = true;
	strbuf_release(key);
	strbuf_release(text);
}

static int cmp_block(const void *a, const void *b)
{
	return strcmp(((const struct block *)a)->key, ((const struct block *)b)->key);
}

/* Write a family: HELP, TYPE, then its blocks in label order. Frees the blocks. */
static void fam_emit(struct strbuf *out, const char *name, const char *type, const char *help,
		     struct family *f)
{
	strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	if (f->n)
		qsort(f->b, f->n, sizeof(*f->b), cmp_block);
	for (size_t i = 0; i < f->n; i++) {
		if (f->b[i].text)
			strbuf_puts(out, f->b[i].text);
		free(f->b[i].key);
		free(f->b[i].text);
	}
	if (f->oom)
		out->oom = true;
	free(f->b);
	memset(f, 0, sizeof(*f));
}

/* label="value" with the exposition format's escapes (\\, \", \n). */
static void label(struct strbuf *sb, bool *first, const char *name, const char *value)
{
	if (!*first)
		strbuf_putc(sb, ',');
	*first = false;
	strbuf_puts(sb, name);
	strbuf_puts(sb, "=\"");
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			strbuf_putc(sb, '\\');
		if (*p == '\n')
			strbuf_puts(sb, "\\n");
		else
			strbuf_putc(sb, *p);
	}
	strbuf_putc(sb, '"');
}

static void fnum(struct strbuf *sb, double v)
{
	char b[64];

	gofmt_json_float(b, sizeof(b), v);
	strbuf_puts(sb, b);
}

/* One sample "name{labels} value\n" as its own block. */
static void sample_u(struct family *f, const char *name, const char *labels, uint64_t v)
{
	struct strbuf key = STRBUF_INIT, text = STRBUF_INIT;

	strbuf_puts(&key, labels);
	strbuf_printf(&text, "%s%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		      *labels ? "}" : "", (unsigned long long)v);
	fam_add(f, &key, &text);
}

static void sample_f(struct family *f, const char *name, const char *labels, double v)
{
	struct strbuf key = STRBUF_INIT, text = STRBUF_INIT;

	strbuf_puts(&key, labels);
	strbuf_printf(&text, "%s%s%s%s ", name, *labels ? "{" : "", labels, *labels ? "}" : "");
	fnum(&text, v);
	strbuf_putc(&text, '\n');
	fam_add(f, &key, &text);
}

static void sample_i(struct family *f, const char *name, const char *labels, int64_t v)
{
	struct strbuf key = STRBUF_INIT, text = STRBUF_INIT;

	strbuf_puts(&key, labels);
	strbuf_printf(&text, "%s%s%s%s %lld\n", name, *labels ? "{" : "", labels,
		      *labels ? "}" : "", (long long)v);
	fam_add(f, &key, &text);
}

/* A histogram series: _bucket lines (cumulative, then +Inf), _sum, _count. */
static void histogram(struct family *f, const char *name, const char *labels,
		      const struct stats_series *v)
{
	struct strbuf key = STRBUF_INIT, text = STRBUF_INIT;

	strbuf_puts(&key, labels);
	for (int i = 0; i < STATS_NBUCKETS; i++) {
		strbuf_printf(&text, "%s_bucket{%s,le=\"", name, labels);
		fnum(&text, stats_bucket_le[i]);
		strbuf_printf(&text, "\"} %llu\n", (unsigned long long)v->bucket[i]);
	}
	strbuf_printf(&text, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
		      (unsigned long long)v->count);
	strbuf_printf(&text, "%s_sum{%s} ", name, labels);
	fnum(&text, (double)v->dur_ns / 1e9);
	strbuf_printf(&text, "\n%s_count{%s} %llu\n", name, labels, (unsigned long long)v->count);
	fam_add(f, &key, &text);
}

static const char *ep_name(const struct config *cfg, int ep)
{
	return cfg && ep >= 0 && (size_t)ep < cfg->nentrypoints ? cfg->entrypoints[ep].name : "";
}

/* ---- request families ------------------------------------------------------------------ */

static void entrypoint_families(struct strbuf *out, const struct stats_snapshot *s,
				const struct config *cfg)
{
	struct family reqs = { 0 }, dur = { 0 }, open = { 0 };

	for (size_t i = 0; i < s->nep; i++) {
		const struct stats_series *v = &s->ep[i];
		struct strbuf l = STRBUF_INIT;
		bool first = true;
		char code[8];

		if (!v->code) {
			label(&l, &first, "entrypoint", ep_name(cfg, v->entrypoint));
			label(&l, &first, "method", v->method);
			label(&l, &first, "protocol", stats_proto_label(v->proto));
			if (!l.oom)
				sample_i(&open, "traefik_entrypoint_open_connections", l.buf,
					 v->inflight);
			strbuf_release(&l);
			continue;
		}
		snprintf(code, sizeof(code), "%d", v->code);
		label(&l, &first, "code", code);
		label(&l, &first, "entrypoint", ep_name(cfg, v->entrypoint));
		label(&l, &first, "method", v->method);
		label(&l, &first, "protocol", stats_proto_label(v->proto));
		if (!l.oom) {
			sample_u(&reqs, "traefik_entrypoint_requests_total", l.buf, v->count);
			histogram(&dur, "traefik_entrypoint_request_duration_seconds", l.buf, v);
		}
		strbuf_release(&l);
	}
	fam_emit(out, "traefik_entrypoint_open_connections", "gauge",
		 "Requests in progress on an entry point, by method and protocol.", &open);
	fam_emit(out, "traefik_entrypoint_request_duration_seconds", "histogram",
		 "Time taken to answer requests on an entry point, by status code, method and "
		 "protocol.", &dur);
	fam_emit(out, "traefik_entrypoint_requests_total", "counter",
		 "Requests answered on an entry point, by status code, method and protocol.",
		 &reqs);
}

static int cmp_be(const void *a, const void *b)
{
	const struct stats_series *x = a, *y = b;
	int c = strcmp(x->backend, y->backend);

	if (c)
		return c;
	if (x->code != y->code)
		return x->code - y->code;
	if ((c = strcmp(x->method, y->method)))
		return c;
	return (int)x->proto - (int)y->proto;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void backend_families(struct strbuf *out, const struct stats_snapshot *s,
			     const struct model *m)
{
	struct family reqs = { 0 }, dur = { 0 }, open = { 0 }, retries = { 0 }, up = { 0 };
	struct stats_series *v = NULL;
	size_t n = 0;

	/* sum over servers: adjacent after sorting by (backend, code, method, protocol) */
	if (s->nbe) {
		v = malloc(s->nbe * sizeof(*v));
		if (!v) {
			out->oom = true;
			return;
		}
		memcpy(v, s->be, s->nbe * sizeof(*v));
		qsort(v, s->nbe, sizeof(*v), cmp_be);
		for (size_t i = 0; i < s->nbe; i++) {
			if (n && cmp_be(&v[n - 1], &v[i]) == 0) {
				v[n - 1].count += v[i].count;
				v[n - 1].dur_ns += v[i].dur_ns;
				v[n - 1].retried += v[i].retried;
				v[n - 1].inflight += v[i].inflight;
				for (int b = 0; b < STATS_NBUCKETS; b++)
					v[n - 1].bucket[b] += v[i].bucket[b];
			} else {
				v[n++] = v[i];
			}
		}
	}
	/*
	 * Like Traefik, drop the series of backends that left the configuration, so a churning
	 * swarm does not grow the scrape forever (their counts are gone from the next scrape).
	 */
	if (m) {
		const char **names = malloc((m->nbackends ? m->nbackends : 1) * sizeof(*names));
		size_t k = 0;

		if (!names) {
			free(v);
			out->oom = true;
			return;
		}
		for (size_t b = 0; b < m->nbackends; b++)
			names[b] = m->backends[b].name;
		qsort(names, m->nbackends, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++)
			if (bsearch(&v[i].backend, names, m->nbackends, sizeof(*names), cmp_str))
				v[k++] = v[i];
		n = k;
		free(names);
	}
	for (size_t i = 0; i < n; i++) {
		struct strbuf l = STRBUF_INIT;
		bool first = true;
		char code[8];

		if (!v[i].code) {
			label(&l, &first, "backend", v[i].backend);
			label(&l, &first, "method", v[i].method);
			label(&l, &first, "protocol", stats_proto_label(v[i].proto));
			if (!l.oom)
				sample_i(&open, "traefik_backend_open_connections", l.buf,
					 v[i].inflight);
			strbuf_release(&l);
			continue;
		}
		snprintf(code, sizeof(code), "%d", v[i].code);
		label(&l, &first, "backend", v[i].backend);
		label(&l, &first, "code", code);
		label(&l, &first, "method", v[i].method);
		label(&l, &first, "protocol", stats_proto_label(v[i].proto));
		if (!l.oom) {
			sample_u(&reqs, "traefik_backend_requests_total", l.buf, v[i].count);
			histogram(&dur, "traefik_backend_request_duration_seconds", l.buf, &v[i]);
		}
		strbuf_release(&l);
	}
	/* retries per backend (over every code, method and protocol) */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t total = 0;
		struct strbuf l = STRBUF_INIT;
		bool first = true;

		while (j < n && strcmp(v[j].backend, v[i].backend) == 0)
			total += v[j++].retried;
		if (total) {
			label(&l, &first, "backend", v[i].backend);
			if (!l.oom)
				sample_u(&retries, "traefik_backend_retries_total", l.buf, total);
			strbuf_release(&l);
		}
		i = j;
	}
	for (size_t b = 0; m && b < m->nbackends; b++) {
		const struct model_backend *mb = &m->backends[b];

		for (size_t k = 0; k < mb->nservers; k++) {
			struct strbuf l = STRBUF_INIT;
			bool first = true;

			label(&l, &first, "backend", mb->name);
			label(&l, &first, "url", mb->servers[k].url);
			if (!l.oom)
				sample_u(&up, "traefik_backend_server_up", l.buf,
					 mb->servers[k].weight > 0);
			strbuf_release(&l);
		}
	}
	free(v);
	fam_emit(out, "traefik_backend_open_connections", "gauge",
		 "Requests in progress on a backend, by method and protocol.", &open);
	fam_emit(out, "traefik_backend_request_duration_seconds", "histogram",
		 "Time taken to answer requests on a backend, by status code, method and "
		 "protocol.", &dur);
	fam_emit(out, "traefik_backend_requests_total", "counter",
		 "Requests answered by a backend, by status code, method and protocol.", &reqs);
	fam_emit(out, "traefik_backend_retries_total", "counter",
		 "Requests sent again to a backend after a failed attempt.", &retries);
	fam_emit(out, "traefik_backend_server_up", "gauge",
		 "1 while a server is in its backend's rotation, else 0.", &up);
}

/* ---- process and fast path ---------------------------------------------------------------- */

static void process_families(struct strbuf *out)
{
	struct family f = { 0 };
	unsigned long utime = 0, stime = 0, vsize = 0;
	unsigned long long start = 0;
	long rss = 0, tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	double boot = 0;
	struct rlimit rl;
	char line[2048];
	FILE *fp;
	int nfd = 0;
	DIR *d;

	fp = fopen("/proc/self/stat", "r");
	if (fp) {
		if (fgets(line, sizeof(line), fp)) {
			char *p = strrchr(line, ')');

			/* fields after "(comm) ": state is field 3; utime 14, stime 15, starttime 22 */
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
					"%*d %*d %*d %*d %*d %*d %llu %lu %ld", &utime, &stime,
					&start, &vsize, &rss) != 5)
				utime = stime = 0;
		}
		fclose(fp);
	}
	fp = fopen("/proc/stat", "r");
	while (fp && fgets(line, sizeof(line), fp))
		if (sscanf(line, "btime %lf", &boot) == 1)
			break;
	if (fp)
		fclose(fp);
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;

		while ((de = readdir(d)))
			nfd += de->d_name[0] != '.';
		closedir(d);
		nfd--;	/* the directory's own fd */
	}
	if (tck <= 0)
		tck = 100;
	sample_f(&f, "process_cpu_seconds_total", "", (double)(utime + stime) / (double)tck);
	fam_emit(out, "process_cpu_seconds_total", "counter",
		 "User and system CPU time spent, in seconds.", &f);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		sample_u(&f, "process_max_fds", "", (uint64_t)rl.rlim_cur);
	fam_emit(out, "process_max_fds", "gauge", "Limit on open file descriptors.", &f);
	sample_i(&f, "process_open_fds", "", nfd);
	fam_emit(out, "process_open_fds", "gauge", "Open file descriptors.", &f);
	sample_u(&f, "process_resident_memory_bytes", "", (uint64_t)rss * (uint64_t)page);
	fam_emit(out, "process_resident_memory_bytes", "gauge", "Resident memory, in bytes.", &f);
	sample_f(&f, "process_start_time_seconds", "", boot + (double)start / (double)tck);
	fam_emit(out, "process_start_time_seconds", "gauge",
		 "Start time of the process since the Unix epoch, in seconds.", &f);
	sample_u(&f, "process_virtual_memory_bytes", "", vsize);
	fam_emit(out, "process_virtual_memory_bytes", "gauge", "Virtual memory, in bytes.", &f);
}

void metrics_kernel_bytes(struct metrics_kernel_bytes *out)
{
	static int flows_fd = -1;
	static uint64_t last_c2b, last_b2c;
	struct fastpath_stats fs;
	uint64_t c2b, b2c, key, next;
	pid_t me = getpid();
	bool have = false;

	fastpath_stats_get(&fs);
	c2b = fs.bytes_c2b;
	b2c = fs.bytes_b2c;
	if (fastpath_enabled() && flows_fd < 0) {
		char path[PATH_MAX];
		const struct fastpath_opts *o = fastpath_options();

		snprintf(path, sizeof(path), "%s/%s",
			 o && o->pin_dir ? o->pin_dir : FASTPATH_DEFAULT_PIN_DIR, SP_MAP_FLOWS);
		flows_fd = bpf_obj_get(path);
	}
	while (flows_fd >= 0 && bpf_map_get_next_key(flows_fd, have ? &key : NULL, &next) == 0) {
		struct sp_flow f;

		have = true;
		key = next;
		if (bpf_map_lookup_elem(flows_fd, &key, &f) == 0 && f.pid == (uint32_t)me &&
		    f.state == SP_FLOW_SPLICED) {
			c2b += f.bytes_c2b;
			b2c += f.bytes_b2c;
		}
	}
	/* a flow that just ended may be in neither place for an instant: never go back */
	if (c2b < last_c2b)
		c2b = last_c2b;
	if (b2c < last_b2c)
		b2c = last_b2c;
	last_c2b = c2b;
	last_b2c = b2c;
	out->c2b = c2b;
	out->b2c = b2c;
}

struct tcount {
	int64_t spliced, relayed;
	uint64_t bytes[2][2];	/* [spliced][direction] */
};

static void count_tunnel(const struct tunnel_info *ti, void *arg)
{
	struct tcount *c = arg;

	if (ti->spliced)
		c->spliced++;
	else
		c->relayed++;
	c->bytes[ti->spliced][0] += ti->c2b_bytes;
	c->bytes[ti->spliced][1] += ti->b2c_bytes;
}

static void fastpath_families(struct strbuf *out, const struct stats_snapshot *s,
			      const struct config *cfg)
{
	struct family f = { 0 };
	struct fastpath_stats fs;
	struct metrics_kernel_bytes kb;
	struct tcount tc = { 0 };

	fastpath_stats_get(&fs);
	metrics_kernel_bytes(&kb);
	tunnel_foreach(count_tunnel, &tc);
	for (size_t i = 0; cfg && i < cfg->nentrypoints && i < 16; i++) {
		struct strbuf l = STRBUF_INIT;
		bool first = true;

		label(&l, &first, "entrypoint", cfg->entrypoints[i].name);
		if (!l.oom)
			sample_i(&f, "spliced_entrypoint_connections", l.buf, s->conns[i]);
		strbuf_release(&l);
	}
	fam_emit(out, "spliced_entrypoint_connections", "gauge",
		 "Open client connections on an entry point.", &f);
	sample_u(&f, "spliced_fastpath_bytes_total", "direction=\"backend_to_client\"", kb.b2c);
	sample_u(&f, "spliced_fastpath_bytes_total", "direction=\"client_to_backend\"", kb.c2b);
	fam_emit(out, "spliced_fastpath_bytes_total", "counter",
		 "Bytes the kernel carried between spliced sockets (userspace never sees them), "
		 "live flows included.", &f);
	sample_i(&f, "spliced_fastpath_canary", "", fs.canary_ok);
	fam_emit(out, "spliced_fastpath_canary", "gauge",
		 "Start-up canary of the fast path: 1 passed, 0 failed, -1 not run.", &f);
	sample_u(&f, "spliced_fastpath_enabled", "", fastpath_enabled());
	fam_emit(out, "spliced_fastpath_enabled", "gauge",
		 "1 when tunnels are spliced in the kernel, 0 when they are relayed.", &f);
	sample_u(&f, "spliced_fastpath_fallbacks_total", "reason=\"duplicate\"", fs.fallback_dup);
	sample_u(&f, "spliced_fastpath_fallbacks_total", "reason=\"insert\"", fs.fallback_insert);
	sample_u(&f, "spliced_fastpath_fallbacks_total", "reason=\"state\"", fs.fallback_state);
	fam_emit(out, "spliced_fastpath_fallbacks_total", "counter",
		 "Flows or directions handed back to the userspace relay, by reason.", &f);
	sample_u(&f, "spliced_fastpath_flows_active", "", fs.flows_active);
	fam_emit(out, "spliced_fastpath_flows_active", "gauge",
		 "Flows the kernel carries now.", &f);
	sample_u(&f, "spliced_fastpath_flows_spliced_total", "", fs.flows_spliced);
	fam_emit(out, "spliced_fastpath_flows_spliced_total", "counter",
		 "Flows handed to the kernel since start-up.", &f);
	sample_u(&f, "spliced_fastpath_relayed_bytes_total", "", fs.relayed_bytes);
	fam_emit(out, "spliced_fastpath_relayed_bytes_total", "counter",
		 "Bytes of spliced flows that userspace relayed (before the splice, while throttled).",
		 &f);
	sample_u(&f, "spliced_fastpath_throttles_total", "", fs.fallback_budget);
	fam_emit(out, "spliced_fastpath_throttles_total", "counter",
		 "Times a spliced direction reached its memory budget and was throttled (it resumes "
		 "once the reader catches up).", &f);
	sample_u(&f, "spliced_stats_uncounted_total", "", s->dropped);
	fam_emit(out, "spliced_stats_uncounted_total", "counter",
		 "Requests left out of the metrics because a counter table was full.", &f);
	sample_u(&f, "spliced_tunnel_bytes", "direction=\"backend_to_client\",mode=\"relayed\"",
		 tc.bytes[0][1]);
	sample_u(&f, "spliced_tunnel_bytes", "direction=\"backend_to_client\",mode=\"spliced\"",
		 tc.bytes[1][1]);
	sample_u(&f, "spliced_tunnel_bytes", "direction=\"client_to_backend\",mode=\"relayed\"",
		 tc.bytes[0][0]);
	sample_u(&f, "spliced_tunnel_bytes", "direction=\"client_to_backend\",mode=\"spliced\"",
		 tc.bytes[1][0]);
	fam_emit(out, "spliced_tunnel_bytes", "gauge",
		 "Bytes carried so far by the live tunnels (WebSocket, bulk bodies).", &f);
	sample_i(&f, "spliced_tunnel_flows", "mode=\"relayed\"", tc.relayed);
	sample_i(&f, "spliced_tunnel_flows", "mode=\"spliced\"", tc.spliced);
	fam_emit(out, "spliced_tunnel_flows", "gauge",
		 "Live tunnels, spliced in the kernel or relayed in userspace.", &f);
}

static void config_families(struct strbuf *out, const struct stats_snapshot *s)
{
	struct family f = { 0 };

	sample_f(&f, "traefik_config_last_reload_failure", "", s->last_reload_fail);
	fam_emit(out, "traefik_config_last_reload_failure", "gauge",
		 "When a configuration was last rejected, in Unix seconds (0: never).", &f);
	sample_f(&f, "traefik_config_last_reload_success", "", s->last_reload_ok);
	fam_emit(out, "traefik_config_last_reload_success", "gauge",
		 "When a configuration was last applied, in Unix seconds (0: never).", &f);
	sample_u(&f, "traefik_config_reloads_failure_total", "", s->reload_failures);
	fam_emit(out, "traefik_config_reloads_failure_total", "counter",
		 "Configurations rejected.", &f);
	sample_u(&f, "traefik_config_reloads_total", "", s->reloads);
	fam_emit(out, "traefik_config_reloads_total", "counter", "Configurations applied.", &f);
}

void metrics_render(struct strbuf *out, const struct stats_snapshot *s, const struct model *m,
		    const struct config *cfg)
{
	/* families in name order: process_*, spliced_*, traefik_backend_*, _config_*, _entrypoint_* */
	process_families(out);
	fastpath_families(out, s, cfg);
	backend_families(out, s, m);
	config_families(out, s);
	entrypoint_families(out, s, cfg);
}
