// SPDX-License-Identifier: MIT
/*
 * model: compiles every provider's dynconf into one immutable routing snapshot and swaps it
 * in atomically.
 *
 * Building is done off the request path by the thread that publishes (file watcher, Docker
 * thread); it resolves server URLs, compiles rules and precomputes each backend's weighted
 * round-robin sequence, so picking a server on a worker is one atomic add and an array
 * index. The published pointer is guarded by a mutex that only publishers and the
 * generation-change path of model_cache_enter() take: requests themselves never lock.
 *
 * Strictness: the file provider is validated whole (an operator edited it: reject the file,
 * keep the last good config). Other providers are data from Docker: a frontend or server
 * that can't be used is dropped with a warning naming it, the rest keeps working.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "model.h"

#define RR_ALIGN 64
#define SEQ_MAX (1u << 20)

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static struct model *model_current;		/* under model_lock */
static _Atomic uint64_t model_gen;
static struct model_conf *published[8];		/* latest per provider, under model_lock */
static size_t npublished;
static const struct config *model_cfg;

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void model_conf_put(struct model_conf *mc)
{
	if (mc && atomic_fetch_sub_explicit(&mc->refs, 1, memory_order_acq_rel) == 1) {
		dynconf_free(mc->dc);
		free(mc);
	}
}

static struct model_conf *model_conf_new(struct dynconf *dc)
{
	struct model_conf *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->dc = dc;
	atomic_init(&mc->refs, 1);
	return mc;
}

static void model_free(struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfrontends; i++)
		rule_free(m->frontends[i].rule);
	for (size_t i = 0; i < m->nbackends; i++) {
		free(m->backends[i].servers);
		free(m->backends[i].seq);
		free(m->backends[i].rr);
	}
	free(m->frontends);
	free(m->backends);
	for (size_t i = 0; i < m->nconfs; i++)
		model_conf_put(m->confs[i]);
	free(m->confs);
	free(m);
}

/* Parse "http://host[:port][/...]" and resolve host. 0 or -EINVAL with err set. */
static int parse_server_url(const char *url, struct model_server *s, char *err, size_t errlen)
{
	char host[256], port[8] = "80";
	const char *p, *end, *colon;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc;

	if (strncasecmp(url, "http://", 7) != 0) {
		if (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "h2c://", 6) == 0)
			return errf(err, errlen, "url \"%s\": only http:// backends are supported",
				    url);
		return errf(err, errlen, "url \"%s\": want http://host:port", url);
	}
	p = url + 7;
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb || (size_t)(rb - p - 1) >= sizeof(host))
			return errf(err, errlen, "url \"%s\": bad IPv6 address", url);
		snprintf(host, sizeof(host), "%.*s", (int)(rb - p - 1), p + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if ((size_t)((colon ? colon : end) - p) >= sizeof(host))
			return errf(err, errlen, "url \"%s\": host too long", url);
		snprintf(host, sizeof(host), "%.*s", (int)((colon ? colon : end) - p), p);
	}
	if (!host[0])
		return errf(err, errlen, "url \"%s\": no host", url);
	if (colon) {
		size_t n = (size_t)(end - colon - 1);
		char *e;
		long v;

		if (n == 0 || n >= sizeof(port))
			return errf(err, errlen, "url \"%s\": bad port", url);
		memcpy(port, colon + 1, n);
		port[n] = '\0';
		v = strtol(port, &e, 10);
		if (*e || v < 1 || v > 65535)
			return errf(err, errlen, "url \"%s\": bad port", url);
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || !res)
		return errf(err, errlen, "url \"%s\": cannot resolve \"%s\": %s", url, host,
			    gai_strerror(rc));
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (strchr(host, ':'))
		snprintf(s->hostport, sizeof(s->hostport), "[%s]:%s", host, port);
	else
		snprintf(s->hostport, sizeof(s->hostport), "%s:%s", host, port);
	return 0;
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b) {
		unsigned t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * Smooth weighted round robin (each step: every server gains its weight, the largest
 * current wins and loses the total). Equal weights give plain server order; weights
 * 3:1 give a,a,b,a rather than a,a,a,b. The sequence is computed once per snapshot.
 */
static int build_sequence(struct model_backend *b)
{
	unsigned total = 0, g = 0;
	long *cur = NULL;

	for (size_t i = 0; i < b->nservers; i++) {
		if (b->servers[i].weight <= 0)
			continue;
		g = gcd((unsigned)b->servers[i].weight, g);
	}
	if (!g)
		return 0;	/* no server in rotation */
	for (size_t i = 0; i < b->nservers; i++)
		if (b->servers[i].weight > 0)
			total += (unsigned)b->servers[i].weight / g;
	if (total > SEQ_MAX)
		return -E2BIG;
	b->seq = malloc(total * sizeof(*b->seq));
	cur = calloc(b->nservers, sizeof(*cur));
	if (!b->seq || !cur) {
		free(cur);
		return -ENOMEM;
	}
	for (unsigned n = 0; n < total; n++) {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < b->nservers; i++) {
			if (b->servers[i].weight <= 0)
				continue;
			cur[i] += b->servers[i].weight / (long)g;
			if (best == SIZE_MAX || cur[i] > cur[best])
				best = i;
		}
		cur[best] -= (long)total;
		b->seq[n] = (uint32_t)best;
	}
	b->seqlen = total;
	free(cur);
	return 0;
}

