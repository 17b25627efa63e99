// Recorded ctnetlink / nf_tables answers: the replaying transport (tests, `check
// --conntrack-dump`) and the recording one.
//
// Transcript format (docs/recorded-dumps.md): raw netlink bytes as they crossed the socket, in
// host byte order for netlink and nfnetlink integers (attribute payloads keep the kernel's
// network order), each message padded to 4 bytes. A sequence of sections, one per query:
//
//   section    := request reply* terminator
//   request    := nlmsghdr{type = NfQuery, NLM_F_REQUEST ...} nfgenmsg
//   reply      := nlmsghdr{ctnetlink or nf_tables message} nfgenmsg attributes
//   terminator := NLMSG_DONE (NLM_F_DUMP_INTR kept in its flags) | NLMSG_ERROR (errno, 0 = ack)
//
// The n-th query of a kind replays the n-th section of that kind (the last one once they run
// out), so a two-reading recording replays both readings. A kind never recorded answers
// nothing (an empty table), not an error.
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "collect/conntrack_source.h"
#include "collect/ctnetlink_decode.h"
#include "collect/netlink_reader.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

struct Section {
  std::vector<std::pair<std::size_t, std::size_t>> replies;  // offset, length of each message
  bool interrupted = false;
  int err = 0;  // the query ended with this errno
};

class RecordedTransport : public NetfilterTransport {
 public:
  RecordedTransport(std::vector<uint8_t> bytes, std::map<uint16_t, std::vector<Section>> s)
      : bytes_(std::move(bytes)), sections_(std::move(s)) {}

  Result<QueryResult> query(NfQuery q, const NlMessageFn& on_msg) override {
    auto it = sections_.find(uint16_t(q));
    if (it == sections_.end() || it->second.empty()) return QueryResult{};
    std::size_t& call = calls_[uint16_t(q)];
    const Section& s = it->second[std::min(call, it->second.size() - 1)];
    ++call;
    for (auto [off, len] : s.replies)
      if (auto ok = on_msg({bytes_.data() + off, len}); !ok) return std::unexpected(ok.error());
    if (s.err) return fail_errno("netlink (recorded)", s.err);
    return QueryResult{s.interrupted};
  }

 private:
  std::vector<uint8_t> bytes_;
  std::map<uint16_t, std::vector<Section>> sections_;
  std::map<uint16_t, std::size_t> calls_;
};

Result<std::map<uint16_t, std::vector<Section>>> parse_transcript(const std::vector<uint8_t>& b,
                                                                  const std::string& name) {
  std::map<uint16_t, std::vector<Section>> out;
  NlMsgReader reader({b.data(), b.size()});
  NlMsg m;
  bool in_section = false;
  uint16_t kind = 0;
  std::size_t section_start = 0;
  Section cur;
  while (true) {
    auto more = reader.next(m);
    if (!more) return fail(name + ": " + more.error().message);
    if (!*more) break;
    if (!in_section) {
      if (!(m.flags & NLM_F_REQUEST))
        return fail(name + ": expected a request at byte " + std::to_string(m.offset));
      in_section = true;
      kind = m.type;
      section_start = m.offset;
      cur = Section{};
      continue;
    }
    if (m.type == NLMSG_DONE || m.type == NLMSG_ERROR) {
      if (m.type == NLMSG_DONE) {
        cur.interrupted = m.flags & NLM_F_DUMP_INTR;
      } else {
        int32_t e = 0;
        if (m.payload.size() < sizeof e)
          return fail(name + ": short error message at byte " + std::to_string(m.offset));
        std::memcpy(&e, m.payload.data(), sizeof e);
        const int64_t pos = -int64_t(e);
        cur.err = e == 0 ? 0 : (pos > 0 && pos < 4096 ? int(pos) : EIO);
      }
      out[kind].push_back(std::move(cur));
      in_section = false;
      continue;
    }
    cur.replies.emplace_back(m.offset, sizeof(nlmsghdr) + m.payload.size());
  }
  if (in_section)
    return fail(name + ": truncated: the section at byte " + std::to_string(section_start) +
                " has no NLMSG_DONE or NLMSG_ERROR");
  return out;
}

