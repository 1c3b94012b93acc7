// SPDX-License-Identifier: MIT
/*
 * Unit tests for docker_labels: Swarm listings captured from a real dockerd (Engine 20.10,
 * tests/fixtures/docker/) and small hand-made ones -> dynconf, checked name by name against
 * what Traefik 1.7 derives (frontend index, server md5, default rule, backend sharing),
 * plus network choice, task states, bad labels and hostile JSON shapes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "docker_labels.h"
#include "dynconf.h"
#include "unit.h"

#define FIX "tests/fixtures/docker/"

static cJSON *load(const char *name)
{
	char path[256], *buf;
	cJSON *j;

	snprintf(path, sizeof(path), FIX "%s", name);
	buf = unit_fixture(path);
	j = cJSON_Parse(buf);
	free(buf);
	if (!j) {
		printf("FAIL %s is not JSON\n", path);
		exit(1);
	}
	return j;
}

static cJSON *services, *tasks, *networks;

static const struct dc_server *find_server(const struct dc_backend *b, const char *name)
{
	for (size_t i = 0; b && i < b->nservers; i++)
		if (strcmp(b->servers[i].name, name) == 0)
			return &b->servers[i];
	return NULL;
}

static bool has_msg(const struct docker_build *b, const char *needle)
{
	for (size_t i = 0; i < b->nmsgs; i++)
		if (strstr(b->msgs[i].text, needle))
			return true;
	return false;
}

/* Expected server name: N("server-<container name>-<md5(url)>"). */
static void server_name(const char *cname, const char *url, char *out, size_t len)
{
	char md5[33], raw[512];

	docker_md5_hex(url, strlen(url), md5);
	snprintf(raw, sizeof(raw), "server-%s-%s", cname, md5);
	docker_normalize(raw, out, len);
}

static int build(const struct docker_labels_opts *o, const cJSON *t, struct docker_build *b)
{
	char err[256];

	return docker_labels_build(services, t ? t : tasks, networks, o, b, err, sizeof(err));
}

static void test_primitives(void)
{
	char out[300];

	docker_md5_hex("", 0, out);
	CHECK_EQ_STR(out, "d41d8cd98f00b204e9800998ecf8427e", "md5 of empty string");
	docker_md5_hex("http://10.0.1.5:80", 18, out);
	CHECK_EQ_STR(out, "0ff68590383b8fca1047d200663369d3", "md5 of Traefik's documented server URL");
	{
		char big[200];

		memset(big, 'a', sizeof(big));
		docker_md5_hex(big, 56, out);	/* padding spills into a second block */
		CHECK_EQ_STR(out, "3b0c8ac703f828b04c6c197006d17218", "md5 of 56 bytes (two-block padding)");
		docker_md5_hex(big, 200, out);
		CHECK_EQ_STR(out, "887f30b43b2867f4a9accceee7d16e6c", "md5 of 200 bytes (several blocks)");
	}
	docker_normalize("Host:whoami.example.com-0", out, sizeof(out));
	CHECK_EQ_STR(out, "Host-whoami-example-com-0", "normalize a rule");
	docker_normalize("--a__b..c--", out, sizeof(out));
	CHECK_EQ_STR(out, "a-b-c", "normalize trims and collapses separators");
	CHECK(docker_normalize("abcdef", out, 4) == -ENOSPC && out[0] == '\0',
	      "normalize reports a too small buffer");
	server_name("whoami_whoami.1", "http://10.0.1.5:80", out, sizeof(out));
	CHECK_EQ_STR(out, "server-whoami-whoami-1-0ff68590383b8fca1047d200663369d3",
		     "server name as in Traefik's API example");
}

