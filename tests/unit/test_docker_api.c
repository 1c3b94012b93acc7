// SPDX-License-Identifier: MIT
/*
 * Unit tests for docker_api and provider_docker against a fake Docker engine: a thread that
 * answers HTTP on a unix socket in a temp dir with the captured fixtures, or with errors,
 * garbage, oversized bodies and closed connections on demand, and holds the /events stream
 * open so the test can push events. Covers version negotiation, caps, event parsing, and the
 * provider's policies: event-driven re-list, identical config not re-published, last good
 * config kept through errors, an emptied listing confirmed before it is published.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "docker_api.h"
#include "dynconf.h"
#include "log.h"
#include "provider_docker.h"
#include "unit.h"

#define FIX "tests/fixtures/docker/"

enum fake_mode { FAKE_OK, FAKE_500, FAKE_GARBAGE, FAKE_CLOSE };

static struct fake {
	char dir[64];
	char sock[108];
	int lfd;
	int tfd;		/* the same engine on 127.0.0.1:tport */
	int tport;
	pthread_t thr;
	atomic_bool stop;
	pthread_mutex_t mu;
	enum fake_mode mode;
	char *version, *services, *tasks, *networks;
	size_t big;			/* > 0: /services answers this many bytes of JSON */
	int ev_fd;
	char last_path[512];
	int n_services;
	int n_events;
} fk = { .mu = PTHREAD_MUTEX_INITIALIZER, .ev_fd = -1 };

static char *slurp(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), FIX "%s", name);
	return unit_fixture(path);
}

static void set_str(char **slot, const char *v)
{
	pthread_mutex_lock(&fk.mu);
	free(*slot);
	*slot = strdup(v);
	pthread_mutex_unlock(&fk.mu);
}

static void set_mode(enum fake_mode m)
{
	pthread_mutex_lock(&fk.mu);
	fk.mode = m;
	pthread_mutex_unlock(&fk.mu);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, len);

	write_all(fd, head, (size_t)n);
	write_all(fd, body, len);
}

static void serve(int fd)
{
	char req[8192] = "", path[512] = "";
	size_t got = 0;
	enum fake_mode mode;

	while (got < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 2000) <= 0)
			break;
		r = read(fd, req + got, sizeof(req) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = '\0';
	}
	sscanf(req, "GET %511s", path);
	pthread_mutex_lock(&fk.mu);
	snprintf(fk.last_path, sizeof(fk.last_path), "%s", path);
	mode = fk.mode;
	if (mode == FAKE_CLOSE) {
		pthread_mutex_unlock(&fk.mu);
		close(fd);
		return;
	}
	if (strstr(path, "/events")) {
		static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";

		if (fk.ev_fd >= 0)
			close(fk.ev_fd);
		write_all(fd, h, sizeof(h) - 1);
		fk.ev_fd = fd;
		fk.n_events++;
		pthread_mutex_unlock(&fk.mu);
		return;
	}
	if (strncmp(path, "/v", 2) == 0 && strstr(path, "/services"))
		fk.n_services++;
	if (mode == FAKE_500) {
		respond(fd, 500, "{\"message\":\"boom\"}", 18);
	} else if (mode == FAKE_GARBAGE) {
		respond(fd, 200, "<html>not json", 14);
	} else if (strcmp(path, "/version") == 0) {
		respond(fd, 200, fk.version, strlen(fk.version));
	} else if (strstr(path, "/services") && fk.big) {
		char *b = malloc(fk.big);

		memset(b, ' ', fk.big);
		b[0] = '[';
		b[fk.big - 1] = ']';
		respond(fd, 200, b, fk.big);
		free(b);
	} else if (strstr(path, "/services")) {
		respond(fd, 200, fk.services, strlen(fk.services));
	} else if (strstr(path, "/tasks")) {
		respond(fd, 200, fk.tasks, strlen(fk.tasks));
	} else if (strstr(path, "/networks")) {
		respond(fd, 200, fk.networks, strlen(fk.networks));
	} else {
		respond(fd, 404, "{\"message\":\"page not found\"}", 28);
	}
	pthread_mutex_unlock(&fk.mu);
	close(fd);
}

static void *fake_main(void *arg)
{
	while (!atomic_load(&fk.stop)) {
		struct pollfd pfd[2] = { { .fd = fk.lfd, .events = POLLIN },
					 { .fd = fk.tfd, .events = POLLIN } };
		int fd;

		if (poll(pfd, 2, 50) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept(pfd[i].fd, NULL, NULL);
			if (fd >= 0)
				serve(fd);
		}
	}
	return NULL;
}

