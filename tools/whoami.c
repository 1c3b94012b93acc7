// SPDX-License-Identifier: MIT
/*
 * whoami: the HTTP/1.1 test backend of the integration tests, the demo and the benchmark.
 *
 * GET / answers like the traefik/whoami image; /data, /echo, /sink, /bench, /health and
 * Upgrade echo exist to exercise a proxy's streaming, framing and tunnel paths. One
 * edge-triggered epoll loop per thread, all threads sharing one listening socket through
 * EPOLLEXCLUSIVE. Each connection is a state machine that conn_drive() runs (read, process,
 * write) until no step makes progress, so partial I/O, pipelining and back-pressure are not
 * special cases. It has its own small parser on purpose: a backend sharing the proxy's parser
 * would hide the proxy's parsing bugs. Global mutable state: the /health status code only.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gofmt.h"
#include "log.h"

#define RBUF_SIZE	(64 * 1024)	/* whole request head must fit: larger heads get 431 */
#define OBUF_MAX	(1024 * 1024)	/* cap of the per-connection output buffer */
#define ECHO_HIGH	(256 * 1024)	/* stop copying echo bytes while this much is unsent */
#define DATA_BLOCK	(1024 * 1024)	/* /data repeats a 1 MiB block per seed ... */
#define DATA_STAMP	8		/* ... whose first 8 bytes are replaced per block index */
#define DATA_MAX	(64ULL << 30)
#define DATA_CACHE	4		/* seed blocks cached per thread */
#define WAIT_MAX_NS	(3600ULL * 1000000000ULL)
#define LINGER_MS	2000		/* after Connection: close, drain the peer this long */
#define LINE_MAX_BODY	4096		/* chunk-size and trailer lines */
#define MAX_THREADS	64

static _Atomic int health_status = 200;	/* set by POST /health, read by GET /health */

/* Read-only after start-up. */
static const char *opt_name = "";
static char host_name[256];

struct span {
	const char *p;
	size_t n;
};

/* ---------------------------------------------------------------- growable byte buffer */

struct sbuf {
	char *p;
	size_t len, cap;
};

/* Make room for n more bytes, up to OBUF_MAX in total. 0 or -ENOMEM. */
static int sb_reserve(struct sbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + n <= b->cap)
		return 0;
	if (b->len + n > OBUF_MAX)
		return -ENOMEM;
	while (cap < b->len + n)
		cap *= 2;
	if (cap > OBUF_MAX)
		cap = OBUF_MAX;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (sb_reserve(b, n))
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static int sb_puts(struct sbuf *b, const char *s)
{
	return sb_put(b, s, strlen(s));
}

