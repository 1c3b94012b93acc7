// SPDX-License-Identifier: MIT
/*
 * http1-bench: how long http1_parse_request() takes on typical request heads.
 *
 * Parses a ~450-byte browser request head, an ~80-byte curl head and a 16 KiB chunked body
 * N times each (each head in one call with a fresh parser state, as a proxy does for a
 * small keep-alive request) and prints nanoseconds per parse. Not a test: the figures
 * depend on the machine and on what else runs on it.
 *
 *   http1-bench [iterations]     (default 2000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http1.h"

static const char browser_head[] =
	"GET /assets/app.js?v=1234 HTTP/1.1\r\n"
	"Host: www.example.com\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36\r\n"
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
	"image/webp,*/*;q=0.8\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Referer: https://www.example.com/index.html\r\n"
	"Connection: keep-alive\r\n"
	"Cookie: session=abc123def456; theme=dark\r\n"
	"\r\n";

static const char curl_head[] =
	"GET /index.html HTTP/1.1\r\n"
	"Host: example.com\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"\r\n";

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per parse of head, or -1 if it does not parse whole */
static double bench_head(const char *head, size_t len, long n)
{
	struct http1_header hdr[32];
	struct http1_request req;
	volatile size_t sink = 0;
	double t0 = 0, t1;
	long i;

	for (i = 0; i < n; i++) {
		struct http1_parser p = HTTP1_PARSER_INIT;
		int rc;

		if (i == 1)
			t0 = now_ns();	/* the first parse warms the caches */
		req.headers = hdr;
		rc = http1_parse_request(head, len, &p, &req, NULL, NULL);
		if (rc != (int)len)
			return -1;
		sink += req.nheaders + req.path_len;
	}
	t1 = now_ns();
	(void)sink;
	return (t1 - t0) / (double)(n - 1);
}

static double bench_chunked(long n, size_t *body_len)
{
	static char body[16384 + 256];
	volatile size_t sink = 0;
	size_t o = 0;
	double t0, t1;
	long i;
	int k;

	for (k = 0; k < 4; k++) {
		o += (size_t)sprintf(body + o, "1000;ext=%d\r\n", k);
		memset(body + o, 'x', 4096);
		o += 4096;
		body[o++] = '\r';
		body[o++] = '\n';
	}
	o += (size_t)sprintf(body + o, "0\r\nX-Trailer: yes\r\n\r\n");
	*body_len = o;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		struct http1_chunked st = HTTP1_CHUNKED_INIT;
		ssize_t r = http1_chunked_scan(&st, body, o);

		if (r != (ssize_t)o || !st.done)
			return -1;
		sink += (size_t)r;
	}
	t1 = now_ns();
	(void)sink;
	return (t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	double b, c, ch;
	size_t chlen;

	if (n < 2) {
		fprintf(stderr, "usage: %s [iterations >= 2]\n", argv[0]);
		return 2;
	}
	b = bench_head(browser_head, sizeof(browser_head) - 1, n);
	c = bench_head(curl_head, sizeof(curl_head) - 1, n);
	ch = bench_chunked(n / 10 > 1 ? n / 10 : 1, &chlen);
	if (b < 0 || c < 0 || ch < 0) {
		fprintf(stderr, "http1-bench: a sample did not parse; the parser is broken\n");
		return 1;
	}
	printf("browser head %zu bytes: %.1f ns/parse (%.2f GB/s)\n", sizeof(browser_head) - 1, b,
	       (double)(sizeof(browser_head) - 1) / b);
	printf("curl head %zu bytes: %.1f ns/parse\n", sizeof(curl_head) - 1, c);
	printf("chunked body %zu bytes (4 chunks + trailer): %.1f ns/scan\n", chlen, ch);
	return 0;
}
