// SPDX-License-Identifier: MIT
/*
 * config: Traefik 1.7's command line, table-driven.
 *
 * One table lists every flag with its type, where it lands in struct config, its section
 * and its help text; parsing, defaults and --help all come from it, so --help cannot drift
 * from what is accepted. Semantics follow Traefik (flaeg): names case-insensitive, values
 * not; setting a section's sub-flag (--docker.swarmMode) turns the section (--docker) on.
 * Unlike flaeg, "--flag value" works for values containing '-' too.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "version.h"

enum flag_kind {
	F_BOOL,		/* bool; bare flag = true */
	F_STR,		/* char[size] */
	F_INT,		/* int */
	F_DUR,		/* double seconds */
	F_SIZE,		/* uint64_t bytes */
	F_ENTRYPOINT,	/* --entryPoints, repeatable */
	F_EPLIST,	/* --defaultEntryPoints, comma list, repeat appends */
	F_LOGLEVEL,
	F_FPMODE,
	F_UNSUPPORTED,	/* known Traefik flag we reject with a reason */
};

struct flag {
	const char *name;	/* canonical spelling; matched case-insensitively */
	enum flag_kind kind;
	size_t off;		/* offset in struct config */
	size_t size;		/* for F_STR */
	long section;		/* offset of the section's bool, or -1 */
	const char *help;
};

#define OFF(f) offsetof(struct config, f)
#define NOSEC (-1L)

