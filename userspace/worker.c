// SPDX-License-Identifier: MIT
/*
 * worker: event-loop threads, their listeners and their housekeeping.
 *
 * Listeners are created in the main thread before any worker starts (one SO_REUSEPORT
 * socket per entry point per worker), so a port already in use fails start-up with a
 * clear message instead of a silent half-started daemon. The kernel spreads new
 * connections over the workers' sockets; each connection then stays on one thread.
 * The main thread talks to workers only through an atomic command and an eventfd doorbell.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api.h"
#include "log.h"
#include "proxy.h"
#include "tunnel.h"
#include "upstream.h"
#include "worker.h"

#define ACCEPT_BATCH 64
#define TICK_MS 100
#define POOL_IDLE_MS (90 * 1000)	/* Go's IdleConnTimeout, as Traefik's transport */

uint64_t worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int worker_event_want(struct event *ev, bool *on, bool want)
{
	if (want == *on)
		return 0;
	*on = want;
	return want ? event_add(ev, NULL) : event_del(ev);
}

int worker_listen_socket(const struct entrypoint_conf *ep, char *err, size_t errlen)
{
	struct sockaddr_storage addr = ep->addr;
	socklen_t alen = ep->addrlen;
	int one = 1, zero = 0, fd;

	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0 && ep->any_host && addr.ss_family == AF_INET6 && errno == EAFNOSUPPORT) {
		/* no IPv6 on this host: listen on every IPv4 address instead */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&addr;

		memset(&addr, 0, sizeof(addr));
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)ep->port);
		alen = sizeof(*s4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	}
	if (fd < 0) {
		snprintf(err, errlen, "entry point %s: socket: %s", ep->name, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* accepted sockets inherit it: one syscall less per connection */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&addr, alen) < 0) {
		snprintf(err, errlen, "entry point %s: cannot listen on %s: %s%s", ep->name,
			 ep->address, strerror(errno),
			 errno == EADDRINUSE ? " (another process uses that port; pick another "
					       "with --entryPoints)" :
			 errno == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" :
			 "");
		close(fd);
		return -1;
	}
	if (listen(fd, 4096) < 0) {
		snprintf(err, errlen, "entry point %s: listen: %s", ep->name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct accept_ctx {
	struct worker *w;
	struct listener *l;
};

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct accept_ctx *ac = arg;
	struct worker *w = ac->w;

	(void)what;
	w->now_ms = worker_now_ms();
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				static __thread uint64_t last;

				if (w->now_ms - last > 5000) {
					log_error("accept on %s: %s; raise the open-files limit "
						  "(ulimit -n)", w->cfg->entrypoints[ac->l->ep].name,
						  strerror(errno));
					last = w->now_ms;
				}
				return;
			}
			log_warn("accept: %s", strerror(errno));
			return;
		}
		proxy_client_new(w, cfd, ac->l->ep, (struct sockaddr *)&peer, plen);
	}
}

static void close_listeners(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct listener *l = &w->listeners[i];

		if (l->ev) {
			free(event_get_callback_arg(l->ev));
			event_free(l->ev);
			l->ev = NULL;
		}
		if (l->fd >= 0) {
			close(l->fd);
			l->fd = -1;
		}
	}
}

static void maybe_exit(struct worker *w)
{
	if (w->draining && !w->nclients && !proxy_live_tunnels() && !w->exited) {
		w->exited = true;
		event_base_loopbreak(w->base);
	}
}

static void on_cmd(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t n;
	int cmd = atomic_exchange(&w->cmd, WORKER_CMD_NONE);

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: already consumed; the command is in w->cmd either way */
	}
	(void)what;
	w->now_ms = worker_now_ms();
	if (cmd == WORKER_CMD_DRAIN && !w->draining) {
		/* drain the accept queues one last time, then stop listening */
		for (size_t i = 0; i < w->nlisteners; i++) {
			struct listener *l = &w->listeners[i];

			if (l->ev)
				accept_cb(l->fd, EV_READ, event_get_callback_arg(l->ev));
		}
		w->draining = true;
		close_listeners(w);
		proxy_drain(w);
		upstream_pool_expire(w, 0);
		maybe_exit(w);
	} else if (cmd == WORKER_CMD_STOP) {
		w->draining = true;
		close_listeners(w);
		proxy_close_all(w);
		upstream_pool_expire(w, 0);
		w->exited = true;
		event_base_loopbreak(w->base);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->now_ms = worker_now_ms();
	proxy_tick(w);
	upstream_pool_expire(w, POOL_IDLE_MS);
	maybe_exit(w);
}

