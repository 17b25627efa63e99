// The screen of `conndoctor top` as a pure function: which rows of a frame to show, sorted,
// shortened and laid out for a terminal of a given size, and what each key does. Nothing here
// touches a terminal (top_terminal.h draws a TopScreen); tests compare screens as text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "top/top_frame.h"
#include "util/text_style.h"

namespace cd {

enum class TopViewKind { kOverview, kTuples, kProcesses, kQueues, kSnat, kFailures, kNamespaces };
inline constexpr int kTopViews = 7;

// Per table, the orders `s` cycles through.
enum class TupleSort { kUtilization, kNewPerS, kExhaustion };
enum class ProcessSort { kFill, kFds };
enum class QueueSort { kFill, kSynRecv };

struct TopViewState {
  TopViewKind view = TopViewKind::kOverview;
  TupleSort tuple_sort = TupleSort::kUtilization;
  ProcessSort process_sort = ProcessSort::kFill;
  QueueSort queue_sort = QueueSort::kFill;
  bool help = false;
};

// What the screen process knows besides the frame.
struct TopStatusInfo {
  std::string every;    // "2s"
  std::string updated;  // "11:02:03"; "" before the first frame
  std::string note;     // the collector's state when not plainly working ("" otherwise)
};

struct TopSpan {
  std::string text;
  Tone tone = Tone::kPlain;
};
using TopLine = std::vector<TopSpan>;
// One entry per terminal row (never more than the height); no line is wider than the width.
using TopScreen = std::vector<TopLine>;

// The smallest terminal the layout is made for; a smaller one gets one line asking for more.
inline constexpr int kTopMinWidth = 60;
inline constexpr int kTopMinHeight = 12;

// `frame` is null before the first frame arrives.
TopScreen build_screen(const TopFrame* frame, const TopViewState& state, const TopStatusInfo& info,
                       int width, int height);

enum class KeyAction { kNone, kRedraw, kQuit };
// A key read from the terminal (a byte; Tab 9, Ctrl-C 3, Esc 27).
KeyAction apply_key(TopViewState& state, int key);

// Terminal columns `s` takes (UTF-8; East Asian wide characters count 2).
int display_width(std::string_view s);
// `s` in at most `width` columns: unchanged when it fits; else cut at the last space that keeps
// at least half of it (never inside a word), else at a character, and "…" added.
std::string fit_words(std::string_view s, int width);
// The text of a screen line (no colour), and of the whole screen, one line per row.
std::string line_text(const TopLine& line);
std::string screen_text(const TopScreen& screen);

}  // namespace cd
