// SPDX-License-Identifier: MIT
/*
 * Unit tests: the heads spliced writes — hop-by-hop removal, forwarded headers, Host
 * override, path rewrite, Connection handling — and the error pages.
 */
#include <stdio.h>
#include <string.h>

#include "http1.h"
#include "proxy_head.h"
#include "unit.h"

static char out[16384];

static const char *flatten(const struct head_out *o)
{
	size_t n = 0;

	for (int i = 0; i < o->niov; i++) {
		memcpy(out + n, o->iov[i].iov_base, o->iov[i].iov_len);
		n += o->iov[i].iov_len;
	}
	out[n] = '\0';
	return out;
}

static const char *req_head(const char *text, const struct request_fwd *f, int *niov)
{
	static struct http1_header hdrs[100];
	static struct head_out o;
	struct http1_request req = { .headers = hdrs };
	struct http1_parser p = HTTP1_PARSER_INIT;
	struct http1_error err;

	if (http1_parse_request(text, strlen(text), &p, &req, NULL, &err) <= 0)
		return "(parse error)";
	if (head_build_request(&o, &req, f))
		return "(build error)";
	if (niov)
		*niov = o.niov;
	return flatten(&o);
}

static const char *resp_head(const char *text, bool close)
{
	static struct http1_header hdrs[100];
	static struct head_out o;
	struct http1_response resp = { .headers = hdrs };
	struct http1_parser p = HTTP1_PARSER_INIT;
	struct http1_error err;

	if (http1_parse_response(text, strlen(text), &p, &resp, NULL, &err) <= 0)
		return "(parse error)";
	if (head_build_response(&o, text, &resp, close))
		return "(build error)";
	return flatten(&o);
}

