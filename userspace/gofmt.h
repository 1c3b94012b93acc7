/* SPDX-License-Identifier: MIT */
/*
 * gofmt: numbers, durations and times printed the way Go prints them, so /health, the
 * access log and the API match what Traefik 1.7 (a Go program) writes byte for byte:
 * time.Duration.String(), time.Time.String(), RFC 3339 with nanoseconds, encoding/json
 * floats, and net/http's status texts. Pure functions; no allocation.
 */
#ifndef SPLICED_GOFMT_H
#define SPLICED_GOFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each writes a NUL-terminated string into buf (cap >= 64 is always enough) and returns
 * its length. */

/* time.Duration(ns).String(): "0s", "1.5µs", "12.3ms", "1m2.5s", "2h0m0s". */
size_t gofmt_duration(char *buf, size_t cap, int64_t ns);

/* A float64 as encoding/json writes it: shortest round-trip digits, plain notation unless
 * |v| < 1e-6 or >= 1e21 ("1e-7", "1.5e+21"). NaN and infinities print as 0. */
size_t gofmt_json_float(char *buf, size_t cap, double v);

/*
 * time.Time.String() of a time.Now() value: "2024-05-01 10:00:00.1234 +0000 UTC m=+62.5".
 * real_ns: CLOCK_REALTIME; mono_ns: nanoseconds since the process started (the m= part).
 * Local time zone (as the process sees it, TZ included).
 */
size_t gofmt_time_string(char *buf, size_t cap, int64_t real_ns, int64_t mono_ns);

/* time.RFC3339Nano ("2006-01-02T15:04:05.999999999Z07:00"), in UTC or the local zone. */
size_t gofmt_rfc3339nano(char *buf, size_t cap, int64_t real_ns, bool utc);

/* time.RFC3339 (whole seconds), as logrus's JSON formatter stamps "time". */
size_t gofmt_rfc3339(char *buf, size_t cap, int64_t real_ns, bool utc);

/* net/http.StatusText(code), "" when Go has none. */
const char *gofmt_status_text(int code);

#endif
