// SPDX-License-Identifier: MIT
/*
 * provider_file: the file provider.
 *
 * The file is JSON in the shape of Traefik 1.7's dynamic configuration. A change is
 * noticed with inotify on the file's directory (editors and `mv` replace the file rather
 * than write it in place) and applied after a short quiet period, so a file written in
 * several steps is read once, whole. A file that does not parse or validate is rejected
 * with the line and column (syntax) or field path (meaning) of the first fault; the last
 * good configuration stays in service.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "config.h"
#include "dynconf.h"
#include "log.h"
#include "model.h"
#include "provider_file.h"
#include "stats.h"

#define FILE_MAX (16 * 1024 * 1024)
#define DEBOUNCE_MS 100

static char file_path[PATH_MAX];
static char file_dir[PATH_MAX];
static char file_base[NAME_MAX + 1];
static int inotify_fd = -1;
static struct event *inotify_ev, *debounce_ev;

/* Line and column (1-based) of pos in text. */
static void line_col(const char *text, const char *pos, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < pos && *p; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

struct dynconf *provider_file_parse(const char *text, size_t len, const char *name, char *err,
				    size_t errlen)
{
	const char *end = NULL;
	char e[512];
	struct dynconf *dc;
	cJSON *root;

	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		int line, col;

		line_col(text, end ? end : text, &line, &col);
		snprintf(err, errlen, "%s: line %d, column %d: invalid JSON", name, line, col);
		errno = EINVAL;
		return NULL;
	}
	/* only whitespace may follow the document */
	while (end && (size_t)(end - text) < len && strchr(" \t\r\n", *end))
		end++;
	if (end && (size_t)(end - text) < len) {
		int line, col;

		line_col(text, end, &line, &col);
		snprintf(err, errlen, "%s: line %d, column %d: text after the JSON document", name,
			 line, col);
		cJSON_Delete(root);
		errno = EINVAL;
		return NULL;
	}
	dc = dynconf_from_json(root, "file", e, sizeof(e));
	cJSON_Delete(root);
	if (!dc) {
		snprintf(err, errlen, "%s: %s", name, e);
		errno = EINVAL;
	}
	return dc;
}

/* Read, parse and publish. 0 or -errno with err set. */
static int load(char *err, size_t errlen)
{
	struct dynconf *dc;
	struct stat st;
	char *text = NULL, e[512];
	ssize_t n;
	int fd, ret = 0;

	fd = open(file_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", file_path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", file_path,
			 FILE_MAX);
		ret = -EINVAL;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", file_path);
		goto out;
	}
	n = read(fd, text, (size_t)st.st_size);
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", file_path, strerror(errno));
		goto out;
	}
	text[n] = '\0';
	dc = provider_file_parse(text, (size_t)n, file_path, err, errlen);
	if (!dc) {
		ret = -EINVAL;
		goto out;
	}
	if (model_publish(dc, e, sizeof(e))) {
		snprintf(err, errlen, "%s: %s", file_path, e);
		ret = -EINVAL;
	}
out:
	free(text);
	close(fd);
	return ret;
}

void provider_file_reload(void)
{
	char err[640];

	if (!file_path[0])
		return;
	if (load(err, sizeof(err))) {
		stats_config_reload_failed();
		log_error("file provider: configuration rejected, the last good one stays in "
			  "service: %s", err);
	}
	else
		log_info("file provider: %s reloaded", file_path);
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	provider_file_reload();
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool ours = false;
	ssize_t n;

	(void)what;
	(void)arg;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && strcmp(ev->name, file_base) == 0)
				ours = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (ours) {
		struct timeval tv = { 0, DEBOUNCE_MS * 1000 };

		event_add(debounce_ev, &tv);	/* re-arming restarts the quiet period */
	}
}

int provider_file_start(struct event_base *base, const struct config *cfg, char *err,
			size_t errlen)
{
	char tmp[PATH_MAX];
	int ret;

	if (strlen(cfg->file_filename) >= sizeof(file_path)) {
		snprintf(err, errlen, "--file.filename: path too long");
		return -ENAMETOOLONG;
	}
	strcpy(file_path, cfg->file_filename);
	strcpy(tmp, file_path);
	snprintf(file_dir, sizeof(file_dir), "%s", dirname(tmp));
	strcpy(tmp, file_path);
	snprintf(file_base, sizeof(file_base), "%s", basename(tmp));
	ret = load(err, errlen);
	if (ret)
		return ret;
	log_info("file provider: loaded %s", file_path);
	if (!cfg->file_watch)
		return 0;
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd < 0 ||
	    inotify_add_watch(inotify_fd, file_dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
			      IN_DELETE | IN_MODIFY) < 0) {
		log_warn("file provider: cannot watch %s (%s); send SIGHUP to reload", file_dir,
			 strerror(errno));
		return 0;
	}
	inotify_ev = event_new(base, inotify_fd, EV_READ | EV_PERSIST, on_inotify, NULL);
	debounce_ev = event_new(base, -1, 0, on_debounce, NULL);
	if (!inotify_ev || !debounce_ev || event_add(inotify_ev, NULL)) {
		log_warn("file provider: cannot watch %s; send SIGHUP to reload", file_dir);
		return 0;
	}
	return 0;
}

void provider_file_stop(void)
{
	if (inotify_ev)
		event_free(inotify_ev);
	if (debounce_ev)
		event_free(debounce_ev);
	inotify_ev = debounce_ev = NULL;
	if (inotify_fd >= 0)
		close(inotify_fd);
	inotify_fd = -1;
}
