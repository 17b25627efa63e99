// Kernel half of the one-pass socket scan (collect/bpf_ehash_walk.cpp): walks the TCP
// established hash (ehash) of the running kernel once and writes one record per socket in it
// — established and every later state, TIME_WAIT, SYN_SENT and SYN_RECV requests — tagged
// with the socket's network namespace.
//
// Why: all network namespaces share one ehash (unless net.ipv4.tcp_child_ehash_entries was set
// before they were created), and a sock_diag dump of a namespace walks all of it, skipping the
// other namespaces' sockets. One dump per namespace thus costs namespaces × host sockets; this
// walk costs host sockets once. Listeners, bound-but-inactive and UDP sockets stay with
// sock_diag: those requests do not walk the ehash.
//
// The program is run on demand (BPF_PROG_TEST_RUN of a raw tracepoint program: it runs in
// the caller's context under rcu_read_lock(), attached to nothing). Each run walks buckets
// from `start_bucket` until the output array is nearly full and says where to go on. The
// table is read without its bucket locks, as /proc/net/tcp's lockless readers would:
// a socket that moves while it is read may be missed or seen twice, and a bucket whose chain
// ends in another bucket's nulls marker (the socket was rehashed mid-walk) is reported in
// `moved_chains`, so that user space can take the walk again, as it does for sock_diag's
// NLM_F_DUMP_INTR.
//
// No vmlinux.h: the kernel types read here are declared below with preserve_access_index, so
// libbpf relocates every field against the running kernel's BTF.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct hlist_nulls_node {
  struct hlist_nulls_node* next;
};
struct hlist_nulls_head {
  struct hlist_nulls_node* first;
};
struct inet_ehash_bucket {
  struct hlist_nulls_head chain;
};
struct hlist_node {
  struct hlist_node* next;
};
struct hlist_head {
  struct hlist_node* first;
};
struct inet_bind_hashbucket {
  int lock;  // spinlock_t: only its size matters, and bpf_core_type_size() takes the kernel's
  struct hlist_head chain;
};
struct inet_bind2_bucket {
  struct hlist_node node;
  struct hlist_head owners;
};
struct inet_hashinfo {
  struct inet_ehash_bucket* ehash;
  unsigned int ehash_mask;
  struct inet_bind_hashbucket* bhash2;
  unsigned int bhash_size;
  bool pernet;
};
struct inet_timewait_death_row {
  struct inet_hashinfo* hashinfo;
};
struct netns_ipv4 {
  struct inet_timewait_death_row tcp_death_row;
};
struct ns_common {
  unsigned int inum;
};
struct net {
  struct ns_common ns;
  struct netns_ipv4 ipv4;
};
struct nsproxy {
  struct net* net_ns;
};
struct task_struct {
  struct nsproxy* nsproxy;
};
struct in6_addr {
  __u8 s6_addr[16];
};
typedef struct {
  struct net* net;
} possible_net_t;
struct sock_common {
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  __be16 skc_dport;
  __u16 skc_num;
  unsigned short skc_family;
  volatile unsigned char skc_state;
  possible_net_t skc_net;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
  struct sock* skc_listener;
  struct hlist_nulls_node skc_nulls_node;
  struct hlist_node skc_bind_node;
};
typedef struct {
  __u32 val;
} kuid_t;
struct inode {
  unsigned long i_ino;
};
struct socket {
  short type;
};
struct socket_alloc {
  struct socket socket;
  struct inode vfs_inode;
};
struct sock {
  struct sock_common __sk_common;
  struct hlist_node sk_bind2_node;  // 6.1-6.7: a bind2 bucket's owners are linked here
  struct socket* sk_socket;
  kuid_t sk_uid;
  __u32 sk_ack_backlog;
  __u32 sk_max_ack_backlog;
};
struct inet_connection_sock {
  __u8 icsk_retransmits;
};
struct tcp_sock {
  __u32 rcv_nxt;
  __u32 copied_seq;
  __u32 write_seq;
  __u32 snd_una;
};
struct timer_list {
  unsigned long expires;
};
struct inet_timewait_sock {
  struct timer_list tw_timer;
};
struct request_sock {
  struct timer_list rsk_timer;
};
#pragma clang attribute pop

#define CD_AF_INET6 10
enum {
  CD_TCP_CLOSE = 7,
  CD_TCP_SYN_SENT = 2,
  CD_TCP_TIME_WAIT = 6,
  CD_TCP_LISTEN = 10,
  CD_TCP_NEW_SYN_RECV = 12,
  CD_TCP_SYN_RECV = 3,
};