static const struct flag flags[] = {
	{ "entryPoints", F_ENTRYPOINT, 0, 0, NOSEC,
	  "entry point, repeatable: 'Name:http Address::80' (default http on :80)" },
	{ "defaultEntryPoints", F_EPLIST, 0, 0, NOSEC,
	  "entry points of frontends that name none (default http)" },
	{ "api", F_BOOL, OFF(api), 0, NOSEC, "serve the API and dashboard on its entry point" },
	{ "api.entryPoint", F_STR, OFF(api_entrypoint), CONFIG_NAME_MAX, OFF(api),
	  "entry point of the API (default traefik, :8080)" },
	{ "api.dashboard", F_BOOL, OFF(api_dashboard), 0, OFF(api), "serve /dashboard/ (default true)" },
	{ "api.statistics.recentErrors", F_INT, OFF(api_recent_errors), 0, OFF(api),
	  "recent errors kept for /health (default 10)" },
	{ "ping", F_BOOL, OFF(ping), 0, NOSEC, "serve /ping on its entry point" },
	{ "ping.entryPoint", F_STR, OFF(ping_entrypoint), CONFIG_NAME_MAX, OFF(ping),
	  "entry point of /ping (default traefik)" },
	{ "metrics.prometheus", F_BOOL, OFF(metrics_prometheus), 0, NOSEC,
	  "serve /metrics in Prometheus text format" },
	{ "metrics.prometheus.entryPoint", F_STR, OFF(metrics_entrypoint), CONFIG_NAME_MAX,
	  OFF(metrics_prometheus), "entry point of /metrics (default traefik)" },
	{ "file", F_BOOL, OFF(file), 0, NOSEC, "enable the file provider" },
	{ "file.filename", F_STR, OFF(file_filename), PATH_MAX, OFF(file),
	  "JSON file with frontends and backends (Traefik 1.7 dynamic configuration)" },
	{ "file.watch", F_BOOL, OFF(file_watch), 0, OFF(file), "reload the file on change (default true)" },
	{ "docker", F_BOOL, OFF(docker.enabled), 0, NOSEC, "enable the Docker provider" },
	{ "docker.endpoint", F_STR, OFF(docker.endpoint), sizeof(((struct docker_opts *)0)->endpoint),
	  OFF(docker.enabled), "Docker API (default unix:///var/run/docker.sock; tcp://host:port)" },
	{ "docker.swarmMode", F_BOOL, OFF(docker.swarm_mode), 0, OFF(docker.enabled),
	  "read Swarm services and tasks" },
	{ "docker.exposedByDefault", F_BOOL, OFF(docker.exposed_by_default), 0, OFF(docker.enabled),
	  "route services without traefik.enable (default true)" },
	{ "docker.watch", F_BOOL, OFF(docker.watch), 0, OFF(docker.enabled),
	  "follow changes (default true)" },
	{ "docker.domain", F_STR, OFF(docker.domain), sizeof(((struct docker_opts *)0)->domain),
	  OFF(docker.enabled), "default rule Host:<service>.<domain>" },
	{ "docker.network", F_STR, OFF(docker.network), sizeof(((struct docker_opts *)0)->network),
	  OFF(docker.enabled), "network whose task addresses are used (label traefik.docker.network wins)" },
	{ "docker.swarmModeRefreshSeconds", F_INT, OFF(docker.refresh_seconds), 0,
	  OFF(docker.enabled), "safety-net poll interval in seconds (default 15; events converge faster)" },
	{ "loglevel", F_LOGLEVEL, OFF(log_level), 0, NOSEC,
	  "DEBUG, INFO, WARN or ERROR (default ERROR)" },
	{ "accessLog", F_BOOL, OFF(access_log), 0, NOSEC, "write an access log (default stdout)" },
	{ "accessLog.filePath", F_STR, OFF(access_log_path), PATH_MAX, OFF(access_log),
	  "access log file" },
	{ "accessLog.format", F_STR, OFF(access_log_format), 16, OFF(access_log),
	  "common or json (default common)" },
	{ "lifecycle.graceTimeOut", F_DUR, OFF(grace_timeout), 0, NOSEC,
	  "time in-flight requests get after SIGTERM (default 10s)" },
	{ "graceTimeOut", F_DUR, OFF(grace_timeout), 0, NOSEC, "deprecated: lifecycle.graceTimeOut" },
	{ "lifecycle.requestAcceptGraceTimeout", F_DUR, OFF(request_accept_grace), 0, NOSEC,
	  "keep accepting this long after SIGTERM (/ping answers 503) (default 0)" },
	{ "respondingTimeouts.readTimeout", F_DUR, OFF(read_timeout), 0, NOSEC,
	  "max time from the first byte of a request head to its end; then the connection "
	  "is closed (default 0 = none)" },
	{ "respondingTimeouts.writeTimeout", F_DUR, OFF(write_timeout), 0, NOSEC,
	  "max time from a request head to the end of its response; then the connection "
	  "is closed (default 0 = none)" },
	{ "respondingTimeouts.idleTimeout", F_DUR, OFF(idle_timeout), 0, NOSEC,
	  "close idle client keep-alive connections after (default 180s)" },
	{ "idleTimeout", F_DUR, OFF(idle_timeout), 0, NOSEC, "deprecated: respondingTimeouts.idleTimeout" },
	{ "forwardingTimeouts.dialTimeout", F_DUR, OFF(dial_timeout), 0, NOSEC,
	  "backend connect timeout, then 504 (default 30s)" },
	{ "forwardingTimeouts.responseHeaderTimeout", F_DUR, OFF(response_header_timeout), 0, NOSEC,
	  "wait this long for a backend's response head, then 504 (default 0 = none)" },
	{ "maxIdleConnsPerHost", F_INT, OFF(max_idle_conns_per_host), 0, NOSEC,
	  "idle keep-alive connections kept per backend server and worker (default 200)" },
	{ "workers", F_INT, OFF(workers), 0, NOSEC,
	  "spliced: event-loop threads (default: one per core)" },
	{ "fastpath", F_FPMODE, OFF(fastpath.mode), 0, NOSEC,
	  "spliced: kernel splice of tunnels and bulk bodies: auto, on or off (default auto)" },
	{ "fastpath.pin", F_STR, OFF(fastpath_pin), PATH_MAX, NOSEC,
	  "spliced: bpffs directory for the pinned maps (default " FASTPATH_DEFAULT_PIN_DIR ")" },
	{ "fastpath.bulkThreshold", F_SIZE, OFF(fastpath.bulk_threshold), 0, NOSEC,
	  "spliced: splice bodies announced larger than this (default 1MiB)" },
	{ "fastpath.budget", F_SIZE, OFF(fastpath.flow_budget), 0, NOSEC,
	  "spliced: bytes a spliced flow may hold in the kernel per direction for a slow reader; "
	  "past it the sender is throttled until the reader catches up (default 32MiB)" },
	{ "fastpath.congestion", F_STR, OFF(fastpath_congestion), FASTPATH_CONGESTION_MAX, NOSEC,
	  "spliced: TCP congestion control set on spliced sockets, \"system\" to keep the "
	  "host's (default " FASTPATH_DEFAULT_CONGESTION "; BBR there cut bulk splices to a third)" },
	{ "fastpath.maxFlows", F_INT, OFF(fastpath_max_flows), 0, NOSEC,
	  "spliced: flows the kernel maps hold at once; more are relayed (default 65536)" },
	{ "configFile", F_UNSUPPORTED, 0, 0, NOSEC,
	  "not supported: spliced takes its static configuration from flags only" },
	{ "debug", F_UNSUPPORTED, 0, 0, NOSEC, "not supported: use --loglevel=DEBUG" },
	{ "help", F_BOOL, OFF(show_help), 0, NOSEC, "print this help and exit" },
	{ "version", F_BOOL, OFF(show_version), 0, NOSEC, "print the version and exit" },
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->api_entrypoint, "traefik");
	c->api_dashboard = true;
	c->api_recent_errors = 10;
	strcpy(c->ping_entrypoint, "traefik");
	strcpy(c->metrics_entrypoint, "traefik");
	c->file_watch = true;
	strcpy(c->docker.endpoint, "unix:///var/run/docker.sock");
	c->docker.exposed_by_default = true;
	c->docker.watch = true;
	c->docker.refresh_seconds = 15;
	c->log_level = LOG_LVL_ERROR;
	strcpy(c->access_log_format, "common");
	c->grace_timeout = 10;
	c->idle_timeout = 180;
	c->dial_timeout = 30;
	c->max_idle_conns_per_host = 200;
	c->fastpath.mode = FASTPATH_AUTO;
	strcpy(c->fastpath_pin, FASTPATH_DEFAULT_PIN_DIR);
	c->fastpath.bulk_threshold = FASTPATH_DEFAULT_BULK;
	c->fastpath.flow_budget = FASTPATH_DEFAULT_BUDGET;
	strcpy(c->fastpath_congestion, FASTPATH_DEFAULT_CONGESTION);
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_duration(const char *s, double *out)
{
	static const struct { const char *unit; double sec; } units[] = {
		{ "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "ms", 1e-3 },
		{ "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	double total = 0;
	const char *p = s;
	char *end;

	if (!*s)
		return -EINVAL;
	/* A bare integer is seconds (Traefik's flaeg accepts that). */
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (!*end && !errno && n >= 0) {
		*out = (double)n;
		return 0;
	}
	while (*p) {
		size_t best = 0, ulen = 0;
		double v;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return -EINVAL;
		v = strtod(p, &end);
		if (end == p || v < 0)
			return -EINVAL;
		p = end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);

			if (strncmp(p, units[i].unit, l) == 0 && l > ulen) {
				best = i;
				ulen = l;
			}
		}
		if (!ulen)
			return -EINVAL;
		total += v * units[best].sec;
		p += ulen;
	}
	if (!isfinite(total) || total > 1e9)
		return -EINVAL;
	*out = total;
	return 0;
}

int config_parse_size(const char *s, unsigned long long *out)
{
	static const struct { const char *suffix; unsigned long long mul; } sfx[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1024ULL }, { "kb", 1024ULL }, { "kib", 1024ULL },
		{ "m", 1ULL << 20 }, { "mb", 1ULL << 20 }, { "mib", 1ULL << 20 },
		{ "g", 1ULL << 30 }, { "gb", 1ULL << 30 }, { "gib", 1ULL << 30 },
	};
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcasecmp(end, sfx[i].suffix) == 0) {
			if (v > UINT64_MAX / sfx[i].mul)
				return -EINVAL;
			*out = v * sfx[i].mul;
			return 0;
		}
	}
	return -EINVAL;
}

