// Fuzz target for what `conndoctor serve` parses: --listen addresses, the Authorization header
// that comes from the network, label values in the exposition, and the auth file. The first
// byte picks which; the checks are the invariants each one promises.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "render/exposition.h"
#include "serve/auth.h"
#include "serve/server.h"
#include "util/unique_fd.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_listen(std::string_view in) {
  auto r = cd::parse_listen_address(in);
  if (!r) {
    check(!r.error().message.empty() && r.error().message.find('\n') == std::string::npos);
    return;
  }
  // What parses prints back to something that parses to the same thing.
  auto again = cd::parse_listen_address(r->to_string());
  check(again && again->host == r->host && again->port == r->port);
}

void fuzz_header(std::string_view in) {
  cd::AuthConfig bearer{cd::AuthConfig::Kind::kBearer, "0123456789abcdef0123"};
  cd::AuthConfig basic{cd::AuthConfig::Kind::kBasic, cd::base64_encode("prometheus:s3cret")};
  // Only the exact credential (after the scheme and spaces) is let in.
  if (cd::authorized(bearer, in)) check(in.find(bearer.credentials) != std::string_view::npos);
  if (cd::authorized(basic, in)) check(in.find(basic.credentials) != std::string_view::npos);
}

void fuzz_label(std::string_view in) {
  std::string out = cd::escape_label_value(in);
  check(out.find('\n') == std::string::npos);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\\') {
      check(i + 1 < out.size() && (out[i + 1] == '\\' || out[i + 1] == '"' || out[i + 1] == 'n'));
      ++i;
    } else {
      check(out[i] != '"');
    }
  }
}

void fuzz_auth_file(std::string_view in) {
  // An anonymous file with the right mode, read through its /proc/self/fd path.
  cd::UniqueFd fd(::memfd_create("auth", MFD_CLOEXEC));
  if (!fd) return;
  if (::fchmod(fd.get(), 0600) != 0) return;
  if (::write(fd.get(), in.data(), in.size()) != ssize_t(in.size())) return;
  auto r = cd::load_auth_file("/proc/self/fd/" + std::to_string(fd.get()));
  if (!r) {
    check(r.error().message.find('\n') == std::string::npos);
    return;
  }
  check(!r->credentials.empty());
  if (r->kind == cd::AuthConfig::Kind::kBearer) check(r->credentials.size() >= cd::kMinTokenLength);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      fuzz_listen(in);
      break;
    case 1:
      fuzz_header(in);
      break;
    case 2:
      fuzz_label(in);
      break;
    case 3:
      fuzz_auth_file(in);
      break;
  }
  return 0;
}
