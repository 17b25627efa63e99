// Drawing `conndoctor top` on a terminal with plain ANSI sequences (docs/design.md says why not
// ncurses), behind a small interface so that the session can be driven with a fake in tests.
#pragma once

#include <termios.h>

#include <string>
#include <utility>

#include "top/top_view.h"
#include "util/error.h"

namespace cd {

// What the session needs of a terminal.
class TopTerminal {
 public:
  virtual ~TopTerminal() = default;
  virtual std::pair<int, int> size() = 0;  // columns, rows
  virtual void draw(const TopScreen& screen) = 0;
};

// The bytes that draw `screen` on a terminal of `rows` rows: each row addressed and cleared
// first, so nothing scrolls and no row depends on what was there, then the rows below the
// screen cleared; colour only when `color`.
std::string render_ansi(const TopScreen& screen, bool color, int rows);

// The real terminal: raw input (no echo, no line buffering, no signals from keys: Ctrl-C and
// Ctrl-Z arrive as bytes), the alternate screen and a hidden cursor while it lives; everything
// is restored by the destructor, on every exit path.
class AnsiTerminal : public TopTerminal {
 public:
  static Result<AnsiTerminal> open(int in_fd, int out_fd, bool color);
  AnsiTerminal(AnsiTerminal&& o) noexcept;
  AnsiTerminal& operator=(AnsiTerminal&&) = delete;
  ~AnsiTerminal() override;

  std::pair<int, int> size() override;
  void draw(const TopScreen& screen) override;

 private:
  AnsiTerminal(int in_fd, int out_fd, bool color, const termios& saved);
  int in_fd_ = -1;
  int out_fd_ = -1;
  bool color_ = false;
  bool active_ = false;
  termios saved_{};
};

}  // namespace cd
