// SPDX-License-Identifier: MIT
/*
 * provider_docker: the Docker Swarm provider thread.
 *
 * One thread owns one docker_api client. It negotiates the API version, follows GET /events
 * (service, container and network events) and re-lists services, tasks and networks a short
 * debounce after any event, every 250 ms while a service is updating or a task is starting,
 * and every --docker.swarmModeRefreshSeconds otherwise (the safety net). Each listing goes
 * through docker_labels_build(); a configuration that differs from the last one published is
 * handed to the publish callback. Traefik 1.7 only polls (15 s); following events is what
 * takes convergence under a second.
 *
 * Failure policy: an API error never produces a configuration, so the last good one keeps
 * serving; reconnection backs off from 250 ms to 30 s; each change of state is logged once.
 * A listing that would empty every backend replacing one that had servers is confirmed by a
 * second listing 1 s later before it is published.
 *
 * Global state: one provider per process (struct dprov prov), owned by the provider thread
 * between docker_provider_start() and docker_provider_stop().
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "docker_api.h"
#include "docker_labels.h"
#include "dynconf.h"
#include "log.h"
#include "provider_docker.h"

#define DEBOUNCE_MS		75
#define FAST_POLL_MS		250
#define FAST_POLL_FOR_MS	30000
#define SLOW_POLL_MS		2000
#define CONFIRM_EMPTY_MS	1000
#define BACKOFF_MIN_MS		250
#define BACKOFF_MAX_MS		30000
#define EVENTS_RETRY_MS		1000
#define MAX_SELF_NETWORKS	64

static const char events_filter[] =
	"{\"type\":[\"service\",\"container\",\"network\"],"
	"\"event\":[\"create\",\"update\",\"remove\",\"start\",\"die\",\"destroy\",\"kill\",\"stop\","
	"\"connect\",\"disconnect\",\"health_status\"]}";

/* The provider's state; one provider per process (docker_provider_start/stop). */
struct dprov {
	struct docker_opts opts;
	docker_publish_fn publish;
	void *arg;
	struct docker_client *client;
	pthread_t thread;
	bool started;
	atomic_bool stop;

	/* Provider thread only. */
	bool connected;
	bool listed;			/* a listing has succeeded once */
	bool events_up;
	bool event_seen;
	char last_err[512];
	char last_ev_err[512];
	struct dynconf *last;		/* copy of the last published configuration */
	char **last_msgs;
	size_t nlast_msgs;
	bool confirm_pending;
	long long confirm_at;
	/* The balancer's own container, when it runs in one. */
	char self_id[65];
	bool self_checked;
	char *self_nets[MAX_SELF_NETWORKS];
	size_t nself_nets;
	size_t publishes;
	long long fast_since;		/* start of the current run of fast polls */
	size_t fast_publishes;		/* publishes at that time */
};

static struct dprov prov;

void docker_opts_default(struct docker_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->endpoint, sizeof(o->endpoint), "unix:///var/run/docker.sock");
	o->exposed_by_default = true;
	o->watch = true;
	o->refresh_seconds = 15;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_event(const cJSON *ev, void *arg)
{
	struct dprov *p = arg;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "Type");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(ev, "Action");

	p->event_seen = true;
	if (log_enabled(LOG_LVL_DEBUG))
		log_debug("docker: event %s %s", cJSON_IsString(type) ? type->valuestring : "?",
			  cJSON_IsString(action) ? action->valuestring : "?");
}

/* ---- the balancer's own container ---- */

static bool hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Our container id, from the bind mount of /etc/hostname (".../containers/<id>/hostname")
 * or from a cgroup path (".../docker/<id>", "docker-<id>.scope"). false on the host.
 */
static bool find_self_id(char id[65])
{
	char line[1024];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		char root[512], mnt[256];
		const char *c;

		if (sscanf(line, "%*s %*s %*s %511s %255s", root, mnt) != 2 ||
		    strcmp(mnt, "/etc/hostname") != 0)
			continue;
		c = strstr(root, "/containers/");
		if (c && strlen(c + 12) >= 64 && hex64(c + 12) && c[12 + 64] == '/') {
			memcpy(id, c + 12, 64);
			found = true;
		}
	}
	if (f)
		fclose(f);
	f = found ? NULL : fopen("/proc/self/cgroup", "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		const char *c = strstr(line, "docker");

		for (; c && !found; c = strstr(c + 1, "docker")) {
			const char *h = c + 6;

			if (*h != '/' && *h != '-')
				continue;
			h++;
			if (strlen(h) >= 64 && hex64(h)) {
				memcpy(id, h, 64);
				found = true;
			}
		}
	}
	if (f)
		fclose(f);
	id[found ? 64 : 0] = '\0';
	return found;
}

