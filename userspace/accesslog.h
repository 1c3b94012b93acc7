/* SPDX-License-Identifier: MIT */
/*
 * accesslog: Traefik 1.7's access log (--accessLog, --accessLog.filePath,
 * --accessLog.format=common|json), one line per request; a tunnel (WebSocket, bulk body
 * carried by the kernel) gets one line when it ends, with its byte counts.
 *
 * Each worker formats into its own buffer (a per-worker mutex that only the flusher ever
 * contends for); buffers go to the file with one write(2) when they fill up or are 100 ms
 * old. Module state: the open file and the per-worker buffers (accesslog_open/close).
 */
#ifndef SPLICED_ACCESSLOG_H
#define SPLICED_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct request_record;

/* Longest line either format produces (longer fields are cut). */
#define ACCESSLOG_LINE_MAX 16384

/*
 * Open the log named by cfg (stdout when no filePath; parent directories are created as
 * Traefik does) with nslots writer buffers. Does nothing without --accessLog. 0, or a
 * negative errno with err naming the path and the reason.
 */
int accesslog_open(const struct config *cfg, int nslots, char *err, size_t errlen);
bool accesslog_enabled(void);
/* Format r and queue the line in slot's buffer (the calling worker's). */
void accesslog_write(int slot, const struct request_record *r);
/* Write out buffers older than 100 ms (all non-empty ones with force). Main thread. */
void accesslog_flush(bool force);
/*
 * Open --accessLog.filePath again (after log rotation moved it; Traefik does this on
 * SIGUSR1). Buffered lines go to the old file first. 0 or a negative errno (logged).
 */
int accesslog_reopen(void);
/* Flush and close. */
void accesslog_close(void);

/*
 * The two line formats, for a record and its request number (Traefik's RequestCount).
 * Each writes at most cap bytes (cap >= ACCESSLOG_LINE_MAX never cuts): one line, newline
 * included, then a NUL; returns the length without the NUL. now_ns: CLOCK_REALTIME of the
 * log call (the json "time").
 */
size_t accesslog_format_common(char *buf, size_t cap, const struct request_record *r,
			       uint64_t count);
size_t accesslog_format_json(char *buf, size_t cap, const struct request_record *r,
			     uint64_t count, int64_t now_ns);

#endif