// Must match EhashRecord in bpf_ehash_walk.cpp (64 bytes).
struct ehash_record {
  __u32 netns;  // the socket's network namespace (nsfs inode)
  __u8 family;
  __u8 state;  // as sock_diag reports it: a request (NEW_SYN_RECV) is SYN_RECV
  __u8 timer;  // as sock_diag: 1 SYN_SENT and requests (retransmit), 3 TIME_WAIT, else 0
  __u8 retrans;
  __u8 saddr[16];
  __u8 daddr[16];
  __u16 sport;  // host order
  __u16 dport;  // host order
  __u32 inode;  // 0 for TIME_WAIT and requests
  __u32 uid;
  __u32 rqueue;
  __u32 wqueue;
  __u32 expires_ms;  // TIME_WAIT and requests: time left on the timer
};

#define CD_RECORDS 16384   // power of two
#define CD_MAX_CHAIN 64    // sockets read per bucket; a longer chain is counted in `long_chains`
#define CD_MAX_BIND2 1024  // bind2 buckets (port, address, netns) per bhash2 chain
#define CD_MAX_OWNERS (1 << 22)  // sockets bound to one (port, address): a listener's children too
#define CD_BIND_ROOM 1024        // free records a bind bucket is started with

// Inputs, set by user space before each run.
__u32 start_bucket = 0;
// Outputs of the last run (of either program).
struct ehash_record records[CD_RECORDS];
__u32 count = 0;
__u32 next_bucket = 0;  // where the next run starts; == buckets when the walk is done
__u32 buckets = 0;      // ehash_mask + 1 (ehash_walk) or bhash_size (bind_walk) of the table
__u32 walker_netns = 0;
__u32 pernet = 0;        // the walked table is a namespace's own (tcp_child_ehash_entries)
__u32 moved_chains = 0;  // chains that ended in another bucket's nulls marker
__u32 long_chains = 0;   // chains cut at CD_MAX_CHAIN / CD_MAX_BIND2 / CD_MAX_OWNERS, or no room
__u32 read_errors = 0;   // probe reads that failed (a socket freed and reused meanwhile)
__u32 hz = 0;            // CONFIG_HZ as libbpf read it (0: unknown, timers cannot be converted)

extern unsigned int CONFIG_HZ __kconfig __weak;

struct walk_ctx {
  struct inet_ehash_bucket* ehash;
  __u64 now;  // jiffies
  __u32 bucket;
  __u64 node;  // the chain's current node (a nulls marker ends it)
  bool stop;
};

static __always_inline __u32 ms_left(unsigned long expires, __u64 now) {
  __s64 d = (__s64)(expires - now);
  if (d <= 0 || CONFIG_HZ == 0) return 0;
  return (__u32)((__u64)d * 1000 / CONFIG_HZ);
}

static __always_inline void fill(struct ehash_record* r, __u64 skp, __u64 now) {
  struct sock_common* sk = (struct sock_common*)skp;
  __u8 state = BPF_CORE_READ(sk, skc_state);
  __u16 family = BPF_CORE_READ(sk, skc_family);
  r->netns = BPF_CORE_READ(sk, skc_net.net, ns.inum);
  r->family = (__u8)family;
  r->state = state == CD_TCP_NEW_SYN_RECV ? CD_TCP_SYN_RECV : state;
  r->timer = 0;
  r->retrans = 0;
  r->sport = BPF_CORE_READ(sk, skc_num);
  r->dport = __builtin_bswap16(BPF_CORE_READ(sk, skc_dport));
  __builtin_memset(r->saddr, 0, sizeof r->saddr);
  __builtin_memset(r->daddr, 0, sizeof r->daddr);
  if (family == CD_AF_INET6) {
    bpf_core_read(r->saddr, 16, &sk->skc_v6_rcv_saddr);
    bpf_core_read(r->daddr, 16, &sk->skc_v6_daddr);
  } else {
    bpf_core_read(r->saddr, 4, &sk->skc_rcv_saddr);
    bpf_core_read(r->daddr, 4, &sk->skc_daddr);
  }
  r->inode = 0;
  r->uid = 0;
  r->rqueue = 0;
  r->wqueue = 0;
  r->expires_ms = 0;
  if (state == CD_TCP_TIME_WAIT) {
    r->timer = 3;  // as inet_twsk_diag_fill() says
    r->expires_ms = ms_left(BPF_CORE_READ((struct inet_timewait_sock*)skp, tw_timer.expires), now);
    return;
  }
  if (state == CD_TCP_NEW_SYN_RECV) {
    r->timer = 1;  // as inet_req_diag_fill() says
    r->expires_ms = ms_left(BPF_CORE_READ((struct request_sock*)skp, rsk_timer.expires), now);
    struct sock* listener = BPF_CORE_READ(sk, skc_listener);
    if (listener) r->uid = BPF_CORE_READ(listener, sk_uid.val);
    return;
  }
  struct sock* full = (struct sock*)skp;
  r->uid = BPF_CORE_READ(full, sk_uid.val);
  struct socket* so = BPF_CORE_READ(full, sk_socket);
  if (so) {
    struct socket_alloc* a =
        (struct socket_alloc*)((char*)so - bpf_core_field_offset(struct socket_alloc, socket));
    r->inode = (__u32)BPF_CORE_READ(a, vfs_inode.i_ino);
  }
  struct tcp_sock* tp = (struct tcp_sock*)skp;
  __s32 rq = (__s32)(BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq));
  r->rqueue = rq > 0 ? (__u32)rq : 0;
  r->wqueue = BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una);
  if (state == CD_TCP_SYN_SENT) {
    r->timer = 1;
    r->retrans = BPF_CORE_READ((struct inet_connection_sock*)skp, icsk_retransmits);
  }
}

