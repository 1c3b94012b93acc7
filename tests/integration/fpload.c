// SPDX-License-Identifier: MIT
/*
 * it_fpload: backend and client for the fast-path tests, with byte-exact checking.
 *
 * Every stream carries the same pattern: byte o is pat[o % PAT_LEN], PAT_LEN a prime near
 * 1 MiB, so a duplicated, lost or reordered block shows at once and checking runs at
 * memcmp speed. The client names what it wants in a first line the backend reads:
 *
 *   ECHO [delay_ms]   echo until EOF, then half-close      SINK      read to EOF, "GOT n ok|bad"
 *   SOURCE n          send n, half-close, read to EOF        BOTH n    send n and read n at once
 *   SLOW rate         read at rate bytes/s until EOF         RST       reset after the line
 *   WAITRST           read until EOF or reset, log which     GET n     "LEN n" + n, stay open
 *   PUT n             read n, "OK n ok|bad", close
 *
 *   it_fpload backend PORT                 (logs "result <cmd> ok|bad ..." per connection)
 *   it_fpload client PORT SCENARIO ARGS    (exit 0 when every check passed; with
 *                                           FPLOAD_ALLOW_RESET=1 a connection reset after
 *                                           a byte-exact prefix passes and is counted)
 *     down N | up N | both N | halfb N M | small K | early N | push SECONDS RATE | rst |
 *     brst | conc K N [HOLD_MS] | many M P | get N | put N
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define PAT_LEN	1048573		/* prime: never lines up with buffer or skb sizes */
#define BUFSZ	(256 * 1024)

static unsigned char *pat;	/* PAT_LEN + BUFSZ bytes: any window of BUFSZ is contiguous */
static int port;
static pthread_key_t buf_key;

/* A BUFSZ buffer per thread, freed when the thread ends. */
static void *thread_buf(void)
{
	void *b = pthread_getspecific(buf_key);

	if (!b) {
		b = malloc(BUFSZ);
		pthread_setspecific(buf_key, b);
	}
	return b;
}

static void pat_init(void)
{
	uint32_t x = 2463534242u;

	pat = malloc(PAT_LEN + BUFSZ);
	for (size_t i = 0; i < PAT_LEN + BUFSZ; i++) {
		if (i < PAT_LEN) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			pat[i] = (unsigned char)x;
		} else {
			pat[i] = pat[i - PAT_LEN];
		}
	}
}

