// The layout of `conndoctor top`: five header rows (title, verdict, two resource lines, a note),
// the body of the current view, one key line at the bottom. Every human-readable string of the
// screen is in this file.
#include "top/top_view.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "util/format.h"
#include "util/i18n.h"

namespace cd {

// ---- text width ----

namespace {

// Length of the UTF-8 sequence starting with byte c (1 for a stray byte).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}

uint32_t decode_at(std::string_view s, std::size_t i, std::size_t n) {
  auto c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c;
  uint32_t cp = c & (0xFF >> (n + 1));
  for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

int cp_width(uint32_t cp) {
  const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
  return wide ? 2 : 1;
}

// The byte length of the longest prefix of `s` that fits in `width` columns.
std::size_t prefix_bytes(std::string_view s, int width) {
  std::size_t i = 0;
  int w = 0;
  while (i < s.size()) {
    std::size_t n = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    int cw = cp_width(decode_at(s, i, n));
    if (w + cw > width) break;
    w += cw;
    i += n;
  }
  return i;
}

const char* kEllipsis = "…";

}  // namespace

int display_width(std::string_view s) {
  int w = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    w += cp_width(decode_at(s, i, n));
    i += n;
  }
  return w;
}

std::string fit_words(std::string_view s, int width) {
  if (width <= 0) return {};
  if (display_width(s) <= width) return std::string(s);
  std::size_t cut = prefix_bytes(s, width - 1);
  std::size_t space = s.substr(0, cut + 1).rfind(' ');
  if (space != std::string_view::npos && space >= cut / 2) cut = space;
  std::string_view head = s.substr(0, cut);
  while (!head.empty() && (head.back() == ' ' || head.back() == ',' || head.back() == ';' ||
                           head.back() == ':' || head.back() == '('))
    head.remove_suffix(1);
  return std::string(head) + kEllipsis;
}

std::string line_text(const TopLine& line) {
  std::string out;
  for (const TopSpan& s : line) out += s.text;
  return out;
}

std::string screen_text(const TopScreen& screen) {
  std::string out;
  for (const TopLine& l : screen) out += line_text(l) + "\n";
  return out;
}

// ---- keys ----

KeyAction apply_key(TopViewState& s, int key) {
  switch (key) {
    case 'q':
    case 'Q':
    case 3:  // Ctrl-C: the terminal is raw, so it arrives as a byte
      return KeyAction::kQuit;
    case '?':
    case 'h':
      s.help = !s.help;
      return KeyAction::kRedraw;
    case 27:  // Esc closes the help
      if (!s.help) return KeyAction::kNone;
      s.help = false;
      return KeyAction::kRedraw;
    case '\t':
      s.view = TopViewKind((int(s.view) + 1) % kTopViews);
      s.help = false;
      return KeyAction::kRedraw;
    case 's':
      switch (s.view) {
        case TopViewKind::kOverview:
        case TopViewKind::kTuples:
          s.tuple_sort = TupleSort((int(s.tuple_sort) + 1) % 3);
          break;
        case TopViewKind::kProcesses:
          s.process_sort = ProcessSort((int(s.process_sort) + 1) % 2);
          break;
        case TopViewKind::kQueues:
          s.queue_sort = QueueSort((int(s.queue_sort) + 1) % 2);
          break;
        default:
          return KeyAction::kNone;
      }
      return KeyAction::kRedraw;
    default:
      if (key >= '1' && key < '1' + kTopViews) {
        s.view = TopViewKind(key - '1');
        s.help = false;
        return KeyAction::kRedraw;
      }
      return KeyAction::kNone;
  }
}

// ---- the screen ----

namespace {

// The human-readable words of the screen, in one place.
struct Words {
  static constexpr const char* kTitle = "conndoctor top";
  static constexpr const char* kEvery = N_("every");
  static constexpr const char* kUpdated = N_("updated");
  static constexpr const char* kWaiting = N_("waiting for the first reading...");
  static constexpr const char* kRatesLater =
      N_("rates and time to exhaustion from the second reading on");
  static constexpr const char* kConntrack = N_("conntrack");
  static constexpr const char* kConntrackNone = N_("conntrack: not in use here");
  static constexpr const char* kSnat = N_("SNAT");
  static constexpr const char* kSnatNone = N_("SNAT: no source NAT seen");
  static constexpr const char* kQueuesFull = N_("accept queues full");
  static constexpr const char* kOverflows = N_("overflows");
  static constexpr const char* kFailed = N_("failed calls");
  static constexpr const char* kTraced = N_("traced");
  static constexpr const char* kNotTraced = N_("failed calls: not traced (--trace)");
  static constexpr const char* kNotTracing = N_("not tracing");
  static constexpr const char* kTooSmall = N_("conndoctor top needs at least 60x12; q quits");
  static constexpr const char* kMore = N_("more");
  static constexpr const char* kNoTuples = N_("no outgoing connections from ephemeral ports");
  static constexpr const char* kNoProcesses = N_("no processes could be read");
  static constexpr const char* kNoListeners = N_("no listening sockets");
  static constexpr const char* kNoSnat = N_("no source-NAT entries in the conntrack table");
  static constexpr const char* kNoFailures = N_("no failed calls since the last refresh");
  static constexpr const char* kOneNamespace =
      N_("one namespace shown; --all-netns lists them all");
  static constexpr const char* kStable = N_("stable");
  static constexpr const char* kNow = N_("now");
  static constexpr const char* kUnlimited = N_("unlimited");
  static constexpr const char* kSortedBy = N_("sorted by");
  static constexpr const char* kKeys = N_("  s sort ? help q quit");
};

const char* view_name(TopViewKind v) {
  switch (v) {
    case TopViewKind::kOverview:
      return _("main");
    case TopViewKind::kTuples:
      return _("tuples");
    case TopViewKind::kProcesses:
      return _("procs");
    case TopViewKind::kQueues:
      return _("queues");
    case TopViewKind::kSnat:
      return _("snat");
    case TopViewKind::kFailures:
      return _("fails");
    case TopViewKind::kNamespaces:
      return _("netns");
  }
  return "";
}

const char* tuple_sort_name(TupleSort s) {
  switch (s) {
    case TupleSort::kUtilization:
      return _("utilisation");
    case TupleSort::kNewPerS:
      return _("new/s");
    case TupleSort::kExhaustion:
      return _("exhaustion");
  }
  return "";
}
const char* process_sort_name(ProcessSort s) {
  return s == ProcessSort::kFill ? _("fd fill") : _("open fds");
}
const char* queue_sort_name(QueueSort s) {
  return s == QueueSort::kFill ? _("queue fill") : _("SYN queue");
}

Tone status_tone(Status s) {
  switch (s) {
    case Status::kOk:
      return Tone::kOk;
    case Status::kWarning:
      return Tone::kWarning;
    case Status::kCritical:
      return Tone::kCritical;
    case Status::kUnknown:
      return Tone::kUnknown;
  }
  return Tone::kPlain;
}

Tone fill_tone(double ratio) {
  if (ratio >= 0.9) return Tone::kCritical;
  if (ratio >= 0.7) return Tone::kWarning;
  return Tone::kOk;
}

std::string pad_right(std::string s, int width) {
  int w = display_width(s);
  if (w < width) s.append(std::size_t(width - w), ' ');
  return s;
}
std::string pad_left(std::string s, int width) {
  int w = display_width(s);
  if (w < width) s.insert(0, std::size_t(width - w), ' ');
  return s;
}

// A cell: one token shortened with "…" when longer than its column, padded to it.
std::string cell(std::string_view s, int width, bool right) {
  std::string t = fit_words(s, width);
  return right ? pad_left(std::move(t), width) : pad_right(std::move(t), width);
}

// "[#######.....]" in `width` columns (brackets included).
TopLine bar(double ratio, int width) {
  int inner = std::max(1, width - 2);
  double r = std::clamp(std::isfinite(ratio) ? ratio : 0.0, 0.0, 1.0);
  // Rounded, but full only when full: a 99.6 % pool must not look like an empty one.
  int filled = int(std::lround(r * inner));
  if (r < 1.0 && filled == inner) filled = inner - 1;
  return {{"[", Tone::kPlain},
          {std::string(std::size_t(filled), '#'), fill_tone(r)},
          {std::string(std::size_t(inner - filled), '.'), Tone::kDim},
          {"]", Tone::kPlain}};
}

// A table column: its title, width (0: shares what is left), alignment.
struct Col {
  std::string title;
  int width = 0;
  bool right = false;
  bool is_bar = false;
};

// Widths for the columns in `width` terminal columns (one space between columns); flexible
// columns (width 0) share what is left, at least `min_flex` each.
std::vector<int> layout(const std::vector<Col>& cols, int width, int min_flex = 8) {
  int fixed = 0, flex = 0;
  for (const Col& c : cols) {
    if (c.width)
      fixed += c.width;
    else
      ++flex;
  }
  fixed += int(cols.size()) - 1;
  int left = std::max(flex * min_flex, width - fixed);
  std::vector<int> w;
  int given = 0;
  for (const Col& c : cols) {
    if (c.width) {
      w.push_back(c.width);
    } else {
      int share = (left - given) / flex--;
      given += share;
      w.push_back(share);
    }
  }
  return w;
}

struct Table {
  std::vector<Col> cols;
  std::vector<int> widths;

