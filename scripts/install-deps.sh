#!/usr/bin/env bash
# Installs what llmux needs to build and test, if it is missing.
#   Debian 12 / Ubuntu 22.04+: apt-get (sudo when not root).  macOS: Homebrew.
set -euo pipefail

# procps (kill) and curl: used by the integration tests' cmdStop case and by scripts/demo.sh. prometheus brings
# promtool, the real parser the tests check GET /metrics with.
debian_packages=(g++ cmake make libboost-dev libboost-system-dev libyaml-cpp-dev libspdlog-dev
                 nlohmann-json3-dev libgtest-dev procps curl prometheus)

if [[ "$(uname -s)" == "Darwin" ]]; then
  command -v brew >/dev/null || { echo "install Homebrew first: https://brew.sh" >&2; exit 1; }
  brew install cmake boost yaml-cpp spdlog nlohmann-json googletest
  exit 0
fi

if ! command -v dpkg-query >/dev/null; then
  echo "install-deps: not a Debian/Ubuntu system; install: ${debian_packages[*]} (or your distro's equivalents)" >&2
  exit 0
fi

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Optional: ccache speeds up rebuilds; nginx and wrk are the relay bench's baseline and load generator.
for p in ccache "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
