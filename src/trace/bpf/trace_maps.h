// The layout of the trace maps, shared by the kernel half (trace.bpf.c) and the decoder
// (trace/trace_decode.cpp). Plain C with kernel integer types; every key is zero-filled
// before use, so padding never splits one logical key into two.
#ifndef CONNDOCTOR_TRACE_MAPS_H
#define CONNDOCTOR_TRACE_MAPS_H

// Map sizes (documented in docs/trace.md). Each keyed map has one more slot for the all-zero
// "other" key that takes the counts once the map is full.
#define CD_FAILURES_MAX 16384
#define CD_CHURN_MAX 16384
#define CD_DROPS_MAX 4096
#define CD_RETRANS_MAX 4096
#define CD_CONNS_MAX 65536  // active opens tracked at once (owner + timestamps)

#define CD_MAX_DROP_REASONS 256
#define CD_LIFETIME_BUCKETS 28  // log2 of microseconds: [2^i, 2^(i+1)) µs, the last open-ended

// cd_failure_key.op
#define CD_OP_OTHER 0  // the overflow key
#define CD_OP_CONNECT 1
#define CD_OP_BIND 2
#define CD_OP_SYSCALL 3  // EMFILE/ENFILE: `call` is the syscall number

struct cd_failure_key {
  __u32 pid;  // tgid as the initial pid namespace sees it
  __u32 netns;
  __s32 err;  // positive errno
  __u16 op;
  __u16 call;    // syscall number for CD_OP_SYSCALL
  __u16 family;  // AF_INET, AF_INET6, 0: no address
  __u16 port;    // network byte order
  __u8 addr[16];
  char comm[16];
};

// A destination as seen by one process (churn, SYN retransmits).
struct cd_dest_key {
  __u32 pid;
  __u32 netns;
  __u16 family;
  __u16 port;  // network byte order
  __u8 addr[16];
  char comm[16];
};

struct cd_churn {
  __u64 opened;  // SYN_SENT -> ESTABLISHED
  __u64 closed;  // of those, -> CLOSE
  __u64 local_closed_first;
  __u64 remote_closed_first;
  __u64 lifetime_log2_us[CD_LIFETIME_BUCKETS];
};

struct cd_drop_key {
  __u32 reason;  // enum skb_drop_reason of the running kernel (0: the overflow key)
  __u32 netns;
  __u16 family;
  __u16 port;  // network byte order
  __u8 addr[16];
};

#endif