  TopLine header() const {
    std::string t;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (i) t += " ";
      t += cell(cols[i].title, widths[i], cols[i].right);
    }
    return {{t, Tone::kBold}};
  }
  // One row: text cells, the bar column drawn from `ratio`, a tone for the whole row.
  TopLine row(const std::vector<std::string>& cells, double ratio, Tone tone = Tone::kPlain) const {
    TopLine line;
    std::size_t k = 0;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      std::string sep = i ? " " : "";
      if (cols[i].is_bar) {
        line.push_back({sep, Tone::kPlain});
        for (auto& s : bar(ratio, widths[i])) line.push_back(std::move(s));
        continue;
      }
      line.push_back(
          {sep + cell(k < cells.size() ? cells[k] : "", widths[i], cols[i].right), tone});
      ++k;
    }
    return line;
  }
};

// Narrow terminals: the bar shrinks, then goes, then the namespace column shrinks, so that the
// flexible columns keep their minimum.
Table make_table(std::vector<Col> cols, int width) {
  auto needed = [&] {
    int n = int(cols.size()) - 1;
    for (const Col& c : cols) n += c.width ? c.width : 8;
    return n;
  };
  while (needed() > width) {
    auto bar = std::find_if(cols.begin(), cols.end(), [](const Col& c) { return c.is_bar; });
    auto ns =
        std::find_if(cols.begin(), cols.end(), [](const Col& c) { return c.title == "NETNS"; });
    if (bar != cols.end() && bar->width > 6)
      bar->width = std::max(6, bar->width - (needed() - width));
    else if (bar != cols.end())
      cols.erase(bar);
    else if (ns != cols.end() && ns->width > 8)
      ns->width = std::max(8, ns->width - (needed() - width));
    else
      break;
  }
  Table t{std::move(cols), {}};
  t.widths = layout(t.cols, width);
  return t;
}