int main(void)
{
	struct request_fwd f = { .client_ip = "192.0.2.7", .port = "80", .server_name = "lb1" };
	const char *h;
	char buf[512];
	size_t n;
	int niov = 0;

	unit_begin("proxy_head");

	h = req_head("GET /a?b=1 HTTP/1.1\r\nHost: x.local\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
		     &f, &niov);
	CHECK_EQ_STR(h, "GET /a?b=1 HTTP/1.1\r\nHost: x.local\r\nUser-Agent: t\r\nAccept: */*\r\n"
		     "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Host: x.local\r\n"
		     "X-Forwarded-Port: 80\r\nX-Forwarded-Proto: http\r\n"
		     "X-Forwarded-Server: lb1\r\nX-Real-Ip: 192.0.2.7\r\n\r\n",
		     "plain request: fields kept, forwarded headers added");
	CHECK(niov <= 8, "kept fields go out as few iovecs (%d)", niov);

	h = req_head("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\n"
		     "X-Secret: 1\r\nKeep-Alive: 300\r\nProxy-Connection: x\r\nTE: trailers\r\n"
		     "Upgrade: h2c\r\nProxy-Authorization: Basic x\r\nX-Keep: y\r\n\r\n", &f, NULL);
	CHECK(!strstr(h, "Connection") && !strstr(h, "X-Secret") && !strstr(h, "Keep-Alive") &&
	      !strstr(h, "TE:") && !strstr(h, "Upgrade") && !strstr(h, "Proxy-Authorization"),
	      "hop-by-hop fields and those Connection names are dropped");
	CHECK(strstr(h, "X-Keep: y\r\n") != NULL, "end-to-end fields kept");

	h = req_head("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n"
		     "X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-Proto: https\r\n"
		     "X-Real-Ip: 10.0.0.1\r\n\r\n", &f, NULL);
	CHECK(strstr(h, "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7\r\n") != NULL,
	      "X-Forwarded-For chain merged and appended");
	CHECK(strstr(h, "X-Forwarded-Proto: https\r\n") && !strstr(h, "Proto: http\r\n"),
	      "trusted X-Forwarded-Proto kept");
	CHECK(strstr(h, "X-Real-Ip: 10.0.0.1\r\n") && !strstr(h, "X-Real-Ip: 192"),
	      "trusted X-Real-Ip kept");

	f.host_override = "10.0.0.5:8080";
	h = req_head("GET / HTTP/1.1\r\nHost: public.example\r\n\r\n", &f, NULL);
	CHECK(strstr(h, "\r\nHost: 10.0.0.5:8080\r\n") && strstr(h, "X-Forwarded-Host: public.example"),
	      "passHostHeader=false: Host is the server, X-Forwarded-Host the original");
	f.host_override = NULL;

	f.path = "/stripped";
	f.path_len = 9;
	f.fwd_prefix = "/api";
	f.fwd_prefix_len = 4;
	h = req_head("GET /api/stripped?q=2 HTTP/1.1\r\nHost: x\r\n\r\n", &f, NULL);
	CHECK(!strncmp(h, "GET /stripped?q=2 HTTP/1.1\r\n", 28), "rewritten path keeps the query");
	CHECK(strstr(h, "X-Forwarded-Prefix: /api\r\n") != NULL, "X-Forwarded-Prefix added");
	f.path = NULL;
	f.fwd_prefix = NULL;

	h = req_head("GET http://x.local/p?q HTTP/1.1\r\nHost: x.local\r\n\r\n", &f, NULL);
	CHECK(!strncmp(h, "GET /p?q HTTP/1.1\r\n", 19), "absolute-form sent as origin-form");
	h = req_head("GET http://x.local?q HTTP/1.1\r\nHost: x.local\r\n\r\n", &f, NULL);
	CHECK(!strncmp(h, "GET /?q HTTP/1.1\r\n", 18), "absolute-form without a path gets /");
	h = req_head("GET http://x.local HTTP/1.1\r\nHost: x.local\r\n\r\n", &f, NULL);
	CHECK(!strncmp(h, "GET / HTTP/1.1\r\n", 16), "absolute-form authority only gets /");

	f.http10 = true;
	h = req_head("GET / HTTP/1.0\r\n\r\n", &f, NULL);
	CHECK(!strncmp(h, "GET / HTTP/1.0\r\n", 16) && strstr(h, "Connection: close\r\n\r\n"),
	      "HTTP/1.0 client: HTTP/1.0 + Connection: close upstream");
	f.http10 = false;
	f.upgrade = true;
	h = req_head("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		     &f, NULL);
	CHECK(strstr(h, "Upgrade: websocket\r\n") && strstr(h, "Connection: Upgrade\r\n\r\n"),
	      "upgrade request keeps Upgrade and Connection: Upgrade");
	f.upgrade = false;
	f.close = true;
	h = req_head("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", &f, NULL);
	CHECK(strstr(h, "Content-Length: 5\r\n") && strstr(h, "Connection: close\r\n\r\n"),
	      "single-use backend connection: Connection: close");
	f.close = false;

	h = resp_head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
		      "Keep-Alive: timeout=5\r\nX-A: b\r\n\r\nhi", false);
	CHECK_EQ_STR(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\n",
		     "response: hop-by-hop dropped, no body in the head");
	h = resp_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n", true);
	CHECK_EQ_STR(h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n"
		     "Connection: close\r\n\r\n", "chunked kept, Trailer kept, close added");
	h = resp_head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		      "Connection: upgrade\r\n\r\n", false);
	CHECK_EQ_STR(h, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\n\r\n", "101 keeps Upgrade");

	n = head_error_response(buf, sizeof(buf), 404, false);
	CHECK(n > 0 && !strncmp(buf, "HTTP/1.1 404 Not Found\r\n", 24) &&
	      strstr(buf, "Content-Length: 19\r\n") && !strcmp(buf + n - 19, "404 page not found\n"),
	      "404 page like Go's http.NotFound");
	n = head_error_response(buf, sizeof(buf), 502, true);
	CHECK(strstr(buf, "Connection: close\r\n") && !strcmp(buf + n - 11, "Bad Gateway"),
	      "502 body is the status text");
	n = head_error_response(buf, sizeof(buf), 504, false);
	CHECK(!strcmp(buf + n - 15, "Gateway Timeout") && !strstr(buf, "Connection"),
	      "504 body, keep-alive");
	n = head_error_response(buf, sizeof(buf), 400, true);
	CHECK(!strcmp(buf + n - 15, "400 Bad Request"), "400 body like Go's server");
	return unit_done();
}
