/* SPDX-License-Identifier: MIT */
/*
 * proxy_head: the heads spliced writes. The forwarded request head and the relayed
 * response head are built as iovec lists over the received bytes (unchanged field lines
 * are never copied) plus a small scratch buffer for what we add; error responses are
 * formatted like Traefik's (Go net/http) so clients and monitors see the same bytes.
 */
#ifndef SPLICED_PROXY_HEAD_H
#define SPLICED_PROXY_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "http1.h"

#define HEAD_IOV_MAX 160
#define HEAD_SCRATCH 2048

struct head_out {
	struct iovec iov[HEAD_IOV_MAX];
	int niov;
	size_t total;
	char scratch[HEAD_SCRATCH];
	size_t used;
};

struct request_fwd {
	const char *client_ip;		/* X-Forwarded-For / X-Real-Ip */
	const char *port;		/* X-Forwarded-Port when absent */
	const char *server_name;	/* X-Forwarded-Server */
	const char *host_override;	/* Host when passHostHeader is false, else NULL */
	const char *path;		/* rewritten path, or NULL to keep the target */
	size_t path_len;
	const char *fwd_prefix;		/* X-Forwarded-Prefix to add, or NULL */
	size_t fwd_prefix_len;
	const char *replaced;		/* X-Replaced-Path to add, or NULL */
	size_t replaced_len;
	bool http10;			/* send as HTTP/1.0 with Connection: close */
	bool close;			/* add Connection: close (single-use backend connection) */
	bool upgrade;			/* keep Upgrade, send Connection: Upgrade */
};

/*
 * Build the head to send to the backend. The iovecs point into the request's buffer and
 * into out->scratch. 0, or -E2BIG when it does not fit (then answer 431).
 */
int head_build_request(struct head_out *out, const struct http1_request *req,
		       const struct request_fwd *f);

/*
 * Build the head to send to the client: the backend's status line and fields less the
 * hop-by-hop ones, plus Connection: close when close, Connection: Upgrade for a 101.
 */
int head_build_response(struct head_out *out, const char *buf, const struct http1_response *resp,
			bool close);

/*
 * Format a complete error response (status line, headers, body) into buf like Go's
 * net/http does for Traefik: 404 "404 page not found\n", 502 "Bad Gateway", ...
 * close adds Connection: close. Returns its length (<= cap).
 */
size_t head_error_response(char *buf, size_t cap, int status, bool close);

/*
 * A redirect like Go's http.Redirect: Location, text/html body "<a href=...>...</a>.".
 * Returns its length, or 0 when it does not fit in cap.
 */
size_t head_redirect_response(char *buf, size_t cap, int status, const char *location, bool close);

/* Reason phrase for a status code ("Not Found"), "" if unknown. */
const char *head_status_text(int status);

#endif
