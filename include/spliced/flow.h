/* SPDX-License-Identifier: MIT */
/*
 * flow.h: the ABI shared by bpf/splice.bpf.c, userspace/fastpath.c, userspace/tunnel.c and
 * the flow inspector. One copy, fixed-width types, explicit padding; userspace checks the
 * sizes with _Static_assert. Map names are the pin file names under the pin directory.
 *
 * Who writes what (a userspace update rewrites a whole value, so writers are split):
 *  - sp_sides: userspace writes an entry once before the socket enters sp_sockhash; after
 *    that only the BPF program writes it (paused, passed, pauses, the sequence bases).
 *  - sp_ctl: userspace only. relayed: bytes of this socket's direction that userspace wrote
 *    to the peer since the splice (the passed bytes, once relayed); a throttled side resumes
 *    when it equals sp_side.passed. credit: only when the program was loaded without the
 *    in-kernel budget (sp_budget == 0, kernels or privileges without BTF socket access): the
 *    kernel may redirect while redirected + relayed stays within it (bytes the peer's reader
 *    acknowledged + the flow budget); past it the side is throttled.
 *  - sp_flows: userspace writes the entry once before either socket enters sp_sockhash; after
 *    that only the BPF program writes it (counters, paused_*). Flows relayed in userspace
 *    from the start never touch the kernel path, so userspace alone updates their entry.
 */
#ifndef SPLICED_FLOW_H
#define SPLICED_FLOW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Map names (<= 15 characters: the kernel keeps 15 plus NUL). */
#define SP_MAP_SOCKHASH	"sp_sockhash"	/* SOCKHASH: socket cookie -> spliced socket */
#define SP_MAP_SIDES	"sp_sides"	/* HASH: socket cookie -> struct sp_side */
#define SP_MAP_FLOWS	"sp_flows"	/* HASH: flow id (client cookie) -> struct sp_flow */
#define SP_MAP_CTL	"sp_ctl"	/* HASH: socket cookie -> struct sp_ctl (userspace) */
#define SP_MAP_STATS	"sp_stats"	/* PERCPU_ARRAY[1]: struct sp_stats */

#define SP_DEFAULT_MAX_FLOWS	65536	/* sp_flows entries; the socket maps get twice that */
#define SP_LIMIT_NONE		(~0ULL)	/* sp_side.limit: until EOF */

enum sp_dir {
	SP_DIR_C2B = 0,		/* the socket is the client: its bytes go to the backend */
	SP_DIR_B2C = 1,		/* the socket is the backend */
};

/* sp_flow.paused_*: why the kernel passed that direction's bytes to userspace (0: it did not). */
enum sp_pause_reason {
	SP_PAUSE_BUDGET = 1,	/* throttled: the peer holds the budget (slow reader); resumes */
	SP_PAUSE_LIMIT = 2,	/* the byte limit ends inside an skb; for good */
	SP_PAUSE_REDIRECT = 3,	/* peer not in sp_sockhash (not inserted yet, or gone); resumes
				 * once it is there */
	SP_PAUSE_OTHER = 4,	/* paused by userspace, or an overlap the verdict cannot trim */
};

/*
 * Pauses the verdict lifts by itself at the first skb after userspace relayed every passed
 * byte (so nothing is overtaken); the others last until the flow ends.
 */
#define SP_PAUSE_RESUMES(r)	((r) == SP_PAUSE_BUDGET || (r) == SP_PAUSE_REDIRECT)

/* sp_side.flags (BPF only). */
#define SP_SIDE_PEER_BASE	0x1	/* peer_base is valid */
#define SP_SIDE_RCV_NEXT	0x2	/* rcv_next is valid */
#define SP_SIDE_CORRUPT		0x4	/* an overlap could not be trimmed: reset the flow */

enum sp_flow_state {
	SP_FLOW_RELAYED = 1,	/* carried by the userspace relay only */
	SP_FLOW_SPLICED = 2,	/* sockets in sp_sockhash: the kernel carries it */
};

/* Value of sp_sides, one per spliced socket. */
struct sp_side {
	__u64 peer;		/* socket cookie of the other socket of the flow */
	__u64 flow;		/* key in sp_flows */
	__u64 limit;		/* bytes that may still arrive this way (redirected + passed);
				 * SP_LIMIT_NONE */
	__u64 passed;		/* BPF: bytes passed to userspace since the splice */
	__u32 dir;		/* enum sp_dir: direction of the bytes this socket receives */
	__u32 paused;		/* enum sp_pause_reason, or 0. BUDGET and REDIRECT are lifted
				 * by the verdict itself (SP_PAUSE_RESUMES); the others stay */
	__u32 pauses;		/* BPF: times the side was throttled */
	__u32 flags;		/* BPF: SP_SIDE_* */
	__u32 peer_base;	/* BPF: the peer's write_seq at this side's first skb */
	__u32 rcv_next;		/* BPF: end sequence of the last skb verdicted here */
};

/* Value of sp_ctl, one per spliced socket; userspace writes it. */
struct sp_ctl {
	__u64 relayed;		/* bytes userspace wrote to the peer since the splice */
	__u64 credit;		/* credit mode only: redirected + relayed may reach this */
};

/* Value of sp_flows, one per live flow (spliced or relayed). */
struct sp_flow {
	__u64 start_ns;		/* CLOCK_MONOTONIC when the tunnel started */
	__u64 bytes_c2b;	/* redirected by the kernel, client -> backend */
	__u64 bytes_b2c;
	__u64 skbs_c2b;
	__u64 skbs_b2c;
	__u64 user_c2b;		/* carried in userspace: before the splice, or passed once paused */
	__u64 user_b2c;
	__u64 drop_c2b;		/* arrived past the byte limit of that direction: dropped */
	__u64 drop_b2c;
	__u32 frontend_id;
	__u32 backend_id;
	__u32 pid;		/* the daemon process that owns the flow */
	__u8 state;		/* enum sp_flow_state */
	__u8 paused_c2b;	/* enum sp_pause_reason once the kernel passed client bytes */
	__u8 paused_b2c;
	__u8 pad;
	char client[48];	/* "addr:port" of the client, NUL-terminated */
	char backend[48];	/* "addr:port" of the backend */
	char frontend_name[32];	/* truncated names, NUL-terminated */
	char backend_name[32];
};

/* Value of sp_stats (per CPU): what the verdict program did. */
struct sp_stats {
	__u64 redirected;	/* skbs sent to the peer */
	__u64 redirect_fail;	/* peer not in sp_sockhash: passed to userspace, side paused */
	__u64 passed;		/* skbs passed to userspace on a paused side */
	__u64 budget_pause;	/* sides throttled at their budget */
	__u64 backlog_max;	/* most bytes seen in the kernel for one peer (in-kernel budget) */
	__u64 dropped;		/* skbs past the byte limit */
	__u64 fin_dropped;	/* zero-length (FIN) skbs: never redirected */
	__u64 unknown;		/* socket without an sp_sides or sp_flows entry */
	__u64 resumed;		/* throttled sides that went back to redirecting */
	__u64 trimmed;		/* skbs that began with bytes already verdicted (retransmits) */
	__u64 trimmed_bytes;	/* the bytes trimmed off them */
};

#endif
