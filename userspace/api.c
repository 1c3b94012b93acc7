// SPDX-License-Identifier: MIT
/*
 * api: Traefik 1.7's API entry point on libevent's evhttp, on the main thread.
 *
 * Read-only (GET/HEAD; anything else is 405). It runs apart from the worker threads so that
 * a slow API client never delays proxied traffic; it reads the routing snapshot through
 * model_acquire() and the counters through stats snapshots. Routes: / (302 to the
 * dashboard), /dashboard/ (one self-contained page compiled into the binary), /api and
 * /api/providers/... in Traefik's JSON shapes, /api/version, /health (thoas/stats fields),
 * /ping (--ping) and /metrics (--metrics.prometheus) when their entry point is this one,
 * and spliced's own /api/flows and /api/stats behind the dashboard. Every answer is also
 * counted and access-logged like a proxied request, as Traefik does for its entry points.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "config.h"
#include "dashboard_html.h"
#include "dynconf.h"
#include "fastpath.h"
#include "gofmt.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "stats.h"
#include "strbuf.h"
#include "tunnel.h"
#include "version.h"
#include "worker.h"

#define MAX_SEGS 8

/* One evhttp per entry point this module serves; arg of its callback. */
struct api_listener {
	struct evhttp *http;
	int ep;
};

static struct api_listener api_l[CONFIG_MAX_ENTRYPOINTS];
static int api_nl;
static const struct config *api_cfg;
static bool api_terminating;

/* One API request: what the reply helpers need to count and log it. */
struct api_req {
	struct evhttp_request *req;
	struct request_record rec;
	int64_t t0;
	int ep;
};

void api_set_terminating(bool on)
{
	api_terminating = on;
}

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void send_reply(struct api_req *ar, int code, const char *reason, const char *ctype,
		       const void *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(ar->req);
	struct evbuffer *b = evbuffer_new();

	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	if (b && len)
		evbuffer_add(b, body, len);
	evhttp_send_reply(ar->req, code, reason, b);
	if (b)
		evbuffer_free(b);
	ar->rec.status = code;
	ar->rec.resp_bytes = evhttp_request_get_command(ar->req) == EVHTTP_REQ_HEAD ? 0 : len;
	ar->rec.duration_ns = (uint64_t)(mono_now() - ar->t0);
	stats_request_done(stats_api_worker(), &ar->rec);
}

static void reply_text(struct api_req *ar, int code, const char *reason, const char *body)
{
	send_reply(ar, code, reason, "text/plain; charset=utf-8", body, strlen(body));
}

static void not_found(struct api_req *ar)
{
	evhttp_add_header(evhttp_request_get_output_headers(ar->req), "X-Content-Type-Options",
			  "nosniff");
	reply_text(ar, 404, "Not Found", "404 page not found\n");
}

