// Tests of the unix_diag wire decoding (AF_UNIX listeners): unix_diag_msg fields, the name and
// queue attributes, malformed input, the request encoding, and the recorded replay of a unix
// section (and of a recording without one: unknown, not empty).
#include <gtest/gtest.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>

#include "collect/recorded_sock_source.h"
#include "collect/sock_diag_decode.h"
#include "collect/socket_aggregator.h"
#include "collect/unix_listeners.h"
#include "dump_builder.h"

namespace cd {
namespace {

using namespace std::string_view_literals;
using test::DumpBuilder;

constexpr uint8_t kListen = 10;  // TCP_LISTEN, as unix_diag reports a listener's state

NlMsg first_message(const std::vector<uint8_t>& bytes) {
  NlMsgReader r(bytes);
  NlMsg m;
  auto more = r.next(m);
  EXPECT_TRUE(more.has_value() && *more);
  return m;
}

TEST(UnixDiagDecode, DecodesAPathListenerWithItsQueue) {
  // unix_mkname_bsd() keeps the path's terminating NUL in the address the kernel copies out.
  auto bytes =
      DumpBuilder().unix_sock(SOCK_STREAM, kListen, 4711, "/run/php/fpm.sock\0"sv, 17, 16).bytes();
  UnixSockRecord out;
  auto kind = decode_unix_reply(first_message(bytes), out);
  ASSERT_TRUE(kind) << kind.error().message;
  EXPECT_EQ(*kind, ReplyKind::kSocket);
  EXPECT_EQ(out.type, SOCK_STREAM);
  EXPECT_EQ(out.state, kListen);
  EXPECT_EQ(out.inode, 4711u);
  EXPECT_EQ(out.name, "/run/php/fpm.sock");
  EXPECT_TRUE(out.has_rqlen);
  EXPECT_EQ(out.rqueue, 17u);
  EXPECT_EQ(out.wqueue, 16u);
}

TEST(UnixDiagDecode, AbstractNamesReadWithAnAtSign) {
  auto bytes = DumpBuilder().unix_sock(SOCK_SEQPACKET, kListen, 9, "\0uwsgi\0x"sv, 0, 100).bytes();
  UnixSockRecord out;
  ASSERT_TRUE(decode_unix_reply(first_message(bytes), out));
  EXPECT_EQ(out.type, SOCK_SEQPACKET);
  // As ss prints it: the leading NUL and any inner one as '@'.
  EXPECT_EQ(out.name, "@uwsgi@x");
}

TEST(UnixDiagDecode, UnprintableBytesAreEscapedSoTheNameStaysValidUtf8) {
  EXPECT_EQ(unix_display_name(
                std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("/tmp/a\xff\n\\b"), 10)),
            "/tmp/a\\xff\\x0a\\x5cb");
  EXPECT_EQ(unix_display_name({}), "");
}

TEST(UnixDiagDecode, WithoutAttributesTheNameIsEmptyAndTheQueueUnknown) {
  auto bytes = DumpBuilder().unix_sock(SOCK_STREAM, kListen, 5, "", 3, 4, false).bytes();
  UnixSockRecord out;
  out.name = "stale";
  ASSERT_TRUE(decode_unix_reply(first_message(bytes), out));
  EXPECT_EQ(out.name, "");
  EXPECT_FALSE(out.has_rqlen);
  EXPECT_EQ(out.rqueue, 0u);
}

TEST(UnixDiagDecode, ShortStructWrongFamilyAndShortRqlenAreErrors) {
  UnixSockRecord out;
  // A 10-byte unix_diag_msg.
  std::vector<uint8_t> b =
      DumpBuilder().unix_sock(SOCK_STREAM, kListen, 1, "", 0, 0, false).bytes();
  NlMsg m = first_message(b);
  m.payload = m.payload.first(10);
  auto r = decode_unix_reply(m, out);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("shorter than the 16-byte struct"), std::string::npos)
      << r.error().message;

  // An inet_diag_msg (AF_INET) where a unix one belongs.
  auto inet = DumpBuilder().sock(test::listener("127.0.0.1:80", 0, 8, 1)).bytes();
  r = decode_unix_reply(first_message(inet), out);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not AF_UNIX"), std::string::npos) << r.error().message;

  // UNIX_DIAG_RQLEN with 4 bytes instead of 8: never read past it.
  std::vector<uint8_t> bad =
      DumpBuilder().unix_sock(SOCK_STREAM, kListen, 1, "", 0, 0, false).bytes();
  const uint8_t attr[] = {8, 0, UNIX_DIAG_RQLEN, 0, 1, 0, 0, 0};
  bad.insert(bad.end(), attr, attr + sizeof attr);
  uint32_t len = uint32_t(bad.size());
  std::memcpy(bad.data(), &len, 4);
  r = decode_unix_reply(first_message(bad), out);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("short UNIX_DIAG_RQLEN"), std::string::npos)
      << r.error().message;
}

