#!/usr/bin/env bash
# Installs the Debian 12 packages conndoctor needs to build, test and benchmark.
# Idempotent: when everything is present it only checks and returns (no apt-get update).
set -euo pipefail

packages=(
  # build
  build-essential g++ cmake pkg-config
  # libraries
  libmnl-dev libnetfilter-conntrack-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libcpp-httplib-dev libgtest-dev libgmock-dev
  # runtime tools the lab and end-to-end tests drive (namespaces, veth, nftables)
  iproute2 nftables procps util-linux
)
if [[ "${1:-}" == "--bench" ]]; then
  # reference tools the benchmark compares against
  packages+=(lsof conntrack)
fi

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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