static int sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_reserve(b, (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* ---------------------------------------------------------------- /data byte stream */

/*
 * Byte i of the stream for seed S: block(S)[i % 1 MiB], where block(S) is splitmix64 output
 * seeded with S (8 bytes little-endian per step), except that the first 8 bytes of every
 * block k are stamp(S, k), so a proxy that reorders, drops or repeats whole blocks changes
 * the checksum. Sending is writev() from the precomputed block: no per-byte work.
 */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t data_stamp(uint64_t seed, uint64_t k)
{
	uint64_t x = seed ^ (k * 0xd1342543de82ef95ULL) ^ 0xa0761d6478bd642fULL;

	return htole64(splitmix64(&x));
}

struct data_block {
	uint64_t seed;
	unsigned int refs;
	bool cached;
	unsigned char *bytes;
};

static void data_block_fill(struct data_block *b, uint64_t seed)
{
	uint64_t x = seed, v;

	for (size_t i = 0; i < DATA_BLOCK; i += 8) {
		v = htole64(splitmix64(&x));
		memcpy(b->bytes + i, &v, 8);
	}
	b->seed = seed;
}

struct data_src {
	struct data_block *blk;
	uint64_t off, len;	/* next data byte to send, total */
	uint64_t frame_sent;	/* bytes of the current frame (framing included) already sent */
	bool chunked;
	uint64_t stamp;
	char chdr[24];
};

/*
 * The iovecs of the frame that starts at d->off, minus its first d->frame_sent bytes.
 * A frame is the data up to the end of the current block, with chunk framing around it
 * when chunked (the last frame carries the terminating 0-chunk). Sets *data to the data
 * bytes of the whole frame and *total to its full length. Returns the iovec count (<= 4).
 */
static int data_frame(struct data_src *d, struct iovec *out, uint64_t *data, uint64_t *total)
{
	static const char crlf[] = "\r\n", last[] = "\r\n0\r\n\r\n";
	uint64_t k = d->off / DATA_BLOCK, r = d->off % DATA_BLOCK;
	uint64_t n = d->len - d->off, skip = d->frame_sent;
	struct iovec iov[4];
	int cnt = 0, o = 0;

	if (n > DATA_BLOCK - r)
		n = DATA_BLOCK - r;
	if (d->chunked && n) {
		int h = snprintf(d->chdr, sizeof(d->chdr), "%" PRIx64 "\r\n", n);

		iov[cnt++] = (struct iovec){ d->chdr, (size_t)h };
	}
	if (n && r < DATA_STAMP) {
		uint64_t s = DATA_STAMP - r < n ? DATA_STAMP - r : n;

		d->stamp = data_stamp(d->blk->seed, k);
		iov[cnt++] = (struct iovec){ (char *)&d->stamp + r, s };
		if (n > s)
			iov[cnt++] = (struct iovec){ d->blk->bytes + DATA_STAMP, n - s };
	} else if (n) {
		iov[cnt++] = (struct iovec){ d->blk->bytes + r, n };
	}
	if (d->chunked) {
		if (d->off + n == d->len)
			iov[cnt++] = n ? (struct iovec){ (char *)last, 7 }
				       : (struct iovec){ (char *)last + 2, 5 };
		else
			iov[cnt++] = (struct iovec){ (char *)crlf, 2 };
	}
	*data = n;
	*total = 0;
	for (int i = 0; i < cnt; i++)
		*total += iov[i].iov_len;
	for (int i = 0; i < cnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[o].iov_base = (char *)iov[i].iov_base + skip;
		out[o].iov_len = iov[i].iov_len - skip;
		skip = 0;
		o++;
	}
	return o;
}

/* Account for sent bytes of the current frame. Returns true when the stream is complete. */
static bool data_advance(struct data_src *d, uint64_t sent, uint64_t data, uint64_t total)
{
	d->frame_sent += sent;
	if (d->frame_sent < total)
		return false;
	d->frame_sent = 0;
	d->off += data;
	return d->off == d->len;
}

/* ---------------------------------------------------------------- worker and connection */

enum ev_kind {
	EV_LISTEN,
	EV_CONN,
	EV_TIMER,
};

struct ev_src {
	enum ev_kind kind;
	struct conn *c;
};

struct worker {
	int ep, lfd, spare_fd;
	pthread_t thread;
	struct ev_src listen_src;
	struct conn *dead;			/* closed in this batch, freed after it */
	struct data_block *cache[DATA_CACHE];
	unsigned int cache_next;
	struct sbuf ips;			/* "IP: a\n" lines, refreshed at most once a second */
	time_t ips_at;
	struct sbuf scratch;			/* whoami body under construction */
	time_t emfile_logged;
};

enum conn_state {
	CONN_ST_HEAD,		/* waiting for a complete request head */
	CONN_ST_REQ,		/* reading a body and/or sending a response */
	CONN_ST_TUNNEL,		/* after 101: raw echo */
	CONN_ST_LINGER,		/* output shut down, discarding input until EOF or timeout */
};

enum body_mode {
	BODY_NONE,
	BODY_LENGTH,
	BODY_CHUNKED,
};

enum chunk_state {
	CHUNK_SIZE,
	CHUNK_DATA,
	CHUNK_DATA_END,
	CHUNK_TRAILER,
};

enum body_use {
	USE_DISCARD,
	USE_ECHO,
	USE_SINK,
	USE_HEALTH,
};

/* Everything about the request in progress; zeroed between requests. */
struct req_state {
	size_t scan;			/* head-end search resumes here (relative to rpos) */
	int minor;			/* HTTP/1.<minor> */
	bool is_head, close_after, held, body_done, late, echo_open, echo_chunked, data_active;
	enum body_mode body;
	enum chunk_state chunk;
	enum body_use use;
	uint64_t body_left;		/* of the Content-Length body or of the current chunk */
	uint64_t body_count;
	char health[32];
	size_t health_len;
	struct data_src data;
};

struct conn {
	struct ev_src io, tm;
	struct worker *w;
	struct conn *next_dead;
	int fd, tfd;
	bool rd_eof, dead;
	enum conn_state st;
	char remote[INET6_ADDRSTRLEN + 8];
	struct sbuf out;
	size_t opos, hold_off;		/* sent so far; while held, only bytes before hold_off go */
	struct req_state r;
	size_t rpos, rlen;
	unsigned char rbuf[RBUF_SIZE];
};

static struct data_block *data_block_new(void)
{
	struct data_block *b = calloc(1, sizeof(*b));

	if (b && !(b->bytes = malloc(DATA_BLOCK))) {
		free(b);
		b = NULL;
	}
	return b;
}

static struct data_block *data_block_get(struct worker *w, uint64_t seed)
{
	struct data_block *b;
	unsigned int i;

	for (i = 0; i < DATA_CACHE; i++) {
		b = w->cache[i];
		if (b && b->seed == seed) {
			b->refs++;
			return b;
		}
	}
	/* Reuse an idle cache slot, round robin; if all are streaming, use a private block. */
	for (i = 0; i < DATA_CACHE; i++) {
		unsigned int slot = (w->cache_next + i) % DATA_CACHE;

		b = w->cache[slot];
		if (!b) {
			if (!(b = data_block_new()))
				return NULL;
			b->cached = true;
			w->cache[slot] = b;
		} else if (b->refs) {
			continue;
		}
		w->cache_next = slot + 1;
		data_block_fill(b, seed);
		b->refs = 1;
		return b;
	}
	if (!(b = data_block_new()))
		return NULL;
	data_block_fill(b, seed);
	b->refs = 1;
	return b;
}

static void data_block_put(struct data_block *b)
{
	if (!b || --b->refs || b->cached)
		return;
	free(b->bytes);
	free(b);
}

static void conn_close(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	close(c->fd);
	if (c->tfd >= 0)
		close(c->tfd);
	data_block_put(c->r.data.blk);
	c->r.data.blk = NULL;
	free(c->out.p);
	c->next_dead = c->w->dead;
	c->w->dead = c;
}

/* Arm the connection's timer (created on first use) to fire once after ns. 0 or -errno. */
static int conn_timer_arm(struct conn *c, uint64_t ns)
{
	struct itimerspec its = { 0 };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->tm };

	if (c->tfd < 0) {
		c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (c->tfd == -1)
			return -errno;
		if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->tfd, &ev) == -1) {
			int err = -errno;

			close(c->tfd);
			c->tfd = -1;
			return err;
		}
	}
	if (!ns)
		ns = 1;		/* 0 would disarm */
	its.it_value.tv_sec = ns / 1000000000ULL;
	its.it_value.tv_nsec = ns % 1000000000ULL;
	if (timerfd_settime(c->tfd, 0, &its, NULL) == -1)
		return -errno;
	return 0;
}

