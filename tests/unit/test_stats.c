// SPDX-License-Identifier: MIT
/*
 * Unit tests for stats: per-worker tables merged into snapshots (counts, cumulative
 * buckets, bytes, in-flight gauges), status-code windows, the recent-errors rings, tunnel
 * requests counted at their end with their bytes, full tables, and two writer threads
 * racing a reader (totals exact, snapshots never going backwards).
 */
#include <pthread.h>
#include <string.h>

#include "config.h"
#include "stats.h"
#include "unit.h"

static struct config cfg;

static struct request_record rec(int ep, const char *method, int status, const char *backend,
				 const char *server, double dur_s, uint64_t bytes)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.method, sizeof(r.method), "%s", method);
	snprintf(r.host, sizeof(r.host), "a.local");
	snprintf(r.path, sizeof(r.path), "/p?q=1");
	snprintf(r.proto, sizeof(r.proto), "HTTP/1.1");
	r.entrypoint = ep;
	r.status = status;
	r.backend = backend;
	r.server_url = server;
	r.duration_ns = (uint64_t)(dur_s * 1e9);
	r.resp_bytes = bytes;
	r.start_ns = 1714557600000000000ULL;
	return r;
}

static const struct stats_series *find_ep(const struct stats_snapshot *s, int ep, int code,
					  const char *method)
{
	for (size_t i = 0; i < s->nep; i++)
		if (s->ep[i].entrypoint == ep && s->ep[i].code == code &&
		    !strcmp(s->ep[i].method, method))
			return &s->ep[i];
	return NULL;
}

static const struct stats_series *find_be(const struct stats_snapshot *s, const char *b,
					  const char *server, int code)
{
	for (size_t i = 0; i < s->nbe; i++)
		if (!strcmp(s->be[i].backend, b) && !strcmp(s->be[i].server, server) &&
		    s->be[i].code == code)
			return &s->be[i];
	return NULL;
}

static void test_merge(void)
{
	struct request_record r;
	struct stats_snapshot *s;
	const struct stats_series *v;

	r = rec(0, "GET", 200, "b", "http://s1", 0.05, 100);
	stats_request_done(0, &r);
	r = rec(0, "GET", 200, "b", "http://s2", 0.2, 200);
	stats_request_done(1, &r);
	r = rec(0, "GET", 200, "b", "http://s1", 2.0, 300);
	stats_request_done(1, &r);
	r = rec(0, "GET", 200, "b", "http://s1", 10.0, 400);
	stats_request_done(0, &r);
	r = rec(1, "PROPFIND", 0, NULL, NULL, 0.001, 0);
	stats_request_done(2, &r);	/* the API slot */
	s = stats_snapshot_take();
	CHECK(s != NULL, "snapshot taken");
	v = find_ep(s, 0, 200, "GET");
	CHECK(v && v->count == 4, "entry-point series merged over two workers (4 requests)");
	CHECK(v && v->bucket[0] == 1 && v->bucket[1] == 2 && v->bucket[2] == 2 && v->bucket[3] == 3,
	      "buckets cumulative: <=0.1:1 <=0.3:2 <=1.2:2 <=5:3 (10 s only in +Inf)");
	CHECK(v && v->bytes_out == 1000, "bytes summed");
	CHECK(v && v->dur_ns == 12250000000ULL, "durations summed");
	v = find_ep(s, 1, 499, "OTHER");
	CHECK(v && v->count == 1, "no status -> 499, unknown method -> OTHER, API slot counted");
	v = find_be(s, "b", "http://s1", 200);
	CHECK(v && v->count == 3, "backend series per server (s1: 3)");
	v = find_be(s, "b", "http://s2", 200);
	CHECK(v && v->count == 1, "backend series per server (s2: 1)");
	CHECK_EQ_INT(s->codes[200], 4, "codes[200]");
	CHECK_EQ_INT(s->codes[499], 1, "codes[499]");
	CHECK_EQ_INT(s->total_count, 5, "total_count");
	CHECK_EQ_INT(s->total_bytes, 1000, "total_bytes");
	CHECK_EQ_INT(s->window_count, 5, "window holds everything before the first tick");
	stats_snapshot_free(s);

	stats_tick();
	r = rec(0, "POST", 201, NULL, NULL, 0.01, 5);
	stats_request_done(0, &r);
	s = stats_snapshot_take();
	CHECK_EQ_INT(s->window_count, 1, "after a tick the window holds only the new request");
	CHECK_EQ_INT(s->window[201], 1, "window by code");
	CHECK_EQ_INT(s->total_count, 6, "totals keep growing");
	stats_snapshot_free(s);
}