static void fake_start(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(fk.dir, sizeof(fk.dir), "/tmp/spliced-fakedocker.XXXXXX");
	if (!mkdtemp(fk.dir))
		exit(2);
	snprintf(fk.sock, sizeof(fk.sock), "%s/docker.sock", fk.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk.sock);
	fk.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fk.lfd < 0 || bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fk.lfd, 16))
		exit(2);
	{
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(in);

		fk.tfd = socket(AF_INET, SOCK_STREAM, 0);
		if (fk.tfd < 0 || bind(fk.tfd, (struct sockaddr *)&in, sizeof(in)) || listen(fk.tfd, 16) ||
		    getsockname(fk.tfd, (struct sockaddr *)&in, &len))
			exit(2);
		fk.tport = ntohs(in.sin_port);
	}
	fk.version = slurp("version.json");
	fk.services = slurp("services.json");
	fk.tasks = slurp("tasks.json");
	fk.networks = slurp("networks.json");
	pthread_create(&fk.thr, NULL, fake_main, NULL);
}

static void fake_stop(void)
{
	atomic_store(&fk.stop, true);
	pthread_join(fk.thr, NULL);
	close(fk.lfd);
	close(fk.tfd);
	if (fk.ev_fd >= 0)
		close(fk.ev_fd);
	unlink(fk.sock);
	rmdir(fk.dir);
	free(fk.version);
	free(fk.services);
	free(fk.tasks);
	free(fk.networks);
}

/* Write to the open events stream (false if none), or close it (line == NULL). */
static bool push_event(const char *line)
{
	bool ok;

	pthread_mutex_lock(&fk.mu);
	ok = fk.ev_fd >= 0;
	if (ok && line)
		write_all(fk.ev_fd, line, strlen(line));
	if (ok && !line) {
		close(fk.ev_fd);
		fk.ev_fd = -1;
	}
	pthread_mutex_unlock(&fk.mu);
	return ok;
}

static int n_services(void)
{
	int n;

	pthread_mutex_lock(&fk.mu);
	n = fk.n_services;
	pthread_mutex_unlock(&fk.mu);
	return n;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- client ---- */

static int nev;
static void count_event(const cJSON *ev, void *arg)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "Action");

	if (cJSON_IsString(a))
		nev++;
}

static void *wake_later(void *arg)
{
	msleep(100);
	docker_client_wakeup(arg);
	return NULL;
}

