// SPDX-License-Identifier: MIT
/*
 * it_loadgen: a bounded HTTP/1.1 load client that counts every failed request, for the
 * zero-failure deploy tests (rolling update, blue-green, scaling) and the demo.
 *
 * Keep-alive workers send requests back to back on one connection (reconnecting only when
 * the server answered "Connection: close"); fresh workers open a new connection per request.
 * Each worker pauses --interval ms between requests, so the load stays bounded on a shared
 * machine. Anything but a complete 2xx/3xx response within --timeout is a failure, logged
 * at once with its time and cause ("fail <unix ms> <worker> <cause>"). A failure on a reused
 * connection is not retried: the point is to see whether the proxy lets one through.
 * --trace writes one line per response (<unix ms> <worker> <status> <Hostname>), from which
 * tests compute which backends were in the rotation when. --tunnel N opens N Upgrade tunnels
 * instead and checks the echo of 1 KiB per round on each (the kernel fast path carries them).
 *
 * Runs until --duration or SIGINT/SIGTERM, then prints one summary line and one line per
 * backend hostname; exit 0 when nothing failed, 1 otherwise, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS	256
#define MAX_HOSTS	256
#define HEAD_MAX	(16 * 1024)
#define BODY_KEEP	(16 * 1024)	/* body bytes kept to find the Hostname line */
#define ECHO_BLOCK	1024

enum cause { C_CONNECT, C_SEND, C_CLOSED, C_RESET, C_TIMEOUT, C_STATUS, C_BAD, C_ECHO, C_NCAUSE };
static const char *const cause_name[C_NCAUSE] = {
	"connect", "send", "closed", "reset", "timeout", "status", "bad", "echo",
};

struct opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *target;
	const char *host;
	const char *path;
	int keepalive, fresh, tunnels;
	int interval_ms, timeout_ms;
	double duration_s;
	FILE *trace;
};

struct worker {
	int id;
	bool fresh;
	pthread_t thread;
};

/* Shared by the workers; counters are atomics, the host table and trace take the lock. */
static struct opts o;
static atomic_bool stopping;
static atomic_ulong n_requests, n_ok, n_failed, n_causes[C_NCAUSE], n_bytes, n_rounds;
static atomic_ulong max_us;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char name[64]; unsigned long count; } hosts[MAX_HOSTS];
static int nhosts;

static long long now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static long long now_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stopping, true);
}

static void fail(int worker, enum cause c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(int worker, enum cause c, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&n_failed, 1);
	atomic_fetch_add(&n_causes[c], 1);
	pthread_mutex_lock(&lock);
	printf("fail %lld w%d %s: %s\n", now_real_ms(), worker, cause_name[c], detail);
	fflush(stdout);
	pthread_mutex_unlock(&lock);
}

static void record(int worker, int status, const char *host)
{
	int i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nhosts; i++)
		if (strcmp(hosts[i].name, host) == 0)
			break;
	if (i == nhosts && nhosts < MAX_HOSTS)
		snprintf(hosts[nhosts++].name, sizeof(hosts[0].name), "%s", host);
	if (i < nhosts)
		hosts[i].count++;
	if (o.trace)
		fprintf(o.trace, "%lld w%d %d %s\n", now_real_ms(), worker, status, host);
	pthread_mutex_unlock(&lock);
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR && !atomic_load(&stopping))
		;
}