TEST(UnixDiagDecode, KernelRefusalCarriesItsErrno) {
  // No unix_diag module: sock_diag answers ENOENT.
  auto bytes = DumpBuilder().error(ENOENT).bytes();
  UnixSockRecord out;
  auto r = decode_unix_reply(first_message(bytes), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ENOENT);
}

TEST(UnixDiagDecode, RequestAsksForListenersWithNameAndQueue) {
  auto msg = encode_unix_dump_request(7);
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_seq, 7u);
  unix_diag_req r;
  std::memcpy(&r, msg.data() + NLMSG_HDRLEN, sizeof r);
  EXPECT_EQ(r.sdiag_family, AF_UNIX);
  EXPECT_EQ(r.udiag_states, 1u << 10);
  EXPECT_EQ(r.udiag_show, uint32_t(UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN));
  EXPECT_EQ(r.udiag_ino, 0u);
  // And it reads back as a unix section's request.
  std::vector<uint8_t> bytes(msg.begin(), msg.end());
  auto req = decode_dump_request(first_message(bytes));
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->family, AF_UNIX);
  EXPECT_EQ(req->states, 1u << 10);
}

TEST(UnixRecordedReplay, AUnixSectionReplaysItsListeners) {
  DumpBuilder b;
  b.dump_all({test::listener("127.0.0.1:80", 0, 128, 11)});
  b.unix_request()
      .unix_sock(SOCK_STREAM, kListen, 21, "/run/php/fpm.sock\0"sv, 17, 16)
      .unix_sock(SOCK_SEQPACKET, kListen, 22, "\0seq"sv, 0, 4)
      .unix_sock(SOCK_DGRAM, 7, 23, "/dev/log\0"sv, 0, 0)  // not a listener: left out
      .done();
  auto src = parse_recorded_sock_source(b.bytes(), "t.nldump");
  ASSERT_TRUE(src) << src.error().message;
  auto ls = collect_unix_listeners(**src);
  ASSERT_TRUE(ls) << ls.error().message;
  ASSERT_TRUE(ls->has_value());
  ASSERT_EQ((*ls)->size(), 2u);
  EXPECT_EQ((**ls)[0].path, "/run/php/fpm.sock");
  EXPECT_EQ((**ls)[0].queue_len, 17u);
  EXPECT_EQ((**ls)[0].queue_limit, 16u);
  EXPECT_EQ((**ls)[0].inode, 21u);
  EXPECT_FALSE((**ls)[0].seqpacket);
  EXPECT_EQ((**ls)[1].path, "@seq");
  EXPECT_TRUE((**ls)[1].seqpacket);
}

TEST(UnixRecordedReplay, ARecordingWithoutAUnixSectionLeavesThemUnknown) {
  auto src = parse_recorded_sock_source(
      DumpBuilder().dump_all({test::listener("127.0.0.1:80", 0, 128, 11)}).bytes(), "old.nldump");
  ASSERT_TRUE(src) << src.error().message;
  auto ls = collect_unix_listeners(**src);
  ASSERT_TRUE(ls) << ls.error().message;
  EXPECT_FALSE(ls->has_value());
}

TEST(UnixRecordedReplay, ARecordedRefusalReplaysAsTheSameError) {
  DumpBuilder b;
  b.dump_all({});
  b.unix_request().error(ENOENT);
  auto src = parse_recorded_sock_source(b.bytes(), "t.nldump");
  ASSERT_TRUE(src) << src.error().message;
  auto ls = collect_unix_listeners(**src);
  ASSERT_FALSE(ls);
  EXPECT_EQ(ls.error().err, ENOENT);
}

TEST(UnixRecordedReplay, TwoReadingsReplayInOrder) {
  DumpBuilder b;
  b.dump_all({});
  b.unix_request().unix_sock(SOCK_STREAM, kListen, 21, "/s\0"sv, 3, 16).done();
  b.dump_all({});
  b.unix_request().unix_sock(SOCK_STREAM, kListen, 21, "/s\0"sv, 17, 16).done();
  auto src = parse_recorded_sock_source(b.bytes(), "t.nldump");
  ASSERT_TRUE(src) << src.error().message;
  for (uint32_t want : {3u, 17u}) {
    // The TCP and UDP requests of the reading come first, as in collect_reading().
    SocketAggregator agg(AggregatorConfig{});
    ASSERT_TRUE(dump_all(**src, agg));
    auto ls = collect_unix_listeners(**src);
    ASSERT_TRUE(ls && ls->has_value());
    ASSERT_EQ((*ls)->size(), 1u);
    EXPECT_EQ((**ls)[0].queue_len, want);
  }
}

}  // namespace
}  // namespace cd
