// SPDX-License-Identifier: MIT
/*
 * promcheck: `it_promcheck FILE` checks a Prometheus text exposition with the strict checker
 * of tests/unit/promparse.h. Prints "valid: N families, N samples" and exits 0, or prints
 * the first fault (line number, reason, the line) and exits 1. "-" reads stdin.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../unit/promparse.h"

static struct prom_check pc;

int main(int argc, char **argv)
{
	FILE *f = argc > 1 && strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
	size_t cap = 1 << 20, n = 0, r;
	char *buf = malloc(cap + 1);

	if (!f || !buf) {
		fprintf(stderr, "promcheck: cannot read %s\n", argc > 1 ? argv[1] : "stdin");
		return 2;
	}
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				return 2;
			buf = nb;
			cap *= 2;
		}
	}
	buf[n] = '\0';
	if (prom_check_text(&pc, buf)) {
		printf("invalid: %s\n", pc.err);
		return 1;
	}
	printf("valid: %d families, %d samples\n", pc.nfam, pc.nsamples);
	free(buf);
	return 0;
}
