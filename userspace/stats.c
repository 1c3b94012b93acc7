// SPDX-License-Identifier: MIT
/*
 * stats: request counters for /health, /metrics and the dashboard, kept per worker.
 *
 * Each worker owns two open-addressing tables of counter slots: one keyed by (entry point,
 * status, method, protocol), one by (backend, server URL, status, method, protocol). A
 * slot is created by its worker on a series' first request (the only allocation: copies
 * of the names) and published with a release store of its hash; after that the worker
 * bumps plain counters with relaxed loads and stores (one writer, so no atomic RMW and no
 * lock on the request path). The API thread reads slots with acquire loads and adds the
 * workers up in a snapshot. Errors (status >= 400) also go to a per-worker ring guarded
 * by a sequence counter, for /health's recent_errors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "accesslog.h"
#include "config.h"
#include "log.h"
#include "model.h"
#include "stats.h"

const double stats_bucket_le[STATS_NBUCKETS] = { 0.1, 0.3, 1.2, 5.0 };
static const uint64_t bucket_ns[STATS_NBUCKETS] = {
	100000000ULL, 300000000ULL, 1200000000ULL, 5000000000ULL
};

#define EP_SLOTS	1024	/* per worker; powers of two */
#define BE_SLOTS	8192
#define MAX_ERRORS	1000	/* cap on --api.statistics.recentErrors */

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
};
#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))
#define METHOD_OTHER (NMETHODS - 1)

struct slot {
	_Atomic uint64_t hash;		/* 0: free; stored last, with release */
	int ep;
	uint16_t code;
	uint8_t method, proto;
	char *backend, *server;		/* backend table: owned copies */
	_Atomic uint64_t count, dur_ns, bytes_out, bytes_in, retried;
	_Atomic uint64_t bucket[STATS_NBUCKETS];	/* per bucket, not cumulative */
	_Atomic int64_t inflight;
};

struct err_entry {
	_Atomic uint32_t seq;		/* odd while the worker writes it */
	struct stats_error e;
};

/*
 * Backend lookups hash two strings; requests of one worker mostly repeat a few keys, so a
 * small direct-mapped cache remembers (name pointers, code, method, protocol) -> slot.
 * A hit is confirmed with strcmp (pointers may be reused by a later snapshot), which is
 * cheaper than hashing the names again.
 */
#define BE_CACHE 64

struct be_cache {
	const char *backend, *server;
	uint32_t key;			/* code | method << 16 | proto << 24 */
	struct slot *slot;
};

struct wstats {
	struct slot *ep, *be;
	struct be_cache *cache;		/* BE_CACHE entries, writer only */
	unsigned nep, nbe;		/* used slots (writer only) */
	_Atomic uint64_t dropped;
	_Atomic int64_t conns[CONFIG_MAX_ENTRYPOINTS];
	struct err_entry *errs;
	_Atomic uint64_t nerr;		/* errors written so far; ring index = nerr % cap */
	bool warned_full;
} __attribute__((aligned(64)));

struct stats_tunnel {
	int worker;
	uint64_t mono_start;
	struct request_record r;
	char frontend[DYNCONF_MAX_NAME + 1];
	char backend[DYNCONF_MAX_NAME + 1];
	char server[DYNCONF_MAX_URL + 1];
};

static struct wstats *ws;
static int nws;
static int nerr_cap;
static int nentrypoints;
static int64_t start_real, start_mono;
static uint64_t window_base[STATS_MAX_CODE];
static uint64_t seen_gen;
static _Atomic uint64_t reloads_ok, reloads_failed;
static _Atomic int64_t last_ok_ns, last_fail_ns;
static struct event *tick_ev;

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
/* Single-writer add: no lock prefix needed, readers still see whole values. */
#define BUMP(x, v) atomic_store_explicit(&(x), LOAD(x) + (v), memory_order_relaxed)

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const char *stats_method_label(const char *m)
{
	for (size_t i = 0; i < METHOD_OTHER; i++)
		if (m && strcmp(m, method_names[i]) == 0)
			return method_names[i];
	return method_names[METHOD_OTHER];
}

