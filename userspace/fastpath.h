/* SPDX-License-Identifier: MIT */
/*
 * fastpath: the eBPF sockmap splice, loaded once per process.
 *
 * fastpath_init() loads the skeleton, pins the maps, attaches the stream verdict to the
 * SOCKHASH and proves the path with a loopback canary; any failure is logged once and
 * leaves the fast path off (mode auto) or fails start-up (mode on). After that, flows are
 * handed to tunnel.c, which uses the fastpath_* calls below when fastpath_enabled().
 */
#ifndef SPLICED_FASTPATH_H
#define SPLICED_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>

#include <spliced/flow.h>

enum fastpath_mode {
	FASTPATH_AUTO = 0,	/* use it when the canary passes, else userspace relay */
	FASTPATH_ON,		/* fail start-up when it can't be used */
	FASTPATH_OFF,		/* never load BPF */
};

struct fastpath_opts {
	enum fastpath_mode mode;
	const char *pin_dir;		/* default "/sys/fs/bpf/spliced" */
	uint64_t bulk_threshold;	/* splice an HTTP body announced above this (bytes) */
	uint64_t flow_budget;		/* bytes in the kernel per direction before throttling */
	uint32_t max_flows;		/* flows in the maps (spliced + listed relayed); 0: 65536 */
	const char *congestion;		/* TCP congestion control of spliced sockets; "" = keep */
	uint32_t insert_gap_us;		/* tests only: sleep between the two inserts of a pair,
					 * so that the first socket's sender meets a missing peer */
};

#define FASTPATH_DEFAULT_PIN_DIR	"/sys/fs/bpf/spliced"
#define FASTPATH_DEFAULT_BULK		(1024 * 1024)
#define FASTPATH_DEFAULT_BUDGET		(32 * 1024 * 1024)
#define FASTPATH_DEFAULT_CONGESTION	"cubic"
#define FASTPATH_CONGESTION_MAX		16	/* TCP_CA_NAME_MAX, with the NUL */

/* Parse "auto|on|off" (any case). 0 or -EINVAL. */
int fastpath_parse_mode(const char *s, enum fastpath_mode *out);

/*
 * Load, pin, attach, canary. Returns 0 when the fast path is usable or when it is off/auto
 * and fell back (then fastpath_enabled() is false and the reason is logged once);
 * a negative errno only for mode ON failures, with a message in err.
 */
int fastpath_init(const struct fastpath_opts *o, char *err, size_t errlen);
bool fastpath_enabled(void);
/* True when the verdict enforces flow_budget itself; else refresh the credit (pair_ctl). */
bool fastpath_kernel_budget(void);
const struct fastpath_opts *fastpath_options(void);
/* Why the fast path is off ("disabled by --fastpath=off", "canary: ..."), or NULL if on. */
const char *fastpath_off_reason(void);
/* Unpin and release everything (process exit). */
void fastpath_fini(void);

/* Counters for /metrics and the dashboard (spliced_fastpath_*). */
struct fastpath_stats {
	uint64_t flows_spliced;		/* flows handed to the kernel */
	uint64_t flows_active;
	uint64_t bytes_c2b;		/* bytes the kernel carried client->backend */
	uint64_t bytes_b2c;
	uint64_t fallback_insert;	/* per-flow fallbacks to userspace, by reason */
	uint64_t fallback_state;	/* socket not ESTABLISHED / RDHUP pending */
	uint64_t fallback_budget;	/* throttled at the memory budget (they resume) */
	uint64_t fallback_dup;		/* duplicate-bytes guard tripped */
	uint64_t relayed_bytes;		/* bytes of spliced flows relayed in userspace */
	int canary_ok;			/* 1 passed, 0 failed, -1 not run */
};
void fastpath_stats_get(struct fastpath_stats *out);
/* Add delta to the counters, field by field (a field of (uint64_t)-1 subtracts one). */
void fastpath_stats_add(const struct fastpath_stats *delta);

