// Credentials for `conndoctor serve`: a bearer token or a basic-auth user and password, read
// once from a file that must not be readable by every user, checked in constant time.
#pragma once

#include <string>
#include <string_view>

#include "util/error.h"

namespace cd {

struct AuthConfig {
  enum class Kind { kBearer, kBasic };
  Kind kind = Kind::kBearer;
  // What the Authorization header must carry after the scheme: the token, or
  // base64("user:password") for basic auth.
  std::string credentials;
};

inline constexpr std::size_t kMinTokenLength = 16;

// The file holds one credential line, "bearer TOKEN" or "basic USER:PASSWORD"; blank lines and
// lines starting with '#' are ignored. Refused (one-line Error naming the file and the
// problem): missing, not a regular file, readable or writable by every user, larger than 4 KiB,
// no or several credential lines, unknown scheme, a token shorter than kMinTokenLength.
Result<AuthConfig> load_auth_file(const std::string& path);

// True when an Authorization header value matches (scheme case-insensitive, as RFC 9110 says).
bool authorized(const AuthConfig& auth, std::string_view authorization_header);

// The WWW-Authenticate challenge for a 401 answer.
std::string auth_challenge(const AuthConfig& auth);

std::string base64_encode(std::string_view in);

}  // namespace cd
