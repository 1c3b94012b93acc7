/* SPDX-License-Identifier: MIT */
/*
 * config: the static configuration (command line, Traefik 1.7 flag names) as one struct.
 * Parsed once at start-up; read-only afterwards. Dynamic configuration (frontends,
 * backends) comes from providers instead: see dynconf.h and model.h.
 */
#ifndef SPLICED_CONFIG_H
#define SPLICED_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "fastpath.h"
#include "log.h"
#include "provider_docker.h"

#define CONFIG_MAX_ENTRYPOINTS	16
#define CONFIG_NAME_MAX		64

struct entrypoint_conf {
	char name[CONFIG_NAME_MAX];
	char address[128];		/* as given: ":80", "127.0.0.1:8080", "[::1]:80" */
	struct sockaddr_storage addr;	/* resolved; [::] (dual stack) when the host is empty */
	socklen_t addrlen;
	bool any_host;			/* no host given: fall back to 0.0.0.0 without IPv6 */
	int port;
};

struct config {
	struct entrypoint_conf entrypoints[CONFIG_MAX_ENTRYPOINTS];
	size_t nentrypoints;
	char default_entrypoints[CONFIG_MAX_ENTRYPOINTS][CONFIG_NAME_MAX];
	size_t ndefault_entrypoints;

	bool api;				/* --api */
	char api_entrypoint[CONFIG_NAME_MAX];	/* --api.entryPoint, "traefik" */
	bool api_dashboard;			/* --api.dashboard, true */
	int api_recent_errors;			/* --api.statistics.recentErrors, 10 */
	bool ping;				/* --ping */
	char ping_entrypoint[CONFIG_NAME_MAX];
	bool metrics_prometheus;		/* --metrics.prometheus */
	char metrics_entrypoint[CONFIG_NAME_MAX];

	bool file;				/* --file */
	char file_filename[PATH_MAX];		/* --file.filename */
	bool file_watch;			/* --file.watch, true */

	struct docker_opts docker;

	enum log_level log_level;		/* --loglevel, ERROR */
	bool access_log;			/* --accessLog */
	char access_log_path[PATH_MAX];		/* --accessLog.filePath ("" = stdout) */
	char access_log_format[16];		/* common | json */

	double grace_timeout;			/* --lifecycle.graceTimeOut, 10 s */
	double request_accept_grace;		/* --lifecycle.requestAcceptGraceTimeout, 0 */
	double read_timeout;			/* --respondingTimeouts.readTimeout, 0 = none */
	double write_timeout;			/* --respondingTimeouts.writeTimeout, 0 = none */
	double idle_timeout;			/* --respondingTimeouts.idleTimeout, 180 s */
	double dial_timeout;			/* --forwardingTimeouts.dialTimeout, 30 s */
	double response_header_timeout;		/* --forwardingTimeouts.responseHeaderTimeout, 0 */
	int max_idle_conns_per_host;		/* --maxIdleConnsPerHost, 200 */

	int workers;				/* --workers, one event loop per core */
	struct fastpath_opts fastpath;		/* --fastpath, --fastpath.* */
	char fastpath_pin[PATH_MAX];
	char fastpath_congestion[FASTPATH_CONGESTION_MAX];	/* --fastpath.congestion */
	int fastpath_max_flows;			/* --fastpath.maxFlows, 0 = default */

	bool show_help, show_version;
};

enum config_parse_result {
	CONFIG_OK = 0,
	CONFIG_EXIT_OK,		/* --help / --version printed: exit 0 */
	CONFIG_ERROR,		/* message in err: exit 2 */
};

/* Fill defaults. */
void config_init(struct config *c);

/*
 * Parse argv (argv[0] skipped) into c, after config_init(). Flag names are case-insensitive;
 * values keep their case; "--flag=value" and "--flag value" both work; bools also bare.
 * On error, err names the flag and the problem. Adds the default entry points afterwards
 * (http on :80 when none was given; traefik on :8080 when the API, ping or metrics use it).
 */
enum config_parse_result config_parse(struct config *c, int argc, char **argv, char *err,
				      size_t errlen);

/* Print --help to f. */
void config_usage(FILE *f);

/* Entry point by name, or NULL. */
const struct entrypoint_conf *config_entrypoint(const struct config *c, const char *name);
int config_entrypoint_index(const struct config *c, const char *name);

/* Parse "Name:http Address::80" into ep. 0 or -EINVAL with err set. */
int config_parse_entrypoint(const char *value, struct entrypoint_conf *ep, char *err, size_t errlen);
/* "10", "10s", "1m30s", "250ms" -> seconds. 0 or -EINVAL. */
int config_parse_duration(const char *s, double *out);
/* Go ParseBool. 0 or -EINVAL. */
int config_parse_bool(const char *s, bool *out);
/* "1048576", "64k", "4MiB", "1G" -> bytes. 0 or -EINVAL. */
int config_parse_size(const char *s, unsigned long long *out);

#endif
