// SPDX-License-Identifier: MIT
/*
 * dynconf: a provider's dynamic configuration, Traefik 1.7's shape, as plain C data.
 *
 * Providers build one with the dynconf_add_* calls (file: from JSON; docker: from labels),
 * then hand it over; after that it is read-only. Keeping the provider-neutral form apart
 * from the compiled snapshot (model.c) is what lets the API print back exactly what each
 * provider said, and lets a provider skip publishing a config identical to the last one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dynconf.h"

/* Grow *arr (of *n elements of size sz) by one zeroed element; NULL on ENOMEM. */
static void *grow(void *arr_p, size_t *n, size_t sz)
{
	void **arr = arr_p;
	void *p = realloc(*arr, (*n + 1) * sz);

	if (!p)
		return NULL;
	*arr = p;
	memset((char *)p + *n * sz, 0, sz);
	return (char *)p + (*n)++ * sz;
}

static char *dup_capped(const char *s, size_t cap)
{
	if (!s || strlen(s) > cap) {
		errno = EINVAL;
		return NULL;
	}
	return strdup(s);
}

struct dynconf *dynconf_new(const char *provider)
{
	struct dynconf *dc = calloc(1, sizeof(*dc));

	if (!dc)
		return NULL;
	dc->provider = strdup(provider ? provider : "");
	if (!dc->provider) {
		free(dc);
		return NULL;
	}
	return dc;
}

void dynconf_free(struct dynconf *dc)
{
	if (!dc)
		return;
	for (size_t i = 0; i < dc->nbackends; i++) {
		struct dc_backend *b = &dc->backends[i];

		for (size_t j = 0; j < b->nservers; j++) {
			free(b->servers[j].name);
			free(b->servers[j].url);
		}
		free(b->servers);
		free(b->name);
		free(b->lb_method);
	}
	for (size_t i = 0; i < dc->nfrontends; i++) {
		struct dc_frontend *f = &dc->frontends[i];

		for (size_t j = 0; j < f->nroutes; j++) {
			free(f->routes[j].name);
			free(f->routes[j].rule);
		}
		for (size_t j = 0; j < f->nentrypoints; j++)
			free(f->entrypoints[j]);
		free(f->routes);
		free(f->entrypoints);
		free(f->name);
		free(f->backend);
	}
	free(dc->backends);
	free(dc->frontends);
	free(dc->provider);
	free(dc);
}

struct dc_backend *dynconf_add_backend(struct dynconf *dc, const char *name, const char *method)
{
	struct dc_backend *b;

	if (dc->nbackends >= DYNCONF_MAX_BACKENDS) {
		errno = E2BIG;
		return NULL;
	}
	b = grow(&dc->backends, &dc->nbackends, sizeof(*b));
	if (!b)
		return NULL;
	b->name = dup_capped(name, DYNCONF_MAX_NAME);
	b->lb_method = strdup(method && *method ? method : "wrr");
	if (!b->name || !b->lb_method) {
		free(b->name);
		free(b->lb_method);
		dc->nbackends--;
		return NULL;
	}
	return b;
}

struct dc_server *dynconf_add_server(struct dc_backend *b, const char *name, const char *url,
				     int weight)
{
	struct dc_server *s;

	if (b->nservers >= DYNCONF_MAX_SERVERS) {
		errno = E2BIG;
		return NULL;
	}
	s = grow(&b->servers, &b->nservers, sizeof(*s));
	if (!s)
		return NULL;
	s->name = dup_capped(name, DYNCONF_MAX_NAME);
	s->url = dup_capped(url, DYNCONF_MAX_URL);
	s->weight = weight;
	if (!s->name || !s->url) {
		free(s->name);
		free(s->url);
		b->nservers--;
		return NULL;
	}
	return s;
}

struct dc_frontend *dynconf_add_frontend(struct dynconf *dc, const char *name, const char *backend)
{
	struct dc_frontend *f;

	if (dc->nfrontends >= DYNCONF_MAX_FRONTENDS) {
		errno = E2BIG;
		return NULL;
	}
	f = grow(&dc->frontends, &dc->nfrontends, sizeof(*f));
	if (!f)
		return NULL;
	f->name = dup_capped(name, DYNCONF_MAX_NAME);
	f->backend = dup_capped(backend ? backend : "", DYNCONF_MAX_NAME);
	f->pass_host_header = true;
	if (!f->name || !f->backend) {
		free(f->name);
		free(f->backend);
		dc->nfrontends--;
		return NULL;
	}
	return f;
}

