// SPDX-License-Identifier: MIT
/*
 * fastpath: loads the sockmap splice (bpf/splice.bpf.c) once per process, pins its maps
 * under --fastpath.pin, attaches the stream verdict to the SOCKHASH and proves the whole
 * path with a loopback canary (bytes both ways, then a FIN) before enabling it. Anything
 * that fails on the way is logged once with its reason and leaves the fast path off, so the
 * same binary works everywhere (mode auto); mode on turns it into a start-up error.
 *
 * The pair API below is the only code that touches the maps for a flow: insert in the order
 * the kernel needs (quiet side first, kick afterwards), the TCP counter snapshots that the
 * drain and budget checks are computed from, pause, release. tunnel.c decides when.
 *
 * Process-wide state (documented in fastpath.h: one fast path per process): the skeleton,
 * the map fds, the pin-directory lock and the counters. Written by fastpath_init() before
 * any worker thread exists; afterwards only the atomic counters change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fastpath.h"
#include "log.h"
#include "splice.skel.h"

_Static_assert(sizeof(struct sp_side) == 56, "sp_side ABI");
_Static_assert(sizeof(struct sp_ctl) == 16, "sp_ctl ABI");
_Static_assert(sizeof(struct sp_flow) == 248, "sp_flow ABI");
_Static_assert(sizeof(struct sp_stats) == 88, "sp_stats ABI");

#define CANARY_WAIT_MS	200

static struct {
	struct fastpath_opts opts;
	char pin_dir[160];
	char congestion[FASTPATH_CONGESTION_MAX];	/* "" = keep the host's */
	struct splice_bpf *skel;
	int sockhash_fd, sides_fd, flows_fd, ctl_fd;
	int lock_fd;
	bool pinned, attached;
	bool kernel_budget;		/* the verdict enforces the budget itself */
	_Atomic bool enabled;
	char off_reason[512];
	pid_t pid;
} fp = { .lock_fd = -1, .sockhash_fd = -1, .sides_fd = -1, .flows_fd = -1, .ctl_fd = -1 };

/* Counters: fastpath_stats fields as atomics, same order. */
static _Atomic uint64_t fp_ctr[9];
static _Atomic int fp_canary = -1;
static atomic_flag warned_sndbuf = ATOMIC_FLAG_INIT;

static const char *const map_names[] = { SP_MAP_SOCKHASH, SP_MAP_SIDES, SP_MAP_FLOWS,
					  SP_MAP_CTL, SP_MAP_STATS };

int fastpath_parse_mode(const char *s, enum fastpath_mode *out)
{
	if (!s)
		return -EINVAL;
	if (!strcasecmp(s, "auto"))
		*out = FASTPATH_AUTO;
	else if (!strcasecmp(s, "on") || !strcasecmp(s, "true"))
		*out = FASTPATH_ON;
	else if (!strcasecmp(s, "off") || !strcasecmp(s, "false"))
		*out = FASTPATH_OFF;
	else
		return -EINVAL;
	return 0;
}

bool fastpath_kernel_budget(void)
{
	return fp.kernel_budget;
}

bool fastpath_enabled(void)
{
	return atomic_load_explicit(&fp.enabled, memory_order_acquire);
}

const struct fastpath_opts *fastpath_options(void)
{
	return &fp.opts;
}

const char *fastpath_off_reason(void)
{
	return fastpath_enabled() ? NULL : fp.off_reason;
}

void fastpath_stats_get(struct fastpath_stats *out)
{
	uint64_t *f = &out->flows_spliced;

	for (size_t i = 0; i < sizeof(fp_ctr) / sizeof(fp_ctr[0]); i++)
		f[i] = atomic_load_explicit(&fp_ctr[i], memory_order_relaxed);
	out->canary_ok = atomic_load(&fp_canary);
}

void fastpath_stats_add(const struct fastpath_stats *delta)
{
	const uint64_t *f = &delta->flows_spliced;

	for (size_t i = 0; i < sizeof(fp_ctr) / sizeof(fp_ctr[0]); i++)
		if (f[i])
			atomic_fetch_add_explicit(&fp_ctr[i], f[i], memory_order_relaxed);
}

