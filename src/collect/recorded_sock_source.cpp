// Recorded sock_diag dumps: the replaying source (tests, `check --sock-diag-dump`) and the
// recording one (`--record-dump`, `conndoctor record`).
//
// Transcript format (docs/recorded-dumps.md): raw netlink bytes exactly as they crossed the
// socket, host byte order for the netlink and inet_diag integers (addresses and ports are in
// network order, as the kernel sends them), each message padded to NLMSG_ALIGNTO (4 bytes).
// The file is a sequence of sections, one per dump request:
//
//   section    := request reply* terminator
//   request    := nlmsghdr{SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST|NLM_F_DUMP} inet_diag_req_v2
//               | nlmsghdr{...same...} unix_diag_req          (sdiag_family AF_UNIX)
//   reply      := nlmsghdr{SOCK_DIAG_BY_FAMILY} inet_diag_msg [rtattrs, ignored]
//               | nlmsghdr{SOCK_DIAG_BY_FAMILY} unix_diag_msg rtattrs   (after an AF_UNIX request)
//   terminator := NLMSG_DONE | NLMSG_ERROR (the kernel refused or aborted the dump)
//
// The AF_UNIX section (the listening unix sockets, UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN) was
// added later: a file without one replays dump_unix_listeners() as "unknown" (false), not as
// "no unix listeners".
//
// The request tells the family, protocol and state mask the replies answer. Replay of
// dump(req) takes the sections with req's family and protocol and passes on the records whose
// state is in req.states; when several sections cover a state (the same request recorded
// twice) each state comes from the first of them only, so no socket is seen twice. A request
// never recorded gets an empty dump, not an error.
//
// A file may hold several readings (`check` dumps twice, --interval apart), or a dump taken
// again after an NLM_F_DUMP_INTR: a section whose exact request already appeared in the
// current round starts the next round. Replay counts rounds the same way: a dump() whose
// exact request was already asked in the current replay round starts the next one, and each
// dump() replays the latest recorded round up to the current one that holds its family and
// protocol (the first such round when none does), so a two-reading recording replays both
// readings in order, and an interrupted round replays interrupted, then the retry's round.
#include "collect/recorded_sock_source.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>

#include "collect/sock_diag_decode.h"
#include "util/unique_fd.h"

namespace cd {

namespace {

using RequestKey = std::tuple<uint8_t, uint8_t, uint32_t>;  // family, protocol, states

RequestKey key_of(const DumpRequest& r) {
  return {r.family, r.protocol, r.states};
}

struct Section {
  DumpRequest req;
  std::size_t replies_begin = 0;  // byte range of the reply messages, terminator excluded
  std::size_t replies_end = 0;
  std::optional<Error> error;  // the dump ended with this kernel error
  uint32_t round = 0;
};

constexpr int kStateBits = 32;

class RecordedSockSource : public SockSource {
 public:
  RecordedSockSource(std::vector<uint8_t> bytes, std::string name, std::vector<Section> sections)
      : bytes_(std::move(bytes)), name_(std::move(name)), sections_(std::move(sections)) {}

  Result<void> dump(const DumpRequest& req, SockSink& sink) override {
    const auto round = pick_round(req);
    if (!round) return {};  // never recorded: nothing of this kind existed

    // Which section answers each state: the first one of the round that asked for it.
    std::array<int, kStateBits> chosen;
    chosen.fill(-1);
    for (std::size_t i = 0; i < sections_.size(); ++i) {
      const Section& s = sections_[i];
      if (!matches(s, req) || s.round != *round) continue;
      for (int b = 0; b < kStateBits; ++b)
        if (chosen[b] < 0 && (req.states & s.req.states & (1u << b))) chosen[b] = int(i);
    }

    SockRecord rec;
    for (std::size_t i = 0; i < sections_.size(); ++i) {
      if (std::find(chosen.begin(), chosen.end(), int(i)) == chosen.end()) continue;
      const Section& s = sections_[i];
      if (s.error) return std::unexpected(*s.error);
      std::span<const uint8_t> replies(bytes_.data() + s.replies_begin,
                                       s.replies_end - s.replies_begin);
      NlMsgReader reader(replies, s.replies_begin);
      NlMsg m;
      for (;;) {
        auto more = reader.next(m);
        if (!more) return std::unexpected(prefixed(more.error()));
        if (!*more) break;
        auto kind = decode_reply(m, s.req.protocol, rec);
        if (!kind) return std::unexpected(prefixed(kind.error()));
        if (*kind == ReplyKind::kSocket && rec.state < kStateBits && chosen[rec.state] == int(i))
          sink.on_socket(rec);
      }
    }
    return {};
  }

