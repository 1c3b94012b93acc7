// SPDX-License-Identifier: MIT
/*
 * it_tunnel_proxy: a tiny proxy around tunnel_start(), for the fast-path tests before (and
 * besides) the real proxy. One event_base per worker thread, each with its own SO_REUSEPORT
 * listener on 127.0.0.1:PORT; every accepted client is connected to the backend and handed
 * to tunnel_start() at once (--mode tunnel), or after a late-splice head exchange that
 * mimics the proxy's bulk-body policy (--mode download|upload, see below).
 *
 *   it_tunnel_proxy --listen PORT --backend PORT [--fastpath auto|on|off] [--pin DIR]
 *                   [--threads N] [--budget BYTES] [--mode tunnel|download|upload]
 *                   [--no-splice] [--max-flows N] [--insert-gap-us US]
 *
 * download: reads "GET n\n" from the client, forwards it, reads the backend's "LEN n\n"
 * head (and whatever body bytes came with it), forwards them, then tunnels with
 * c2b_limit 0 and b2c_limit = the rest of the body. upload: reads "PUT n\n" and what body
 * bytes came with it, forwards them, then tunnels with c2b_limit = the rest, b2c unlimited.
 *
 * --insert-gap-us sleeps between the two sockhash inserts of a pair, so that a sender that
 * talks at once meets a peer that is not in the map yet; the tunnel then starts only once
 * the client's first bytes are there (tunnel_start forwards them before the splice, so the
 * backend is already answering when its socket goes in).
 *
 * Prints "ready" once listening. SIGUSR1 prints "stats ..." (fast-path counters and live
 * tunnels); SIGTERM/SIGINT stop it after printing the same line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "fastpath.h"
#include "log.h"
#include "tunnel.h"

enum mode { MODE_TUNNEL, MODE_DOWNLOAD, MODE_UPLOAD };

static int listen_port, backend_port, nthreads = 2;
static enum mode mode = MODE_TUNNEL;
static uint32_t insert_gap_us;
static bool no_splice;

struct worker {
	pthread_t tid;
	struct event_base *base;
	int lfd;
	struct event *accept_ev;
};

static struct worker *workers;

static void count_tunnel(const struct tunnel_info *ti, void *arg)
{
	(*(int *)arg)++;
}

static void print_stats(void)
{
	struct fastpath_stats st;
	int live = 0;

	fastpath_stats_get(&st);
	tunnel_foreach(count_tunnel, &live);
	printf("stats enabled=%d spliced=%" PRIu64 " active=%" PRIu64 " kbytes_c2b=%" PRIu64
	       " kbytes_b2c=%" PRIu64 " fb_insert=%" PRIu64 " fb_state=%" PRIu64
	       " fb_budget=%" PRIu64 " fb_dup=%" PRIu64 " relayed=%" PRIu64 " canary=%d live=%d\n",
	       fastpath_enabled(), st.flows_spliced, st.flows_active, st.bytes_c2b, st.bytes_b2c,
	       st.fallback_insert, st.fallback_state, st.fallback_budget, st.fallback_dup,
	       st.relayed_bytes, st.canary_ok, live);
	fflush(stdout);
}

static void done_cb(void *arg, const struct tunnel_result *r)
{
	if (r->error)
		log_debug("tunnel done: c2b %" PRIu64 " b2c %" PRIu64 " spliced %d error %s",
			  r->c2b_bytes, r->b2c_bytes, r->spliced, strerror(r->error));
}

static int connect_backend(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(backend_port),
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

/* Blocking helpers for the head exchange (5 s each), on non-blocking sockets. */
static int wait_io(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, 5000) == 1 ? 0 : -1;
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EAGAIN) {
			if (wait_io(fd, POLLOUT))
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read until a '\n' is in buf (one read may bring more). Returns bytes read or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap - 1) {
		ssize_t n;

		if (wait_io(fd, POLLIN))
			return -1;
		n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (memchr(buf, '\n', got))
			return (ssize_t)got;
	}
	return -1;
}

