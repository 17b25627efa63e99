// The one-pass socket scan of `--all-netns`: every TCP socket of the kernel's established hash
// (ESTABLISHED and every later state, TIME_WAIT, SYN_SENT, SYN_RECV) and of its bind hash
// (bound but inactive), read once and grouped by network namespace, instead of one sock_diag
// dump per namespace.
//
// Why: all namespaces share one established hash (unless net.ipv4.tcp_child_ehash_entries was
// set before they were created), and the kernel answers a namespace's dump by walking all of
// it, skipping the other namespaces' sockets: N namespaces cost N × the host's sockets. The
// bind hash, walked for bound-but-inactive sockets, is shared and walked the same way. The
// walk (bpf/ehash_walk.bpf.c) costs the host's sockets once. What sock_diag answers without
// walking either — LISTEN and UDP sockets — is still asked of it, per namespace
// (ehash_split_source).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "collect/sock_source.h"
#include "util/error.h"

namespace cd {

struct EhashScan {
  uint64_t walker_netns = 0;  // the namespace the walk ran in (ours)
  // The walked table is the host's shared one. False when we run in a namespace that has its
  // own table: then the scan says nothing about the others and is not used.
  bool shared_table = false;
  // Bound-but-inactive sockets (state CLOSE with a local port) were read from the bind hash
  // too. False before 6.1 (no bhash2): sock_diag is asked for them then.
  bool bound_inactive = false;
  std::unordered_map<uint64_t, std::vector<SockRecord>> by_netns;  // nsfs inode -> sockets
  std::size_t sockets = 0;
  uint32_t walks = 0;  // 1, or more when a walk saw chains change under it and was taken again
};

class EhashScanner {
 public:
  virtual ~EhashScanner() = default;
  // The whole table. Fails when BPF cannot be used here (no CAP_BPF, no BTF, no kernel config
  // to convert timer jiffies with) or when every attempt saw the table change under it (a
  // socket moved to another chain while it was read): the caller then dumps each namespace
  // with sock_diag, as before.
  virtual Result<EhashScan> scan() = 0;
};

// The BPF walk. Loads lazily, on the first scan(), and stays loaded for the next ones.
std::unique_ptr<EhashScanner> open_bpf_ehash_scanner();

// Whether a namespace's established-hash sockets are in `scan`: it shares the walked table
// (`ehash_entries`, its net.ipv4.tcp_ehash_entries, is negative, or absent on kernels before
// 6.1 where every namespace shares it), or it is the walker's own namespace and the table is
// the shared one.
bool ehash_scan_covers(const EhashScan& scan, uint64_t netns, std::optional<long> ehash_entries);

// A namespace's sockets: the established-hash states and (`bound_inactive`) the bound-but-
// inactive sockets from `records` (its part of the scan); LISTEN TCP sockets, every UDP socket
// and (without `bound_inactive`) the bound-inactive ones from `kernel` (sock_diag in that
// namespace; a LISTEN request walks only the listening hash). Streams them in the order of each
// request, as a sock_diag dump would. `kernel` must outlive the source.
std::unique_ptr<SockSource> ehash_split_source(SockSource& kernel, std::vector<SockRecord> records,
                                               bool bound_inactive);

}  // namespace cd