static void free_self_nets(struct dprov *p)
{
	for (size_t i = 0; i < p->nself_nets; i++)
		free(p->self_nets[i]);
	p->nself_nets = 0;
}

/* Refresh the names of our container's networks. 0, or negative errno on API errors. */
static int refresh_self(struct dprov *p, char *err, size_t errlen)
{
	const cJSON *nets, *n;
	char path[128];
	cJSON *j = NULL;
	long status = 0;
	int rc;

	if (!p->self_checked) {
		p->self_checked = true;
		if (!find_self_id(p->self_id))
			log_info("docker: spliced runs on the host, not in a container: a task's address is taken on --docker.network or traefik.docker.network, else on its first non-ingress network by name (overlay addresses are reachable from the host only inside the network's namespace; --docker.network=" DOCKER_GWBRIDGE " uses this node's tasks' gateway-bridge addresses, which the host reaches)");
	}
	if (!p->self_id[0])
		return 0;
	snprintf(path, sizeof(path), "/containers/%s/json", p->self_id);
	rc = docker_get_json(p->client, path, &j, &status, err, errlen);
	if (rc && status == 404) {
		log_info("docker: container %.12s is not known to this engine: treating spliced as running on the host",
			 p->self_id);
		p->self_id[0] = '\0';
		return 0;
	}
	if (rc)
		return rc;
	free_self_nets(p);
	nets = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "NetworkSettings"),
						"Networks");
	if (!cJSON_IsObject(nets))
		nets = NULL;
	cJSON_ArrayForEach(n, nets) {
		if (!n->string || p->nself_nets >= MAX_SELF_NETWORKS)
			continue;
		p->self_nets[p->nself_nets] = strdup(n->string);
		if (p->self_nets[p->nself_nets])
			p->nself_nets++;
	}
	cJSON_Delete(j);
	return 0;
}

/* ---- listing ---- */

static void log_new_msgs(struct dprov *p, const struct docker_build *b)
{
	char **keep = calloc(b->nmsgs + 1, sizeof(*keep));

	for (size_t i = 0; i < b->nmsgs; i++) {
		bool seen = false;

		for (size_t j = 0; j < p->nlast_msgs && !seen; j++)
			seen = strcmp(p->last_msgs[j], b->msgs[i].text) == 0;
		if (!seen)
			log_msg(b->msgs[i].level, "docker: %s", b->msgs[i].text);
		if (keep)
			keep[i] = strdup(b->msgs[i].text);
	}
	for (size_t j = 0; j < p->nlast_msgs; j++)
		free(p->last_msgs[j]);
	free(p->last_msgs);
	p->last_msgs = keep;
	p->nlast_msgs = keep ? b->nmsgs : 0;
}

static size_t count_servers(const struct dynconf *dc)
{
	size_t n = 0;

	for (size_t i = 0; dc && i < dc->nbackends; i++)
		n += dc->backends[i].nservers;
	return n;
}

/* Is docker_gwbridge named by the flag or by any service's label? */
static bool wants_gwbridge(const struct dprov *p, const cJSON *services)
{
	const cJSON *sv, *list = cJSON_IsArray(services) ? services : NULL;

	if (strcmp(p->opts.network, DOCKER_GWBRIDGE) == 0)
		return true;
	cJSON_ArrayForEach(sv, list) {
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sv, "Spec"), "Labels"),
			"traefik.docker.network");

		if (cJSON_IsString(l) && strcmp(l->valuestring, DOCKER_GWBRIDGE) == 0)
			return true;
	}
	return false;
}

/*
 * One listing. 0 and *fast (keep polling fast) on success; negative errno (err set) when the
 * engine could not be read, in which case nothing changes.
 */