// One socket of the current chain; stops at the chain's nulls marker.
static long chain_step(__u32 i, struct walk_ctx* c) {
  __u64 node = c->node;
  if (node & 1) {
    // A nulls marker holds its bucket's number: another one means the last socket read was
    // moved to another chain while we walked (SLAB_TYPESAFE_BY_RCU): part of this chain unseen.
    if ((__u32)(node >> 1) != c->bucket) __sync_fetch_and_add(&moved_chains, 1);
    return 1;
  }
  if (i == CD_MAX_CHAIN - 1) __sync_fetch_and_add(&long_chains, 1);
  __u64 sk = node - bpf_core_field_offset(struct sock_common, skc_nulls_node);
  __u32 idx = count;
  if (idx >= CD_RECORDS) {
    c->stop = 1;
    return 1;
  }
  fill(&records[idx & (CD_RECORDS - 1)], sk, c->now);
  count = idx + 1;
  struct hlist_nulls_node* next = 0;
  if (bpf_probe_read_kernel(&next, sizeof next, &((struct hlist_nulls_node*)node)->next) != 0) {
    __sync_fetch_and_add(&read_errors, 1);
    return 1;
  }
  c->node = (__u64)next;
  return 0;
}

static long bucket_step(__u32 i, struct walk_ctx* c) {
  __u32 b = start_bucket + i;
  if (b >= buckets || count > CD_RECORDS - CD_MAX_CHAIN) return 1;
  struct hlist_nulls_node* first = 0;
  const __u64 at = (__u64)c->ehash + (__u64)b * bpf_core_type_size(struct inet_ehash_bucket) +
                   bpf_core_field_offset(struct inet_ehash_bucket, chain);
  if (bpf_probe_read_kernel(&first, sizeof first, (void*)at) != 0) {
    __sync_fetch_and_add(&read_errors, 1);
    next_bucket = b + 1;
    return 0;
  }
  c->bucket = b;
  c->node = (__u64)first;
  bpf_loop(CD_MAX_CHAIN, chain_step, c, 0);
  next_bucket = b + 1;
  return c->stop ? 1 : 0;
}

SEC("raw_tp")
int ehash_walk(void* ctx) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct net* net = BPF_CORE_READ(task, nsproxy, net_ns);
  struct inet_hashinfo* h = BPF_CORE_READ(net, ipv4.tcp_death_row.hashinfo);
  if (!h) return 1;
  walker_netns = BPF_CORE_READ(net, ns.inum);
  hz = CONFIG_HZ;
  if (bpf_core_field_exists(h->pernet)) pernet = BPF_CORE_READ(h, pernet);
  buckets = BPF_CORE_READ(h, ehash_mask) + 1;
  count = 0;
  next_bucket = start_bucket;
  struct walk_ctx c = {.ehash = BPF_CORE_READ(h, ehash), .now = bpf_jiffies64(), .stop = 0};
  if (start_bucket >= buckets) {
    next_bucket = buckets;
    return 0;
  }
  bpf_loop(buckets - start_bucket, bucket_step, &c, 0);
  return 0;
}

// --- Bound-but-inactive sockets (bind_walk) ------------------------------------------------
// sock_diag finds them (TCP_BOUND_INACTIVE, 6.10+) by walking the whole bind hash (bhash2:
// one bucket per port, address and namespace, each listing the sockets bound to it, a
// listener's accepted children included), skipping other namespaces: as costly per namespace
// as the established hash. This walks it once: every owner in state CLOSE with a local port
// is a socket bound and neither connected nor listening.

