// SPDX-License-Identifier: MIT
/*
 * gofmt: Go's own text forms for durations, times and floats. Traefik's /health and access
 * log are Go values printed by Go's formatters; tools that scrape them (and people who
 * diff them against a Traefik) see the same strings from spliced. Each function follows
 * the Go standard library's algorithm (time/format.go, time/time.go, strconv and
 * encoding/json's float encoder) rather than C's printf conventions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gofmt.h"

/* Write the fraction v % 10^prec as ".ddd" without trailing zeros, backwards from *w. */
static uint64_t frac_back(char *buf, int *w, uint64_t v, int prec)
{
	bool print = false;

	for (int i = 0; i < prec; i++) {
		int digit = (int)(v % 10);

		print = print || digit != 0;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void int_back(char *buf, int *w, uint64_t v)
{
	if (v == 0) {
		buf[--*w] = '0';
		return;
	}
	while (v > 0) {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	}
}

static size_t put(char *buf, size_t cap, const char *s, size_t n)
{
	if (!cap)
		return 0;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}

size_t gofmt_duration(char *buf, size_t cap, int64_t ns)
{
	char b[40];
	int w = sizeof(b);
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	if (u == 0)
		return put(buf, cap, "0s", 2);
	if (u < 1000000000ULL) {
		int prec;

		b[--w] = 's';
		if (u < 1000ULL) {
			prec = 0;
			b[--w] = 'n';
		} else if (u < 1000000ULL) {
			prec = 3;
			b[--w] = (char)0xb5;	/* U+00B5 MICRO SIGN, as Go writes it */
			b[--w] = (char)0xc2;
		} else {
			prec = 6;
			b[--w] = 'm';
		}
		u = frac_back(b, &w, u, prec);
		int_back(b, &w, u);
	} else {
		b[--w] = 's';
		u = frac_back(b, &w, u, 9);
		int_back(b, &w, u % 60);
		u /= 60;
		if (u > 0) {
			b[--w] = 'm';
			int_back(b, &w, u % 60);
			u /= 60;
			if (u > 0) {
				b[--w] = 'h';
				int_back(b, &w, u);
			}
		}
	}
	if (ns < 0)
		b[--w] = '-';
	return put(buf, cap, b + w, sizeof(b) - (size_t)w);
}

/* Shortest decimal digits of v (> 0) that read back as v, and the decimal exponent. */
static int shortest_digits(double v, char *digits, int *exp10)
{
	char tmp[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v || prec == 17) {
			char *e = strchr(tmp, 'e');
			int n = 0;

			for (char *p = tmp; p < e; p++)
				if (*p >= '0' && *p <= '9')
					digits[n++] = *p;
			while (n > 1 && digits[n - 1] == '0')
				n--;
			digits[n] = '\0';
			*exp10 = atoi(e + 1);
			return n;
		}
	}
	return 0;
}

size_t gofmt_json_float(char *buf, size_t cap, double v)
{
	char digits[24], out[400];
	double a = fabs(v);
	size_t n = 0;
	int nd, e;

	if (isnan(v) || isinf(v) || v == 0)
		return put(buf, cap, "0", 1);
	nd = shortest_digits(a, digits, &e);
	if (v < 0)
		out[n++] = '-';
	if (a < 1e-6 || a >= 1e21) {
		out[n++] = digits[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, digits + 1, (size_t)nd - 1);
			n += (size_t)nd - 1;
		}
		/*
		 * Go writes at least two exponent digits and encoding/json then turns "e-07"
		 * into "e-7"; positive exponents here are >= 21, so no padding shows either way.
		 */
		n += (size_t)snprintf(out + n, sizeof(out) - n, "e%c%d", e < 0 ? '-' : '+',
				      abs(e));
		return put(buf, cap, out, n);
	}
	if (e < 0) {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -e - 1; i++)
			out[n++] = '0';
		memcpy(out + n, digits, (size_t)nd);
		n += (size_t)nd;
	} else {
		for (int i = 0; i <= e; i++)
			out[n++] = i < nd ? digits[i] : '0';
		if (nd > e + 1) {
			out[n++] = '.';
			memcpy(out + n, digits + e + 1, (size_t)(nd - e - 1));
			n += (size_t)(nd - e - 1);
		}
	}
	return put(buf, cap, out, n);
}

static void split_time(int64_t real_ns, bool utc, struct tm *tm, long *nsec)
{
	time_t sec = (time_t)(real_ns / 1000000000LL);
	long frac = (long)(real_ns % 1000000000LL);

	if (frac < 0) {
		frac += 1000000000L;
		sec--;
	}
	if (utc)
		gmtime_r(&sec, tm);
	else
		localtime_r(&sec, tm);
	*nsec = frac;
}

/* ".123" (trailing zeros dropped, nothing when 0) into out; returns its length. */
static size_t frac9(char *out, long nsec)
{
	char d[10];
	int n = 9;

	if (!nsec) {
		out[0] = '\0';
		return 0;
	}
	snprintf(d, sizeof(d), "%09ld", nsec);
	while (n > 0 && d[n - 1] == '0')
		n--;
	out[0] = '.';
	memcpy(out + 1, d, (size_t)n);
	out[n + 1] = '\0';
	return (size_t)n + 1;
}

size_t gofmt_time_string(char *buf, size_t cap, int64_t real_ns, int64_t mono_ns)
{
	char out[160], fr[12];
	struct tm tm;
	long nsec, off;
	uint64_t m = mono_ns < 0 ? (uint64_t)0 - (uint64_t)mono_ns : (uint64_t)mono_ns;
	int n;

	split_time(real_ns, false, &tm, &nsec);
	frac9(fr, nsec);
	off = tm.tm_gmtoff / 60;
	n = snprintf(out, sizeof(out), "%04d-%02d-%02d %02d:%02d:%02d%s %c%02ld%02ld %s m=%c%llu.%09llu",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, fr, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60,
		     tm.tm_zone ? tm.tm_zone : "UTC", mono_ns < 0 ? '-' : '+',
		     (unsigned long long)(m / 1000000000ULL),
		     (unsigned long long)(m % 1000000000ULL));
	return put(buf, cap, out, n > 0 ? (size_t)n : 0);
}

static size_t rfc3339(char *buf, size_t cap, int64_t real_ns, bool utc, bool nano)
{
	char out[128], fr[12] = "", zone[40];
	struct tm tm;
	long nsec, off;
	int n;

	split_time(real_ns, utc, &tm, &nsec);
	if (nano)
		frac9(fr, nsec);
	off = utc ? 0 : tm.tm_gmtoff / 60;
	if (off == 0)
		strcpy(zone, "Z");
	else
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 60,
			 labs(off) % 60);
	n = snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d%s%s", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fr, zone);
	return put(buf, cap, out, n > 0 ? (size_t)n : 0);
}

size_t gofmt_rfc3339nano(char *buf, size_t cap, int64_t real_ns, bool utc)
{
	return rfc3339(buf, cap, real_ns, utc, true);
}

size_t gofmt_rfc3339(char *buf, size_t cap, int64_t real_ns, bool utc)
{
	return rfc3339(buf, cap, real_ns, utc, false);
}

const char *gofmt_status_text(int code)
{
	switch (code) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Requested Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Entity";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return "";
	}
}