std::string opt_rate(const std::optional<double>& v, bool rates) {
  if (!rates || !v) return "-";
  return per_second(*v);
}

std::string exhaustion(const TopTuple& t, bool rates) {
  if (t.seconds_to_exhaustion) {
    return *t.seconds_to_exhaustion <= 0 ? _(Words::kNow) : fmt_duration(*t.seconds_to_exhaustion);
  }
  if (t.utilization >= 1.0) return _(Words::kNow);
  return rates ? _(Words::kStable) : "-";
}

bool any_netns(const auto& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.netns.empty(); });
}

// ---- sorting (the frame arrives in the default order) ----

std::vector<TopTuple> sorted_tuples(const TopFrame& f, TupleSort s) {
  auto v = f.tuples;
  if (s == TupleSort::kNewPerS) {
    std::stable_sort(v.begin(), v.end(), [](const TopTuple& a, const TopTuple& b) {
      return a.new_per_s.value_or(-1) > b.new_per_s.value_or(-1);
    });
  } else if (s == TupleSort::kExhaustion) {
    auto key = [](const TopTuple& t) {
      if (t.seconds_to_exhaustion) return *t.seconds_to_exhaustion;
      return t.utilization >= 1.0 ? 0.0 : HUGE_VAL;
    };
    std::stable_sort(v.begin(), v.end(),
                     [&](const TopTuple& a, const TopTuple& b) { return key(a) < key(b); });
  }
  return v;
}