/* exposedByDefault=false, no domain, spliced on the host, no network flag. */
static void test_fixture_defaults(void)
{
	struct docker_labels_opts o = { .exposed_by_default = false };
	struct docker_build b;
	const struct dc_backend *be;
	const struct dc_frontend *f;
	char name[300];

	CHECK_EQ_INT(build(&o, NULL, &b), 0, "fixture builds");
	CHECK_EQ_INT(b.nservices, 11, "11 services listed");
	CHECK_EQ_INT(b.dc->nfrontends, 3, "3 frontends (everywhere, whoami_whoami, api)");
	CHECK_EQ_INT(b.nskipped, 3, "3 services refused (badport, guarded, segment)");
	CHECK_EQ_INT(b.nstarting, 1, "the pending task counts as starting");
	/* Frontend index = position of the service's first task among kept tasks. */
	f = dynconf_find_frontend(b.dc, "frontend-Host-global-example-com-0");
	CHECK(f != NULL, "global service frontend has index 0");
	f = dynconf_find_frontend(b.dc, "frontend-Host-whoami-example-com-1");
	CHECK(f && f->nroutes == 1 && strcmp(f->routes[0].name, "route-frontend-Host-whoami-example-com-1") == 0 &&
	      strcmp(f->routes[0].rule, "Host:whoami.example.com") == 0,
	      "whoami frontend index 1, route name and rule");
	CHECK(f && f->priority == 0 && f->pass_host_header && f->nentrypoints == 0,
	      "defaults: priority 0, passHostHeader true, no entrypoints");
	CHECK(f && strcmp(f->backend, "backend-whoami-whoami") == 0, "backend name from whoami_whoami");
	CHECK(dynconf_find_frontend(b.dc, "frontend-PathPrefix-api-3") != NULL,
	      "api frontend index 3 (after 1 + 2 tasks)");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 2 && strcmp(be->lb_method, "wrr") == 0, "whoami: 2 servers, wrr");
	server_name("whoami_whoami.1", "http://10.0.1.3:80", name, sizeof(name));
	CHECK(find_server(be, name) && find_server(be, name)->weight == 1, "server whoami slot 1 name/weight");
	server_name("whoami_whoami.2", "http://10.0.1.4:80", name, sizeof(name));
	CHECK(find_server(be, name) != NULL, "server whoami slot 2");
	be = dynconf_find_backend(b.dc, "backend-everywhere");
	server_name("everywhere.d5kglgxpe7wg177y3swqqa3i2", "http://10.0.1.18:80", name, sizeof(name));
	CHECK(be && be->nservers == 1 && find_server(be, name), "global service: server named by task ID");
	be = dynconf_find_backend(b.dc, "backend-shared");
	server_name("api.1", "http://10.0.1.8:80", name, sizeof(name));
	CHECK(be && be->nservers == 1 && find_server(be, name),
	      "api on its non-ingress network (spl-front), not ingress");
	CHECK(has_msg(&b, "service api: no network named") && has_msg(&b, "using \"spl-front\""),
	      "host mode logs the network it picked");
	CHECK(has_msg(&b, "service badport: label traefik.port=\"http\""), "bad port named in a message");
	CHECK(has_msg(&b, "service guarded: label traefik.frontend.auth.basic.users is not supported"),
	      "unsupported auth label refuses its service");
	CHECK(has_msg(&b, "service segment: label traefik.web."), "segment labels refuse their service");
	CHECK(has_msg(&b, "service noport: no traefik.port"), "missing port explained");
	CHECK(has_msg(&b, "service web: no traefik.frontend.rule and no domain"), "missing rule explained");
	CHECK(!dynconf_find_frontend(b.dc, "frontend-Host-disabled-example-com-0") &&
	      !dynconf_find_backend(b.dc, "backend-disabled") && !dynconf_find_backend(b.dc, "backend-hidden"),
	      "disabled and not-enabled services are absent");
	CHECK(!dynconf_find_backend(b.dc, "backend-pending"), "service without running task is absent");
	docker_build_fini(&b);
}