static int dial(int worker)
{
	struct timeval tv = { o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000 };
	int fd, one = 1;

	fd = socket(o.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(worker, C_CONNECT, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&o.addr, o.addrlen) == -1) {
		fail(worker, C_CONNECT, "%s: %s", o.target, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Cause of a failed recv: timeout, reset, or an orderly close. */
static enum cause recv_cause(ssize_t n)
{
	if (n == 0)
		return C_CLOSED;
	return errno == EAGAIN || errno == EWOULDBLOCK ? C_TIMEOUT : C_RESET;
}

/* Value of header NAME in a head (NUL-terminated), copied to out; false when absent. */
static bool header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && p[2] != '\r') {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			size_t len;

			while (*v == ' ' || *v == '\t')
				v++;
			len = (size_t)(end - v);
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

/*
 * One request on fd. Returns 0 on a complete response (*keep says whether the connection
 * may be reused), -1 after logging a failure. reused: fd already carried a response.
 */
static int one_request(int worker, int fd, bool close_conn, bool reused, bool *keep)
{
	char req[1024], head[HEAD_MAX + 1], body[BODY_KEEP + 1], val[64], who[64] = "-";
	size_t hlen = 0, blen = 0, keep_len = 0;
	long long t0 = now_mono_us(), took;
	long long clen = -1;
	char *eoh = NULL;
	int status, len;
	ssize_t n;

	len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: it_loadgen\r\n"
		       "%s\r\n", o.path, o.host, close_conn ? "Connection: close\r\n" : "");
	atomic_fetch_add(&n_requests, 1);
	if (send_all(fd, req, (size_t)len)) {
		fail(worker, C_SEND, "%s%s", strerror(errno), reused ? " (reused connection)" : "");
		return -1;
	}
	while (!eoh) {
		if (hlen == HEAD_MAX) {
			fail(worker, C_BAD, "response head over %d bytes", HEAD_MAX);
			return -1;
		}
		n = recv(fd, head + hlen, HEAD_MAX - hlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			enum cause c = recv_cause(n);

			fail(worker, c, "%s after %zu response bytes%s",
			     n == 0 ? "EOF" : strerror(errno), hlen,
			     reused ? " (reused connection)" : "");
			return -1;
		}
		hlen += (size_t)n;
		head[hlen] = '\0';
		eoh = strstr(head, "\r\n\r\n");
	}
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
		fail(worker, C_BAD, "no status line");
		return -1;
	}
	*keep = !close_conn;
	if (header(head, "Connection", val, sizeof(val)) && strcasecmp(val, "close") == 0)
		*keep = false;
	if (header(head, "Content-Length", val, sizeof(val)))
		clen = strtoll(val, NULL, 10);
	else if (header(head, "Transfer-Encoding", val, sizeof(val))) {
		fail(worker, C_BAD, "chunked responses are not supported here");
		return -1;
	} else if (*keep) {
		fail(worker, C_BAD, "keep-alive response without Content-Length");
		return -1;
	}
	/* Body bytes already read, then the rest up to Content-Length (or EOF). */
	eoh += 4;
	blen = hlen - (size_t)(eoh - head);
	keep_len = blen < BODY_KEEP ? blen : BODY_KEEP;
	memcpy(body, eoh, keep_len);
	while (clen < 0 || (long long)blen < clen) {
		char buf[65536];
		size_t want = sizeof(buf);

		if (clen >= 0 && (long long)want > clen - (long long)blen)
			want = (size_t)(clen - (long long)blen);
		n = recv(fd, buf, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && clen < 0)
			break;
		if (n <= 0) {
			fail(worker, recv_cause(n), "%s in the body after %zu of %lld bytes",
			     n == 0 ? "EOF" : strerror(errno), blen, clen);
			return -1;
		}
		if (keep_len < BODY_KEEP) {
			size_t c = (size_t)n < BODY_KEEP - keep_len ? (size_t)n : BODY_KEEP - keep_len;

			memcpy(body + keep_len, buf, c);
			keep_len += c;
		}
		blen += (size_t)n;
	}
	atomic_fetch_add(&n_bytes, (size_t)(eoh - head) + blen);
	took = now_mono_us() - t0;
	for (unsigned long m = atomic_load(&max_us); (unsigned long)took > m;)
		if (atomic_compare_exchange_weak(&max_us, &m, (unsigned long)took))
			break;
	body[keep_len] = '\0';
	{
		const char *h = strstr(body, "Hostname: ");

		if (h && (h == body || h[-1] == '\n'))
			sscanf(h + 10, "%63[^\r\n]", who);
	}
	record(worker, status, who);
	if (status < 200 || status >= 400) {
		fail(worker, C_STATUS, "status %d from %s", status, who);
		return -1;
	}
	atomic_fetch_add(&n_ok, 1);
	return 0;
}

static void *http_worker(void *arg)
{
	struct worker *w = arg;
	bool reused = false, keep = false;
	int fd = -1;

	while (!atomic_load(&stopping)) {
		if (fd < 0) {
			fd = dial(w->id);
			reused = false;
			if (fd < 0) {
				atomic_fetch_add(&n_requests, 1);
				pause_ms(o.interval_ms);
				continue;
			}
		}
		if (one_request(w->id, fd, w->fresh, reused, &keep) || !keep) {
			close(fd);
			fd = -1;
		} else {
			reused = true;
		}
		pause_ms(o.interval_ms);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* An Upgrade tunnel: handshake, then 1 KiB echoed per round until stopped, then half-close. */
static void *tunnel_worker(void *arg)
{
	struct worker *w = arg;
	char req[1024], head[HEAD_MAX + 1], out[ECHO_BLOCK], in[ECHO_BLOCK];
	size_t hlen = 0;
	char *eoh = NULL;
	unsigned long round = 0;
	int fd, status = 0, len;
	ssize_t n;

	atomic_fetch_add(&n_requests, 1);
	fd = dial(w->id);
	if (fd < 0)
		return NULL;
	len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
		       "Upgrade: it-loadgen-echo\r\n\r\n", o.path, o.host);
	if (send_all(fd, req, (size_t)len)) {
		fail(w->id, C_SEND, "handshake: %s", strerror(errno));
		goto out;
	}
	while (!eoh) {
		n = recv(fd, head + hlen, HEAD_MAX - hlen, 0);
		if (n <= 0 || hlen + (size_t)n >= HEAD_MAX) {
			fail(w->id, n <= 0 ? recv_cause(n) : C_BAD, "handshake response");
			goto out;
		}
		hlen += (size_t)n;
		head[hlen] = '\0';
		eoh = strstr(head, "\r\n\r\n");
	}
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1 || status != 101) {
		fail(w->id, C_STATUS, "handshake status %d, want 101", status);
		goto out;
	}
	if (hlen > (size_t)(eoh + 4 - head)) {
		fail(w->id, C_BAD, "bytes after the 101 head before any were sent");
		goto out;
	}
	while (!atomic_load(&stopping)) {
		size_t got = 0;

		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (char)('a' + (round * 7 + i * 13 + (unsigned long)w->id) % 26);
		if (send_all(fd, out, sizeof(out))) {
			fail(w->id, C_SEND, "round %lu: %s", round, strerror(errno));
			goto out;
		}
		while (got < sizeof(in)) {
			n = recv(fd, in + got, sizeof(in) - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fail(w->id, recv_cause(n), "round %lu: %s", round,
				     n == 0 ? "EOF" : strerror(errno));
				goto out;
			}
			got += (size_t)n;
		}
		if (memcmp(in, out, sizeof(in))) {
			fail(w->id, C_ECHO, "round %lu: echo differs", round);
			goto out;
		}
		atomic_fetch_add(&n_rounds, 1);
		atomic_fetch_add(&n_bytes, 2 * sizeof(out));
		round++;
		pause_ms(o.interval_ms);
	}
	/* Half-close: the echo server answers with its own FIN. */
	shutdown(fd, SHUT_WR);
	n = recv(fd, in, sizeof(in), 0);
	if (n != 0) {
		fail(w->id, n < 0 ? recv_cause(n) : C_BAD, "no clean FIN after the half-close");
		goto out;
	}
	record(w->id, 101, "-");
	atomic_fetch_add(&n_ok, 1);
out:
	close(fd);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: it_loadgen [options] HOST:PORT\n"
		"  --host NAME      Host header (default whoami.docker.localhost)\n"
		"  --path PATH      request target (default /)\n"
		"  --keepalive N    keep-alive connections, requests back to back (default 4)\n"
		"  --fresh N        workers opening a new connection per request (default 2)\n"
		"  --interval MS    pause of each worker between requests (default 10)\n"
		"  --timeout MS     a connect, send or read waiting longer fails (default 5000)\n"
		"  --duration S     stop after S seconds (default: at SIGINT/SIGTERM)\n"
		"  --trace FILE     one line per response: <unix ms> <worker> <status> <Hostname>\n"
		"  --tunnel N       N Upgrade tunnels echoing 1 KiB per --interval instead\n"
		"Prints 'fail <unix ms> <worker> <cause>: <detail>' per failure, then\n"
		"'loadgen: requests=N ok=N failed=N (...)' and 'host <Hostname> <count>' lines.\n"
		"Exit 0 when nothing failed, 1 otherwise.\n");
}