/* ---------------------------------------------------------------- small parsers */

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static bool is_tchar(unsigned char ch)
{
	return ch && (isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parse a decimal byte count with an optional k/m/g (KiB/MiB/GiB) suffix, at most max. */
static int parse_size(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	size_t i;

	if (n && strchr("kKmMgG", s[n - 1])) {
		mul = tolower((unsigned char)s[n - 1]) == 'k' ? 1ULL << 10 :
		      tolower((unsigned char)s[n - 1]) == 'm' ? 1ULL << 20 : 1ULL << 30;
		n--;
	}
	if (!n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Go's time.ParseDuration subset: ("1.5s", "100ms", "1m30s", "0"), no sign. -> ns, capped. */
static int parse_duration(const char *s, size_t n, uint64_t *ns)
{
	static const struct { const char *u; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000ULL }, { "m", 60000000000ULL }, { "h", 3600000000000ULL },
	};
	uint64_t total = 0;
	size_t i = 0;

	if (n == 1 && s[0] == '0') {
		*ns = 0;
		return 0;
	}
	if (!n)
		return -EINVAL;
	while (i < n) {
		uint64_t ip = 0, fp = 0, scale = 1, unit = 0;
		size_t start = i, ulen;
		bool digits = false;

		while (i < n && isdigit((unsigned char)s[i])) {
			if (ip > WAIT_MAX_NS)
				return -ERANGE;
			ip = ip * 10 + (uint64_t)(s[i++] - '0');
			digits = true;
		}
		if (i < n && s[i] == '.') {
			i++;
			while (i < n && isdigit((unsigned char)s[i])) {
				if (scale < 1000000000ULL) {
					fp = fp * 10 + (uint64_t)(s[i] - '0');
					scale *= 10;
				}
				i++;
				digits = true;
			}
		}
		if (!digits || i == start)
			return -EINVAL;
		for (ulen = 0; i + ulen < n && isalpha((unsigned char)s[i + ulen]); ulen++)
			;
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (ulen == strlen(units[u].u) && !memcmp(s + i, units[u].u, ulen))
				unit = units[u].ns;
		if (!unit)
			return -EINVAL;
		i += ulen;
		if (ip > WAIT_MAX_NS / unit)
			return -ERANGE;
		total += ip * unit + fp * unit / scale;
		if (total > WAIT_MAX_NS)
			return -ERANGE;
	}
	*ns = total;
	return 0;
}

/* Is tok one of the comma-separated tokens of a list value (case-insensitive)? */
static bool list_has(struct span v, const char *tok)
{
	const char *p = v.p, *end = v.p + v.n;

	while (p < end) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		struct span t;

		if (!e)
			e = end;
		t.p = p;
		t.n = (size_t)(e - p);
		while (t.n && (*t.p == ' ' || *t.p == '\t')) {
			t.p++;
			t.n--;
		}
		while (t.n && (t.p[t.n - 1] == ' ' || t.p[t.n - 1] == '\t'))
			t.n--;
		if (span_ieq(t, tok))
			return true;
		p = e + 1;
	}
	return false;
}

/*
 * Next field line of a head. *p walks [*p, end); the head's empty line ends the walk.
 * Returns 1 with name and value (OWS trimmed), 0 at the end, -1 for a malformed line
 * (obs-fold, no colon, space before the colon, bad name byte, NUL or lone CR in the value).
 */
static int head_next(const char **p, const char *end, struct span *name, struct span *val)
{
	const char *s = *p, *eol, *le, *colon, *q;

	if (s >= end)
		return 0;
	eol = memchr(s, '\n', (size_t)(end - s));
	if (!eol)
		return -1;
	le = eol;
	if (le > s && le[-1] == '\r')
		le--;
	if (le == s)
		return 0;
	colon = memchr(s, ':', (size_t)(le - s));
	if (!colon || colon == s)
		return -1;
	for (q = s; q < colon; q++)
		if (!is_tchar((unsigned char)*q))
			return -1;
	name->p = s;
	name->n = (size_t)(colon - s);
	q = colon + 1;
	while (q < le && (*q == ' ' || *q == '\t'))
		q++;
	while (le > q && (le[-1] == ' ' || le[-1] == '\t'))
		le--;
	for (const char *x = q; x < le; x++)
		if (*x == '\0' || *x == '\r')
			return -1;
	val->p = q;
	val->n = (size_t)(le - q);
	*p = eol + 1;
	return 1;
}

/* ---------------------------------------------------------------- responses */

/* Go's texts (gofmt.c); a code Go does not name gets its class. */
static const char *reason(int status)
{
	const char *t = gofmt_status_text(status);

	if (*t)
		return t;
	return status < 300 ? "OK" : status < 400 ? "Redirect" :
	       status < 500 ? "Client Error" : "Server Error";
}

#define CLEN_CHUNKED	(-1)
#define CLEN_NONE	(-2)	/* close-delimited body */

/* Append a response head. clen >= 0 is a Content-Length; see CLEN_* for the others. */
static int put_head(struct conn *c, int status, const char *ctype, int64_t clen)
{
	char buf[256];
	int n;

	if (clen == CLEN_NONE)
		c->r.close_after = true;
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n", status, reason(status));
	if (ctype)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Content-Type: %s\r\n", ctype);
	if (clen >= 0)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Content-Length: %" PRId64 "\r\n",
			      clen);
	else if (clen == CLEN_CHUNKED)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Transfer-Encoding: chunked\r\n");
	if (c->r.close_after)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Connection: close\r\n");
	else if (c->r.minor == 0)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Connection: keep-alive\r\n");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	return sb_put(&c->out, buf, (size_t)n);
}

/* A complete text response; the body is left out for HEAD. */
static int put_text(struct conn *c, int status, const char *body, size_t len)
{
	if (put_head(c, status, "text/plain; charset=utf-8", (int64_t)len))
		return -ENOMEM;
	if (c->r.is_head)
		return 0;
	return sb_put(&c->out, body, len);
}

/*
 * Answer an invalid request and close afterwards: nothing more is read as a body, the
 * connection lingers (discarding input) once the answer is out.
 */
static int req_fail(struct conn *c, int status, const char *why)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%s\n", why);

	c->st = CONN_ST_REQ;
	c->r.close_after = true;
	c->r.body = BODY_NONE;
	c->r.body_done = true;
	c->r.late = c->r.echo_open = c->r.data_active = c->r.held = false;
	c->r.is_head = false;
	return put_text(c, status, body, (size_t)n);
}

static const char *worker_ips(struct worker *w)
{
	struct ifaddrs *ifa, *i;
	struct timespec now;
	char addr[INET6_ADDRSTRLEN];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->ips.p && now.tv_sec == w->ips_at)
		return w->ips.p;
	w->ips.len = 0;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i; i = i->ifa_next) {
			const void *a;

			if (!i->ifa_addr)
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				a = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			else if (i->ifa_addr->sa_family == AF_INET6)
				a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			else
				continue;
			if (inet_ntop(i->ifa_addr->sa_family, a, addr, sizeof(addr)))
				sb_printf(&w->ips, "IP: %s\n", addr);
		}
		freeifaddrs(ifa);
	}
	if (sb_put(&w->ips, "", 1))	/* NUL */
		return "";
	w->ips.len--;
	w->ips_at = now.tv_sec;
	return w->ips.p;
}