static int relist(struct dprov *p, bool *fast, char *err, size_t errlen)
{
	cJSON *services = NULL, *tasks = NULL, *networks = NULL, *gwbridge = NULL;
	struct docker_labels_opts lo = {
		.exposed_by_default = p->opts.exposed_by_default,
		.domain = p->opts.domain,
		.network = p->opts.network,
	};
	struct docker_build b = { 0 }, copy = { 0 };
	char tq[128], nq[128], path[320];
	const char *nf;
	long maj = 1, min = 0;
	int rc;

	*fast = false;
	rc = refresh_self(p, err, errlen);
	if (rc)
		goto out;
	lo.in_container = p->self_id[0] != '\0';
	lo.self_networks = (const char *const *)p->self_nets;
	lo.nself_networks = p->nself_nets;

	rc = docker_get_json(p->client, "/services", &services, NULL, err, errlen);
	if (rc)
		goto out;
	docker_url_encode("{\"desired-state\":[\"running\"]}", tq, sizeof(tq));
	snprintf(path, sizeof(path), "/tasks?filters=%s", tq);
	rc = docker_get_json(p->client, path, &tasks, NULL, err, errlen);
	if (rc)
		goto out;
	/* As Traefik: swarm-scope networks when the engine knows the filter (API >= 1.29). */
	sscanf(docker_client_api_version(p->client), "%ld.%ld", &maj, &min);
	nf = min >= 29 ? "{\"scope\":[\"swarm\"]}" : "{\"driver\":[\"overlay\"]}";
	docker_url_encode(nf, nq, sizeof(nq));
	snprintf(path, sizeof(path), "/networks?filters=%s", nq);
	rc = docker_get_json(p->client, path, &networks, NULL, err, errlen);
	if (rc)
		goto out;

	if (wants_gwbridge(p, services)) {
		long st = 0;

		rc = docker_get_json(p->client, "/networks/" DOCKER_GWBRIDGE, &gwbridge, &st, err, errlen);
		if (rc && st != 404)
			goto out;
		rc = 0;
		lo.gwbridge = gwbridge;
	}

	rc = docker_labels_build(services, tasks, networks, &lo, &b, err, errlen);
	if (rc)
		goto out;
	log_new_msgs(p, &b);
	*fast = b.nstarting > 0 || b.nupdating > 0;
	log_debug("docker: listed %zu services (%zu exposed, %zu skipped), %zu servers, %zu tasks starting, %zu services updating",
		  b.nservices, b.nexposed, b.nskipped, b.nservers, b.nstarting, b.nupdating);

	if (p->last && dynconf_equal(p->last, b.dc)) {
		p->confirm_pending = false;
		goto out;
	}
	if (p->last && count_servers(p->last) > 0 && b.nservers == 0) {
		if (!p->confirm_pending) {
			p->confirm_pending = true;
			p->confirm_at = now_ms() + CONFIRM_EMPTY_MS;
			log_warn("docker: the listing has no server left (%zu services); publishing it only if a listing in %d ms agrees",
				 b.nservices, CONFIRM_EMPTY_MS);
			goto out;
		}
		if (now_ms() < p->confirm_at)
			goto out;
	}
	p->confirm_pending = false;
	/* A second, identical build: one is handed over, one kept to compare the next with. */
	rc = docker_labels_build(services, tasks, networks, &lo, &copy, err, errlen);
	if (rc)
		goto out;
	dynconf_free(p->last);
	p->last = copy.dc;
	copy.dc = NULL;
	p->publishes++;
	log_info("docker: configuration %zu: %zu frontends, %zu backends, %zu servers",
		 p->publishes, b.dc->nfrontends, b.dc->nbackends, b.nservers);
	p->publish(b.dc, p->arg);
	b.dc = NULL;
out:
	docker_build_fini(&b);
	docker_build_fini(&copy);
	cJSON_Delete(services);
	cJSON_Delete(tasks);
	cJSON_Delete(networks);
	cJSON_Delete(gwbridge);
	return rc;
}

/* ---- the thread ---- */

/*
 * Poll fast while tasks start or services update, but a task that stays pending (a
 * constraint no node meets) must not keep us at 4 listings a second forever: after
 * FAST_POLL_FOR_MS without a new configuration, slow down to SLOW_POLL_MS.
 */
static int fast_interval(struct dprov *p, long long now)
{
	if (!p->fast_since || p->publishes != p->fast_publishes) {
		p->fast_since = now;
		p->fast_publishes = p->publishes;
	}
	return now - p->fast_since > FAST_POLL_FOR_MS ? SLOW_POLL_MS : FAST_POLL_MS;
}

/* The engine cannot be read: log it once per distinct reason, drop the connection state. */
static void set_down(struct dprov *p, const char *why)
{
	if (strcmp(p->last_err, why) != 0)
		log_error("docker: %s: %s; keeping the last configuration and retrying",
			  p->opts.endpoint, why);
	snprintf(p->last_err, sizeof(p->last_err), "%s", why);
	p->connected = false;
	if (p->events_up)
		docker_events_stop(p->client);
	p->events_up = false;
}