struct dc_route *dynconf_add_route(struct dc_frontend *f, const char *name, const char *rule)
{
	struct dc_route *r;

	if (f->nroutes >= DYNCONF_MAX_ROUTES) {
		errno = E2BIG;
		return NULL;
	}
	r = grow(&f->routes, &f->nroutes, sizeof(*r));
	if (!r)
		return NULL;
	r->name = dup_capped(name, DYNCONF_MAX_NAME);
	r->rule = dup_capped(rule, DYNCONF_MAX_RULE);
	if (!r->name || !r->rule) {
		free(r->name);
		free(r->rule);
		f->nroutes--;
		return NULL;
	}
	return r;
}

int dynconf_add_entrypoint(struct dc_frontend *f, const char *entrypoint)
{
	char **slot;

	if (f->nentrypoints >= DYNCONF_MAX_ENTRYPOINTS)
		return -E2BIG;
	slot = grow(&f->entrypoints, &f->nentrypoints, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = dup_capped(entrypoint, DYNCONF_MAX_NAME);
	if (!*slot) {
		f->nentrypoints--;
		return -errno;
	}
	return 0;
}

struct dc_backend *dynconf_find_backend(const struct dynconf *dc, const char *name)
{
	for (size_t i = 0; i < dc->nbackends; i++)
		if (strcmp(dc->backends[i].name, name) == 0)
			return &dc->backends[i];
	return NULL;
}

struct dc_frontend *dynconf_find_frontend(const struct dynconf *dc, const char *name)
{
	for (size_t i = 0; i < dc->nfrontends; i++)
		if (strcmp(dc->frontends[i].name, name) == 0)
			return &dc->frontends[i];
	return NULL;
}

static int cmp_backend(const void *a, const void *b)
{
	return strcmp(((const struct dc_backend *)a)->name, ((const struct dc_backend *)b)->name);
}

static int cmp_server(const void *a, const void *b)
{
	return strcmp(((const struct dc_server *)a)->name, ((const struct dc_server *)b)->name);
}

static int cmp_frontend(const void *a, const void *b)
{
	return strcmp(((const struct dc_frontend *)a)->name, ((const struct dc_frontend *)b)->name);
}

static int cmp_route(const void *a, const void *b)
{
	return strcmp(((const struct dc_route *)a)->name, ((const struct dc_route *)b)->name);
}

static void sort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	if (n > 1)	/* base may be NULL when n == 0: qsort's contract says non-NULL */
		qsort(base, n, sz, cmp);
}

void dynconf_sort(struct dynconf *dc)
{
	sort(dc->backends, dc->nbackends, sizeof(*dc->backends), cmp_backend);
	for (size_t i = 0; i < dc->nbackends; i++)
		sort(dc->backends[i].servers, dc->backends[i].nservers, sizeof(struct dc_server),
		     cmp_server);
	sort(dc->frontends, dc->nfrontends, sizeof(*dc->frontends), cmp_frontend);
	for (size_t i = 0; i < dc->nfrontends; i++)
		sort(dc->frontends[i].routes, dc->frontends[i].nroutes, sizeof(struct dc_route),
		     cmp_route);
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool dynconf_equal(const struct dynconf *a, const struct dynconf *b)
{
	if (!a || !b)
		return a == b;
	if (!str_eq(a->provider, b->provider) || a->nbackends != b->nbackends ||
	    a->nfrontends != b->nfrontends)
		return false;
	for (size_t i = 0; i < a->nbackends; i++) {
		const struct dc_backend *x = &a->backends[i], *y = &b->backends[i];

		if (!str_eq(x->name, y->name) || !str_eq(x->lb_method, y->lb_method) ||
		    x->nservers != y->nservers)
			return false;
		for (size_t j = 0; j < x->nservers; j++)
			if (!str_eq(x->servers[j].name, y->servers[j].name) ||
			    !str_eq(x->servers[j].url, y->servers[j].url) ||
			    x->servers[j].weight != y->servers[j].weight)
				return false;
	}
	for (size_t i = 0; i < a->nfrontends; i++) {
		const struct dc_frontend *x = &a->frontends[i], *y = &b->frontends[i];

		if (!str_eq(x->name, y->name) || !str_eq(x->backend, y->backend) ||
		    x->priority != y->priority || x->pass_host_header != y->pass_host_header ||
		    x->nroutes != y->nroutes || x->nentrypoints != y->nentrypoints)
			return false;
		for (size_t j = 0; j < x->nroutes; j++)
			if (!str_eq(x->routes[j].name, y->routes[j].name) ||
			    !str_eq(x->routes[j].rule, y->routes[j].rule))
				return false;
		for (size_t j = 0; j < x->nentrypoints; j++)
			if (!str_eq(x->entrypoints[j], y->entrypoints[j]))
				return false;
	}
	return true;
}

/* ---- JSON in ---------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Optional object member: NULL when absent; -EINVAL (err set) when present but not an object. */
static int get_object(const cJSON *parent, const char *key, const char *path, const cJSON **out,
		      char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v))
		return fail(err, errlen, "%s%s%s: must be an object", path, *path ? "." : "", key);
	*out = v;
	return 0;
}

