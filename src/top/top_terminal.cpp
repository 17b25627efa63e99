// ANSI output for `conndoctor top`: row-addressed redraws on the alternate screen, raw input.
#include "top/top_terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace cd {

namespace {

// The alternate screen, no cursor, no auto-wrap (a full last row must not scroll).
constexpr const char* kEnter = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J";
constexpr const char* kLeave = "\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal went away (SSH closed): nothing more to show
    off += std::size_t(n);
  }
}

}  // namespace

std::string render_ansi(const TopScreen& screen, bool color, int rows) {
  // Each row replaced whole; then everything below the last one (the screen shrank).
  std::string out;
  for (std::size_t r = 0; r < screen.size(); ++r) {
    // Cleared first: with auto-wrap off, clearing after a row that fills the width would erase
    // its last column.
    out += "\x1b[" + std::to_string(r + 1) + ";1H\x1b[2K";
    for (const TopSpan& s : screen[r]) out += paint(s.text, s.tone, color);
  }
  // Below the last row, when there is a below: with auto-wrap off the cursor sits on the last
  // column it wrote, which an erase from there would take too.
  if (int(screen.size()) < rows) out += "\x1b[" + std::to_string(screen.size() + 1) + ";1H\x1b[J";
  return out;
}

Result<AnsiTerminal> AnsiTerminal::open(int in_fd, int out_fd, bool color) {
  termios saved{};
  if (::tcgetattr(in_fd, &saved) != 0) return fail_errno("tcgetattr");
  termios raw = saved;
  raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN);
  raw.c_iflag &= ~tcflag_t(IXON | ICRNL);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  // TCSADRAIN, not TCSAFLUSH: keys typed while top started are read, not dropped.
  if (::tcsetattr(in_fd, TCSADRAIN, &raw) != 0) return fail_errno("tcsetattr");
  AnsiTerminal t(in_fd, out_fd, color, saved);
  write_all(out_fd, kEnter);
  return t;
}

AnsiTerminal::AnsiTerminal(int in_fd, int out_fd, bool color, const termios& saved)
    : in_fd_(in_fd), out_fd_(out_fd), color_(color), active_(true), saved_(saved) {}

AnsiTerminal::AnsiTerminal(AnsiTerminal&& o) noexcept
    : in_fd_(o.in_fd_), out_fd_(o.out_fd_), color_(o.color_), active_(o.active_), saved_(o.saved_) {
  o.active_ = false;
}

AnsiTerminal::~AnsiTerminal() {
  if (!active_) return;
  write_all(out_fd_, kLeave);
  ::tcsetattr(in_fd_, TCSAFLUSH, &saved_);
}

std::pair<int, int> AnsiTerminal::size() {
  winsize ws{};
  if (::ioctl(out_fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
    return {ws.ws_col, ws.ws_row};
  return {80, 24};
}

void AnsiTerminal::draw(const TopScreen& screen) {
  write_all(out_fd_, render_ansi(screen, color_, size().second));
}

}  // namespace cd
