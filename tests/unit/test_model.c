// SPDX-License-Identifier: MIT
/*
 * Unit tests: file-provider JSON -> dynconf -> routing snapshot: validation messages,
 * priorities, routing, weighted round robin, snapshot swap with requests in flight.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "dynconf.h"
#include "model.h"
#include "provider_file.h"
#include "unit.h"

static struct config cfg;

static struct model *build_text(const char *json, char *err, size_t errlen)
{
	struct dynconf *dc = provider_file_parse(json, strlen(json), "test.json", err, errlen);

	if (!dc)
		return NULL;
	return model_build(&dc, 1, &cfg, err, errlen);
}

static struct model_frontend *route(struct model *m, const char *host, const char *path)
{
	struct rule_input in = {
		.method = "GET", .method_len = 3,
		.host = host, .host_len = host ? strlen(host) : 0,
		.path = path, .path_len = strlen(path),
	};

	return model_route(m, 0, &in, NULL);
}

static const char *two_frontends =
	"{\"frontends\":{"
	" \"web\":{\"backend\":\"b1\",\"routes\":{\"r\":{\"rule\":\"Host:a.local\"}}},"
	" \"api\":{\"backend\":\"b2\",\"routes\":{\"r\":{\"rule\":\"Host:a.local;PathPrefix:/api\"}}},"
	" \"pinned\":{\"backend\":\"b2\",\"priority\":1,\"routes\":{\"r\":{\"rule\":\"PathPrefix:/\"}}}"
	"},\"backends\":{"
	" \"b1\":{\"servers\":{\"s1\":{\"url\":\"http://127.0.0.1:1001\"},"
	"                     \"s2\":{\"url\":\"http://127.0.0.1:1002\",\"weight\":1}}},"
	" \"b2\":{\"servers\":{\"x\":{\"url\":\"http://127.0.0.1:2001\",\"weight\":3},"
	"                     \"y\":{\"url\":\"http://[::1]:2002\",\"weight\":1},"
	"                     \"z\":{\"url\":\"http://127.0.0.1:2003\",\"weight\":0}},"
	"       \"loadBalancer\":{\"method\":\"DRR\"}}"
	"}}";

static void test_errors(void)
{
	char err[512];
	struct model *m;

	m = build_text("{\"frontends\":{\n  \"a\": {\"backend\": \"b\",}\n}}", err, sizeof(err));
	CHECK(!m && strstr(err, "line 2"), "syntax error names the line: %s", err);
	m = build_text("{\"frontends\":{\"a\":{\"backned\":\"b\"}}}", err, sizeof(err));
	CHECK(!m && strstr(err, "frontends.a.backned: unknown field"), "typo named: %s", err);
	m = build_text("{\"frontends\":{\"a\":{\"backend\":\"b\",\"routes\":{\"r\":{\"rule\":5}}}}}",
		       err, sizeof(err));
	CHECK(!m && strstr(err, "frontends.a.routes.r.rule: must be a string"), "type: %s", err);
	m = build_text("{\"frontends\":{\"a\":{\"backend\":\"nope\",\"routes\":{\"r\":{\"rule\":"
		       "\"Host:x\"}}}}}", err, sizeof(err));
	CHECK(!m && strstr(err, "frontends.a") && strstr(err, "\"nope\" is not defined"),
	      "undefined backend: %s", err);
	m = build_text("{\"frontends\":{\"a\":{\"backend\":\"b\",\"routes\":{\"r\":{\"rule\":"
		       "\"Hots:x\"}}}},\"backends\":{\"b\":{}}}", err, sizeof(err));
	CHECK(!m && strstr(err, "frontends.a") && strstr(err, "Hots"), "bad rule: %s", err);
	m = build_text("{\"backends\":{\"b\":{\"servers\":{\"s\":{\"url\":\"https://1.2.3.4\"}}}}}",
		       err, sizeof(err));
	CHECK(!m && strstr(err, "backends.b.servers.s") && strstr(err, "http://"),
	      "https server rejected: %s", err);
	m = build_text("{\"backends\":{\"b\":{\"servers\":{\"s\":{\"url\":\"http://1.2.3.4:0\"}}}}}",
		       err, sizeof(err));
	CHECK(!m && strstr(err, "bad port"), "port 0 rejected: %s", err);
	m = build_text("{\"backends\":{\"b\":{\"servers\":{\"s\":{\"url\":\"http://1.2.3.4\","
		       "\"weight\":-1}}}}}", err, sizeof(err));
	CHECK(!m && strstr(err, "weight"), "negative weight rejected: %s", err);
	m = build_text("{\"frontends\":{\"a\":{\"backend\":\"b\",\"entryPoints\":[\"https\"],"
		       "\"routes\":{\"r\":{\"rule\":\"Host:x\"}}}},\"backends\":{\"b\":{}}}",
		       err, sizeof(err));
	CHECK(!m && strstr(err, "no entry point named \"https\""), "unknown entry point: %s", err);
	m = build_text("[]", err, sizeof(err));
	CHECK(!m && strstr(err, "top level"), "not an object: %s", err);
	m = build_text("{} x", err, sizeof(err));
	CHECK(!m && strstr(err, "after the JSON"), "trailing text: %s", err);
}

static void test_lenient_provider(void)
{
	struct dynconf *dc = dynconf_new("docker");
	struct dc_backend *b = dynconf_add_backend(dc, "backend-ok", "wrr");
	struct dc_frontend *f;
	char err[256] = "";
	struct model *m;

	dynconf_add_server(b, "s1", "http://127.0.0.1:80", 1);
	dynconf_add_server(b, "bad", "https://127.0.0.1:443", 1);
	f = dynconf_add_frontend(dc, "frontend-bad", "backend-ok");
	dynconf_add_route(f, "r", "Bogus:x");
	f = dynconf_add_frontend(dc, "frontend-good", "backend-ok");
	dynconf_add_route(f, "r", "Host:good.local");
	m = model_build(&dc, 1, &cfg, err, sizeof(err));
	CHECK(m != NULL, "docker config with bad parts still builds: %s", err);
	if (!m)
		return;
	CHECK_EQ_INT(m->nfrontends, 1, "bad frontend dropped, good one kept");
	CHECK_EQ_INT(m->backends[0].nservers, 1, "bad server dropped");
	model_release(m);
}

static void test_routing(void)
{
	char err[512];
	struct model *m = build_text(two_frontends, err, sizeof(err));
	struct model_frontend *f;
	int count[3] = { 0 };
	char seq[32] = "";

	CHECK(m != NULL, "valid config builds: %s", m ? "" : err);
	if (!m)
		return;
	CHECK_EQ_INT(m->nfrontends, 3, "three frontends");
	CHECK_EQ_STR(m->frontends[0].name, "api", "longest rule first (priority = rule length)");
	CHECK_EQ_INT(m->frontends[0].priority, (int)strlen("Host:a.local;PathPrefix:/api"),
		     "priority is the rule length");
	CHECK_EQ_STR(m->frontends[2].name, "pinned", "explicit priority 1 last");
	f = route(m, "a.local", "/api/x");
	CHECK(f && !strcmp(f->name, "api"), "Host+PathPrefix wins for /api");
	f = route(m, "A.LOCAL:80", "/index");
	CHECK(f && !strcmp(f->name, "web"), "Host match ignores case and port");
	f = route(m, "other", "/");
	CHECK(f && !strcmp(f->name, "pinned"), "catch-all with low priority");
	f = route(m, NULL, "/x");
	CHECK(f && !strcmp(f->name, "pinned"), "no Host: only the PathPrefix rule matches");

	/* round robin with equal weights: server order, shared position */
	f = route(m, "a.local", "/");
	for (int i = 0; i < 4; i++) {
		struct model_server *s = model_backend_next(f->backend);

		strcat(seq, s->name);
	}
	CHECK_EQ_STR(seq, "s1s2s1s2", "equal weights alternate in name order");

	/* weights 3:1:0 */
	f = route(m, "x", "/");
	CHECK_EQ_INT(f->backend->seqlen, 4, "weights 3+1 give a sequence of 4");
	for (int i = 0; i < 400; i++) {
		struct model_server *s = model_backend_next(f->backend);

		count[s->id]++;
	}
	CHECK(count[0] == 300 && count[1] == 100, "3:1 split over 400 picks (%d:%d)", count[0],
	      count[1]);
	CHECK_EQ_INT(f->backend->nservers, 3, "weight-0 server is kept in the backend");
	CHECK_EQ_INT(count[2], 0, "weight-0 server never picked");
	CHECK(f->backend->seq[0] != f->backend->seq[1] || f->backend->seq[1] != f->backend->seq[2] ||
	      f->backend->seq[2] != f->backend->seq[3], "weighted sequence is interleaved");
	CHECK_EQ_STR(f->backend->servers[1].hostport, "[::1]:2002", "IPv6 server host:port");
	model_release(m);
}