struct bind_ctx {
  struct inet_bind_hashbucket* bhash2;
  __u64 now;
  __u64 owner_off;  // offset of the owners' list node in struct sock
  __u64 tb;         // the chain's current bind2 bucket (its `node`)
  __u64 owner;      // the bucket's current owner (its list node)
  int stop;
};

static long owner_step(__u32 i, struct bind_ctx* c) {
  __u64 node = c->owner;
  if (!node) return 1;
  if (i == CD_MAX_OWNERS - 1) __sync_fetch_and_add(&long_chains, 1);
  __u64 skp = node - c->owner_off;
  struct sock_common* sk = (struct sock_common*)skp;
  if (BPF_CORE_READ(sk, skc_state) == CD_TCP_CLOSE && BPF_CORE_READ(sk, skc_num) != 0) {
    __u32 idx = count;
    if (idx >= CD_RECORDS) {
      __sync_fetch_and_add(&long_chains, 1);
      c->stop = 1;
      return 1;
    }
    fill(&records[idx & (CD_RECORDS - 1)], skp, c->now);
    count = idx + 1;
  }
  struct hlist_node* next = 0;
  if (bpf_probe_read_kernel(&next, sizeof next, &((struct hlist_node*)node)->next) != 0) {
    __sync_fetch_and_add(&read_errors, 1);
    return 1;
  }
  c->owner = (__u64)next;
  return 0;
}

static long bind2_step(__u32 i, struct bind_ctx* c) {
  __u64 node = c->tb;
  if (!node || c->stop) return 1;
  if (i == CD_MAX_BIND2 - 1) __sync_fetch_and_add(&long_chains, 1);
  struct inet_bind2_bucket* tb =
      (struct inet_bind2_bucket*)(node - bpf_core_field_offset(struct inet_bind2_bucket, node));
  c->owner = (__u64)BPF_CORE_READ(tb, owners.first);
  bpf_loop(CD_MAX_OWNERS, owner_step, c, 0);
  struct hlist_node* next = 0;
  if (bpf_probe_read_kernel(&next, sizeof next, &((struct hlist_node*)node)->next) != 0) {
    __sync_fetch_and_add(&read_errors, 1);
    return 1;
  }
  c->tb = (__u64)next;
  return 0;
}

static long bind_bucket_step(__u32 i, struct bind_ctx* c) {
  __u32 b = start_bucket + i;
  if (b >= buckets || count > CD_RECORDS - CD_BIND_ROOM) return 1;
  struct hlist_node* first = 0;
  // The stride is the kernel's size of a bucket (its spinlock's size depends on the config),
  // not this file's declaration: relocated like the fields.
  const __u64 at = (__u64)c->bhash2 + (__u64)b * bpf_core_type_size(struct inet_bind_hashbucket) +
                   bpf_core_field_offset(struct inet_bind_hashbucket, chain);
  if (bpf_probe_read_kernel(&first, sizeof first, (void*)at) != 0) {
    __sync_fetch_and_add(&read_errors, 1);
    next_bucket = b + 1;
    return 0;
  }
  c->tb = (__u64)first;
  bpf_loop(CD_MAX_BIND2, bind2_step, c, 0);
  next_bucket = b + 1;
  return c->stop ? 1 : 0;
}

// Returns 2 when the kernel has no bhash2 (before 6.1): bound-inactive sockets are then asked
// of sock_diag (which cannot tell them before 6.10 either).
SEC("raw_tp")
int bind_walk(void* ctx) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct net* net = BPF_CORE_READ(task, nsproxy, net_ns);
  struct inet_hashinfo* h = BPF_CORE_READ(net, ipv4.tcp_death_row.hashinfo);
  if (!h) return 1;
  if (!bpf_core_field_exists(h->bhash2)) return 2;
  walker_netns = BPF_CORE_READ(net, ns.inum);
  hz = CONFIG_HZ;
  if (bpf_core_field_exists(h->pernet)) pernet = BPF_CORE_READ(h, pernet);
  buckets = BPF_CORE_READ(h, bhash_size);
  count = 0;
  next_bucket = start_bucket;
  struct bind_ctx c = {.bhash2 = BPF_CORE_READ(h, bhash2), .now = bpf_jiffies64(), .stop = 0};
  // 6.8+ links a bind2 bucket's owners through sk_bind_node (skc_bind_node), 6.1-6.7 through
  // sk_bind2_node.
  if (bpf_core_field_exists(((struct sock*)0)->sk_bind2_node))
    c.owner_off = bpf_core_field_offset(struct sock, sk_bind2_node);
  else
    c.owner_off = bpf_core_field_offset(struct sock_common, skc_bind_node);
  if (start_bucket >= buckets) {
    next_bucket = buckets;
    return 0;
  }
  bpf_loop(buckets - start_bucket, bind_bucket_step, &c, 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
