// TopSession: state changes followed by a redraw at the terminal's current size.
#include "top/top_session.h"

namespace cd {

TopSession::TopSession(TopTerminal& terminal, std::string every) : terminal_(terminal) {
  info_.every = std::move(every);
}

void TopSession::show_frame(TopFrame frame, std::string updated) {
  frame_ = std::move(frame);
  info_.updated = std::move(updated);
  redraw();
}

void TopSession::show_note(std::string note) {
  if (note == info_.note) return;
  info_.note = std::move(note);
  redraw();
}

bool TopSession::key(int k) {
  switch (apply_key(state_, k)) {
    case KeyAction::kQuit:
      return false;
    case KeyAction::kRedraw:
      redraw();
      break;
    case KeyAction::kNone:
      break;
  }
  return true;
}

void TopSession::redraw() {
  auto [w, h] = terminal_.size();
  terminal_.draw(build_screen(frame_ ? &*frame_ : nullptr, state_, info_, w, h));
}

}  // namespace cd
