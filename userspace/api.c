// SPDX-License-Identifier: MIT
/*
 * api: Traefik 1.7's API entry point on libevent's evhttp, on the main thread.
 *
 * Read-only. It runs apart from the worker threads so that a slow API client never
 * delays proxied traffic; it reads the routing snapshot through model_acquire().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "config.h"
#include "dynconf.h"
#include "log.h"
#include "model.h"
#include "version.h"
#include "worker.h"

static struct evhttp *api_http;
static const struct config *api_cfg;
static bool api_terminating;

void api_set_terminating(bool on)
{
	api_terminating = on;
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (b)
		evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void reply_json(struct evhttp_request *req, cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	struct evbuffer *b;

	if (!text) {
		reply_text(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	b = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json; charset=UTF-8");
	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
	free(text);
}

static void not_found(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
			  "nosniff");
	reply_text(req, 404, "Not Found", "404 page not found\n");
}

/* /api/providers[/{p}[/{kind}[/{name}]]] over the current snapshot's dynconfs. */
static void serve_providers(struct evhttp_request *req, const char *rest)
{
	struct model *m = model_acquire();
	char p[256] = "", kind[32] = "", name[512] = "";
	cJSON *all = cJSON_CreateObject(), *node = NULL;

	if (*rest == '/')
		rest++;
	sscanf(rest, "%255[^/]/%31[^/]/%511[^/]", p, kind, name);
	for (size_t i = 0; i < m->nconfs; i++) {
		cJSON *j = dynconf_to_json(m->confs[i]->dc);

		if (j)
			cJSON_AddItemToObject(all, m->confs[i]->dc->provider, j);
	}
	model_release(m);
	if (!p[0]) {
		reply_json(req, all);
		cJSON_Delete(all);
		return;
	}
	node = cJSON_GetObjectItemCaseSensitive(all, strcmp(p, "rest") ? p : "web");
	if (node && kind[0])
		node = cJSON_GetObjectItemCaseSensitive(node, kind);
	if (node && name[0])
		node = cJSON_GetObjectItemCaseSensitive(node, name);
	if (!node)
		not_found(req);
	else
		reply_json(req, node);
	cJSON_Delete(all);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	(void)arg;
	if (!path || !*path)
		path = "/";
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		reply_text(req, 405, "Method Not Allowed", "405 method not allowed\n");
	} else if (strcmp(path, "/") == 0 && api_cfg->api_dashboard) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);
		struct evbuffer *b = evbuffer_new();

		evhttp_add_header(h, "Location", "/dashboard/");
		evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
		evbuffer_add_printf(b, "<a href=\"/dashboard/\">Found</a>.\n\n");
		evhttp_send_reply(req, 302, "Found", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/ping") == 0 && api_cfg->ping) {
		if (api_terminating)
			reply_text(req, 503, "Service Unavailable", "Service Unavailable");
		else
			reply_text(req, 200, "OK", "OK");
	} else if (strcmp(path, "/api/version") == 0) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "Version", SPLICED_TRAEFIK_VERSION);
		cJSON_AddStringToObject(j, "Codename", SPLICED_TRAEFIK_CODENAME);
		reply_json(req, j);
		cJSON_Delete(j);
	} else if (strcmp(path, "/api") == 0 || strcmp(path, "/api/providers") == 0) {
		serve_providers(req, "");
	} else if (strncmp(path, "/api/providers/", 15) == 0) {
		serve_providers(req, path + 15);
	} else {
		not_found(req);
	}
	if (u)
		evhttp_uri_free(u);
}

int api_start(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
	const struct entrypoint_conf *ep = config_entrypoint(cfg, cfg->api_entrypoint);
	int fd;

	api_cfg = cfg;
	if (!ep) {
		snprintf(err, errlen, "--api.entryPoint: no entry point \"%s\"", cfg->api_entrypoint);
		return -EINVAL;
	}
	fd = worker_listen_socket(ep, err, errlen);
	if (fd < 0)
		return -EADDRINUSE;
	api_http = evhttp_new(base);
	if (!api_http || !evhttp_accept_socket_with_handle(api_http, fd)) {
		snprintf(err, errlen, "api: evhttp setup failed");
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(api_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(api_http, on_request, NULL);
	return 0;
}

void api_stop(void)
{
	if (api_http)
		evhttp_free(api_http);
	api_http = NULL;
}