static int parse_target(const char *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char host[256];
	const char *colon = strrchr(s, ':');

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -1;
	memcpy(&o.addr, ai->ai_addr, ai->ai_addrlen);
	o.addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "path", required_argument, NULL, 'p' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "fresh", required_argument, NULL, 'f' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "trace", required_argument, NULL, 'T' },
		{ "tunnel", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct worker workers[MAX_WORKERS];
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t sigs;
	long long t0, t1;
	int c, nw = 0;

	o.host = "whoami.docker.localhost";
	o.path = "/";
	o.keepalive = 4;
	o.fresh = 2;
	o.interval_ms = 10;
	o.timeout_ms = 5000;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o.host = optarg; break;
		case 'p': o.path = optarg; break;
		case 'k': o.keepalive = atoi(optarg); break;
		case 'f': o.fresh = atoi(optarg); break;
		case 'i': o.interval_ms = atoi(optarg); break;
		case 't': o.timeout_ms = atoi(optarg); break;
		case 'd': o.duration_s = atof(optarg); break;
		case 'u': o.tunnels = atoi(optarg); break;
		case 'T':
			o.trace = fopen(optarg, "w");
			if (!o.trace) {
				fprintf(stderr, "it_loadgen: --trace %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			setvbuf(o.trace, NULL, _IOLBF, 0);	/* read while it runs */
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1 || parse_target(argv[optind])) {
		usage(stderr);
		return 2;
	}
	o.target = argv[optind];
	if (o.keepalive < 0 || o.fresh < 0 || o.tunnels < 0 || o.interval_ms < 0 ||
	    o.timeout_ms <= 0 || o.keepalive + o.fresh > MAX_WORKERS || o.tunnels > MAX_WORKERS ||
	    o.duration_s < 0 || o.path[0] != '/' || strpbrk(o.host, "\r\n ") ||
	    strpbrk(o.path, "\r\n ")) {
		fprintf(stderr, "it_loadgen: bad option value (see --help)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Workers block SIGINT/SIGTERM: only this thread sees them, so no worker's connect or
	 * recv is cut short (EINTR) and counted as a failure at the moment of stopping. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	t0 = now_mono_us();
	if (o.tunnels) {
		for (; nw < o.tunnels; nw++)
			workers[nw] = (struct worker){ .id = nw };
	} else {
		for (; nw < o.keepalive + o.fresh; nw++)
			workers[nw] = (struct worker){ .id = nw, .fresh = nw >= o.keepalive };
	}
	for (int i = 0; i < nw; i++) {
		if (pthread_create(&workers[i].thread, NULL, o.tunnels ? tunnel_worker : http_worker,
				   &workers[i])) {
			fprintf(stderr, "it_loadgen: pthread_create failed\n");
			return 1;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	while (!atomic_load(&stopping)) {
		pause_ms(50);
		if (o.duration_s > 0 && now_mono_us() - t0 >= (long long)(o.duration_s * 1e6))
			atomic_store(&stopping, true);
	}
	for (int i = 0; i < nw; i++)
		pthread_join(workers[i].thread, NULL);
	t1 = now_mono_us();
	if (o.trace)
		fclose(o.trace);
	printf("loadgen: %s=%lu ok=%lu failed=%lu (", o.tunnels ? "tunnels" : "requests",
	       atomic_load(&n_requests), atomic_load(&n_ok), atomic_load(&n_failed));
	for (int i = 0; i < C_NCAUSE; i++)
		printf("%s%s=%lu", i ? " " : "", cause_name[i], atomic_load(&n_causes[i]));
	printf(") hosts=%d seconds=%.1f max_ms=%lu", nhosts, (double)(t1 - t0) / 1e6,
	       atomic_load(&max_us) / 1000);
	if (o.tunnels)
		printf(" rounds=%lu", atomic_load(&n_rounds));
	printf(" bytes=%lu\n", atomic_load(&n_bytes));
	for (int i = 0; i < nhosts; i++)
		printf("host %s %lu\n", hosts[i].name, hosts[i].count);
	return atomic_load(&n_failed) ? 1 : 0;
}