static int build_backend(struct model_backend *mb, const struct dc_backend *b, const char *provider,
			 bool strict, char *err, size_t errlen)
{
	char e[384];
	int ret;

	mb->name = b->name;
	mb->provider = provider;
	mb->servers = calloc(b->nservers ? b->nservers : 1, sizeof(*mb->servers));
	mb->rr = aligned_alloc(RR_ALIGN, RR_ALIGN);
	if (!mb->servers || !mb->rr)
		return -ENOMEM;
	atomic_init(mb->rr, 0);
	for (size_t j = 0; j < b->nservers; j++) {
		struct model_server *s = &mb->servers[mb->nservers];

		if (b->servers[j].weight < 0 || b->servers[j].weight > DYNCONF_MAX_WEIGHT)
			ret = errf(e, sizeof(e), "weight %d is out of range 0..%d",
				   b->servers[j].weight, DYNCONF_MAX_WEIGHT);
		else
			ret = parse_server_url(b->servers[j].url, s, e, sizeof(e));
		if (ret) {
			if (strict)
				return errf(err, errlen, "backends.%s.servers.%s: %s", b->name,
					    b->servers[j].name, e);
			log_warn("provider %s: backend %s: server %s skipped: %s", provider,
				 b->name, b->servers[j].name, e);
			continue;
		}
		s->name = b->servers[j].name;
		s->url = b->servers[j].url;
		s->weight = b->servers[j].weight;
		s->id = (uint32_t)mb->nservers++;
	}
	ret = build_sequence(mb);
	if (ret)
		return errf(err, errlen, "backends.%s: %s", b->name,
			    ret == -E2BIG ? "weights too large" : "out of memory");
	return 0;
}