static void reply_json_text(struct api_req *ar, struct strbuf *sb)
{
	if (sb->oom || !sb->buf) {
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	send_reply(ar, 200, "OK", "application/json; charset=UTF-8", sb->buf, sb->len);
}

/*
 * cJSON prints compactly but does not escape <, > and & (Go does) nor U+2028/9; those can
 * only occur inside strings, so a byte-level pass is exact.
 */
static void go_escape(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			strbuf_puts(out, "\\u003c");
		else if (*s == '>')
			strbuf_puts(out, "\\u003e");
		else if (*s == '&')
			strbuf_puts(out, "\\u0026");
		else if ((unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
			 ((unsigned char)s[2] == 0xa8 || (unsigned char)s[2] == 0xa9)) {
			strbuf_puts(out, (unsigned char)s[2] == 0xa8 ? "\\u2028" : "\\u2029");
			s += 2;
		} else
			strbuf_putc(out, *s);
	}
}

static void reply_cjson(struct api_req *ar, const cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	struct strbuf sb = STRBUF_INIT;

	if (!text) {
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	go_escape(&sb, text);
	free(text);
	reply_json_text(ar, &sb);
	strbuf_release(&sb);
}

static void redirect(struct api_req *ar, int code, const char *reason, const char *to)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(ar->req);
	char body[256];
	int n;

	evhttp_add_header(h, "Location", to);
	n = snprintf(body, sizeof(body), "<a href=\"%s\">%s</a>.\n\n", to, reason);
	send_reply(ar, code, reason, "text/html; charset=utf-8", body, (size_t)n);
}

/* ---- /api/providers ------------------------------------------------------------------ */

/* Traefik stores frontends with --defaultEntryPoints filled in: show them that way. */
static void fill_default_entrypoints(cJSON *conf)
{
	cJSON *fes = cJSON_GetObjectItemCaseSensitive(conf, "frontends"), *fe;

	cJSON_ArrayForEach(fe, fes) {
		cJSON *eps;

		if (cJSON_GetObjectItemCaseSensitive(fe, "entryPoints"))
			continue;
		eps = cJSON_CreateArray();
		if (!eps)
			return;
		for (size_t i = 0; i < api_cfg->ndefault_entrypoints; i++)
			cJSON_AddItemToArray(eps, cJSON_CreateString(api_cfg->default_entrypoints[i]));
		/* first, as in Traefik's struct order */
		eps->string = strdup("entryPoints");
		if (!eps->string) {
			cJSON_Delete(eps);
			return;
		}
		cJSON_InsertItemInArray(fe, 0, eps);
	}
}

static cJSON *providers_json(void)
{
	struct model *m = model_acquire();
	cJSON *all = cJSON_CreateObject();

	for (size_t i = 0; all && i < m->nconfs; i++) {
		cJSON *j = dynconf_to_json(m->confs[i]->dc);

		if (j) {
			fill_default_entrypoints(j);
			cJSON_AddItemToObject(all, m->confs[i]->dc->provider, j);
		}
	}
	model_release(m);
	return all;
}

/*
 * segs: the path after /api/providers, split: {p}, backends|frontends, {name},
 * servers|routes, {name}. Kinds are checked so that a frontend's "servers" is a 404.
 */
static void serve_providers(struct api_req *ar, char **segs, int nsegs)
{
	static const char *const sub[2][2] = { { "backends", "servers" }, { "frontends", "routes" } };
	cJSON *all = providers_json(), *node = all;
	int kind = -1;

	if (!all) {
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	for (int i = 0; i < nsegs && node; i++) {
		const char *key = segs[i];

		if (i == 0 && strcmp(key, "rest") == 0)
			key = "web";	/* Traefik's deprecated alias */
		if (i == 1) {
			kind = !strcmp(key, sub[0][0]) ? 0 : !strcmp(key, sub[1][0]) ? 1 : -1;
			if (kind < 0)
				node = NULL;
		}
		if (i == 3 && strcmp(key, sub[kind][1]) != 0)
			node = NULL;
		if (node)
			node = cJSON_GetObjectItemCaseSensitive(node, key);
	}
	if (nsegs > 5 || !node || (nsegs > 0 && !cJSON_IsObject(node)))
		not_found(ar);
	else
		reply_cjson(ar, node);
	cJSON_Delete(all);
}

/* ---- /health --------------------------------------------------------------------------- */

static void json_float(struct strbuf *sb, double v)
{
	char b[64];

	gofmt_json_float(b, sizeof(b), v);
	strbuf_puts(sb, b);
}

static void json_duration(struct strbuf *sb, int64_t ns)
{
	char b[64];

	gofmt_duration(b, sizeof(b), ns);
	strbuf_json_str(sb, b);
}

static void code_map(struct strbuf *sb, const uint64_t *codes)
{
	bool first = true;

	strbuf_putc(sb, '{');
	for (int c = 0; c < STATS_MAX_CODE; c++) {
		if (!codes[c])
			continue;
		strbuf_printf(sb, "%s\"%d\":%llu", first ? "" : ",", c, (unsigned long long)codes[c]);
		first = false;
	}
	strbuf_putc(sb, '}');
}

static void serve_health(struct api_req *ar)
{
	struct stats_snapshot *s = stats_snapshot_take();
	struct strbuf sb = STRBUF_INIT;
	int64_t now = real_now(), mono = mono_now(), up, avg;
	char t[128];

	if (!s) {
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	up = mono - s->start_mono_ns;
	avg = s->total_count ? (int64_t)(s->total_dur_ns / s->total_count) : 0;
	strbuf_printf(&sb, "{\"pid\":%d,\"hostname\":\"\",\"uptime\":", (int)getpid());
	json_duration(&sb, up);
	strbuf_puts(&sb, ",\"uptime_sec\":");
	json_float(&sb, (double)up / 1e9);
	gofmt_time_string(t, sizeof(t), now, up);
	strbuf_puts(&sb, ",\"time\":");
	strbuf_json_str(&sb, t);
	strbuf_printf(&sb, ",\"unixtime\":%lld,\"status_code_count\":", (long long)(now / 1000000000LL));
	code_map(&sb, s->window);
	strbuf_puts(&sb, ",\"total_status_code_count\":");
	code_map(&sb, s->codes);
	strbuf_printf(&sb, ",\"count\":%llu,\"total_count\":%llu,\"total_response_time\":",
		      (unsigned long long)s->window_count, (unsigned long long)s->total_count);
	json_duration(&sb, (int64_t)s->total_dur_ns);
	strbuf_puts(&sb, ",\"total_response_time_sec\":");
	json_float(&sb, (double)s->total_dur_ns / 1e9);
	strbuf_printf(&sb, ",\"total_response_size\":%llu,\"average_response_size\":%llu,"
		      "\"average_response_time\":", (unsigned long long)s->total_bytes,
		      (unsigned long long)(s->total_count ? s->total_bytes / s->total_count : 0));
	json_duration(&sb, avg);
	strbuf_puts(&sb, ",\"average_response_time_sec\":");
	json_float(&sb, (double)avg / 1e9);
	strbuf_puts(&sb, ",\"total_metrics_counts\":{},\"average_metrics_timers\":{},"
		    "\"recent_errors\":[");
	for (size_t i = 0; i < s->nerrors; i++) {
		const struct stats_error *e = &s->errors[i];

		strbuf_printf(&sb, "%s{\"status_code\":%d,\"status\":", i ? "," : "", e->status);
		strbuf_json_str(&sb, gofmt_status_text(e->status));
		strbuf_puts(&sb, ",\"method\":");
		strbuf_json_str(&sb, e->method);
		strbuf_puts(&sb, ",\"host\":");
		strbuf_json_str(&sb, e->host);
		strbuf_puts(&sb, ",\"path\":");
		strbuf_json_str(&sb, e->path);
		gofmt_rfc3339nano(t, sizeof(t), e->time_ns, false);
		strbuf_puts(&sb, ",\"time\":");
		strbuf_json_str(&sb, t);
		strbuf_putc(&sb, '}');
	}
	strbuf_puts(&sb, "]}");
	stats_snapshot_free(s);
	reply_json_text(ar, &sb);
	strbuf_release(&sb);
}

/* ---- /metrics ----------------------------------------------------------------------------- */

static void serve_metrics(struct api_req *ar)
{
	struct stats_snapshot *s = stats_snapshot_take();
	struct strbuf sb = STRBUF_INIT;
	struct model *m;

	if (!s) {
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	m = model_acquire();
	metrics_render(&sb, s, m, api_cfg);
	model_release(m);
	stats_snapshot_free(s);
	if (sb.oom || !sb.buf)
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
	else
		send_reply(ar, 200, "OK", METRICS_CONTENT_TYPE, sb.buf, sb.len);
	strbuf_release(&sb);
}

/* ---- /api/flows and /api/stats (the dashboard's feeds) ----------------------------------- */

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(out, cap, "-");
	}
}

struct flows_ctx {
	struct strbuf *sb;
	int n;
	int64_t now;
};

static void flow_json(const struct tunnel_info *ti, void *arg)
{
	struct flows_ctx *fc = arg;
	char a[INET6_ADDRSTRLEN + 16];

	strbuf_puts(fc->sb, fc->n++ ? ",{\"client\":" : "{\"client\":");
	addr_text(&ti->client, a, sizeof(a));
	strbuf_json_str(fc->sb, a);
	strbuf_puts(fc->sb, ",\"server\":");
	addr_text(&ti->backend, a, sizeof(a));
	strbuf_json_str(fc->sb, a);
	strbuf_puts(fc->sb, ",\"frontend\":");
	strbuf_json_str(fc->sb, ti->frontend);
	strbuf_puts(fc->sb, ",\"backend\":");
	strbuf_json_str(fc->sb, ti->backend_name);
	strbuf_printf(fc->sb, ",\"mode\":\"%s\",\"bytes_c2b\":%llu,\"bytes_b2c\":%llu,\"age_sec\":",
		      ti->spliced ? "spliced" : "relayed", (unsigned long long)ti->c2b_bytes,
		      (unsigned long long)ti->b2c_bytes);
	json_float(fc->sb, fc->now > (int64_t)ti->started_ns ?
			   (double)(fc->now - (int64_t)ti->started_ns) / 1e9 : 0);
	strbuf_putc(fc->sb, '}');
}

static void serve_flows(struct api_req *ar)
{
	struct strbuf sb = STRBUF_INIT;
	struct flows_ctx fc = { &sb, 0, mono_now() };
	struct fastpath_stats fs;
	struct metrics_kernel_bytes kb;
	const char *why = fastpath_off_reason();

	fastpath_stats_get(&fs);
	metrics_kernel_bytes(&kb);
	strbuf_printf(&sb, "{\"fastpath\":{\"enabled\":%s,\"reason\":",
		      fastpath_enabled() ? "true" : "false");
	strbuf_json_str(&sb, why ? why : "");
	strbuf_printf(&sb, ",\"canary\":%d,\"flows_spliced\":%llu,\"flows_active\":%llu,"
		      "\"kernel_bytes_c2b\":%llu,\"kernel_bytes_b2c\":%llu,\"fallbacks\":{"
		      "\"budget\":%llu,\"duplicate\":%llu,\"insert\":%llu,\"state\":%llu}},"
		      "\"flows\":[", fs.canary_ok, (unsigned long long)fs.flows_spliced,
		      (unsigned long long)fs.flows_active, (unsigned long long)kb.c2b,
		      (unsigned long long)kb.b2c, (unsigned long long)fs.fallback_budget,
		      (unsigned long long)fs.fallback_dup, (unsigned long long)fs.fallback_insert,
		      (unsigned long long)fs.fallback_state);
	tunnel_foreach(flow_json, &fc);
	strbuf_puts(&sb, "]}");
	reply_json_text(ar, &sb);
	strbuf_release(&sb);
}

/* Totals per entry point, backend and server: what the dashboard turns into rates. */
static void serve_stats(struct api_req *ar)
{
	struct stats_snapshot *s = stats_snapshot_take();
	struct strbuf sb = STRBUF_INIT;
	bool first = true;

	if (!s) {
		reply_text(ar, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	strbuf_puts(&sb, "{\"uptime_sec\":");
	json_float(&sb, (double)(mono_now() - s->start_mono_ns) / 1e9);
	strbuf_printf(&sb, ",\"total_count\":%llu,\"codes\":", (unsigned long long)s->total_count);
	code_map(&sb, s->codes);
	strbuf_puts(&sb, ",\"entrypoints\":{");
	for (size_t e = 0; e < api_cfg->nentrypoints && e < 16; e++) {
		uint64_t req = 0, c4 = 0, c5 = 0, dur = 0;
		int64_t inflight = 0;

		for (size_t i = 0; i < s->nep; i++) {
			const struct stats_series *v = &s->ep[i];

			if (v->entrypoint != (int)e)
				continue;
			inflight += v->inflight;
			req += v->count;
			dur += v->dur_ns;
			c4 += v->code >= 400 && v->code < 500 ? v->count : 0;
			c5 += v->code >= 500 ? v->count : 0;
		}
		strbuf_puts(&sb, e ? "," : "");
		strbuf_json_str(&sb, api_cfg->entrypoints[e].name);
		strbuf_printf(&sb, ":{\"address\":");
		strbuf_json_str(&sb, api_cfg->entrypoints[e].address);
		strbuf_printf(&sb, ",\"requests\":%llu,\"errors_4xx\":%llu,\"errors_5xx\":%llu,"
			      "\"duration_sec\":", (unsigned long long)req, (unsigned long long)c4,
			      (unsigned long long)c5);
		json_float(&sb, (double)dur / 1e9);
		strbuf_printf(&sb, ",\"inflight\":%lld,\"connections\":%lld}", (long long)inflight,
			      (long long)s->conns[e]);
	}
	strbuf_puts(&sb, "},\"servers\":[");
	for (size_t i = 0; i < s->nbe; i++) {
		const struct stats_series *v = &s->be[i];

		strbuf_puts(&sb, first ? "{\"backend\":" : ",{\"backend\":");
		first = false;
		strbuf_json_str(&sb, v->backend);
		strbuf_puts(&sb, ",\"url\":");
		strbuf_json_str(&sb, v->server);
		strbuf_printf(&sb, ",\"code\":%d,\"method\":\"%s\",\"protocol\":\"%s\",\"requests\":%llu,"
			      "\"duration_sec\":", v->code, v->method, stats_proto_label(v->proto),
			      (unsigned long long)v->count);
		json_float(&sb, (double)v->dur_ns / 1e9);
		strbuf_printf(&sb, ",\"bytes_out\":%llu,\"bytes_in\":%llu,\"inflight\":%lld}",
			      (unsigned long long)v->bytes_out, (unsigned long long)v->bytes_in,
			      (long long)v->inflight);
	}
	strbuf_puts(&sb, "]}");
	stats_snapshot_free(s);
	reply_json_text(ar, &sb);
	strbuf_release(&sb);
}

/* ---- routing ------------------------------------------------------------------------------ */

static const char *header(struct evhttp_request *req, const char *name)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);

	return v ? v : "";
}

static void fill_record(struct api_req *ar, const char *uri)
{
	struct evhttp_request *req = ar->req;
	struct request_record *r = &ar->rec;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct sockaddr *sa = conn ? evhttp_connection_get_addr(conn) : NULL;
	const char *m;

	memset(r, 0, sizeof(*r));
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: m = "GET"; break;
	case EVHTTP_REQ_HEAD: m = "HEAD"; break;
	case EVHTTP_REQ_POST: m = "POST"; break;
	case EVHTTP_REQ_PUT: m = "PUT"; break;
	case EVHTTP_REQ_DELETE: m = "DELETE"; break;
	case EVHTTP_REQ_OPTIONS: m = "OPTIONS"; break;
	case EVHTTP_REQ_PATCH: m = "PATCH"; break;
	default: m = "OTHER"; break;
	}
	snprintf(r->method, sizeof(r->method), "%s", m);
	snprintf(r->path, sizeof(r->path), "%s", uri ? uri : "");
	snprintf(r->host, sizeof(r->host), "%s", header(req, "Host"));
	snprintf(r->user_agent, sizeof(r->user_agent), "%s", header(req, "User-Agent"));
	snprintf(r->referer, sizeof(r->referer), "%s", header(req, "Referer"));
	snprintf(r->forwarded_for, sizeof(r->forwarded_for), "%s", header(req, "X-Forwarded-For"));
	/* libevent has no getter for the version; http_struct.h is its public layout */
	snprintf(r->proto, sizeof(r->proto), "HTTP/%u.%u", (unsigned)req->major % 10u,
		 (unsigned)req->minor % 10u);
	if (sa && sa->sa_family == AF_INET)
		memcpy(&r->client, sa, sizeof(struct sockaddr_in));
	else if (sa && sa->sa_family == AF_INET6)
		memcpy(&r->client, sa, sizeof(struct sockaddr_in6));
	r->entrypoint = ar->ep;
	r->entrypoint_name = api_cfg->entrypoints[ar->ep].name;
	r->start_ns = (uint64_t)real_now();
	ar->t0 = mono_now();
}

/* Split "/a/b/c" into decoded segments (in buf). Returns the count, or -1 if too many. */
static int split_path(const char *path, char *buf, size_t cap, char **segs)
{
	int n = 0;
	char *p, *save = NULL;

	snprintf(buf, cap, "%s", path);
	for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		char *dec;

		if (n == MAX_SEGS)
			return -1;
		dec = evhttp_uridecode(p, 0, NULL);
		if (dec) {
			snprintf(p, strlen(p) + 1, "%s", dec);
			free(dec);
		}
		segs[n++] = p;
	}
	return n;
}