std::vector<TopProcess> sorted_processes(const TopFrame& f, ProcessSort s) {
  auto v = f.processes;
  if (s == ProcessSort::kFds)
    std::stable_sort(v.begin(), v.end(),
                     [](const TopProcess& a, const TopProcess& b) { return a.fds > b.fds; });
  return v;
}

std::vector<TopListener> sorted_listeners(const TopFrame& f, QueueSort s) {
  auto v = f.listeners;
  if (s == QueueSort::kSynRecv)
    std::stable_sort(v.begin(), v.end(), [](const TopListener& a, const TopListener& b) {
      return a.syn_recv > b.syn_recv;
    });
  return v;
}

// ---- tables: each appends at most `rows` lines ----

using Lines = std::vector<TopLine>;

// Header, then rows; when they do not all fit, the last line says how many more there are.
template <class Row>
void table_rows(Lines& out, const Table& t, const std::vector<Row>& rows, int room,
                const std::function<TopLine(const Row&)>& render, const char* empty) {
  if (room <= 0) return;
  out.push_back(t.header());
  --room;
  if (rows.empty()) {
    if (room > 0) out.push_back({{std::string("  ") + empty, Tone::kDim}});
    return;
  }
  int shown = int(rows.size()) <= room ? int(rows.size()) : room - 1;
  for (int i = 0; i < shown; ++i) out.push_back(render(rows[std::size_t(i)]));
  if (shown < int(rows.size()) && room > 0)
    out.push_back(
        {{"  ... " + with_commas(rows.size() - std::size_t(shown)) + " " + _(Words::kMore),
          Tone::kDim}});
}

void tuples_table(Lines& out, const TopFrame& f, TupleSort sort, int width, int room) {
  bool ns = any_netns(f.tuples);
  std::vector<Col> cols;
  if (ns) cols.push_back({"NETNS", 14});
  cols.push_back({_("DESTINATION"), 0});
  cols.push_back({_("USED"), 7, true});
  cols.push_back({_("POOL"), 7, true});
  cols.push_back({"", width >= 80 && !ns ? 14 : 8, false, true});
  cols.push_back({_("UTIL"), 6, true});
  cols.push_back({"NEW/S", 8, true});
  cols.push_back({_("EXHAUSTS"), 8, true});
  if (width > 100) cols[ns ? 4 : 3].width += std::min(30, width - 100);
  Table t = make_table(cols, width);
  const bool rates = f.rates;
  table_rows<TopTuple>(
      out, t, sorted_tuples(f, sort), room,
      [&](const TopTuple& r) {
        std::vector<std::string> c;
        if (ns) c.push_back(r.netns);
        c.push_back(r.destination);
        c.push_back(with_commas(r.in_use));
        c.push_back(with_commas(r.usable));
        c.push_back(fmt_pct(r.utilization));
        c.push_back(opt_rate(r.new_per_s, rates));
        c.push_back(exhaustion(r, rates));
        return t.row(c, r.utilization, r.utilization >= 0.9 ? Tone::kBold : Tone::kPlain);
      },
      _(Words::kNoTuples));
}

