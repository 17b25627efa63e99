#!/usr/bin/env bash
# The stage walls hold: an include across a forbidden direction is a build error ("No such
# file"), while an allowed include builds. Probes: tests/layering/CMakeLists.txt.
set -uo pipefail
build=${1:?usage: layering_test.sh BUILD_DIR}
fail=0
out=$(cmake --build "$build" --target layer_probe_allowed 2>&1) || {
  echo "layering: the allowed probe does not build:"; echo "$out" | tail -5; exit 1; }
for probe in render_collect:collect/collector.h analyse_diagnose:diagnose/diagnose.h \
             lab_serve:serve/server.h top_diagnose:diagnose/diagnose.h; do
  name=${probe%%:*} header=${probe#*:}
  if out=$(cmake --build "$build" --target "layer_probe_$name" 2>&1); then
    echo "layering: layer_probe_$name compiled: $header is reachable across the wall"; fail=1
  elif ! grep -q "$header: No such file or directory" <<<"$out"; then
    echo "layering: layer_probe_$name failed for another reason:"; echo "$out" | grep -m3 error; fail=1
  else
    echo "layering: layer_probe_$name refused ($header not on its include path)"
  fi
done
exit $fail