_Static_assert(offsetof(struct fastpath_stats, relayed_bytes) ==
	       offsetof(struct fastpath_stats, flows_spliced) + 8 * 8, "stats layout");

__attribute__((format(printf, 2, 0)))
static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static char buf[65536];		/* a verifier log comes as one message */
	char *line, *save = NULL;

	if (!log_enabled(LOG_LVL_DEBUG))
		return 0;
	/* Only fastpath_init() (one thread, at start-up) makes libbpf print. */
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_debug("%s", line);
	return 0;
}

/* ---- TCP counters: consistent snapshots -------------------------------------------- */

static int tcp_info_get(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) == -1)
		return -errno;
	return 0;
}

/*
 * Bytes the reader has taken off fd so far (tcpi_bytes_received - SIOCINQ). Arrivals move
 * both terms, so the pair is re-read until bytes_received did not change in between.
 */
static int tcp_rx_consumed(int fd, uint64_t *out)
{
	struct tcp_info a, b;
	int inq, err, tries = 0;

	do {
		if ((err = tcp_info_get(fd, &a)))
			return err;
		if (ioctl(fd, SIOCINQ, &inq) == -1)
			return -errno;
		if ((err = tcp_info_get(fd, &b)))
			return err;
	} while (a.tcpi_bytes_received != b.tcpi_bytes_received && ++tries < 100);
	if (a.tcpi_bytes_received != b.tcpi_bytes_received)
		return -EAGAIN;
	*out = a.tcpi_bytes_received - (uint64_t)inq;
	return 0;
}

/* Bytes that ever entered fd's send queue (tcpi_bytes_acked + SIOCOUTQ), read consistently. */
static int tcp_tx_queued(int fd, uint64_t *out)
{
	struct tcp_info a, b;
	int outq, err, tries = 0;

	do {
		if ((err = tcp_info_get(fd, &a)))
			return err;
		if (ioctl(fd, SIOCOUTQ, &outq) == -1)
			return -errno;
		if ((err = tcp_info_get(fd, &b)))
			return err;
	} while (a.tcpi_bytes_acked != b.tcpi_bytes_acked && ++tries < 100);
	if (a.tcpi_bytes_acked != b.tcpi_bytes_acked)
		return -EAGAIN;
	*out = a.tcpi_bytes_acked + (uint64_t)outq;
	return 0;
}

static int tcp_rx_total(int fd, uint64_t *out)
{
	struct tcp_info ti;
	int err = tcp_info_get(fd, &ti);

	if (!err)
		*out = ti.tcpi_bytes_received;
	return err;
}

/* ---- pair API ---------------------------------------------------------------------- */

int fastpath_cookie(int fd, uint64_t *out)
{
	socklen_t len = sizeof(*out);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, out, &len) == -1)
		return -errno;
	return 0;
}

static int sockhash_insert(int fd, uint64_t cookie)
{
	uint64_t v = (uint64_t)fd;	/* the value must be value_size (8) bytes */

	if (bpf_map_update_elem(fp.sockhash_fd, &cookie, &v, BPF_NOEXIST))
		return -errno;
	return 0;
}

/*
 * Send buffer of a spliced socket, for a flow budget. The kernel's psock worker that feeds a
 * peer backs off for a whole jiffy (4 ms at HZ=250; the timer often fires a tick later, so
 * 4-8 ms) whenever the peer's send queue holds half its send buffer, and waking it earlier is
 * not possible (a pending delayed work is not shortened). The verdict keeps what a direction
 * holds in the kernel, send queue included, under the budget; half the send buffer above that
 * means the worker never meets a full socket and never backs off. The buffer is an allowance,
 * not an allocation: memory in use stays bounded by the budget.
 */
static int splice_sndbuf(void)
{
	uint64_t v = fp.opts.flow_budget + fp.opts.flow_budget / 4 + 256 * 1024;

	return v > INT_MAX / 2 ? INT_MAX / 2 : (int)v;
}

