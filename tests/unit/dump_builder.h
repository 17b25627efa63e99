// Test helper: synthesises sock_diag transcripts (the bytes the recording source writes and the
// replay source reads) from socket descriptions. Built straight from the kernel's structs, not
// from the product's encoder, so tests of the decoder are not tests of itself.
//
//   using namespace cd::test;
//   TempFile f = DumpBuilder()
//       .dump_all({listener("0.0.0.0:8080", 0, 128, 11),
//                  tcp(TcpState::kEstablished, "10.0.0.1:40000", "10.0.0.2:5432", 12),
//                  time_wait("10.0.0.1:40001", "10.0.0.2:5432", 59000)})
//       .write_temp();
//   auto src = cd::open_recorded_sock_source(f.path());
#pragma once

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "collect/sock_source.h"
#include "snapshot/net_types.h"

namespace cd::test {

// "1.2.3.4:80" or "[2001:db8::1]:443"; throws on bad text (a bug in the test itself).
inline Endpoint ep(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw std::invalid_argument(std::string(text));
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto addr = IpAddr::parse(host);
  if (!addr) throw std::invalid_argument(std::string(text));
  return Endpoint{*addr, uint16_t(std::stoi(std::string(text.substr(colon + 1))))};
}

// The unspecified endpoint of the same family as `like` (a listener's or UDP socket's peer).
inline Endpoint any_of(const Endpoint& like) {
  Endpoint e;
  e.addr.family = like.addr.family;
  return e;
}

inline SockRecord tcp(TcpState st, std::string_view local, std::string_view remote,
                      uint32_t inode = 0) {
  SockRecord r;
  r.protocol = IPPROTO_TCP;
  r.state = uint8_t(st);
  r.local = ep(local);
  r.remote = ep(remote);
  r.family = r.local.addr.family;
  r.inode = inode;
  return r;
}

// A LISTEN socket: sock_diag reports the accept queue in rqueue and its limit in wqueue.
inline SockRecord listener(std::string_view local, uint32_t queue_len, uint32_t queue_limit,
                           uint32_t inode = 0) {
  SockRecord r;
  r.protocol = IPPROTO_TCP;
  r.state = uint8_t(TcpState::kListen);
  r.local = ep(local);
  r.remote = any_of(r.local);
  r.family = r.local.addr.family;
  r.rqueue = queue_len;
  r.wqueue = queue_limit;
  r.inode = inode;
  return r;
}

// A TIME_WAIT socket as the kernel shows it: no inode, no uid, `expires_ms` left of 60 s.
inline SockRecord time_wait(std::string_view local, std::string_view remote,
                            uint32_t expires_ms = 60000) {
  SockRecord r = tcp(TcpState::kTimeWait, local, remote, 0);
  r.expires_ms = expires_ms;
  r.timer = 3;  // "timewait" timer, as inet_twsk_diag_fill() reports it
  return r;
}

inline SockRecord udp(std::string_view local, std::string_view remote = "", uint32_t inode = 0) {
  SockRecord r;
  r.protocol = IPPROTO_UDP;
  r.local = ep(local);
  r.remote = remote.empty() ? any_of(r.local) : ep(remote);
  r.family = r.local.addr.family;
  r.state = uint8_t(remote.empty() ? TcpState::kClose : TcpState::kEstablished);
  r.inode = inode;
  return r;
}

// A file removed when the object goes away.
class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/conndoctor-test-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = name;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class DumpBuilder {
 public:
  static constexpr uint32_t kListenStates = 1u << int(TcpState::kListen);

  // Starts a section: the request message, as the live source sends it.
  DumpBuilder& request(uint8_t family, uint8_t protocol, uint32_t states) {
    inet_diag_req_v2 r{};
    r.sdiag_family = family;
    r.sdiag_protocol = protocol;
    r.idiag_states = states;
    ++seq_;
    message(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, &r, sizeof r);
    return *this;
  }

  // One reply. `msg_len` < sizeof(inet_diag_msg) emits a short struct (an old kernel);
  // `attrs` appends an INET_DIAG_SHUTDOWN attribute, as every current kernel does.
  DumpBuilder& sock(const SockRecord& s, std::size_t msg_len = sizeof(inet_diag_msg),
                    bool attrs = true) {
    inet_diag_msg d{};
    d.idiag_family = s.family;
    d.idiag_state = s.state;
    d.idiag_timer = s.timer;
    d.idiag_retrans = s.retrans;
    d.id.idiag_sport = htons(s.local.port);
    d.id.idiag_dport = htons(s.remote.port);
    std::memcpy(d.id.idiag_src, s.local.addr.bytes.data(), s.family == AF_INET6 ? 16 : 4);
    std::memcpy(d.id.idiag_dst, s.remote.addr.bytes.data(), s.family == AF_INET6 ? 16 : 4);
    d.id.idiag_cookie[0] = 0x1000 + seq_;  // any value: the decoder must not care
    d.idiag_expires = s.expires_ms;
    d.idiag_rqueue = s.rqueue;
    d.idiag_wqueue = s.wqueue;
    d.idiag_uid = s.uid;
    d.idiag_inode = s.inode;
    std::vector<uint8_t> payload(msg_len);
    std::memcpy(payload.data(), &d, std::min(msg_len, sizeof d));
    if (attrs) {
      payload.resize(NLMSG_ALIGN(payload.size()));
      rtattr a{};
      a.rta_len = RTA_LENGTH(1);
      a.rta_type = INET_DIAG_SHUTDOWN;
      const auto* p = reinterpret_cast<const uint8_t*>(&a);
      payload.insert(payload.end(), p, p + sizeof a);
      payload.push_back(0);
      payload.resize(NLMSG_ALIGN(payload.size()));
    }
    message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, payload.data(), payload.size());
    return *this;
  }