static void test_json_roundtrip(void)
{
	char err[512];
	struct dynconf *dc = provider_file_parse(two_frontends, strlen(two_frontends), "t", err,
						 sizeof(err));
	cJSON *j;
	char *text;

	CHECK(dc != NULL, "parse for API output");
	if (!dc)
		return;
	j = dynconf_to_json(dc);
	text = cJSON_PrintUnformatted(j);
	CHECK(text && strstr(text, "\"b2\":{\"servers\":{\"x\":{\"url\":\"http://127.0.0.1:2001\","
			     "\"weight\":3}"), "API JSON shape for a backend: %.120s", text ? text : "(null)");
	CHECK(text && strstr(text, "\"loadBalancer\":{\"method\":\"drr\"}"),
	      "method lower-cased like Traefik");
	CHECK(text && strstr(text, "\"passHostHeader\":true,\"priority\":0,\"basicAuth\":null"),
	      "frontend field order and defaults");
	free(text);
	cJSON_Delete(j);
	dynconf_free(dc);
}

static void test_publish_and_cache(void)
{
	char err[512];
	struct model_cache mc;
	struct model_hold *h1, *h2;
	struct dynconf *dc;
	const char *v1 = "{\"frontends\":{\"f\":{\"backend\":\"b\",\"routes\":{\"r\":{\"rule\":"
			 "\"Host:one\"}}}},\"backends\":{\"b\":{\"servers\":{\"s\":{\"url\":"
			 "\"http://127.0.0.1:1\"}}}}}";
	const char *v2 = "{\"frontends\":{\"g\":{\"backend\":\"b\",\"routes\":{\"r\":{\"rule\":"
			 "\"Host:two\"}}}},\"backends\":{\"b\":{\"servers\":{\"s\":{\"url\":"
			 "\"http://127.0.0.1:2\"}}}}}";

	model_setup(&cfg);
	model_cache_init(&mc);
	dc = provider_file_parse(v1, strlen(v1), "v1", err, sizeof(err));
	CHECK_EQ_INT(model_publish(dc, err, sizeof(err)), 0, "publish v1");
	h1 = model_cache_enter(&mc);
	CHECK(h1 && route(h1->m, "one", "/") != NULL, "request sees v1");
	dc = provider_file_parse(v2, strlen(v2), "v2", err, sizeof(err));
	CHECK_EQ_INT(model_publish(dc, err, sizeof(err)), 0, "publish v2 while v1 is in use");
	h2 = model_cache_enter(&mc);
	CHECK(h2 && h2 != h1 && route(h2->m, "two", "/") && !route(h2->m, "one", "/"),
	      "a new request sees v2 only");
	CHECK(route(h1->m, "one", "/") != NULL &&
	      !strcmp(route(h1->m, "one", "/")->backend->servers[0].url, "http://127.0.0.1:1"),
	      "the in-flight request still sees v1, strings intact");
	model_cache_leave(&mc, h1);
	model_cache_leave(&mc, h2);
	dc = provider_file_parse("{\"frontends\":{\"x\":{}}}", 22, "bad", err, sizeof(err));
	CHECK(dc == NULL, "bad file does not parse");
	dc = dynconf_new("file");
	{
		struct dc_frontend *f = dynconf_add_frontend(dc, "x", "missing");

		dynconf_add_route(f, "r", "Host:x");
	}
	CHECK(model_publish(dc, err, sizeof(err)) < 0, "invalid config rejected by publish");
	h2 = model_cache_enter(&mc);
	CHECK(h2 && route(h2->m, "two", "/") != NULL, "last good config stays in service");
	model_cache_leave(&mc, h2);
	model_cache_fini(&mc);
	model_shutdown();
}

int main(void)
{
	char err[128];
	char *argv[] = { "spliced", NULL };

	unit_begin("model");
	config_init(&cfg);
	if (config_parse(&cfg, 1, argv, err, sizeof(err)) != CONFIG_OK) {
		printf("config: %s\n", err);
		return 1;
	}
	test_errors();
	test_lenient_provider();
	test_routing();
	test_json_roundtrip();
	test_publish_and_cache();
	return unit_done();
}
