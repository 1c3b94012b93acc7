// SPDX-License-Identifier: MIT
/*
 * rawtcp: a tiny TCP client for integration tests, like `nc -N` without the variants.
 *
 * Connects, sends all of stdin, half-closes (shutdown SHUT_WR), and copies everything the
 * server sends to stdout until the server closes its side. Reading and writing run together
 * under poll(), so a server that echoes large payloads cannot deadlock it. The exit code
 * tells how the server ended: 0 clean EOF, 1 error or reset, 3 timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: it_rawtcp [-t TIMEOUT_S] [-d DELAY_MS] HOST PORT\n"
		"  sends stdin, half-closes, prints what the server sends until it closes.\n"
		"  -d waits DELAY_MS after connecting before sending (default 0).\n"
		"  exit 0 server closed cleanly, 1 error/reset, 3 timeout (default 20 s)\n");
	exit(2);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char in[65536], out[65536];
	size_t ilen = 0, ipos = 0;
	int timeout_s = 20, delay_ms = 0, opt, fd = -1, rc = 1;
	int in_eof = 0, wr_shut = 0;
	long long deadline;

	while ((opt = getopt(argc, argv, "t:d:")) != -1) {
		if (opt == 't')
			timeout_s = atoi(optarg);
		else if (opt == 'd')
			delay_ms = atoi(optarg);
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai)) {
		fprintf(stderr, "it_rawtcp: cannot resolve %s port %s\n", argv[optind],
			argv[optind + 1]);
		return 1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		fprintf(stderr, "it_rawtcp: connect: %s\n", strerror(errno));
		goto out;
	}
	if (delay_ms)
		usleep((useconds_t)delay_ms * 1000);
	deadline = now_ms() + timeout_s * 1000LL;
	for (;;) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			fprintf(stderr, "it_rawtcp: timeout after %d s\n", timeout_s);
			rc = 3;
			goto out;
		}
		if (ipos < ilen)
			p[0].events |= POLLOUT;
		else if (!in_eof)
			p[1].fd = 0;
		if (poll(p, 2, (int)(left < 1000 ? left : 1000)) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (p[1].revents) {
			n = read(0, in, sizeof(in));
			if (n <= 0)
				in_eof = 1;
			else
				ilen = (size_t)n, ipos = 0;
		}
		if (in_eof && ipos == ilen && !wr_shut) {
			shutdown(fd, SHUT_WR);
			wr_shut = 1;
		}
		if (p[0].revents & POLLOUT) {
			n = send(fd, in + ipos, ilen - ipos, MSG_NOSIGNAL);
			if (n < 0) {
				fprintf(stderr, "it_rawtcp: send: %s\n", strerror(errno));
				goto out;
			}
			ipos += (size_t)n;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, out, sizeof(out), 0);
			if (n < 0) {
				fprintf(stderr, "it_rawtcp: recv: %s\n", strerror(errno));
				goto out;
			}
			if (n == 0) {
				rc = 0;
				goto out;
			}
			if (fwrite(out, 1, (size_t)n, stdout) != (size_t)n)
				goto out;
		}
	}
out:
	fflush(stdout);
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return rc;
}