static int get_string(const cJSON *parent, const char *key, const char *path, const char **out,
		      size_t cap, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return fail(err, errlen, "%s.%s: must be a string", path, key);
	if (strlen(v->valuestring) > cap)
		return fail(err, errlen, "%s.%s: longer than %zu bytes", path, key, cap);
	*out = v->valuestring;
	return 0;
}

static int get_bool(const cJSON *parent, const char *key, const char *path, bool *out,
		    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return fail(err, errlen, "%s.%s: must be true or false", path, key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_int(const cJSON *parent, const char *key, const char *path, int *out, int min,
		   int max, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
		return fail(err, errlen, "%s.%s: must be an integer", path, key);
	if (v->valuedouble < min || v->valuedouble > max)
		return fail(err, errlen, "%s.%s: %lld is out of range %d..%d", path, key,
			    (long long)v->valuedouble, min, max);
	*out = (int)v->valuedouble;
	return 0;
}

/* Member names become our names: check their length and that they are printable. */
static int check_name(const char *name, const char *path, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0)
		return fail(err, errlen, "%s: empty name", path);
	if (n > DYNCONF_MAX_NAME)
		return fail(err, errlen, "%s: name longer than %d bytes", path, DYNCONF_MAX_NAME);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '"' || *p == '\\')
			return fail(err, errlen, "%s: name \"%s\" has a space, quote or control "
				    "character", path, name);
	return 0;
}

static const char *const backend_keys[] = { "servers", "loadBalancer", "circuitBreaker", "maxConn",
					    "healthCheck", "buffering", "responseForwarding", NULL };
static const char *const frontend_keys[] = { "backend", "routes", "priority", "passHostHeader",
					     "entryPoints", "passTLSCert", "headers", "errors",
					     "redirect", "whiteList", "auth", "ratelimit",
					     "basicAuth", "whitelistSourceRange", NULL };

/* Reject members we don't know: a typo ("backned") must not silently drop config. */
static int check_keys(const cJSON *obj, const char *const *known, const char *path, char *err,
		      size_t errlen)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		size_t i;

		for (i = 0; known[i]; i++)
			if (strcmp(m->string, known[i]) == 0)
				break;
		if (!known[i])
			return fail(err, errlen, "%s.%s: unknown field", path, m->string);
	}
	return 0;
}