/* The whoami text: identity lines, then the request line and fields as received. */
static int put_whoami(struct conn *c, struct span method, struct span target, const char *fields,
		      const char *head_end)
{
	struct sbuf *b = &c->w->scratch;
	struct span name, val;
	const char *p;

	b->len = 0;
	if (*opt_name)
		sb_printf(b, "Name: %s\n", opt_name);
	sb_printf(b, "Hostname: %s\n", host_name);
	sb_puts(b, worker_ips(c->w));
	sb_printf(b, "RemoteAddr: %s\n", c->remote);
	sb_put(b, method.p, method.n);
	sb_puts(b, " ");
	sb_put(b, target.p, target.n);
	sb_printf(b, " HTTP/1.%d\r\n", c->r.minor);
	for (p = fields; head_next(&p, head_end, &name, &val) == 1;) {
		if (span_ieq(name, "host")) {
			sb_puts(b, "Host: ");
			sb_put(b, val.p, val.n);
			sb_puts(b, "\r\n");
		}
	}
	for (p = fields; head_next(&p, head_end, &name, &val) == 1;) {
		if (span_ieq(name, "host"))
			continue;
		sb_put(b, name.p, name.n);
		sb_puts(b, ": ");
		sb_put(b, val.p, val.n);
		sb_puts(b, "\r\n");
	}
	if (sb_puts(b, "\r\n"))
		return -ENOMEM;
	return put_text(c, 200, b->p, b->len);
}

/* Responses that need the whole body first: /sink and POST /health. */
static int put_late(struct conn *c)
{
	char body[64];
	uint64_t code = 0;
	int n;

	c->r.late = false;
	if (c->r.use == USE_SINK) {
		n = snprintf(body, sizeof(body), "%" PRIu64 "\n", c->r.body_count);
		return put_text(c, 200, body, (size_t)n);
	}
	/* POST /health: the body is a JSON integer, a status code 200..599. */
	{
		struct span v = { c->r.health, c->r.health_len };

		while (v.n && isspace((unsigned char)*v.p)) {
			v.p++;
			v.n--;
		}
		while (v.n && isspace((unsigned char)v.p[v.n - 1]))
			v.n--;
		if (c->r.body_count > sizeof(c->r.health) || parse_u64(v.p, v.n, &code) ||
		    code < 200 || code > 599) {
			n = snprintf(body, sizeof(body),
				     "health: body must be a status code 200..599\n");
			return put_text(c, 400, body, (size_t)n);
		}
	}
	atomic_store(&health_status, (int)code);
	return put_text(c, 200, "", 0);
}

/* ---------------------------------------------------------------- request head */

struct query {
	uint64_t size, seed, wait_ns;
	bool has_size, has_wait, chunked, close;
	const char *err;
};

static void query_parse(struct span q, struct query *out)
{
	const char *p = q.p, *end = q.p + q.n;

	while (p < end) {
		const char *e = memchr(p, '&', (size_t)(end - p)), *eq;
		struct span k, v = { "", 0 };

		if (!e)
			e = end;
		eq = memchr(p, '=', (size_t)(e - p));
		k.p = p;
		k.n = (size_t)((eq ? eq : e) - p);
		if (eq) {
			v.p = eq + 1;
			v.n = (size_t)(e - eq - 1);
		}
		if (span_eq(k, "size")) {
			if (parse_size(v.p, v.n, DATA_MAX, &out->size))
				out->err = "size: want a byte count up to 64g (suffix k, m, g)";
			out->has_size = true;
		} else if (span_eq(k, "seed")) {
			if (parse_u64(v.p, v.n, &out->seed))
				out->err = "seed: want a decimal integer below 2^64";
		} else if (span_eq(k, "chunked")) {
			out->chunked = !span_eq(v, "0") && !span_eq(v, "false");
		} else if (span_eq(k, "close")) {
			out->close = !span_eq(v, "0") && !span_eq(v, "false");
		} else if (span_eq(k, "wait")) {
			if (parse_duration(v.p, v.n, &out->wait_ns))
				out->err = "wait: want a Go duration up to 1h, e.g. 100ms or 2s";
			out->has_wait = true;
		}
		p = e + 1;
	}
}

/* Route a parsed head and queue the response. 0 or -ENOMEM. */
static int req_route(struct conn *c, struct span method, struct span target, const char *fields,
		     const char *head_end, bool expect100)
{
	struct span path = target, qs = { "", 0 };
	struct query q = { 0 };
	const char *qm;
	int err = 0;

	/* absolute-form: keep the path only */
	if (path.n > 7 && !strncasecmp(path.p, "http://", 7)) {
		const char *slash = memchr(path.p + 7, '/', path.n - 7);

		path.n = slash ? path.n - (size_t)(slash - path.p) : 0;
		path.p = slash ? slash : "/";
		if (!path.n)
			path.n = 1;
	}
	qm = memchr(path.p, '?', path.n);
	if (qm) {
		qs.p = qm + 1;
		qs.n = path.n - (size_t)(qm - path.p) - 1;
		path.n = (size_t)(qm - path.p);
	}
	query_parse(qs, &q);
	if (q.err)
		return req_fail(c, 400, q.err);
	if (q.close)
		c->r.close_after = true;
	if (span_eq(path, "/data") && !q.has_size)
		return req_fail(c, 400, "data: size=N is required (bytes, suffix k, m, g)");
	if (expect100 && c->r.body != BODY_NONE && c->r.minor == 1)
		err |= sb_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	c->hold_off = c->out.len;
	if (q.has_wait && q.wait_ns) {
		if (conn_timer_arm(c, q.wait_ns))
			return -ENOMEM;
		c->r.held = true;
	}

	if (span_eq(path, "/bench")) {
		err |= put_text(c, 200, "1", 1);
	} else if (span_eq(path, "/health")) {
		if (span_eq(method, "POST") || span_eq(method, "PUT")) {
			c->r.use = USE_HEALTH;
			c->r.late = true;
		} else {
			int st = atomic_load(&health_status);
			const char *body = st < 300 ? "OK\n" : reason(st);

			err |= put_text(c, st, body, strlen(body));
		}
	} else if (span_eq(path, "/data")) {
		bool chunked = q.chunked && c->r.minor == 1;

		err |= put_head(c, 200, "application/octet-stream",
				chunked ? CLEN_CHUNKED : (int64_t)q.size);
		if (!c->r.is_head && (q.size || chunked)) {
			c->r.data.blk = data_block_get(c->w, q.seed);
			if (!c->r.data.blk)
				return -ENOMEM;
			c->r.data.len = q.size;
			c->r.data.chunked = chunked;
			c->r.data_active = true;
		}
	} else if (span_eq(path, "/echo")) {
		int64_t clen = 0;

		if (c->r.body == BODY_LENGTH)
			clen = (int64_t)c->r.body_left;
		else if (c->r.body == BODY_CHUNKED)
			clen = c->r.minor == 1 ? CLEN_CHUNKED : CLEN_NONE;
		if (c->r.is_head)
			clen = 0;
		err |= put_head(c, 200, "application/octet-stream", clen);
		if (!c->r.is_head) {
			c->r.use = USE_ECHO;
			c->r.echo_open = true;
			c->r.echo_chunked = clen == CLEN_CHUNKED;
		}
	} else if (span_eq(path, "/sink")) {
		c->r.use = USE_SINK;
		c->r.late = true;
	} else {
		err |= put_whoami(c, method, target, fields, head_end);
	}
	return err ? -ENOMEM : 0;
}