/*
 * Receive buffer of a spliced source. A throttled direction's source sends until its window
 * closes, and what it sends then is relayed in userspace before the kernel can take over
 * again; while it relays, every read reopens the window. With the autotuned buffer (up to
 * net.ipv4.tcp_rmem[2], tens of MB) that catch-up rarely ends on loopback (measured, three
 * 1 GiB downloads, 32 MiB budget: 46% of the bytes in the kernel).
 *
 * Too small a buffer stalls flows instead. A redirected skb stays charged to the source
 * until the psock worker has pushed it into the peer, so the window the source announces
 * while the worker lags behind is small; when the worker then frees those skbs nothing
 * announces the reopened window, and a sender facing a window below one segment (64 KiB on
 * loopback) waits for its persist timer: 200 ms or more. Measured with 1 MiB here: 44-56% of
 * 6-40 MB downloads took 200 ms longer (0 of 50 at 2 MB); with 4 MiB, 0 of 300, also with a
 * busy loop on one of the two cores. So: the path's bandwidth-delay product at 4 GB/s
 * (rtt x 4 KB per microsecond), at least 4 MiB; paths long enough to need 16 MiB or more
 * keep their autotuned buffer. A budget below 16 MiB lowers the floor to a quarter of it
 * (at least 256 KiB): a buffer larger than that keeps throttled catch-ups from ending
 * (measured: a 4 MiB budget with the 4 MiB buffer never resumed on the sanitizer build).
 */
#define SPLICE_RCVBUF_MIN	(4 * 1024 * 1024)
#define SPLICE_RCVBUF_LOW	(256 * 1024)	/* the floor for small budgets */
#define SPLICE_RCVBUF_MAX	(16 * 1024 * 1024)
#define SPLICE_RCVBUF_PER_US	4096		/* bytes per microsecond of RTT: 4 GB/s */

static void cap_rcvbuf(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t rtt, want, floor;
	int v;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return;
	rtt = ti.tcpi_rtt > ti.tcpi_rcv_rtt ? ti.tcpi_rtt : ti.tcpi_rcv_rtt;
	floor = fp.opts.flow_budget / 4;
	if (floor > SPLICE_RCVBUF_MIN)
		floor = SPLICE_RCVBUF_MIN;
	if (floor < SPLICE_RCVBUF_LOW)
		floor = SPLICE_RCVBUF_LOW;
	want = rtt * SPLICE_RCVBUF_PER_US;
	if (want < floor)
		want = floor;
	if (want >= SPLICE_RCVBUF_MAX)
		return;		/* a long path: keep autotuning */
	v = (int)want;		/* the kernel doubles it */
	/*
	 * SO_RCVBUF alone is capped by net.core.rmem_max (208 KiB on a stock kernel), and a
	 * buffer that small stalls flows as above; autotuning does not. Without CAP_NET_ADMIN
	 * the buffer stays autotuned.
	 */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v));
}

/*
 * Congestion control of spliced sockets. The kernel's psock worker sends on the destination
 * socket from its own CPU while ACKs push that socket's queue from another one; on loopback
 * and veth the segments then arrive out of order. Measured on a host whose default is BBR,
 * 2 GiB downloads through the splice: BBR on the spliced sockets 1.2-1.3 GB/s, with tens of
 * MB retransmitted per GB and the sender window-limited 20-30% of the time; cubic 1.6-2.0.
 * BBR on a direct connection was not slowed (4.1-4.7 GB/s), so only spliced sockets change.
 */
static void set_congestion(int fd)
{
	if (fp.congestion[0])
		setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, fp.congestion, strlen(fp.congestion));
}

/* At start-up, before any worker: keep the name only if this host accepts it. */
static void check_congestion(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (!fp.congestion[0] || fd < 0)
		goto out;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, fp.congestion,
		       strlen(fp.congestion)) == 0)
		goto out;
	e = errno;
	log_warn("fastpath: --fastpath.congestion=%s refused (%s): spliced sockets keep the host's "
		 "congestion control; pick one of net.ipv4.tcp_available_congestion_control "
		 "(load its module) or \"system\"", fp.congestion, strerror(e));
	fp.congestion[0] = '\0';
out:
	if (fd >= 0)
		close(fd);
}