static void test_inflight(void)
{
	struct request_record a = rec(0, "GET", 0, "b2", NULL, 0, 0);
	struct request_record b = rec(0, "GET", 0, NULL, NULL, 0, 0);
	struct stats_snapshot *s;
	const struct stats_series *v;

	stats_request_begin(0, &a);
	stats_request_begin(1, &b);
	CHECK(a.begun == 2 && b.begun == 1, "begin marks the record (backend known or not)");
	s = stats_snapshot_take();
	v = find_ep(s, 0, 0, "GET");
	CHECK(v && v->inflight == 2, "two requests in flight on the entry point");
	v = find_be(s, "b2", "", 0);
	CHECK(v && v->inflight == 1, "one in flight on backend b2");
	stats_snapshot_free(s);
	a.status = 200;
	a.server_url = "http://x";
	stats_request_done(0, &a);
	b.status = 404;
	stats_request_done(1, &b);
	s = stats_snapshot_take();
	v = find_ep(s, 0, 0, "GET");
	CHECK(v && v->inflight == 0, "in-flight back to 0 after done");
	v = find_be(s, "b2", "", 0);
	CHECK(v && v->inflight == 0, "backend in-flight back to 0");
	stats_snapshot_free(s);
}

static void test_errors(void)
{
	struct stats_snapshot *s;
	char path[32];

	for (int i = 0; i < 7; i++) {
		struct request_record r = rec(0, "GET", 500 + i % 2, NULL, NULL, 0, 0);

		snprintf(path, sizeof(path), "/e%d?x=1", i);
		snprintf(r.path, sizeof(r.path), "%s", path);
		r.start_ns += (uint64_t)i * 1000000;
		stats_request_done(i % 2, &r);
	}
	s = stats_snapshot_take();
	CHECK_EQ_INT(s->nerrors, 3, "recent errors capped at recentErrors (3)");
	CHECK_EQ_STR(s->errors[0].path, "/e6", "newest first, query dropped");
	CHECK_EQ_STR(s->errors[1].path, "/e5", "then the one before (other worker)");
	CHECK_EQ_STR(s->errors[2].path, "/e4", "then the next");
	CHECK_EQ_INT(s->errors[0].status, 500, "status kept");
	stats_snapshot_free(s);
}

static void test_tunnel(void)
{
	char backend[32], server[32];
	struct request_record r;
	struct stats_tunnel *st;
	struct stats_snapshot *s;
	const struct stats_series *v;

	snprintf(backend, sizeof(backend), "bt");
	snprintf(server, sizeof(server), "http://t:1");
	r = rec(0, "GET", 101, backend, server, 0.001, 0);
	r.protocol = STATS_PROTO_WEBSOCKET;
	r.tunnel = true;
	stats_request_begin(0, &r);
	st = stats_tunnel_begin(0, &r);
	CHECK(st != NULL, "tunnel record kept");
	/* the snapshot strings die with the request: the copy must not care */
	memset(backend, 'x', sizeof(backend) - 1);
	memset(server, 'y', sizeof(server) - 1);
	s = stats_snapshot_take();
	v = find_be(s, "bt", "http://t:1", 101);
	CHECK(v == NULL, "not counted while the tunnel runs");
	stats_snapshot_free(s);
	stats_tunnel_end(st, 1000, 5000, true);
	s = stats_snapshot_take();
	v = find_be(s, "bt", "http://t:1", 101);
	CHECK(v && v->count == 1, "counted when the tunnel ends, names copied");
	CHECK(v && v->bytes_out == 5000 && v->bytes_in == 1000, "with the tunnel's bytes each way");
	CHECK(v && v->proto == STATS_PROTO_WEBSOCKET, "protocol websocket");
	v = find_be(s, "bt", "", 0);
	CHECK(v && v->inflight == 0, "in-flight released at the end");
	stats_snapshot_free(s);
	stats_tunnel_end(NULL, 1, 1, false);
	CHECK(1, "stats_tunnel_end(NULL) is a no-op");
}

