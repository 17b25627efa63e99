// Kernel half of `conndoctor trace` (trace/tracer.cpp loads it, trace/trace_decode.cpp reads
// its maps): counts failed connects, EMFILE/ENFILE, failed bind(port 0), connection churn,
// resource drops and SYN retransmits in hash maps aggregated by key. Nothing is streamed per
// event, so the cost stays flat under a storm: each event is one map lookup and an atomic add.
//
// Every map is bounded. User space inserts each map's "other" key (all zeros) before the
// programs attach; when a map is full, bpf_map_update_elem() fails with E2BIG and the count
// goes to that key instead, so no event is lost, only its key (trace_decode names it in
// `missing`).
//
// No vmlinux.h, as in collect/bpf/task_files.bpf.c: the kernel types read here are declared
// below with preserve_access_index, and libbpf relocates each field against the running
// kernel's BTF (anonymous unions such as the one around skc_dport are matched by name).

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

// From include/uapi/linux/bpf.h (not included: it drags in the host's asm/ headers).
enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_LRU_HASH = 9 };
enum { BPF_ANY = 0, BPF_NOEXIST = 1 };

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "trace_maps.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct ns_common {
  unsigned int inum;
};
struct net {
  struct ns_common ns;
};
typedef struct {
  struct net* net;
} possible_net_t;
struct in6_addr {
  union {
    __u8 u6_addr8[16];
  } in6_u;
};
struct sock_common {
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  __be16 skc_dport;
  __u16 skc_num;
  unsigned short skc_family;
  volatile unsigned char skc_state;
  possible_net_t skc_net;
  struct in6_addr skc_v6_daddr;
};
struct sock {
  struct sock_common __sk_common;
  int sk_err;
};
struct socket {
  struct sock* sk;
};
struct file {
  void* private_data;
};
struct nsproxy {
  struct net* net_ns;
};
struct task_struct {
  struct nsproxy* nsproxy;
};
struct pt_regs {  // x86-64
  unsigned long si;
  unsigned long orig_ax;
};
struct net_device {
  possible_net_t nd_net;
};
struct sk_buff {
  struct net_device* dev;
  struct sock* sk;
  unsigned char* head;
  __u16 transport_header;
  __u16 network_header;
};
#pragma clang attribute pop

#define CD_AF_INET 2
#define CD_AF_INET6 10
#define CD_EINPROGRESS 115
#define CD_EALREADY 114
#define CD_EISCONN 106
#define CD_EMFILE 24
#define CD_ENFILE 23
#define CD_EEXIST 17
#define CD_IPPROTO_TCP 6
#define CD_IPPROTO_UDP 17
// include/net/tcp_states.h
#define CD_TCP_ESTABLISHED 1
#define CD_TCP_SYN_SENT 2
#define CD_TCP_FIN_WAIT1 4
#define CD_TCP_CLOSE 7
#define CD_TCP_CLOSE_WAIT 8
// arch/x86/entry/syscalls/syscall_64.tbl
#define CD_NR_CONNECT 42
#define CD_NR_BIND 49

// Set by user space before load. netns_only: count only this namespace (0: every one).
const volatile __u32 netns_only = 0;
// drop_wanted[reason]: the skb_drop_reason values that mean a resource ran out; their numbers
// differ between kernels, so user space looks them up by name in the kernel's BTF.
const volatile __u8 drop_wanted[CD_MAX_DROP_REASONS] = {};

// Events that could not be keyed (a full connection table): told in `missing`.
__u64 conns_untracked = 0;
// Entries found stale (their socket's CLOSE was not seen): told in `missing`.
__u64 conns_stale = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CD_FAILURES_MAX + 1);
  __type(key, struct cd_failure_key);
  __type(value, __u64);
} failures SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CD_CHURN_MAX + 1);
  __type(key, struct cd_dest_key);
  __type(value, struct cd_churn);
} churn SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CD_DROPS_MAX + 1);
  __type(key, struct cd_drop_key);
  __type(value, __u64);
} drops SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CD_RETRANS_MAX + 1);
  __type(key, struct cd_dest_key);
  __type(value, __u64);
} syn_retrans SEC(".maps");