/* With --docker.domain: default rules, and the web service's labels. */
static void test_fixture_domain(void)
{
	struct docker_labels_opts o = { .exposed_by_default = false, .domain = "example.com" };
	struct docker_build b;
	const struct dc_backend *be;
	const struct dc_frontend *f;
	char name[300];

	CHECK_EQ_INT(build(&o, NULL, &b), 0, "fixture builds with a domain");
	f = dynconf_find_frontend(b.dc, "frontend-Host-web-example-com-0");
	CHECK(f && strcmp(f->routes[0].rule, "Host:web.example.com") == 0, "default rule Host:<svc>.<domain>");
	CHECK(f && f->priority == 10, "traefik.frontend.priority=10");
	CHECK(f && !f->pass_host_header, "traefik.frontend.passHostHeader=false");
	CHECK(f && f->nentrypoints == 2 && strcmp(f->entrypoints[0], "http") == 0 &&
	      strcmp(f->entrypoints[1], "https") == 0, "entryPoints \"http, https\" split and trimmed");
	CHECK(f && strcmp(f->backend, "backend-shared") == 0, "traefik.backend=shared");
	CHECK(dynconf_find_frontend(b.dc, "frontend-Host-global-example-com-1") &&
	      dynconf_find_frontend(b.dc, "frontend-Host-whoami-example-com-2") &&
	      dynconf_find_frontend(b.dc, "frontend-PathPrefix-api-4"),
	      "indexes shift by web's task");
	be = dynconf_find_backend(b.dc, "backend-shared");
	CHECK(be && be->nservers == 2, "web and api share backend-shared");
	CHECK(be && strcmp(be->lb_method, "drr") == 0, "shared backend takes the first service's method (drr)");
	server_name("web.1", "http://10.0.2.3:80", name, sizeof(name));
	CHECK(find_server(be, name) && find_server(be, name)->weight == 5,
	      "web's server on spl-back (traefik.docker.network) with weight 5");
	server_name("api.1", "http://10.0.1.8:80", name, sizeof(name));
	CHECK(find_server(be, name) && find_server(be, name)->weight == 1, "api's server keeps weight 1");
	docker_build_fini(&b);

	o.exposed_by_default = true;
	CHECK_EQ_INT(build(&o, NULL, &b), 0, "fixture builds exposed by default");
	f = dynconf_find_frontend(b.dc, "frontend-Host-hidden-example-com-2");
	CHECK(f && strcmp(f->routes[0].rule, "Host:hidden.example.com") == 0,
	      "exposedByDefault exposes a service without traefik.enable");
	CHECK(!dynconf_find_backend(b.dc, "backend-disabled"), "traefik.enable=false still wins");
	CHECK(dynconf_find_frontend(b.dc, "frontend-Host-whoami-example-com-3") != NULL,
	      "later indexes shift by hidden's task");
	docker_build_fini(&b);
}

static void test_network_choice(void)
{
	const char *both[] = { "spl-back", "spl-front" }, *back[] = { "spl-back" };
	struct docker_labels_opts o = { .domain = "example.com", .in_container = true,
					.self_networks = both, .nself_networks = 2 };
	struct docker_build b;
	const struct dc_backend *be;
	char name[300];

	CHECK_EQ_INT(build(&o, NULL, &b), 0, "in a container on spl-back and spl-front");
	be = dynconf_find_backend(b.dc, "backend-shared");
	server_name("api.1", "http://10.0.1.8:80", name, sizeof(name));
	CHECK(be && find_server(be, name), "api reached on the shared spl-front");
	server_name("web.1", "http://10.0.2.3:80", name, sizeof(name));
	CHECK(be && find_server(be, name), "web: the label's network");
	CHECK(!has_msg(&b, "no network named"), "no host-mode message in a container");
	docker_build_fini(&b);

	o.self_networks = back;
	o.nself_networks = 1;
	CHECK_EQ_INT(build(&o, NULL, &b), 0, "in a container on spl-back only");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 0, "whoami shares no network: no server");
	CHECK(dynconf_find_frontend(b.dc, "frontend-Host-whoami-example-com-2") != NULL,
	      "its frontend stays (503 rather than a wrong address)");
	CHECK(has_msg(&b, "service whoami_whoami shares no network with spliced's container"),
	      "a clear message when no network is shared");
	docker_build_fini(&b);

	o.in_container = false;
	o.network = "spl-front";
	CHECK_EQ_INT(build(&o, NULL, &b), 0, "--docker.network=spl-front");
	be = dynconf_find_backend(b.dc, "backend-shared");
	server_name("web.1", "http://10.0.2.3:80", name, sizeof(name));
	CHECK(be && find_server(be, name), "the label traefik.docker.network beats --docker.network");
	CHECK(!has_msg(&b, "no network named"), "no guess when a network is named");
	docker_build_fini(&b);

	o.network = "nosuchnet";
	CHECK_EQ_INT(build(&o, NULL, &b), 0, "--docker.network naming a network tasks are not on");
	CHECK(has_msg(&b, "not attached to network \"nosuchnet\""), "the wrong name is reported");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 2, "and the choice falls back to the task's own network");
	docker_build_fini(&b);
}