static unsigned method_index(const char *m)
{
	/* the common cases first, without a loop */
	if (m[0] == 'G' && m[1] == 'E' && m[2] == 'T' && !m[3])
		return 0;
	for (unsigned i = 1; i < METHOD_OTHER; i++)
		if (strcmp(m, method_names[i]) == 0)
			return i;
	return METHOD_OTHER;
}

const char *stats_proto_label(enum stats_proto p)
{
	switch (p) {
	case STATS_PROTO_WEBSOCKET: return "websocket";
	case STATS_PROTO_SSE: return "sse";
	default: return "http";
	}
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ? x : 1;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t key_bits(int ep, unsigned code, unsigned method, unsigned proto)
{
	return (uint64_t)(unsigned)ep | (uint64_t)code << 16 | (uint64_t)method << 32 |
	       (uint64_t)proto << 40;
}

static uint64_t ep_hash(int ep, unsigned code, unsigned method, unsigned proto)
{
	return mix64(key_bits(ep, code, method, proto));
}

static uint64_t be_hash(const char *backend, const char *server, unsigned code, unsigned method,
			unsigned proto)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, backend);

	h = fnv1a(h ^ 0xff, server);
	return mix64(h ^ key_bits(0, code, method, proto));
}

static bool same_key(const struct slot *s, int ep, unsigned code, unsigned method,
		     unsigned proto, const char *backend, const char *server)
{
	if (s->code != code || s->method != method || s->proto != proto || s->ep != ep)
		return false;
	return !backend || (strcmp(s->backend, backend) == 0 && strcmp(s->server, server) == 0);
}

/*
 * Find or create the slot of a key in one worker's table (writer side). NULL when the
 * table is full (the request goes uncounted in that table, and the drop is counted).
 */
static struct slot *slot_get(struct wstats *w, bool be, int ep, unsigned code, unsigned method,
			     unsigned proto, const char *backend, const char *server)
{
	struct slot *tab = be ? w->be : w->ep;
	unsigned mask = (be ? BE_SLOTS : EP_SLOTS) - 1, *used = be ? &w->nbe : &w->nep;
	uint64_t h = be ? be_hash(backend, server, code, method, proto) :
			  ep_hash(ep, code, method, proto);

	for (unsigned i = (unsigned)h & mask;; i = (i + 1) & mask) {
		struct slot *s = &tab[i];
		uint64_t sh = atomic_load_explicit(&s->hash, memory_order_relaxed);

		if (sh == h && same_key(s, ep, code, method, proto, be ? backend : NULL, server))
			return s;
		if (sh)
			continue;
		/* keep the table at most 3/4 full so probes stay short */
		if (*used >= (mask + 1) / 4 * 3)
			goto full;
		s->ep = ep;
		s->code = (uint16_t)code;
		s->method = (uint8_t)method;
		s->proto = (uint8_t)proto;
		if (be) {
			s->backend = strdup(backend);
			s->server = strdup(server);
			if (!s->backend || !s->server) {
				free(s->backend);
				free(s->server);
				s->backend = s->server = NULL;
				goto full;
			}
		}
		(*used)++;
		atomic_store_explicit(&s->hash, h, memory_order_release);
		return s;
	}
full:
	BUMP(w->dropped, 1);
	if (!w->warned_full) {
		w->warned_full = true;
		log_warn("stats: a counter table is full (%s series); new series are not counted "
			 "(too many distinct backends, servers or status codes)",
			 be ? "backend" : "entry point");
	}
	return NULL;
}

/* slot_get() for the backend table through the worker's cache. */
static struct slot *be_slot(struct wstats *w, unsigned code, unsigned method, unsigned proto,
			    const char *backend, const char *server)
{
	uint32_t key = code | method << 16 | proto << 24;
	uintptr_t h = ((uintptr_t)backend >> 4) ^ ((uintptr_t)server >> 3) ^ key * 0x9e3779b1u;
	struct be_cache *c = &w->cache[(h ^ h >> 7) & (BE_CACHE - 1)];

	if (c->slot && c->backend == backend && c->server == server && c->key == key &&
	    strcmp(c->slot->backend, backend) == 0 && strcmp(c->slot->server, server) == 0)
		return c->slot;
	c->slot = slot_get(w, true, 0, code, method, proto, backend, server);
	c->backend = backend;
	c->server = server;
	c->key = key;
	return c->slot;
}

