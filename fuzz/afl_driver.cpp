// Runs a libFuzzer-style target under AFL++ (fuzz/afl.sh): one input per process, read from
// the file named by the first argument (afl-fuzz's @@) or from stdin. Debian's AFL++ 4.04c
// GCC plugin refuses Debian's g++ 12.2.0-14+deb12u1 ("GCC and plugin have incompatible
// versions"), so the targets are built in AFL++'s GCC mode (afl-g++, instrumented by afl-as),
// which has a fork server but no persistent mode: hence one input per process.
#include <cstdint>
#include <cstdio>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::FILE* in = argc > 1 ? std::fopen(argv[1], "rb") : stdin;
  if (!in) {
    std::perror(argv[1]);
    return 1;
  }
  std::vector<uint8_t> buf;
  uint8_t chunk[65536];
  for (;;) {
    std::size_t n = std::fread(chunk, 1, sizeof chunk, in);
    if (n == 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
  }
  if (in != stdin) std::fclose(in);
  // An exact-size heap copy: a read past the end lands outside the allocation.
  std::vector<uint8_t> exact(buf.begin(), buf.end());
  LLVMFuzzerTestOneInput(exact.data(), exact.size());
  return 0;
}