int workers_create(const struct config *cfg, struct worker **out, char *err, size_t errlen)
{
	struct worker *ws;
	int n = cfg->workers;

	ws = calloc((size_t)n, sizeof(*ws));
	if (!ws) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct worker *w = &ws[i];

		w->id = i;
		w->cfg = cfg;
		w->cmd_fd = -1;
		atomic_init(&w->cmd, WORKER_CMD_NONE);
		model_cache_init(&w->mc);
		if (gethostname(w->hostname, sizeof(w->hostname)) < 0)
			strcpy(w->hostname, "spliced");
		w->hostname[sizeof(w->hostname) - 1] = '\0';
		{
			/*
			 * Nothing but this thread touches the base (commands arrive through an
			 * eventfd), so it needs no lock on every event_add and dispatch.
			 */
			struct event_config *ec = event_config_new();

			if (ec)
				event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
			w->base = ec ? event_base_new_with_config(ec) : NULL;
			if (ec)
				event_config_free(ec);
		}
		w->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (!w->base || w->cmd_fd < 0) {
			snprintf(err, errlen, "event_base_new failed");
			goto fail;
		}
		w->listeners = calloc(cfg->nentrypoints, sizeof(*w->listeners));
		if (!w->listeners) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (size_t e = 0; e < cfg->nentrypoints; e++) {
			struct listener *l = &w->listeners[w->nlisteners];
			struct accept_ctx *ac;

			/* the API entry point is served by the main thread (api.c) */
			if (api_owns_entrypoint(cfg, (int)e))
				continue;
			l->ep = (int)e;
			l->fd = worker_listen_socket(&cfg->entrypoints[e], err, errlen);
			if (l->fd < 0)
				goto fail;
			ac = calloc(1, sizeof(*ac));
			if (!ac) {
				close(l->fd);
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			ac->w = w;
			ac->l = l;
			l->ev = event_new(w->base, l->fd, EV_READ | EV_PERSIST, accept_cb, ac);
			if (!l->ev || event_add(l->ev, NULL)) {
				free(ac);
				close(l->fd);
				snprintf(err, errlen, "event_add failed");
				goto fail;
			}
			w->nlisteners++;
		}
		w->cmd_ev = event_new(w->base, w->cmd_fd, EV_READ | EV_PERSIST, on_cmd, w);
		w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
		{
			struct timeval tv = { 0, TICK_MS * 1000 };

			if (!w->cmd_ev || !w->tick_ev || event_add(w->tick_ev, &tv) ||
			    event_add(w->cmd_ev, NULL)) {
				snprintf(err, errlen, "event setup failed");
				goto fail;
			}
		}
	}
	*out = ws;
	return 0;
fail:
	workers_destroy(ws, n);
	return -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "spliced-w%d", w->id);
	pthread_setname_np(pthread_self(), name);
	w->now_ms = worker_now_ms();
	event_base_dispatch(w->base);
	w->exited = true;
	/* thread-local recycling lists live here: free them on this thread */
	close_listeners(w);
	proxy_worker_fini(w);
	upstream_pool_expire(w, 0);
	tunnel_thread_fini(w->base);
	return NULL;
}

int workers_start(struct worker *ws, int n)
{
	for (int i = 0; i < n; i++) {
		int ret = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);

		if (ret) {
			log_error("cannot start worker thread: %s", strerror(ret));
			return -ret;
		}
	}
	return 0;
}

void workers_command(struct worker *ws, int n, enum worker_cmd cmd)
{
	for (int i = 0; i < n; i++) {
		atomic_store(&ws[i].cmd, cmd);
		uint64_t one = 1;

		if (write(ws[i].cmd_fd, &one, sizeof(one)) < 0)
			log_error("worker %d: cannot send a command: %s", i, strerror(errno));
	}
}

bool workers_wait(struct worker *ws, int n, double timeout_s)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (int i = 0; i < n; i++) {
		if (!ws[i].thread)
			continue;
		if (pthread_timedjoin_np(ws[i].thread, NULL, &deadline))
			return false;
		ws[i].thread = 0;
	}
	return true;
}

void workers_destroy(struct worker *ws, int n)
{
	if (!ws)
		return;
	for (int i = 0; i < n; i++) {
		struct worker *w = &ws[i];

		if (w->thread)
			continue;	/* still running: leave it to process exit */
		if (w->base) {
			close_listeners(w);
			if (w->cmd_ev)
				event_free(w->cmd_ev);
			if (w->cmd_fd >= 0)
				close(w->cmd_fd);
			if (w->tick_ev)
				event_free(w->tick_ev);
			event_base_free(w->base);
		}
		model_cache_fini(&w->mc);
		free(w->listeners);
	}
	free(ws);
}