/* Is the feature that is on (--api, --ping, ...) served on entry point ep? */
static bool here(bool on, const char *ep_name, int ep)
{
	return on && strcmp(ep_name, api_cfg->entrypoints[ep].name) == 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct api_listener *l = arg;
	struct api_req ar = { .req = req, .ep = l->ep };
	char buf[2048], *segs[MAX_SEGS];
	int nsegs;

	fill_record(&ar, uri);
	if (!path || !*path)
		path = "/";
	nsegs = split_path(path, buf, sizeof(buf), segs);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(&ar, 405, "Method Not Allowed", "405 method not allowed\n");
	} else if (here(api_cfg->ping, api_cfg->ping_entrypoint, l->ep) &&
		   strcmp(path, "/ping") == 0) {
		if (api_terminating)
			reply_text(&ar, 503, "Service Unavailable", "Service Unavailable");
		else
			reply_text(&ar, 200, "OK", "OK");
	} else if (here(api_cfg->metrics_prometheus, api_cfg->metrics_entrypoint, l->ep) &&
		   strcmp(path, "/metrics") == 0) {
		serve_metrics(&ar);
	} else if (!here(api_cfg->api, api_cfg->api_entrypoint, l->ep)) {
		not_found(&ar);
	} else if (strcmp(path, "/") == 0 && api_cfg->api_dashboard) {
		const char *prefix = header(req, "X-Forwarded-Prefix");
		char to[300];

		/* only a path prefix is honoured, as Traefik's safePrefix() does */
		snprintf(to, sizeof(to), "%s/dashboard/",
			 prefix[0] == '/' && prefix[1] != '/' && !strchr(prefix, '"') &&
			 strlen(prefix) < 200 ? prefix : "");
		redirect(&ar, 302, "Found", to);
	} else if (strcmp(path, "/dashboard") == 0 && api_cfg->api_dashboard) {
		redirect(&ar, 301, "Moved Permanently", "/dashboard/");
	} else if (strcmp(path, "/dashboard/status") == 0 && api_cfg->api_dashboard) {
		redirect(&ar, 302, "Found", "/dashboard/");
	} else if ((strcmp(path, "/dashboard/") == 0 || strcmp(path, "/dashboard/index.html") == 0) &&
		   api_cfg->api_dashboard) {
		send_reply(&ar, 200, "OK", "text/html; charset=utf-8", dashboard_html,
			   sizeof(dashboard_html) - 1);
	} else if (strcmp(path, "/api/version") == 0) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "Version", SPLICED_TRAEFIK_VERSION);
		cJSON_AddStringToObject(j, "Codename", SPLICED_TRAEFIK_CODENAME);
		reply_cjson(&ar, j);
		cJSON_Delete(j);
	} else if (strcmp(path, "/health") == 0) {
		serve_health(&ar);
	} else if (strcmp(path, "/api/flows") == 0) {
		serve_flows(&ar);
	} else if (strcmp(path, "/api/stats") == 0) {
		serve_stats(&ar);
	} else if (strcmp(path, "/api") == 0 || strcmp(path, "/api/providers") == 0) {
		serve_providers(&ar, NULL, 0);
	} else if (nsegs >= 3 && path[strlen(path) - 1] != '/' && strcmp(segs[0], "api") == 0 &&
		   strcmp(segs[1], "providers") == 0) {
		serve_providers(&ar, segs + 2, nsegs - 2);
	} else {
		not_found(&ar);
	}
	if (u)
		evhttp_uri_free(u);
}

