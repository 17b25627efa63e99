// Runs a libFuzzer target over every file of its seed corpus (and a few mutations of each),
// so that the fuzz targets run as plain tests when the compiler is g++.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(argv[i], ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i], ec))
        if (e.is_regular_file()) files.push_back(e.path());
      // A corpus that is missing its seeds replays nothing: that is a broken test, not a pass.
      if (files.empty()) {
        std::fprintf(stderr, "replay: corpus %s holds no inputs\n", argv[i]);
        return 1;
      }
    } else if (std::filesystem::is_regular_file(argv[i], ec)) {
      files.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "replay: no corpus at %s\n", argv[i]);
      return 1;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), {});
      LLVMFuzzerTestOneInput(buf.data(), buf.size());
      ++inputs;
      // Deterministic cheap mutations: every prefix length step, and byte flips.
      for (std::size_t cut = 0; cut < buf.size(); cut += 1 + buf.size() / 64) {
        LLVMFuzzerTestOneInput(buf.data(), cut);
        ++inputs;
      }
      std::vector<uint8_t> m = buf;
      for (std::size_t pos = 0; pos < m.size(); pos += 1 + m.size() / 97) {
        uint8_t saved = m[pos];
        for (uint8_t v : {uint8_t{0}, uint8_t{0xff}, uint8_t{'\n'}, uint8_t{' '}, uint8_t{'9'}}) {
          m[pos] = v;
          LLVMFuzzerTestOneInput(m.data(), m.size());
          ++inputs;
        }
        m[pos] = saved;
      }
    }
  }
  std::printf("replayed %zu inputs\n", inputs);
  if (inputs == 0) std::fprintf(stderr, "replay: no corpus given\n");
  return inputs > 0 ? 0 : 1;
}
