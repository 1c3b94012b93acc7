// SPDX-License-Identifier: MIT
/*
 * docker_labels: Swarm listings + Traefik 1.7 v1 service labels -> dynconf.
 *
 * Follows Traefik 1.7's swarm provider (provider/docker: listServices, parseTasks,
 * containerFilter, getFrontendName, getServerName) so that frontend, backend and server names,
 * default rules and priorities come out exactly as Traefik derives them; it differs where
 * Traefik is arbitrary or silent: the task address is chosen deterministically (label, flag,
 * the network shared with the balancer's container, else the first non-ingress network by
 * name) and a bad or unsupported label refuses its service with a message instead of
 * falling back to a default. Every field of the Engine's JSON is type-checked: a listing is
 * data from outside, and one odd service must never take the others down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "docker_labels.h"
#include "dynconf.h"
#include "rule.h"

#define MAX_MSGS	512
#define MAX_MSG_LEN	512

/* ---- MD5 (RFC 1321), for Traefik's server names ---- */

static uint32_t md5_k[64];
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void md5_init_table(void)
{
	/* RFC 1321: K[i] = floor(2^32 * |sin(i + 1)|); exact in IEEE double for all 64. */
	for (int i = 0; i < 64; i++)
		md5_k[i] = (uint32_t)floor(fabs(sin((double)(i + 1))) * 4294967296.0);
}