int fastpath_pair_splice(struct fastpath_pair *p, const uint64_t limit[2],
			 const struct sp_flow *init, int quiet, const bool kick[2])
{
	struct sp_flow f = *init;
	struct sp_ctl ctl = { .relayed = 0, .credit = fp.opts.flow_budget };
	struct sp_side side;
	int err = 0, one = 1, saved, sndbuf = splice_sndbuf();

	if (fp.flows_fd < 0)
		return -ENODEV;
	p->in_maps = false;
	p->inserted[0] = p->inserted[1] = false;
	for (int i = 0; i < 2; i++) {
		/* SO_SNDBUF alone is capped by net.core.wmem_max; CAP_NET_ADMIN lifts that. */
		if (setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf))) {
			int e = errno;

			setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
			if (!atomic_flag_test_and_set(&warned_sndbuf))
				log_warn("fastpath: SO_SNDBUFFORCE refused (%s): spliced sockets get at "
					 "most net.core.wmem_max as send buffer, and bulk flows slow down "
					 "(the kernel feeds a full socket once per jiffy); grant "
					 "CAP_NET_ADMIN or raise net.core.wmem_max", strerror(e));
		}
		cap_rcvbuf(p->fd[i]);
		set_congestion(p->fd[i]);
		if ((err = fastpath_cookie(p->fd[i], &p->cookie[i])))
			return err;
		/* Snapshots first: once inserted, the verdict consumes the receive queue. */
		if ((err = tcp_rx_consumed(p->fd[i], &p->rx_base[i])) ||
		    (err = tcp_tx_queued(p->fd[i], &p->tx_base[i])))
			return err;
	}
	f.state = SP_FLOW_SPLICED;
	f.bytes_c2b = f.bytes_b2c = f.skbs_c2b = f.skbs_b2c = 0;
	f.drop_c2b = f.drop_b2c = 0;
	f.paused_c2b = f.paused_b2c = 0;
	f.pid = (__u32)fp.pid;
	if (bpf_map_update_elem(fp.flows_fd, &p->cookie[0], &f, BPF_ANY))
		return -errno;
	p->in_maps = true;
	for (int i = 0; i < 2; i++) {
		memset(&side, 0, sizeof(side));
		side.peer = p->cookie[!i];
		side.flow = p->cookie[0];
		side.limit = limit[i];
		side.dir = (__u32)i;
		if (bpf_map_update_elem(fp.sides_fd, &p->cookie[i], &side, BPF_ANY) ||
		    bpf_map_update_elem(fp.ctl_fd, &p->cookie[i], &ctl, BPF_ANY)) {
			err = -errno;
			goto fail;
		}
	}
	/* Quiet side first: a socket inserted before its peer cannot redirect what it gets. */
	if ((err = sockhash_insert(p->fd[quiet], p->cookie[quiet])))
		goto fail;
	p->inserted[quiet] = true;
	if (fp.opts.insert_gap_us)
		usleep(fp.opts.insert_gap_us);
	if ((err = sockhash_insert(p->fd[!quiet], p->cookie[!quiet]))) {
		/*
		 * Removing the quiet side now would purge what it received meanwhile (already
		 * ACKed). Keep it, paused for good: userspace reads it like any socket.
		 */
		struct sp_side paused = { .peer = p->cookie[!quiet], .flow = p->cookie[0],
					  .limit = SP_LIMIT_NONE, .dir = (__u32)quiet,
					  .paused = SP_PAUSE_OTHER };

		if (bpf_map_update_elem(fp.sides_fd, &p->cookie[quiet], &paused, BPF_ANY) == 0)
			return err;
		goto fail;
	}
	p->inserted[!quiet] = true;
	/* Bytes queued before the insert wait for the next skb unless data_ready runs now. */
	for (int i = 0; i < 2; i++)
		if (kick[i])
			setsockopt(p->fd[i], SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	return 0;
fail:
	saved = err;
	fastpath_pair_release(p);
	return saved;
}

int fastpath_pair_read(const struct fastpath_pair *p, struct sp_flow *out)
{
	if (bpf_map_lookup_elem(fp.flows_fd, &p->cookie[0], out))
		return -errno;
	return 0;
}

int fastpath_pair_side(const struct fastpath_pair *p, int dir, struct sp_side *out)
{
	if (bpf_map_lookup_elem(fp.sides_fd, &p->cookie[dir], out))
		return -errno;
	return 0;
}