static void observe(struct slot *s, const struct request_record *r)
{
	BUMP(s->count, 1);
	BUMP(s->dur_ns, r->duration_ns);
	BUMP(s->bytes_out, r->resp_bytes);
	BUMP(s->bytes_in, r->req_bytes);
	if (r->retried)
		BUMP(s->retried, 1);
	for (int i = 0; i < STATS_NBUCKETS; i++) {
		if (r->duration_ns <= bucket_ns[i]) {
			BUMP(s->bucket[i], 1);
			break;
		}
	}
}

static struct wstats *wslot(int worker)
{
	if (!ws || worker < 0 || worker >= nws)
		return NULL;
	return &ws[worker];
}

static bool ep_valid(int ep)
{
	return ep >= 0 && ep < nentrypoints;
}

void stats_request_begin(int worker, struct request_record *r)
{
	struct wstats *w = wslot(worker);
	unsigned m, p;
	struct slot *s;

	if (!w || !ep_valid(r->entrypoint))
		return;
	m = method_index(r->method);
	p = r->protocol < STATS_NPROTO ? r->protocol : STATS_PROTO_HTTP;
	s = slot_get(w, false, r->entrypoint, 0, m, p, NULL, NULL);
	if (s)
		BUMP(s->inflight, 1);
	r->begun = 1;
	if (r->backend) {
		s = be_slot(w, 0, m, p, r->backend, "");
		if (s)
			BUMP(s->inflight, 1);
		r->begun = 2;
	}
}

