// SPDX-License-Identifier: MIT
/*
 * main: start-up, signals and orderly shutdown.
 *
 * Order matters: flags -> logging -> fast path (may refuse to start in mode "on") ->
 * routing snapshot -> file provider (a bad file fails start-up) -> listeners (a busy
 * port fails start-up) -> API -> Docker provider -> worker threads. The main thread then
 * runs its own event loop for signals, the file watcher and the API. SIGTERM/SIGINT drain:
 * listeners close, in-flight requests finish (up to --lifecycle.graceTimeOut), exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "accesslog.h"
#include "api.h"
#include "config.h"
#include "dynconf.h"
#include "fastpath.h"
#include "flows_cli.h"
#include "log.h"
#include "model.h"
#include "provider_docker.h"
#include "provider_file.h"
#include "stats.h"
#include "version.h"
#include "worker.h"

struct daemon {
	struct config cfg;
	struct event_base *base;
	struct worker *workers;
	struct event *sig_term, *sig_int, *sig_hup, *sig_usr1, *drain_timer, *grace_timer;
	bool stopping;
	double drain_started;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Entry points the workers listen on (bit i = entry point i): api.c serves none of them. */
static uint32_t workers_entrypoints(const struct worker *w)
{
	uint32_t mask = 0;

	for (size_t i = 0; w && i < w->nlisteners; i++)
		if (w->listeners[i].ep >= 0 && w->listeners[i].ep < 32)
			mask |= 1u << w->listeners[i].ep;
	return mask;
}

/* libevent's own messages go through log.c, so every stderr line has one format. */
static void libevent_log(int severity, const char *msg)
{
	enum log_level lvl = severity == EVENT_LOG_DEBUG ? LOG_LVL_DEBUG :
			     severity == EVENT_LOG_MSG ? LOG_LVL_INFO :
			     severity == EVENT_LOG_WARN ? LOG_LVL_WARN : LOG_LVL_ERROR;

	log_msg(lvl, "libevent: %s", msg);
}

static void docker_publish(struct dynconf *dc, void *arg)
{
	char err[512];

	(void)arg;
	if (model_publish(dc, err, sizeof(err))) {
		log_error("docker provider: configuration rejected: %s", err);
		stats_config_reload_failed();
	}
}

/* While draining: exit as soon as every worker is done, or at the grace deadline. */
static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	bool all = true;

	(void)fd;
	(void)what;
	for (int i = 0; i < d->cfg.workers; i++)
		if (!d->workers[i].exited)
			all = false;
	if (all) {
		event_base_loopbreak(d->base);
		return;
	}
	if (now_s() - d->drain_started >= d->cfg.grace_timeout) {
		log_warn("grace time (%.0fs) is over: closing the remaining connections",
			 d->cfg.grace_timeout);
		workers_command(d->workers, d->cfg.workers, WORKER_CMD_STOP);
	}
}