/* Split "host:port" / ":port" / "[v6]:port" and resolve numerically. */
static int parse_address(const char *addr, struct entrypoint_conf *ep, char *err, size_t errlen)
{
	char host[128];
	const char *colon, *port_s;
	char *end;
	long port;

	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':')
			return errf(err, errlen, "address \"%s\": want [IPv6]:port", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(rb - addr - 1), addr + 1);
		port_s = rb + 2;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return errf(err, errlen, "address \"%s\": want host:port or :port", addr);
		if ((size_t)(colon - addr) >= sizeof(host))
			return errf(err, errlen, "address \"%s\": host too long", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		port_s = colon + 1;
	}
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (!*port_s || *end || errno || port < 0 || port > 65535)
		return errf(err, errlen, "address \"%s\": port must be 0-65535", addr);
	ep->port = (int)port;
	memset(&ep->addr, 0, sizeof(ep->addr));
	if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ep->addr;

		/* Go listens on every address of both families for ":80"; so do we. */
		ep->any_host = !host[0];
		if (strcmp(host, "0.0.0.0") == 0) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ep->addr;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			ep->addrlen = sizeof(*s4);
			return 0;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		ep->addrlen = sizeof(*s6);
		return 0;
	}
	{
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(host, port_s, &hints, &res);

		if (rc != 0 || !res)
			return errf(err, errlen, "address \"%s\": cannot resolve \"%s\": %s", addr,
				    host, gai_strerror(rc));
		memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
		ep->addrlen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	return 0;
}

