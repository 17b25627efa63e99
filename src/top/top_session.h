// One `conndoctor top` session: the view state, the latest frame and what the collector says,
// redrawn on the terminal whenever one of them or the terminal's size changes. The event loop
// (cli/cmd_top.cpp) feeds it; tests feed it with a fake terminal.
#pragma once

#include <optional>
#include <string>

#include "top/top_frame.h"
#include "top/top_terminal.h"
#include "top/top_view.h"

namespace cd {

class TopSession {
 public:
  TopSession(TopTerminal& terminal, std::string every);

  void show_frame(TopFrame frame, std::string updated);  // a new refresh
  void show_note(std::string note);                      // the collector's state ("" = fine)
  // A key; false when it asks to quit.
  bool key(int k);
  // The terminal changed size (SIGWINCH), or anything else asks for a full redraw.
  void redraw();

  const TopViewState& state() const { return state_; }
  const std::optional<TopFrame>& frame() const { return frame_; }

 private:
  TopTerminal& terminal_;
  TopViewState state_;
  TopStatusInfo info_;
  std::optional<TopFrame> frame_;
};

}  // namespace cd