/* --docker.network=docker_gwbridge: addresses on the local gateway bridge, by container id. */
static void test_gwbridge(void)
{
	cJSON *sv = load("gw-services.json"), *tk = load("gw-tasks.json"), *gw = load("gw-bridge.json");
	struct docker_labels_opts o = { .network = DOCKER_GWBRIDGE, .gwbridge = gw };
	struct docker_build b;
	const struct dc_backend *be;
	char err[256];

	CHECK_EQ_INT(docker_labels_build(sv, tk, networks, &o, &b, err, sizeof(err)), 0,
		     "gwbridge listing builds");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 2 && strncmp(be->servers[0].url, "http://172.18.0.", 16) == 0 &&
	      strncmp(be->servers[1].url, "http://172.18.0.", 16) == 0,
	      "both tasks reached on their docker_gwbridge addresses");
	docker_build_fini(&b);

	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(gw, "Containers"),
		"74ae383c370de36a711ac02b59708a2a1c23ed6bd08bd4de8b5859a7a05eed56");
	CHECK_EQ_INT(docker_labels_build(sv, tk, networks, &o, &b, err, sizeof(err)), 0,
		     "gwbridge without one task's container");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 1 && strcmp(be->servers[0].url, "http://172.18.0.3:80") == 0,
	      "the task of another node is left out");
	CHECK(has_msg(&b, "has no docker_gwbridge address on this node"), "and reported");
	docker_build_fini(&b);

	o.gwbridge = NULL;
	CHECK_EQ_INT(docker_labels_build(sv, tk, networks, &o, &b, err, sizeof(err)), 0,
		     "gwbridge requested but not listed");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 0 && has_msg(&b, "did not list it"), "no server, a message");
	docker_build_fini(&b);
	cJSON_Delete(sv);
	cJSON_Delete(tk);
	cJSON_Delete(gw);
}

static void test_task_states(void)
{
	struct docker_labels_opts o = { .domain = "example.com" };
	cJSON *all = load("tasks-scaledown-all.json"), *running = load("tasks-scaledown.json");
	struct docker_build b;
	const struct dc_backend *be;

	CHECK_EQ_INT(build(&o, all, &b), 0, "unfiltered task list during a scale-down");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 1 && strstr(be->servers[0].name, "whoami-whoami-1-"),
	      "task with DesiredState=remove (still running) is out of rotation");
	docker_build_fini(&b);
	CHECK_EQ_INT(build(&o, running, &b), 0, "desired-state=running list during a scale-down");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(be && be->nservers == 1, "same single server");
	docker_build_fini(&b);
	cJSON_Delete(all);
	cJSON_Delete(running);
}

/* Hand-made listings: one service per case, built around one network and one task. */
static cJSON *svc(const char *id, const char *name, const char *labels_json)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
		 "{\"ID\":\"%s\",\"Spec\":{\"Name\":\"%s\",\"Labels\":%s,\"Mode\":{\"Replicated\":{\"Replicas\":1}}}}",
		 id, name, labels_json);
	return cJSON_Parse(buf);
}

static cJSON *task(const char *id, const char *sid, int slot, const char *state, const char *ip)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"ID\":\"%s\",\"ServiceID\":\"%s\",\"Slot\":%d,\"DesiredState\":\"running\","
		 "\"Status\":{\"State\":\"%s\"},\"NetworksAttachments\":[{\"Network\":{\"ID\":\"n1\"},"
		 "\"Addresses\":[\"%s/24\"]}]}", id, sid, slot, state, ip);
	return cJSON_Parse(buf);
}