int config_parse_entrypoint(const char *value, struct entrypoint_conf *ep, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *item;
	bool have_addr = false;
	int ret;

	memset(ep, 0, sizeof(*ep));
	if (strlen(value) >= sizeof(buf))
		return errf(err, errlen, "too long");
	strcpy(buf, value);
	for (item = strtok_r(buf, " \t", &save); item; item = strtok_r(NULL, " \t", &save)) {
		char *colon = strchr(item, ':');
		const char *key = item, *val;

		if (!colon)
			return errf(err, errlen, "\"%s\": want Key:Value (e.g. Name:http Address::80)",
				    item);
		*colon = '\0';
		val = colon + 1;
		if (strcasecmp(key, "name") == 0) {
			if (!*val || strlen(val) >= CONFIG_NAME_MAX)
				return errf(err, errlen, "Name: must be 1-%d characters",
					    CONFIG_NAME_MAX - 1);
			strcpy(ep->name, val);
		} else if (strcasecmp(key, "address") == 0) {
			if (strlen(val) >= sizeof(ep->address))
				return errf(err, errlen, "Address: too long");
			strcpy(ep->address, val);
			if ((ret = parse_address(val, ep, err, errlen)))
				return ret;
			have_addr = true;
		} else if (strncasecmp(key, "tls", 3) == 0 || strcasecmp(key, "ca") == 0 ||
			   strncasecmp(key, "ca.", 3) == 0) {
			return errf(err, errlen, "%s: TLS entry points are not supported by spliced; "
				    "terminate TLS in front of it", key);
		} else {
			return errf(err, errlen, "%s: not supported by spliced (supported: Name, "
				    "Address)", key);
		}
	}
	if (!ep->name[0])
		return errf(err, errlen, "missing Name:<name>");
	if (!have_addr)
		return errf(err, errlen, "missing Address:[host]:port");
	return 0;
}

const struct entrypoint_conf *config_entrypoint(const struct config *c, const char *name)
{
	int i = config_entrypoint_index(c, name);

	return i < 0 ? NULL : &c->entrypoints[i];
}