/*
 * Parse the request head at rpos if complete and set up its response.
 * Returns 1 when a request was taken (or answered with an error), 0 when more bytes are
 * needed, -1 when the connection must be dropped.
 */
static int conn_parse_head(struct conn *c)
{
	unsigned char *base;
	size_t avail, i, end = 0;
	struct span method, target, name, val, upgrade = { NULL, 0 };
	const char *p, *sp1, *sp2, *eol, *he, *fields;
	bool conn_close = false, conn_keep = false, conn_upgrade = false, expect100 = false;
	bool have_cl = false, have_te = false;
	uint64_t clen = 0;
	int rc;

	/* RFC 9112 2.2: ignore empty lines before the request line */
	while (c->rpos < c->rlen && (c->rbuf[c->rpos] == '\r' || c->rbuf[c->rpos] == '\n')) {
		c->rpos++;
		c->r.scan = 0;
	}
	base = c->rbuf + c->rpos;
	avail = c->rlen - c->rpos;
	for (i = c->r.scan;;) {
		unsigned char *nl = i < avail ? memchr(base + i, '\n', avail - i) : NULL;
		size_t j;

		if (!nl) {
			c->r.scan = avail;
			break;
		}
		j = (size_t)(nl - base);
		if (j + 1 < avail && base[j + 1] == '\n') {
			end = j + 2;
			break;
		}
		if (j + 2 < avail && base[j + 1] == '\r' && base[j + 2] == '\n') {
			end = j + 3;
			break;
		}
		if (j + 1 >= avail || (base[j + 1] == '\r' && j + 2 >= avail)) {
			c->r.scan = j;
			break;
		}
		i = j + 1;
	}
	if (!end) {
		if (avail >= RBUF_SIZE)
			return req_fail(c, 431, "request head larger than 64 KiB") ? -1 : 1;
		return 0;
	}

	/* request line: method SP target SP HTTP/1.x */
	p = (const char *)base;
	he = p + end;
	eol = memchr(p, '\n', end);
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	c->st = CONN_ST_REQ;
	if (!sp1 || !sp2 || sp1 == p || sp2 == sp1 + 1)
		goto bad_line;
	method.p = p;
	method.n = (size_t)(sp1 - p);
	for (i = 0; i < method.n; i++)
		if (!is_tchar((unsigned char)method.p[i]))
			goto bad_line;
	target.p = sp1 + 1;
	target.n = (size_t)(sp2 - sp1 - 1);
	for (i = 0; i < target.n; i++)
		if ((unsigned char)target.p[i] <= ' ' || target.p[i] == 0x7f)
			goto bad_line;
	{
		struct span ver = { sp2 + 1, (size_t)(eol - sp2 - 1) };

		if (ver.n && ver.p[ver.n - 1] == '\r')
			ver.n--;
		if (span_eq(ver, "HTTP/1.1"))
			c->r.minor = 1;
		else if (span_eq(ver, "HTTP/1.0"))
			c->r.minor = 0;
		else if (ver.n == 8 && !memcmp(ver.p, "HTTP/", 5))
			return req_fail(c, 505, "only HTTP/1.0 and HTTP/1.1") ? -1 : 1;
		else
			goto bad_line;
	}
	c->r.is_head = span_eq(method, "HEAD");

	fields = eol + 1;
	for (p = fields; (rc = head_next(&p, he, &name, &val)) == 1;) {
		if (span_ieq(name, "content-length")) {
			uint64_t v;

			if (parse_u64(val.p, val.n, &v) || (have_cl && v != clen))
				return req_fail(c, 400, "bad or conflicting Content-Length") ? -1 : 1;
			have_cl = true;
			clen = v;
		} else if (span_ieq(name, "transfer-encoding")) {
			if (!span_ieq(val, "chunked") || have_te)
				return req_fail(c, 501, "only Transfer-Encoding: chunked") ? -1 : 1;
			have_te = true;
		} else if (span_ieq(name, "connection")) {
			conn_close |= list_has(val, "close");
			conn_keep |= list_has(val, "keep-alive");
			conn_upgrade |= list_has(val, "upgrade");
		} else if (span_ieq(name, "upgrade")) {
			upgrade = val;
		} else if (span_ieq(name, "expect")) {
			expect100 = span_ieq(val, "100-continue");
		}
	}
	if (rc < 0)
		return req_fail(c, 400, "malformed header field line") ? -1 : 1;
	if (have_cl && have_te)
		return req_fail(c, 400, "both Content-Length and Transfer-Encoding") ? -1 : 1;

	c->r.close_after = conn_close || (c->r.minor == 0 && !conn_keep);
	if (have_te) {
		c->r.body = BODY_CHUNKED;
		c->r.chunk = CHUNK_SIZE;
	} else if (have_cl && clen) {
		c->r.body = BODY_LENGTH;
		c->r.body_left = clen;
	} else {
		c->r.body_done = true;
	}

	if (conn_upgrade && upgrade.n && !span_ieq(upgrade, "h2c")) {
		if (c->r.body != BODY_NONE)
			return req_fail(c, 400, "upgrade request with a body") ? -1 : 1;
		if (sb_puts(&c->out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				     "Upgrade: ") ||
		    sb_put(&c->out, upgrade.p, upgrade.n) || sb_puts(&c->out, "\r\n\r\n"))
			return -1;
		c->rpos += end;
		c->st = CONN_ST_TUNNEL;
		return 1;
	}

	rc = req_route(c, method, target, fields, he, expect100);
	if (rc)
		return -1;
	c->rpos += end;		/* the head is no longer needed once the response is queued */
	return 1;

bad_line:
	return req_fail(c, 400, "malformed request line") ? -1 : 1;
}

/* ---------------------------------------------------------------- request body */