/* Late splice: exchange the heads in userspace, return the tunnel's limits. */
static int head_exchange(int cfd, int bfd, struct tunnel_spec *s)
{
	char buf[4096];
	unsigned long long n;
	ssize_t got, body;
	char *nl;

	got = read_head(cfd, buf, sizeof(buf));
	if (got < 0 || write_all(bfd, buf, (size_t)got))
		return -1;
	nl = strchr(buf, '\n');
	body = got - (nl + 1 - buf);
	if (mode == MODE_UPLOAD) {
		if (sscanf(buf, "PUT %llu", &n) != 1 || (unsigned long long)body > n)
			return -1;
		s->c2b_limit = n - (unsigned long long)body;
		s->b2c_limit = TUNNEL_UNLIMITED;
		return 0;
	}
	got = read_head(bfd, buf, sizeof(buf));
	if (got < 0 || write_all(cfd, buf, (size_t)got))
		return -1;
	nl = strchr(buf, '\n');
	body = got - (nl + 1 - buf);
	if (sscanf(buf, "LEN %llu", &n) != 1 || (unsigned long long)body > n)
		return -1;
	s->c2b_limit = 0;
	s->b2c_limit = n - (unsigned long long)body;
	return 0;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct worker *w = arg;

	for (int k = 0; k < 64; k++) {
		struct tunnel_spec s = { .c2b_limit = TUNNEL_UNLIMITED,
					 .b2c_limit = TUNNEL_UNLIMITED,
					 .try_splice = !no_splice, .frontend_id = 1,
					 .backend_id = 2 };
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), bfd;

		if (cfd < 0)
			return;
		bfd = connect_backend();
		if (bfd < 0) {
			log_warn("tunnel_proxy: backend connect: %s", strerror(errno));
			close(cfd);
			continue;
		}
		fcntl(bfd, F_SETFL, fcntl(bfd, F_GETFL) | O_NONBLOCK);
		snprintf(s.frontend, sizeof(s.frontend), "frontend-test");
		snprintf(s.backend, sizeof(s.backend), "backend-test");
		s.client_fd = cfd;
		s.backend_fd = bfd;
		if (mode == MODE_TUNNEL && insert_gap_us)
			wait_io(cfd, POLLIN);
		if (mode != MODE_TUNNEL && head_exchange(cfd, bfd, &s)) {
			log_warn("tunnel_proxy: head exchange failed");
			close(cfd);
			close(bfd);
			continue;
		}
		tunnel_start(w->base, &s, done_cb, NULL);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	tunnel_thread_fini(w->base);
	return NULL;
}

static void sig_cb(evutil_socket_t sig, short what, void *arg)
{
	print_stats();
	if (sig == SIGUSR1)
		return;
	for (int i = 0; i < nthreads; i++)
		event_base_loopbreak(workers[i].base);
}

static int make_listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(listen_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 4096) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct fastpath_opts o = { .mode = FASTPATH_AUTO };
	struct event *sigs[3];
	char err[512] = "";
	struct event_config *cfg;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-splice")) {
			no_splice = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--listen"))
			listen_port = atoi(v);
		else if (!strcmp(a, "--backend"))
			backend_port = atoi(v);
		else if (!strcmp(a, "--threads"))
			nthreads = atoi(v);
		else if (!strcmp(a, "--pin"))
			o.pin_dir = v;
		else if (!strcmp(a, "--budget"))
			o.flow_budget = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--insert-gap-us"))
			o.insert_gap_us = insert_gap_us = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--max-flows"))
			o.max_flows = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--fastpath")) {
			if (fastpath_parse_mode(v, &o.mode)) {
				fprintf(stderr, "--fastpath: auto, on or off\n");
				return 2;
			}
		} else if (!strcmp(a, "--mode")) {
			mode = !strcmp(v, "download") ? MODE_DOWNLOAD :
			       !strcmp(v, "upload") ? MODE_UPLOAD : MODE_TUNNEL;
		} else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	if (!listen_port || !backend_port || nthreads < 1) {
		fprintf(stderr, "usage: %s --listen PORT --backend PORT [options]\n", argv[0]);
		return 2;
	}
	log_set_level(getenv("TUNNEL_PROXY_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	if (fastpath_init(&o, err, sizeof(err))) {
		fprintf(stderr, "tunnel_proxy: %s\n", err);
		return 1;
	}
	workers = calloc((size_t)nthreads, sizeof(*workers));
	cfg = event_config_new();
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	for (int i = 0; i < nthreads; i++) {
		struct worker *w = &workers[i];

		w->base = event_base_new_with_config(cfg);
		w->lfd = make_listener();
		if (!w->base || w->lfd < 0) {
			fprintf(stderr, "tunnel_proxy: listen on 127.0.0.1:%d: %s\n", listen_port,
				strerror(errno));
			return 1;
		}
		w->accept_ev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, accept_cb, w);
		event_add(w->accept_ev, NULL);
	}
	event_config_free(cfg);
	sigs[0] = evsignal_new(workers[0].base, SIGUSR1, sig_cb, NULL);
	sigs[1] = evsignal_new(workers[0].base, SIGTERM, sig_cb, NULL);
	sigs[2] = evsignal_new(workers[0].base, SIGINT, sig_cb, NULL);
	for (int i = 0; i < 3; i++)
		event_add(sigs[i], NULL);
	printf("ready fastpath=%s\n", fastpath_enabled() ? "on" : "off");
	fflush(stdout);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(workers[i].tid, NULL);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	for (int i = 0; i < nthreads; i++) {
		event_free(workers[i].accept_ev);
		close(workers[i].lfd);
		event_base_free(workers[i].base);
	}
	free(workers);
	fastpath_fini();
	return 0;
}