// Active opens in flight or established since tracing began, by struct sock address: the
// owner (the process in connect(): later transitions run in softirq context, where "current"
// is whoever was interrupted) and the timestamps the lifetime histogram needs. A preallocated
// hash rather than socket storage (BPF_MAP_TYPE_SK_STORAGE): socket storage costs two
// allocations per connection and a free when the socket is destroyed, more than one insert
// and one delete in a preallocated table for short connections.
// The churn key is built once, at CLOSE -> SYN_SENT (tcp_v4_connect() and tcp_v6_connect()
// set the destination before that transition), so later transitions neither read the socket
// again nor rebuild it.
struct conn {
  __u64 established_ns;
  __u32 tid;  // the thread in connect(): a blocking connect() returns the error to it
  __u8 established;
  __u8 pad[3];
  struct cd_dest_key key;  // owner, netns, destination
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CD_CONNS_MAX);
  __type(key, __u64);
  __type(value, struct conn);
} conns SEC(".maps");

// Asynchronous connect failures counted from the state change, per (owner thread, errno)
// and not yet returned by a connect() call: a blocking connect() (or a second connect() on a
// non-blocking socket) returns the same error from the syscall, which must not count it twice.
// LRU: callers that read the error with getsockopt(SO_ERROR) never consume their entry.
struct cd_pending_key {
  __u32 tid;
  __s32 err;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct cd_pending_key);
  __type(value, __u32);
} async_pending SEC(".maps");

static const struct cd_churn zero_churn = {};
static const __u64 one = 1;

static __always_inline void count_in(void* map, const void* key) {
  __u64* v = bpf_map_lookup_elem(map, key);
  if (v) {
    __sync_fetch_and_add(v, 1);
    return;
  }
  long err = bpf_map_update_elem(map, key, &one, BPF_NOEXIST);
  if (err == 0) return;
  if (err == -CD_EEXIST) {  // another CPU inserted it meanwhile
    v = bpf_map_lookup_elem(map, key);
    if (v) {
      __sync_fetch_and_add(v, 1);
      return;
    }
  }
  // Full: the all-zero "other" key, inserted by user space before attaching.
  __u8 other[64] = {};
  v = bpf_map_lookup_elem(map, other);
  if (v) __sync_fetch_and_add(v, 1);
}

static __always_inline struct cd_churn* churn_entry(const struct cd_dest_key* key) {
  struct cd_churn* v = bpf_map_lookup_elem(&churn, key);
  if (v) return v;
  bpf_map_update_elem(&churn, key, &zero_churn, BPF_NOEXIST);
  v = bpf_map_lookup_elem(&churn, key);
  if (v) return v;
  struct cd_dest_key other = {};
  return bpf_map_lookup_elem(&churn, &other);
}

static __always_inline __u32 net_inum(struct net* net) {
  return BPF_CORE_READ(net, ns.inum);
}

static __always_inline __u32 current_netns(void) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

static __always_inline int netns_skipped(__u32 inum) {
  return netns_only != 0 && inum != netns_only;
}

