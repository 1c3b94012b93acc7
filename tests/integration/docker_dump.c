// SPDX-License-Identifier: MIT
/*
 * docker_dump: run the Docker Swarm provider alone and print every configuration it
 * publishes, one line each: "<unix time in ms> <Traefik API JSON>". Swarm tests use it to
 * check the label mapping against a real engine and to time convergence without the proxy.
 *
 *   it_docker_dump [--docker.endpoint=URL] [--docker.domain=D] [--docker.network=N]
 *                  [--docker.exposedByDefault=BOOL] [--docker.watch=BOOL]
 *                  [--docker.swarmModeRefreshSeconds=N] [--loglevel=LVL]
 * Runs until SIGINT/SIGTERM. Flags are case-insensitive, as Traefik's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "dynconf.h"
#include "log.h"
#include "provider_docker.h"

static void publish(struct dynconf *dc, void *arg)
{
	cJSON *j = dynconf_to_json(dc);
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld %s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, s ? s : "null");
	fflush(stdout);
	free(s);
	cJSON_Delete(j);
	dynconf_free(dc);
}

static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcasecmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct docker_opts o;
	sigset_t set;
	int sig, rc;

	docker_opts_default(&o);
	o.enabled = true;
	o.swarm_mode = true;
	log_set_level(LOG_LVL_INFO);
	for (int i = 1; i < argc; i++) {
		char key[128], *eq = strchr(argv[i], '=');
		const char *v = eq ? eq + 1 : NULL;
		size_t klen = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		bool bad = false;

		if (klen >= sizeof(key))
			klen = sizeof(key) - 1;
		memcpy(key, argv[i], klen);
		key[klen] = '\0';
		if (!strcasecmp(key, "--docker.endpoint") && v)
			snprintf(o.endpoint, sizeof(o.endpoint), "%s", v);
		else if (!strcasecmp(key, "--docker.domain") && v)
			snprintf(o.domain, sizeof(o.domain), "%s", v);
		else if (!strcasecmp(key, "--docker.network") && v)
			snprintf(o.network, sizeof(o.network), "%s", v);
		else if (!strcasecmp(key, "--docker.exposedByDefault"))
			bad = parse_bool(v, &o.exposed_by_default) != 0;
		else if (!strcasecmp(key, "--docker.watch"))
			bad = parse_bool(v, &o.watch) != 0;
		else if (!strcasecmp(key, "--docker.swarmModeRefreshSeconds") && v)
			o.refresh_seconds = atoi(v);
		else if (!strcasecmp(key, "--loglevel") && v) {
			enum log_level l;

			bad = log_parse_level(v, &l) != 0;
			if (!bad)
				log_set_level(l);
		} else if (!strcasecmp(key, "--docker") || !strcasecmp(key, "--docker.swarmMode"))
			;
		else
			bad = true;
		if (bad) {
			fprintf(stderr, "docker_dump: bad argument %s\n", argv[i]);
			return 2;
		}
	}

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = docker_provider_start(&o, publish, NULL);
	if (rc) {
		fprintf(stderr, "docker_dump: provider did not start: %s\n", strerror(-rc));
		return 1;
	}
	sigwait(&set, &sig);
	docker_provider_stop();
	return 0;
}