/* Hand n body bytes at rbuf[rpos] to the request's consumer and consume them. 0 or -1. */
static int body_take(struct conn *c, size_t n)
{
	const unsigned char *p = c->rbuf + c->rpos;

	switch (c->r.use) {
	case USE_ECHO:
		if (c->r.echo_chunked) {
			if (sb_printf(&c->out, "%zx\r\n", n) || sb_put(&c->out, p, n) ||
			    sb_put(&c->out, "\r\n", 2))
				return -1;
		} else if (sb_put(&c->out, p, n)) {
			return -1;
		}
		break;
	case USE_HEALTH:
		if (c->r.health_len < sizeof(c->r.health)) {
			size_t k = sizeof(c->r.health) - c->r.health_len;

			k = k < n ? k : n;
			memcpy(c->r.health + c->r.health_len, p, k);
			c->r.health_len += k;
		}
		break;
	case USE_SINK:
	case USE_DISCARD:
		break;
	}
	c->r.body_count += n;
	c->rpos += n;
	return 0;
}

/* Bytes the consumer accepts now: echo stops while too much output is unsent. */
static size_t body_room(struct conn *c, size_t want)
{
	size_t pending = c->out.len - c->opos;

	if (c->r.use != USE_ECHO)
		return want;
	if (c->r.held || pending >= ECHO_HIGH)
		return 0;
	return want < ECHO_HIGH - pending ? want : ECHO_HIGH - pending;
}

/* Find a line end in the buffered input; returns its length with the LF, 0 if none yet. */
static size_t line_len(struct conn *c)
{
	unsigned char *nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);

	return nl ? (size_t)(nl - (c->rbuf + c->rpos)) + 1 : 0;
}

/* Consume as much buffered body as the consumer takes. 1 progress, 0 none, -1 drop. */
static int body_step(struct conn *c)
{
	int progress = 0;

	while (!c->r.body_done) {
		size_t avail = c->rlen - c->rpos, n, l;

		if (c->r.body == BODY_LENGTH || (c->r.body == BODY_CHUNKED &&
						 c->r.chunk == CHUNK_DATA)) {
			n = avail < c->r.body_left ? avail : (size_t)c->r.body_left;
			n = body_room(c, n);
			if (!n)
				break;
			if (body_take(c, n))
				return -1;
			c->r.body_left -= n;
			progress = 1;
			if (!c->r.body_left) {
				if (c->r.body == BODY_LENGTH)
					c->r.body_done = true;
				else
					c->r.chunk = CHUNK_DATA_END;
			}
			continue;
		}
		/* chunked framing lines */
		l = line_len(c);
		if (!l) {
			if (avail > LINE_MAX_BODY)
				return -1;
			break;
		}
		if (l > LINE_MAX_BODY)
			return -1;
		switch (c->r.chunk) {
		case CHUNK_SIZE: {
			const unsigned char *s = c->rbuf + c->rpos;
			uint64_t v = 0;
			size_t i = 0;

			while (i < l && isxdigit(s[i])) {
				if (i >= 15)
					return -1;
				v = v * 16 + (uint64_t)(isdigit(s[i]) ? s[i] - '0' :
							tolower(s[i]) - 'a' + 10);
				i++;
			}
			if (!i || (s[i] != ';' && s[i] != '\r' && s[i] != '\n' && s[i] != ' ' &&
				   s[i] != '\t'))
				return -1;
			c->rpos += l;
			if (v) {
				c->r.chunk = CHUNK_DATA;
				c->r.body_left = v;
			} else {
				c->r.chunk = CHUNK_TRAILER;
			}
			break;
		}
		case CHUNK_DATA_END:
			if (!(l == 1 || (l == 2 && c->rbuf[c->rpos] == '\r')))
				return -1;
			c->rpos += l;
			c->r.chunk = CHUNK_SIZE;
			break;
		case CHUNK_TRAILER:
			if (l == 1 || (l == 2 && c->rbuf[c->rpos] == '\r'))
				c->r.body_done = true;
			c->rpos += l;	/* trailer fields are read and dropped */
			break;
		case CHUNK_DATA:
			break;
		}
		progress = 1;
	}
	return progress;
}

/* ---------------------------------------------------------------- connection driver */

static void req_reset(struct conn *c)
{
	data_block_put(c->r.data.blk);
	memset(&c->r, 0, sizeof(c->r));
	c->st = CONN_ST_HEAD;
}

/* Close after the response: FIN now, discard what the client still sends, then close. */
static int conn_linger(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->st = CONN_ST_LINGER;
	c->rpos = c->rlen = 0;
	if (c->rd_eof)
		return -1;
	return conn_timer_arm(c, LINGER_MS * 1000000ULL) ? -1 : 1;
}

/* Advance the request in progress. 1 progress, 0 none, -1 drop the connection. */
static int req_step(struct conn *c)
{
	int progress = 0, r;

	if (!c->r.body_done) {
		r = body_step(c);
		if (r < 0)
			return -1;
		progress |= r;
	}
	if (c->r.body_done && c->r.late) {
		if (put_late(c))
			return -1;
		progress = 1;
	}
	if (c->r.body_done && c->r.echo_open && !c->r.held) {
		if (c->r.echo_chunked && sb_puts(&c->out, "0\r\n\r\n"))
			return -1;
		c->r.echo_open = false;
		progress = 1;
	}
	if (c->r.body_done && !c->r.late && !c->r.echo_open && !c->r.data_active &&
	    !c->r.held && c->opos == c->out.len) {
		if (c->r.close_after)
			return conn_linger(c);
		req_reset(c);
		progress = 1;
	}
	return progress;
}

static int conn_process(struct conn *c)
{
	int progress = 0, r;

	for (;;) {
		switch (c->st) {
		case CONN_ST_HEAD:
			r = conn_parse_head(c);
			break;
		case CONN_ST_REQ:
			r = req_step(c);
			break;
		case CONN_ST_TUNNEL: {
			size_t pending = c->out.len - c->opos, n = c->rlen - c->rpos;

			if (pending >= ECHO_HIGH)
				n = 0;
			else if (n > ECHO_HIGH - pending)
				n = ECHO_HIGH - pending;
			if (!n)
				return progress;
			if (sb_put(&c->out, c->rbuf + c->rpos, n))
				return -1;
			c->rpos += n;
			return 1;
		}
		case CONN_ST_LINGER:
		default:
			c->rpos = c->rlen = 0;
			return progress;
		}
		if (r <= 0)
			return r < 0 ? -1 : progress;
		progress = 1;
		if (c->st == CONN_ST_LINGER)
			return progress;
	}
}

static int conn_read(struct conn *c)
{
	ssize_t n;

	if (c->rd_eof)
		return 0;
	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	if (c->rlen == RBUF_SIZE && c->rpos) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rlen == RBUF_SIZE)
		return 0;
	n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
	if (n > 0) {
		c->rlen += (size_t)n;
		return 1;
	}
	if (n == 0) {
		c->rd_eof = true;
		return 1;
	}
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