static void test_client(void)
{
	char err[512], ep[160], enc[64];
	struct docker_client *c;
	cJSON *j = NULL;
	long status;
	int rc;

	c = docker_client_new("http://localhost:2375", err, sizeof(err));
	CHECK(!c && errno == EINVAL && strstr(err, "unsupported scheme"), "http:// endpoint refused");
	c = docker_client_new("unix://docker.sock", err, sizeof(err));
	CHECK(!c && errno == EINVAL, "relative unix path refused");
	c = docker_client_new("tcp://10.0.0.1", err, sizeof(err));
	CHECK(!c && strstr(err, "tcp://host:port"), "tcp without port refused");
	c = docker_client_new("tcp://h:70000", err, sizeof(err));
	CHECK(!c && strstr(err, "bad port"), "tcp port out of range refused");
	c = docker_client_new("tcp://a b:1", err, sizeof(err));
	CHECK(!c && strstr(err, "bad character"), "space in host refused");

	snprintf(ep, sizeof(ep), "unix://%s/nothing.sock", fk.dir);
	c = docker_client_new(ep, err, sizeof(err));
	CHECK(c != NULL, "client for a missing socket builds (no I/O yet)");
	rc = docker_client_negotiate(c, err, sizeof(err));
	CHECK(rc < 0 && err[0], "missing socket: negotiation fails with a message (%d: %s)", rc, err);
	CHECK(docker_get_json(c, "/services", &j, NULL, err, sizeof(err)) == -ENOTCONN,
	      "no GET before negotiation");
	docker_client_free(c);

	snprintf(ep, sizeof(ep), "unix://%s", fk.sock);
	c = docker_client_new(ep, err, sizeof(err));
	CHECK_EQ_INT(docker_client_negotiate(c, err, sizeof(err)), 0, "negotiate with Engine 20.10");
	CHECK_EQ_STR(docker_client_api_version(c), "1.41", "server's ApiVersion 1.41 used");

	set_str(&fk.version, "{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.44\"}");
	CHECK_EQ_INT(docker_client_negotiate(c, err, sizeof(err)), 0, "negotiate with Engine 29");
	CHECK_EQ_STR(docker_client_api_version(c), "1.47", "capped at the highest version we read");
	set_str(&fk.version, "{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.50\"}");
	rc = docker_client_negotiate(c, err, sizeof(err));
	CHECK(rc == -EPROTO && strstr(err, "has no version"), "engine whose minimum is above ours refused");
	set_str(&fk.version, "{\"ApiVersion\":\"1.12\"}");
	CHECK_EQ_INT(docker_client_negotiate(c, err, sizeof(err)), -EPROTO, "engine older than 1.24 refused");
	set_str(&fk.version, "{\"ApiVersion\":41}");
	CHECK_EQ_INT(docker_client_negotiate(c, err, sizeof(err)), -EPROTO, "ApiVersion not a string refused");
	set_str(&fk.version, "{\"ApiVersion\":\"1.41x\"}");
	CHECK_EQ_INT(docker_client_negotiate(c, err, sizeof(err)), -EPROTO, "malformed ApiVersion refused");
	{
		char *v = slurp("version.json");

		set_str(&fk.version, v);
		free(v);
	}
	docker_client_negotiate(c, err, sizeof(err));

	rc = docker_get_json(c, "/services", &j, &status, err, sizeof(err));
	CHECK(rc == 0 && cJSON_IsArray(j) && cJSON_GetArraySize(j) == 11 && status == 200,
	      "GET /services parsed (11 services)");
	CHECK_EQ_STR(fk.last_path, "/v1.41/services", "versioned path");
	cJSON_Delete(j);

	set_mode(FAKE_500);
	rc = docker_get_json(c, "/services", &j, &status, err, sizeof(err));
	CHECK(rc == -EPROTO && status == 500 && strstr(err, "HTTP 500: boom"), "HTTP 500 with the engine's message");
	set_mode(FAKE_GARBAGE);
	rc = docker_get_json(c, "/services", &j, &status, err, sizeof(err));
	CHECK(rc == -EPROTO && strstr(err, "not JSON") && !j, "non-JSON body refused");
	set_mode(FAKE_CLOSE);
	rc = docker_get_json(c, "/services", &j, &status, err, sizeof(err));
	CHECK(rc < 0 && rc != -EPROTO, "connection closed without answer: transport error (%d)", rc);
	set_mode(FAKE_OK);

	fk.big = DOCKER_API_MAX_BODY + 1;
	rc = docker_get_json(c, "/services", &j, &status, err, sizeof(err));
	CHECK(rc == -EFBIG && !j && strstr(err, "larger than"), "body over 64 MiB refused");
	fk.big = DOCKER_API_MAX_BODY - 16;
	rc = docker_get_json(c, "/services", &j, &status, err, sizeof(err));
	CHECK(rc == 0 && cJSON_IsArray(j), "body just under the cap accepted");
	cJSON_Delete(j);
	fk.big = 0;

	CHECK(docker_url_encode("{\"a\":[\"b c\"]}", enc, sizeof(enc)) == 0 &&
	      strcmp(enc, "%7B%22a%22%3A%5B%22b%20c%22%5D%7D") == 0, "URL encoding of a filter");
	CHECK(docker_url_encode("{{{{", enc, 8) == -ENOSPC && enc[0] == '\0', "URL encoding reports overflow");

	/* Events. */
	rc = docker_events_start(c, "{\"type\":[\"service\"]}", count_event, NULL);
	CHECK_EQ_INT(rc, 0, "events stream opened");
	for (int i = 0; i < 20 && fk.ev_fd < 0; i++)
		docker_events_wait(c, 50, err, sizeof(err));
	CHECK(strstr(fk.last_path, "/v1.41/events?filters=%7B%22type%22") != NULL, "events filter encoded in the URL");
	push_event("{\"Type\":\"service\",\"Action\":\"update\"}\n{\"Type\":\"serv");
	for (int i = 0; i < 10 && nev < 1; i++)
		docker_events_wait(c, 50, err, sizeof(err));
	push_event("ice\",\"Action\":\"remove\"}\n");
	for (int i = 0; i < 10 && nev < 2; i++)
		docker_events_wait(c, 50, err, sizeof(err));
	CHECK_EQ_INT(nev, 2, "two events, one split across writes");
	push_event("not json\n");
	rc = 1;
	for (int i = 0; i < 20 && rc > 0; i++)
		rc = docker_events_wait(c, 50, err, sizeof(err));
	CHECK(rc == -EPROTO && strstr(err, "not a JSON object"), "garbage line ends the stream with -EPROTO");
	pthread_mutex_lock(&fk.mu);
	rc = fk.n_events;
	pthread_mutex_unlock(&fk.mu);
	docker_events_start(c, "{}", count_event, NULL);
	for (int i = 0; i < 40; i++) {
		bool open;

		docker_events_wait(c, 50, err, sizeof(err));
		pthread_mutex_lock(&fk.mu);
		open = fk.n_events > rc && fk.ev_fd >= 0;
		pthread_mutex_unlock(&fk.mu);
		if (open)
			break;
	}
	msleep(50);
	push_event(NULL);
	rc = 1;
	for (int i = 0; i < 20 && rc > 0; i++)
		rc = docker_events_wait(c, 50, err, sizeof(err));
	CHECK(rc == -ECONNRESET && strstr(err, "closed"), "engine closing the stream is reported");
	CHECK_EQ_INT(docker_events_wait(c, 10, err, sizeof(err)), 0, "no stream after the end");
	{
		pthread_t t;
		long long t0 = now_ms();

		pthread_create(&t, NULL, wake_later, c);
		docker_events_wait(c, 5000, err, sizeof(err));
		pthread_join(t, NULL);
		CHECK(now_ms() - t0 < 2000, "wakeup from another thread ends a wait early (%lld ms)",
		      now_ms() - t0);
	}
	docker_client_free(c);

	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", fk.tport);
	c = docker_client_new(ep, err, sizeof(err));
	rc = c ? docker_client_negotiate(c, err, sizeof(err)) : -1;
	CHECK(rc == 0 && docker_get_json(c, "/tasks", &j, NULL, err, sizeof(err)) == 0 && cJSON_IsArray(j),
	      "tcp:// endpoint: negotiate and list");
	cJSON_Delete(j);
	docker_client_free(c);
}

