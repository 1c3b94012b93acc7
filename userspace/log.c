// SPDX-License-Identifier: MIT
/*
 * log: leveled, line-oriented logging to stderr.
 *
 * Every line is built in a stack buffer and written with one write(2), so lines from
 * several event-loop threads never interleave. The format is the one Traefik 1.7 users
 * already grep for: time="RFC3339" level=info msg="...". The level is read without a lock
 * (a relaxed atomic); it is set once at start-up from --loglevel.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static _Atomic int log_level_cur = LOG_LVL_ERROR;
static _Atomic int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warning", "error", "off" };

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct { const char *name; enum log_level lvl; } map[] = {
		{ "debug", LOG_LVL_DEBUG }, { "info", LOG_LVL_INFO },
		{ "warn", LOG_LVL_WARN },   { "warning", LOG_LVL_WARN },
		{ "error", LOG_LVL_ERROR }, { "fatal", LOG_LVL_ERROR },
		{ "panic", LOG_LVL_ERROR },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			*out = map[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level(enum log_level lvl)
{
	atomic_store_explicit(&log_level_cur, lvl, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return atomic_load_explicit(&log_level_cur, memory_order_relaxed);
}

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

/* Append src to dst as the inside of a double-quoted value, escaping " \ and controls. */
static size_t quote_into(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; *src && n + 4 < cap; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = c;
		} else if (c == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			n += snprintf(dst + n, cap - n, "\\x%02x", c);
		} else {
			dst[n++] = c;
		}
	}
	return n;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char text[2048], line[4608];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int saved_errno = errno;

	if (lvl < log_get_level() || lvl >= LOG_LVL_OFF)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "time=\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	n += snprintf(line + n, sizeof(line) - n, " level=%s msg=\"", level_names[lvl]);
	n += quote_into(line + n, sizeof(line) - n - 2, text);
	line[n++] = '"';
	line[n++] = '\n';
	if (write(atomic_load(&log_fd), line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
