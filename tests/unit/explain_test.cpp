// explain(): every message and errno the issue lists maps to the right entry and resource;
// the more specific message wins; tcp_tw_recycle is never recommended; unknown text fails.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "analyse/explain.h"
#include "analyse/finding.h"
#include "render/explain_render.h"

namespace cd {
namespace {

struct Case {
  const char* text;
  const char* id;
  const char* resource;
};

const Case kCases[] = {
    {"connect: Cannot assign requested address", "eaddrnotavail", "ephemeral_ports"},
    {"EADDRNOTAVAIL", "eaddrnotavail", "ephemeral_ports"},
    {"errno 99", "eaddrnotavail", "ephemeral_ports"},
    {"OSError: [Errno 99] Cannot assign requested address", "eaddrnotavail", "ephemeral_ports"},
    {"dial tcp 10.0.0.2:80: connect: can't assign requested address", "eaddrnotavail",
     "ephemeral_ports"},
    {"99", "eaddrnotavail", "ephemeral_ports"},
    {"-99", "eaddrnotavail", "ephemeral_ports"},
    {"bind: Address already in use", "eaddrinuse", "ephemeral_ports"},
    {"EADDRINUSE", "eaddrinuse", "ephemeral_ports"},
    {"Address in use (os error 98)", "eaddrinuse", "ephemeral_ports"},
    {"accept4: too many open files", "emfile", "file_descriptors"},
    {"EMFILE", "emfile", "file_descriptors"},
    {"errno=24", "emfile", "file_descriptors"},
    {"ENFILE", "enfile", "file_descriptors"},
    {"VFS: file-max limit 65536 reached", "enfile", "file_descriptors"},
    {"Too many open files in system", "enfile", "file_descriptors"},
    {"nf_conntrack: nf_conntrack: table full, dropping packet", "conntrack_table_full",
     "conntrack"},
    {"nf_conntrack: table full", "conntrack_table_full", "conntrack"},
    {"DNS timeout", "dns_5s_delay", "conntrack"},
    {"the Kubernetes 5 second DNS delay", "dns_5s_delay", "conntrack"},
    {"TCP: request_sock_TCP: Possible SYN flooding on port 0.0.0.0:8080. Sending cookies.",
     "syn_flooding", "accept_queue"},
    {"TCP: too many orphaned sockets", "too_many_orphans", "orphans"},
    {"TCP: out of memory -- consider tuning tcp_mem", "tcp_out_of_memory", "tcp_memory"},
    {"curl: (7) Failed to connect: Connection refused", "econnrefused", "accept_queue"},
    {"ECONNREFUSED", "econnrefused", "accept_queue"},
    {"errno 111", "econnrefused", "accept_queue"},
    {"connect: Connection timed out", "etimedout", "unanswered_connects"},
    {"ETIMEDOUT", "etimedout", "unanswered_connects"},
    {"read: connection reset by peer", "econnreset", "accept_queue"},
    {"ECONNRESET", "econnreset", "accept_queue"},
    {"kernel: TCP: time wait bucket table overflow", "tw_bucket_overflow", "time_wait"},
    {"TcpExtTCPTimeWaitOverflow", "tw_bucket_overflow", "time_wait"},
    {"net.ipv4.tcp_tw_recycle = 1", "tcp_tw_recycle", "time_wait"},
    {"tcp_tw_reuse", "tcp_tw_reuse", "ephemeral_ports"},
    {"sendto: Resource temporarily unavailable", "eagain", "ephemeral_ports"},
    {"EAGAIN", "eagain", "ephemeral_ports"},
    {"EWOULDBLOCK", "eagain", "ephemeral_ports"},
    {"30000 sockets in TIME_WAIT", "time_wait", "time_wait"},
    {"CLOSE_WAIT piling up", "close_wait", "close_wait"},
};

TEST(Explain, EveryListedMessageMapsToItsResource) {
  for (const Case& c : kCases) {
    auto e = explain(c.text);
    ASSERT_TRUE(e.has_value()) << c.text << ": " << e.error().message;
    ASSERT_EQ(e->matches.size(), 1u) << c.text;
    EXPECT_EQ(e->matches[0].entry->id, c.id) << c.text;
    EXPECT_EQ(e->matches[0].entry->resources.at(0), c.resource) << c.text;
  }
}

TEST(Explain, CaseInsensitive) {
  for (const char* t : {"CANNOT ASSIGN REQUESTED ADDRESS", "eaddrnotavail", "EaddrNotAvail"}) {
    auto e = explain(t);
    ASSERT_TRUE(e) << t;
    EXPECT_EQ(e->matches.at(0).entry->id, "eaddrnotavail") << t;
  }
}

TEST(Explain, MoreSpecificMessageWins) {
  auto e = explain("socket: Too many open files in system");
  ASSERT_TRUE(e);
  ASSERT_EQ(e->matches.size(), 1u);
  EXPECT_EQ(e->matches[0].entry->id, "enfile");
  EXPECT_EQ(e->matches[0].matched, "Too many open files in system");  // as typed
}

TEST(Explain, SeveralMessagesInOrderOfAppearance) {
  auto e = explain("first EMFILE, then later ECONNRESET and EMFILE again");
  ASSERT_TRUE(e);
  ASSERT_EQ(e->matches.size(), 2u);
  EXPECT_EQ(e->matches[0].entry->id, "emfile");
  EXPECT_EQ(e->matches[1].entry->id, "econnreset");
}

TEST(Explain, ErrnoNamesAreWholeWords) {
  EXPECT_FALSE(explain("EMFILEX"));
  EXPECT_FALSE(explain("my_emfile_handler"));
}

TEST(Explain, ErrnoNumbersUseThisPlatformsValues) {
  auto e = explain("error " + std::to_string(EADDRINUSE));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->matches.at(0).entry->id, "eaddrinuse");
  EXPECT_EQ(e->matches.at(0).entry->errno_value, EADDRINUSE);
  EXPECT_FALSE(explain("errno 99999"));
  EXPECT_FALSE(explain("HTTP 502 Bad Gateway"));
}

TEST(Explain, UnknownTextIsAnError) {
  auto e = explain("the printer is on fire");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("no known error message"), std::string::npos);
  EXPECT_EQ(e.error().message.find('\n'), std::string::npos);  // one line
  EXPECT_FALSE(explain(""));
  EXPECT_FALSE(explain("   "));
}

