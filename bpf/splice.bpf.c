// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * splice.bpf.c: the kernel half of the fast path. One sk_skb stream verdict (no parser),
 * attached to the SOCKHASH, sends every skb that arrives on a spliced socket out of the
 * peer socket (egress redirect), so established flows never cross into userspace.
 *
 * The verdict never loses bytes: anything it does not redirect (no entry, paused side,
 * failed redirect, a byte limit straddled, the budget credit used up) is passed, i.e. queued on the socket itself for
 * the userspace relay. A failed redirect or a straddled limit pauses the side for good, so
 * later bytes cannot overtake the passed ones. Only bytes past a direction's byte limit
 * (the tunnel's "read and dropped") and bare FIN skbs (whose redirect poisons the peer with
 * EPIPE) are dropped. Userspace propagates FIN itself once the peer has drained.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <spliced/flow.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/*
 * Bytes per direction the kernel may hold for a slow peer (redirected, not yet in the peer's
 * send queue). Set before load. 0: the budget is enforced through sp_credit instead, for
 * when the BTF socket access below cannot be loaded (it needs CAP_PERFMON or CAP_SYS_ADMIN).
 */
const volatile __u64 sp_budget = 0;

/* The spliced sockets; the verdict is attached here. Key and value: the socket cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 2 * SP_DEFAULT_MAX_FLOWS);
	__type(key, __u64);
	__type(value, __u64);
} sp_sockhash SEC(".maps");

/* Per spliced socket: its peer, its flow, its byte limit and whether it is paused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SP_DEFAULT_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sp_side);
} sp_sides SEC(".maps");

/* Per spliced socket: how many of its bytes the kernel may redirect (budget credit). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SP_DEFAULT_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
} sp_credit SEC(".maps");

/* Per flow: identity and counters, for the inspector, the drain check and the budget. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SP_DEFAULT_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sp_flow);
} sp_flows SEC(".maps");

/* What the verdict did, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sp_stats);
} sp_stats SEC(".maps");

static __always_inline struct sp_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sp_stats, &zero);
}

/*
 * True when redirecting len more bytes would leave more than sp_budget bytes waiting in the
 * kernel for the peer: redirected so far (done) less what entered the peer's send queue since
 * this side's first skb (its write_seq moved by exactly our redirects: userspace does not
 * write to a socket while the kernel feeds it).
 */
static __always_inline bool over_budget(struct sp_side *side, __u64 done, __u32 len,
					struct sp_stats *st)
{
	__u64 peer = side->peer;
	struct tcp_sock *tp;
	struct bpf_sock *sk;
	__u32 seq, out;

	sk = bpf_map_lookup_elem(&sp_sockhash, &peer);
	if (!sk)
		return false;		/* the redirect fails and pauses the side */
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp) {
		bpf_sk_release(sk);
		return false;
	}
	seq = tp->write_seq;
	bpf_sk_release(sk);
	if (!side->seq_set) {
		side->peer_seq0 = seq - (__u32)done;
		side->seq_set = 1;
	}
	out = seq - side->peer_seq0;
	if (st && (__u32)done - out > st->backlog_max)
		st->backlog_max = (__u32)done - out;
	return (__u32)done - out + len > sp_budget;
}

SEC("sk_skb/stream_verdict")
int sp_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sp_stats *st = stats();
	struct sp_side *side;
	struct sp_flow *f;
	__u64 *bytes, *skbs, *user, *drop, *credit, done, peer;
	__u8 *paused, reason;
	__u32 len = skb->len;

	if (len == 0) {
		/* A FIN alone: redirected, it sets EPIPE on the peer. Userspace sees the EOF. */
		if (st)
			st->fin_dropped++;
		return SK_DROP;
	}
	side = bpf_map_lookup_elem(&sp_sides, &cookie);
	if (!side)
		goto unknown;
	f = bpf_map_lookup_elem(&sp_flows, &side->flow);
	if (!f)
		goto unknown;
	if (side->dir == SP_DIR_C2B) {
		bytes = &f->bytes_c2b;
		skbs = &f->skbs_c2b;
		user = &f->user_c2b;
		drop = &f->drop_c2b;
		paused = &f->paused_c2b;
	} else {
		bytes = &f->bytes_b2c;
		skbs = &f->skbs_b2c;
		user = &f->user_b2c;
		drop = &f->drop_b2c;
		paused = &f->paused_b2c;
	}
	reason = (__u8)side->paused;
	if (reason)
		goto pass;
	/* One socket's skbs are verdicted one at a time (socket lock): plain reads are exact. */
	done = *bytes;
	if (done >= side->limit) {
		__sync_fetch_and_add(drop, len);
		if (st)
			st->dropped++;
		return SK_DROP;
	}
	if (side->limit - done < len) {
		/* The limit ends inside this skb: userspace cuts it. */
		reason = SP_PAUSE_LIMIT;
		goto pause;
	}
	if (sp_budget)
		credit = NULL;
	else
		credit = bpf_map_lookup_elem(&sp_credit, &cookie);
	if ((sp_budget && over_budget(side, done, len, st)) || (credit && done + len > *credit)) {
		/*
		 * The peer is slow: what waits for it in the kernel has no bound of its own.
		 * Passed bytes queue on this socket and close its TCP window instead.
		 */
		reason = SP_PAUSE_BUDGET;
		if (st)
			st->budget_pause++;
		goto pause;
	}
	peer = side->peer;
	if (bpf_sk_redirect_hash(skb, &sp_sockhash, &peer, 0) != SK_PASS) {
		/* Peer gone or not inserted yet: keep the bytes here, in order, for userspace. */
		reason = SP_PAUSE_REDIRECT;
		if (st)
			st->redirect_fail++;
		goto pause;
	}
	__sync_fetch_and_add(bytes, len);
	__sync_fetch_and_add(skbs, 1);
	if (st)
		st->redirected++;
	return SK_PASS;
pause:
	/* For good: later bytes must not overtake the ones passed now. */
	side->paused = reason;
pass:
	if (!*paused)
		*paused = reason;
	__sync_fetch_and_add(user, len);
	if (st)
		st->passed++;
	return SK_PASS;
unknown:
	if (st)
		st->unknown++;
	return SK_PASS;
}
