// The view model of `conndoctor top`: what each size of terminal shows, that nothing is wider
// than the terminal or cut inside a word, the keys, the sort orders, the session's redraws on a
// fake terminal, and the ANSI bytes.
#include <gtest/gtest.h>

#include <algorithm>

#include "top/top_frame.h"
#include "top/top_session.h"
#include "top/top_terminal.h"
#include "top/top_view.h"

namespace cd {
namespace {

TopFrame drained_frame() {
  TopFrame f;
  f.scope = "namespace cdlab-1-port-exhaustion";
  f.status = Status::kCritical;
  f.summary =
      "critical: ephemeral ports to 127.0.0.1:8080 100% used: connect() fails with "
      "EADDRNOTAVAIL (application layer, reuse connections)";
  f.rates = true;
  f.tuples.push_back({"", "127.0.0.1:8080", 1000, 1000, 1.0, 400.0, 0.0});
  f.tuples.push_back({"", "198.18.0.2:5432", 700, 1000, 0.7, 10.0, 30.0});
  f.tuples.push_back({"", "198.18.0.3:6379", 100, 1000, 0.1, 50.0, std::nullopt});
  for (int i = 0; i < 30; ++i)
    f.tuples.push_back(
        {"", "198.18.1." + std::to_string(i) + ":443", 1, 28232, 0.00003, 0.0, std::nullopt});
  f.processes.push_back({"", 4242, "cdlab-client", 1010, 1024});
  f.processes.push_back({"", 7, "java", 50000, 1048576});
  for (int i = 0; i < 40; ++i) f.processes.push_back({"", 100 + i, "sleep", 3, 1024});
  f.conntrack_count = 31234;
  f.conntrack_max = 262144;
  f.snat.push_back({"", "198.18.0.1 -> 203.0.113.5:443/tcp", 60000, 64512, 0.93});
  f.listeners.push_back({"", "127.0.0.1:8080", 128, 128, 3});
  f.listeners.push_back({"", "0.0.0.0:22", 0, 128, 0});
  f.listen_overflows_per_s = 12.5;
  f.tracing = true;
  f.failures_per_s = 250;
  f.failures.push_back(
      {"", "connect() EADDRNOTAVAIL", 4242, "cdlab-client", "127.0.0.1:8080", 250});
  return f;
}

TopStatusInfo info() {
  return {"2s", "11:02:03", ""};
}

std::vector<std::string> rows(const TopScreen& s) {
  std::vector<std::string> out;
  for (const TopLine& l : s) out.push_back(line_text(l));
  return out;
}

int count_containing(const TopScreen& s, const std::string& what) {
  auto r = rows(s);
  return int(std::count_if(
      r.begin(), r.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; }));
}

TEST(TopText, FitWordsKeepsWholeWords) {
  EXPECT_EQ(fit_words("short", 10), "short");
  EXPECT_EQ(fit_words("connect() fails with EADDRNOTAVAIL", 24), "connect() fails with…");
  EXPECT_EQ(display_width(fit_words("connect() fails with EADDRNOTAVAIL", 24)), 21);
  // One long token is shortened at a character, the only choice in a table cell.
  EXPECT_EQ(fit_words("[2001:db8::1]:443", 8), "[2001:d…");
  EXPECT_EQ(fit_words("abc", 0), "");
}

TEST(TopText, WideCharactersCountTwoColumns) {
  EXPECT_EQ(display_width("端口耗尽"), 8);
  EXPECT_EQ(display_width("…"), 1);
  std::string cut = fit_words("端口耗尽端口耗尽", 7);
  EXPECT_LE(display_width(cut), 7);
  EXPECT_EQ(cut, "端口耗…");
}

TEST(TopScreen, At80x24EveryRowFitsAndTheHotTupleLeads) {
  TopFrame f = drained_frame();
  TopScreen s = build_screen(&f, {}, info(), 80, 24);
  ASSERT_EQ(s.size(), 24u);
  for (const auto& r : rows(s)) EXPECT_LE(display_width(r), 80) << r;
  auto r = rows(s);
  EXPECT_NE(r[0].find("conndoctor top"), std::string::npos);
  EXPECT_NE(r[0].find("every 2s"), std::string::npos);
  EXPECT_NE(r[0].find("11:02:03"), std::string::npos);
  // The verdict is cut at a word, never inside one.
  EXPECT_EQ(r[1].rfind("critical: ephemeral ports to 127.0.0.1:8080 100% used", 0), 0u) << r[1];
  EXPECT_NE(r[1].find("…"), std::string::npos);
  EXPECT_EQ(r[1].find("EADDRNOTAVAI…"), std::string::npos);
  EXPECT_NE(r[2].find("conntrack"), std::string::npos);
  EXPECT_NE(r[2].find("11.9%"), std::string::npos);  // 31,234 / 262,144, rounded down
  EXPECT_NE(r[2].find("SNAT 93.0%"), std::string::npos);
  EXPECT_NE(r[3].find("accept queues full 1"), std::string::npos);
  EXPECT_NE(r[3].find("failed calls 250/s (traced)"), std::string::npos);
  // The first table row is the full tuple: 100.0 %, a full bar, exhausted now.
  auto hot = std::find_if(r.begin(), r.end(),
                          [](const std::string& l) { return l.find("127.0.0.1:8080") == 0; });
  ASSERT_NE(hot, r.end());
  EXPECT_NE(hot->find("100.0%"), std::string::npos);
  EXPECT_NE(hot->find("[############]"), std::string::npos);
  EXPECT_NE(hot->find("400/s"), std::string::npos);
  EXPECT_NE(hot->find(" now"), std::string::npos);
  EXPECT_EQ(count_containing(s, "cdlab-client"), 1);
  EXPECT_NE(r.back().find("[1 main]"), std::string::npos);
  EXPECT_NE(r.back().find("q quit"), std::string::npos);
}

TEST(TopScreen, NoRowIsWiderThanAnyTerminal) {
  TopFrame f = drained_frame();
  f.tuples[0].netns = "a-very-long-namespace-name-that-does-not-fit";
  f.processes[0].comm = "端口耗尽端口耗尽端口耗尽端口耗尽端口耗尽";
  for (int v = 0; v < kTopViews; ++v)
    for (int w : {60, 61, 79, 80, 81, 100, 132, 200})
      for (int h : {12, 13, 24, 25, 50}) {
        TopViewState st;
        st.view = TopViewKind(v);
        TopScreen s = build_screen(&f, st, info(), w, h);
        ASSERT_EQ(int(s.size()), h) << w << "x" << h;
        for (const auto& r : rows(s)) ASSERT_LE(display_width(r), w) << w << "x" << h << ": " << r;
        st.help = true;
        s = build_screen(&f, st, info(), w, h);
        ASSERT_LE(int(s.size()), h);
        for (const auto& r : rows(s)) ASSERT_LE(display_width(r), w) << r;
      }
}

TEST(TopScreen, TheTitleKeepsTheNamespaceWhole) {
  TopFrame f = drained_frame();
  f.scope = "namespace cdlab-11407-port-exhaustion";
  auto title = line_text(build_screen(&f, {}, info(), 80, 24)[0]);
  EXPECT_EQ(title.rfind("conndoctor top  namespace cdlab-11407-port-exhaustion", 0), 0u) << title;
  EXPECT_NE(title.find("updated 11:02:03"), std::string::npos) << title;
  EXPECT_EQ(display_width(title), 80);
  title = line_text(build_screen(&f, {}, info(), 132, 24)[0]);
  EXPECT_NE(title.find("every 2s  updated 11:02:03"), std::string::npos) << title;
}

TEST(TopScreen, ATallerTerminalShowsMoreRows) {
  TopFrame f = drained_frame();
  TopViewState st;
  st.view = TopViewKind::kTuples;
  int at24 = count_containing(build_screen(&f, st, info(), 80, 24), ":443");
  int at40 = count_containing(build_screen(&f, st, info(), 80, 40), ":443");
  EXPECT_GT(at40, at24);
  // What does not fit is counted, not dropped silently.
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 80, 24), "more"), 1);
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 80, 60), "more"), 0);
}

