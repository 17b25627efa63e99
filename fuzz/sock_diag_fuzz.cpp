// Fuzz target for the sock_diag parsers: the bytes are a recorded transcript, fed to the replay
// source's parser, to the message decoders directly, and (when they parse) through dump_all and
// the aggregator, then the unix listeners.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <netinet/in.h>

#include "collect/recorded_sock_source.h"
#include "collect/sock_diag_decode.h"
#include "collect/socket_aggregator.h"
#include "collect/unix_listeners.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cd;
  // Every message on its own, whatever the framing around it says.
  NlMsgReader reader({data, size});
  NlMsg m;
  SockRecord rec;
  UnixSockRecord urec;
  for (;;) {
    auto more = reader.next(m);
    if (!more || !*more) break;
    (void)decode_reply(m, IPPROTO_TCP, rec);
    (void)decode_unix_reply(m, urec);
    (void)decode_dump_request(m);
  }

  auto src = parse_recorded_sock_source(std::vector<uint8_t>(data, data + size), "fuzz");
  if (!src) return 0;
  AggregatorConfig cfg;
  cfg.ephemeral = {1024, 65535};
  cfg.index_inodes = true;
  for (int reading = 0; reading < 2; ++reading) {  // a second reading replays the next round
    SocketAggregator agg(cfg);
    (void)dump_all(**src, agg);
    InodeIndex idx = agg.take_inode_index();
    SocketSummary sum = agg.finish();
    for (const auto& t : sum.tuples) (void)t.live();
    (void)idx.find(1);
    // The unix listeners of the same round; their names must be valid UTF-8 for the JSON.
    if (auto ul = collect_unix_listeners(**src); ul && *ul)
      for (const auto& l : **ul)
        for (unsigned char c : l.path)
          if (c < 0x20 || c >= 0x7f) __builtin_trap();
  }
  return 0;
}
