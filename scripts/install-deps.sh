#!/usr/bin/env bash
# Installs the Debian 12 packages conndoctor needs to build, test and benchmark.
# Idempotent: when everything is present it only checks and returns (no apt-get update).
# Options: --bench (the reference tools of bench/), --fuzz (AFL++ for fuzz/afl.sh).
set -euo pipefail

packages=(
  # build
  build-essential g++ cmake pkg-config
  # the message catalogues (po/): msgfmt compiles them at build time, xgettext/msgcmp test them
  gettext
  # libraries
  libmnl-dev libnetfilter-conntrack-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev
  # serve's HTTP server (libmicrohttpd, TLS through GnuTLS); cpp-httplib is the tests' client
  libmicrohttpd-dev libcpp-httplib-dev
  # the flight recorder (watch/history): its SQLite database, zlib for the stored reports
  libsqlite3-dev zlib1g-dev
  # the BPF fd scan (attribution at scale): clang -target bpf, bpftool gen skeleton, libbpf
  clang bpftool libbpf-dev
  # runtime tools the lab and end-to-end tests drive (namespaces, veth, nftables); iptables
  # (its nf_tables flavour) runs the NAT commands of the plans (tests/e2e/plan_commands_test.sh)
  iproute2 nftables iptables procps util-linux kmod
  # the end-to-end tests read the JSON reports with python3's json module (no load generation),
  # check the DaemonSet with python3-yaml, the unit with systemd-analyze, TLS with openssl,
  # and query serve with curl
  python3 python3-yaml systemd openssl curl
  # the HTML incident report is loaded in a real browser, headless
  chromium
  # `conndoctor top` is driven in a terminal the way a person uses it (tests/e2e/top_test.sh)
  tmux
  # promtool and the Prometheus server the `serve` end-to-end tests start (in a namespace)
  prometheus
  # the Debian package (cmake/packaging.cmake): conndoctor(8) rendered by scdoc, cpack's
  # dpkg-shlibdeps (dpkg-dev); its test (tests/e2e/package_test.sh) lints it and uses what it
  # installs: lintian, man-db, bash-completion, zsh
  scdoc dpkg-dev lintian man-db bash-completion zsh
)
for opt in "$@"; do
  case "$opt" in
    --bench)
      # reference tools the benchmarks compare against (bcc tcpconnect/tcplife: bench/trace_cost.sh); GNU time for peak RSS (bench/run.sh)
      packages+=(lsof conntrack time bpfcc-tools)
      ;;
    --fuzz)
      # coverage-guided fuzzing (fuzz/afl.sh, docs/fuzzing.md): AFL++ with its GCC mode
      packages+=(afl++)
      ;;
    *)
      echo "install-deps: unknown option $opt (--bench, --fuzz)" >&2
      exit 3
      ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's prometheus package starts a host-wide server from its postinst (invoke-rc.d or
# deb-systemd-invoke) unless policy-rc.d forbids it; the tests start their own, so forbid it.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