  // The AF_UNIX request of a unix section: struct unix_diag_req for listeners, with
  // UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN, as the kernel's own header spells it.
  DumpBuilder& unix_request(uint32_t states = 1u << 10) {
    unix_diag_req r{};
    r.sdiag_family = AF_UNIX;
    r.udiag_states = states;
    r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN;
    ++seq_;
    message(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, &r, sizeof r);
    return *this;
  }

  // One unix_diag_msg reply: `name` is the raw UNIX_DIAG_NAME bytes (sun_path as the kernel
  // copies it: a path with its NUL, an abstract name starting with NUL); no name attribute when
  // empty; UNIX_DIAG_RQLEN {rqueue, wqueue} unless `rqlen` is false.
  DumpBuilder& unix_sock(uint8_t type, uint8_t state, uint32_t inode, std::string_view name,
                         uint32_t rqueue, uint32_t wqueue, bool rqlen = true) {
    unix_diag_msg d{};
    d.udiag_family = AF_UNIX;
    d.udiag_type = type;
    d.udiag_state = state;
    d.udiag_ino = inode;
    d.udiag_cookie[0] = 0x2000 + seq_;
    std::vector<uint8_t> payload(sizeof d);
    std::memcpy(payload.data(), &d, sizeof d);
    auto attr = [&payload](uint16_t type, const void* data, std::size_t len) {
      payload.resize(NLMSG_ALIGN(payload.size()));
      rtattr a{};
      a.rta_len = uint16_t(RTA_LENGTH(len));
      a.rta_type = type;
      const auto* p = reinterpret_cast<const uint8_t*>(&a);
      payload.insert(payload.end(), p, p + sizeof a);
      const auto* q = static_cast<const uint8_t*>(data);
      payload.insert(payload.end(), q, q + len);
      payload.resize(NLMSG_ALIGN(payload.size()));
    };
    if (!name.empty()) attr(UNIX_DIAG_NAME, name.data(), name.size());
    if (rqlen) {
      unix_diag_rqlen q{rqueue, wqueue};
      attr(UNIX_DIAG_RQLEN, &q, sizeof q);
    }
    message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, payload.data(), payload.size());
    return *this;
  }

  DumpBuilder& done(int32_t status = 0) {
    message(NLMSG_DONE, NLM_F_MULTI, &status, sizeof status);
    return *this;
  }

  // The kernel refusing the request (e.g. ENOENT when no diag module handles the protocol).
  DumpBuilder& error(int err) {
    nlmsgerr e{};
    e.error = -err;
    message(NLMSG_ERROR, 0, &e, sizeof e);
    return *this;
  }

  // A whole dump_all() transcript: TCP LISTEN (IPv4, IPv6), TCP other states (IPv4, IPv6),
  // UDP (IPv4, IPv6), each section holding the matching sockets and ending in NLMSG_DONE.
  DumpBuilder& dump_all(const std::vector<SockRecord>& socks) {
    struct Part {
      uint8_t family, protocol;
      uint32_t states;
    };
    const Part parts[] = {{AF_INET, IPPROTO_TCP, kListenStates},
                          {AF_INET6, IPPROTO_TCP, kListenStates},
                          {AF_INET, IPPROTO_TCP, ~kListenStates},
                          {AF_INET6, IPPROTO_TCP, ~kListenStates},
                          {AF_INET, IPPROTO_UDP, ~0u},
                          {AF_INET6, IPPROTO_UDP, ~0u}};
    for (const Part& p : parts) {
      request(p.family, p.protocol, p.states);
      for (const SockRecord& s : socks) {
        bool udp_sock = s.protocol == IPPROTO_UDP;
        if (s.family == p.family && udp_sock == (p.protocol == IPPROTO_UDP) &&
            (p.states & (1u << s.state)))
          sock(s);
      }
      done();
    }
    return *this;
  }

  // Flags every later reply message (and terminator) with NLM_F_DUMP_INTR, as
  // nl_dump_check_consistent() does once the table changed under a dump; off again with false.
  DumpBuilder& interrupted(bool on = true) {
    extra_flags_ = on ? NLM_F_DUMP_INTR : 0;
    return *this;
  }

  // Raw bytes, for malformed input.
  DumpBuilder& raw(std::span<const uint8_t> b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }

  const std::vector<uint8_t>& bytes() const { return out_; }
  std::size_t size() const { return out_.size(); }

  void write(const std::string& path, std::size_t max_bytes = SIZE_MAX) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(out_.data()),
            std::streamsize(std::min(max_bytes, out_.size())));
    if (!f) throw std::runtime_error("cannot write " + path);
  }
  TempFile write_temp(std::size_t max_bytes = SIZE_MAX) const {
    TempFile t;
    write(t.path(), max_bytes);
    return t;
  }

 private:
  void message(uint16_t type, uint16_t flags, const void* payload, std::size_t len) {
    nlmsghdr h{};
    h.nlmsg_len = uint32_t(NLMSG_LENGTH(len));
    h.nlmsg_type = type;
    h.nlmsg_flags = flags | ((flags & NLM_F_REQUEST) ? 0 : extra_flags_);
    h.nlmsg_seq = seq_;
    h.nlmsg_pid = 4242;
    const auto* hp = reinterpret_cast<const uint8_t*>(&h);
    out_.insert(out_.end(), hp, hp + sizeof h);
    const auto* pp = static_cast<const uint8_t*>(payload);
    out_.insert(out_.end(), pp, pp + len);
    out_.resize(NLMSG_ALIGN(out_.size()));
  }

  uint16_t extra_flags_ = 0;
  std::vector<uint8_t> out_;
  uint32_t seq_ = 0;
};

}  // namespace cd::test
