// SPDX-License-Identifier: MIT
/*
 * Unit tests for what the API prints: Go's formatting (durations, floats, times, JSON
 * strings), the access-log lines (common and json, Traefik's fields), and /metrics checked
 * by the strict exposition checker (promparse.h), including hostile label values.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "accesslog.h"
#include "config.h"
#include "gofmt.h"
#include "metrics.h"
#include "promparse.h"
#include "stats.h"
#include "strbuf.h"
#include "unit.h"

static struct prom_check pc;

static void test_gofmt(void)
{
	static const struct { int64_t ns; const char *want; } d[] = {
		{ 0, "0s" }, { 1, "1ns" }, { 999, "999ns" }, { 1500, "1.5\xc2\xb5s" },
		{ 1234567, "1.234567ms" }, { 1500000000, "1.5s" }, { 62500000000LL, "1m2.5s" },
		{ 3600000000000LL, "1h0m0s" }, { 3723000000001LL, "1h2m3.000000001s" },
		{ -1500, "-1.5\xc2\xb5s" },
	};
	static const struct { double v; const char *want; } f[] = {
		{ 62.5, "62.5" }, { 0.0123, "0.0123" }, { 0.0015375, "0.0015375" }, { 100, "100" },
		{ 0.1, "0.1" }, { 1e-7, "1e-7" }, { 1.5e-9, "1.5e-9" }, { 1e21, "1e+21" },
		{ 123456789012, "123456789012" }, { -2.25, "-2.25" }, { 0, "0" },
		{ 0.000001, "0.000001" },
	};
	char b[128];

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		gofmt_duration(b, sizeof(b), d[i].ns);
		CHECK_EQ_STR(b, d[i].want, "Duration.String()");
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		gofmt_json_float(b, sizeof(b), f[i].v);
		CHECK_EQ_STR(b, f[i].want, "encoding/json float64");
	}
	gofmt_rfc3339nano(b, sizeof(b), 1714557600100000000LL, true);
	CHECK_EQ_STR(b, "2024-05-01T10:00:00.1Z", "RFC3339Nano drops trailing zeros");
	gofmt_rfc3339nano(b, sizeof(b), 1714557600000000000LL, true);
	CHECK_EQ_STR(b, "2024-05-01T10:00:00Z", "RFC3339Nano whole second: no fraction");
	gofmt_rfc3339(b, sizeof(b), 1714557600999999999LL, true);
	CHECK_EQ_STR(b, "2024-05-01T10:00:00Z", "RFC3339 (logrus time)");
	gofmt_time_string(b, sizeof(b), 1714557600123400000LL, 62500000001LL);
	CHECK_EQ_STR(b, "2024-05-01 10:00:00.1234 +0000 UTC m=+62.500000001", "Time.String()");
	CHECK_EQ_STR(gofmt_status_text(502), "Bad Gateway", "StatusText 502");
	CHECK_EQ_STR(gofmt_status_text(799), "", "StatusText unknown");
}

static void test_json_str(void)
{
	struct strbuf sb = STRBUF_INIT;
	char small[8];

	strbuf_json_str(&sb, "a<b>&c\"d\\e\n\x01\xe2\x80\xa8\xff\xc3\xa9");
	CHECK_EQ_STR(sb.buf, "\"a\\u003cb\\u003e\\u0026c\\\"d\\\\e\\n\\u0001\\u2028\\ufffd\xc3\xa9\"",
		     "JSON escapes like Go (<>&, controls, U+2028, bad UTF-8, é kept)");
	strbuf_release(&sb);
	strbuf_json_quote(small, sizeof(small), "abcdefghij");
	CHECK(small[strlen(small) - 1] == '"' && strlen(small) < sizeof(small),
	      "cut short but still a closed literal: %s", small);
}

static struct request_record sample_record(void)
{
	struct request_record r;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&r.client;

	memset(&r, 0, sizeof(r));
	strcpy(r.method, "GET");
	strcpy(r.host, "whoami.example.com:8080");
	strcpy(r.path, "/x?y=1");
	strcpy(r.proto, "HTTP/1.1");
	strcpy(r.user_agent, "curl/8.0");
	s4->sin_family = AF_INET;
	s4->sin_port = htons(40000);
	s4->sin_addr.s_addr = htonl(0x0a000001);
	r.frontend = "frontend-Host-whoami-example-com-0";
	r.backend = "backend-whoami";
	r.server_url = "http://10.0.1.5:80";
	r.status = 200;
	r.resp_bytes = 17;
	r.start_ns = 1714557600123456789ULL;
	r.duration_ns = 12345678;
	return r;
}

static void test_accesslog(void)
{
	struct request_record r = sample_record();
	char line[ACCESSLOG_LINE_MAX];
	cJSON *j, *prev = NULL, *it;
	bool sorted = true;
	size_t n;

	n = accesslog_format_common(line, sizeof(line), &r, 42);
	CHECK_EQ_STR(line, "10.0.0.1 - - [01/May/2024:10:00:00 +0000] \"GET /x?y=1 HTTP/1.1\" 200 17 "
		     "\"-\" \"curl/8.0\" 42 \"Host-whoami-example-com-0\" \"http://10.0.1.5:80\" 12ms\n",
		     "common line, Traefik's layout");
	CHECK_EQ_INT(n, strlen(line), "length returned");
	r.server_url = NULL;
	r.status = 503;
	strcpy(r.referer, "http://ref/");
	accesslog_format_common(line, sizeof(line), &r, 43);
	CHECK_EQ_STR(line, "10.0.0.1 - - [01/May/2024:10:00:00 +0000] \"GET /x?y=1 HTTP/1.1\" - - "
		     "\"http://ref/\" \"curl/8.0\" 43 - - 12ms\n",
		     "no server picked (503): '- -' and '-' names, as Traefik");
	r.frontend = r.backend = NULL;
	r.status = 404;
	r.resp_bytes = 19;
	accesslog_format_common(line, sizeof(line), &r, 45);
	CHECK_EQ_STR(line, "10.0.0.1 - - [01/May/2024:10:00:00 +0000] \"GET /x?y=1 HTTP/1.1\" 404 19 "
		     "\"http://ref/\" \"curl/8.0\" 45 \"backend not found\" \"/x?y=1\" 12ms\n",
		     "no route (404): Traefik's not-found handler names");
	accesslog_format_json(line, sizeof(line), &r, 46, 0);
	CHECK(strstr(line, "\"BackendName\":\"Traefik\",\"BackendURL\":{\"Scheme\":\"\",\"Opaque\":\"\","
			   "\"User\":null,\"Host\":\"\",\"Path\":\"/x\",\"RawPath\":\"\",\"ForceQuery\":false,"
			   "\"RawQuery\":\"y=1\"") != NULL, "no route (404) json: BackendURL is the request URL");
	strcpy(r.forwarded_for, "198.51.100.1, 10.0.0.9");
	accesslog_format_common(line, sizeof(line), &r, 47);
	CHECK(strncmp(line, "198.51.100.1, 10.0.0.9 - - [", 28) == 0,
	      "X-Forwarded-For replaces the client host, as Traefik logs it");
	r.forwarded_for[0] = '\0';
	strcpy(r.user_agent, "evil\nline");
	accesslog_format_common(line, sizeof(line), &r, 44);
	CHECK(strchr(line, '\n') == line + strlen(line) - 1, "control characters never split a line");

	r = sample_record();
	accesslog_format_json(line, sizeof(line), &r, 7, (int64_t)(r.start_ns + r.duration_ns));
	CHECK(line[strlen(line) - 1] == '\n', "json line ends with a newline");
	j = cJSON_Parse(line);
	CHECK(j != NULL, "json line parses");
	cJSON_ArrayForEach(it, j) {
		if (prev && strcmp(prev->string, it->string) >= 0)
			sorted = false;
		prev = it;
	}
	CHECK(sorted, "keys sorted, as logrus prints a Go map");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "FrontendName")),
		     "Host-whoami-example-com-0", "FrontendName without frontend-");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "RequestHost")),
		     "whoami.example.com", "RequestHost split from the port");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "RequestPort")), "8080",
		     "RequestPort");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "ClientAddr")), "10.0.0.1:40000",
		     "ClientAddr");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "StartUTC")),
		     "2024-05-01T10:00:00.123456789Z", "StartUTC RFC3339Nano");
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "Duration")), 12345678,
		     "Duration in ns");
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "RequestCount")), 7, "RequestCount");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "DownstreamStatusLine")), "200 OK",
		     "DownstreamStatusLine");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "BackendURL"),
							       "Host")), "10.0.1.5:80",
		     "BackendURL is url.URL");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "request_User-Agent")), "curl/8.0",
		     "request_User-Agent");
	CHECK(!cJSON_GetObjectItem(j, "request_Referer"), "absent headers are absent");
	cJSON_Delete(j);
	r.tunnel = r.spliced = true;
	accesslog_format_json(line, 600, &r, 8, 0);
	CHECK(strlen(line) <= 599 && line[strlen(line) - 1] == '\n' && line[strlen(line) - 2] == '}',
	      "a short buffer cuts the line but keeps it one closed line");
}

static void test_metrics_render(void)
{
	static struct config cfg;
	struct request_record r = sample_record();
	struct stats_snapshot *s;
	struct strbuf sb = STRBUF_INIT;
	char err[256];
	int rc;

	config_init(&cfg);
	cfg.workers = 1;
	cfg.nentrypoints = 1;
	strcpy(cfg.entrypoints[0].name, "http");
	CHECK_EQ_INT(stats_init(&cfg, NULL, err, sizeof(err)), 0, "stats_init");
	r.backend = "we\"ird\\back\nend";
	stats_request_done(0, &r);
	r.status = 503;
	r.duration_ns = 400000000;
	stats_request_done(0, &r);
	r.protocol = STATS_PROTO_WEBSOCKET;
	stats_request_begin(0, &r);
	s = stats_snapshot_take();
	metrics_render(&sb, s, NULL, &cfg);
	stats_snapshot_free(s);
	CHECK(!sb.oom && sb.buf, "rendered");
	rc = prom_check_text(&pc, sb.buf);
	CHECK(rc == 0, "exposition passes the strict checker%s%s", rc ? ": " : "", rc ? pc.err : "");
	CHECK(strstr(sb.buf, "traefik_backend_requests_total{backend=\"we\\\"ird\\\\back\\nend\",code=\"200\","
			     "method=\"GET\",protocol=\"http\"} 1\n") != NULL,
	      "label values escaped (quote, backslash, newline)");
	CHECK(strstr(sb.buf, "traefik_entrypoint_request_duration_seconds_bucket{code=\"503\","
			     "entrypoint=\"http\",method=\"GET\",protocol=\"http\",le=\"0.3\"} 0\n") &&
	      strstr(sb.buf, "traefik_entrypoint_request_duration_seconds_bucket{code=\"503\","
			     "entrypoint=\"http\",method=\"GET\",protocol=\"http\",le=\"1.2\"} 1\n"),
	      "0.4 s falls in le=1.2, not le=0.3");
	CHECK(strstr(sb.buf, "traefik_entrypoint_open_connections{entrypoint=\"http\",method=\"GET\","
			     "protocol=\"websocket\"} 1\n") != NULL, "in-flight websocket gauge");
	CHECK(strstr(sb.buf, "# TYPE spliced_fastpath_bytes_total counter\n") != NULL,
	      "spliced_fastpath_bytes_total family");
	{
		/* families must come out sorted by name */
		const char *p = sb.buf, *prevname = NULL;
		bool sorted = true;
		size_t plen = 0;

		while ((p = strstr(p, "# TYPE "))) {
			const char *name = p + 7;
			size_t len = strcspn(name, " ");

			if (prevname && strncmp(prevname, name, len < plen ? plen : len) >= 0)
				sorted = false;
			prevname = name;
			plen = len;
			p = name;
		}
		CHECK(sorted, "families sorted by name");
	}
	strbuf_release(&sb);
	rc = prom_check_text(&pc, "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na 2\n");
	CHECK(rc != 0, "checker rejects a family split in two (%s)", pc.err);
	rc = prom_check_text(&pc, "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n");
	CHECK(rc != 0, "checker rejects non-cumulative buckets (%s)", pc.err);
	rc = prom_check_text(&pc, "# TYPE c counter\nc{b=\"1\",a=\"2\"} 1\n");
	CHECK(rc != 0, "checker rejects unsorted label names (%s)", pc.err);
	stats_fini();
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	unit_begin("metrics");
	test_gofmt();
	test_json_str();
	test_accesslog();
	test_metrics_render();
	return unit_done();
}