static void test_synthetic(void)
{
	struct docker_labels_opts o = { .domain = "example.com", .exposed_by_default = true };
	cJSON *s = cJSON_CreateArray(), *t = cJSON_CreateArray();
	cJSON *n = cJSON_Parse("[{\"Id\":\"n1\",\"Name\":\"net\"},{\"Id\":7},\"junk\"]");
	struct docker_build b;
	const struct dc_frontend *f;
	const struct dc_backend *be;
	char err[256];
	int rc;

	/* Traefik's API example: stack whoami, 2 tasks. */
	cJSON_AddItemToArray(s, svc("s1", "whoami_whoami",
		"{\"traefik.enable\":\"true\",\"traefik.port\":\"80\",\"traefik.frontend.rule\":\"Host:whoami.example.com\"}"));
	cJSON_AddItemToArray(t, task("t1", "s1", 1, "running", "10.0.1.5"));
	cJSON_AddItemToArray(t, task("t2", "s1", 2, "running", "10.0.1.6"));
	/* Default rule from a stack name; weight 0 is allowed. */
	cJSON_AddItemToArray(s, svc("s2", "shop_front", "{\"traefik.port\":\"8080\",\"traefik.weight\":\"0\"}"));
	cJSON_AddItemToArray(t, task("t3", "s2", 1, "running", "10.0.1.7"));
	cJSON_AddItemToArray(t, task("t4", "s2", 2, "starting", "10.0.1.8"));
	/* Hostile shapes, each must skip only itself. */
	cJSON_AddItemToArray(s, svc("s3", "labels_string", "\"traefik.port=80\""));
	cJSON_AddItemToArray(s, svc("s4", "label_number", "{\"traefik.port\":80}"));
	cJSON_AddItemToArray(s, svc("s5", "badbool", "{\"traefik.port\":\"80\",\"traefik.frontend.passHostHeader\":\"yes\"}"));
	cJSON_AddItemToArray(s, svc("s6", "badweight", "{\"traefik.port\":\"80\",\"traefik.weight\":\"-1\"}"));
	cJSON_AddItemToArray(s, svc("s7", "badmethod", "{\"traefik.port\":\"80\",\"traefik.backend.loadbalancer.method\":\"random\"}"));
	cJSON_AddItemToArray(s, svc("s8", "bigport", "{\"traefik.port\":\"65536\"}"));
	cJSON_AddItemToArray(s, cJSON_Parse("{\"ID\":\"s9\",\"Spec\":\"nope\"}"));
	cJSON_AddItemToArray(s, cJSON_Parse("42"));
	cJSON_AddItemToArray(s, svc("s10", "emptyvals", "{\"traefik.port\":\"80\",\"traefik.weight\":\"\",\"traefik.enable\":\"\"}"));
	cJSON_AddItemToArray(s, svc("s11", "enable_bad", "{\"traefik.enable\":\"maybe\",\"traefik.port\":\"80\"}"));
	cJSON_AddItemToArray(s, svc("s12", "badrule", "{\"traefik.port\":\"80\",\"traefik.frontend.rule\":\"Hots:a.com\"}"));
	cJSON_AddItemToArray(t, task("t8", "s12", 1, "running", "10.0.1.11"));
	cJSON_AddItemToArray(t, task("t5", "s10", 1, "running", "10.0.1.9"));
	cJSON_AddItemToArray(t, cJSON_Parse("{\"ID\":\"t6\",\"ServiceID\":\"s1\",\"Slot\":\"3\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"},\"NetworksAttachments\":[{\"Network\":{\"ID\":\"n1\"},\"Addresses\":[\"10.0.1.10/24\"]}]}"));
	cJSON_AddItemToArray(t, cJSON_Parse("{\"ID\":\"t7\",\"ServiceID\":\"s1\",\"Slot\":4,\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"},\"NetworksAttachments\":[{\"Network\":{\"ID\":\"n1\"},\"Addresses\":[\"not-an-ip\",5]}]}"));
	cJSON_AddItemToArray(t, cJSON_Parse("[1,2]"));

	rc = docker_labels_build(s, t, n, &o, &b, err, sizeof(err));
	CHECK_EQ_INT(rc, 0, "synthetic listing builds");
	f = dynconf_find_frontend(b.dc, "frontend-Host-whoami-example-com-0");
	be = dynconf_find_backend(b.dc, "backend-whoami-whoami");
	CHECK(f && be && be->nservers == 2 &&
	      find_server(be, "server-whoami-whoami-1-0ff68590383b8fca1047d200663369d3") &&
	      find_server(be, "server-whoami-whoami-2-3f3a06570bf94610db3ce19bc6596258"),
	      "Traefik's API example: same frontend, backend and server names");
	CHECK(be && be->nservers == 2, "task with a string Slot and task without a valid IP are left out");
	f = dynconf_find_frontend(b.dc, "frontend-Host-shop-front-example-com-3");
	CHECK(f && strcmp(f->routes[0].rule, "Host:shop-front.example.com") == 0,
	      "default rule: '_' becomes '-'; index counts the task without address");
	be = dynconf_find_backend(b.dc, "backend-shop-front");
	CHECK(be && be->nservers == 1 && be->servers[0].weight == 0 &&
	      strcmp(be->servers[0].url, "http://10.0.1.7:8080") == 0,
	      "only the running task, port 8080, weight 0");
	CHECK_EQ_INT(b.nstarting, 1, "starting task counted");
	CHECK(dynconf_find_backend(b.dc, "backend-emptyvals") &&
	      dynconf_find_backend(b.dc, "backend-emptyvals")->servers[0].weight == 1,
	      "empty label values count as unset");
	CHECK(has_msg(&b, "service labels_string: malformed"), "labels that are not an object");
	CHECK(has_msg(&b, "service label_number: label traefik.port is not a string"), "non-string label");
	CHECK(has_msg(&b, "service badbool: label traefik.frontend.passHostHeader=\"yes\""), "bad bool");
	CHECK(has_msg(&b, "service badweight: label traefik.weight=\"-1\""), "negative weight");
	CHECK(has_msg(&b, "service badmethod: label traefik.backend.loadbalancer.method=\"random\""),
	      "unknown lb method");
	CHECK(has_msg(&b, "service bigport: label traefik.port=\"65536\""), "port out of range");
	CHECK(has_msg(&b, "service enable_bad: label traefik.enable=\"maybe\""), "bad traefik.enable");
	CHECK(has_msg(&b, "service s9: malformed"), "Spec not an object");
	CHECK(has_msg(&b, "service badrule: label traefik.frontend.rule=\"Hots:a.com\"") &&
	      !dynconf_find_backend(b.dc, "backend-badrule"), "unknown rule matcher refuses the service");
	CHECK_EQ_INT(b.dc->nfrontends, 3, "exactly the 3 good services are served");
	docker_build_fini(&b);

	rc = docker_labels_build(n, NULL, n, &o, &b, err, sizeof(err));
	CHECK(rc == -EPROTO && strstr(err, "tasks listing is not a JSON array"), "tasks not an array refused");
	CHECK(b.dc == NULL, "nothing built on a refused listing");
	{
		cJSON *obj = cJSON_Parse("{\"message\":\"This node is not a swarm manager\"}");

		rc = docker_labels_build(obj, t, n, &o, &b, err, sizeof(err));
		CHECK(rc == -EPROTO && strstr(err, "services"), "an error object instead of services refused");
		cJSON_Delete(obj);
	}
	cJSON_Delete(s);
	cJSON_Delete(t);
	cJSON_Delete(n);
}

/* The same listing twice gives equal configurations (what "identical is not re-published" needs). */
static void test_stable(void)
{
	struct docker_labels_opts o = { .domain = "example.com", .exposed_by_default = true };
	struct docker_build a, b;

	build(&o, NULL, &a);
	build(&o, NULL, &b);
	CHECK(a.dc && b.dc && dynconf_equal(a.dc, b.dc), "two builds of one listing are equal");
	docker_build_fini(&a);
	docker_build_fini(&b);
}

int main(void)
{
	unit_begin("docker_labels");
	services = load("services.json");
	tasks = load("tasks.json");
	networks = load("networks.json");
	test_primitives();
	test_fixture_defaults();
	test_fixture_domain();
	test_network_choice();
	test_task_states();
	test_gwbridge();
	test_synthetic();
	test_stable();
	cJSON_Delete(services);
	cJSON_Delete(tasks);
	cJSON_Delete(networks);
	return unit_done();
}
