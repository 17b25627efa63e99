// Loading and checking serve's credentials (see auth.h).
#include "serve/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <optional>

#include "util/unique_fd.h"

namespace cd {
namespace {

constexpr std::size_t kMaxAuthFile = 4096;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Compares without an early exit, so that the time taken does not tell how much of a guessed
// credential was right. The length is not secret.
bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  return diff == 0;
}

bool printable_no_space(std::string_view s) {
  for (char c : s)
    if (!std::isgraph(static_cast<unsigned char>(c))) return false;
  return true;
}

// Quoted in a one-line error: control characters become '?'.
std::string quotable(std::string_view text) {
  std::string out(text.substr(0, 40));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", unsigned(m & 07777));
  return buf;
}

}  // namespace

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 |
                 uint32_t(uint8_t(in[i + 2]));
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

Result<AuthConfig> load_auth_file(const std::string& path) {
  const std::string what = "auth file " + path;
  // O_NOFOLLOW is not used: a symlink to a root-owned secret is a normal deployment. The
  // checks below run on the opened file (fstat), not on the name, so they see what is read.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return fail_errno(what);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(what);
  if (!S_ISREG(st.st_mode)) return fail(what + ": not a regular file");
  if (st.st_mode & (S_IROTH | S_IWOTH))
    return fail(what + " is readable or writable by every user (mode " + mode_text(st.st_mode) +
                "): chmod 600 it");
  if (st.st_mode & S_IWGRP)
    return fail(what + " is writable by its group (mode " + mode_text(st.st_mode) +
                "): chmod 600 or 640 it");
  if (st.st_size > off_t(kMaxAuthFile)) return fail(what + ": larger than 4 KiB");

  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(what);
    if (n == 0) break;
    text.append(buf, std::size_t(n));
    if (text.size() > kMaxAuthFile) return fail(what + ": larger than 4 KiB");
  }

  std::optional<AuthConfig> found;
  std::size_t line_no = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    ++line_no;
    std::size_t nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = what + " line " + std::to_string(line_no);
    if (found) return fail(where + ": more than one credential line");
    std::size_t sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos)
      return fail(where + ": expected 'bearer TOKEN' or 'basic USER:PASSWORD'");
    std::string_view scheme = line.substr(0, sp);
    std::string_view value = trim(line.substr(sp));
    if (!printable_no_space(value))
      return fail(where + ": the credential contains spaces or control characters");
    AuthConfig cfg;
    if (iequals(scheme, "bearer")) {
      if (value.size() < kMinTokenLength)
        return fail(where + ": token shorter than " + std::to_string(kMinTokenLength) +
                    " characters");
      cfg.kind = AuthConfig::Kind::kBearer;
      cfg.credentials = std::string(value);
    } else if (iequals(scheme, "basic")) {
      std::size_t colon = value.find(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 == value.size())
        return fail(where + ": expected 'basic USER:PASSWORD' with both parts non-empty");
      cfg.kind = AuthConfig::Kind::kBasic;
      cfg.credentials = base64_encode(value);
    } else {
      return fail(where + ": unknown scheme '" + quotable(scheme) +
                  "' (expected 'bearer' or 'basic')");
    }
    found = std::move(cfg);
  }
  if (!found) return fail(what + ": no credential line ('bearer TOKEN' or 'basic USER:PASSWORD')");
  return *found;
}

bool authorized(const AuthConfig& auth, std::string_view header) {
  header = trim(header);
  std::size_t sp = header.find(' ');
  if (sp == std::string_view::npos) return false;
  std::string_view scheme = header.substr(0, sp);
  std::string_view value = trim(header.substr(sp));
  const char* expected = auth.kind == AuthConfig::Kind::kBearer ? "bearer" : "basic";
  if (!iequals(scheme, expected)) return false;
  return constant_time_equals(value, auth.credentials);
}

std::string auth_challenge(const AuthConfig& auth) {
  return auth.kind == AuthConfig::Kind::kBearer ? "Bearer realm=\"conndoctor\""
                                                : "Basic realm=\"conndoctor\", charset=\"UTF-8\"";
}

}  // namespace cd
