/* SPDX-License-Identifier: MIT */
/*
 * strbuf: a growable byte string (API answers: JSON, Prometheus text; compiled rule patterns).
 * One buffer belongs to one thread at a time. Allocation failure is sticky: later appends are dropped and sb->oom stays set,
 * so callers check once at the end instead of after every append.
 */
#ifndef SPLICED_STRBUF_H
#define SPLICED_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;		/* NUL-terminated when len > 0 */
	size_t len, cap;
	bool oom;
};

#define STRBUF_INIT { NULL, 0, 0, false }

/* Make room for n more bytes (plus NUL). 0 or -ENOMEM (then sb->oom is set). */
int strbuf_grow(struct strbuf *sb, size_t n);
void strbuf_add(struct strbuf *sb, const void *p, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (quotes included), escaped as Go's encoding/json does. */
void strbuf_json_str(struct strbuf *sb, const char *s);
/*
 * Write s into dst as a JSON string literal (quotes included, NUL-terminated), escaped like
 * Go's encoding/json; cut at a character boundary when cap is short (cap >= 6 * strlen(s)
 * + 3 never cuts). Returns the length written.
 */
size_t strbuf_json_quote(char *dst, size_t cap, const char *s);
/* Free the buffer and reset to empty. */
void strbuf_release(struct strbuf *sb);

#endif
