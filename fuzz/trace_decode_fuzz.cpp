// Fuzz target for decode_trace and the trace renderers: the bytes are a sequence of map
// entries, each [map (1 byte)][key length (1)][value length (2, little endian)][key][value],
// so that entries of the right and of the wrong size both reach the decoder. Never a crash;
// every decoded count is one that was handed in.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "trace/trace_decode.h"
#include "render/trace_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cd;
  RawTraceMaps raw;
  raw.drop_reason_names = {{12, "NETFILTER_DROP"}, {40, "TCP_LISTEN_OVERFLOW"}};
  size_t off = 0;
  while (off + 4 <= size) {
    const uint8_t map = data[off];
    const size_t klen = data[off + 1];
    const size_t vlen = size_t(data[off + 2]) | size_t(data[off + 3]) << 8;
    off += 4;
    if (off + klen + vlen > size) break;
    RawEntry e{{data + off, data + off + klen}, {data + off + klen, data + off + klen + vlen}};
    off += klen + vlen;
    switch (map % 5) {
      case 0:
        raw.failures.push_back(std::move(e));
        break;
      case 1:
        raw.churn.push_back(std::move(e));
        break;
      case 2:
        raw.drops.push_back(std::move(e));
        break;
      case 3:
        raw.syn_retransmits.push_back(std::move(e));
        break;
      case 4:
        if (e.second.size() >= 8) std::memcpy(&raw.conns_untracked, e.second.data(), 8);
        break;
    }
  }
  TraceResult r = decode_trace(raw, 1.5);
  if (r.failures.size() > raw.failures.size() || r.drops.size() > raw.drops.size() ||
      r.churn.size() > raw.churn.size() || r.syn_retransmits.size() > raw.syn_retransmits.size())
    __builtin_trap();
  for (const auto& f : r.failures)
    if (f.count == 0) __builtin_trap();
  for (const auto& c : r.churn) {
    auto p50 = c.lifetime_ms(0.5), p99 = c.lifetime_ms(0.99);
    if (bool(p50) != bool(p99) || (p50 && *p50 > *p99)) __builtin_trap();
  }
  TraceScope scope{.netns = 1, .label = "fuzz"};
  (void)trace_json(r, scope).dump();
  (void)trace_text(r, scope);
  return 0;
}