static int cmp_frontend(const void *a, const void *b)
{
	const struct model_frontend *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct model_backend *find_backend(struct model *m, const char *provider, const char *name)
{
	for (size_t i = 0; i < m->nbackends; i++)
		if (strcmp(m->backends[i].name, name) == 0 &&
		    strcmp(m->backends[i].provider, provider) == 0)
			return &m->backends[i];
	return NULL;
}

/* 0 with *skip false: use it; 0 with *skip: dropped with a warning; -EINVAL: reject all. */
static int build_frontend(struct model *m, struct model_frontend *mf, const struct dc_frontend *f,
			  const struct dynconf *dc, const struct config *cfg, bool strict,
			  bool *skip, char *err, size_t errlen)
{
	const char *rules[DYNCONF_MAX_ROUTES];
	char e[384];
	int prio = 0;

	*skip = false;
	mf->name = f->name;
	mf->provider = dc->provider;
	mf->pass_host_header = f->pass_host_header;
	if (f->nroutes == 0) {
		snprintf(e, sizeof(e), "no routes");
		goto bad;
	}
	for (size_t j = 0; j < f->nroutes; j++) {
		rules[j] = f->routes[j].rule;
		prio += (int)strlen(f->routes[j].rule);
	}
	mf->priority = f->priority > 0 ? f->priority : prio;
	mf->backend = find_backend(m, dc->provider, f->backend);
	if (!mf->backend) {
		snprintf(e, sizeof(e), "backend \"%s\" is not defined", f->backend);
		goto bad;
	}
	if (f->nentrypoints == 0) {
		for (size_t j = 0; j < cfg->ndefault_entrypoints; j++) {
			int ep = config_entrypoint_index(cfg, cfg->default_entrypoints[j]);

			if (ep >= 0)
				mf->entrypoint_mask |= 1u << ep;
		}
	}
	for (size_t j = 0; j < f->nentrypoints; j++) {
		int ep = config_entrypoint_index(cfg, f->entrypoints[j]);

		if (ep < 0) {
			snprintf(e, sizeof(e), "entryPoints: no entry point named \"%s\"",
				 f->entrypoints[j]);
			goto bad;
		}
		mf->entrypoint_mask |= 1u << ep;
	}
	mf->rule = rule_compile(rules, f->nroutes, e, sizeof(e));
	if (!mf->rule)
		goto bad;
	return 0;
bad:
	if (strict)
		return errf(err, errlen, "frontends.%s: %s", f->name, e);
	log_warn("provider %s: frontend %s skipped: %s", dc->provider, f->name, e);
	*skip = true;
	return 0;
}

/* Build over conf refs; on success the snapshot holds one more ref on each. */
static struct model *build(struct model_conf *const *confs, size_t nconfs,
			   const struct config *cfg, char *err, size_t errlen)
{
	size_t nb = 0, nf = 0;
	struct model *m;
	int ret = -ENOMEM;

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->cfg = cfg;
	for (size_t i = 0; i < nconfs; i++) {
		nb += confs[i]->dc->nbackends;
		nf += confs[i]->dc->nfrontends;
	}
	m->backends = calloc(nb ? nb : 1, sizeof(*m->backends));
	m->frontends = calloc(nf ? nf : 1, sizeof(*m->frontends));
	m->confs = calloc(nconfs ? nconfs : 1, sizeof(*m->confs));
	if (!m->backends || !m->frontends || !m->confs)
		goto fail;
	for (size_t i = 0; i < nconfs; i++) {
		const struct dynconf *dc = confs[i]->dc;
		bool strict = strcmp(dc->provider, "file") == 0;

		atomic_fetch_add(&confs[i]->refs, 1);
		m->confs[m->nconfs++] = confs[i];
		for (size_t j = 0; j < dc->nbackends; j++) {
			struct model_backend *mb = &m->backends[m->nbackends];

			mb->id = (uint32_t)m->nbackends++;
			ret = build_backend(mb, &dc->backends[j], dc->provider, strict, err, errlen);
			if (ret)
				goto fail;
		}
	}
	for (size_t i = 0; i < nconfs; i++) {
		const struct dynconf *dc = confs[i]->dc;
		bool strict = strcmp(dc->provider, "file") == 0;

		for (size_t j = 0; j < dc->nfrontends; j++) {
			struct model_frontend *mf = &m->frontends[m->nfrontends];
			bool skip;

			ret = build_frontend(m, mf, &dc->frontends[j], dc, cfg, strict, &skip, err,
					     errlen);
			if (ret)
				goto fail;
			if (skip) {
				rule_free(mf->rule);
				memset(mf, 0, sizeof(*mf));
				continue;
			}
			m->nfrontends++;
		}
	}
	qsort(m->frontends, m->nfrontends, sizeof(*m->frontends), cmp_frontend);
	for (size_t i = 0; i < m->nfrontends; i++)
		m->frontends[i].id = (uint32_t)i;
	return m;
fail:
	if (ret == -ENOMEM)
		errf(err, errlen, "out of memory");
	model_free(m);
	errno = -ret;
	return NULL;
}

struct model *model_build(struct dynconf *const *confs, size_t nconfs, const struct config *cfg,
			  char *err, size_t errlen)
{
	struct model_conf *mcs[16];
	struct model *m = NULL;
	size_t i = 0;
	int saved;

	if (nconfs > 16) {
		errno = E2BIG;
		goto out;
	}
	for (i = 0; i < nconfs; i++) {
		mcs[i] = model_conf_new(confs[i]);
		if (!mcs[i])
			goto out;
	}
	m = build(mcs, nconfs, cfg, err, errlen);
out:
	saved = errno;
	/* Drop our own refs: the snapshot holds the others (or, on failure, nothing does). */
	for (size_t j = 0; j < nconfs && j < 16; j++) {
		if (j < i)
			model_conf_put(mcs[j]);
		else
			dynconf_free(confs[j]);
	}
	errno = saved;
	return m;
}

struct model_frontend *model_route(const struct model *m, int ep, const struct rule_input *in,
				   enum rule_verdict *verdict)
{
	uint32_t bit = 1u << ep;

	for (size_t i = 0; i < m->nfrontends; i++) {
		struct model_frontend *f = &m->frontends[i];
		enum rule_verdict v;

		if (!(f->entrypoint_mask & bit))
			continue;
		v = rule_eval(f->rule, in);
		if (v != RULE_NO_MATCH) {
			if (verdict)
				*verdict = v;
			return f;
		}
	}
	return NULL;
}

void model_setup(const struct config *cfg)
{
	pthread_mutex_lock(&model_lock);
	model_cfg = cfg;
	if (!model_current) {
		model_current = build(NULL, 0, cfg, NULL, 0);
		if (!model_current) {
			log_error("out of memory building the empty configuration");
			abort();
		}
		model_current->generation = atomic_fetch_add(&model_gen, 1) + 1;
	}
	pthread_mutex_unlock(&model_lock);
}

static int cmp_conf(const void *a, const void *b)
{
	return strcmp((*(struct model_conf *const *)a)->dc->provider,
		      (*(struct model_conf *const *)b)->dc->provider);
}

int model_publish(struct dynconf *dc, char *err, size_t errlen)
{
	struct model_conf *confs[8], *mc, *replaced = NULL;
	struct model *m, *old;
	size_t n = 0, slot = SIZE_MAX;
	char e[512] = "";

	mc = model_conf_new(dc);
	if (!mc) {
		dynconf_free(dc);
		return errf(err, errlen, "out of memory");
	}
	pthread_mutex_lock(&model_lock);
	for (size_t i = 0; i < npublished; i++) {
		if (strcmp(published[i]->dc->provider, dc->provider) == 0) {
			slot = i;
			confs[n++] = mc;
		} else {
			confs[n++] = published[i];
		}
	}
	if (slot == SIZE_MAX) {
		if (npublished >= sizeof(published) / sizeof(published[0])) {
			pthread_mutex_unlock(&model_lock);
			model_conf_put(mc);
			return errf(err, errlen, "too many providers");
		}
		confs[n++] = mc;
	}
	qsort(confs, n, sizeof(confs[0]), cmp_conf);
	m = build(confs, n, model_cfg, e, sizeof(e));
	if (!m) {
		pthread_mutex_unlock(&model_lock);
		log_error("provider %s: configuration rejected, the previous one stays in service: %s",
			  dc->provider, e);
		errf(err, errlen, "%s", e);
		model_conf_put(mc);
		return -EINVAL;
	}
	if (slot == SIZE_MAX) {
		published[npublished++] = mc;	/* the table keeps mc's first ref */
	} else {
		replaced = published[slot];
		published[slot] = mc;
	}
	old = model_current;
	m->generation = atomic_load(&model_gen) + 1;
	model_current = m;
	atomic_store_explicit(&model_gen, m->generation, memory_order_release);
	pthread_mutex_unlock(&model_lock);
	log_info("provider %s: configuration applied (%zu frontends, %zu backends in service)",
		 dc->provider, m->nfrontends, m->nbackends);
	model_release(old);
	model_conf_put(replaced);	/* snapshots still using it hold their own refs */
	return 0;
}

struct model *model_acquire(void)
{
	struct model *m;

	pthread_mutex_lock(&model_lock);
	m = model_current;
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&model_lock);
	return m;
}