static void push_error(struct wstats *w, const struct request_record *r, unsigned code)
{
	uint64_t n = LOAD(w->nerr);
	struct err_entry *e = &w->errs[n % (uint64_t)nerr_cap];
	uint32_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
	size_t plen = strcspn(r->path, "?");

	atomic_store_explicit(&e->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	e->e.status = (int)code;
	snprintf(e->e.method, sizeof(e->e.method), "%s", r->method);
	snprintf(e->e.host, sizeof(e->e.host), "%s", r->host);
	if (plen >= sizeof(e->e.path))
		plen = sizeof(e->e.path) - 1;
	memcpy(e->e.path, r->path, plen);
	e->e.path[plen] = '\0';
	e->e.time_ns = (int64_t)(r->start_ns + r->duration_ns);
	atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
	atomic_store_explicit(&w->nerr, n + 1, memory_order_release);
}

void stats_request_done(int worker, const struct request_record *r)
{
	struct wstats *w = wslot(worker);
	unsigned m, p, code;
	struct slot *s;

	if (!w || !ep_valid(r->entrypoint))
		return;
	/* no response at all: the client went away first (Traefik logs 499 for that too) */
	code = r->status > 0 && r->status < STATS_MAX_CODE ? (unsigned)r->status : 499;
	m = method_index(r->method);
	p = r->protocol < STATS_NPROTO ? r->protocol : STATS_PROTO_HTTP;
	s = slot_get(w, false, r->entrypoint, code, m, p, NULL, NULL);
	if (s)
		observe(s, r);
	if (r->begun) {
		s = slot_get(w, false, r->entrypoint, 0, m, p, NULL, NULL);
		if (s)
			BUMP(s->inflight, -1);
	}
	if (r->backend) {
		s = be_slot(w, code, m, p, r->backend, r->server_url ? r->server_url : "");
		if (s)
			observe(s, r);
		if (r->begun == 2) {
			s = be_slot(w, 0, m, p, r->backend, "");
			if (s)
				BUMP(s->inflight, -1);
		}
	}
	if (code >= 400 && nerr_cap > 0)
		push_error(w, r, code);
	if (accesslog_enabled())
		accesslog_write(worker, r);
}

void stats_conn_open(int worker, int entrypoint, int delta)
{
	struct wstats *w = wslot(worker);

	if (!w || entrypoint < 0 || entrypoint >= CONFIG_MAX_ENTRYPOINTS)
		return;
	BUMP(w->conns[entrypoint], delta);
}

struct stats_tunnel *stats_tunnel_begin(int worker, const struct request_record *r)
{
	struct stats_tunnel *st = malloc(sizeof(*st));

	if (!st) {
		stats_request_done(worker, r);
		return NULL;
	}
	st->worker = worker;
	st->r = *r;
	snprintf(st->frontend, sizeof(st->frontend), "%s", r->frontend ? r->frontend : "");
	snprintf(st->backend, sizeof(st->backend), "%s", r->backend ? r->backend : "");
	snprintf(st->server, sizeof(st->server), "%s", r->server_url ? r->server_url : "");
	st->r.frontend = r->frontend ? st->frontend : NULL;
	st->r.backend = r->backend ? st->backend : NULL;
	st->r.server_url = r->server_url ? st->server : NULL;
	st->mono_start = (uint64_t)clock_ns(CLOCK_MONOTONIC) - r->duration_ns;
	return st;
}

void stats_tunnel_end(struct stats_tunnel *st, uint64_t c2b_bytes, uint64_t b2c_bytes,
		      bool spliced)
{
	if (!st)
		return;
	st->r.req_bytes += c2b_bytes;
	st->r.resp_bytes += b2c_bytes;
	st->r.spliced = spliced;
	st->r.duration_ns = (uint64_t)clock_ns(CLOCK_MONOTONIC) - st->mono_start;
	stats_request_done(st->worker, &st->r);
	free(st);
}

void stats_config_reload_failed(void)
{
	atomic_fetch_add(&reloads_failed, 1);
	atomic_store(&last_fail_ns, clock_ns(CLOCK_REALTIME));
}

int stats_api_worker(void)
{
	return nws - 1;
}

/* Successful reloads are the snapshot generations published since start-up. */
static void observe_reloads(void)
{
	uint64_t g = model_generation();

	if (g > seen_gen) {
		atomic_fetch_add(&reloads_ok, g - seen_gen);
		atomic_store(&last_ok_ns, clock_ns(CLOCK_REALTIME));
		seen_gen = g;
	}
}

/* ---- snapshot ------------------------------------------------------------------------ */

struct merge {
	struct stats_series *v;
	uint64_t *h;
	size_t n, cap;		/* cap: power of two, index table of v positions + 1 */
	size_t *idx;
};

static int merge_init(struct merge *mg, size_t want)
{
	size_t cap = 64;

	while (cap < want * 2)
		cap *= 2;
	mg->v = calloc(want ? want : 1, sizeof(*mg->v));
	mg->h = calloc(want ? want : 1, sizeof(*mg->h));
	mg->idx = calloc(cap, sizeof(*mg->idx));
	mg->n = 0;
	mg->cap = cap;
	return mg->v && mg->h && mg->idx ? 0 : -ENOMEM;
}

static void merge_slot(struct merge *mg, const struct slot *s, uint64_t h, bool be)
{
	struct stats_series *v;
	size_t i;

	for (i = h & (mg->cap - 1); mg->idx[i]; i = (i + 1) & (mg->cap - 1)) {
		v = &mg->v[mg->idx[i] - 1];
		if (mg->h[mg->idx[i] - 1] == h && v->code == s->code &&
		    v->method == method_names[s->method] && v->proto == s->proto &&
		    (be ? strcmp(v->backend, s->backend) == 0 && strcmp(v->server, s->server) == 0 :
			  v->entrypoint == s->ep))
			goto add;
	}
	v = &mg->v[mg->n];
	mg->h[mg->n] = h;
	mg->idx[i] = ++mg->n;
	v->entrypoint = be ? -1 : s->ep;
	v->backend = be ? s->backend : NULL;
	v->server = be ? s->server : NULL;
	v->code = s->code;
	v->method = method_names[s->method];
	v->proto = (enum stats_proto)s->proto;
add:
	v->count += LOAD(s->count);
	v->dur_ns += LOAD(s->dur_ns);
	v->bytes_out += LOAD(s->bytes_out);
	v->bytes_in += LOAD(s->bytes_in);
	v->retried += LOAD(s->retried);
	v->inflight += LOAD(s->inflight);
	for (int b = 0; b < STATS_NBUCKETS; b++)
		v->bucket[b] += LOAD(s->bucket[b]);
}

static int merge_table(struct merge *mg, bool be)
{
	size_t want = 0, nslots = be ? BE_SLOTS : EP_SLOTS;

	for (int w = 0; w < nws; w++)
		for (size_t i = 0; i < nslots; i++)
			want += atomic_load_explicit(&(be ? ws[w].be : ws[w].ep)[i].hash,
						     memory_order_acquire) != 0;
	if (merge_init(mg, want))
		return -ENOMEM;
	for (int w = 0; w < nws; w++) {
		struct slot *tab = be ? ws[w].be : ws[w].ep;

		for (size_t i = 0; i < nslots && mg->n < want; i++) {
			uint64_t h = atomic_load_explicit(&tab[i].hash, memory_order_acquire);

			if (h)
				merge_slot(mg, &tab[i], h, be);
		}
	}
	/* make buckets cumulative, as Prometheus wants them */
	for (size_t i = 0; i < mg->n; i++)
		for (int b = 1; b < STATS_NBUCKETS; b++)
			mg->v[i].bucket[b] += mg->v[i].bucket[b - 1];
	free(mg->h);
	free(mg->idx);
	mg->h = NULL;
	mg->idx = NULL;
	return 0;
}

static int cmp_err(const void *a, const void *b)
{
	const struct stats_error *x = a, *y = b;

	return x->time_ns < y->time_ns ? 1 : x->time_ns > y->time_ns ? -1 : 0;
}

static int collect_errors(struct stats_snapshot *s)
{
	size_t n = 0;

	if (nerr_cap <= 0)
		return 0;
	s->errors = calloc((size_t)nws * (size_t)nerr_cap, sizeof(*s->errors));
	if (!s->errors)
		return -ENOMEM;
	for (int w = 0; w < nws; w++) {
		uint64_t total = atomic_load_explicit(&ws[w].nerr, memory_order_acquire);
		uint64_t first = total > (uint64_t)nerr_cap ? total - (uint64_t)nerr_cap : 0;

		for (uint64_t k = first; k < total; k++) {
			struct err_entry *e = &ws[w].errs[k % (uint64_t)nerr_cap];
			uint32_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire), s2;

			if (s1 & 1)
				continue;	/* being rewritten: newer than what we look for */
			memcpy(&s->errors[n], &e->e, sizeof(e->e));
			atomic_thread_fence(memory_order_acquire);
			s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
			if (s1 == s2)
				n++;
		}
	}
	qsort(s->errors, n, sizeof(*s->errors), cmp_err);
	s->nerrors = n < (size_t)nerr_cap ? n : (size_t)nerr_cap;
	return 0;
}