// The destination of a connected (or connecting) socket.
static __always_inline void sk_destination(struct sock* sk, __u16* family, __u16* port,
                                           __u8 addr[16]) {
  *family = BPF_CORE_READ(sk, __sk_common.skc_family);
  *port = BPF_CORE_READ(sk, __sk_common.skc_dport);
  if (*family == CD_AF_INET) {
    __be32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(addr, &a, 4);
  } else {
    BPF_CORE_READ_INTO(addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
}

// The sockaddr a connect() or bind() caller passed (still in its memory at syscall exit).
static __always_inline int read_user_sockaddr(const void* sa, __u16* family, __u16* port,
                                              __u8 addr[16]) {
  __u8 raw[24] = {};
  if (bpf_probe_read_user(raw, sizeof raw, sa) != 0) return -1;
  __u16 f;
  __builtin_memcpy(&f, raw, 2);
  if (f != CD_AF_INET && f != CD_AF_INET6) return -1;
  *family = f;
  __builtin_memcpy(port, raw + 2, 2);  // sin_port and sin6_port: both at offset 2
  if (f == CD_AF_INET)
    __builtin_memcpy(addr, raw + 4, 4);
  else
    __builtin_memcpy(addr, raw + 8, 16);
  return 0;
}

static __always_inline void fill_owner(__u32* pid, char comm[16]) {
  *pid = bpf_get_current_pid_tgid() >> 32;
  bpf_get_current_comm(comm, 16);
}

// One program at the exit of every system call [trace_sys_exit()], because fentry/fexit are
// not available on every kernel (this project's VM refuses them with EPERM):
// - EMFILE / ENFILE from any call: only calls that create an fd return them, so these exits
//   are exactly the fd-exhaustion failures; orig_ax (the syscall number) names the call.
// - connect() and bind() failures. The arguments are still in the saved registers (the
//   kernel writes only ax on return), so the address is read back from the caller's memory.
//   connect() returning EINPROGRESS is not a failure: its outcome is counted from the state
//   change below, and so is every error that surfaces through sk_err (a blocking connect()
//   returning ETIMEDOUT, ECONNREFUSED, ...), which async_pending keeps from counting twice.
SEC("tp_btf/sys_exit")
int cdt_sys_exit(__u64* ctx) {
  long ret = (long)ctx[1];
  if (ret >= 0 || ret <= -512) return 0;  // success, or ERESTART* (the call is restarted)
  struct pt_regs* regs = (struct pt_regs*)ctx[0];
  long nr = BPF_CORE_READ(regs, orig_ax);
  struct cd_failure_key k = {};
  if (ret == -CD_EMFILE || ret == -CD_ENFILE) {
    k.op = CD_OP_SYSCALL;
    k.call = (__u16)nr;
  } else if (nr == CD_NR_CONNECT && ret != -CD_EINPROGRESS && ret != -CD_EALREADY &&
             ret != -CD_EISCONN) {
    // EALREADY / EISCONN: a non-blocking caller asking again about a connect in progress or
    // done; not failures.
    struct cd_pending_key pk = {.tid = (__u32)bpf_get_current_pid_tgid(), .err = (__s32)-ret};
    __u32* pending = bpf_map_lookup_elem(&async_pending, &pk);
    if (pending && *pending > 0) {
      __sync_fetch_and_add(pending, -1);
      return 0;  // already counted when the error reached the socket
    }
    k.op = CD_OP_CONNECT;
  } else if (nr == CD_NR_BIND) {
    k.op = CD_OP_BIND;
  } else {
    return 0;
  }
  k.netns = current_netns();
  if (netns_skipped(k.netns)) return 0;
  if (k.op != CD_OP_SYSCALL) {
    void* uaddr = (void*)BPF_CORE_READ(regs, si);
    if (read_user_sockaddr(uaddr, &k.family, &k.port, k.addr) != 0) return 0;
    if (k.op == CD_OP_BIND && k.port != 0) return 0;  // only bind(port 0): the pool ran out
  }
  k.err = (__s32)-ret;
  fill_owner(&k.pid, k.comm);
  count_in(&failures, &k);
  return 0;
}

static __always_inline __u32 log2_bucket(__u64 v) {
  __u32 b = 0;
  if (v >> 32) {
    v >>= 32;
    b += 32;
  }
  if (v >> 16) {
    v >>= 16;
    b += 16;
  }
  if (v >> 8) {
    v >>= 8;
    b += 8;
  }
  if (v >> 4) {
    v >>= 4;
    b += 4;
  }
  if (v >> 2) {
    v >>= 2;
    b += 2;
  }
  if (v >> 1) b += 1;
  return b < CD_LIFETIME_BUCKETS ? b : CD_LIFETIME_BUCKETS - 1;
}

// Every TCP state change [tcp_set_state()]: the owner is recorded at CLOSE -> SYN_SENT (still
// in connect(), in the caller's context); everything after is keyed by the socket.
SEC("tp_btf/inet_sock_set_state")
int cdt_set_state(__u64* ctx) {
  struct sock* sk = (struct sock*)ctx[0];
  int oldstate = (int)ctx[1];
  int newstate = (int)ctx[2];
  __u64 skp = (__u64)sk;

  // Most transitions of a storm are of no interest (the passive side's SYN_RECV ->
  // ESTABLISHED, FIN_WAIT1 -> FIN_WAIT2, LISTEN, ...): rejected on the states alone, before
  // any lookup.
  if (newstate == CD_TCP_SYN_SENT) {
    __u32 inum = net_inum(BPF_CORE_READ(sk, __sk_common.skc_net.net));
    if (netns_skipped(inum)) return 0;
    struct conn c = {};
    fill_owner(&c.key.pid, c.key.comm);
    c.key.netns = inum;
    sk_destination(sk, &c.key.family, &c.key.port, c.key.addr);
    c.tid = (__u32)bpf_get_current_pid_tgid();
    if (bpf_map_update_elem(&conns, &skp, &c, BPF_ANY) != 0)
      __sync_fetch_and_add(&conns_untracked, 1);
    return 0;
  }
  if (newstate == CD_TCP_ESTABLISHED) {
    if (oldstate != CD_TCP_SYN_SENT) return 0;
  } else if (newstate == CD_TCP_FIN_WAIT1 || newstate == CD_TCP_CLOSE_WAIT) {
    if (oldstate != CD_TCP_ESTABLISHED) return 0;
  } else if (newstate != CD_TCP_CLOSE) {
    return 0;
  }

  struct conn* c = bpf_map_lookup_elem(&conns, &skp);
  if (!c) return 0;  // opened before tracing began, another netns, or the table was full
  // A stale entry: a socket freed without the CLOSE we delete on, its memory reused by one we
  // never saw enter SYN_SENT (an accepted socket, whose peer is not this destination). Counting
  // it would credit the server side's close to the client that once owned the address.
  if (BPF_CORE_READ(sk, __sk_common.skc_dport) != c->key.port) {
    bpf_map_delete_elem(&conns, &skp);
    __sync_fetch_and_add(&conns_stale, 1);
    return 0;
  }

  const struct cd_dest_key* kp = &c->key;

  if (oldstate == CD_TCP_SYN_SENT && newstate == CD_TCP_ESTABLISHED) {
    c->established = 1;
    c->established_ns = bpf_ktime_get_ns();
    struct cd_churn* v = churn_entry(kp);
    if (v) __sync_fetch_and_add(&v->opened, 1);
    return 0;
  }
  if (oldstate == CD_TCP_ESTABLISHED &&
      (newstate == CD_TCP_FIN_WAIT1 || newstate == CD_TCP_CLOSE_WAIT)) {
    struct cd_churn* v = churn_entry(kp);
    if (!v) return 0;
    if (newstate == CD_TCP_FIN_WAIT1)
      __sync_fetch_and_add(&v->local_closed_first, 1);
    else
      __sync_fetch_and_add(&v->remote_closed_first, 1);
    return 0;
  }
  if (newstate != CD_TCP_CLOSE) return 0;

  if (c->established) {
    __u64 us = (bpf_ktime_get_ns() - c->established_ns) / 1000;
    struct cd_churn* v = churn_entry(kp);
    if (v) {
      __sync_fetch_and_add(&v->closed, 1);
      __u32 b = log2_bucket(us);
      if (b < CD_LIFETIME_BUCKETS) __sync_fetch_and_add(&v->lifetime_log2_us[b], 1);
    }
  } else if (oldstate == CD_TCP_SYN_SENT) {
    // An asynchronous connect failure: tcp_done_with_error() (RST: ECONNREFUSED, SYN retries
    // exhausted: ETIMEDOUT) and tcp_v4_err() (ICMP: EHOSTUNREACH, ...) write sk_err before
    // tcp_done() moves the socket to CLOSE. sk_err 0 is a failure counted synchronously (the
    // SYN_SENT -> CLOSE of tcp_v4_connect()'s error path) or a close() while connecting.
    int err = BPF_CORE_READ(sk, sk_err);
    if (err > 0) {
      struct cd_failure_key f = {};
      f.pid = kp->pid;
      __builtin_memcpy(f.comm, kp->comm, 16);
      f.netns = kp->netns;
      f.family = kp->family;
      f.port = kp->port;
      __builtin_memcpy(f.addr, kp->addr, 16);
      f.op = CD_OP_CONNECT;
      f.err = err;
      count_in(&failures, &f);
      struct cd_pending_key pk = {.tid = c->tid, .err = err};
      __u32* pending = bpf_map_lookup_elem(&async_pending, &pk);
      if (pending) {
        __sync_fetch_and_add(pending, 1);
      } else {
        __u32 first = 1;
        bpf_map_update_elem(&async_pending, &pk, &first, BPF_NOEXIST);
      }
    }
  }
  bpf_map_delete_elem(&conns, &skp);
  return 0;
}

// A SYN sent again [tcp_retransmit_skb()] on a socket still in SYN_SENT: the destination does
// not answer (yet).
SEC("tp_btf/tcp_retransmit_skb")
int cdt_retransmit(__u64* ctx) {
  struct sock* sk = (struct sock*)ctx[0];
  if (BPF_CORE_READ(sk, __sk_common.skc_state) != CD_TCP_SYN_SENT) return 0;
  struct cd_dest_key k = {};
  k.netns = net_inum(BPF_CORE_READ(sk, __sk_common.skc_net.net));
  if (netns_skipped(k.netns)) return 0;
  sk_destination(sk, &k.family, &k.port, k.addr);
  __u64 skp = (__u64)sk;
  struct conn* c = bpf_map_lookup_elem(&conns, &skp);
  if (c) {
    k.pid = c->key.pid;
    __builtin_memcpy(k.comm, c->key.comm, 16);
  }
  count_in(&syn_retrans, &k);
  return 0;
}

// A packet freed with a drop reason [kfree_skb_reason()] that means a resource ran out
// (drop_wanted). "Where" is the packet's destination: the listener for TCP_LISTEN_OVERFLOW,
// the flow's destination for NETFILTER_DROP.
SEC("tp_btf/kfree_skb")
int cdt_kfree_skb(__u64* ctx) {
  __u32 reason = (__u32)ctx[2];
  if (reason >= CD_MAX_DROP_REASONS || !drop_wanted[reason]) return 0;
  struct sk_buff* skb = (struct sk_buff*)ctx[0];
  struct cd_drop_key k = {};
  k.reason = reason;
  struct net_device* dev = BPF_CORE_READ(skb, dev);
  if (dev)
    k.netns = net_inum(BPF_CORE_READ(dev, nd_net.net));
  else
    k.netns = net_inum(BPF_CORE_READ(skb, sk, __sk_common.skc_net.net));
  if (netns_skipped(k.netns)) return 0;

  unsigned char* head = BPF_CORE_READ(skb, head);
  __u16 nh = BPF_CORE_READ(skb, network_header);
  __u16 th = BPF_CORE_READ(skb, transport_header);
  __u8 ip[40] = {};
  if (head && nh != 0xffff && bpf_probe_read_kernel(ip, sizeof ip, head + nh) == 0) {
    __u8 version = ip[0] >> 4;
    __u8 proto = 0;
    __u32 l4 = 0;
    if (version == 4) {
      k.family = CD_AF_INET;
      proto = ip[9];
      __builtin_memcpy(k.addr, ip + 16, 4);
      l4 = nh + (ip[0] & 0xf) * 4;
    } else if (version == 6) {
      k.family = CD_AF_INET6;
      proto = ip[6];
      __builtin_memcpy(k.addr, ip + 24, 16);
      l4 = nh + 40;
    }
    if (th != 0xffff && th > nh) l4 = th;
    if (proto == CD_IPPROTO_TCP || proto == CD_IPPROTO_UDP) {
      __u16 ports[2] = {};
      if (bpf_probe_read_kernel(ports, sizeof ports, head + l4) == 0) k.port = ports[1];
    }
  }
  count_in(&drops, &k);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