static bool is_default_entrypoint(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ndefault_entrypoints; i++)
		if (strcmp(cfg->default_entrypoints[i], name) == 0)
			return true;
	return false;
}

bool api_owns_entrypoint(const struct config *cfg, int ep)
{
	const char *name;

	if (ep < 0 || (size_t)ep >= cfg->nentrypoints)
		return false;
	name = cfg->entrypoints[ep].name;
	if (cfg->api && strcmp(name, cfg->api_entrypoint) == 0)
		return true;
	/* a dedicated entry point (Traefik's implicit "traefik"), not one frontends use */
	if (is_default_entrypoint(cfg, name))
		return false;
	return (cfg->ping && strcmp(name, cfg->ping_entrypoint) == 0) ||
	       (cfg->metrics_prometheus && strcmp(name, cfg->metrics_entrypoint) == 0);
}

static int listen_on(struct event_base *base, int ep, char *err, size_t errlen)
{
	const struct entrypoint_conf *e = &api_cfg->entrypoints[ep];
	struct api_listener *l = &api_l[api_nl];
	int fd = worker_listen_socket(e, err, errlen);

	if (fd < 0)
		return -EADDRINUSE;
	l->ep = ep;
	l->http = evhttp_new(base);
	if (!l->http || evhttp_accept_socket(l->http, fd)) {
		snprintf(err, errlen, "entry point %s: evhttp setup failed", e->name);
		if (l->http)
			evhttp_free(l->http);
		l->http = NULL;
		close(fd);
		return -ENOMEM;
	}
	api_nl++;
	/* let every method through to on_request, which answers 405 itself */
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(l->http, 64 * 1024);
	evhttp_set_max_body_size(l->http, 64 * 1024);
	evhttp_set_gencb(l->http, on_request, l);
	log_info("entry point %s (%s) serves%s%s%s%s", e->name, e->address,
		 here(api_cfg->api, api_cfg->api_entrypoint, ep) ? " the API" : "",
		 here(api_cfg->api, api_cfg->api_entrypoint, ep) && api_cfg->api_dashboard ?
		 ", the dashboard at /dashboard/" : "",
		 here(api_cfg->ping, api_cfg->ping_entrypoint, ep) ? " /ping" : "",
		 here(api_cfg->metrics_prometheus, api_cfg->metrics_entrypoint, ep) ?
		 " /metrics" : "");
	return 0;
}