struct stats_snapshot *stats_snapshot_take(void)
{
	struct stats_snapshot *s = calloc(1, sizeof(*s));
	struct merge ep = { 0 }, be = { 0 };

	if (!s)
		return NULL;
	if (!ws)
		return s;
	observe_reloads();
	if (merge_table(&ep, false) || merge_table(&be, true) || collect_errors(s)) {
		free(ep.v);
		free(ep.h);
		free(ep.idx);
		free(be.v);
		free(be.h);
		free(be.idx);
		stats_snapshot_free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->ep = ep.v;
	s->nep = ep.n;
	s->be = be.v;
	s->nbe = be.n;
	for (size_t i = 0; i < s->nep; i++) {
		const struct stats_series *v = &s->ep[i];

		if (!v->code)
			continue;
		s->codes[v->code] += v->count;
		s->total_count += v->count;
		s->total_dur_ns += v->dur_ns;
		s->total_bytes += v->bytes_out;
	}
	for (int c = 0; c < STATS_MAX_CODE; c++) {
		s->window[c] = s->codes[c] >= window_base[c] ? s->codes[c] - window_base[c] : 0;
		s->window_count += s->window[c];
	}
	for (int w = 0; w < nws; w++) {
		for (int e = 0; e < CONFIG_MAX_ENTRYPOINTS && e < 16; e++)
			s->conns[e] += LOAD(ws[w].conns[e]);
		s->dropped += LOAD(ws[w].dropped);
	}
	s->reloads = atomic_load(&reloads_ok);
	s->reload_failures = atomic_load(&reloads_failed);
	s->last_reload_ok = (double)atomic_load(&last_ok_ns) / 1e9;
	s->last_reload_fail = (double)atomic_load(&last_fail_ns) / 1e9;
	s->start_real_ns = start_real;
	s->start_mono_ns = start_mono;
	return s;
}

void stats_snapshot_free(struct stats_snapshot *s)
{
	if (!s)
		return;
	free(s->ep);
	free(s->be);
	free(s->errors);
	free(s);
}

void stats_tick(void)
{
	struct stats_snapshot *s;

	if (!ws)
		return;
	s = stats_snapshot_take();
	if (!s)
		return;
	memcpy(window_base, s->codes, sizeof(window_base));
	stats_snapshot_free(s);
}

/* ---- set-up -------------------------------------------------------------------------- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	static unsigned n;

	(void)fd;
	(void)what;
	(void)arg;
	accesslog_flush(false);
	if (++n % 10 == 0) {
		stats_tick();
		observe_reloads();
	}
}

int stats_init(const struct config *cfg, struct event_base *base, char *err, size_t errlen)
{
	struct timeval tv = { 0, 100 * 1000 };
	int rc;

	nws = cfg->workers + 1;
	nentrypoints = (int)cfg->nentrypoints;
	nerr_cap = cfg->api_recent_errors < 0 ? 0 :
		   cfg->api_recent_errors > MAX_ERRORS ? MAX_ERRORS : cfg->api_recent_errors;
	ws = calloc((size_t)nws, sizeof(*ws));
	if (!ws)
		goto oom;
	for (int i = 0; i < nws; i++) {
		/* calloc: pages of unused slots are never touched, so they cost no memory */
		ws[i].ep = calloc(EP_SLOTS, sizeof(struct slot));
		ws[i].be = calloc(BE_SLOTS, sizeof(struct slot));
		ws[i].cache = calloc(BE_CACHE, sizeof(struct be_cache));
		ws[i].errs = nerr_cap ? calloc((size_t)nerr_cap, sizeof(struct err_entry)) : NULL;
		if (!ws[i].ep || !ws[i].be || !ws[i].cache || (nerr_cap && !ws[i].errs))
			goto oom;
	}
	start_real = clock_ns(CLOCK_REALTIME);
	start_mono = clock_ns(CLOCK_MONOTONIC);
	memset(window_base, 0, sizeof(window_base));
	seen_gen = model_generation();
	rc = accesslog_open(cfg, nws, err, errlen);
	if (rc)
		goto fail;
	if (base) {
		tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
		if (!tick_ev || event_add(tick_ev, &tv))
			goto oom;
	}
	return 0;
oom:
	snprintf(err, errlen, "stats: out of memory");
	rc = -ENOMEM;
fail:
	stats_fini();
	return rc;
}

void stats_fini(void)
{
	accesslog_close();
	if (tick_ev)
		event_free(tick_ev);
	tick_ev = NULL;
	for (int i = 0; ws && i < nws; i++) {
		for (size_t k = 0; ws[i].be && k < BE_SLOTS; k++) {
			free(ws[i].be[k].backend);
			free(ws[i].be[k].server);
		}
		free(ws[i].ep);
		free(ws[i].be);
		free(ws[i].cache);
		free(ws[i].errs);
	}
	free(ws);
	ws = NULL;
	nws = 0;
}