static int conn_write(struct conn *c)
{
	struct iovec iov[5];
	size_t limit = c->r.held ? c->hold_off : c->out.len, ob = 0;
	uint64_t fdata = 0, ftotal = 0;
	int cnt = 0;
	ssize_t n;

	if (limit > c->opos) {
		ob = limit - c->opos;
		iov[cnt++] = (struct iovec){ c->out.p + c->opos, ob };
	}
	if (!c->r.held && c->r.data_active && c->st == CONN_ST_REQ)
		cnt += data_frame(&c->r.data, iov + cnt, &fdata, &ftotal);
	if (!cnt)
		return 0;
	n = writev(c->fd, iov, cnt);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if ((size_t)n <= ob) {
		c->opos += (size_t)n;
	} else {
		c->opos += ob;
		if (data_advance(&c->r.data, (uint64_t)n - ob, fdata, ftotal)) {
			c->r.data_active = false;
			data_block_put(c->r.data.blk);
			c->r.data.blk = NULL;
		}
	}
	if (c->opos == c->out.len) {
		c->opos = c->out.len = 0;
		c->hold_off = 0;
	} else if (c->opos > OBUF_MAX / 2) {
		/* keep appends possible: slide the unsent tail to the front */
		memmove(c->out.p, c->out.p + c->opos, c->out.len - c->opos);
		c->out.len -= c->opos;
		c->hold_off = c->hold_off > c->opos ? c->hold_off - c->opos : 0;
		c->opos = 0;
	}
	return 1;
}

static void conn_drive(struct conn *c)
{
	int p, r;

	do {
		p = 0;
		r = conn_read(c);
		if (r < 0)
			goto drop;
		p |= r;
		r = conn_process(c);
		if (r < 0)
			goto drop;
		p |= r;
		r = conn_write(c);
		if (r < 0)
			goto drop;
		p |= r;
	} while (p);

	if (!c->rd_eof)
		return;
	switch (c->st) {
	case CONN_ST_HEAD:		/* between requests, or a truncated head */
	case CONN_ST_LINGER:
		goto drop;
	case CONN_ST_REQ:		/* a half-closed client still gets its answer */
		if (!c->r.body_done)
			goto drop;
		return;
	case CONN_ST_TUNNEL:
		if (c->rpos == c->rlen && c->opos == c->out.len) {
			shutdown(c->fd, SHUT_WR);
			goto drop;
		}
		return;
	}
	return;
drop:
	conn_close(c);
}

static void conn_timer(struct conn *c)
{
	uint64_t ticks;

	if (read(c->tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	if (c->st == CONN_ST_LINGER) {
		conn_close(c);
		return;
	}
	if (c->r.held) {
		c->r.held = false;
		conn_drive(c);
	}
}

/* ---------------------------------------------------------------- accept and threads */

static void format_remote(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {	/* as Go prints them */
			inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], a, sizeof(a));
			snprintf(out, len, "%s:%u", a, ntohs(s->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
			snprintf(out, len, "[%s]:%u", a, ntohs(s->sin6_port));
		}
	}
}

static void worker_accept(struct worker *w)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
		struct conn *c;
		int fd, one = 1;

		fd = accept4(w->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* shed the connection rather than spin on a ready listener */
				time_t now = time(NULL);

				if (w->spare_fd >= 0)
					close(w->spare_fd);
				fd = accept(w->lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (now != w->emfile_logged)
					log_warn("whoami: out of file descriptors, dropping "
						 "connections (raise ulimit -n)");
				w->emfile_logged = now;
			}
			return;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		memset(c, 0, offsetof(struct conn, rbuf));
		c->fd = fd;
		c->tfd = -1;
		c->w = w;
		c->io = (struct ev_src){ EV_CONN, c };
		c->tm = (struct ev_src){ EV_TIMER, c };
		c->st = CONN_ST_HEAD;
		format_remote(&ss, c->remote, sizeof(c->remote));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.ptr = &c->io;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[128];

	for (;;) {
		int n = epoll_wait(w->ep, evs, 128, -1);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_error("whoami: epoll_wait: %s", strerror(errno));
			_exit(1);
		}
		for (int i = 0; i < n; i++) {
			struct ev_src *s = evs[i].data.ptr;

			if (s->kind == EV_LISTEN)
				worker_accept(w);
			else if (s->c->dead)
				continue;
			else if (s->kind == EV_CONN)
				conn_drive(s->c);
			else
				conn_timer(s->c);
		}
		while (w->dead) {
			struct conn *c = w->dead;

			w->dead = c->next_dead;
			free(c);
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: whoami [--port N] [--addr A] [--name NAME] [--threads N]\n"
"       whoami --gen SIZE [SEED]\n"
"\n"
"HTTP/1.1 test backend that answers like the traefik/whoami image on GET /, plus\n"
"streaming routes to test proxies. Keep-alive, HTTP/1.0, pipelining. SIGTERM or SIGINT:\n"
"exit 0 at once (fine as PID 1).\n"
"\n"
"  --port N       TCP port (default $WHOAMI_PORT_NUMBER, else 80; 0 = any, logged at start)\n"
"  --addr A       IPv4 or IPv6 address to bind (default 0.0.0.0; '::' takes IPv4 too)\n"
"  --name NAME    print 'Name: NAME' first (default $WHOAMI_NAME; no line when empty)\n"
"  --threads N    event-loop threads sharing the listener (default 1, 1..%d)\n"
"  --gen SIZE [SEED]  write the bytes that /data?size=SIZE&seed=SEED sends, then exit\n"
"  --help         this text\n"
"\n"
"Routes (any method unless said):\n"
"  /          200 text/plain: Name (if set), Hostname, one IP line per interface address,\n"
"             RemoteAddr, then the request line (with the version received) and the header\n"
"             fields as received: Host first, the others in arrival order, names not\n"
"             canonicalised, CRLF line ends, an empty line. A request body is discarded.\n"
"  /data?size=N[&seed=S][&chunked=1]\n"
"             N bytes (suffix k, m, g = KiB, MiB, GiB; at most 64g) of a deterministic\n"
"             stream, Content-Length framed, or chunked with chunked=1 (HTTP/1.1 only).\n"
"             Stream: a 1 MiB block of splitmix64 output seeded by S (default 0, 8 bytes\n"
"             little-endian per step), repeated, the first 8 bytes of block k replaced\n"
"             by a stamp of (S, k). --gen writes the same bytes.\n"
"  /echo      the request body back, streamed: Content-Length if the request had one,\n"
"             else chunked (close-delimited for HTTP/1.0). Expect: 100-continue honoured\n"
"             on every route.\n"
"  /sink      reads and discards the body; the body of the answer is its byte count.\n"
"  /bench     200 '1'.\n"
"  /health    GET/HEAD: the stored status, 200 'OK' at start. POST or PUT with body '500'\n"
"             (a JSON integer 200..599) stores it for every thread.\n"
"  any path with Connection: Upgrade and Upgrade: P (P not h2c): 101 Switching Protocols\n"
"             echoing P, then a raw byte echo both ways; when the client half-closes,\n"
"             the rest is echoed and the server shuts down its side too.\n"
"Query on every route: wait=D delays the answer by a Go duration (100ms, 1.5s, 1m;\n"
"at most 1h) without blocking other connections; close=1 answers Connection: close\n"
"and closes. Bad values: 400 with the reason.\n", MAX_THREADS);
}

/* --gen: the /data stream on stdout. */
static int gen_main(const char *size_s, const char *seed_s)
{
	struct data_block blk = { 0 };
	struct data_src d = { 0 };
	uint64_t size, seed = 0, fd, ft;
	int rc = 1;

	if (parse_size(size_s, strlen(size_s), DATA_MAX, &size)) {
		fprintf(stderr, "whoami: --gen: bad size '%s' (bytes, suffix k, m, g; max 64g)\n",
			size_s);
		return 2;
	}
	if (seed_s && parse_u64(seed_s, strlen(seed_s), &seed)) {
		fprintf(stderr, "whoami: --gen: bad seed '%s' (a decimal integer)\n", seed_s);
		return 2;
	}
	blk.bytes = malloc(DATA_BLOCK);
	if (!blk.bytes) {
		fprintf(stderr, "whoami: --gen: out of memory\n");
		return 1;
	}
	data_block_fill(&blk, seed);
	d.blk = &blk;
	d.len = size;
	while (d.off < d.len) {
		struct iovec iov[4];
		int cnt = data_frame(&d, iov, &fd, &ft);
		ssize_t n = writev(1, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "whoami: --gen: write: %s\n", strerror(errno));
			goto out;
		}
		data_advance(&d, (uint64_t)n, fd, ft);
	}
	rc = 0;
out:
	free(blk.bytes);
	return rc;
}

