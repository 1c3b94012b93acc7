// SPDX-License-Identifier: MIT
/* Unit tests: command-line flags (Traefik 1.7 names and semantics). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "unit.h"

static enum config_parse_result parse(struct config *c, char *err, size_t errlen, ...)
{
	char *argv[32] = { "spliced" };
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, errlen);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	config_init(c);
	err[0] = '\0';
	return config_parse(c, argc, argv, err, errlen);
}

#define P(c, ...) parse(c, err, sizeof(err), __VA_ARGS__, (char *)NULL)

int main(void)
{
	static struct config c;
	char err[512];
	double d;
	bool b;
	unsigned long long sz;

	unit_begin("config");

	CHECK_EQ_INT(P(&c, "--loglevel=INFO"), CONFIG_OK, "defaults parse");
	CHECK_EQ_INT(c.nentrypoints, 1, "default: one entry point");
	CHECK_EQ_STR(c.entrypoints[0].name, "http", "default entry point is http");
	CHECK_EQ_INT(c.entrypoints[0].port, 80, "default http port 80");
	CHECK_EQ_STR(c.default_entrypoints[0], "http", "defaultEntryPoints = http");
	CHECK(!c.api && !c.docker.enabled && !c.file, "sections off by default");
	CHECK(c.grace_timeout == 10 && c.idle_timeout == 180 && c.dial_timeout == 30,
	      "timeouts default to Traefik's 10s / 180s / 30s");
	CHECK(c.workers >= 1, "workers default to the core count (%d)", c.workers);

	/* the seed's command line */
	CHECK_EQ_INT(P(&c, "--api", "--docker", "--docker.swarmMode",
		       "--docker.exposedbydefault=false"), CONFIG_OK, "seed command line parses");
	CHECK(c.api && c.docker.enabled && c.docker.swarm_mode && !c.docker.exposed_by_default,
	      "seed flags set api, docker, swarmMode, exposedByDefault=false");
	CHECK_EQ_INT(c.nentrypoints, 2, "--api adds the traefik entry point");
	CHECK_EQ_STR(c.entrypoints[1].name, "traefik", "second entry point is traefik");
	CHECK_EQ_INT(c.entrypoints[1].port, 8080, "traefik entry point on :8080");
	CHECK_EQ_STR(c.docker.endpoint, "unix:///var/run/docker.sock", "docker endpoint default");
	CHECK_EQ_INT(c.docker.refresh_seconds, 15, "swarmModeRefreshSeconds default 15");

	/* case-insensitive names; a sub-flag turns its section on */
	CHECK_EQ_INT(P(&c, "--DOCKER.EXPOSEDBYDEFAULT=false"), CONFIG_OK, "upper-case flag name");
	CHECK(c.docker.enabled && !c.docker.exposed_by_default, "sub-flag enables --docker");
	CHECK_EQ_INT(P(&c, "--docker.Network", "my-net"), CONFIG_OK,
		     "--flag value with a dash in the value");
	CHECK_EQ_STR(c.docker.network, "my-net", "value keeps its dash and case");
	CHECK_EQ_INT(P(&c, "--docker.domain=Docker.Localhost"), CONFIG_OK, "domain");
	CHECK_EQ_STR(c.docker.domain, "Docker.Localhost", "values keep their case");
	CHECK_EQ_INT(P(&c, "--docker.swarmModeRefreshSeconds=0"), CONFIG_OK, "refresh 0");
	CHECK_EQ_INT(c.docker.refresh_seconds, 15, "refresh <= 0 becomes 15 like Traefik");

	/* entry points */
	CHECK_EQ_INT(P(&c, "--entryPoints=Name:web Address:127.0.0.1:8000",
		       "--entrypoints", "name:admin address::9000", "--defaultEntryPoints=web"),
		     CONFIG_OK, "two entry points, keys any case");
	CHECK_EQ_INT(c.nentrypoints, 2, "no http added when entry points are given");
	CHECK_EQ_STR(c.entrypoints[0].name, "web", "first name");
	CHECK_EQ_INT(c.entrypoints[0].addr.ss_family, AF_INET, "127.0.0.1 is IPv4");
	CHECK_EQ_INT(c.entrypoints[1].port, 9000, "second port");
	CHECK(c.entrypoints[1].any_host, ":9000 listens on every address");
	CHECK_EQ_INT(P(&c, "--entryPoints=Name:v6 Address:[::1]:8000"), CONFIG_OK, "IPv6 address");
	CHECK_EQ_INT(c.entrypoints[0].addr.ss_family, AF_INET6, "[::1] is IPv6");
	CHECK_EQ_INT(P(&c, "--entryPoints=Name:a Address::80", "--entryPoints=Name:a Address::81"),
		     CONFIG_ERROR, "duplicate entry point");
	CHECK(strstr(err, "\"a\" defined twice") != NULL, "error names the duplicate: %s", err);
	CHECK_EQ_INT(P(&c, "--entryPoints=Name:https Address::443 TLS"), CONFIG_ERROR,
		     "TLS entry point rejected");
	CHECK(strstr(err, "TLS") != NULL, "error says TLS is not supported: %s", err);
	CHECK_EQ_INT(P(&c, "--entryPoints=Address::80"), CONFIG_ERROR, "entry point without Name");
	CHECK(strstr(err, "Name") != NULL, "error asks for Name: %s", err);
	CHECK_EQ_INT(P(&c, "--entryPoints=Name:x Address::99999"), CONFIG_ERROR, "port range");
	CHECK_EQ_INT(P(&c, "--entryPoints=Name:x Address:80"), CONFIG_ERROR, "address without :");
	CHECK_EQ_INT(P(&c, "--defaultEntryPoints=https"), CONFIG_ERROR,
		     "defaultEntryPoints must exist");
	CHECK(strstr(err, "https") != NULL, "error names the entry point: %s", err);

	/* errors name the flag */
	CHECK_EQ_INT(P(&c, "--no-such-flag=1"), CONFIG_ERROR, "unknown flag");
	CHECK(strstr(err, "--no-such-flag") != NULL, "error names the unknown flag: %s", err);
	CHECK_EQ_INT(P(&c, "--api=maybe"), CONFIG_ERROR, "bad boolean");
	CHECK(strstr(err, "--api") && strstr(err, "maybe"), "error names flag and value: %s", err);
	CHECK_EQ_INT(P(&c, "--lifecycle.graceTimeOut=soon"), CONFIG_ERROR, "bad duration");
	CHECK(strstr(err, "graceTimeOut") != NULL, "error names the duration flag: %s", err);
	CHECK_EQ_INT(P(&c, "--file.filename"), CONFIG_ERROR, "missing value");
	CHECK(strstr(err, "needs a value") != NULL, "error says a value is needed: %s", err);
	CHECK_EQ_INT(P(&c, "--file"), CONFIG_ERROR, "--file without a filename");
	CHECK_EQ_INT(P(&c, "--loglevel=verbose"), CONFIG_ERROR, "bad log level");
	CHECK_EQ_INT(P(&c, "--fastpath=sometimes"), CONFIG_ERROR, "bad fastpath mode");
	CHECK_EQ_INT(P(&c, "--configFile=traefik.toml"), CONFIG_ERROR, "TOML files rejected");
	CHECK_EQ_INT(P(&c, "stray"), CONFIG_ERROR, "positional argument");
	CHECK_EQ_INT(P(&c, "-l", "DEBUG"), CONFIG_OK, "short -l");
	CHECK_EQ_INT(c.log_level, LOG_LVL_DEBUG, "-l DEBUG sets debug");
	CHECK_EQ_INT(P(&c, "--api", "false"), CONFIG_OK, "bool followed by false");
	CHECK(!c.api, "--api false turns it off");
	CHECK_EQ_INT(P(&c, "--fastpath=OFF", "--fastpath.bulkThreshold=2MiB"), CONFIG_OK,
		     "fastpath flags");
	CHECK(c.fastpath.mode == FASTPATH_OFF && c.fastpath.bulk_threshold == 2 << 20,
	      "fastpath off, threshold 2 MiB");
	CHECK_EQ_INT(P(&c, "--fastpath.bulkThreshold=1k"), CONFIG_ERROR, "threshold floor");
	CHECK_EQ_INT(P(&c, "--api"), CONFIG_OK, "defaults");
	CHECK(c.fastpath.congestion && !strcmp(c.fastpath.congestion, "cubic"),
	      "spliced sockets default to cubic: %s", c.fastpath.congestion);
	CHECK_EQ_INT(P(&c, "--fastpath.congestion=reno"), CONFIG_OK, "congestion reno");
	CHECK(!strcmp(c.fastpath.congestion, "reno"), "congestion reno kept");
	CHECK_EQ_INT(P(&c, "--fastpath.congestion=system"), CONFIG_OK, "congestion system");
	CHECK(!strcmp(c.fastpath.congestion, ""), "system = leave the host's (empty)");
	CHECK_EQ_INT(P(&c, "--fastpath.congestion=Cubic!"), CONFIG_ERROR, "bad congestion name");
	CHECK(strstr(err, "fastpath.congestion") != NULL, "error names the flag: %s", err);
	CHECK_EQ_INT(P(&c, "--fastpath.congestion="), CONFIG_ERROR, "empty congestion name");
	CHECK_EQ_INT(P(&c, "--fastpath.congestion=abcdefghijklmnop"), CONFIG_ERROR,
		     "congestion name over 15 characters");

	/* value parsers */
	CHECK(!config_parse_duration("10", &d) && d == 10, "duration 10 = 10 s");
	CHECK(!config_parse_duration("1m30s", &d) && d == 90, "duration 1m30s");
	CHECK(!config_parse_duration("250ms", &d) && d > 0.2499 && d < 0.2501, "duration 250ms");
	CHECK(config_parse_duration("", &d) && config_parse_duration("5x", &d) &&
	      config_parse_duration("-1s", &d), "bad durations rejected");
	CHECK(!config_parse_bool("True", &b) && b && !config_parse_bool("0", &b) && !b,
	      "Go ParseBool forms");
	CHECK(config_parse_bool("yes", &b), "yes is not a Go bool");
	CHECK(!config_parse_size("64KiB", &sz) && sz == 65536, "size 64KiB");
	CHECK(!config_parse_size("4M", &sz) && sz == 4 << 20, "size 4M");
	CHECK(config_parse_size("4Q", &sz) && config_parse_size("", &sz), "bad sizes rejected");
	return unit_done();
}