static void test_full(void)
{
	struct stats_snapshot *s;
	char name[32];
	int n = 8192;

	for (int i = 0; i < n; i++) {
		struct request_record r;

		snprintf(name, sizeof(name), "many-%d", i);
		r = rec(0, "GET", 200, name, "", 0, 0);
		stats_request_done(1, &r);
	}
	s = stats_snapshot_take();
	CHECK(s->dropped > 0, "a full table drops new series and counts the drops (%llu)",
	      (unsigned long long)s->dropped);
	CHECK(s->nbe < 8192, "backend series capped below the table size (%zu)", s->nbe);
	stats_snapshot_free(s);
}

#define RACE_N 200000

static void *writer(void *arg)
{
	int w = (int)(long)arg;
	struct request_record r = rec(1, "GET", 204, "race", "http://r", 0.001, 1);

	for (int i = 0; i < RACE_N; i++)
		stats_request_done(w, &r);
	return NULL;
}

static void test_race(void)
{
	pthread_t t[2];
	uint64_t last = 0;
	bool monotonic = true;
	struct stats_snapshot *s;
	const struct stats_series *v;

	pthread_create(&t[0], NULL, writer, (void *)0L);
	pthread_create(&t[1], NULL, writer, (void *)1L);
	for (int i = 0; i < 200; i++) {
		s = stats_snapshot_take();
		v = find_ep(s, 1, 204, "GET");
		if (v) {
			monotonic = monotonic && v->count >= last;
			last = v->count;
		}
		stats_snapshot_free(s);
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	s = stats_snapshot_take();
	v = find_ep(s, 1, 204, "GET");
	CHECK(v && v->count == 2 * RACE_N, "two writers, no lock: exact total %d", 2 * RACE_N);
	CHECK(v && v->bytes_out == 2 * RACE_N, "bytes exact too");
	CHECK(monotonic, "snapshots taken during the race never go backwards");
	stats_snapshot_free(s);
}

int main(void)
{
	char err[256];
	struct request_record r = rec(0, "GET", 200, NULL, NULL, 0, 0);

	unit_begin("stats");
	stats_request_done(0, &r);	/* before init: ignored, no crash */
	CHECK(stats_api_worker() < 0, "no API slot before init");
	config_init(&cfg);
	cfg.workers = 2;
	cfg.nentrypoints = 2;
	snprintf(cfg.entrypoints[0].name, sizeof(cfg.entrypoints[0].name), "http");
	snprintf(cfg.entrypoints[1].name, sizeof(cfg.entrypoints[1].name), "traefik");
	cfg.api_recent_errors = 3;
	CHECK_EQ_INT(stats_init(&cfg, NULL, err, sizeof(err)), 0, "stats_init");
	CHECK_EQ_INT(stats_api_worker(), 2, "API slot after the workers");
	test_merge();
	test_inflight();
	test_errors();
	test_tunnel();
	test_race();
	test_full();
	stats_fini();
	stats_request_done(0, &r);
	CHECK(1, "after fini: ignored, no crash");
	return unit_done();
}