/* ---- provider ---- */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dynconf *dc[16];
	long long at[16];
	int n;
} pub = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void on_publish(struct dynconf *dc, void *arg)
{
	pthread_mutex_lock(&pub.mu);
	if (pub.n < 16) {
		pub.at[pub.n] = now_ms();
		pub.dc[pub.n++] = dc;
	} else {
		dynconf_free(dc);
	}
	pthread_cond_broadcast(&pub.cv);
	pthread_mutex_unlock(&pub.mu);
}

/* Wait until publish number n arrives (0-based) or ms pass; the dynconf or NULL. */
static struct dynconf *wait_pub(int n, int ms)
{
	struct dynconf *dc = NULL;
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pub.mu);
	while (pub.n <= n && pthread_cond_timedwait(&pub.cv, &pub.mu, &dl) == 0)
		;
	if (pub.n > n)
		dc = pub.dc[n];
	pthread_mutex_unlock(&pub.mu);
	return dc;
}

static size_t servers_of(const struct dynconf *dc, const char *backend)
{
	const struct dc_backend *b = dc ? dynconf_find_backend(dc, backend) : NULL;

	return b ? b->nservers : 0;
}

static const char ev_update[] =
	"{\"Type\":\"service\",\"Action\":\"update\",\"Actor\":{\"ID\":\"x\",\"Attributes\":{\"name\":\"whoami_whoami\"}}}\n";

static void wait_events_open(int before)
{
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&fk.mu);
		if (fk.n_events > before && fk.ev_fd >= 0)
			i = 1000;
		pthread_mutex_unlock(&fk.mu);
		msleep(20);
	}
}