TEST(TopScreen, ATooSmallTerminalGetsOneLine) {
  TopFrame f = drained_frame();
  TopScreen s = build_screen(&f, {}, info(), 40, 10);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_LE(display_width(line_text(s[0])), 40);
}

TEST(TopScreen, BeforeTheFirstFrameItSaysSo) {
  TopScreen s = build_screen(nullptr, {}, info(), 80, 24);
  ASSERT_EQ(s.size(), 24u);
  EXPECT_NE(line_text(s[1]).find("waiting for the first reading"), std::string::npos);
}

TEST(TopScreen, WithoutRatesNothingIsMadeUp) {
  TopFrame f = drained_frame();
  f.rates = false;
  f.tuples[1].seconds_to_exhaustion.reset();
  f.tuples[1].new_per_s.reset();
  TopViewState st;
  st.view = TopViewKind::kTuples;
  auto r = rows(build_screen(&f, st, info(), 80, 24));
  EXPECT_NE(r[4].find("from the second reading on"), std::string::npos);
  auto row = std::find_if(r.begin(), r.end(),
                          [](const std::string& l) { return l.find("198.18.0.2:5432") == 0; });
  ASSERT_NE(row, r.end());
  EXPECT_EQ(row->find("stable"), std::string::npos);
  EXPECT_NE(row->find(" -"), std::string::npos);
}