/*
 * The pair API, used by tunnel.c and the start-up canary: one (client, backend) socket pair
 * in the kernel maps. Direction i carries the bytes that arrive on fd[i] to fd[!i]
 * (FASTPATH_C2B: fd[0] is the client). Thread-safe: every call is one or a few bpf()
 * syscalls on shared maps; a pair itself belongs to one thread.
 */

enum { FASTPATH_C2B = SP_DIR_C2B, FASTPATH_B2C = SP_DIR_B2C };

struct fastpath_pair {
	int fd[2];			/* [FASTPATH_C2B] client, [FASTPATH_B2C] backend */
	uint64_t cookie[2];		/* socket cookies; cookie[0] is the flow id */
	uint64_t rx_base[2];		/* bytes userspace consumed from fd[i] before the splice */
	uint64_t tx_base[2];		/* bytes that had entered fd[i]'s send queue then */
	bool in_maps;			/* sp_flows/sp_sides entries written */
	bool inserted[2];		/* fd[i] in sp_sockhash */
};

/* Socket cookie of fd. 0 or -errno. */
int fastpath_cookie(int fd, uint64_t *out);

/*
 * Splice a pair at a quiet point (nothing unread in userspace buffers, no partly read skb in
 * either socket). Writes the sp_flows entry (init, state set to SPLICED), both sp_sides
 * entries (limit[i]: bytes that may still arrive on fd[i]; SP_LIMIT_NONE) and both sp_ctl
 * entries (nothing relayed, the flow budget as credit), sizes both send buffers for the
 * budget, snapshots the TCP counters, inserts fd[quiet] first, then the other, and kicks
 * fd[i] for each i with kick[i] so bytes queued before the insert are verdicted. On failure a
 * negative errno is returned and everything written is removed again, except when the second
 * insert failed: then p->in_maps stays true and the quiet socket stays in sp_sockhash, paused
 * (it passes everything to userspace, in order); release the pair once that socket is done.
 */
int fastpath_pair_splice(struct fastpath_pair *p, const uint64_t limit[2],
			 const struct sp_flow *init, int quiet, const bool kick[2]);

/* The flow's current entry (counters) into out. 0 or -errno. */
int fastpath_pair_read(const struct fastpath_pair *p, struct sp_flow *out);

/* The sp_sides entry of fd[dir] (pause state, passed bytes) into out. 0 or -errno. */
int fastpath_pair_side(const struct fastpath_pair *p, int dir, struct sp_side *out);

/* TCP progress of direction dir since the splice (see fastpath_pair_progress). */
struct fastpath_progress {
	uint64_t in;		/* bytes that arrived on fd[dir] */
	uint64_t out;		/* bytes that entered fd[!dir]'s send queue (kernel and userspace) */
	uint64_t unacked;	/* of those, still in the send queue (not acknowledged) */
};

/*
 * Progress of direction dir since the splice into pr. eof: the caller saw EOF on fd[dir], so
 * one FIN is discounted from pr->in. 0 or -errno.
 */
int fastpath_pair_progress(const struct fastpath_pair *p, int dir, bool eof,
			   struct fastpath_progress *pr);

/*
 * Tell the verdict about direction dir: relayed = bytes userspace wrote to fd[!dir] since the
 * splice (a throttled side resumes once it equals the bytes it passed), credit = what
 * redirected + relayed may reach (credit mode only; the splice starts with the budget).
 * 0 or -errno.
 */
int fastpath_pair_ctl(const struct fastpath_pair *p, int dir, uint64_t relayed, uint64_t credit);

/*
 * Remove the pair from every map. Call only once both directions have drained (removing a
 * socket from sp_sockhash purges what the kernel still holds for it) or to abort.
 */
void fastpath_pair_release(struct fastpath_pair *p);

/* A flow relayed in userspace, listed in sp_flows for the inspector (no-op when off). */
int fastpath_flow_put(uint64_t id, const struct sp_flow *f);
void fastpath_flow_del(uint64_t id);

#endif
