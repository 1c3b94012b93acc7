/* SPDX-License-Identifier: MIT */
/*
 * provider_file: frontends and backends from a JSON file (Traefik 1.7's dynamic
 * configuration shape), loaded at start-up, on change (inotify) and on SIGHUP.
 */
#ifndef SPLICED_PROVIDER_FILE_H
#define SPLICED_PROVIDER_FILE_H

#include <stddef.h>

struct event_base;
struct config;

/*
 * Load the file once (a failure here is fatal: err says which line or field) and, with
 * --file.watch, follow changes on base. 0 or negative errno.
 */
int provider_file_start(struct event_base *base, const struct config *cfg, char *err,
			size_t errlen);
/* Re-read the file now (SIGHUP). A bad file is logged and the last good config stays. */
void provider_file_reload(void);
void provider_file_stop(void);

/* Parse and validate text as the file provider would; the dynconf is returned (tests). */
struct dynconf;
struct dynconf *provider_file_parse(const char *text, size_t len, const char *name, char *err,
				    size_t errlen);

#endif
