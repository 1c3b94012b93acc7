// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * splice.bpf.c: the kernel half of the fast path. One sk_skb stream verdict (no parser),
 * attached to the SOCKHASH, sends every skb that arrives on a spliced socket out of the
 * peer socket (egress redirect), so established flows never cross into userspace.
 *
 * The verdict never loses bytes: anything it does not redirect is passed, i.e. queued on
 * the socket itself for the userspace relay, where it closes that socket's TCP window.
 * Three things pass bytes:
 *  - the budget: once the bytes this direction holds for the peer (redirected or passed,
 *    not yet acknowledged by the peer's reader) would exceed it, the side is throttled. It
 *    resumes redirecting by itself at the first skb after every passed byte entered the
 *    peer's send queue (userspace relays them) while the peer has room, so nothing is
 *    overtaken and a slow reader cannot grow kernel memory without bound;
 *  - a failed redirect (the peer is not in the map yet, or closed): the side resumes the
 *    same way once the peer is there;
 *  - a byte limit ending inside an skb: this pauses the side for good (userspace cuts it).
 * Only bytes past a direction's byte limit (the tunnel's "read and dropped") and bare FIN
 * skbs (whose redirect poisons the peer with EPIPE) are dropped. Userspace propagates FIN
 * itself once the peer has drained.
 *
 * The verdict also removes bytes TCP delivers twice: a retransmission that overlaps data
 * already received is queued whole (TCP's own reads skip the old part by copied_seq, the
 * verdict gets the whole skb). Each side remembers where its last skb ended and trims the
 * overlap off the front (measured on 6.18: loopback reordering between the two CPUs makes
 * such retransmissions, about one 1 GiB flow in three duplicated 64 KiB once).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <spliced/flow.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/*
 * Bytes per direction the kernel may hold for a slow peer. Set before load. 0: the budget is
 * enforced through sp_ctl.credit instead, for when the BTF socket access below cannot be
 * loaded (it needs CAP_PERFMON or CAP_SYS_ADMIN); that variant does no overlap trimming.
 */
const volatile __u64 sp_budget = 0;

#define TRIM_STEP	4095	/* bpf_skb_adjust_room() on sk_skb: at most 0xfff per call */
#define TRIM_STEPS	64	/* overlaps up to 256 KiB are trimmed; more resets the flow */

/* The spliced sockets; the verdict is attached here. Key and value: the socket cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 2 * SP_DEFAULT_MAX_FLOWS);
	__type(key, __u64);
	__type(value, __u64);
} sp_sockhash SEC(".maps");

/* Per spliced socket: its peer, its flow, its byte limit, its pause state and counters. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SP_DEFAULT_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sp_side);
} sp_sides SEC(".maps");

/* Per spliced socket, written by userspace only: bytes it relayed, budget credit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SP_DEFAULT_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sp_ctl);
} sp_ctl SEC(".maps");

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

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

static __always_inline struct sp_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sp_stats, &zero);
}

/* The peer's snd_una and write_seq. 0, or -1 when the peer is not in sp_sockhash. */
static __always_inline int peer_seqs(const struct sp_side *side, __u32 *una, __u32 *seq)
{
	__u64 peer = side->peer;
	struct tcp_sock *tp;
	struct bpf_sock *sk;

	sk = bpf_map_lookup_elem(&sp_sockhash, &peer);
	if (!sk)
		return -1;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp) {
		bpf_sk_release(sk);
		return -1;
	}
	*una = tp->snd_una;
	*seq = tp->write_seq;
	bpf_sk_release(sk);
	return 0;
}

/*
 * Make the peer's current write_seq the point where `sent` bytes of this direction end (all
 * of them are in its send queue). 0, or -1 when the peer is not in the map.
 */
static __always_inline int rebase_peer(struct sp_side *side, __u64 sent)
{
	__u32 una, seq;

	if (peer_seqs(side, &una, &seq))
		return -1;
	side->peer_base = seq - (__u32)sent;
	side->flags |= SP_SIDE_PEER_BASE;
	return 0;
}

/*
 * Look at the peer's send side for this direction. sent: bytes this direction took since the
 * splice (redirected + passed). *written: how many of them entered the peer's send queue (by
 * the kernel's worker or by userspace relaying passed bytes). Returns the bytes not yet
 * acknowledged by the peer's reader: the peer's psock queue, its TCP send queue and what
 * waits in userspace, i.e. all the memory a slow reader makes this direction hold.
 * -1: unknown (the peer left sp_sockhash; the redirect then fails and pauses the side).
 */
static __always_inline __s64 held_for_peer(struct sp_side *side, __u64 sent, __u64 *written)
{
	__u32 una, seq;
	__s32 acked;

	if (peer_seqs(side, &una, &seq))
		return -1;
	if (!(side->flags & SP_SIDE_PEER_BASE)) {
		/* First skb: nothing of this direction was written yet, it starts here. */
		side->peer_base = seq;
		side->flags |= SP_SIDE_PEER_BASE;
	}
	*written = (__u32)(seq - side->peer_base);
	acked = (__s32)(una - side->peer_base);
	if (acked < 0)
		acked = 0;		/* bytes from before the splice are still unacknowledged */
	return (__s64)sent - acked;
}

/*
 * Trim what this side's earlier skbs already carried off the front of skb. Returns the
 * bytes trimmed, or -1 when the overlap cannot be trimmed (the flow must be reset).
 */
