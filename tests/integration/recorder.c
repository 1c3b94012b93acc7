// SPDX-License-Identifier: MIT
/*
 * recorder: a backend that writes every byte it receives to a log file and answers each
 * request head with a fixed-size Content-Length body. Integration tests use it to prove
 * what did (and did not) reach a backend, e.g. that a second request on a connection whose
 * first body was spliced in the kernel never arrives here.
 *
 *   it_recorder --port N --log FILE [--size BYTES]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static FILE *reclog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long body_size = 2 * 1024 * 1024;

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int answer(int fd)
{
	static char block[65536];
	char head[128];
	unsigned long long left = body_size;
	int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
			 body_size);

	memset(block, 'r', sizeof(block));
	if (write_all(fd, head, (size_t)n))
		return -1;
	while (left) {
		size_t k = left < sizeof(block) ? (size_t)left : sizeof(block);

		if (write_all(fd, block, k))
			return -1;
		left -= k;
	}
	return 0;
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];
	size_t have = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
		char *end;

		if (n <= 0)
			break;
		pthread_mutex_lock(&log_lock);
		fwrite(buf + have, 1, (size_t)n, reclog);
		fflush(reclog);
		pthread_mutex_unlock(&log_lock);
		have += (size_t)n;
		/* one answer per complete head; request bodies are not expected here */
		while ((end = memmem(buf, have, "\r\n\r\n", 4))) {
			size_t used = (size_t)(end + 4 - buf);

			if (answer(fd))
				goto out;
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		if (have == sizeof(buf))
			have = 0;
	}
out:
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *path = NULL;
	int port = 0, one = 1, lfd;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--log"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--size"))
			body_size = strtoull(argv[i + 1], NULL, 10);
	}
	if (!port || !path) {
		fprintf(stderr, "usage: it_recorder --port N --log FILE [--size BYTES]\n");
		return 2;
	}
	reclog = fopen(path, "w");
	if (!reclog) {
		perror(path);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128)) {
		perror("bind/listen");
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t th;

		if (fd < 0)
			continue;
		if (pthread_create(&th, NULL, serve, (void *)(long)fd))
			close(fd);
		else
			pthread_detach(th);
	}
}