TEST(Explain, EaddrnotavailIsPerDestinationTuple) {
  auto e = explain("EADDRNOTAVAIL");
  ASSERT_TRUE(e);
  std::string text = explain_text(*e, false);
  EXPECT_NE(text.find("ONE destination tuple"), std::string::npos);
  EXPECT_NE(text.find("bind() to an IP address that is not configured"), std::string::npos);
  EXPECT_NE(text.find("No kernel counter moves"), std::string::npos);
}

TEST(Explain, TimeWaitOverflowTextIsHistorical) {
  auto e = explain("time wait bucket table overflow");
  ASSERT_TRUE(e);
  std::string text = explain_text(*e, false);
  EXPECT_NE(text.find("historical"), std::string::npos);
  EXPECT_NE(text.find("TCPTimeWaitOverflow"), std::string::npos);
}

// Any text that sets tcp_tw_recycle: "tcp_tw_recycle=1", "tcp_tw_recycle = 1",
// "sysctl -w net.ipv4.tcp_tw_recycle", "echo 1 > .../tcp_tw_recycle".
bool sets_tw_recycle(const std::string& s) {
  static const std::regex re(
      R"(tcp_tw_recycle\s*[=:]?\s*1|-w\s+\S*tcp_tw_recycle|echo\s+1\s*>\s*\S*tcp_tw_recycle)",
      std::regex::icase);
  return std::regex_search(s, re);
}

TEST(Explain, TwRecycleIsNeverRecommended) {
  ASSERT_TRUE(sets_tw_recycle("sysctl -w net.ipv4.tcp_tw_recycle=1"));  // the check works
  ASSERT_TRUE(sets_tw_recycle("echo 1 > /proc/sys/net/ipv4/tcp_tw_recycle"));
  auto e = explain("should I set net.ipv4.tcp_tw_recycle?");
  ASSERT_TRUE(e);
  ASSERT_EQ(e->matches.at(0).entry->id, "tcp_tw_recycle");
  std::string text = explain_text(*e, false);
  EXPECT_NE(text.find("removed in Linux 4.12"), std::string::npos);
  EXPECT_NE(text.find("must not be set"), std::string::npos);
  EXPECT_NE(text.find("tcp_tw_reuse is the one that exists"), std::string::npos);
  EXPECT_FALSE(sets_tw_recycle(text));
  // Nowhere in the whole table either.
  for (const ExplainEntry& en : explain_table()) {
    std::string all(en.meaning);
    for (auto v : {en.causes, en.commands, en.notes})
      for (std::string_view s : v) all += "\n" + std::string(s);
    EXPECT_FALSE(sets_tw_recycle(all)) << en.id;
  }
}

// explain only reads: its first commands never change the host.
TEST(Explain, CommandsAreReadOnly) {
  static const std::regex writes(
      R"(sysctl\s+-w|sysctl\s+\S+=|\s>\s|\btee\b|prlimit\s+--pid\s+\S+\s+--nofile=)");
  for (const ExplainEntry& e : explain_table())
    for (std::string_view c : e.commands)
      EXPECT_FALSE(std::regex_search(std::string(c), writes)) << e.id << ": " << c;
}

