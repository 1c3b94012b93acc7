// SPDX-License-Identifier: MIT
/*
 * docker_api: read-only Docker Engine API client over libcurl (unix socket or tcp).
 *
 * Listings use one reused easy handle (the connection stays open between re-lists); the
 * event stream uses a second easy handle inside a multi handle, so the provider thread can
 * wait on the stream, on its own timers and on a cross-thread wakeup in one call
 * (curl_multi_poll). Everything the engine sends is capped (body size, event line size,
 * request time) and parsed defensively: a hostile or broken endpoint costs an error return,
 * never a crash or unbounded memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "docker_api.h"
#include "log.h"

struct dbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
	bool overflow;
};

struct docker_client {
	char *sock_path;	/* unix socket path, NULL for tcp */
	char *base;		/* "http://localhost" or "http://host:port" */
	char version[16];	/* negotiated, "" before */
	CURL *get;
	char get_err[CURL_ERROR_SIZE];
	struct dbuf body;

	CURLM *multi;
	CURL *ev;
	char ev_err[CURL_ERROR_SIZE];
	struct dbuf evbuf;
	docker_event_fn ev_fn;
	void *ev_arg;
	int ev_fault;		/* -EPROTO/-EFBIG set by the write callback */
	size_t ev_count;
};

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool curl_ready;

static int global_init(void)
{
	/* curl_global_init is not thread-safe before 7.84; the provider calls us from one thread. */
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		curl_ready = true;
	}
	return 0;
}

static bool valid_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '[' || ch == ']';
}