static void begin_drain(struct daemon *d)
{
	struct timeval tv = { 0, 20 * 1000 };

	log_info("shutting down: no new connections, in-flight requests get up to %.0fs",
		 d->cfg.grace_timeout);
	api_set_terminating(false);
	api_stop();
	workers_command(d->workers, d->cfg.workers, WORKER_CMD_DRAIN);
	d->drain_started = now_s();
	d->drain_timer = event_new(d->base, -1, EV_PERSIST, on_drain_check, d);
	if (d->drain_timer)
		event_add(d->drain_timer, &tv);
	else
		event_base_loopbreak(d->base);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	begin_drain(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading the file provider");
		provider_file_reload();
		return;
	}
	if (sig == SIGUSR1) {
		log_info("SIGUSR1: reopening the access log");
		accesslog_reopen();
		return;
	}
	if (d->stopping) {
		log_warn("second signal: exiting now");
		workers_command(d->workers, d->cfg.workers, WORKER_CMD_STOP);
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = true;
	if (d->cfg.request_accept_grace > 0) {
		struct timeval tv = { (time_t)d->cfg.request_accept_grace,
				      (suseconds_t)((d->cfg.request_accept_grace -
						     (double)(time_t)d->cfg.request_accept_grace) * 1e6) };

		log_info("%s: still accepting for %.1fs (/ping answers 503)", strsignal((int)sig),
			 d->cfg.request_accept_grace);
		api_set_terminating(true);
		d->grace_timer = evtimer_new(d->base, on_grace, d);
		if (d->grace_timer && !evtimer_add(d->grace_timer, &tv))
			return;
	}
	begin_drain(d);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	enum config_parse_result pr;
	char err[1024];
	int ret = 1;

	if (argc > 1 && strcmp(argv[1], "flows") == 0)
		return flows_cli_main(argc - 1, argv + 1);

	config_init(&d.cfg);
	pr = config_parse(&d.cfg, argc, argv, err, sizeof(err));
	if (pr == CONFIG_EXIT_OK)
		return 0;
	if (pr == CONFIG_ERROR) {
		log_error("%s", err);
		return 2;
	}
	log_set_level(d.cfg.log_level);
	event_set_log_callback(libevent_log);
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads()) {
		log_error("libevent has no pthreads support");
		return 1;
	}
	d.base = event_base_new();
	if (!d.base) {
		log_error("event_base_new failed");
		return 1;
	}
	if (fastpath_init(&d.cfg.fastpath, err, sizeof(err))) {
		log_error("--fastpath=on: %s", err);
		goto out;
	}
	model_setup(&d.cfg);
	if (stats_init(&d.cfg, d.base, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	if (d.cfg.file && provider_file_start(d.base, &d.cfg, err, sizeof(err))) {
		log_error("file provider: %s", err);
		goto out;
	}
	if (workers_create(&d.cfg, &d.workers, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	if (api_start(d.base, &d.cfg, workers_entrypoints(d.workers), err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	if (d.cfg.docker.enabled && docker_provider_start(&d.cfg.docker, docker_publish, NULL)) {
		log_error("docker provider failed to start (see the log above)");
		goto out;
	}
	d.sig_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.sig_int = evsignal_new(d.base, SIGINT, on_signal, &d);
	d.sig_hup = evsignal_new(d.base, SIGHUP, on_signal, &d);
	d.sig_usr1 = evsignal_new(d.base, SIGUSR1, on_signal, &d);
	if (!d.sig_term || !d.sig_int || !d.sig_hup || !d.sig_usr1 ||
	    evsignal_add(d.sig_term, NULL) || evsignal_add(d.sig_int, NULL) ||
	    evsignal_add(d.sig_hup, NULL) || evsignal_add(d.sig_usr1, NULL)) {
		log_error("cannot install signal handlers");
		goto out;
	}
	if (workers_start(d.workers, d.cfg.workers))
		goto out;
	for (size_t i = 0; i < d.cfg.nentrypoints; i++)
		log_info("entry point %s listening on %s", d.cfg.entrypoints[i].name,
			 d.cfg.entrypoints[i].address);
	log_info("spliced %s started: %d workers, fast path %s", SPLICED_VERSION, d.cfg.workers,
		 fastpath_enabled() ? "on" : "off");
	event_base_dispatch(d.base);
	if (!workers_wait(d.workers, d.cfg.workers, 2.0))
		log_warn("a worker did not stop in time");
	ret = 0;
	log_info("stopped");
out:
	docker_provider_stop();
	provider_file_stop();
	api_stop();
	if (d.workers)
		workers_destroy(d.workers, d.cfg.workers);
	stats_fini();
	if (d.sig_term)
		event_free(d.sig_term);
	if (d.sig_int)
		event_free(d.sig_int);
	if (d.sig_hup)
		event_free(d.sig_hup);
	if (d.sig_usr1)
		event_free(d.sig_usr1);
	if (d.drain_timer)
		event_free(d.drain_timer);
	if (d.grace_timer)
		event_free(d.grace_timer);
	model_shutdown();
	fastpath_fini();
	event_base_free(d.base);
	return ret;
}