TEST(TopScreen, ViewsShowTheirTables) {
  TopFrame f = drained_frame();
  TopViewState st;
  st.view = TopViewKind::kQueues;
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 80, 24), "LISTENING ON"), 1);
  st.view = TopViewKind::kSnat;
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 80, 24), "NAT ADDRESS"), 1);
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 132, 24), "203.0.113.5:443/tcp"), 2);
  st.view = TopViewKind::kFailures;
  auto s = build_screen(&f, st, info(), 80, 24);
  EXPECT_EQ(count_containing(s, "connect() EADDRNOTAVAIL"), 1);
  EXPECT_NE(line_text(s.back()).find("[6 fails]"), std::string::npos);
  f.tracing = false;
  f.trace_status = "needs root (CAP_BPF)";
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 80, 24), "not tracing: needs root"), 2);
  st.view = TopViewKind::kNamespaces;
  EXPECT_EQ(count_containing(build_screen(&f, st, info(), 80, 24), "--all-netns"), 1);
}

TEST(TopScreen, AllNamespacesTagRowsAndListTheWorstFirst) {
  TopFrame calm;
  calm.rates = true;
  calm.tuples.push_back({"", "198.18.0.9:80", 3, 28232, 0.0001, 1.0, std::nullopt});
  TopFrame hot = drained_frame();
  TopFrame m = merge_frames({{{"calm-ns", Status::kOk, "ok: nothing near"}, calm},
                             {{"hot-ns", Status::kCritical, "critical: ports"}, hot}});
  EXPECT_EQ(m.scope, "every namespace");
  EXPECT_TRUE(m.rates);
  EXPECT_FALSE(m.tracing);  // the calm namespace was not traced
  EXPECT_EQ(m.status, Status::kCritical);
  EXPECT_EQ(m.summary, "hot-ns: critical: ports");
  ASSERT_EQ(m.namespaces.size(), 2u);
  EXPECT_EQ(m.namespaces[0].label, "hot-ns");
  ASSERT_FALSE(m.tuples.empty());
  EXPECT_EQ(m.tuples[0].netns, "hot-ns");
  EXPECT_EQ(m.tuples[0].destination, "127.0.0.1:8080");
  TopScreen s = build_screen(&m, {}, info(), 80, 24);
  EXPECT_EQ(count_containing(s, "NETNS"), 2);  // tuples and processes
  for (const auto& r : rows(s)) EXPECT_LE(display_width(r), 80) << r;
  TopViewState st;
  st.view = TopViewKind::kNamespaces;
  auto r = rows(build_screen(&m, st, info(), 80, 24));
  auto first = std::find_if(r.begin(), r.end(),
                            [](const std::string& l) { return l.rfind("critical", 0) == 0; });
  auto second =
      std::find_if(r.begin(), r.end(), [](const std::string& l) { return l.rfind("ok", 0) == 0; });
  ASSERT_NE(first, r.end());
  ASSERT_NE(second, r.end());
  EXPECT_LT(first, second);
}

TEST(TopScreen, ANamespaceThatCouldNotBeReadTakesNothingFromTheOthers) {
  TopFrame hot = drained_frame();
  TopFrame m = merge_frames({{{"hot-ns", Status::kCritical, "critical: ports"}, hot},
                             {{"gone-ns", Status::kUnknown, "vanished"}, std::nullopt}});
  EXPECT_TRUE(m.rates);
  EXPECT_TRUE(m.tracing);
  EXPECT_EQ(m.status, Status::kCritical);
  ASSERT_EQ(m.namespaces.size(), 2u);
  EXPECT_EQ(m.namespaces[1].label, "gone-ns");
  EXPECT_EQ(m.tuples.size(), hot.tuples.size());
}

TEST(TopKeys, SwitchSortHelpAndQuit) {
  TopViewState st;
  EXPECT_EQ(apply_key(st, '2'), KeyAction::kRedraw);
  EXPECT_EQ(st.view, TopViewKind::kTuples);
  EXPECT_EQ(apply_key(st, '\t'), KeyAction::kRedraw);
  EXPECT_EQ(st.view, TopViewKind::kProcesses);
  EXPECT_EQ(apply_key(st, 's'), KeyAction::kRedraw);
  EXPECT_EQ(st.process_sort, ProcessSort::kFds);
  EXPECT_EQ(apply_key(st, '7'), KeyAction::kRedraw);
  EXPECT_EQ(apply_key(st, '\t'), KeyAction::kRedraw);
  EXPECT_EQ(st.view, TopViewKind::kOverview);
  EXPECT_EQ(apply_key(st, 's'), KeyAction::kRedraw);
  EXPECT_EQ(st.tuple_sort, TupleSort::kNewPerS);
  EXPECT_EQ(apply_key(st, '?'), KeyAction::kRedraw);
  EXPECT_TRUE(st.help);
  EXPECT_EQ(apply_key(st, 27), KeyAction::kRedraw);
  EXPECT_FALSE(st.help);
  EXPECT_EQ(apply_key(st, 27), KeyAction::kNone);
  EXPECT_EQ(apply_key(st, 'x'), KeyAction::kNone);
  EXPECT_EQ(apply_key(st, '8'), KeyAction::kNone);
  EXPECT_EQ(apply_key(st, 'q'), KeyAction::kQuit);
  EXPECT_EQ(apply_key(st, 3), KeyAction::kQuit);
}