/* Split endpoint into a socket path or a tcp base URL. 0 or -EINVAL with err set. */
static int parse_endpoint(struct docker_client *c, const char *ep, char *err, size_t errlen)
{
	size_t n;

	if (!ep || !*ep)
		return seterr(err, errlen, -EINVAL, "docker endpoint is empty: use unix:///var/run/docker.sock or tcp://host:port");
	n = strlen(ep);
	if (n > 255)
		return seterr(err, errlen, -EINVAL, "docker endpoint is longer than 255 characters");
	if (strncmp(ep, "unix://", 7) == 0) {
		if (ep[7] != '/')
			return seterr(err, errlen, -EINVAL, "docker endpoint %s: the socket path must be absolute (unix:///path)", ep);
		c->sock_path = strdup(ep + 7);
		c->base = strdup("http://localhost");
	} else if (strncmp(ep, "tcp://", 6) == 0) {
		const char *hp = ep + 6, *colon = strrchr(hp, ':');
		char *end;
		long port;

		if (!*hp || !colon || colon == hp)
			return seterr(err, errlen, -EINVAL, "docker endpoint %s: expected tcp://host:port", ep);
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return seterr(err, errlen, -EINVAL, "docker endpoint %s: bad port", ep);
		for (const char *p = hp; p < colon; p++)
			if (!valid_host_char(*p))
				return seterr(err, errlen, -EINVAL, "docker endpoint %s: bad character in host", ep);
		if (asprintf(&c->base, "http://%s", hp) < 0)
			c->base = NULL;
	} else {
		return seterr(err, errlen, -EINVAL,
			      "docker endpoint %s: unsupported scheme (use unix:///path or tcp://host:port)", ep);
	}
	if (!c->base || (strncmp(ep, "unix://", 7) == 0 && !c->sock_path))
		return seterr(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

struct docker_client *docker_client_new(const char *endpoint, char *err, size_t errlen)
{
	struct docker_client *c;
	int rc;

	rc = global_init();
	if (rc) {
		seterr(err, errlen, rc, "curl_global_init failed");
		errno = -rc;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		seterr(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	rc = parse_endpoint(c, endpoint, err, errlen);
	if (rc)
		goto out;
	c->get = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->get || !c->multi) {
		rc = seterr(err, errlen, -ENOMEM, "curl handle allocation failed");
		goto out;
	}
	c->body.limit = DOCKER_API_MAX_BODY;
	c->evbuf.limit = DOCKER_API_MAX_EVENT;
	return c;
out:
	docker_client_free(c);
	errno = -rc;
	return NULL;
}

void docker_client_free(struct docker_client *c)
{
	int saved = errno;

	if (!c)
		return;
	docker_events_stop(c);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->get)
		curl_easy_cleanup(c->get);
	free(c->body.data);
	free(c->evbuf.data);
	free(c->sock_path);
	free(c->base);
	free(c);
	errno = saved;
}

const char *docker_client_api_version(const struct docker_client *c)
{
	return c->version;
}

/* Append n bytes, keeping a NUL after them; false (and overflow set) past the limit. */
static bool dbuf_append(struct dbuf *b, const char *p, size_t n)
{
	if (n > b->limit - b->len) {
		b->overflow = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->limit + 1)
			cap = b->limit + 1;
		d = realloc(b->data, cap);
		if (!d)
			return false;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static size_t body_write(char *p, size_t sz, size_t nm, void *arg)
{
	struct dbuf *b = arg;

	return dbuf_append(b, p, sz * nm) ? sz * nm : 0;
}

static int curl_errno(CURLcode cc, bool overflow)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_WRITE_ERROR:
		return overflow ? -EFBIG : -ENOMEM;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		return -EPROTO;
	case CURLE_HTTP_RETURNED_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static void common_opts(struct docker_client *c, CURL *h, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "spliced");
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	if (c->sock_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock_path);
}

/* GET url into c->body. 0 or negative errno (err set); *status gets the HTTP code. */
static int raw_get(struct docker_client *c, const char *url, const char *what, long *status,
		   char *err, size_t errlen)
{
	CURLcode cc;
	int rc;

	*status = 0;
	c->body.len = 0;
	c->body.overflow = false;
	if (c->body.data)
		c->body.data[0] = '\0';
	c->get_err[0] = '\0';
	curl_easy_reset(c->get);
	common_opts(c, c->get, c->get_err);
	curl_easy_setopt(c->get, CURLOPT_URL, url);
	curl_easy_setopt(c->get, CURLOPT_TIMEOUT_MS, (long)DOCKER_API_TIMEOUT_MS);
	curl_easy_setopt(c->get, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c->get, CURLOPT_WRITEDATA, &c->body);
	cc = curl_easy_perform(c->get);
	curl_easy_getinfo(c->get, CURLINFO_RESPONSE_CODE, status);
	if (cc != CURLE_OK) {
		rc = curl_errno(cc, c->body.overflow);
		if (rc == -EFBIG)
			return seterr(err, errlen, rc, "GET %s: response larger than %u bytes", what,
				      DOCKER_API_MAX_BODY);
		return seterr(err, errlen, rc, "GET %s: %s", what,
			      c->get_err[0] ? c->get_err : curl_easy_strerror(cc));
	}
	return 0;
}

/* Short printable excerpt of an error body: its "message" if JSON, else the raw start. */
static void body_message(const struct dbuf *b, char *dst, size_t dstlen)
{
	cJSON *j = b->len ? cJSON_ParseWithLength(b->data, b->len) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	const char *src = cJSON_IsString(m) ? m->valuestring : (b->data ? b->data : "");
	size_t i, o = 0;

	for (i = 0; src[i] && o + 1 < dstlen && i < 200; i++)
		dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	if (dstlen)
		dst[o] = '\0';
	cJSON_Delete(j);
}

static int parse_body(struct docker_client *c, long status, const char *what, cJSON **out,
		      char *err, size_t errlen)
{
	char msg[256];
	cJSON *j;

	if (status < 200 || status > 299) {
		body_message(&c->body, msg, sizeof(msg));
		return seterr(err, errlen, -EPROTO, "GET %s: HTTP %ld%s%s", what, status,
			      msg[0] ? ": " : "", msg);
	}
	j = c->body.len ? cJSON_ParseWithLength(c->body.data, c->body.len) : NULL;
	if (!j)
		return seterr(err, errlen, -EPROTO, "GET %s: response is not JSON (%zu bytes)", what,
			      c->body.len);
	*out = j;
	return 0;
}

/* "1.41" -> 1, 41. false unless exactly <digits>.<digits>. */
static bool parse_version(const char *s, long *maj, long *min)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	*maj = strtol(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	*min = strtol(end + 1, &end, 10);
	return *end == '\0' && *maj >= 0 && *maj < 100 && *min >= 0 && *min < 1000;
}

int docker_client_negotiate(struct docker_client *c, char *err, size_t errlen)
{
	const cJSON *v, *mv;
	long status, maj, min, mmaj = 1, mmin = 12;
	char url[320];
	cJSON *j = NULL;
	int rc;

	c->version[0] = '\0';
	snprintf(url, sizeof(url), "%s/version", c->base);
	rc = raw_get(c, url, "/version", &status, err, errlen);
	if (rc)
		return rc;
	rc = parse_body(c, status, "/version", &j, err, errlen);
	if (rc)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(j, "ApiVersion");
	mv = cJSON_GetObjectItemCaseSensitive(j, "MinAPIVersion");
	if (!cJSON_IsString(v) || !parse_version(v->valuestring, &maj, &min)) {
		rc = seterr(err, errlen, -EPROTO, "GET /version: no valid ApiVersion (is this a Docker engine?)");
		goto out;
	}
	if (cJSON_IsString(mv) && !parse_version(mv->valuestring, &mmaj, &mmin)) {
		rc = seterr(err, errlen, -EPROTO, "GET /version: bad MinAPIVersion");
		goto out;
	}
	if (maj > DOCKER_API_MAX_MAJOR || (maj == DOCKER_API_MAX_MAJOR && min > DOCKER_API_MAX_MINOR)) {
		maj = DOCKER_API_MAX_MAJOR;
		min = DOCKER_API_MAX_MINOR;
	}
	if (maj != 1 || min < DOCKER_API_MIN_MINOR || mmaj > maj || (mmaj == maj && mmin > min)) {
		rc = seterr(err, errlen, -EPROTO,
			    "docker engine API %s (min %ld.%ld) has no version in 1.%d..%d.%d that spliced reads",
			    v->valuestring, mmaj, mmin, DOCKER_API_MIN_MINOR, DOCKER_API_MAX_MAJOR,
			    DOCKER_API_MAX_MINOR);
		goto out;
	}
	snprintf(c->version, sizeof(c->version), "%d.%d", (int)maj, (int)min);
out:
	cJSON_Delete(j);
	return rc;
}

int docker_get_json(struct docker_client *c, const char *path, cJSON **out, long *http_status,
		    char *err, size_t errlen)
{
	char url[4096];
	long status = 0;
	int rc;

	*out = NULL;
	if (http_status)
		*http_status = 0;
	if (!c->version[0])
		return seterr(err, errlen, -ENOTCONN, "GET %s: API version not negotiated", path);
	if (path[0] != '/' ||
	    (size_t)snprintf(url, sizeof(url), "%s/v%s%s", c->base, c->version, path) >= sizeof(url))
		return seterr(err, errlen, -EINVAL, "GET: bad or too long path");
	rc = raw_get(c, url, path, &status, err, errlen);
	if (http_status)
		*http_status = status;
	if (rc)
		return rc;
	return parse_body(c, status, path, out, err, errlen);
}

int docker_url_encode(const char *s, char *dst, size_t dstlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';

		if (o + (keep ? 1 : 3) >= dstlen) {
			if (dstlen)
				dst[0] = '\0';
			return -ENOSPC;
		}
		if (keep) {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	if (!dstlen)
		return -ENOSPC;
	dst[o] = '\0';
	return 0;
}

/* Deliver every complete line in evbuf; keep the partial tail. false on a bad line. */
static bool deliver_lines(struct docker_client *c)
{
	struct dbuf *b = &c->evbuf;
	size_t start = 0;

	for (;;) {
		char *nl = memchr(b->data + start, '\n', b->len - start);
		size_t n;
		cJSON *ev;

		if (!nl)
			break;
		n = (size_t)(nl - (b->data + start));
		if (n) {
			ev = cJSON_ParseWithLength(b->data + start, n);
			if (!cJSON_IsObject(ev)) {
				cJSON_Delete(ev);
				c->ev_fault = -EPROTO;
				return false;
			}
			c->ev_count++;
			if (c->ev_fn)
				c->ev_fn(ev, c->ev_arg);
			cJSON_Delete(ev);
		}
		start += n + 1;
	}
	memmove(b->data, b->data + start, b->len - start);
	b->len -= start;
	b->data[b->len] = '\0';
	return true;
}

static size_t events_write(char *p, size_t sz, size_t nm, void *arg)
{
	struct docker_client *c = arg;
	size_t n = sz * nm, off = 0;

	/* Feed in slices so one line never needs more than the line cap. */
	while (off < n) {
		size_t room = c->evbuf.limit - c->evbuf.len, k = n - off < room ? n - off : room;

		if (k == 0 || !dbuf_append(&c->evbuf, p + off, k)) {
			c->ev_fault = -EFBIG;
			return 0;
		}
		off += k;
		if (!deliver_lines(c))
			return 0;
		if (c->evbuf.len >= c->evbuf.limit) {
			c->ev_fault = -EFBIG;
			return 0;
		}
	}
	return n;
}

int docker_events_start(struct docker_client *c, const char *filters_json, docker_event_fn fn,
			void *arg)
{
	char enc[1024], url[1400];
	int rc;

	docker_events_stop(c);
	if (!c->version[0])
		return -ENOTCONN;
	rc = docker_url_encode(filters_json ? filters_json : "{}", enc, sizeof(enc));
	if (rc)
		return rc;
	snprintf(url, sizeof(url), "%s/v%s/events?filters=%s", c->base, c->version, enc);
	c->ev = curl_easy_init();
	if (!c->ev)
		return -ENOMEM;
	c->ev_err[0] = '\0';
	c->evbuf.len = 0;
	c->evbuf.overflow = false;
	c->ev_fault = 0;
	c->ev_fn = fn;
	c->ev_arg = arg;
	common_opts(c, c->ev, c->ev_err);
	curl_easy_setopt(c->ev, CURLOPT_URL, url);
	curl_easy_setopt(c->ev, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c->ev, CURLOPT_WRITEFUNCTION, events_write);
	curl_easy_setopt(c->ev, CURLOPT_WRITEDATA, c);
	if (curl_multi_add_handle(c->multi, c->ev) != CURLM_OK) {
		curl_easy_cleanup(c->ev);
		c->ev = NULL;
		return -ENOMEM;
	}
	return 0;
}

void docker_events_stop(struct docker_client *c)
{
	if (!c->ev)
		return;
	curl_multi_remove_handle(c->multi, c->ev);
	curl_easy_cleanup(c->ev);
	c->ev = NULL;
}

int docker_events_wait(struct docker_client *c, int timeout_ms, char *err, size_t errlen)
{
	int running = 0, left;
	CURLMsg *m;

	if (timeout_ms < 0)
		timeout_ms = 0;
	if (c->ev)
		curl_multi_perform(c->multi, &running);
	curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
	if (!c->ev)
		return 0;
	curl_multi_perform(c->multi, &running);
	while ((m = curl_multi_info_read(c->multi, &left))) {
		long status = 0;
		int rc;

		if (m->msg != CURLMSG_DONE || m->easy_handle != c->ev)
			continue;
		curl_easy_getinfo(c->ev, CURLINFO_RESPONSE_CODE, &status);
		if (c->ev_fault == -EPROTO)
			rc = seterr(err, errlen, -EPROTO, "GET /events: the stream sent a line that is not a JSON object");
		else if (c->ev_fault == -EFBIG)
			rc = seterr(err, errlen, -EFBIG, "GET /events: an event is larger than %u bytes",
				    DOCKER_API_MAX_EVENT);
		else if (m->data.result == CURLE_OK)
			rc = seterr(err, errlen, -ECONNRESET, "GET /events: the engine closed the stream");
		else if (m->data.result == CURLE_HTTP_RETURNED_ERROR)
			rc = seterr(err, errlen, -EPROTO, "GET /events: HTTP %ld", status);
		else
			rc = seterr(err, errlen, curl_errno(m->data.result, false), "GET /events: %s",
				    c->ev_err[0] ? c->ev_err : curl_easy_strerror(m->data.result));
		docker_events_stop(c);
		return rc;
	}
	return 1;
}

void docker_client_wakeup(struct docker_client *c)
{
	if (c && c->multi)
		curl_multi_wakeup(c->multi);
}
