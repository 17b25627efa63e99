#!/usr/bin/env bash
# Coverage-guided fuzzing of every fuzz/ target with AFL++ (Debian's afl++), then a minimised
# corpus back into fuzz/corpus/<target> and a line of figures per target.
#
#   fuzz/afl.sh [--minutes N] [--target NAME]... [--build-dir DIR] [--no-cmin] [--build-only]
#
# Builds the whole project with afl-g++ (AFL++'s GCC mode: see docs/fuzzing.md for why not the
# GCC plugin) in its own build directory (default build-afl), runs each target for N minutes
# (default 30) from its seed corpus, minimises seeds + queue with afl-cmin into
# fuzz/corpus/<target> (unless --no-cmin), and prints per target: executions, edges found
# (AFL's bitmap), crashes and hangs. Exits 1 if any target crashed or hung (the inputs are
# kept under DIR/afl-out/<target>/default/{crashes,hangs}).
#
# Changes no host setting: AFL's checks of the CPU governor and of core_pattern are skipped
# through its environment switches instead of fixing the host (afl-system-config is not run).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
minutes=30
build="$root/build-afl"
targets=()
cmin=1
build_only=0
while (($#)); do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --no-cmin) cmin=0; shift ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "afl.sh: unknown option $1" >&2; exit 3 ;;
  esac
done
if ! [[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "afl.sh: --minutes wants a number of minutes, got '$minutes'" >&2
  exit 3
fi
for tool in afl-g++ afl-gcc afl-fuzz afl-cmin; do
  command -v "$tool" >/dev/null || { echo "afl.sh: $tool not found (scripts/install-deps.sh --fuzz)" >&2; exit 3; }
done

if ((${#targets[@]} == 0)); then
  for src in "$here"/*_fuzz.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi
for t in "${targets[@]}"; do
  [[ -f "$here/$t.cpp" ]] || { echo "afl.sh: no fuzz target $t (fuzz/$t.cpp)" >&2; exit 3; }
  [[ -n "$(ls -A "$here/corpus/$t" 2>/dev/null)" ]] || { echo "afl.sh: fuzz/corpus/$t is missing or empty" >&2; exit 3; }
done

export AFL_QUIET=1
# The build: everything the targets link is instrumented, so coverage reaches the parsers.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=afl-gcc CXX=afl-g++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCONNDOCTOR_AFL=ON >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
fi
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]/%/_afl}" >"$build/afl-build.log" 2>&1 ||
  { tail -40 "$build/afl-build.log" >&2; exit 1; }
((build_only)) && exit 0

export AFL_SKIP_CPUFREQ=1                       # do not require the performance governor
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1  # core_pattern is the host's business
export AFL_NO_AFFINITY=1                        # the CPUs are shared: do not pin a core
export AFL_NO_UI=1
export AFL_NO_UPDATE_CHECK=1 2>/dev/null || true

bad=0
report=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/${t}_afl"
  out="$build/afl-out/$t"
  rm -rf "$out"
  mkdir -p "$out"
  seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
  echo "afl.sh: $t for ${seconds}s" >&2
  afl-fuzz -i "$here/corpus/$t" -o "$out" -V "$seconds" -t 1000 -m none -- "$bin" @@ \
    >"$out/afl-fuzz.log" 2>&1 || { echo "afl.sh: afl-fuzz failed on $t:" >&2; tail -20 "$out/afl-fuzz.log" >&2; exit 1; }
  stats="$out/default/fuzzer_stats"
  field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes=$(field saved_crashes)
  hangs=$(field saved_hangs)
  line=$(printf '%-26s execs %10s  edges %5s/%-6s (%s)  corpus %4s  crashes %s  hangs %s' \
    "$t" "$(field execs_done)" "$(field edges_found)" "$(field total_edges)" \
    "$(field bitmap_cvg)" "$(field corpus_count)" "$crashes" "$hangs")
  if ((cmin)) && ((crashes == 0)); then
    # Seeds and everything afl kept, minimised to the inputs that cover the same edges.
    pool="$out/cmin-in"
    mkdir -p "$pool"
    cp "$here/corpus/$t"/* "$pool/"
    for f in "$out/default/queue"/id:*; do
      [[ -f "$f" ]] || continue
      cp "$f" "$pool/afl-$(sha1sum "$f" | cut -c1-12)"
    done
    if afl-cmin -i "$pool" -o "$out/cmin-out" -t 1000 -m none -- "$bin" @@ >"$out/cmin.log" 2>&1 &&
      [[ -n "$(ls -A "$out/cmin-out")" ]]; then
      rm -rf "${here:?}/corpus/$t"
      mkdir -p "$here/corpus/$t"
      cp "$out/cmin-out"/* "$here/corpus/$t/"
      line+="  -> fuzz/corpus/$t: $(ls "$here/corpus/$t" | wc -l) inputs"
    else
      line+="  (afl-cmin failed: $out/cmin.log; corpus unchanged)"
    fi
  fi
  ((crashes == 0 && hangs == 0)) || bad=1
  echo "afl.sh: $line" >&2  # as each target ends: a long run cut short keeps what it did
  report+=("$line")
done
printf '%s\n' "${report[@]}"
((bad == 0)) || { echo "afl.sh: crashes or hangs under $build/afl-out/*/default/" >&2; exit 1; }