static const unsigned char *pat_at(uint64_t off)
{
	return pat + off % PAT_LEN;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_all(int fd, const void *b, size_t n)
{
	const char *p = b;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send n pattern bytes starting at offset off. */
static int send_pat(int fd, uint64_t off, uint64_t n)
{
	while (n) {
		size_t k = n < BUFSZ ? (size_t)n : BUFSZ;

		if (send_all(fd, pat_at(off), k))
			return -1;
		off += k;
		n -= k;
	}
	return 0;
}

/*
 * Read up to max bytes (or to EOF when max is UINT64_MAX), checking the pattern from off.
 * Returns bytes read; *bad set on a mismatch; *eof when EOF came; *err errno on error.
 */
static uint64_t recv_pat(int fd, uint64_t off, uint64_t max, bool *bad, bool *eof, int *err)
{
	unsigned char *buf = thread_buf();
	uint64_t got = 0;

	*eof = false;
	*err = 0;
	while (got < max) {
		size_t want = max - got < BUFSZ ? (size_t)(max - got) : BUFSZ;
		ssize_t n = recv(fd, buf, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			break;
		}
		if (n == 0) {
			*eof = true;
			break;
		}
		if (!*bad && memcmp(buf, pat_at(off + got), (size_t)n))
			*bad = true;
		got += (uint64_t)n;
	}
	return got;
}

/* Expect EOF next (no more bytes). */
static bool expect_eof(int fd)
{
	char c;
	ssize_t n;

	do
		n = recv(fd, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

static int dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Read one line (the command) byte by byte: nothing past it is consumed. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap - 1) {
		ssize_t r = recv(fd, buf + n, 1, 0);

		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

/* ---- backend --------------------------------------------------------------------------- */

struct both_arg {
	int fd;
	uint64_t n;
};

static void *both_sender(void *arg)
{
	struct both_arg *a = arg;

	send_pat(a->fd, 0, a->n);
	return NULL;
}

/* Set by serve() before result(): the peer reset the connection and no wrong byte came. */
static __thread bool reset_seen;

static void result(const char *cmd, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void result(const char *cmd, bool ok, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("result %s %s %s\n", cmd, ok ? "ok" : reset_seen ? "reset" : "bad", msg);
	fflush(stdout);
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg, err;
	char line[128], reply[128];
	unsigned long long n = 0, m = 0;
	bool bad = false, eof;
	uint64_t got;

	if (read_line(fd, line, sizeof(line))) {
		close(fd);
		return NULL;
	}
	if (!strncmp(line, "ECHO", 4)) {
		char *buf = thread_buf();
		uint64_t total = 0;

		if (sscanf(line, "ECHO %llu", &m) == 1)
			usleep((useconds_t)m * 1000);
		for (;;) {
			ssize_t r = recv(fd, buf, BUFSZ, 0);

			if (r <= 0)
				break;
			if (send_all(fd, buf, (size_t)r))
				break;
			total += (uint64_t)r;
		}
		shutdown(fd, SHUT_WR);
		result("ECHO", true, "bytes=%" PRIu64, total);
	} else if (!strcmp(line, "SINK")) {
		got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
		reset_seen = !bad && err == ECONNRESET;
		snprintf(reply, sizeof(reply), "GOT %" PRIu64 " %s\n", got, bad || !eof ? "bad" : "ok");
		send_all(fd, reply, strlen(reply));
		result("SINK", !bad && eof, "got=%" PRIu64, got);
	} else if (sscanf(line, "SOURCE %llu", &n) == 1) {
		send_pat(fd, 0, n);
		shutdown(fd, SHUT_WR);
		got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
		result("SOURCE", !bad && eof, "got=%" PRIu64, got);
	} else if (sscanf(line, "BOTH %llu", &n) == 1) {
		struct both_arg a = { fd, n };
		pthread_t th;
		char status;

		pthread_create(&th, NULL, both_sender, &a);
		got = recv_pat(fd, 0, n, &bad, &eof, &err);
		reset_seen = !bad && err == ECONNRESET;
		pthread_join(th, NULL);
		status = got == n && !bad ? 'Y' : 'N';
		send_all(fd, &status, 1);
		shutdown(fd, SHUT_WR);
		eof = expect_eof(fd);
		result("BOTH", status == 'Y' && eof, "got=%" PRIu64, got);
	} else if (sscanf(line, "SLOW %llu", &n) == 1) {
		char *buf = thread_buf();
		uint64_t total = 0;
		double t0 = now_s();

		for (;;) {
			ssize_t r = recv(fd, buf, 16384, 0);
			double due;

			if (r <= 0)
				break;
			total += (uint64_t)r;
			due = t0 + (double)total / (double)n;
			if (due > now_s())
				usleep((useconds_t)((due - now_s()) * 1e6));
		}
		result("SLOW", true, "got=%" PRIu64, total);
	} else if (!strcmp(line, "RST")) {
		send_all(fd, "x", 1);
		usleep(50000);
		rst_close(fd);
		result("RST", true, "sent");
		return NULL;
	} else if (!strcmp(line, "WAITRST")) {
		got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
		result("WAITRST", err == ECONNRESET, "%s got=%" PRIu64,
		       err == ECONNRESET ? "peer-rst" : eof ? "peer-fin" : strerror(err), got);
	} else if (sscanf(line, "GET %llu", &n) == 1) {
		/* Head and body in one go: the worst case for a late splice. */
		size_t hl = (size_t)snprintf(reply, sizeof(reply), "LEN %llu\n", n);
		size_t first = n < BUFSZ - hl ? (size_t)n : BUFSZ - hl;
		char *b = malloc(BUFSZ);

		memcpy(b, reply, hl);
		memcpy(b + hl, pat_at(0), first);
		send_all(fd, b, hl + first);
		free(b);
		send_pat(fd, first, n - first);
		/* Keep-alive: the proxy ends the flow after the body; we see its FIN. */
		eof = expect_eof(fd);
		result("GET", eof, "sent=%llu", n);
	} else if (sscanf(line, "PUT %llu", &n) == 1) {
		got = recv_pat(fd, 0, n, &bad, &eof, &err);
		reset_seen = !bad && err == ECONNRESET;
		snprintf(reply, sizeof(reply), "OK %" PRIu64 " %s\n", got,
			 got == n && !bad ? "ok" : "bad");
		send_all(fd, reply, strlen(reply));
		result("PUT", got == n && !bad, "got=%" PRIu64, got);
	} else {
		result("?", false, "unknown command '%s'", line);
	}
	close(fd);
	return NULL;
}

static int backend_main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_attr_t at;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(lfd, 4096) == -1) {
		perror("backend: listen");
		return 1;
	}
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t th;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("accept");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&th, &at, serve, (void *)(intptr_t)fd))
			close(fd);
	}
}