  Result<bool> dump_unix_listeners(UnixSockSink& sink) override {
    const DumpRequest req{AF_UNIX, 0, kUnixListenStates};
    const auto round = pick_round(req);
    if (!round) return false;  // recorded before unix listeners were dumped: unknown
    for (const Section& s : sections_) {
      if (!matches(s, req) || s.round != *round) continue;
      if (s.error) return std::unexpected(*s.error);
      std::span<const uint8_t> replies(bytes_.data() + s.replies_begin,
                                       s.replies_end - s.replies_begin);
      NlMsgReader reader(replies, s.replies_begin);
      NlMsg m;
      UnixSockRecord rec;
      for (;;) {
        auto more = reader.next(m);
        if (!more) return std::unexpected(prefixed(more.error()));
        if (!*more) break;
        auto kind = decode_unix_reply(m, rec);
        if (!kind) return std::unexpected(prefixed(kind.error()));
        if (*kind == ReplyKind::kSocket && rec.state < kStateBits &&
            (s.req.states & req.states & (1u << rec.state)))
          sink.on_unix_socket(rec);
      }
      return true;  // the first section of the round answers
    }
    return true;
  }

 private:
  // The replay round of this dump() (next_round), then the latest recorded round up to it that
  // holds sections for req's family and protocol (the first such round when none does).
  std::optional<uint32_t> pick_round(const DumpRequest& req) {
    const uint32_t current = next_round(req);
    std::optional<uint32_t> first, round;
    for (const auto& s : sections_) {  // sections are in round order
      if (!matches(s, req)) continue;
      if (!first) first = s.round;
      if (s.round <= current) round = s.round;
    }
    return round ? round : first;
  }

  static bool matches(const Section& s, const DumpRequest& req) {
    return s.req.family == req.family && s.req.protocol == req.protocol;
  }

  // The replay round of this dump(): the next one when its exact request was already asked
  // in the current round (the same rule that split the file into rounds).
  uint32_t next_round(const DumpRequest& req) {
    if (std::find(asked_.begin(), asked_.end(), key_of(req)) != asked_.end()) {
      ++round_;
      asked_.clear();
    }
    asked_.push_back(key_of(req));
    return round_;
  }

  Error prefixed(Error e) const {
    e.message = name_ + ": " + e.message;
    return e;
  }

  std::vector<uint8_t> bytes_;
  std::string name_;
  std::vector<Section> sections_;
  std::vector<RequestKey> asked_;  // requests asked in the current replay round
  uint32_t round_ = 0;
};

Result<std::vector<Section>> parse_sections(std::span<const uint8_t> bytes,
                                            const std::string& name) {
  auto bad = [&name](const Error& e) {
    return std::unexpected(Error{name + ": " + e.message, e.err});
  };
  std::vector<Section> sections;
  std::vector<RequestKey> round_keys;
  uint32_t round = 0;
  bool open = false;
  std::size_t open_at = 0;
  NlMsgReader reader(bytes);
  NlMsg m;
  SockRecord rec;
  UnixSockRecord urec;
  for (;;) {
    auto more = reader.next(m);
    if (!more) return bad(more.error());
    if (!*more) break;
    if (m.flags & NLM_F_REQUEST) {
      if (open)
        return fail(name + ": request at byte " + std::to_string(m.offset) +
                    " before the dump at byte " + std::to_string(open_at) + " ended");
      auto req = decode_dump_request(m);
      if (!req) return bad(req.error());
      if (std::find(round_keys.begin(), round_keys.end(), key_of(*req)) != round_keys.end()) {
        ++round;
        round_keys.clear();
      }
      round_keys.push_back(key_of(*req));
      Section s;
      s.req = *req;
      s.replies_begin = reader.position();
      s.round = round;
      sections.push_back(s);
      open = true;
      open_at = m.offset;
      continue;
    }
    if (!open)
      return fail(name + ": reply at byte " + std::to_string(m.offset) +
                  " does not follow a request");
    Section& s = sections.back();
    auto kind =
        s.req.family == AF_UNIX ? decode_unix_reply(m, urec) : decode_reply(m, s.req.protocol, rec);
    if (!kind) {
      // A kernel error recorded as the dump's end is data (replay repeats it); anything else
      // is a corrupt file.
      if (kind.error().err == 0) return bad(kind.error());
      s.error = Error{name + ": recorded " + kind.error().message, kind.error().err};
    }
    if (!kind || *kind == ReplyKind::kDone) {
      s.replies_end = m.offset;
      open = false;
    }
  }
  if (open)
    return fail(name + ": the dump at byte " + std::to_string(open_at) +
                " has no NLMSG_DONE (truncated at byte " + std::to_string(bytes.size()) + ")");
  return sections;
}

Result<std::vector<uint8_t>> read_whole(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(path + ": open");
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return fail_errno(path + ": stat");
  std::vector<uint8_t> out;
  std::size_t used = 0;
  out.resize(st.st_size > 0 ? std::size_t(st.st_size) + 1 : 64 * 1024);
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(path + ": read");
    }
    if (n == 0) break;
    used += std::size_t(n);
  }
  out.resize(used);
  return out;
}