static __always_inline int trim_overlap(struct __sk_buff *skb, struct sp_side *side,
					__u64 cookie)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	__u32 cb[2] = {}, off, left;

	if (bpf_probe_read_kernel(cb, sizeof(cb), kskb->cb))
		return -1;
	if (!(side->flags & SP_SIDE_RCV_NEXT)) {
		struct bpf_sock *sk = bpf_map_lookup_elem(&sp_sockhash, &cookie);
		struct tcp_sock *me;

		/* First skb: everything before copied_seq was read by userspace already. */
		side->rcv_next = cb[0];
		if (sk) {
			me = bpf_skc_to_tcp_sock(sk);
			if (me)
				side->rcv_next = me->copied_seq;
			bpf_sk_release(sk);
		}
		side->flags |= SP_SIDE_RCV_NEXT;
	}
	off = side->rcv_next - cb[0];
	if ((__s32)off <= 0) {
		side->rcv_next = cb[1];		/* end_seq */
		return 0;
	}
	if (off >= skb->len || off > TRIM_STEP * TRIM_STEPS)
		return -1;
	left = off;
	for (int i = 0; i < TRIM_STEPS && left; i++) {
		__u32 n = left > TRIM_STEP ? TRIM_STEP : left;

		if (bpf_skb_adjust_room(skb, -(__s32)n, 0, 0))
			return -1;
		left -= n;
	}
	if (left)
		return -1;
	side->rcv_next = cb[1];
	return (int)off;
}

SEC("sk_skb/stream_verdict")
int sp_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sp_stats *st = stats();
	struct sp_side *side;
	struct sp_ctl *ctl;
	struct sp_flow *f;
	__u64 *bytes, *skbs, *user, *drop, done, peer, relayed;
	__u8 *paused, reason;
	__u32 len = skb->len;
	__s64 held;

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
	if (sp_budget) {
		int trimmed = trim_overlap(skb, side, cookie);

		if (trimmed < 0) {
			/* Cannot make the stream right: pass it and let userspace reset. */
			side->flags |= SP_SIDE_CORRUPT;
			reason = SP_PAUSE_OTHER;
			goto pause;
		}
		if (trimmed && st) {
			st->trimmed++;
			st->trimmed_bytes += trimmed;
		}
		len = skb->len;
	}
	reason = (__u8)side->paused;
	if (reason && !SP_PAUSE_RESUMES(reason))
		goto pass;		/* paused for good */
	/* One socket's skbs are verdicted one at a time (socket lock): plain reads are exact. */
	done = *bytes;
	if (done + side->passed >= side->limit) {
		__sync_fetch_and_add(drop, len);
		if (st)
			st->dropped++;
		return SK_DROP;
	}
	if (side->limit - done - side->passed < len) {
		/* The limit ends inside this skb: userspace cuts it. */
		reason = SP_PAUSE_LIMIT;
		goto pause;
	}
	if (sp_budget) {
		__u64 written = 0;

		if (reason == SP_PAUSE_REDIRECT) {
			/*
			 * The peer was missing, so where this direction starts in its send queue
			 * may have been taken after userspace began relaying. Resume on userspace's
			 * own count (reported after its writes); the peer's queue then holds
			 * exactly this direction's bytes since the splice: count from there.
			 */
			ctl = bpf_map_lookup_elem(&sp_ctl, &cookie);
			if (!ctl || ctl->relayed != side->passed ||
			    rebase_peer(side, done + side->passed))
				goto pass;
		}
		held = held_for_peer(side, done + side->passed, &written);
		/*
		 * Throttled: resume only once every passed byte entered the peer's send queue
		 * (userspace relayed them all, after the kernel's own), so nothing overtakes.
		 */
		if (reason == SP_PAUSE_BUDGET && held >= 0 && written != done + side->passed)
			goto pass;
		if (held >= 0 && (__u64)held + len > sp_budget)
			goto throttle;
		if (st && held >= 0 && (__u64)held + len > st->backlog_max)
			st->backlog_max = (__u64)held + len;
	} else {
		/* Credit mode: userspace reports what it relayed and how far the kernel may go. */
		ctl = bpf_map_lookup_elem(&sp_ctl, &cookie);
		relayed = ctl ? ctl->relayed : 0;
		if (SP_PAUSE_RESUMES(reason) && relayed != side->passed)
			goto pass;
		if (!ctl || done + relayed + len > ctl->credit)
			goto throttle;
	}
	peer = side->peer;
	if (bpf_sk_redirect_hash(skb, &sp_sockhash, &peer, 0) != SK_PASS) {
		/*
		 * Peer not in the map: not inserted yet (a tunnel's first socket goes in
		 * first, and its sender may talk at once), or closed. Keep the bytes here, in
		 * order, for userspace; like a throttle, the side resumes once they are all
		 * relayed and the peer is there.
		 */
		if (st)
			st->redirect_fail++;
		if (side->paused)
			goto pass;
		reason = SP_PAUSE_REDIRECT;
		goto pause;
	}
	if (side->paused) {
		side->paused = 0;
		if (st)
			st->resumed++;
	}
	__sync_fetch_and_add(bytes, len);
	__sync_fetch_and_add(skbs, 1);
	if (st)
		st->redirected++;
	return SK_PASS;
throttle:
	/*
	 * The peer is slow: what waits for it in the kernel has no bound of its own. Passed
	 * bytes queue on this socket and close its TCP window instead.
	 */
	if (side->paused == SP_PAUSE_BUDGET)
		goto pass;
	reason = SP_PAUSE_BUDGET;
	side->pauses++;
	if (st)
		st->budget_pause++;
pause:
	/* Later bytes must not overtake the ones passed now: see the resume rule above. */
	side->paused = reason;
pass:
	if (!*paused)
		*paused = reason;
	side->passed += len;
	__sync_fetch_and_add(user, len);
	if (st)
		st->passed++;
	return SK_PASS;
unknown:
	if (st)
		st->unknown++;
	return SK_PASS;
}