int fastpath_pair_progress(const struct fastpath_pair *p, int dir, bool eof,
			   struct fastpath_progress *pr)
{
	uint64_t rx, tx;
	int err, outq;

	if ((err = tcp_rx_total(p->fd[dir], &rx)) || (err = tcp_tx_queued(p->fd[!dir], &tx)))
		return err;
	if (ioctl(p->fd[!dir], SIOCOUTQ, &outq) == -1)
		return -errno;
	pr->in = rx - p->rx_base[dir] - (eof ? 1 : 0);
	pr->out = tx - p->tx_base[!dir];
	/* What is still queued may include bytes written before the splice. */
	pr->unacked = (uint64_t)(outq > 0 ? outq : 0);
	if (pr->unacked > pr->out)
		pr->unacked = pr->out;
	return 0;
}

int fastpath_pair_ctl(const struct fastpath_pair *p, int dir, uint64_t relayed, uint64_t credit)
{
	struct sp_ctl ctl = { .relayed = relayed, .credit = credit };

	if (bpf_map_update_elem(fp.ctl_fd, &p->cookie[dir], &ctl, BPF_ANY))
		return -errno;
	return 0;
}

void fastpath_pair_release(struct fastpath_pair *p)
{
	int saved = errno;

	for (int i = 0; i < 2; i++) {
		if (p->inserted[i])
			bpf_map_delete_elem(fp.sockhash_fd, &p->cookie[i]);	/* ENOENT once closed */
		p->inserted[i] = false;
	}
	if (p->in_maps) {
		for (int i = 0; i < 2; i++) {
			bpf_map_delete_elem(fp.sides_fd, &p->cookie[i]);
			bpf_map_delete_elem(fp.ctl_fd, &p->cookie[i]);
		}
		bpf_map_delete_elem(fp.flows_fd, &p->cookie[0]);
		p->in_maps = false;
	}
	errno = saved;
}

int fastpath_flow_put(uint64_t id, const struct sp_flow *f)
{
	struct sp_flow v = *f;

	if (!fastpath_enabled())
		return 0;
	v.pid = (__u32)fp.pid;
	if (bpf_map_update_elem(fp.flows_fd, &id, &v, BPF_ANY))
		return -errno;
	return 0;
}

void fastpath_flow_del(uint64_t id)
{
	int saved = errno;

	if (fastpath_enabled())
		bpf_map_delete_elem(fp.flows_fd, &id);
	errno = saved;
}

/* ---- start-up ---------------------------------------------------------------------- */

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* The pin directory must sit on bpffs; mount the usual /sys/fs/bpf if it is missing. */
static int prepare_pin_dir(char *err, size_t errlen)
{
	char parent[160];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", fp.pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		snprintf(err, errlen, "pin directory %s: give a directory inside a bpffs mount",
			 fp.pin_dir);
		return -EINVAL;
	}
	*slash = '\0';
	if (!is_bpffs(fp.pin_dir) && !is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf") != 0) {
			snprintf(err, errlen, "%s is not on a bpffs mount (mount -t bpf bpf %s, "
				 "or set --fastpath.pin)", parent, parent);
			return -ENOTDIR;
		}
		if (mount("bpf", parent, "bpf", 0, "mode=0700") == -1) {
			snprintf(err, errlen, "bpffs is not mounted at %s and mounting it failed: "
				 "%s (mount -t bpf bpf %s)", parent, strerror(errno), parent);
			return -errno;
		}
		log_info("fastpath: mounted bpffs at %s", parent);
	}
	if (mkdir(fp.pin_dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create pin directory %s: %s%s", fp.pin_dir,
			 strerror(errno),
			 strchr(slash + 1, '.') ? " (bpffs refuses names with a dot)" : "");
		return -errno;
	}
	fp.lock_fd = open(fp.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fp.lock_fd < 0) {
		snprintf(err, errlen, "cannot open pin directory %s: %s", fp.pin_dir,
			 strerror(errno));
		return -errno;
	}
	if (flock(fp.lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "pin directory %s is in use by another spliced process "
			 "(give each its own --fastpath.pin)", fp.pin_dir);
		return -EBUSY;
	}
	/* We hold the lock: pins left here belong to a process that is gone. */
	for (size_t i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		char path[192];

		snprintf(path, sizeof(path), "%s/%s", fp.pin_dir, map_names[i]);
		if (unlink(path) == 0)
			log_info("fastpath: removed stale pin %s", path);
	}
	return 0;
}