TEST(TopKeys, SortOrdersReorderTheTuples) {
  TopFrame f = drained_frame();
  TopViewState st;
  st.view = TopViewKind::kTuples;
  auto first_row = [&] {
    auto r = rows(build_screen(&f, st, info(), 80, 24));
    return r[6].substr(0, r[6].find(' '));
  };
  EXPECT_EQ(first_row(), "127.0.0.1:8080");
  f.tuples[0].new_per_s = 1;  // the full tuple is no longer the busiest
  st.tuple_sort = TupleSort::kNewPerS;
  EXPECT_EQ(first_row(), "198.18.0.3:6379");
  st.tuple_sort = TupleSort::kExhaustion;
  EXPECT_EQ(first_row(), "127.0.0.1:8080");
  std::swap(f.tuples[0], f.tuples[1]);
  EXPECT_EQ(first_row(), "127.0.0.1:8080");  // exhausted now, whatever the order it came in
  auto r = rows(build_screen(&f, st, info(), 80, 24));
  EXPECT_NE(r[4].find("sorted by exhaustion"), std::string::npos);
}

// ---- the session on a fake terminal ----

class FakeTerminal : public TopTerminal {
 public:
  std::pair<int, int> size() override { return {cols, lines}; }
  void draw(const TopScreen& s) override {
    last = s;
    ++draws;
  }
  int cols = 80, lines = 24, draws = 0;
  TopScreen last;
};

TEST(TopSession, RedrawsOnFramesKeysAndResize) {
  FakeTerminal term;
  TopSession session(term, "1s");
  session.redraw();
  EXPECT_EQ(term.draws, 1);
  EXPECT_NE(screen_text(term.last).find("waiting for the first reading"), std::string::npos);
  session.show_frame(drained_frame(), "11:00:00");
  EXPECT_EQ(term.draws, 2);
  EXPECT_NE(screen_text(term.last).find("127.0.0.1:8080"), std::string::npos);
  EXPECT_TRUE(session.key('3'));
  EXPECT_EQ(term.draws, 3);
  EXPECT_NE(screen_text(term.last).find("[3 procs]"), std::string::npos);
  EXPECT_TRUE(session.key('x'));  // nothing to do: no redraw
  EXPECT_EQ(term.draws, 3);
  term.cols = 132;
  term.lines = 50;
  session.redraw();  // SIGWINCH
  EXPECT_EQ(term.last.size(), 50u);
  EXPECT_EQ(display_width(line_text(term.last[0])), 132);
  session.show_note("the collector was killed by SIGKILL; starting another in 1s");
  EXPECT_NE(line_text(term.last[4]).find("killed by SIGKILL"), std::string::npos);
  session.show_note("the collector was killed by SIGKILL; starting another in 1s");
  EXPECT_EQ(term.draws, 5);  // the same note again: nothing changes
  EXPECT_FALSE(session.key('q'));
}

TEST(TopTerminal, AnsiRowsAreAddressedAndColourIsOptional) {
  TopFrame f = drained_frame();
  TopScreen s = build_screen(&f, {}, info(), 80, 24);
  std::string plain = render_ansi(s, false, 24);
  EXPECT_NE(plain.find("\x1b[1;1H\x1b[2K"), std::string::npos);
  EXPECT_NE(plain.find("\x1b[24;1H\x1b[2K"), std::string::npos);
  EXPECT_EQ(plain.find("\x1b[0m"), std::string::npos);  // NO_COLOR: no SGR at all
  EXPECT_EQ(plain.find("\n"), std::string::npos);       // never scrolls
  // The last column of the last row survives: nothing is erased after it.
  EXPECT_EQ(plain.find("\x1b[J"), std::string::npos);
  EXPECT_EQ(plain.substr(plain.size() - 6), "q quit");
  std::string small = render_ansi(build_screen(&f, {}, info(), 40, 10), false, 10);
  EXPECT_NE(small.find("\x1b[2;1H\x1b[J"), std::string::npos);  // what was below is cleared
  std::string colored = render_ansi(s, true, 24);
  EXPECT_NE(colored.find("\x1b[1;31m"), std::string::npos);  // the critical verdict in red
}

}  // namespace
}  // namespace cd