static uint32_t rotl32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void md5_block(uint32_t h[4], const unsigned char *p)
{
	static const unsigned char sh[4][4] = {
		{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
	};
	uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];

	for (int i = 0; i < 16; i++)
		m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f, t;
		int g, round = i / 16;

		switch (round) {
		case 0:
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		t = d;
		d = c;
		c = b;
		b = b + rotl32(a + f + md5_k[i] + m[g], sh[round][i % 4]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void docker_md5_hex(const char *s, size_t len, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	const unsigned char *p = (const unsigned char *)s;
	unsigned char tail[128] = { 0 };
	uint64_t bits = (uint64_t)len * 8;
	size_t full = len / 64 * 64, rest = len - full, tlen;

	pthread_once(&md5_once, md5_init_table);
	for (size_t off = 0; off < full; off += 64)
		md5_block(h, p + off);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tlen - 8 + i] = (unsigned char)(bits >> (8 * i));
	md5_block(h, tail);
	if (tlen == 128)
		md5_block(h, tail + 64);
	for (int i = 0; i < 16; i++) {
		unsigned char byte = (unsigned char)(h[i / 4] >> (8 * (i % 4)));

		out[2 * i] = hex[byte >> 4];
		out[2 * i + 1] = hex[byte & 15];
	}
	out[32] = '\0';
}

/* ---- names ---- */

/*
 * Go's unicode.IsLetter/IsNumber on bytes: ASCII letters and digits count; every byte of a
 * multi-byte UTF-8 sequence is kept too (non-ASCII punctuation is rare in service names, and
 * keeping it is the safe side: names stay distinct).
 */
static bool name_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch >= 0x80;
}

int docker_normalize(const char *s, char *dst, size_t dstlen)
{
	size_t o = 0;
	bool pending = false;

	if (!dstlen)
		return -ENOSPC;
	for (; *s; s++) {
		if (!name_char((unsigned char)*s)) {
			pending = o > 0;
			continue;
		}
		if (pending) {
			if (o + 1 >= dstlen)
				goto full;
			dst[o++] = '-';
			pending = false;
		}
		if (o + 1 >= dstlen)
			goto full;
		dst[o++] = *s;
	}
	dst[o] = '\0';
	return 0;
full:
	dst[0] = '\0';
	return -ENOSPC;
}

/* ---- messages ---- */

static int addmsg(struct docker_build *b, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int addmsg(struct docker_build *b, enum log_level lvl, const char *fmt, ...)
{
	struct docker_msg *m;
	char buf[MAX_MSG_LEN];
	va_list ap;

	if (b->nmsgs >= MAX_MSGS)
		return 0;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The same line twice in one listing says nothing new (one per task otherwise). */
	for (size_t i = 0; i < b->nmsgs; i++)
		if (strcmp(b->msgs[i].text, buf) == 0)
			return 0;
	m = realloc(b->msgs, (b->nmsgs + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	b->msgs = m;
	m[b->nmsgs].level = lvl;
	m[b->nmsgs].text = strdup(buf);
	if (!m[b->nmsgs].text)
		return -ENOMEM;
	b->nmsgs++;
	return 0;
}

void docker_build_fini(struct docker_build *b)
{
	if (!b)
		return;
	dynconf_free(b->dc);
	for (size_t i = 0; i < b->nmsgs; i++)
		free(b->msgs[i].text);
	free(b->msgs);
	memset(b, 0, sizeof(*b));
}

/* ---- JSON accessors: every field is checked for its type ---- */

static const cJSON *jget(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = jget(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* Printable copy of an untrusted string for messages: controls and quotes replaced, capped. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (!s)
		s = "";
	for (; *s && o + 4 < len; s++)
		buf[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"') ? '?' : *s;
	if (*s && o + 4 <= len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- label values, with Go's parsing rules (booleans: config_parse_bool) ---- */

/* strconv.Atoi: optional sign, decimal digits only. */
static int parse_go_int(const char *s, long lo, long hi, long *out)
{
	const char *p = s;
	long v = 0;
	bool neg = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (LONG_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	if (neg)
		v = -v;
	if (v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

/* A label value; "" counts as unset, as in Traefik's GetStringValue. */
static const char *label(const cJSON *labels, const char *key)
{
	const char *v = jstr(labels, key);

	return v && *v ? v : NULL;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Labels spliced reads, and labels of Traefik 1.7 that it knows but does not implement. */
static const char *const supported_labels[] = {
	"traefik.enable", "traefik.port", "traefik.protocol", "traefik.weight", "traefik.backend",
	"traefik.domain", "traefik.tags", "traefik.docker.network",
	"traefik.frontend.rule", "traefik.frontend.priority", "traefik.frontend.passHostHeader",
	"traefik.frontend.entryPoints", "traefik.backend.loadbalancer.method",
};
/* First components after "traefik." that are not segment names. */
static const char *const root_words[] = {
	"enable", "port", "protocol", "weight", "backend", "domain", "tags", "docker", "frontend",
	"portIndex", "portName",
};

struct svc {
	const char *id;
	const char *name;
	const cJSON *labels;
	bool global;

	int port;
	char rule[DYNCONF_MAX_RULE + 1];
	long priority;
	bool pass_host;
	char epbuf[DYNCONF_MAX_RULE + 1];
	const char *eps[DYNCONF_MAX_ENTRYPOINTS];
	size_t neps;
	char backend[DYNCONF_MAX_NAME + 1];	/* "backend-..." */
	long weight;
	const char *method;
	const char *network;			/* label or flag, NULL for automatic */
	bool network_from_label;
};

/*
 * Vet the service's label keys: a segment or an unsupported frontend feature (auth,
 * whitelist, redirect, headers...) refuses the service, since serving it without that
 * feature could expose what the operator meant to protect. Other unknown traefik.* keys
 * are reported and ignored.
 */
static int check_label_keys(struct docker_build *b, const struct svc *s, const char *pname)
{
	const cJSON *l;
	int n = 0;

	cJSON_ArrayForEach(l, s->labels) {
		const char *k = l->string, *rest, *dot;
		char kp[160];
		bool known = false;
		size_t wlen;

		if (++n > DOCKER_MAX_LABELS) {
			addmsg(b, LOG_LVL_ERROR, "service %s: more than %d labels: service skipped",
			       pname, DOCKER_MAX_LABELS);
			return -E2BIG;
		}
		if (!k)
			continue;
		if (!cJSON_IsString(l)) {
			addmsg(b, LOG_LVL_ERROR, "service %s: label %s is not a string: service skipped",
			       pname, printable(k, kp, sizeof(kp)));
			return -EINVAL;
		}
		if (strncmp(k, "traefik.", 8) != 0)
			continue;
		for (size_t i = 0; i < sizeof(supported_labels) / sizeof(*supported_labels); i++)
			known |= strcmp(k, supported_labels[i]) == 0;
		if (known)
			continue;
		rest = k + 8;
		dot = strchr(rest, '.');
		wlen = dot ? (size_t)(dot - rest) : strlen(rest);
		known = false;
		for (size_t i = 0; i < sizeof(root_words) / sizeof(*root_words); i++)
			known |= strlen(root_words[i]) == wlen && strncmp(rest, root_words[i], wlen) == 0;
		if (!known && dot) {
			addmsg(b, LOG_LVL_ERROR,
			       "service %s: label %s: segment labels (traefik.<segment>.*) are not supported by spliced; service skipped (use one service per frontend)",
			       pname, printable(k, kp, sizeof(kp)));
			return -EOPNOTSUPP;
		}
		if (strncmp(k, "traefik.frontend.", 17) == 0) {
			addmsg(b, LOG_LVL_ERROR,
			       "service %s: label %s is not supported by spliced; service skipped so that it is not served without it",
			       pname, printable(k, kp, sizeof(kp)));
			return -EOPNOTSUPP;
		}
		if (strcmp(k, "traefik.backend.loadbalancer.swarm") == 0) {
			bool v = false;

			if (!*l->valuestring || (config_parse_bool(l->valuestring, &v) == 0 && !v))
				continue;
			addmsg(b, LOG_LVL_ERROR,
			       "service %s: label traefik.backend.loadbalancer.swarm (VIP balancing) is not supported by spliced; service skipped (remove the label to balance over tasks)",
			       pname);
			return -EOPNOTSUPP;
		}
		addmsg(b, LOG_LVL_WARN, "service %s: label %s is not supported by spliced and is ignored",
		       pname, printable(k, kp, sizeof(kp)));
	}
	return 0;
}

/*
 * Parse the labels of an enabled service. 0; 1 when the service is simply not exposed
 * (no port or no rule, message added); negative when a label is bad (message added).
 */
static int parse_labels(struct docker_build *b, struct svc *s, const struct docker_labels_opts *o,
			const char *pname)
{
	const char *v, *domain;
	char vp[160], sub[DYNCONF_MAX_NAME + 1], norm[DYNCONF_MAX_NAME + 1];
	long n;
	int rc;

	rc = check_label_keys(b, s, pname);
	if (rc)
		return rc;

#define BAD(key, why) do { \
	addmsg(b, LOG_LVL_ERROR, "service %s: label %s=\"%s\": %s; service skipped", pname, key, \
	       printable(v, vp, sizeof(vp)), why); \
	return -EINVAL; \
} while (0)

	v = label(s->labels, "traefik.protocol");
	if (v && strcmp(v, "http") != 0)
		BAD("traefik.protocol", "only http is supported");

	v = label(s->labels, "traefik.port");
	if (!v) {
		addmsg(b, LOG_LVL_WARN,
		       "service %s: no traefik.port label (swarm tasks carry no port): not exposed; add the label to its deploy labels",
		       pname);
		return 1;
	}
	if (parse_go_int(v, 1, 65535, &n))
		BAD("traefik.port", "must be an integer 1-65535");
	s->port = (int)n;

	s->weight = 1;
	v = label(s->labels, "traefik.weight");
	if (v && parse_go_int(v, 0, DYNCONF_MAX_WEIGHT, &s->weight))
		BAD("traefik.weight", "must be an integer 0-" "1000");

	s->priority = 0;
	v = label(s->labels, "traefik.frontend.priority");
	if (v && parse_go_int(v, 0, INT_MAX, &s->priority))
		BAD("traefik.frontend.priority", "must be a non-negative integer");

	s->pass_host = true;
	v = label(s->labels, "traefik.frontend.passHostHeader");
	if (v && config_parse_bool(v, &s->pass_host))
		BAD("traefik.frontend.passHostHeader", "must be true or false");

	s->method = "wrr";
	v = label(s->labels, "traefik.backend.loadbalancer.method");
	if (v) {
		if (strcasecmp(v, "wrr") == 0)
			s->method = "wrr";
		else if (strcasecmp(v, "drr") == 0)
			s->method = "drr";
		else
			BAD("traefik.backend.loadbalancer.method", "must be wrr or drr");
	}

	v = label(s->labels, "traefik.backend");
	if (v) {
		if (docker_normalize(v, norm, sizeof(norm) - 8) || !norm[0])
			BAD("traefik.backend", "must hold letters or digits (at most 200)");
	} else if (docker_normalize(s->name, norm, sizeof(norm) - 8) || !norm[0]) {
		v = s->name;
		BAD("service name", "too long or without letters or digits");
	}
	if ((size_t)snprintf(s->backend, sizeof(s->backend), "backend-%s", norm) >= sizeof(s->backend))
		BAD("traefik.backend", "too long");

	s->neps = 0;
	v = label(s->labels, "traefik.frontend.entryPoints");
	if (v) {
		char *save = NULL, *tok;

		if (strlen(v) >= sizeof(s->epbuf) || has_ctl(v))
			BAD("traefik.frontend.entryPoints", "too long or has control characters");
		strcpy(s->epbuf, v);
		for (tok = strtok_r(s->epbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *end;

			while (*tok == ' ' || *tok == '\t')
				tok++;
			end = tok + strlen(tok);
			while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (!*tok)
				continue;
			if (s->neps >= DYNCONF_MAX_ENTRYPOINTS)
				BAD("traefik.frontend.entryPoints", "more than 16 entrypoints");
			s->eps[s->neps++] = tok;
		}
	}

	v = label(s->labels, "traefik.frontend.rule");
	if (v) {
		if (strlen(v) > DYNCONF_MAX_RULE || has_ctl(v))
			BAD("traefik.frontend.rule", "longer than 1024 characters or has control characters");
		strcpy(s->rule, v);
	} else {
		const char *p = s->name;
		size_t i = 0;

		domain = label(s->labels, "traefik.domain");
		if (!domain)
			domain = o->domain && *o->domain ? o->domain : NULL;
		if (!domain) {
			addmsg(b, LOG_LVL_WARN,
			       "service %s: no traefik.frontend.rule and no domain (--docker.domain or traefik.domain): not exposed",
			       pname);
			return 1;
		}
		if (*p == '/')
			p++;
		for (; *p && i + 1 < sizeof(sub); p++)
			sub[i++] = (*p == '/' || *p == '_') ? '-' : *p;
		sub[i] = '\0';
		if ((size_t)snprintf(s->rule, sizeof(s->rule), "Host:%s.%s", sub, domain) >= sizeof(s->rule) ||
		    has_ctl(s->rule)) {
			v = domain;
			BAD("traefik.domain", "default rule too long or has control characters");
		}
	}

	/* Checked here too (model.c compiles it again) so the message names the service. */
	{
		const char *rules[1] = { s->rule };
		char rerr[256];
		struct rule *r = rule_compile(rules, 1, rerr, sizeof(rerr));

		if (!r) {
			v = s->rule;
			BAD(label(s->labels, "traefik.frontend.rule") ? "traefik.frontend.rule" : "traefik.domain",
			    rerr);
		}
		rule_free(r);
	}

	s->network = NULL;
	s->network_from_label = false;
	v = label(s->labels, "traefik.docker.network");
	if (v) {
		s->network = v;
		s->network_from_label = true;
	} else if (o->network && *o->network) {
		s->network = o->network;
	}
#undef BAD
	return 0;
}

/* ---- networks and tasks ---- */

struct net {
	const char *id;
	const char *name;
	bool ingress;
};

struct rtask {
	const char *sid;
	size_t pos;
	const cJSON *task;
};

static int cmp_rtask(const void *a, const void *b)
{
	const struct rtask *x = a, *y = b;
	int c = strcmp(x->sid, y->sid);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static const struct net *find_net(const struct net *nets, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(nets[i].id, id) == 0)
			return &nets[i];
	return NULL;
}

/* One address of a task on one network. */
struct addr {
	const char *net;
	bool ingress;
	char ip[INET6_ADDRSTRLEN];
	bool v6;
};

#define MAX_ATTACH 32

/*
 * The task's addresses on known swarm networks, keyed by network name (last address wins,
 * as in Traefik's parseTasks). Returns the count.
 */
static size_t task_addrs(const cJSON *task, const struct net *nets, size_t nnets, struct addr *out)
{
	const cJSON *atts = jget(task, "NetworksAttachments"), *att;
	size_t n = 0;

	if (!cJSON_IsArray(atts))
		return 0;
	cJSON_ArrayForEach(att, atts) {
		const cJSON *netj = jget(att, "Network"), *addrs = jget(att, "Addresses"), *a;
		const char *id = jstr(netj, "ID");
		const struct net *nw;
		struct addr cur = { 0 };
		bool have = false;

		if (!id || !cJSON_IsArray(addrs))
			continue;
		nw = find_net(nets, nnets, id);
		if (!nw)
			continue;
		cJSON_ArrayForEach(a, addrs) {
			char tmp[INET6_ADDRSTRLEN + 8], *slash;
			unsigned char bin[16];

			if (!cJSON_IsString(a) || strlen(a->valuestring) >= sizeof(tmp))
				continue;
			strcpy(tmp, a->valuestring);
			slash = strchr(tmp, '/');
			if (slash)
				*slash = '\0';
			if (inet_pton(AF_INET, tmp, bin) == 1) {
				cur.v6 = false;
			} else if (inet_pton(AF_INET6, tmp, bin) == 1) {
				cur.v6 = true;
			} else {
				continue;
			}
			strcpy(cur.ip, tmp);
			have = true;
		}
		if (!have)
			continue;
		cur.net = nw->name;
		cur.ingress = nw->ingress;
		/* Same network twice: the later attachment wins. */
		for (size_t i = 0; i < n; i++) {
			if (strcmp(out[i].net, cur.net) == 0) {
				out[i] = cur;
				have = false;
			}
		}
		if (have && n < MAX_ATTACH)
			out[n++] = cur;
	}
	return n;
}

static bool self_has(const struct docker_labels_opts *o, const char *name)
{
	for (size_t i = 0; i < o->nself_networks; i++)
		if (o->self_networks[i] && strcmp(o->self_networks[i], name) == 0)
			return true;
	return false;
}

static void list_nets(const struct addr *a, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", a[i].net);
	if (!n)
		snprintf(buf, len, "none");
}

/* Pick the address to use for a task, or NULL (message added). */
static const struct addr *choose_addr(struct docker_build *b, const struct svc *s,
				      const struct docker_labels_opts *o, const struct addr *a,
				      size_t n, const char *pname)
{
	const struct addr *best = NULL;
	char nets[256];

	if (s->network) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(a[i].net, s->network) == 0)
				return &a[i];
		list_nets(a, n, nets, sizeof(nets));
		addmsg(b, LOG_LVL_WARN,
		       "service %s: its tasks are not attached to network \"%s\" (named by %s); their networks: %s; choosing automatically (is the stack prefix missing from the name?)",
		       pname, s->network, s->network_from_label ? "traefik.docker.network" : "--docker.network",
		       nets);
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i].ingress || (o->in_container && !self_has(o, a[i].net)))
			continue;
		if (!best || strcmp(a[i].net, best->net) < 0)
			best = &a[i];
	}
	list_nets(a, n, nets, sizeof(nets));
	if (!best && o->in_container) {
		addmsg(b, LOG_LVL_WARN,
		       "service %s shares no network with spliced's container (its networks: %s): its tasks cannot be reached; attach spliced to one of them or set traefik.docker.network",
		       pname, nets);
	} else if (!best) {
		addmsg(b, LOG_LVL_WARN,
		       "service %s: its tasks are on no network but ingress (%s): not reachable; attach the service to an overlay network",
		       pname, nets);
	} else if (!s->network && !o->in_container && n > 1) {
		addmsg(b, LOG_LVL_INFO,
		       "service %s: no network named (--docker.network or traefik.docker.network): using \"%s\", the first of its networks (%s) by name",
		       pname, best->net, nets);
	}
	return best;
}

/*
 * The task container's address on docker_gwbridge (this node only), from the bridge's
 * Containers map keyed by container ID. NULL with a message when it has none.
 */
static const struct addr *gwbridge_addr(struct docker_build *b, const cJSON *gwbridge,
					const cJSON *task, struct addr *out, const char *pname)
{
	const char *cid = jstr(jget(jget(task, "Status"), "ContainerStatus"), "ContainerID");
	const cJSON *ctrs = jget(gwbridge, "Containers");
	const char *cidr = jstr(jget(ctrs, cid ? cid : ""), "IPv4Address");
	char tmp[INET_ADDRSTRLEN + 8], *slash;
	unsigned char bin[4];

	if (!gwbridge) {
		addmsg(b, LOG_LVL_WARN, "service %s: network %s requested but the engine did not list it",
		       pname, DOCKER_GWBRIDGE);
		return NULL;
	}
	if (!cid || !cidr || strlen(cidr) >= sizeof(tmp)) {
		addmsg(b, LOG_LVL_WARN,
		       "service %s: a task has no %s address on this node (it runs on another node); it is left out",
		       pname, DOCKER_GWBRIDGE);
		return NULL;
	}
	strcpy(tmp, cidr);
	slash = strchr(tmp, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, tmp, bin) != 1)
		return NULL;
	memset(out, 0, sizeof(*out));
	strcpy(out->ip, tmp);
	out->net = DOCKER_GWBRIDGE;
	return out;
}

static bool task_waiting(const char *state)
{
	static const char *const pre[] = {
		"new", "pending", "allocated", "assigned", "accepted", "preparing", "ready", "starting",
	};

	for (size_t i = 0; i < sizeof(pre) / sizeof(*pre); i++)
		if (strcmp(state, pre[i]) == 0)
			return true;
	return false;
}

/* ---- the build ---- */

struct ctx {
	struct docker_build *b;
	const struct docker_labels_opts *o;
	struct net *nets;
	size_t nnets;
	struct rtask *rt;
	size_t nrt;
	size_t idx;		/* tasks kept so far by the filter: Traefik's frontend index */
};

/* Add one service: its servers to its backend, its frontend if it has kept tasks. */
static int add_service(struct ctx *c, struct svc *s, const char *pname)
{
	struct docker_build *b = c->b;
	struct rtask key = { .sid = s->id, .pos = 0 };
	struct rtask *first;
	size_t lo = 0, hi = c->nrt, first_idx = 0, kept = 0;
	struct dc_backend *be;
	int rc = 0;

	/* First running task of the service in the sorted index. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_rtask(&c->rt[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = &c->rt[lo];

	be = dynconf_find_backend(b->dc, s->backend);
	for (struct rtask *t = first; t < c->rt + c->nrt && strcmp(t->sid, s->id) == 0; t++) {
		struct addr addrs[MAX_ATTACH], gw;
		size_t na = task_addrs(t->task, c->nets, c->nnets, addrs);
		const struct addr *a;
		const cJSON *slot = jget(t->task, "Slot");
		const char *tid = jstr(t->task, "ID");
		char cname[DYNCONF_MAX_NAME * 2], sname[DYNCONF_MAX_NAME * 2], url[128], md5[33];
		bool dup = false;

		if (!na)
			continue;	/* Traefik drops a task without an address */
		if (kept++ == 0)
			first_idx = c->idx;
		c->idx++;
		if (s->network && strcmp(s->network, DOCKER_GWBRIDGE) == 0)
			a = gwbridge_addr(b, c->o->gwbridge, t->task, &gw, pname);
		else
			a = choose_addr(b, s, c->o, addrs, na, pname);
		if (!a)
			continue;
		if (s->global) {
			if (!tid)
				continue;
			snprintf(cname, sizeof(cname), "%s.%s", s->name, tid);
		} else {
			if (!cJSON_IsNumber(slot) || slot->valuedouble < 0 || slot->valuedouble > 1e9)
				continue;
			snprintf(cname, sizeof(cname), "%s.%d", s->name, slot->valueint);
		}
		snprintf(url, sizeof(url), a->v6 ? "http://[%s]:%d" : "http://%s:%d", a->ip, s->port);
		docker_md5_hex(url, strlen(url), md5);
		if ((size_t)snprintf(sname, sizeof(sname), "server-%s-%s", cname, md5) >= sizeof(sname) ||
		    docker_normalize(sname, cname, DYNCONF_MAX_NAME + 1))
			continue;
		if (!be) {
			be = dynconf_add_backend(b->dc, s->backend, s->method);
			if (!be)
				return -errno;
		}
		for (size_t i = 0; i < be->nservers; i++)
			dup |= strcmp(be->servers[i].name, cname) == 0 || strcmp(be->servers[i].url, url) == 0;
		if (dup)
			continue;
		if (!dynconf_add_server(be, cname, url, (int)s->weight)) {
			if (errno != E2BIG)
				return -errno;
			addmsg(b, LOG_LVL_WARN, "backend %s: more than %d servers; the rest are left out",
			       s->backend, DYNCONF_MAX_SERVERS);
			break;
		}
		b->nservers++;
	}
	if (!kept)
		return 0;	/* no running task with an address: no frontend, as in Traefik */
	if (!be && !dynconf_add_backend(b->dc, s->backend, s->method))
		return -errno;

	/* Frontend "frontend-" + N(rule + "-" + idx); one per service. */
	{
		char raw[DYNCONF_MAX_RULE + 32], fname[DYNCONF_MAX_NAME + 1], rname[DYNCONF_MAX_NAME + 8];
		char norm[DYNCONF_MAX_NAME + 1];
		struct dc_frontend *f;

		snprintf(raw, sizeof(raw), "%s-%zu", s->rule, first_idx);
		if (docker_normalize(raw, norm, sizeof(norm) - 16) || !norm[0]) {
			addmsg(b, LOG_LVL_ERROR,
			       "service %s: frontend name from rule \"%s\" is too long or empty; service skipped",
			       pname, s->rule);
			b->nskipped++;
			return 0;
		}
		if ((size_t)snprintf(fname, sizeof(fname), "frontend-%s", norm) >= sizeof(fname))
			return 0;
		snprintf(rname, sizeof(rname), "route-%s", fname);
		if (dynconf_find_frontend(b->dc, fname))
			return 0;
		f = dynconf_add_frontend(b->dc, fname, s->backend);
		if (!f)
			return -errno;
		f->priority = (int)s->priority;
		f->pass_host_header = s->pass_host;
		if (!dynconf_add_route(f, rname, s->rule))
			return -errno;
		for (size_t i = 0; i < s->neps; i++) {
			rc = dynconf_add_entrypoint(f, s->eps[i]);
			if (rc)
				return rc;
		}
		b->nexposed++;
	}
	return rc;
}

static int build_networks(struct ctx *c, const cJSON *networks)
{
	const cJSON *n;
	int count = cJSON_GetArraySize(networks);

	if (count > DOCKER_MAX_NETWORKS)
		return -E2BIG;
	c->nets = calloc((size_t)count + 1, sizeof(*c->nets));
	if (!c->nets)
		return -ENOMEM;
	cJSON_ArrayForEach(n, networks) {
		const char *id = jstr(n, "Id"), *name = jstr(n, "Name");
		const cJSON *ing = jget(n, "Ingress");

		if (!id || !name || !*id || !*name || strlen(name) > DYNCONF_MAX_NAME)
			continue;
		c->nets[c->nnets].id = id;
		c->nets[c->nnets].name = name;
		c->nets[c->nnets].ingress = cJSON_IsTrue(ing) || strcmp(name, "ingress") == 0;
		c->nnets++;
	}
	return 0;
}

static int build_tasks(struct ctx *c, const cJSON *tasks)
{
	const cJSON *t;
	int count = cJSON_GetArraySize(tasks);
	size_t pos = 0;

	if (count > DOCKER_MAX_TASKS)
		return -E2BIG;
	c->rt = calloc((size_t)count + 1, sizeof(*c->rt));
	if (!c->rt)
		return -ENOMEM;
	cJSON_ArrayForEach(t, tasks) {
		const char *sid = jstr(t, "ServiceID"), *desired = jstr(t, "DesiredState");
		const char *state = jstr(jget(t, "Status"), "State");

		pos++;
		if (!sid || !desired || !state || strcmp(desired, "running") != 0)
			continue;
		if (task_waiting(state))
			c->b->nstarting++;
		if (strcmp(state, "running") != 0)
			continue;
		c->rt[c->nrt].sid = sid;
		c->rt[c->nrt].pos = pos;
		c->rt[c->nrt].task = t;
		c->nrt++;
	}
	qsort(c->rt, c->nrt, sizeof(*c->rt), cmp_rtask);
	return 0;
}

int docker_labels_build(const cJSON *services, const cJSON *tasks, const cJSON *networks,
			const struct docker_labels_opts *o, struct docker_build *out, char *err,
			size_t errlen)
{
	struct ctx c = { .b = out, .o = o };
	const cJSON *sj;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!cJSON_IsArray(services) || !cJSON_IsArray(tasks) || !cJSON_IsArray(networks)) {
		snprintf(err, errlen, "%s listing is not a JSON array",
			 !cJSON_IsArray(services) ? "services" : !cJSON_IsArray(tasks) ? "tasks" : "networks");
		return -EPROTO;
	}
	if (cJSON_GetArraySize(services) > DOCKER_MAX_SERVICES) {
		snprintf(err, errlen, "more than %d services", DOCKER_MAX_SERVICES);
		return -E2BIG;
	}
	out->dc = dynconf_new("docker");
	if (!out->dc) {
		rc = -ENOMEM;
		goto out;
	}
	rc = build_networks(&c, networks);
	if (!rc)
		rc = build_tasks(&c, tasks);
	if (rc) {
		snprintf(err, errlen, rc == -E2BIG ? "more than %d tasks or networks listed" : "out of memory",
			 DOCKER_MAX_TASKS);
		goto out;
	}

	cJSON_ArrayForEach(sj, services) {
		const cJSON *spec = jget(sj, "Spec"), *mode = jget(spec, "Mode");
		const char *ustate = jstr(jget(sj, "UpdateStatus"), "State");
		const char *en;
		char pname[DYNCONF_MAX_NAME + 1];
		struct svc *s;
		bool enabled;
		int prc;

		out->nservices++;
		if (ustate && (strcmp(ustate, "updating") == 0 || strcmp(ustate, "rollback_started") == 0))
			out->nupdating++;
		s = calloc(1, sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		s->id = jstr(sj, "ID");
		s->name = jstr(spec, "Name");
		s->labels = jget(spec, "Labels");
		s->global = jget(mode, "Global") != NULL;
		if (!s->id || !s->name || !*s->name || strlen(s->name) > DYNCONF_MAX_NAME ||
		    (s->labels && !cJSON_IsObject(s->labels) && !cJSON_IsNull(s->labels))) {
			const char *who = s->name && *s->name ? s->name : s->id ? s->id : "(no ID)";

			addmsg(out, LOG_LVL_ERROR, "service %s: malformed in the services listing; skipped",
			       printable(who, pname, sizeof(pname)));
			out->nskipped++;
			free(s);
			continue;
		}
		printable(s->name, pname, sizeof(pname));
		if (cJSON_IsNull(s->labels))
			s->labels = NULL;
		enabled = o->exposed_by_default;
		en = label(s->labels, "traefik.enable");
		if (en && config_parse_bool(en, &enabled)) {
			char vp[64];

			addmsg(out, LOG_LVL_ERROR,
			       "service %s: label traefik.enable=\"%s\": must be true or false; service skipped",
			       pname, printable(en, vp, sizeof(vp)));
			out->nskipped++;
			free(s);
			continue;
		}
		if (!enabled) {
			free(s);
			continue;
		}
		prc = parse_labels(out, s, o, pname);
		if (prc) {
			if (prc < 0)
				out->nskipped++;
			free(s);
			continue;
		}
		rc = add_service(&c, s, pname);
		free(s);
		if (rc)
			goto out;
	}
	dynconf_sort(out->dc);
out:
	free(c.nets);
	free(c.rt);
	if (rc) {
		if (err && errlen && !err[0])
			snprintf(err, errlen, "building the configuration: %s", strerror(-rc));
		docker_build_fini(out);
	}
	return rc;
}