static void unpin_all(void)
{
	char path[192];

	for (size_t i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fp.pin_dir, map_names[i]);
		unlink(path);
	}
	if (fp.pinned)
		rmdir(fp.pin_dir);
	fp.pinned = false;
}

static int open_load(uint64_t budget)
{
	uint32_t flows = fp.opts.max_flows ? fp.opts.max_flows : SP_DEFAULT_MAX_FLOWS;
	int rc;

	fp.skel = splice_bpf__open();
	if (!fp.skel)
		return -errno;
	fp.skel->rodata->sp_budget = budget;
	bpf_map__set_max_entries(fp.skel->maps.sp_flows, flows);
	bpf_map__set_max_entries(fp.skel->maps.sp_sides, 2 * flows);
	bpf_map__set_max_entries(fp.skel->maps.sp_sockhash, 2 * flows);
	bpf_map__set_max_entries(fp.skel->maps.sp_ctl, 2 * flows);
	rc = splice_bpf__load(fp.skel);
	if (rc) {
		splice_bpf__destroy(fp.skel);
		fp.skel = NULL;
	}
	return rc;
}

static int load_and_attach(char *err, size_t errlen)
{
	struct bpf_map *maps[5];
	int rc;

	/* The in-kernel budget reads the peer's TCP state (BTF access): try it first. */
	rc = open_load(fp.opts.flow_budget);
	if (rc == 0) {
		fp.kernel_budget = true;
	} else {
		log_info("fastpath: in-kernel budget unavailable (%s); userspace refreshes a "
			 "credit instead", strerror(-rc));
		rc = open_load(0);
	}
	if (rc) {
		snprintf(err, errlen, "load BPF program: %s (needs CAP_BPF and CAP_NET_ADMIN, "
			 "and a kernel with sockhash and sk_skb verdicts)", strerror(-rc));
		return rc;
	}
	fp.sockhash_fd = bpf_map__fd(fp.skel->maps.sp_sockhash);
	fp.sides_fd = bpf_map__fd(fp.skel->maps.sp_sides);
	fp.flows_fd = bpf_map__fd(fp.skel->maps.sp_flows);
	fp.ctl_fd = bpf_map__fd(fp.skel->maps.sp_ctl);
	/* libbpf 1.1 does not auto-attach sk_skb programs: attach to the SOCKHASH itself. */
	if (bpf_prog_attach(bpf_program__fd(fp.skel->progs.sp_verdict), fp.sockhash_fd,
			    BPF_SK_SKB_STREAM_VERDICT, 0)) {
		rc = -errno;
		snprintf(err, errlen, "attach stream verdict to %s: %s", SP_MAP_SOCKHASH,
			 strerror(errno));
		return rc;
	}
	fp.attached = true;
	maps[0] = fp.skel->maps.sp_sockhash;
	maps[1] = fp.skel->maps.sp_sides;
	maps[2] = fp.skel->maps.sp_flows;
	maps[3] = fp.skel->maps.sp_ctl;
	maps[4] = fp.skel->maps.sp_stats;
	fp.pinned = true;
	for (int i = 0; i < 5; i++) {
		char path[192];

		snprintf(path, sizeof(path), "%s/%s", fp.pin_dir, bpf_map__name(maps[i]));
		rc = bpf_map__pin(maps[i], path);
		if (rc) {
			snprintf(err, errlen, "pin map %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* ---- canary ------------------------------------------------------------------------ */

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int n = poll(&pfd, 1, ms);

	if (n < 0)
		return -errno;
	return n ? pfd.revents : 0;
}

/* Read exactly len bytes from fd within ms each. 0 or negative errno (-ETIMEDOUT). */
static int read_exact(int fd, char *buf, size_t len, int ms)
{
	size_t got = 0;

	while (got < len) {
		int r = wait_fd(fd, POLLIN, ms);
		ssize_t n;

		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

static int tcp_pair(int lfd, const struct sockaddr_in *sa, int *conn, int *acc)
{
	*conn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*conn < 0)
		return -errno;
	if (connect(*conn, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
		return -errno;
	*acc = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*acc < 0)
		return -errno;
	return 0;
}

/*
 * client <-> s (spliced) <-> p (spliced) <-> backend, all on loopback: 4 bytes each way
 * through the kernel, then the client's FIN, propagated the way tunnel.c does it.
 */
static int canary_run(char *why, size_t whylen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	struct fastpath_pair pair = { .fd = { -1, -1 } };
	int lfd, cli = -1, s = -1, p = -1, be = -1, rc;
	uint64_t limit[2] = { SP_LIMIT_NONE, SP_LIMIT_NONE };
	struct fastpath_progress pr;
	bool kick[2] = { true, true };
	struct sp_flow init = { 0 }, f;
	char buf[8];
	const char *hook = getenv("SPLICED_FASTPATH_CANARY_FAIL");

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 4) == -1 || getsockname(lfd, (struct sockaddr *)&sa, &salen) == -1) {
		rc = -errno;
		snprintf(why, whylen, "loopback listener: %s", strerror(errno));
		goto out;
	}
	if ((rc = tcp_pair(lfd, &sa, &cli, &s)) || (rc = tcp_pair(lfd, &sa, &p, &be))) {
		snprintf(why, whylen, "loopback connection: %s", strerror(-rc));
		goto out;
	}
	pair.fd[0] = s;
	pair.fd[1] = p;
	snprintf(init.client, sizeof(init.client), "canary");
	if ((rc = fastpath_pair_splice(&pair, limit, &init, FASTPATH_B2C, kick))) {
		snprintf(why, whylen, "insert into %s: %s", SP_MAP_SOCKHASH, strerror(-rc));
		goto out;
	}
	if (send(cli, "ping", 4, MSG_NOSIGNAL) != 4 || (rc = read_exact(be, buf, 4, CANARY_WAIT_MS)) ||
	    memcmp(buf, "ping", 4)) {
		rc = rc ? rc : -EIO;
		snprintf(why, whylen, "client->backend bytes did not arrive through the kernel");
		goto out;
	}
	if (send(be, "pong", 4, MSG_NOSIGNAL) != 4 || (rc = read_exact(cli, buf, 4, CANARY_WAIT_MS)) ||
	    memcmp(buf, "pong", 4)) {
		rc = rc ? rc : -EIO;
		snprintf(why, whylen, "backend->client bytes did not arrive through the kernel");
		goto out;
	}
	shutdown(cli, SHUT_WR);
	rc = wait_fd(s, POLLRDHUP, CANARY_WAIT_MS);
	if (rc <= 0 || !(rc & POLLRDHUP)) {
		rc = -ETIMEDOUT;
		snprintf(why, whylen, "the client's FIN was not seen on the spliced socket");
		goto out;
	}
	for (int ms = 0;; ms++) {
		if ((rc = fastpath_pair_read(&pair, &f)) ||
		    (rc = fastpath_pair_progress(&pair, FASTPATH_C2B, true, &pr))) {
			snprintf(why, whylen, "reading the flow counters: %s", strerror(-rc));
			goto out;
		}
		if (f.bytes_c2b == 4 && pr.in == 4 && pr.out == 4)
			break;
		if (ms >= CANARY_WAIT_MS) {
			rc = -ETIMEDOUT;
			snprintf(why, whylen, "drain check never passed (redirected %llu, in %llu, "
				 "out %llu)", (unsigned long long)f.bytes_c2b,
				 (unsigned long long)pr.in, (unsigned long long)pr.out);
			goto out;
		}
		usleep(1000);
	}
	shutdown(p, SHUT_WR);
	rc = wait_fd(be, POLLIN, CANARY_WAIT_MS);
	if (rc <= 0 || recv(be, buf, sizeof(buf), MSG_DONTWAIT) != 0) {
		rc = -EIO;
		snprintf(why, whylen, "the FIN did not reach the backend side");
		goto out;
	}
	if (f.bytes_b2c != 4) {
		rc = -EIO;
		snprintf(why, whylen, "flow counters wrong (b2c %llu, want 4)",
			 (unsigned long long)f.bytes_b2c);
		goto out;
	}
	rc = 0;
	if (hook && *hook && strcmp(hook, "0") != 0) {
		rc = -EPROTO;
		snprintf(why, whylen, "failed on purpose: SPLICED_FASTPATH_CANARY_FAIL is set "
			 "(test hook)");
	}
out:
	fastpath_pair_release(&pair);
	{
		int fds[] = { cli, s, p, be, lfd };

		for (int i = 0; i < 5; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	return rc;
}

/* ---- init / fini ------------------------------------------------------------------- */

static void teardown(void)
{
	if (fp.attached && fp.skel)
		bpf_prog_detach2(bpf_program__fd(fp.skel->progs.sp_verdict), fp.sockhash_fd,
				 BPF_SK_SKB_STREAM_VERDICT);
	fp.attached = false;
	if (fp.pinned)
		unpin_all();
	splice_bpf__destroy(fp.skel);
	fp.skel = NULL;
	fp.kernel_budget = false;
	fp.sockhash_fd = fp.sides_fd = fp.flows_fd = fp.ctl_fd = -1;
	if (fp.lock_fd >= 0)
		close(fp.lock_fd);
	fp.lock_fd = -1;
}

int fastpath_init(const struct fastpath_opts *o, char *err, size_t errlen)
{
	char why[512] = "";
	const char *pin;
	int rc;

	fp.opts = *o;
	if (!fp.opts.bulk_threshold)
		fp.opts.bulk_threshold = FASTPATH_DEFAULT_BULK;
	if (!fp.opts.flow_budget)
		fp.opts.flow_budget = FASTPATH_DEFAULT_BUDGET;
	pin = o->pin_dir && *o->pin_dir ? o->pin_dir : FASTPATH_DEFAULT_PIN_DIR;
	snprintf(fp.pin_dir, sizeof(fp.pin_dir), "%s", pin);
	fp.opts.pin_dir = fp.pin_dir;
	snprintf(fp.congestion, sizeof(fp.congestion), "%s",
		 o->congestion ? o->congestion : FASTPATH_DEFAULT_CONGESTION);
	fp.opts.congestion = fp.congestion;
	fp.pid = getpid();
	atomic_store(&fp.enabled, false);
	if (o->mode == FASTPATH_OFF) {
		snprintf(fp.off_reason, sizeof(fp.off_reason), "disabled by --fastpath=off");
		log_info("fastpath: off (--fastpath=off): tunnels are relayed in userspace");
		return 0;
	}
	libbpf_set_print(libbpf_to_log);
	if (strlen(pin) >= sizeof(fp.pin_dir) || pin[0] != '/') {
		rc = -ENAMETOOLONG;
		snprintf(why, sizeof(why), "--fastpath.pin must be an absolute path shorter than "
			 "%zu characters", sizeof(fp.pin_dir));
		goto fail;
	}
	check_congestion();
	if ((rc = prepare_pin_dir(why, sizeof(why))) || (rc = load_and_attach(why, sizeof(why))))
		goto fail;
	if ((rc = canary_run(why, sizeof(why)))) {
		atomic_store(&fp_canary, 0);
		char tmp[sizeof(why)];

		snprintf(tmp, sizeof(tmp), "canary: %s", why);
		snprintf(why, sizeof(why), "%s", tmp);
		goto fail;
	}
	atomic_store(&fp_canary, 1);
	fp.off_reason[0] = '\0';
	atomic_store_explicit(&fp.enabled, true, memory_order_release);
	log_info("fastpath: on (maps pinned in %s, canary passed, spliced sockets use %s congestion "
		 "control)", fp.pin_dir, fp.congestion[0] ? fp.congestion : "the host's");
	return 0;
fail:
	teardown();
	snprintf(fp.off_reason, sizeof(fp.off_reason), "%s", why);
	if (o->mode == FASTPATH_ON) {
		snprintf(err, errlen, "--fastpath=on but the kernel fast path is unusable: %s "
			 "(use --fastpath=auto to fall back to the userspace relay)", why);
		return rc < 0 ? rc : -EIO;
	}
	log_warn("fastpath: off, every tunnel is relayed in userspace: %s", why);
	return 0;
}

void fastpath_fini(void)
{
	atomic_store(&fp.enabled, false);
	teardown();
}