void processes_table(Lines& out, const TopFrame& f, ProcessSort sort, int width, int room) {
  bool ns = any_netns(f.processes);
  std::vector<Col> cols;
  if (ns) cols.push_back({"NETNS", 14});
  cols.push_back({"PID", 7, true});
  cols.push_back({_("COMMAND"), 0});
  cols.push_back({_("FDS"), 9, true});
  cols.push_back({_("LIMIT"), 9, true});
  cols.push_back({"", width >= 80 && !ns ? 14 : 8, false, true});
  cols.push_back({_("FILL"), 6, true});
  Table t = make_table(cols, width);
  table_rows<TopProcess>(
      out, t, sorted_processes(f, sort), room,
      [&](const TopProcess& p) {
        std::vector<std::string> c;
        if (ns) c.push_back(p.netns);
        c.push_back(std::to_string(p.pid));
        c.push_back(p.comm);
        c.push_back(with_commas(p.fds));
        c.push_back(p.limit ? with_commas(*p.limit) : _(Words::kUnlimited));
        c.push_back(p.limit ? fmt_pct(p.fill()) : "-");
        return t.row(c, p.fill());
      },
      _(Words::kNoProcesses));
}

void queues_table(Lines& out, const TopFrame& f, QueueSort sort, int width, int room) {
  bool ns = any_netns(f.listeners);
  std::vector<Col> cols;
  if (ns) cols.push_back({"NETNS", 14});
  cols.push_back({_("LISTENING ON"), 0});
  cols.push_back({_("QUEUE"), 7, true});
  cols.push_back({_("LIMIT"), 7, true});
  cols.push_back({"", width >= 80 && !ns ? 14 : 8, false, true});
  cols.push_back({_("FILL"), 6, true});
  cols.push_back({"SYN-RECV", 8, true});
  Table t = make_table(cols, width);
  table_rows<TopListener>(
      out, t, sorted_listeners(f, sort), room,
      [&](const TopListener& l) {
        double fill = l.queue_limit ? double(l.queue_len) / l.queue_limit : 0.0;
        std::vector<std::string> c;
        if (ns) c.push_back(l.netns);
        c.push_back(l.local);
        c.push_back(with_commas(l.queue_len));
        c.push_back(with_commas(l.queue_limit));
        c.push_back(fmt_pct(fill));
        c.push_back(with_commas(l.syn_recv));
        return t.row(c, fill);
      },
      _(Words::kNoListeners));
}

void snat_table(Lines& out, const TopFrame& f, int width, int room) {
  bool ns = any_netns(f.snat);
  std::vector<Col> cols;
  if (ns) cols.push_back({"NETNS", 14});
  cols.push_back({_("NAT ADDRESS -> DESTINATION"), 0});
  cols.push_back({_("PORTS"), 8, true});
  cols.push_back({_("POOL"), 7, true});
  cols.push_back({"", width >= 80 && !ns ? 14 : 8, false, true});
  cols.push_back({_("UTIL"), 6, true});
  Table t = make_table(cols, width);
  table_rows<TopSnat>(
      out, t, f.snat, room,
      [&](const TopSnat& s) {
        std::vector<std::string> c;
        if (ns) c.push_back(s.netns);
        c.push_back(s.group);
        c.push_back(with_commas(s.entries));
        c.push_back(with_commas(s.pool));
        c.push_back(fmt_pct(s.utilization));
        return t.row(c, s.utilization);
      },
      _(Words::kNoSnat));
}

