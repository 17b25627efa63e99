// Replay of a recorded sock_diag transcript held in memory: what open_recorded_sock_source()
// uses after reading its file, and what tests and the fuzz target call directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collect/sock_source.h"
#include "util/error.h"

namespace cd {

// Validates the whole transcript up front (framing, requests, every inet_diag_msg, a terminator
// for every request); `name` (the file) prefixes every error, which also names the byte offset.
Result<std::unique_ptr<SockSource>> parse_recorded_sock_source(std::vector<uint8_t> bytes,
                                                               std::string name);

}  // namespace cd