static int parse_int_flag(const char *flag, const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		fprintf(stderr, "whoami: bad %s '%s': want an integer %ld..%ld\n", flag, v, lo, hi);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "gen", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *addr_s = "0.0.0.0", *gen = NULL, *env;
	long port = 80, threads = 1;
	struct sockaddr_storage ss = { 0 };
	struct worker *workers;
	socklen_t sl;
	sigset_t sigs;
	char addr_buf[INET6_ADDRSTRLEN + 2];
	int lfd, one = 1, ch, sig;

	env = getenv("WHOAMI_PORT_NUMBER");
	if (env && *env && parse_int_flag("WHOAMI_PORT_NUMBER", env, 0, 65535, &port))
		return 2;
	env = getenv("WHOAMI_NAME");
	if (env)
		opt_name = env;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (parse_int_flag("--port", optarg, 0, 65535, &port))
				return 2;
			break;
		case 'a':
			addr_s = optarg;
			break;
		case 'n':
			opt_name = optarg;
			break;
		case 't':
			if (parse_int_flag("--threads", optarg, 1, MAX_THREADS, &threads))
				return 2;
			break;
		case 'g':
			gen = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt)
				fprintf(stderr, "whoami: flag '%s' needs a value (see --help)\n",
					argv[optind - 1]);
			else
				fprintf(stderr, "whoami: unknown flag '%s' (see --help)\n",
					argv[optind - 1]);
			return 2;
		}
	}
	if (gen) {
		if (argc - optind > 1) {
			fprintf(stderr, "whoami: --gen takes SIZE [SEED], got extra '%s'\n",
				argv[optind + 1]);
			return 2;
		}
		return gen_main(gen, optind < argc ? argv[optind] : NULL);
	}
	if (optind < argc) {
		fprintf(stderr, "whoami: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}

	/* address: IPv4, or IPv6 with or without brackets */
	snprintf(addr_buf, sizeof(addr_buf), "%s", addr_s);
	if (addr_buf[0] == '[' && addr_buf[strlen(addr_buf) - 1] == ']') {
		addr_buf[strlen(addr_buf) - 1] = 0;
		memmove(addr_buf, addr_buf + 1, strlen(addr_buf));
	}
	if (inet_pton(AF_INET, addr_buf, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr_buf, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "whoami: bad --addr '%s': want an IPv4 or IPv6 address\n", addr_s);
		return 2;
	}
	if (gethostname(host_name, sizeof(host_name) - 1) == -1)
		snprintf(host_name, sizeof(host_name), "unknown");
	log_set_level(LOG_LVL_INFO);

	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1) {
		log_error("whoami: socket: %s", strerror(errno));
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		int zero = 0;

		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(lfd, (struct sockaddr *)&ss, sl) == -1 || listen(lfd, SOMAXCONN) == -1) {
		log_error("whoami: cannot listen on %s port %ld: %s (choose another --port or "
			  "--addr)", addr_s, port, strerror(errno));
		return 1;
	}
	sl = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &sl);
	port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					       ((struct sockaddr_in6 *)&ss)->sin6_port);

	/* Signals go to main's sigwait() only; workers never see them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	workers = calloc((size_t)threads, sizeof(*workers));
	if (!workers) {
		log_error("whoami: out of memory");
		return 1;
	}
	for (long i = 0; i < threads; i++) {
		struct worker *w = &workers[i];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };

		w->lfd = lfd;
		w->listen_src.kind = EV_LISTEN;
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		ev.data.ptr = &w->listen_src;
		if (w->ep == -1 || epoll_ctl(w->ep, EPOLL_CTL_ADD, lfd, &ev) == -1 ||
		    (errno = pthread_create(&w->thread, NULL, worker_main, w))) {
			log_error("whoami: cannot start thread %ld: %s", i, strerror(errno));
			return 1;
		}
	}
	log_info("whoami: listening on %s port %ld, %ld thread(s), name '%s'", addr_s, port,
		 threads, opt_name);

	for (;;) {
		if (sigwait(&sigs, &sig) == 0)
			break;
	}
	log_info("whoami: got %s, exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	_exit(0);
}
