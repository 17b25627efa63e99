// Tests of the sock_diag wire decoding: framing, inet_diag_msg fields, short structs,
// kernel errors and the request encoding.
#include "collect/sock_diag_decode.h"

#include <gtest/gtest.h>
#include <linux/sock_diag.h>

#include "dump_builder.h"

namespace cd {
namespace {

using test::DumpBuilder;

// Frames the first message of `bytes`.
NlMsg first_message(const std::vector<uint8_t>& bytes) {
  NlMsgReader r(bytes);
  NlMsg m;
  auto more = r.next(m);
  EXPECT_TRUE(more.has_value() && *more);
  return m;
}

TEST(SockDiagDecode, DecodesEveryFieldOfAnIpv4Socket) {
  SockRecord in = test::tcp(TcpState::kEstablished, "10.1.2.3:40001", "192.0.2.7:5432", 777);
  in.uid = 1000;
  in.rqueue = 5;
  in.wqueue = 9;
  in.expires_ms = 1234;
  in.timer = 1;
  in.retrans = 3;
  auto bytes = DumpBuilder().sock(in).bytes();
  SockRecord out;
  auto kind = decode_reply(first_message(bytes), IPPROTO_TCP, out);
  ASSERT_TRUE(kind) << kind.error().message;
  EXPECT_EQ(*kind, ReplyKind::kSocket);
  EXPECT_EQ(out.family, AF_INET);
  EXPECT_EQ(out.protocol, IPPROTO_TCP);
  EXPECT_EQ(out.state, uint8_t(TcpState::kEstablished));
  EXPECT_EQ(out.timer, 1);
  EXPECT_EQ(out.local.to_string(), "10.1.2.3:40001");
  EXPECT_EQ(out.remote.to_string(), "192.0.2.7:5432");
  EXPECT_EQ(out.inode, 777u);
  EXPECT_EQ(out.uid, 1000u);
  EXPECT_EQ(out.rqueue, 5u);
  EXPECT_EQ(out.wqueue, 9u);
  EXPECT_EQ(out.expires_ms, 1234u);
  EXPECT_EQ(out.retrans, 3);
  // IPv4 uses only the first 4 bytes; the rest must be zero so that equal addresses compare equal.
  EXPECT_EQ(out.local.addr, *IpAddr::parse("10.1.2.3"));
}

TEST(SockDiagDecode, RetransCountsOnlyWithTheRetransmitTimer) {
  // idiag_retrans means probes for the keepalive/zero-window timers: only timer 1 (retransmit)
  // says how often a SYN was sent again.
  SockRecord in = test::tcp(TcpState::kSynSent, "10.1.2.3:40001", "192.0.2.7:80", 1);
  in.timer = 2;
  in.retrans = 4;
  auto bytes = DumpBuilder().sock(in).bytes();
  SockRecord out;
  ASSERT_TRUE(decode_reply(first_message(bytes), IPPROTO_TCP, out));
  EXPECT_EQ(out.retrans, 0);
}

TEST(SockDiagDecode, DecodesIpv6AndMappedAddresses) {
  auto bytes =
      DumpBuilder()
          .sock(test::tcp(TcpState::kSynSent, "[2001:db8::1]:50000", "[::ffff:127.0.0.1]:8080", 5))
          .bytes();
  SockRecord out;
  auto kind = decode_reply(first_message(bytes), IPPROTO_TCP, out);
  ASSERT_TRUE(kind) << kind.error().message;
  EXPECT_EQ(out.family, AF_INET6);
  EXPECT_EQ(out.local.to_string(), "[2001:db8::1]:50000");
  EXPECT_EQ(out.remote.port, 8080);
  EXPECT_TRUE(out.remote.addr.is_loopback());
  EXPECT_FALSE(out.local.addr.is_loopback());
}

TEST(SockDiagDecode, ShortInetDiagMsgIsZeroPadded) {
  SockRecord in = test::tcp(TcpState::kEstablished, "10.0.0.1:40000", "10.0.0.2:80", 99);
  in.uid = 7;
  in.expires_ms = 5;
  // Cut right after the socket id (before idiag_expires): everything after reads as 0.
  const std::size_t cut = offsetof(inet_diag_msg, idiag_expires);
  auto bytes = DumpBuilder().sock(in, cut, /*attrs=*/false).bytes();
  NlMsg m = first_message(bytes);
  ASSERT_EQ(m.payload.size(), cut);
  SockRecord out;
  out.inode = 12345;  // must be overwritten, not left over
  auto kind = decode_reply(m, IPPROTO_TCP, out);
  ASSERT_TRUE(kind) << kind.error().message;
  EXPECT_EQ(out.local.to_string(), "10.0.0.1:40000");
  EXPECT_EQ(out.remote.to_string(), "10.0.0.2:80");
  EXPECT_EQ(out.inode, 0u);
  EXPECT_EQ(out.uid, 0u);
  EXPECT_EQ(out.expires_ms, 0u);
}

TEST(SockDiagDecode, TrailingAttributesAreIgnored) {
  SockRecord in = test::tcp(TcpState::kCloseWait, "10.0.0.1:8080", "10.0.0.9:41000", 3);
  auto with = DumpBuilder().sock(in, sizeof(inet_diag_msg), true).bytes();
  auto without = DumpBuilder().sock(in, sizeof(inet_diag_msg), false).bytes();
  ASSERT_GT(with.size(), without.size());
  SockRecord a, b;
  ASSERT_TRUE(decode_reply(first_message(with), IPPROTO_TCP, a));
  ASSERT_TRUE(decode_reply(first_message(without), IPPROTO_TCP, b));
  EXPECT_EQ(a.local, b.local);
  EXPECT_EQ(a.remote, b.remote);
  EXPECT_EQ(a.inode, 3u);
  EXPECT_EQ(a.state, uint8_t(TcpState::kCloseWait));
}

TEST(SockDiagDecode, UnknownFamilyIsAnErrorWithItsOffset) {
  SockRecord in = test::tcp(TcpState::kEstablished, "10.0.0.1:1", "10.0.0.2:2");
  DumpBuilder b;
  b.done();  // 20 bytes: the bad message starts at byte 20
  in.family = 7;
  b.sock(in);
  NlMsgReader r(b.bytes());
  NlMsg m;
  ASSERT_TRUE(*r.next(m));
  ASSERT_TRUE(*r.next(m));
  SockRecord out;
  auto kind = decode_reply(m, IPPROTO_TCP, out);
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().message.find("at byte 20"), std::string::npos) << kind.error().message;
  EXPECT_NE(kind.error().message.find("family 7"), std::string::npos) << kind.error().message;
}

TEST(SockDiagDecode, NlmsgErrorCarriesTheKernelErrno) {
  auto bytes = DumpBuilder().error(ENOENT).bytes();
  SockRecord out;
  auto kind = decode_reply(first_message(bytes), IPPROTO_UDP, out);
  ASSERT_FALSE(kind);
  EXPECT_EQ(kind.error().err, ENOENT);
  EXPECT_NE(kind.error().message.find("No such file"), std::string::npos) << kind.error().message;
}

// nl_dump_check_consistent() flags the messages filled after the table changed: a socket
// in such a message (and the DONE that ends the dump) is an error the collector retries on.
TEST(SockDiagDecode, DumpInterruptedFlagIsARetryableError) {
  SockRecord out;
  SockRecord s = test::tcp(TcpState::kEstablished, "10.1.2.3:40001", "192.0.2.7:5432", 7);
  auto clean = DumpBuilder().sock(s).bytes();
  ASSERT_EQ(decode_reply(first_message(clean), IPPROTO_TCP, out), ReplyKind::kSocket);
  for (auto bytes :
       {DumpBuilder().interrupted().sock(s).bytes(), DumpBuilder().interrupted().done().bytes()}) {
    auto kind = decode_reply(first_message(bytes), IPPROTO_TCP, out);
    ASSERT_FALSE(kind);
    EXPECT_TRUE(dump_interrupted(kind.error()));
    EXPECT_NE(kind.error().message.find("NLM_F_DUMP_INTR"), std::string::npos)
        << kind.error().message;
  }
  // Other errors are not retried.
  auto refused = DumpBuilder().error(EPERM).bytes();
  auto kind = decode_reply(first_message(refused), IPPROTO_TCP, out);
  ASSERT_FALSE(kind);
  EXPECT_FALSE(dump_interrupted(kind.error()));
}

TEST(SockDiagDecode, AckAndDoneEndTheDumpAndNegativeDoneIsAnError) {
  SockRecord out;
  auto ack = DumpBuilder().error(0).bytes();
  EXPECT_EQ(decode_reply(first_message(ack), IPPROTO_TCP, out), ReplyKind::kDone);
  auto done = DumpBuilder().done().bytes();
  EXPECT_EQ(decode_reply(first_message(done), IPPROTO_TCP, out), ReplyKind::kDone);
  auto aborted = DumpBuilder().done(-EINTR).bytes();
  auto kind = decode_reply(first_message(aborted), IPPROTO_TCP, out);
  ASSERT_FALSE(kind);
  EXPECT_EQ(kind.error().err, EINTR);
}

TEST(SockDiagDecode, NoopAndUnknownTypesAreSkipped) {
  std::vector<uint8_t> bytes(NLMSG_HDRLEN);
  nlmsghdr h{NLMSG_HDRLEN, NLMSG_NOOP, 0, 0, 0};
  std::memcpy(bytes.data(), &h, sizeof h);
  SockRecord out;
  EXPECT_EQ(decode_reply(first_message(bytes), IPPROTO_TCP, out), ReplyKind::kSkip);
}

TEST(NlMsgReader, WalksAlignedMessagesAndReportsOffsets) {
  DumpBuilder b;
  b.request(AF_INET, IPPROTO_TCP, ~0u)
      .sock(test::tcp(TcpState::kEstablished, "10.0.0.1:1", "10.0.0.2:2"))
      .done();
  NlMsgReader r(b.bytes(), 1000);
  NlMsg m;
  std::vector<std::size_t> offsets;
  std::vector<uint16_t> types;
  for (;;) {
    auto more = r.next(m);
    ASSERT_TRUE(more) << more.error().message;
    if (!*more) break;
    offsets.push_back(m.offset);
    types.push_back(m.type);
  }
  ASSERT_EQ(types.size(), 3u);
  EXPECT_EQ(types[0], SOCK_DIAG_BY_FAMILY);
  EXPECT_EQ(types[2], NLMSG_DONE);
  EXPECT_EQ(offsets[0], 1000u);
  EXPECT_EQ(offsets[1], 1000u + kDiagRequestLen);
  EXPECT_EQ(r.position(), b.size());
}

TEST(NlMsgReader, MessageRunningPastTheBufferIsTruncated) {
  DumpBuilder b;
  b.done().sock(test::tcp(TcpState::kEstablished, "10.0.0.1:1", "10.0.0.2:2"));
  std::vector<uint8_t> cut(b.bytes().begin(), b.bytes().end() - 10);
  NlMsgReader r(cut);
  NlMsg m;
  ASSERT_TRUE(*r.next(m));
  auto more = r.next(m);
  ASSERT_FALSE(more);
  EXPECT_NE(more.error().message.find("truncated netlink message at byte 20"), std::string::npos)
      << more.error().message;
}

TEST(NlMsgReader, HeaderCutShortIsTruncated) {
  auto bytes = DumpBuilder().done().bytes();
  bytes.resize(bytes.size() + 7, 0);  // 7 stray bytes: less than a header
  NlMsgReader r(bytes);
  NlMsg m;
  ASSERT_TRUE(*r.next(m));
  auto more = r.next(m);
  ASSERT_FALSE(more);
  EXPECT_NE(more.error().message.find("truncated netlink message at byte 20"), std::string::npos)
      << more.error().message;
}

TEST(NlMsgReader, LengthShorterThanTheHeaderIsMalformedNotALoop) {
  std::vector<uint8_t> bytes(32, 0);  // nlmsg_len 0
  NlMsgReader r(bytes);
  NlMsg m;
  auto more = r.next(m);
  ASSERT_FALSE(more);
  EXPECT_NE(more.error().message.find("malformed netlink message at byte 0"), std::string::npos);
}

TEST(NlMsgReader, LastMessageMayLackItsPadding) {
  // A NOOP with a 1-byte payload: nlmsg_len 17, buffer 17 bytes (no alignment padding).
  std::vector<uint8_t> bytes(17, 0);
  nlmsghdr h{17, NLMSG_NOOP, 0, 0, 0};
  std::memcpy(bytes.data(), &h, sizeof h);
  NlMsgReader r(bytes);
  NlMsg m;
  ASSERT_TRUE(*r.next(m));
  EXPECT_EQ(m.payload.size(), 1u);
  EXPECT_FALSE(*r.next(m));
}

TEST(DumpRequestEncoding, MatchesTheKernelStruct) {
  auto b = encode_dump_request(DumpRequest{AF_INET6, IPPROTO_UDP, 0x402}, 77);
  nlmsghdr h;
  std::memcpy(&h, b.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_len, b.size());
  EXPECT_EQ(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_seq, 77u);
  inet_diag_req_v2 r;
  std::memcpy(&r, b.data() + NLMSG_HDRLEN, sizeof r);
  EXPECT_EQ(r.sdiag_family, AF_INET6);
  EXPECT_EQ(r.sdiag_protocol, IPPROTO_UDP);
  EXPECT_EQ(r.idiag_ext, 0);  // no INET_DIAG_INFO: keeps the dump cheap
  EXPECT_EQ(r.idiag_states, 0x402u);

  std::vector<uint8_t> v(b.begin(), b.end());
  auto back = decode_dump_request(first_message(v));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->family, AF_INET6);
  EXPECT_EQ(back->protocol, IPPROTO_UDP);
  EXPECT_EQ(back->states, 0x402u);
}

TEST(DumpRequestEncoding, ShortRequestIsRejected) {
  std::vector<uint8_t> v(NLMSG_HDRLEN + 8, 0);
  nlmsghdr h{uint32_t(v.size()), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 0, 0};
  std::memcpy(v.data(), &h, sizeof h);
  auto r = decode_dump_request(first_message(v));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("shorter than inet_diag_req_v2"), std::string::npos);
}

}  // namespace
}  // namespace cd