void failures_table(Lines& out, const TopFrame& f, int width, int room) {
  if (!f.tracing) {
    if (room > 0)
      out.push_back(
          {{f.trace_status.empty()
                ? std::string(_(Words::kNotTraced))
                : fit_words(std::string(_(Words::kNotTracing)) + ": " + f.trace_status, width),
            Tone::kDim}});
    return;
  }
  bool ns = any_netns(f.failures);
  std::vector<Col> cols;
  if (ns) cols.push_back({"NETNS", 14});
  cols.push_back({_("FAILED CALL"), ns ? 22 : 24});
  cols.push_back({"PID", 7, true});
  cols.push_back({_("COMMAND"), ns ? 12 : 15});
  cols.push_back({_("DESTINATION"), 0});
  cols.push_back({_("RATE"), 9, true});
  Table t = make_table(cols, width);
  table_rows<TopFailure>(
      out, t, f.failures, room,
      [&](const TopFailure& x) {
        std::vector<std::string> c;
        if (ns) c.push_back(x.netns);
        c.push_back(x.call);
        c.push_back(x.pid ? std::to_string(x.pid) : "-");
        c.push_back(x.comm.empty() ? "-" : x.comm);
        c.push_back(x.destination.empty() ? "-" : x.destination);
        c.push_back(per_second(x.per_s));
        return t.row(c, 0, Tone::kPlain);
      },
      _(Words::kNoFailures));
}

void namespaces_table(Lines& out, const TopFrame& f, int width, int room) {
  if (f.namespaces.empty()) {
    if (room > 0) out.push_back({{_(Words::kOneNamespace), Tone::kDim}});
    return;
  }
  std::vector<int> w = layout({{"", 9}, {"", 22}, {"", 0}}, width);
  out.push_back({{cell(_("STATUS"), w[0], false) + " " + cell("NETNS", w[1], false) + " " +
                      cell(_("VERDICT"), w[2], false),
                  Tone::kBold}});
  --room;
  int shown = 0;
  for (const TopNamespace& n : f.namespaces) {
    if (shown + 1 >= room && shown + 1 < int(f.namespaces.size())) {
      out.push_back({{"  ... " + with_commas(f.namespaces.size() - std::size_t(shown)) + " " +
                          _(Words::kMore),
                      Tone::kDim}});
      return;
    }
    if (shown >= room) return;
    out.push_back(
        {{cell(std::string(to_string(n.status)), w[0], false), status_tone(n.status)},
         {" " + cell(n.label, w[1], false) + " " + cell(n.summary, w[2], false), Tone::kPlain}});
    ++shown;
  }
}

// ---- header and footer ----

// The scope is kept whole when it can be: the refresh details give way first.
TopLine title_line(const TopFrame* f, const TopStatusInfo& info, int width) {
  std::string left = std::string(Words::kTitle) + "  " + (f ? f->scope : std::string());
  std::string every = std::string(_(Words::kEvery)) + " " + info.every;
  std::string updated =
      info.updated.empty() ? std::string() : std::string(_(Words::kUpdated)) + " " + info.updated;
  std::vector<std::string> rights;
  rights.push_back(updated.empty() ? every : every + "  " + updated);
  if (!updated.empty()) rights.push_back(updated);
  if (!info.updated.empty()) rights.push_back(info.updated);
  for (const std::string& right : rights) {
    int room = width - display_width(right) - 2;
    if (display_width(left) <= room)
      return {{pad_right(left, width - display_width(right)), Tone::kBold}, {right, Tone::kDim}};
  }
  return {{fit_words(left, width), Tone::kBold}};
}

TopLine verdict_line(const TopFrame* f, int width) {
  if (!f) return {{fit_words(_(Words::kWaiting), width), Tone::kDim}};
  return {{fit_words(f->summary, width), status_tone(f->status)}};
}

