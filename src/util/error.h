// Errors as values: every fallible operation returns Result<T>, carrying errno and context.
// Only cli/main.cpp turns an Error into a message and an exit status.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace cd {

struct Error {
  std::string message;  // one line, names what is wrong ("/proc/net/snmp: no 'Tcp:' header")
  int err = 0;          // errno when the cause was a system call, else 0

  // "what: strerror(errno)" for a failed system call.
  static Error from_errno(std::string what, int e = errno) {
    return Error{std::move(what) + ": " + std::strerror(e), e};
  }
  static Error msg(std::string what) { return Error{std::move(what), 0}; }
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string what) {
  return std::unexpected(Error::msg(std::move(what)));
}
inline std::unexpected<Error> fail_errno(std::string what, int e = errno) {
  return std::unexpected(Error::from_errno(std::move(what), e));
}

}  // namespace cd