/* ---- client ---------------------------------------------------------------------------- */

static int fails;
static bool allow_reset;	/* FPLOAD_ALLOW_RESET=1: a reset after a correct prefix passes */
static int resets;

/* A failure that is only a reset (no wrong byte seen): tolerated when allowed, and counted. */
static bool tolerated(bool bad, int err)
{
	if (!allow_reset || bad || (err != ECONNRESET && err != EPIPE))
		return false;
	resets++;
	return true;
}

#define FAILF(...) do { fprintf(stderr, "client: " __VA_ARGS__); fputc('\n', stderr); fails++; } while (0)

static int open_cmd(const char *cmd)
{
	int fd = dial();

	if (fd < 0) {
		FAILF("connect: %s", strerror(errno));
		return -1;
	}
	if (send_all(fd, cmd, strlen(cmd))) {
		FAILF("send command: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void report_rate(const char *what, uint64_t bytes, double secs)
{
	printf("%s bytes=%" PRIu64 " secs=%.3f rate=%.2fGB/s\n", what, bytes, secs,
	       (double)bytes / secs / 1e9);
}

static void sc_down(uint64_t n)
{
	char cmd[64];
	bool bad = false, eof;
	int err, fd;
	double t0 = now_s();
	uint64_t got;

	snprintf(cmd, sizeof(cmd), "SOURCE %" PRIu64 "\n", n);
	if ((fd = open_cmd(cmd)) < 0)
		return;
	got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
	report_rate("down", got, now_s() - t0);
	if ((got != n || bad || !eof) && !tolerated(bad, err))
		FAILF("down: got %" PRIu64 " of %" PRIu64 " bad=%d eof=%d err=%s", got, n, bad, eof,
		      strerror(err));
	close(fd);
}

static void sc_up(uint64_t n)
{
	char reply[128] = "", want[128];
	int fd, rerr;
	double t0 = now_s();
	ssize_t r = 0;
	size_t len = 0;

	if ((fd = open_cmd("SINK\n")) < 0)
		return;
	if (send_pat(fd, 0, n)) {
		if (!tolerated(false, errno))
			FAILF("up: send: %s", strerror(errno));
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	while (len < sizeof(reply) - 1 && (r = recv(fd, reply + len, sizeof(reply) - 1 - len, 0)) > 0)
		len += (size_t)r;
	rerr = r < 0 ? errno : 0;
	reply[len] = '\0';
	report_rate("up", n, now_s() - t0);
	snprintf(want, sizeof(want), "GOT %" PRIu64 " ok\n", n);
	if (strcmp(reply, want) && !(len == 0 && tolerated(false, rerr)))
		FAILF("up: backend said '%s', want '%s'", reply, want);
	close(fd);
}

struct sender_arg {
	int fd;
	uint64_t n;
	int rc;
	int err;
};

static void *sender(void *arg)
{
	struct sender_arg *a = arg;

	a->rc = send_pat(a->fd, 0, a->n);
	a->err = a->rc ? errno : 0;
	return NULL;
}

static void sc_both(uint64_t n)
{
	char cmd[64], status = 0;
	struct sender_arg a;
	pthread_t th;
	bool bad = false, eof;
	int err, fd;
	uint64_t got;
	double t0 = now_s();

	snprintf(cmd, sizeof(cmd), "BOTH %" PRIu64 "\n", n);
	if ((fd = open_cmd(cmd)) < 0)
		return;
	a = (struct sender_arg){ fd, n, 0, 0 };
	pthread_create(&th, NULL, sender, &a);
	got = recv_pat(fd, 0, n, &bad, &eof, &err);
	pthread_join(th, NULL);
	if (!err && recv(fd, &status, 1, MSG_WAITALL) != 1)
		status = '?';
	shutdown(fd, SHUT_WR);
	eof = !err && expect_eof(fd);
	report_rate("both", 2 * n, now_s() - t0);
	if ((a.rc || got != n || bad || status != 'Y' || !eof) &&
	    !tolerated(bad, err ? err : a.err))
		FAILF("both: send rc %d, got %" PRIu64 "/%" PRIu64 " bad=%d backend=%c eof=%d", a.rc,
		      got, n, bad, status, eof);
	close(fd);
}

/* Backend half-closes first (after n bytes); then the client sends m bytes and closes. */
static void sc_halfb(uint64_t n, uint64_t m)
{
	char cmd[64];
	bool bad = false, eof;
	int err, fd;
	uint64_t got;

	snprintf(cmd, sizeof(cmd), "SOURCE %" PRIu64 "\n", n);
	if ((fd = open_cmd(cmd)) < 0)
		return;
	got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
	if (got != n || bad || !eof)
		FAILF("halfb: got %" PRIu64 "/%" PRIu64 " bad=%d eof=%d", got, n, bad, eof);
	/* Our direction still works after the backend's FIN. */
	if (send_pat(fd, 0, m))
		FAILF("halfb: send after the backend's FIN: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	/* Wait for the proxy to close (both directions done). */
	if (!expect_eof(fd))
		FAILF("halfb: no EOF at the end");
	close(fd);
	printf("halfb sent=%" PRIu64 "\n", m);
}

struct small_arg {
	int fd;
	int k;
	uint64_t total;
};

static void *small_writer(void *arg)
{
	struct small_arg *a = arg;
	uint64_t off = 0;

	for (int i = 0; i < a->k; i++) {
		size_t len = 1 + (size_t)(i * 37 % 64);

		if (send_all(a->fd, pat_at(off), len))
			break;
		off += len;
	}
	a->total = off;
	return NULL;
}

static void sc_small(int k)
{
	struct small_arg a;
	pthread_t th;
	bool bad = false, eof;
	int err, fd;
	uint64_t got, off;

	/* Pipelined: k writes of 1..64 bytes, read back concurrently. */
	if ((fd = open_cmd("ECHO\n")) < 0)
		return;
	a = (struct small_arg){ fd, k, 0 };
	pthread_create(&th, NULL, small_writer, &a);
	pthread_join(th, NULL);
	shutdown(fd, SHUT_WR);
	got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
	if (got != a.total || bad || !eof)
		FAILF("small: echoed %" PRIu64 "/%" PRIu64 " bad=%d eof=%d", got, a.total, bad, eof);
	close(fd);
	/* Ping-pong: one small message at a time, each echoed before the next. */
	if ((fd = open_cmd("ECHO\n")) < 0)
		return;
	off = 0;
	for (int i = 0; i < k / 10; i++) {
		size_t len = 1 + (size_t)(i * 13 % 100);

		if (send_all(fd, pat_at(off), len)) {
			FAILF("small: ping %d: %s", i, strerror(errno));
			break;
		}
		got = recv_pat(fd, off, len, &bad, &eof, &err);
		if (got != len || bad) {
			FAILF("small: pong %d: %" PRIu64 "/%zu bad=%d", i, got, len, bad);
			break;
		}
		off += len;
	}
	shutdown(fd, SHUT_WR);
	if (!expect_eof(fd))
		FAILF("small: no EOF after ping-pong");
	close(fd);
	printf("small pipelined=%" PRIu64 " pingpong=%" PRIu64 "\n", a.total, off);
}

/* The client sends at once, before the backend reads anything (it sleeps 200 ms). */
struct early_arg {
	int fd;
	uint64_t n;
	int rc;
};

static void *early_writer(void *arg)
{
	struct early_arg *a = arg;
	size_t first = a->n < 65536 ? (size_t)a->n : 65536;
	char *b = malloc(first + 16);
	size_t hl = (size_t)snprintf(b, 16, "ECHO 200\n");

	/* The command and the first bytes in one segment, the rest streamed right after. */
	memcpy(b + hl, pat_at(0), first);
	a->rc = send_all(a->fd, b, hl + first);
	if (!a->rc)
		a->rc = send_pat(a->fd, first, a->n - first);
	shutdown(a->fd, SHUT_WR);
	free(b);
	return NULL;
}

static void sc_early(uint64_t n)
{
	struct early_arg a;
	pthread_t th;
	bool bad = false, eof;
	int err, fd = dial();
	uint64_t got;

	if (fd < 0) {
		FAILF("early: connect");
		return;
	}
	a = (struct early_arg){ fd, n, 0 };
	pthread_create(&th, NULL, early_writer, &a);
	got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
	pthread_join(th, NULL);
	if (a.rc || got != n || bad || !eof)
		FAILF("early: echoed %" PRIu64 "/%" PRIu64 " bad=%d eof=%d", got, n, bad, eof);
	close(fd);
	printf("early bytes=%" PRIu64 "\n", n);
}

static long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * Push as fast as the path accepts for secs to a backend reading rate bytes/s; report how
 * much was accepted and how far MemAvailable fell meanwhile, then reset the connection.
 */
static void sc_push(double secs, uint64_t rate)
{
	char cmd[64];
	int fd;
	long m0 = mem_available_kb(), mmin = m0;
	uint64_t sent = 0;
	double t0 = now_s(), tlast = t0;

	snprintf(cmd, sizeof(cmd), "SLOW %" PRIu64 "\n", rate);
	if ((fd = open_cmd(cmd)) < 0)
		return;
	while (now_s() - t0 < secs) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		if (poll(&p, 1, 20) == 1) {
			w = send(fd, pat_at(sent), BUFSZ, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN) {
				FAILF("push: send: %s", strerror(errno));
				break;
			}
			if (w > 0)
				sent += (uint64_t)w;
		}
		if (now_s() - tlast > 0.05) {
			long m = mem_available_kb();

			if (m < mmin)
				mmin = m;
			tlast = now_s();
		}
	}
	printf("push accepted=%" PRIu64 " memdrop_kb=%ld secs=%.1f\n", sent, m0 - mmin, secs);
	rst_close(fd);
}

/* Client resets after sending: the backend must see a reset, not a clean EOF. */
static void sc_rst(void)
{
	int fd = open_cmd("WAITRST\n");

	if (fd < 0)
		return;
	send_pat(fd, 0, 100000);
	usleep(200000);
	rst_close(fd);
	printf("rst sent\n");
}

/* Backend resets: the client must see ECONNRESET. */
static void sc_brst(void)
{
	char buf[64];
	int fd = open_cmd("RST\n");
	ssize_t n;

	if (fd < 0)
		return;
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n == 0)
		FAILF("brst: clean EOF instead of a reset");
	else if (errno != ECONNRESET)
		FAILF("brst: %s instead of ECONNRESET", strerror(errno));
	else
		printf("brst reset seen\n");
	close(fd);
}

/* One echo round trip of n bytes on a fresh connection. 0 when exact. */
static int echo_once(uint64_t n, unsigned hold_ms)
{
	static const char cmd[] = "ECHO\n";
	bool bad = false, eof;
	int err, fd = dial();
	uint64_t got;
	char *b;

	if (fd < 0)
		return -1;
	b = malloc(sizeof(cmd) - 1 + n);
	memcpy(b, cmd, sizeof(cmd) - 1);
	memcpy(b + sizeof(cmd) - 1, pat_at(0), n);
	if (send_all(fd, b, sizeof(cmd) - 1 + n)) {
		free(b);
		close(fd);
		return -1;
	}
	free(b);
	if (hold_ms)
		usleep(hold_ms * 1000);
	/* Read the echo before the half-close: the proxy sees an open, quiet connection. */
	got = recv_pat(fd, 0, n, &bad, &eof, &err);
	shutdown(fd, SHUT_WR);
	eof = expect_eof(fd);
	close(fd);
	return got == n && !bad && eof ? 0 : -1;
}

struct conc_arg {
	uint64_t n;
	int count;
	unsigned hold_ms;
	_Atomic int *bad;
	pthread_barrier_t *bar;
};

static void *conc_worker(void *arg)
{
	struct conc_arg *a = arg;

	if (a->bar)
		pthread_barrier_wait(a->bar);
	for (int i = 0; i < a->count; i++)
		if (echo_once(a->n, a->hold_ms))
			atomic_fetch_add(a->bad, 1);
	return NULL;
}

static void run_threads(int nthr, struct conc_arg *a)
{
	pthread_t *th = calloc((size_t)nthr, sizeof(*th));
	pthread_attr_t at;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);
	for (int i = 0; i < nthr; i++)
		if (pthread_create(&th[i], &at, conc_worker, a))
			th[i] = 0;
	for (int i = 0; i < nthr; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	free(th);
}

/* k connections open at the same time (each held hold_ms), n bytes echoed on each. */
static void sc_conc(int k, uint64_t n, unsigned hold_ms)
{
	_Atomic int bad = 0;
	pthread_barrier_t bar;
	struct conc_arg a = { .n = n, .count = 1, .hold_ms = hold_ms, .bad = &bad, .bar = &bar };
	double t0 = now_s();

	pthread_barrier_init(&bar, NULL, (unsigned)k);
	run_threads(k, &a);
	printf("conc flows=%d bytes=%" PRIu64 " failed=%d secs=%.2f\n", k, n, bad, now_s() - t0);
	if (bad)
		FAILF("conc: %d of %d flows failed", bad, k);
}

/* m short connections, p at a time. */
static void sc_many(int m, int p)
{
	_Atomic int bad = 0;
	struct conc_arg a = { .n = 32, .count = m / p, .hold_ms = 0, .bad = &bad };
	double t0 = now_s(), dt;

	run_threads(p, &a);
	dt = now_s() - t0;
	printf("many conns=%d failed=%d secs=%.1f rate=%.0f/s\n", (m / p) * p, bad, dt,
	       (double)((m / p) * p) / dt);
	if (bad)
		FAILF("many: %d of %d connections failed", bad, (m / p) * p);
}

/* Late-splice download through --mode download: "GET n" -> "LEN n\n" + n bytes + EOF. */
static void sc_get(uint64_t n)
{
	char cmd[64], head[64];
	bool bad = false, eof;
	int err, fd;
	uint64_t got;
	double t0 = now_s();

	snprintf(cmd, sizeof(cmd), "GET %" PRIu64 "\n", n);
	if ((fd = open_cmd(cmd)) < 0)
		return;
	if (read_line(fd, head, sizeof(head)) || strtoull(head + 4, NULL, 10) != n) {
		FAILF("get: bad head");
		close(fd);
		return;
	}
	got = recv_pat(fd, 0, UINT64_MAX, &bad, &eof, &err);
	report_rate("get", got, now_s() - t0);
	if ((got != n || bad || !eof) && !tolerated(bad, err))
		FAILF("get: got %" PRIu64 "/%" PRIu64 " bad=%d eof=%d err=%s", got, n, bad, eof,
		      strerror(err));
	close(fd);
}

/* Late-splice upload through --mode upload: "PUT n" + n bytes -> "OK n ok\n" + EOF. */
static void sc_put(uint64_t n)
{
	char cmd[64], reply[128] = "", want[128];
	size_t hl, first = n < 65536 ? (size_t)n : 65536, len = 0;
	char *b = malloc(first + 64);
	int fd = dial(), rerr;
	ssize_t r = 0;
	double t0 = now_s();

	if (fd < 0) {
		FAILF("put: connect");
		free(b);
		return;
	}
	hl = (size_t)snprintf(cmd, sizeof(cmd), "PUT %" PRIu64 "\n", n);
	memcpy(b, cmd, hl);
	memcpy(b + hl, pat_at(0), first);
	/* Head and the start of the body in one write, like most clients. */
	if (send_all(fd, b, hl + first) || send_pat(fd, first, n - first)) {
		if (!tolerated(false, errno))
			FAILF("put: send: %s", strerror(errno));
		free(b);
		close(fd);
		return;
	}
	free(b);
	while (len < sizeof(reply) - 1 && (r = recv(fd, reply + len, sizeof(reply) - 1 - len, 0)) > 0)
		len += (size_t)r;
	rerr = r < 0 ? errno : 0;
	reply[len] = '\0';
	report_rate("put", n, now_s() - t0);
	snprintf(want, sizeof(want), "OK %" PRIu64 " ok\n", n);
	if (strcmp(reply, want) && !(len == 0 && tolerated(false, rerr)))
		FAILF("put: backend said '%s', want '%s'", reply, want);
	close(fd);
}

static uint64_t num(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'k': case 'K': v *= 1024; break;
	case 'm': case 'M': v *= 1024 * 1024; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
	}
	return (uint64_t)v;
}

int main(int argc, char **argv)
{
	const char *sc;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		goto usage;
	port = atoi(argv[2]);
	pthread_key_create(&buf_key, free);
	pat_init();
	if (!strcmp(argv[1], "backend"))
		return backend_main();
	if (strcmp(argv[1], "client") || argc < 4)
		goto usage;
	sc = argv[3];
	allow_reset = getenv("FPLOAD_ALLOW_RESET") && !strcmp(getenv("FPLOAD_ALLOW_RESET"), "1");
#define ARG(i) (argc > 3 + (i) ? num(argv[3 + (i)]) : 0)
	if (!strcmp(sc, "down"))
		sc_down(ARG(1));
	else if (!strcmp(sc, "up"))
		sc_up(ARG(1));
	else if (!strcmp(sc, "both"))
		sc_both(ARG(1));
	else if (!strcmp(sc, "halfb"))
		sc_halfb(ARG(1), ARG(2));
	else if (!strcmp(sc, "small"))
		sc_small((int)ARG(1));
	else if (!strcmp(sc, "early"))
		sc_early(ARG(1));
	else if (!strcmp(sc, "push"))
		sc_push(argc > 4 ? atof(argv[4]) : 3, ARG(2));
	else if (!strcmp(sc, "rst"))
		sc_rst();
	else if (!strcmp(sc, "brst"))
		sc_brst();
	else if (!strcmp(sc, "conc"))
		sc_conc((int)ARG(1), ARG(2), argc > 6 ? (unsigned)ARG(3) : 300);
	else if (!strcmp(sc, "many"))
		sc_many((int)ARG(1), (int)ARG(2));
	else if (!strcmp(sc, "get"))
		sc_get(ARG(1));
	else if (!strcmp(sc, "put"))
		sc_put(ARG(1));
	else
		goto usage;
	if (resets)
		printf("resets=%d (tolerated: FPLOAD_ALLOW_RESET=1, no wrong byte seen)\n", resets);
	return fails ? 1 : 0;
usage:
	fprintf(stderr, "usage: it_fpload backend PORT | client PORT SCENARIO [ARGS]\n");
	return 2;
}