int config_entrypoint_index(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nentrypoints; i++)
		if (strcmp(c->entrypoints[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < NFLAGS; i++)
		if (strlen(flags[i].name) == len && strncasecmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

static int set_flag(struct config *c, const struct flag *f, const char *val, char *err,
		    size_t errlen)
{
	char *base = (char *)c;
	char e2[256];
	int ret;

	switch (f->kind) {
	case F_BOOL:
		if (config_parse_bool(val, (bool *)(base + f->off)))
			return errf(err, errlen, "--%s: \"%s\" is not a boolean (true or false)",
				    f->name, val);
		break;
	case F_STR:
		if (strlen(val) >= f->size)
			return errf(err, errlen, "--%s: value longer than %zu bytes", f->name,
				    f->size - 1);
		strcpy(base + f->off, val);
		break;
	case F_INT: {
		char *end;
		long v;

		errno = 0;
		v = strtol(val, &end, 10);
		if (!*val || *end || errno || v < INT32_MIN || v > INT32_MAX)
			return errf(err, errlen, "--%s: \"%s\" is not an integer", f->name, val);
		*(int *)(base + f->off) = (int)v;
		break;
	}
	case F_DUR:
		if (config_parse_duration(val, (double *)(base + f->off)))
			return errf(err, errlen, "--%s: \"%s\" is not a duration (e.g. 10, 10s, "
				    "1m30s, 250ms)", f->name, val);
		break;
	case F_SIZE: {
		unsigned long long v;

		if (config_parse_size(val, &v))
			return errf(err, errlen, "--%s: \"%s\" is not a size (e.g. 1048576, 64KiB, "
				    "4MiB)", f->name, val);
		*(uint64_t *)(base + f->off) = v;
		break;
	}
	case F_ENTRYPOINT: {
		struct entrypoint_conf ep;

		if ((ret = config_parse_entrypoint(val, &ep, e2, sizeof(e2))))
			return errf(err, errlen, "--entryPoints \"%s\": %s", val, e2);
		if (c->nentrypoints >= CONFIG_MAX_ENTRYPOINTS)
			return errf(err, errlen, "--entryPoints: more than %d entry points",
				    CONFIG_MAX_ENTRYPOINTS);
		if (config_entrypoint(c, ep.name))
			return errf(err, errlen, "--entryPoints: entry point \"%s\" defined twice",
				    ep.name);
		c->entrypoints[c->nentrypoints++] = ep;
		break;
	}
	case F_EPLIST: {
		char buf[1024], *save = NULL, *tok;

		if (strlen(val) >= sizeof(buf))
			return errf(err, errlen, "--%s: too long", f->name);
		strcpy(buf, val);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			if (!*tok)
				continue;
			if (c->ndefault_entrypoints >= CONFIG_MAX_ENTRYPOINTS ||
			    strlen(tok) >= CONFIG_NAME_MAX)
				return errf(err, errlen, "--%s: too many or too long names", f->name);
			strcpy(c->default_entrypoints[c->ndefault_entrypoints++], tok);
		}
		break;
	}
	case F_LOGLEVEL:
		if (log_parse_level(val, (enum log_level *)(base + f->off)))
			return errf(err, errlen, "--%s: \"%s\" is not DEBUG, INFO, WARN or ERROR",
				    f->name, val);
		break;
	case F_FPMODE:
		if (fastpath_parse_mode(val, (enum fastpath_mode *)(base + f->off)))
			return errf(err, errlen, "--%s: \"%s\" is not auto, on or off", f->name, val);
		break;
	case F_UNSUPPORTED:
		return errf(err, errlen, "--%s: %s", f->name, f->help);
	}
	if (f->section >= 0)
		*(bool *)(base + f->section) = true;
	return 0;
}

static void add_default_entrypoints(struct config *c)
{
	char e[64];

	if (c->nentrypoints == 0) {
		config_parse_entrypoint("Name:http Address::80", &c->entrypoints[0], e, sizeof(e));
		c->nentrypoints = 1;
	}
	if (c->ndefault_entrypoints == 0) {
		/* Traefik's default is "http"; without one, every non-API entry point */
		if (config_entrypoint(c, "http")) {
			strcpy(c->default_entrypoints[0], "http");
			c->ndefault_entrypoints = 1;
		} else {
			for (size_t i = 0; i < c->nentrypoints; i++) {
				if (c->api && !strcmp(c->entrypoints[i].name, c->api_entrypoint))
					continue;
				strcpy(c->default_entrypoints[c->ndefault_entrypoints++],
				       c->entrypoints[i].name);
			}
		}
	}
	if (((c->api && !strcmp(c->api_entrypoint, "traefik")) ||
	     (c->ping && !strcmp(c->ping_entrypoint, "traefik")) ||
	     (c->metrics_prometheus && !strcmp(c->metrics_entrypoint, "traefik"))) &&
	    !config_entrypoint(c, "traefik") && c->nentrypoints < CONFIG_MAX_ENTRYPOINTS) {
		config_parse_entrypoint("Name:traefik Address::8080",
					&c->entrypoints[c->nentrypoints], e, sizeof(e));
		c->nentrypoints++;
	}
}

static int check_config(struct config *c, char *err, size_t errlen)
{
	if (c->api && !config_entrypoint(c, c->api_entrypoint))
		return errf(err, errlen, "--api.entryPoint: no entry point named \"%s\"",
			    c->api_entrypoint);
	if (c->ping && !config_entrypoint(c, c->ping_entrypoint))
		return errf(err, errlen, "--ping.entryPoint: no entry point named \"%s\"",
			    c->ping_entrypoint);
	if (c->metrics_prometheus && !config_entrypoint(c, c->metrics_entrypoint))
		return errf(err, errlen, "--metrics.prometheus.entryPoint: no entry point named "
			    "\"%s\"", c->metrics_entrypoint);
	for (size_t i = 0; i < c->ndefault_entrypoints; i++)
		if (!config_entrypoint(c, c->default_entrypoints[i]))
			return errf(err, errlen, "--defaultEntryPoints: no entry point named \"%s\"",
				    c->default_entrypoints[i]);
	if (c->file && !c->file_filename[0])
		return errf(err, errlen, "--file: needs --file.filename=PATH (a JSON file with "
			    "frontends and backends)");
	if (strcmp(c->access_log_format, "common") && strcmp(c->access_log_format, "json"))
		return errf(err, errlen, "--accessLog.format: \"%s\" is not common or json",
			    c->access_log_format);
	if (c->workers < 0 || c->workers > 256)
		return errf(err, errlen, "--workers: %d is not 1-256", c->workers);
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c->workers = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
	}
	if (c->docker.refresh_seconds <= 0)
		c->docker.refresh_seconds = 15;
	if (c->max_idle_conns_per_host < 0)
		return errf(err, errlen, "--maxIdleConnsPerHost: must be >= 0");
	if (c->fastpath.bulk_threshold < 65536)
		return errf(err, errlen, "--fastpath.bulkThreshold: must be at least 64KiB");
	if (c->fastpath.flow_budget < 65536)
		return errf(err, errlen, "--fastpath.budget: must be at least 64KiB");
	if (c->fastpath_max_flows < 0 || c->fastpath_max_flows > 1 << 20)
		return errf(err, errlen, "--fastpath.maxFlows: %d is not 0-1048576",
			    c->fastpath_max_flows);
	c->fastpath.max_flows = (uint32_t)c->fastpath_max_flows;
	c->fastpath.pin_dir = c->fastpath_pin;
	if (!*c->fastpath_congestion ||
	    strspn(c->fastpath_congestion, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    strlen(c->fastpath_congestion))
		return errf(err, errlen, "--fastpath.congestion: '%s' is not a congestion control "
			    "name (see net.ipv4.tcp_available_congestion_control) or \"system\"",
			    c->fastpath_congestion);
	c->fastpath.congestion = strcmp(c->fastpath_congestion, "system") ? c->fastpath_congestion : "";
	return 0;
}

enum config_parse_result config_parse(struct config *c, int argc, char **argv, char *err,
				      size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *val = NULL;
		const struct flag *f;
		size_t nlen;

		if (arg[0] != '-' || !arg[1])
			return errf(err, errlen, "unexpected argument \"%s\" (flags start with --)",
				    arg) ? CONFIG_ERROR : CONFIG_ERROR;
		if (arg[1] != '-') {
			/* Traefik's short flags. */
			static const struct { char c; const char *longname; } shorts[] = {
				{ 'l', "loglevel" }, { 'g', "graceTimeOut" }, { 'h', "help" },
				{ 'c', "configFile" }, { 'd', "debug" },
			};
			f = NULL;
			for (size_t k = 0; k < sizeof(shorts) / sizeof(shorts[0]); k++)
				if (arg[1] == shorts[k].c && !arg[2])
					f = find_flag(shorts[k].longname, strlen(shorts[k].longname));
			if (!f) {
				errf(err, errlen, "unknown flag \"%s\" (see --help)", arg);
				return CONFIG_ERROR;
			}
			name = f->name;
			nlen = strlen(name);
			eq = NULL;
		} else {
			name = arg + 2;
			eq = strchr(name, '=');
			nlen = eq ? (size_t)(eq - name) : strlen(name);
			f = find_flag(name, nlen);
			if (!f) {
				errf(err, errlen, "unknown flag \"--%.*s\" (see --help)", (int)nlen, name);
				return CONFIG_ERROR;
			}
		}
		if (eq) {
			val = eq + 1;
		} else if (f->kind == F_BOOL) {
			/* bare bool, or "--flag true|false" */
			bool b;

			if (i + 1 < argc && config_parse_bool(argv[i + 1], &b) == 0)
				val = argv[++i];
			else
				val = "true";
		} else if (f->kind != F_UNSUPPORTED) {
			if (i + 1 >= argc) {
				errf(err, errlen, "--%s: needs a value (--%s=VALUE)", f->name, f->name);
				return CONFIG_ERROR;
			}
			val = argv[++i];
		}
		if (set_flag(c, f, val ? val : "", err, errlen))
			return CONFIG_ERROR;
	}
	if (c->show_help) {
		config_usage(stdout);
		return CONFIG_EXIT_OK;
	}
	if (c->show_version) {
		printf("spliced %s (Traefik 1.7 compatible: %s)\n", SPLICED_VERSION,
		       SPLICED_TRAEFIK_VERSION);
		return CONFIG_EXIT_OK;
	}
	add_default_entrypoints(c);
	if (check_config(c, err, errlen))
		return CONFIG_ERROR;
	return CONFIG_OK;
}

void config_usage(FILE *out)
{
	fprintf(out,
		"spliced %s: HTTP load balancer for Docker Swarm, Traefik 1.7 compatible,\n"
		"with an eBPF sockmap fast path for tunnels and bulk transfers.\n\n"
		"Usage: spliced [flags]\n"
		"       spliced flows [--fastpath.pin DIR] [--json] [--stats]\n"
		"                                    list live flows from the pinned maps\n\n"
		"Flags (names are case-insensitive; --flag=value or --flag value; booleans may\n"
		"be bare; setting any --section.x flag turns --section on):\n",
		SPLICED_VERSION);
	for (size_t i = 0; i < NFLAGS; i++) {
		const struct flag *f = &flags[i];
		const char *arg = "";

		switch (f->kind) {
		case F_STR: case F_ENTRYPOINT: case F_EPLIST: arg = "=VALUE"; break;
		case F_INT: arg = "=N"; break;
		case F_DUR: arg = "=DURATION"; break;
		case F_SIZE: arg = "=BYTES"; break;
		case F_LOGLEVEL: arg = "=LEVEL"; break;
		case F_FPMODE: arg = "=MODE"; break;
		default: break;
		}
		fprintf(out, "  --%s%s\n      %s\n", f->name, arg, f->help);
	}
	fprintf(out,
		"\nShort flags: -l LEVEL (--loglevel), -g DURATION (--graceTimeOut), -h (--help).\n"
		"Signals: SIGTERM/SIGINT drain in-flight requests (up to --lifecycle.graceTimeOut)\n"
		"and exit 0; SIGHUP reloads the file provider.\n"
		"Exit status: 0 clean exit, 1 start-up failure, 2 bad command line.\n");
}