static void *provider_main(void *arg)
{
	struct dprov *p = arg;
	int backoff = BACKOFF_MIN_MS;
	long long next_try = 0, relist_at = 0, events_at = 0;
	char err[512];
	sigset_t all;

	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	while (!atomic_load(&p->stop)) {
		long long now = now_ms(), wake;
		bool fast;
		int rc;

		if (!p->connected && now >= next_try) {
			rc = docker_client_negotiate(p->client, err, sizeof(err));
			if (rc) {
				set_down(p, err);
				next_try = now + backoff;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			} else {
				log_debug("docker: connected to %s (API %s)", p->opts.endpoint,
					  docker_client_api_version(p->client));
				p->connected = true;
				relist_at = now;
				events_at = now;
			}
		}
		if (p->connected && p->opts.watch && !p->events_up && now >= events_at) {
			rc = docker_events_start(p->client, events_filter, on_event, p);
			p->events_up = rc == 0;
			if (rc)
				events_at = now + EVENTS_RETRY_MS;
		}
		if (p->connected && relist_at && now >= relist_at) {
			p->event_seen = false;
			rc = relist(p, &fast, err, sizeof(err));
			now = now_ms();
			if (rc) {
				set_down(p, err);
				next_try = now + backoff;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			} else {
				if (p->last_err[0] || !p->listed)
					log_info("docker: reading %s (API %s)%s", p->opts.endpoint,
						 docker_client_api_version(p->client),
						 p->last_err[0] ? " again" : "");
				p->last_err[0] = '\0';
				p->listed = true;
				backoff = BACKOFF_MIN_MS;
				if (!fast)
					p->fast_since = 0;
				if (!p->opts.watch && !p->confirm_pending)
					relist_at = 0;	/* --docker.watch=false: list once */
				else if (p->confirm_pending)
					relist_at = p->confirm_at;
				else if (fast)
					relist_at = now + fast_interval(p, now);
				else
					relist_at = now + (long long)p->opts.refresh_seconds * 1000;
			}
		}

		wake = now + 1000;
		if (!p->connected && next_try < wake)
			wake = next_try;
		if (p->connected && relist_at && relist_at < wake)
			wake = relist_at;
		if (p->connected && p->opts.watch && !p->events_up && events_at < wake)
			wake = events_at;
		rc = docker_events_wait(p->client, (int)(wake > now ? wake - now : 0), err, sizeof(err));
		if (rc < 0 && p->connected) {
			p->events_up = false;
			if (strcmp(p->last_ev_err, err) != 0)
				log_warn("docker: %s; re-listing and reopening the event stream", err);
			snprintf(p->last_ev_err, sizeof(p->last_ev_err), "%s", err);
			events_at = now_ms() + EVENTS_RETRY_MS;
			relist_at = now_ms();	/* events may be lost: list now (fails fast if down) */
		} else if (rc > 0 && p->last_ev_err[0]) {
			p->last_ev_err[0] = '\0';
		}
		if (p->event_seen && p->connected) {
			long long due = now_ms() + DEBOUNCE_MS;

			p->event_seen = false;
			/* Coalesce a burst: the first event of a burst sets the time. */
			if (!relist_at || relist_at > due)
				relist_at = due;
		}
	}
	return NULL;
}

int docker_provider_start(const struct docker_opts *o, docker_publish_fn publish, void *arg)
{
	char err[256];
	int rc;

	if (prov.started)
		return -EALREADY;
	if (!publish)
		return -EINVAL;
	if (!o->swarm_mode) {
		log_error("docker: only swarm mode is supported: add --docker.swarmMode");
		return -EOPNOTSUPP;
	}
	memset(&prov, 0, sizeof(prov));
	prov.opts = *o;
	prov.opts.endpoint[sizeof(prov.opts.endpoint) - 1] = '\0';
	prov.opts.domain[sizeof(prov.opts.domain) - 1] = '\0';
	prov.opts.network[sizeof(prov.opts.network) - 1] = '\0';
	if (prov.opts.refresh_seconds <= 0)
		prov.opts.refresh_seconds = 15;
	prov.publish = publish;
	prov.arg = arg;
	prov.client = docker_client_new(prov.opts.endpoint, err, sizeof(err));
	if (!prov.client) {
		rc = -errno;
		log_error("docker: %s", err);
		return rc;
	}
	atomic_store(&prov.stop, false);
	rc = pthread_create(&prov.thread, NULL, provider_main, &prov);
	if (rc) {
		log_error("docker: cannot start the provider thread: %s", strerror(rc));
		docker_client_free(prov.client);
		prov.client = NULL;
		return -rc;
	}
	prov.started = true;
	return 0;
}

void docker_provider_stop(void)
{
	if (!prov.started)
		return;
	atomic_store(&prov.stop, true);
	docker_client_wakeup(prov.client);
	pthread_join(prov.thread, NULL);
	docker_client_free(prov.client);
	dynconf_free(prov.last);
	for (size_t j = 0; j < prov.nlast_msgs; j++)
		free(prov.last_msgs[j]);
	free(prov.last_msgs);
	free_self_nets(&prov);
	memset(&prov, 0, sizeof(prov));
}