void model_release(struct model *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		model_free(m);
}

uint64_t model_generation(void)
{
	return atomic_load_explicit(&model_gen, memory_order_acquire);
}

void model_shutdown(void)
{
	pthread_mutex_lock(&model_lock);
	for (size_t i = 0; i < npublished; i++)
		model_conf_put(published[i]);
	npublished = 0;
	model_release(model_current);
	model_current = NULL;
	pthread_mutex_unlock(&model_lock);
}

/* ---- per-thread cache -------------------------------------------------------------- */

void model_cache_init(struct model_cache *c)
{
	memset(c, 0, sizeof(*c));
}

static void hold_drop(struct model_hold *h)
{
	model_release(h->m);
	free(h);
}

struct model_hold *model_cache_enter(struct model_cache *c)
{
	uint64_t g = atomic_load_explicit(&model_gen, memory_order_acquire);

	if (!c->cur || g != c->gen) {
		struct model_hold *h = calloc(1, sizeof(*h));

		if (h) {
			h->m = model_acquire();
			c->gen = h->m->generation;
			if (c->cur) {
				if (c->cur->users) {
					c->cur->next = c->old;
					c->old = c->cur;
				} else {
					hold_drop(c->cur);
				}
			}
			c->cur = h;
		} else if (!c->cur) {
			return NULL;
		}
		/* on ENOMEM keep serving with the snapshot we have */
	}
	c->cur->users++;
	return c->cur;
}

void model_cache_leave(struct model_cache *c, struct model_hold *h)
{
	struct model_hold **pp;

	if (--h->users || h == c->cur)
		return;
	for (pp = &c->old; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			hold_drop(h);
			return;
		}
	}
}

void model_cache_fini(struct model_cache *c)
{
	struct model_hold *h, *next;

	if (c->cur)
		hold_drop(c->cur);
	for (h = c->old; h; h = next) {
		next = h->next;
		hold_drop(h);
	}
	memset(c, 0, sizeof(*c));
}