// Writes what the inner source receives, through a buffer so that a huge dump costs one write
// per MiB rather than one per recv().
class RecordingSockSource : public SockSource, private RawDumpObserver {
 public:
  RecordingSockSource(std::unique_ptr<SockSource> inner, UniqueFd fd, std::string path)
      : inner_(std::move(inner)), fd_(std::move(fd)), path_(std::move(path)) {}
  ~RecordingSockSource() override { inner_->set_raw_observer(nullptr); }

  bool attach() { return inner_->set_raw_observer(this); }

  Result<void> dump(const DumpRequest& req, SockSink& sink) override {
    saw_request_ = saw_end_ = false;
    auto r = inner_->dump(req, sink);
    // A dump that failed on our side (a malformed message, a recv error) has no terminator in
    // the bytes: close the section with an error, so the file stays readable and replay fails
    // where the live dump failed.
    if (saw_request_ && !saw_end_) append_error(r ? EIO : (r.error().err ? r.error().err : EIO));
    auto w = flush();
    if (!r) return r;
    return w;
  }

  Result<bool> dump_unix_listeners(UnixSockSink& sink) override {
    saw_request_ = saw_end_ = false;
    auto r = inner_->dump_unix_listeners(sink);
    if (saw_request_ && !saw_end_) append_error(r ? EIO : (r.error().err ? r.error().err : EIO));
    auto w = flush();
    if (!r) return r;
    if (!w) return std::unexpected(w.error());
    return r;
  }

 private:
  void on_request(std::span<const uint8_t> msg) override {
    saw_request_ = true;
    append(msg);
  }
  void on_reply(std::span<const uint8_t> msgs, bool final) override {
    append(msgs);
    if (final) saw_end_ = true;
  }

  void append(std::span<const uint8_t> b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    if (buf_.size() >= kFlushAt) (void)flush();
  }

  void append_error(int e) {
    struct {
      nlmsghdr h;
      nlmsgerr err;
    } msg{};
    msg.h.nlmsg_len = sizeof msg;
    msg.h.nlmsg_type = NLMSG_ERROR;
    msg.err.error = -e;
    const auto* p = reinterpret_cast<const uint8_t*>(&msg);
    append({p, sizeof msg});
  }

  Result<void> flush() {
    std::size_t off = 0;
    while (off < buf_.size() && !write_error_) {
      ssize_t n = ::write(fd_.get(), buf_.data() + off, buf_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        write_error_ = Error::from_errno(path_ + ": write");
      else
        off += std::size_t(n);
    }
    buf_.clear();
    if (write_error_) return std::unexpected(*write_error_);
    return {};
  }

  static constexpr std::size_t kFlushAt = 1 << 20;
  std::unique_ptr<SockSource> inner_;
  UniqueFd fd_;
  std::string path_;
  std::vector<uint8_t> buf_;
  bool saw_request_ = false;
  bool saw_end_ = false;
  std::optional<Error> write_error_;  // sticky: a transcript with a hole is worthless
};

}  // namespace

Result<std::unique_ptr<SockSource>> parse_recorded_sock_source(std::vector<uint8_t> bytes,
                                                               std::string name) {
  // An empty file is not "a machine with no sockets": every recording holds the requests.
  if (bytes.empty()) return fail(name + ": empty file (0 bytes), not a sock_diag recording");
  auto sections = parse_sections(bytes, name);
  if (!sections) return std::unexpected(sections.error());
  if (sections->empty()) return fail(name + ": holds no sock_diag dump");
  return std::make_unique<RecordedSockSource>(std::move(bytes), std::move(name),
                                              std::move(*sections));
}

Result<std::unique_ptr<SockSource>> open_recorded_sock_source(const std::string& path) {
  auto bytes = read_whole(path);
  if (!bytes) return std::unexpected(bytes.error());
  return parse_recorded_sock_source(std::move(*bytes), path);
}

Result<std::unique_ptr<SockSource>> open_recording_sock_source(std::unique_ptr<SockSource> inner,
                                                               const std::string& path) {
  if (!inner) return fail(path + ": nothing to record");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_errno(path + ": open for writing");
  auto rec = std::make_unique<RecordingSockSource>(std::move(inner), std::move(fd), path);
  if (!rec->attach()) return fail(path + ": this socket source gives no netlink bytes to record");
  return rec;
}

}  // namespace cd