static int parse_backend(struct dynconf *dc, const cJSON *bj, char *err, size_t errlen)
{
	char path[DYNCONF_MAX_NAME + 64];
	const cJSON *servers, *lb, *sj;
	const char *method = NULL;
	struct dc_backend *b;
	int ret;

	snprintf(path, sizeof(path), "backends.%s", bj->string);
	if ((ret = check_name(bj->string, path, err, errlen)))
		return ret;
	if (!cJSON_IsObject(bj))
		return fail(err, errlen, "%s: must be an object", path);
	if ((ret = check_keys(bj, backend_keys, path, err, errlen)) ||
	    (ret = get_object(bj, "servers", path, &servers, err, errlen)) ||
	    (ret = get_object(bj, "loadBalancer", path, &lb, err, errlen)))
		return ret;
	if (lb) {
		char lpath[sizeof(path) + 16];

		snprintf(lpath, sizeof(lpath), "%s.loadBalancer", path);
		if ((ret = get_string(lb, "method", lpath, &method, 16, err, errlen)))
			return ret;
		if (method && strcasecmp(method, "wrr") != 0 && strcasecmp(method, "drr") != 0)
			return fail(err, errlen, "%s.method: \"%s\" is not wrr or drr", lpath,
				    method);
	}
	b = dynconf_add_backend(dc, bj->string, method ? method : "wrr");
	if (!b)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	for (char *c = b->lb_method; *c; c++)
		*c = (char)(*c | 0x20);
	cJSON_ArrayForEach(sj, servers) {
		char spath[sizeof(path) + DYNCONF_MAX_NAME + 16];
		const char *url = NULL;
		int weight = 1;

		snprintf(spath, sizeof(spath), "%s.servers.%s", path, sj->string);
		if ((ret = check_name(sj->string, spath, err, errlen)))
			return ret;
		if (!cJSON_IsObject(sj))
			return fail(err, errlen, "%s: must be an object", spath);
		if ((ret = get_string(sj, "url", spath, &url, DYNCONF_MAX_URL, err, errlen)) ||
		    (ret = get_int(sj, "weight", spath, &weight, 0, DYNCONF_MAX_WEIGHT, err,
				   errlen)))
			return ret;
		if (!url)
			return fail(err, errlen, "%s.url: missing", spath);
		if (!dynconf_add_server(b, sj->string, url, weight))
			return fail(err, errlen, "%s: %s", spath,
				    errno == E2BIG ? "too many servers" : strerror(errno));
	}
	return 0;
}

static int parse_frontend(struct dynconf *dc, const cJSON *fj, char *err, size_t errlen)
{
	char path[DYNCONF_MAX_NAME + 64];
	const cJSON *routes, *eps, *rj, *ej;
	const char *backend = NULL;
	struct dc_frontend *f;
	int ret;

	snprintf(path, sizeof(path), "frontends.%s", fj->string);
	if ((ret = check_name(fj->string, path, err, errlen)))
		return ret;
	if (!cJSON_IsObject(fj))
		return fail(err, errlen, "%s: must be an object", path);
	if ((ret = check_keys(fj, frontend_keys, path, err, errlen)) ||
	    (ret = get_string(fj, "backend", path, &backend, DYNCONF_MAX_NAME, err, errlen)) ||
	    (ret = get_object(fj, "routes", path, &routes, err, errlen)))
		return ret;
	if (!backend || !*backend)
		return fail(err, errlen, "%s.backend: missing", path);
	f = dynconf_add_frontend(dc, fj->string, backend);
	if (!f)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if ((ret = get_int(fj, "priority", path, &f->priority, 0, 1000000, err, errlen)) ||
	    (ret = get_bool(fj, "passHostHeader", path, &f->pass_host_header, err, errlen)))
		return ret;
	cJSON_ArrayForEach(rj, routes) {
		char rpath[sizeof(path) + DYNCONF_MAX_NAME + 16];
		const char *rule = NULL;

		snprintf(rpath, sizeof(rpath), "%s.routes.%s", path, rj->string);
		if ((ret = check_name(rj->string, rpath, err, errlen)))
			return ret;
		if (!cJSON_IsObject(rj))
			return fail(err, errlen, "%s: must be an object", rpath);
		if ((ret = get_string(rj, "rule", rpath, &rule, DYNCONF_MAX_RULE, err, errlen)))
			return ret;
		if (!rule || !*rule)
			return fail(err, errlen, "%s.rule: missing", rpath);
		if (!dynconf_add_route(f, rj->string, rule))
			return fail(err, errlen, "%s: %s", rpath,
				    errno == E2BIG ? "too many routes" : strerror(errno));
	}
	eps = cJSON_GetObjectItemCaseSensitive(fj, "entryPoints");
	if (eps && !cJSON_IsNull(eps)) {
		if (!cJSON_IsArray(eps))
			return fail(err, errlen, "%s.entryPoints: must be an array of names", path);
		cJSON_ArrayForEach(ej, eps) {
			if (!cJSON_IsString(ej) || !*ej->valuestring)
				return fail(err, errlen, "%s.entryPoints: must be an array of names",
					    path);
			ret = dynconf_add_entrypoint(f, ej->valuestring);
			if (ret)
				return fail(err, errlen, "%s.entryPoints: %s", path,
					    ret == -E2BIG ? "too many" : strerror(-ret));
		}
	}
	return 0;
}