// Buffered appends to the transcript: a table of 262k entries streams through in 1 MiB writes.
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  void put(std::span<const uint8_t> b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    buf_.resize((buf_.size() + NLMSG_ALIGNTO - 1) & ~std::size_t(NLMSG_ALIGNTO - 1), 0);
    if (buf_.size() >= (1u << 20)) flush();
  }
  bool flush() {
    std::size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok_ = false;
        break;
      }
      off += std::size_t(n);
    }
    buf_.clear();
    return ok_;
  }

 private:
  int fd_;
  std::vector<uint8_t> buf_;
  bool ok_ = true;
};

std::vector<uint8_t> terminator(uint16_t type, uint16_t flags, int32_t value) {
  std::vector<uint8_t> m(
      type == NLMSG_ERROR ? NLMSG_LENGTH(sizeof(nlmsgerr)) : NLMSG_LENGTH(sizeof(int32_t)), 0);
  nlmsghdr h{};
  h.nlmsg_len = uint32_t(m.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  std::memcpy(m.data(), &h, sizeof h);
  std::memcpy(m.data() + NLMSG_HDRLEN, &value, sizeof value);
  return m;
}

class RecordingTransport : public NetfilterTransport {
 public:
  RecordingTransport(std::unique_ptr<NetfilterTransport> inner, UniqueFd fd, std::string path)
      : inner_(std::move(inner)), fd_(std::move(fd)), path_(std::move(path)) {}

  Result<QueryResult> query(NfQuery q, const NlMessageFn& on_msg) override {
    Writer w(fd_.get());
    w.put(encode_query(q, 0));
    auto r = inner_->query(q, [&](std::span<const uint8_t> msg) {
      w.put(msg);
      return on_msg(msg);
    });
    if (r)
      w.put(terminator(NLMSG_DONE, r->interrupted ? NLM_F_DUMP_INTR : 0, 0));
    else
      w.put(terminator(NLMSG_ERROR, 0, -(r.error().err ? r.error().err : EIO)));
    if (!w.flush()) return fail_errno("writing " + path_);
    return r;
  }

 private:
  std::unique_ptr<NetfilterTransport> inner_;
  UniqueFd fd_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<NetfilterTransport>> recorded_transport_from_bytes(
    std::vector<uint8_t> bytes, std::string name) {
  // An empty transcript, or one of another protocol, would replay as an empty table.
  if (bytes.empty()) return fail(name + ": empty file (0 bytes), not a conntrack recording");
  auto sections = parse_transcript(bytes, name);
  if (!sections) return std::unexpected(sections.error());
  if (sections->empty()) return fail(name + ": holds no ctnetlink or nf_tables dump");
  for (const auto& [type, list] : *sections) {
    const unsigned subsys = type >> 8;
    if (subsys != NFNL_SUBSYS_CTNETLINK && subsys != NFNL_SUBSYS_NFTABLES)
      return fail(name + ": not a ctnetlink/nf_tables recording (a request of netlink type " +
                  std::to_string(type) + "; a sock_diag dump goes to --sock-diag-dump)");
  }
  return std::unique_ptr<NetfilterTransport>(
      std::make_unique<RecordedTransport>(std::move(bytes), std::move(*sections)));
}

Result<std::unique_ptr<NetfilterTransport>> open_recorded_transport(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(path);
  std::vector<uint8_t> bytes;
  uint8_t chunk[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(path);
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  return recorded_transport_from_bytes(std::move(bytes), path);
}

Result<std::unique_ptr<NetfilterTransport>> open_recording_transport(
    std::unique_ptr<NetfilterTransport> inner, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return fail_errno(path);
  return std::unique_ptr<NetfilterTransport>(
      std::make_unique<RecordingTransport>(std::move(inner), std::move(fd), path));
}

}  // namespace cd