// conntrack fill and the fullest SNAT group.
TopLine conntrack_line(const TopFrame& f, int width) {
  TopLine line;
  int used = 0;
  auto add = [&](std::string s, Tone t = Tone::kPlain) {
    used += display_width(s);
    line.push_back({std::move(s), t});
  };
  if (f.conntrack_count && f.conntrack_max && *f.conntrack_max > 0) {
    double r = double(*f.conntrack_count) / double(*f.conntrack_max);
    add(std::string(_(Words::kConntrack)) + " ");
    for (auto& s : bar(r, 12)) add(s.text, s.tone);
    add(" " + fmt_pct(r) + " " + with_commas(uint64_t(*f.conntrack_count)) + "/" +
        with_commas(uint64_t(*f.conntrack_max)));
  } else {
    add(_(Words::kConntrackNone), Tone::kDim);
  }
  std::string snat;
  Tone tone = Tone::kDim;
  if (!f.snat.empty()) {
    const TopSnat& s = f.snat.front();
    snat = std::string(_(Words::kSnat)) + " " + fmt_pct(s.utilization) + " " + s.group;
    tone = fill_tone(s.utilization);
  } else {
    snat = _(Words::kSnatNone);
  }
  int room = width - used - 3;
  if (room >= 12) add("   " + fit_words(snat, room), tone);
  return line;
}

// Accept queues and traced failures.
TopLine queues_line(const TopFrame& f, int width) {
  std::size_t full = std::count_if(
      f.listeners.begin(), f.listeners.end(),
      [](const TopListener& l) { return l.queue_limit && l.queue_len >= l.queue_limit; });
  std::string q = std::string(_(Words::kQueuesFull)) + " " + std::to_string(full) + ", " +
                  _(Words::kOverflows) + " " + opt_rate(f.listen_overflows_per_s, f.rates);
  Tone qt = full || f.listen_overflows_per_s.value_or(0) > 0 ? Tone::kWarning : Tone::kPlain;
  std::string t;
  Tone tt = Tone::kDim;
  if (f.tracing) {
    t = std::string(_(Words::kFailed)) + " " +
        (f.failures_per_s ? per_second(*f.failures_per_s) : std::string("-")) + " (" +
        _(Words::kTraced) + ")";
    tt = f.failures_per_s.value_or(0) > 0 ? Tone::kCritical : Tone::kPlain;
  } else if (!f.trace_status.empty()) {
    t = std::string(_(Words::kNotTracing)) + ": " + f.trace_status;
  } else {
    t = _(Words::kNotTraced);
  }
  TopLine line{{fit_words(q, width), qt}};
  int room = width - display_width(line[0].text) - 3;
  if (room >= 12) line.push_back({"   " + fit_words(t, room), tt});
  return line;
}

std::string sort_name(const TopViewState& s) {
  switch (s.view) {
    case TopViewKind::kOverview:
    case TopViewKind::kTuples:
      return tuple_sort_name(s.tuple_sort);
    case TopViewKind::kProcesses:
      return process_sort_name(s.process_sort);
    case TopViewKind::kQueues:
      return queue_sort_name(s.queue_sort);
    default:
      return {};
  }
}

// The collector's state or what is not measured yet, and the sort order on the right.
TopLine note_line(const TopFrame* f, const TopViewState& s, const TopStatusInfo& info, int width) {
  std::string n = info.note;
  if (n.empty() && f && !f->rates) n = _(Words::kRatesLater);
  std::string sort = sort_name(s);
  if (sort.empty() || s.help) return {{fit_words(n, width), Tone::kDim}};
  std::string right = std::string(_(Words::kSortedBy)) + " " + sort;
  int room = width - display_width(right) - 2;
  return {{pad_right(fit_words(n, room), width - display_width(right)), Tone::kDim},
          {right, Tone::kPlain}};
}

// The views (the current one in brackets, also without colour) and the other keys.
TopLine keys_line(const TopViewState& s, int width) {
  std::string keys = _(Words::kKeys);
  std::string views;
  for (int v = 0; v < kTopViews; ++v) {
    std::string item = std::to_string(v + 1) + " " + view_name(TopViewKind(v));
    if (TopViewKind(v) == s.view && !s.help) item = "[" + item + "]";
    views += (v ? " " : "") + item;
  }
  int room = width - display_width(keys);
  return {{pad_right(fit_words(views, room), room), Tone::kPlain}, {keys, Tone::kBold}};
}