static void test_provider(void)
{
	struct docker_opts o;
	struct dynconf *dc;
	char *scaled = slurp("tasks-scaledown.json"), *tasks = slurp("tasks.json");
	char *services = slurp("services.json");
	long long t0;
	int n0, ev0, rc;

	docker_opts_default(&o);
	CHECK(o.exposed_by_default && o.watch && o.refresh_seconds == 15 &&
	      strcmp(o.endpoint, "unix:///var/run/docker.sock") == 0, "Traefik's defaults");
	o.enabled = true;
	o.exposed_by_default = false;
	snprintf(o.endpoint, sizeof(o.endpoint), "unix://%s", fk.sock);
	CHECK_EQ_INT(docker_provider_start(&o, on_publish, NULL), -EOPNOTSUPP,
		     "without --docker.swarmMode the provider refuses to start");
	o.swarm_mode = true;
	set_str(&fk.tasks, "[]");	/* no pending task: no fast polling in this test */
	set_str(&fk.tasks, tasks);
	pthread_mutex_lock(&fk.mu);
	ev0 = fk.n_events;
	pthread_mutex_unlock(&fk.mu);

	t0 = now_ms();
	rc = docker_provider_start(&o, on_publish, NULL);
	CHECK_EQ_INT(rc, 0, "provider starts");
	dc = wait_pub(0, 3000);
	CHECK(dc && dc->nfrontends == 3 && servers_of(dc, "backend-whoami-whoami") == 2,
	      "first configuration published (%lld ms)", now_ms() - t0);
	wait_events_open(ev0);

	/* An event with nothing changed: a re-list, no publish. */
	n0 = n_services();
	push_event(ev_update);
	msleep(400);
	CHECK(n_services() > n0, "an event triggers a re-list");
	CHECK(wait_pub(1, 300) == NULL, "identical configuration not re-published");

	/* A scale-down seen through an event: published within the debounce + a listing. */
	set_str(&fk.tasks, scaled);
	t0 = now_ms();
	push_event(ev_update);
	dc = wait_pub(1, 2000);
	CHECK(dc && servers_of(dc, "backend-whoami-whoami") == 1,
	      "scale-down published after an event (%lld ms)", now_ms() - t0);
	CHECK(dc && now_ms() - t0 < 600, "within 600 ms of the event");

	/* Engine errors: nothing published, the provider lives on. */
	set_mode(FAKE_500);
	push_event(ev_update);
	msleep(600);
	set_mode(FAKE_GARBAGE);
	msleep(600);
	CHECK(wait_pub(2, 100) == NULL, "HTTP 500 and garbage publish nothing");
	set_mode(FAKE_CLOSE);
	push_event(NULL);
	msleep(800);
	CHECK(wait_pub(2, 100) == NULL, "engine gone: nothing published, last config stays");
	set_mode(FAKE_OK);
	/* Back, same data: reconnects (backoff <= 2 s here) but publishes nothing new. */
	msleep(2500);
	CHECK(n_services() > n0 + 2, "provider re-lists after the engine is back");
	CHECK(wait_pub(2, 100) == NULL, "same data after reconnect: not re-published");

	/* Back to 2 servers. */
	set_str(&fk.tasks, tasks);
	wait_events_open(ev0 + 1);
	push_event(ev_update);
	dc = wait_pub(2, 3000);
	CHECK(dc && servers_of(dc, "backend-whoami-whoami") == 2, "change after reconnect published");

	/* Every service gone at once: confirmed by a second listing before publishing. */
	set_str(&fk.services, "[]");
	t0 = now_ms();
	push_event(ev_update);
	dc = wait_pub(3, 3000);
	CHECK(dc && dc->nfrontends == 0, "an empty listing is published once confirmed");
	CHECK(dc && pub.at[3] - t0 >= 900, "only after the 1 s confirmation (%lld ms)", pub.at[3] - t0);
	set_str(&fk.services, services);

	t0 = now_ms();
	docker_provider_stop();
	CHECK(now_ms() - t0 < 1000, "stop returns promptly (%lld ms)", now_ms() - t0);
	docker_provider_stop();
	CHECK(1, "stop twice is harmless");

	/* --docker.watch=false over tcp: one listing, then nothing, whatever happens. */
	o.watch = false;
	snprintf(o.endpoint, sizeof(o.endpoint), "tcp://127.0.0.1:%d", fk.tport);
	pthread_mutex_lock(&fk.mu);
	ev0 = fk.n_events;
	pthread_mutex_unlock(&fk.mu);
	CHECK_EQ_INT(docker_provider_start(&o, on_publish, NULL), 0, "provider starts with watch=false");
	dc = wait_pub(4, 3000);
	CHECK(dc && dc->nfrontends == 3, "watch=false: the one listing is published");
	n0 = n_services();
	set_str(&fk.tasks, scaled);
	msleep(1200);
	CHECK(n_services() == n0 && wait_pub(5, 10) == NULL, "watch=false: no further listing");
	pthread_mutex_lock(&fk.mu);
	CHECK(fk.n_events == ev0, "watch=false: no event stream");
	pthread_mutex_unlock(&fk.mu);
	docker_provider_stop();
	set_str(&fk.tasks, tasks);
	for (int i = 0; i < pub.n; i++)
		dynconf_free(pub.dc[i]);
	free(scaled);
	free(tasks);
	free(services);
}

int main(void)
{
	unit_begin("docker_api");
	log_set_level(getenv("DOCKER_TEST_LOG") ? LOG_LVL_DEBUG : LOG_LVL_OFF);
	fake_start();
	test_client();
	test_provider();
	fake_stop();
	return unit_done();
}