/* Say once why --ping or --metrics is not served where the flag asked. */
static void warn_unserved(const char *flag, bool on, const char *name, uint32_t proxied)
{
	int ep = config_entrypoint_index(api_cfg, name);

	if (!on || ep < 0 || (api_owns_entrypoint(api_cfg, ep) && !(proxied & (1u << ep))))
		return;
	log_warn("%s=%s: not served: entry point %s carries proxied traffic and spliced does not "
		 "mix its internal routes with frontends; give it a dedicated entry point "
		 "(e.g. --entryPoints='Name:traefik Address::8080' %s=traefik)", flag, name, name,
		 flag);
}

int api_start(struct event_base *base, const struct config *cfg, uint32_t proxied,
	      char *err, size_t errlen)
{
	int rc;

	api_cfg = cfg;
	if (cfg->api && config_entrypoint_index(cfg, cfg->api_entrypoint) < 0) {
		snprintf(err, errlen, "--api.entryPoint: no entry point \"%s\"", cfg->api_entrypoint);
		return -EINVAL;
	}
	warn_unserved("--ping.entryPoint", cfg->ping, cfg->ping_entrypoint, proxied);
	warn_unserved("--metrics.prometheus.entryPoint", cfg->metrics_prometheus,
		      cfg->metrics_entrypoint, proxied);
	for (size_t e = 0; e < cfg->nentrypoints; e++) {
		if (!api_owns_entrypoint(cfg, (int)e))
			continue;
		if (proxied & (1u << e)) {
			if (cfg->api && !strcmp(cfg->entrypoints[e].name, cfg->api_entrypoint)) {
				snprintf(err, errlen, "--api.entryPoint=%s is also served by the proxy "
					 "workers", cfg->api_entrypoint);
				return -EINVAL;
			}
			continue;	/* warned above */
		}
		rc = listen_on(base, (int)e, err, errlen);
		if (rc) {
			api_stop();
			return rc;
		}
	}
	return 0;
}

void api_stop(void)
{
	for (int i = 0; i < api_nl; i++)
		if (api_l[i].http)
			evhttp_free(api_l[i].http);
	api_nl = 0;
}
