// SPDX-License-Identifier: MIT
/*
 * strbuf: growable strings for the API thread's answers. Doubling growth; one sticky
 * out-of-memory flag instead of an error after every append. The JSON string escaper
 * follows Go's encoding/json (what Traefik's API prints): <, > and & become \u003c,
 * \u003e and \u0026, U+2028/U+2029 are escaped, invalid UTF-8 becomes U+FFFD.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int strbuf_grow(struct strbuf *sb, size_t n)
{
	size_t want, cap;
	char *p;

	if (sb->oom)
		return -ENOMEM;
	if (sb->len + n + 1 <= sb->cap)
		return 0;
	want = sb->len + n + 1;
	cap = sb->cap ? sb->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->oom = true;
		return -ENOMEM;
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

void strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
	if (strbuf_grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || strbuf_grow(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;	/* overlong or surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

size_t strbuf_json_quote(char *dst, size_t cap, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (cap < 3) {
		if (cap)
			dst[0] = '\0';
		return 0;
	}
	dst[n++] = '"';
	/* every step writes at most 6 bytes; keep room for the closing quote and NUL */
	while (*s && n + 6 + 2 <= cap) {
		unsigned char c = *s;
		size_t u;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' &&
		    c != '&') {
			dst[n++] = (char)c;
			s++;
		} else if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
			s++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			dst[n++] = '\\';
			dst[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			s++;
		} else if (c < 0x80) {
			memcpy(dst + n, "\\u00", 4);
			dst[n + 4] = hex[c >> 4];
			dst[n + 5] = hex[c & 15];
			n += 6;
			s++;
		} else if ((u = utf8_len(s)) == 0) {
			memcpy(dst + n, "\\ufffd", 6);
			n += 6;
			s++;
		} else if (u == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
			memcpy(dst + n, s[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
			n += 6;
			s += 3;
		} else {
			memcpy(dst + n, s, u);
			n += u;
			s += u;
		}
	}
	dst[n++] = '"';
	dst[n] = '\0';
	return n;
}

void strbuf_json_str(struct strbuf *sb, const char *str)
{
	size_t len = str ? strlen(str) : 0;

	if (strbuf_grow(sb, len * 6 + 8))
		return;
	sb->len += strbuf_json_quote(sb->buf + sb->len, sb->cap - sb->len, str);
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->oom = false;
}
