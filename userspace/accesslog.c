// SPDX-License-Identifier: MIT
/*
 * accesslog: Traefik 1.7's access log lines, written without slowing the workers down.
 *
 * The common format is Traefik's CommonLogFormatter; the json format is what logrus'
 * JSONFormatter prints for Traefik's field map: keys sorted, durations in nanoseconds,
 * BackendURL as Go's url.URL object. Lines are formatted straight into the calling
 * worker's buffer (times come from a per-thread cache refreshed once a second, so no
 * localtime lock per request), and a buffer reaches the file in one write(2) when it is
 * nearly full or 100 ms old; the main thread's timer flushes idle workers' buffers.
 * Fields of a request that never reached a server (404, 503) are left out, as Traefik
 * does: the common line then shows "-" for status and size, like Traefik's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "gofmt.h"
#include "log.h"
#include "stats.h"
#include "strbuf.h"

#define BUF_CAP		(128 * 1024)
#define FLUSH_AT	(BUF_CAP - ACCESSLOG_LINE_MAX)
#define FLUSH_AGE_MS	100

struct aslot {
	pthread_mutex_t mu;
	char *buf;
	size_t len;
	uint64_t first_ms;	/* when the oldest buffered line was written */
} __attribute__((aligned(64)));

static struct aslot *slots;
static int nslots;
static int log_fd = -1;
static bool own_fd, json;
static char log_path[PATH_MAX];
static _Atomic bool enabled;
static _Atomic uint64_t reqcount;
static _Atomic uint64_t last_err_ms;

/* ---- a bounded line writer ------------------------------------------------------------ */

struct line {
	char *p;
	size_t n, cap;		/* cap excludes room for the final newline and NUL */
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > l->cap - l->n)
		n = l->cap - l->n;
	memcpy(l->p + l->n, s, n);
	l->n += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Raw text for the common format: control characters would break the one-line rule. */