TEST(Explain, TableIsWellFormed) {
  std::set<std::string> resources;
  for (Resource r :
       {Resource::kEphemeralPorts, Resource::kTimeWait, Resource::kFileDescriptors,
        Resource::kCloseWait, Resource::kAcceptQueue, Resource::kConntrack, Resource::kSnatPorts,
        Resource::kOrphans, Resource::kTcpMemory, Resource::kConfig, Resource::kUnansweredConnects})
    resources.insert(std::string(to_string(r)));
  std::set<std::string_view> ids;
  for (const ExplainEntry& e : explain_table()) {
    EXPECT_TRUE(ids.insert(e.id).second) << "duplicate id " << e.id;
    EXPECT_FALSE(e.resources.empty()) << e.id;
    for (std::string_view r : e.resources)
      EXPECT_TRUE(resources.count(std::string(r))) << e.id << ": " << r;
    for (std::string_view f : e.findings) {
      std::string prefix(f.substr(0, f.find('.')));
      EXPECT_TRUE(resources.count(prefix)) << e.id << ": " << f;
    }
    EXPECT_FALSE(e.causes.empty()) << e.id;
    EXPECT_FALSE(e.commands.empty()) << e.id;
    for (std::string_view p : e.phrases) {
      std::string lower(p);
      for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(lower, p) << e.id << ": phrases must be lower case";
    }
    // The entry finds itself by its own title.
    auto self = explain(e.title);
    ASSERT_TRUE(self) << e.id;
    EXPECT_EQ(self->matches.at(0).entry->id, e.id);
  }
}

// Exact finding ids named by explain must be ids the rules emit: read the rule sources, so
// that renaming a finding without updating the table fails here.
TEST(Explain, ExactFindingIdsExistInTheRules) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(CONNDOCTOR_FIXTURES) / ".." / ".." / "src" / "analyse";
  std::string sources;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("rule_", 0) != 0 || entry.path().extension() != ".cpp") continue;
    std::ifstream in(entry.path());
    std::ostringstream ss;
    ss << in.rdbuf();
    sources += ss.str();
  }
  ASSERT_FALSE(sources.empty()) << dir;
  for (const ExplainEntry& e : explain_table())
    for (std::string_view f : e.findings) {
      if (f.ends_with(".*")) continue;
      EXPECT_NE(sources.find("\"" + std::string(f) + "\""), std::string::npos) << e.id << ": " << f;
    }
}

TEST(Explain, TextOutput) {
  auto e = explain("[Errno 24] Too many open files");
  ASSERT_TRUE(e);
  std::string text = explain_text(*e, false);
  EXPECT_EQ(text.rfind("EMFILE (errno 24): Too many open files\n", 0), 0u);
  EXPECT_NE(text.find("resource: file_descriptors (also close_wait)"), std::string::npos);
  EXPECT_NE(text.find("ITS OWN soft RLIMIT_NOFILE"), std::string::npos);
  EXPECT_NE(text.find("    1. A descriptor leak"), std::string::npos);
  EXPECT_NE(text.find("look at in `conndoctor check`: file_descriptors.process, close_wait.*"),
            std::string::npos);
  EXPECT_NE(text.find("    $ grep 'Max open files' /proc/PID/limits"), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(explain_text(*e, true).find('\x1b'), std::string::npos);
}

TEST(Explain, InvalidUtf8QueryStillGivesValidJson) {
  auto e = explain("\xff\xfe EMFILE \xc3");
  ASSERT_TRUE(e);
  std::string text;
  ASSERT_NO_THROW(text = explain_json(*e).dump());
  EXPECT_EQ(nlohmann::json::parse(text)["matches"][0]["id"], "emfile");
  auto bad = explain("\x1b[2J\xff nothing known here");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find('\x1b'), std::string::npos);
}

TEST(Explain, JsonOutput) {
  auto e = explain("connect() failed: EADDRNOTAVAIL");
  ASSERT_TRUE(e);
  nlohmann::ordered_json j = explain_json(*e);
  EXPECT_EQ(j["schema"], "conndoctor/explain/v1");
  EXPECT_EQ(j["query"], "connect() failed: EADDRNOTAVAIL");
  ASSERT_EQ(j["matches"].size(), 1u);
  auto m = j["matches"][0];
  EXPECT_EQ(m["id"], "eaddrnotavail");
  EXPECT_EQ(m["matched"], "EADDRNOTAVAIL");
  EXPECT_EQ(m["errno"]["name"], "EADDRNOTAVAIL");
  EXPECT_EQ(m["errno"]["number"], EADDRNOTAVAIL);
  EXPECT_EQ(m["resource"], "ephemeral_ports");
  EXPECT_TRUE(m["causes"].is_array());
  EXPECT_FALSE(m["causes"].empty());
  EXPECT_TRUE(m["findings"].is_array());
  EXPECT_TRUE(m["commands"].is_array());
  // Kernel log lines have no errno.
  auto k = explain("nf_conntrack: table full, dropping packet");
  ASSERT_TRUE(k);
  EXPECT_TRUE(explain_json(*k)["matches"][0]["errno"].is_null());
  EXPECT_EQ(nlohmann::json::parse(j.dump())["matches"][0]["id"], "eaddrnotavail");
}

}  // namespace
}  // namespace cd