Lines help_lines(int width) {
  const char* text[] = {
      N_("Keys"),
      N_("  1-7 or Tab  switch view: main (tuples and processes), tuples, processes,"),
      N_("              accept queues, SNAT groups, traced failures, namespaces"),
      N_("  s           change the sort order of the current table"),
      N_("  ? or h      this help (Esc or ? closes it)"),
      N_("  q or Ctrl-C quit (the terminal is restored)"),
      "",
      N_("Columns"),
      N_("  USED/POOL   ports held towards one destination (TIME_WAIT that tcp_tw_reuse"),
      N_("              hands back excluded) and the ports connect() may use for it"),
      N_("  NEW/S       new connections per second to it, from two refreshes"),
      N_("  EXHAUSTS    time until its pool is empty at that rate (now: empty)"),
      N_("  FDS/LIMIT   open files of a process and its own soft RLIMIT_NOFILE"),
      N_("  QUEUE/LIMIT accept queue of a listener: connections not yet accepted"),
  };
  Lines out;
  for (const char* t : text) out.push_back({{fit_words(*t ? _(t) : t, width), Tone::kPlain}});
  out.front().front().tone = Tone::kBold;
  out[7].front().tone = Tone::kBold;
  return out;
}

// The last resort against a row wider than the terminal: cut it at the width.
void clip(TopLine& line, int width) {
  int used = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    int w = display_width(line[i].text);
    if (used + w > width) {
      line[i].text = line[i].text.substr(0, prefix_bytes(line[i].text, width - used));
      line.resize(i + 1);
      return;
    }
    used += w;
  }
}

}  // namespace

TopScreen build_screen(const TopFrame* f, const TopViewState& s, const TopStatusInfo& info,
                       int width, int height) {
  TopScreen out;
  if (height <= 0 || width <= 0) return out;
  if (width < kTopMinWidth || height < kTopMinHeight) {
    out.push_back({{fit_words(_(Words::kTooSmall), width), Tone::kBold}});
    return out;
  }
  out.push_back(title_line(f, info, width));
  out.push_back(verdict_line(f, width));
  if (f) {
    out.push_back(conntrack_line(*f, width));
    out.push_back(queues_line(*f, width));
  } else {
    out.push_back({});
    out.push_back({});
  }
  out.push_back(note_line(f, s, info, width));

  int room = height - int(out.size()) - 1;  // the key line at the bottom
  Lines body;
  if (s.help) {
    body = help_lines(width);
  } else if (f) {
    switch (s.view) {
      case TopViewKind::kOverview: {
        // Tuples first; processes get at least a third of the room.
        int procs = std::max(4, room / 3);
        int tuples = std::max(2, room - procs - 1);
        int want = int(f->tuples.size()) + 1;
        if (want < tuples) tuples = std::max(2, want);
        tuples_table(body, *f, s.tuple_sort, width, tuples);
        body.push_back({});
        processes_table(body, *f, s.process_sort, width, room - int(body.size()));
        break;
      }
      case TopViewKind::kTuples:
        tuples_table(body, *f, s.tuple_sort, width, room);
        break;
      case TopViewKind::kProcesses:
        processes_table(body, *f, s.process_sort, width, room);
        break;
      case TopViewKind::kQueues:
        queues_table(body, *f, s.queue_sort, width, room);
        break;
      case TopViewKind::kSnat:
        snat_table(body, *f, width, room);
        break;
      case TopViewKind::kFailures:
        failures_table(body, *f, width, room);
        break;
      case TopViewKind::kNamespaces:
        namespaces_table(body, *f, width, room);
        break;
    }
  }
  if (int(body.size()) > room) body.resize(std::size_t(room));
  for (auto& l : body) out.push_back(std::move(l));
  while (int(out.size()) < height - 1) out.push_back({});
  out.push_back(keys_line(s, width));
  for (auto& l : out) clip(l, width);
  return out;
}

}  // namespace cd