static void text(struct line *l, const char *s)
{
	for (; *s && l->n < l->cap; s++)
		l->p[l->n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
}

static void u64(struct line *l, uint64_t v)
{
	char b[24];
	int i = sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(l, b + i, sizeof(b) - (size_t)i);
}

/* Decimal text of v into out (NUL-terminated); returns its length. */
static size_t utoa(char *out, unsigned v)
{
	char b[12];
	size_t i = sizeof(b), n;

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = sizeof(b) - i;
	memcpy(out, b + i, n);
	out[n] = '\0';
	return n;
}

static void jstr(struct line *l, const char *s)
{
	if (l->cap - l->n < 3)
		return;
	l->n += strbuf_json_quote(l->p + l->n, l->cap - l->n + 1, s);
	if (l->n > l->cap)
		l->n = l->cap;
}

/*
 * ,"key": written with one copy: callers pass a literal, and the macros below paste the
 * punctuation around it at compile time (the line has ~35 keys; this is its hot loop).
 */
static void jkey_lit(struct line *l, const char *lit, size_t n, bool *first)
{
	if (*first) {
		lit++;	/* skip the comma */
		n--;
	}
	*first = false;
	put(l, lit, n);
}

#define jkey(l, k, first) jkey_lit(l, ",\"" k "\":", sizeof(",\"" k "\":") - 1, first)
#define jfield_str(l, k, v, first) do { jkey(l, k, first); jstr(l, v); } while (0)
#define jfield_u64(l, k, v, first) do { jkey(l, k, first); u64(l, v); } while (0)

/* Bounded copy of n bytes of src into dst (cap > 0), NUL-terminated. */
static size_t cpy(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* ---- times: one conversion per thread per second ----------------------------------------- */

struct tcache {
	time_t sec;
	char clf[40];		/* "02/Jan/2006:15:04:05 +0000" (UTC) */
	char utc[24];		/* "2006-01-02T15:04:05" */
	char local[24];
	char zone[8];		/* "Z" or "+02:00" */
};

static __thread struct tcache tcache[2];

static const struct tcache *tc_get(time_t sec)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tcache *c = &tcache[sec & 1];
	struct tm u, t;
	long off;

	if (c->sec == sec && c->clf[0])
		return c;
	gmtime_r(&sec, &u);
	localtime_r(&sec, &t);
	c->sec = sec;
	/* the moduli only tell the compiler how wide each field can get */
	snprintf(c->clf, sizeof(c->clf), "%02u/%s/%04u:%02u:%02u:%02u +0000", u.tm_mday % 100u,
		 mon[u.tm_mon % 12], (u.tm_year + 1900) % 10000u, u.tm_hour % 100u,
		 u.tm_min % 100u, u.tm_sec % 100u);
	snprintf(c->utc, sizeof(c->utc), "%04u-%02u-%02uT%02u:%02u:%02u",
		 (u.tm_year + 1900) % 10000u, (u.tm_mon + 1) % 100u, u.tm_mday % 100u,
		 u.tm_hour % 100u, u.tm_min % 100u, u.tm_sec % 100u);
	snprintf(c->local, sizeof(c->local), "%04u-%02u-%02uT%02u:%02u:%02u",
		 (t.tm_year + 1900) % 10000u, (t.tm_mon + 1) % 100u, t.tm_mday % 100u,
		 t.tm_hour % 100u, t.tm_min % 100u, t.tm_sec % 100u);
	off = t.tm_gmtoff / 60;
	if (!off)
		strcpy(c->zone, "Z");
	else
		snprintf(c->zone, sizeof(c->zone), "%c%02u:%02u", off < 0 ? '-' : '+',
			 (unsigned)(labs(off) / 60 % 100), (unsigned)(labs(off) % 60));
	return c;
}

/* RFC 3339 with nanoseconds (Go's RFC3339Nano: trailing zeros of the fraction dropped). */
static void rfc3339nano(char *out, size_t cap, int64_t ns, bool utc)
{
	const struct tcache *c = tc_get((time_t)(ns / 1000000000LL));
	long frac = (long)(ns % 1000000000LL);
	const char *zone = utc ? "Z" : c->zone;
	char f[12];
	size_t n = 0, fn = 0;

	if (frac) {
		f[0] = '.';
		for (int i = 9; i >= 1; i--) {
			f[i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		fn = 10;
		while (fn > 1 && f[fn - 1] == '0')
			fn--;
	}
	n = cpy(out, cap, utc ? c->utc : c->local, strlen(utc ? c->utc : c->local));
	n += cpy(out + n, cap - n, f, fn);
	cpy(out + n, cap - n, zone, strlen(zone));
}

/* ---- addresses ------------------------------------------------------------------------ */

static void client_host_port(const struct sockaddr_storage *ss, char *host, size_t hcap,
			     char *port, size_t pcap)
{
	if (ss->ss_family == AF_INET && hcap >= 16 && pcap >= 6) {
		const struct sockaddr_in *s4 = (const void *)ss;
		const unsigned char *a = (const unsigned char *)&s4->sin_addr;
		size_t n = 0;

		/* inet_ntop and printf cost more than the rest of a common line */
		for (int i = 0; i < 4; i++) {
			n += utoa(host + n, a[i]);
			host[n++] = '.';
		}
		host[n - 1] = '\0';
		utoa(port, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hcap);
		snprintf(port, pcap, "%u", ntohs(s6->sin6_port));
	} else {
		snprintf(host, hcap, "-");
		snprintf(port, pcap, "-");
	}
}

/* Go's net.SplitHostPort on the Host header; on error the whole value and port "-". */
static void split_host(const char *h, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon = strchr(h, ':');

	cpy(port, pcap, "-", 1);
	if (h[0] == '[') {
		const char *end = strchr(h, ']');

		if (end && end[1] == ':' && !strchr(end + 2, ':')) {
			cpy(host, hcap, h + 1, (size_t)(end - h - 1));
			cpy(port, pcap, end + 2, strlen(end + 2));
			return;
		}
	} else if (colon && !strchr(colon + 1, ':')) {
		cpy(host, hcap, h, (size_t)(colon - h));
		cpy(port, pcap, colon + 1, strlen(colon + 1));
		return;
	}
	cpy(host, hcap, h, strlen(h));
}

static const char *frontend_short(const char *f)
{
	return strncmp(f, "frontend-", 9) == 0 ? f + 9 : f;
}

/*
 * The frontend, backend and URL Traefik's log shows: the route's when a server was picked;
 * for a 404 without a route, those of Traefik's not-found handler ("backend not found",
 * "Traefik", the request's own URL); none otherwise (503 without servers, redirects).
 */
struct names {
	bool served;
	const char *frontend, *backend, *url;
};

static void names_of(const struct request_record *r, struct names *n)
{
	memset(n, 0, sizeof(*n));
	if (r->server_url) {
		n->served = true;
		n->frontend = frontend_short(r->frontend ? r->frontend : "");
		n->backend = r->backend ? r->backend : "";
		n->url = r->server_url;
	} else if (r->status == 404 && r->method[0] && !r->frontend) {
		n->served = true;
		n->frontend = "backend not found";
		n->backend = "Traefik";
		n->url = r->path;
	}
}

/* ---- formats -------------------------------------------------------------------------- */

size_t accesslog_format_common(char *buf, size_t cap, const struct request_record *r,
			       uint64_t count)
{
	struct line l = { buf, 0, cap > 2 ? cap - 2 : 0 };
	const struct tcache *c = tc_get((time_t)(r->start_ns / 1000000000ULL));
	char host[INET6_ADDRSTRLEN], port[8];
	struct names nm;
	bool served;

	if (cap < 3)
		return 0;
	names_of(r, &nm);
	served = nm.served;
	client_host_port(&r->client, host, sizeof(host), port, sizeof(port));
	text(&l, r->forwarded_for[0] ? r->forwarded_for : host);
	puts_(&l, " - - [");
	puts_(&l, c->clf);
	puts_(&l, "] \"");
	text(&l, r->method[0] ? r->method : "-");
	put(&l, " ", 1);
	text(&l, r->path[0] ? r->path : "-");
	put(&l, " ", 1);
	text(&l, r->proto[0] ? r->proto : "-");
	puts_(&l, "\" ");
	if (served) {
		u64(&l, (uint64_t)(r->status ? r->status : 499));
		put(&l, " ", 1);
		u64(&l, r->resp_bytes);
	} else {
		puts_(&l, "- -");
	}
	puts_(&l, " \"");
	text(&l, r->referer[0] ? r->referer : "-");
	puts_(&l, "\" \"");
	text(&l, r->user_agent[0] ? r->user_agent : "-");
	puts_(&l, "\" ");
	u64(&l, count);
	put(&l, " ", 1);
	if (served && nm.frontend[0]) {
		put(&l, "\"", 1);
		text(&l, nm.frontend);
		put(&l, "\"", 1);
	} else {
		put(&l, "-", 1);
	}
	put(&l, " ", 1);
	if (served && nm.url[0]) {
		put(&l, "\"", 1);
		text(&l, nm.url);
		put(&l, "\"", 1);
	} else {
		put(&l, "-", 1);
	}
	put(&l, " ", 1);
	u64(&l, r->duration_ns / 1000000);
	puts_(&l, "ms");
	l.p[l.n++] = '\n';
	l.p[l.n] = '\0';
	return l.n;
}

/* Go's url.URL for "scheme://host[/path][?query]" or "/path[?query]", as encoding/json
 * prints the struct. */
static void json_url(struct line *l, const char *url)
{
	char scheme[16] = "", hostport[300] = "", path[300] = "", query[300] = "";
	const char *p = strstr(url, "://"), *slash, *q;
	bool first = true;

	if (p && (size_t)(p - url) < sizeof(scheme) && url[0] != '/') {
		cpy(scheme, sizeof(scheme), url, (size_t)(p - url));
		p += 3;
		slash = strchr(p, '/');
		cpy(hostport, sizeof(hostport), p, slash ? (size_t)(slash - p) : strcspn(p, "?"));
		p = slash ? slash : p + strcspn(p, "?");
	} else {
		p = url;
	}
	q = strchr(p, '?');
	cpy(path, sizeof(path), p, q ? (size_t)(q - p) : strlen(p));
	if (q)
		cpy(query, sizeof(query), q + 1, strlen(q + 1));
	put(l, "{", 1);
	jfield_str(l, "Scheme", scheme, &first);
	jfield_str(l, "Opaque", "", &first);
	jkey(l, "User", &first);
	puts_(l, "null");
	jfield_str(l, "Host", hostport, &first);
	jfield_str(l, "Path", path, &first);
	jfield_str(l, "RawPath", "", &first);
	jkey(l, "ForceQuery", &first);
	puts_(l, "false");
	jfield_str(l, "RawQuery", query, &first);
	jfield_str(l, "Fragment", "", &first);
	jfield_str(l, "RawFragment", "", &first);
	put(l, "}", 1);
}

size_t accesslog_format_json(char *buf, size_t cap, const struct request_record *r,
			     uint64_t count, int64_t now_ns)
{
	struct line l = { buf, 0, cap > 2 ? cap - 2 : 0 };
	char host[INET6_ADDRSTRLEN], port[8], addr[INET6_ADDRSTRLEN + 10], t[64];
	char rhost[STATS_STR_MAX], rport[STATS_STR_MAX], sline[64];
	bool served, first = true;
	int status = r->status ? r->status : 499;
	const char *slash;
	struct names nm;

	if (cap < 3)
		return 0;
	names_of(r, &nm);
	served = nm.served;
	client_host_port(&r->client, host, sizeof(host), port, sizeof(port));
	{
		bool v6 = r->client.ss_family == AF_INET6;
		size_t n = 0, k;

		if (v6)
			addr[n++] = '[';
		n += cpy(addr + n, sizeof(addr) - n, host, strlen(host));
		if (v6)
			addr[n++] = ']';
		addr[n++] = ':';
		cpy(addr + n, sizeof(addr) - n, port, strlen(port));
		/* "%03d %s" */
		sline[0] = (char)('0' + status / 100 % 10);
		sline[1] = (char)('0' + status / 10 % 10);
		sline[2] = (char)('0' + status % 10);
		sline[3] = ' ';
		k = strlen(gofmt_status_text(status));
		cpy(sline + 4, sizeof(sline) - 4, gofmt_status_text(status), k);
	}
	put(&l, "{", 1);
	if (served) {
		const char *hp = nm.url[0] == '/' ? NULL : strstr(nm.url, "://");
		char baddr[300] = "";

		if (hp) {
			hp += 3;
			slash = strchr(hp, '/');
			cpy(baddr, sizeof(baddr), hp, slash ? (size_t)(slash - hp) : strlen(hp));
		}
		jfield_str(&l, "BackendAddr", baddr, &first);
		jfield_str(&l, "BackendName", nm.backend, &first);
		jkey(&l, "BackendURL", &first);
		json_url(&l, nm.url);
	}
	jfield_str(&l, "ClientAddr", addr, &first);
	jfield_str(&l, "ClientHost", r->forwarded_for[0] ? r->forwarded_for : host, &first);
	jfield_str(&l, "ClientPort", port, &first);
	jfield_str(&l, "ClientUsername", "-", &first);
	jfield_u64(&l, "DownstreamContentSize", r->resp_bytes, &first);
	jfield_u64(&l, "DownstreamStatus", (uint64_t)status, &first);
	jfield_str(&l, "DownstreamStatusLine", sline, &first);
	jfield_u64(&l, "Duration", r->duration_ns, &first);
	if (served) {
		jfield_str(&l, "FrontendName", nm.frontend, &first);
		jfield_u64(&l, "OriginContentSize", r->resp_bytes, &first);
		/* spliced does not time the backend apart: the whole request is origin time */
		jfield_u64(&l, "OriginDuration", r->duration_ns, &first);
		jfield_u64(&l, "OriginStatus", (uint64_t)status, &first);
		jfield_str(&l, "OriginStatusLine", sline, &first);
	}
	jfield_u64(&l, "Overhead", served ? 0 : r->duration_ns, &first);
	if (r->host[0]) {
		split_host(r->host, rhost, sizeof(rhost), rport, sizeof(rport));
		jfield_str(&l, "RequestAddr", r->host, &first);
	}
	jfield_u64(&l, "RequestContentSize", r->req_bytes, &first);
	jfield_u64(&l, "RequestCount", count, &first);
	if (r->host[0])
		jfield_str(&l, "RequestHost", rhost, &first);
	{
		char rl[STATS_STR_MAX * 2 + 64];

		size_t n = cpy(rl, sizeof(rl), r->method, strlen(r->method));

		rl[n++] = ' ';
		n += cpy(rl + n, sizeof(rl) - n, r->path, strlen(r->path));
		rl[n++] = ' ';
		cpy(rl + n, sizeof(rl) - n, r->proto, strlen(r->proto));
		jfield_str(&l, "RequestLine", rl, &first);
	}
	jfield_str(&l, "RequestMethod", r->method, &first);
	jfield_str(&l, "RequestPath", r->path, &first);
	if (r->host[0])
		jfield_str(&l, "RequestPort", rport, &first);
	jfield_str(&l, "RequestProtocol", r->proto, &first);
	jfield_u64(&l, "RetryAttempts", r->retried ? 1 : 0, &first);
	rfc3339nano(t, sizeof(t), (int64_t)r->start_ns, false);
	jfield_str(&l, "StartLocal", t, &first);
	rfc3339nano(t, sizeof(t), (int64_t)r->start_ns, true);
	jfield_str(&l, "StartUTC", t, &first);
	if (r->tunnel)
		jfield_str(&l, "Tunnel", r->spliced ? "spliced" : "relayed", &first);
	jfield_str(&l, "level", "info", &first);
	jfield_str(&l, "msg", "", &first);
	if (r->referer[0])
		jfield_str(&l, "request_Referer", r->referer, &first);
	if (r->user_agent[0])
		jfield_str(&l, "request_User-Agent", r->user_agent, &first);
	{
		const struct tcache *c = tc_get((time_t)(now_ns / 1000000000LL));

		size_t n = cpy(t, sizeof(t), c->local, strlen(c->local));

		cpy(t + n, sizeof(t) - n, c->zone, strlen(c->zone));
		jfield_str(&l, "time", t, &first);
	}
	if (l.n < l.cap)
		put(&l, "}", 1);
	else
		l.p[l.cap - 1] = '}';	/* cut short: still one line, still closed */
	l.p[l.n++] = '\n';
	l.p[l.n] = '\0';
	return l.n;
}

/* ---- buffers and the file ------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush_locked(struct aslot *a)
{
	size_t off = 0;

	while (off < a->len) {
		ssize_t n = write(log_fd, a->buf + off, a->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			uint64_t now = mono_ms(), last = atomic_load(&last_err_ms);

			if (now - last > 10000 && atomic_compare_exchange_strong(&last_err_ms,
										 &last, now))
				log_error("access log: write failed: %s; lines are dropped "
					  "(check --accessLog.filePath and the disk)",
					  n < 0 ? strerror(errno) : "short write");
			break;
		}
		off += (size_t)n;
	}
	a->len = 0;
}

void accesslog_write(int slot, const struct request_record *r)
{
	struct aslot *a;
	uint64_t count, now;

	if (!atomic_load_explicit(&enabled, memory_order_relaxed) || slot < 0 || slot >= nslots)
		return;
	a = &slots[slot];
	count = atomic_fetch_add_explicit(&reqcount, 1, memory_order_relaxed) + 1;
	now = mono_ms();
	pthread_mutex_lock(&a->mu);
	if (a->len > FLUSH_AT)
		flush_locked(a);
	if (!a->len)
		a->first_ms = now;
	if (json)
		a->len += accesslog_format_json(a->buf + a->len, BUF_CAP - a->len, r, count,
						(int64_t)(r->start_ns + r->duration_ns));
	else
		a->len += accesslog_format_common(a->buf + a->len, BUF_CAP - a->len, r, count);
	if (a->len > FLUSH_AT || now - a->first_ms >= FLUSH_AGE_MS)
		flush_locked(a);
	pthread_mutex_unlock(&a->mu);
}

void accesslog_flush(bool force)
{
	uint64_t now = mono_ms();

	for (int i = 0; i < nslots; i++) {
		struct aslot *a = &slots[i];

		if (force)
			pthread_mutex_lock(&a->mu);
		else if (pthread_mutex_trylock(&a->mu))
			continue;	/* its worker is writing: it flushes itself */
		if (a->len && (force || now - a->first_ms >= FLUSH_AGE_MS))
			flush_locked(a);
		pthread_mutex_unlock(&a->mu);
	}
}

bool accesslog_enabled(void)
{
	return atomic_load_explicit(&enabled, memory_order_relaxed);
}

/* mkdir -p of path's parent directory (Traefik creates it too). */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

int accesslog_open(const struct config *cfg, int n, char *err, size_t errlen)
{
	int rc;

	if (!cfg->access_log)
		return 0;
	json = strcmp(cfg->access_log_format, "json") == 0;
	if (cfg->access_log_path[0]) {
		rc = make_parent(cfg->access_log_path);
		if (!rc) {
			log_fd = open(cfg->access_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				      0664);
			rc = log_fd < 0 ? -errno : 0;
		}
		if (rc) {
			snprintf(err, errlen, "--accessLog.filePath: cannot open %s: %s",
				 cfg->access_log_path, strerror(-rc));
			return rc;
		}
		own_fd = true;
		snprintf(log_path, sizeof(log_path), "%s", cfg->access_log_path);
	} else {
		log_fd = 1;
		own_fd = false;
	}
	slots = calloc((size_t)n, sizeof(*slots));
	if (!slots)
		goto oom;
	nslots = n;
	for (int i = 0; i < n; i++) {
		pthread_mutex_init(&slots[i].mu, NULL);
		slots[i].buf = malloc(BUF_CAP);
		if (!slots[i].buf)
			goto oom;
	}
	atomic_store(&enabled, true);
	return 0;
oom:
	snprintf(err, errlen, "access log: out of memory");
	accesslog_close();
	return -ENOMEM;
}

int accesslog_reopen(void)
{
	int fd, rc = 0;

	if (!accesslog_enabled() || !own_fd)
		return 0;
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0664);
	if (fd < 0) {
		rc = -errno;
		log_error("access log: cannot reopen %s: %s; still writing to the old file",
			  log_path, strerror(errno));
		return rc;
	}
	accesslog_flush(true);
	/* dup3 swaps the file under the same descriptor: writers never see a closed fd */
	if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
		rc = -errno;
		log_error("access log: cannot reopen %s: %s", log_path, strerror(errno));
	}
	close(fd);
	return rc;
}

void accesslog_close(void)
{
	if (slots && atomic_load(&enabled))
		accesslog_flush(true);
	atomic_store(&enabled, false);
	for (int i = 0; slots && i < nslots; i++) {
		pthread_mutex_destroy(&slots[i].mu);
		free(slots[i].buf);
	}
	free(slots);
	slots = NULL;
	nslots = 0;
	if (own_fd && log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	own_fd = false;
}