struct dynconf *dynconf_from_json(const cJSON *root, const char *provider, char *err, size_t errlen)
{
	static const char *const top_keys[] = { "frontends", "backends", "tls", NULL };
	const cJSON *frontends, *backends, *j;
	struct dynconf *dc;
	int ret;

	if (!cJSON_IsObject(root)) {
		fail(err, errlen, "top level: must be an object with \"frontends\" and \"backends\"");
		goto fail_inval;
	}
	if (check_keys(root, top_keys, "(top level)", err, errlen) ||
	    get_object(root, "frontends", "", &frontends, err, errlen) ||
	    get_object(root, "backends", "", &backends, err, errlen))
		goto fail_inval;
	dc = dynconf_new(provider);
	if (!dc)
		return NULL;
	cJSON_ArrayForEach(j, backends) {
		if ((ret = parse_backend(dc, j, err, errlen)))
			goto fail_free;
	}
	cJSON_ArrayForEach(j, frontends) {
		if ((ret = parse_frontend(dc, j, err, errlen)))
			goto fail_free;
	}
	dynconf_sort(dc);
	return dc;

fail_free:
	dynconf_free(dc);
fail_inval:
	errno = EINVAL;
	return NULL;
}

/* ---- JSON out (Traefik API shape, field order as Traefik's structs) --------------- */

cJSON *dynconf_to_json(const struct dynconf *dc)
{
	cJSON *root = cJSON_CreateObject(), *backends, *frontends;

	if (!root)
		return NULL;
	backends = cJSON_AddObjectToObject(root, "backends");
	frontends = cJSON_AddObjectToObject(root, "frontends");
	if (!backends || !frontends)
		goto fail;
	for (size_t i = 0; i < dc->nbackends; i++) {
		const struct dc_backend *b = &dc->backends[i];
		cJSON *bj = cJSON_AddObjectToObject(backends, b->name);
		cJSON *servers = bj ? cJSON_AddObjectToObject(bj, "servers") : NULL;
		cJSON *lb = servers ? cJSON_AddObjectToObject(bj, "loadBalancer") : NULL;

		if (!lb || !cJSON_AddStringToObject(lb, "method", b->lb_method))
			goto fail;
		for (size_t j = 0; j < b->nservers; j++) {
			cJSON *sj = cJSON_AddObjectToObject(servers, b->servers[j].name);

			if (!sj || !cJSON_AddStringToObject(sj, "url", b->servers[j].url) ||
			    !cJSON_AddNumberToObject(sj, "weight", b->servers[j].weight))
				goto fail;
		}
	}
	for (size_t i = 0; i < dc->nfrontends; i++) {
		const struct dc_frontend *f = &dc->frontends[i];
		cJSON *fj = cJSON_AddObjectToObject(frontends, f->name), *eps, *routes;

		if (!fj)
			goto fail;
		if (f->nentrypoints) {
			eps = cJSON_AddArrayToObject(fj, "entryPoints");
			if (!eps)
				goto fail;
			for (size_t j = 0; j < f->nentrypoints; j++)
				cJSON_AddItemToArray(eps, cJSON_CreateString(f->entrypoints[j]));
		}
		if (!cJSON_AddStringToObject(fj, "backend", f->backend))
			goto fail;
		routes = cJSON_AddObjectToObject(fj, "routes");
		if (!routes)
			goto fail;
		for (size_t j = 0; j < f->nroutes; j++) {
			cJSON *rj = cJSON_AddObjectToObject(routes, f->routes[j].name);

			if (!rj || !cJSON_AddStringToObject(rj, "rule", f->routes[j].rule))
				goto fail;
		}
		if (f->pass_host_header && !cJSON_AddTrueToObject(fj, "passHostHeader"))
			goto fail;
		if (!cJSON_AddNumberToObject(fj, "priority", f->priority) ||
		    !cJSON_AddNullToObject(fj, "basicAuth"))
			goto fail;
	}
	return root;
fail:
	cJSON_Delete(root);
	errno = ENOMEM;
	return NULL;
}
