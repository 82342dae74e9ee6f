#!/usr/bin/env bash
# Installs what llmux needs to build and test, if it is missing.
#   Debian 12 / Ubuntu 22.04+: apt-get (sudo when not root).  macOS: Homebrew.
#   --fuzz: also clang with libFuzzer (scripts/fuzz.sh). --test: also promtool (the tests check /metrics with it),
#   taken out of Debian's prometheus package into .tools/bin/ without installing the package (which would add a
#   system user and a server enabled at boot), and Debian's chromium (the dashboard test drives it headless; the
#   package and what it pulls in install no service). Other arguments: extra packages (e.g. nginx wrk).
set -euo pipefail

# procps (kill) and curl: used by the integration tests' cmdStop case and by scripts/demo.sh.
debian_packages=(g++ cmake make libboost-dev libboost-system-dev libboost-filesystem-dev libyaml-cpp-dev libspdlog-dev
                 nlohmann-json3-dev libgtest-dev procps curl)

fuzz=0
test=0
extra=()
for a in "$@"; do
  if [[ "$a" == "--fuzz" ]]; then fuzz=1; elif [[ "$a" == "--test" ]]; then test=1; else extra+=("$a"); fi
done

if [[ "$(uname -s)" == "Darwin" ]]; then
  command -v brew >/dev/null || { echo "install Homebrew first: https://brew.sh" >&2; exit 1; }
  brew install cmake boost yaml-cpp spdlog nlohmann-json googletest
  # Apple's clang has no libFuzzer; Homebrew's llvm does (scripts/fuzz.sh: CXX=$(brew --prefix llvm)/bin/clang++).
  [[ $fuzz -eq 1 ]] && brew install llvm
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
# chromium: the browser of tests/integration/ui_test.cpp (that test is skipped, with a message, without it).
# Debian's is a plain package; Ubuntu's `chromium` is a snap wrapper that would install snapd (a service): not there.
if [[ $test -eq 1 ]]; then
  if grep -qs '^ID=debian' /etc/os-release; then
    extra+=(chromium)
  elif ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    echo "install-deps: not installing chromium here (not Debian: it may come as a snap); the dashboard's browser test will be skipped" >&2
  fi
fi
for p in ccache "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libFuzzer: Debian 12 ships it in libclang-rt-dev, only recommended by clang (recommendations are not installed
# here); where that package does not exist, clang's own dependencies carry it. Checked by linking a fuzz target.
fuzzer_missing=0
if [[ $fuzz -eq 1 ]]; then
  probe='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
  if ! command -v clang++ >/dev/null || ! echo "$probe" | clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
    fuzzer_missing=1
    missing+=(clang)
  fi
fi
# promtool alone: a static binary taken out of the package file, nothing installed, no service.
fetch_promtool() {
  [[ $test -eq 1 ]] || return 0
  command -v promtool >/dev/null || [[ -x .tools/bin/promtool ]] && return 0
  local tmp
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb x &&
      [[ -x x/usr/bin/promtool ]]); then
    mkdir -p .tools/bin && cp "$tmp/x/usr/bin/promtool" .tools/bin/promtool
    echo "install-deps: promtool taken from the prometheus package into .tools/bin (package not installed)"
  else
    echo "install-deps: promtool not available; the /metrics parser check will be skipped" >&2
  fi
  rm -rf "$tmp"
}
if [[ ${#missing[@]} -eq 0 ]]; then
  fetch_promtool
  exit 0
fi

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
$sudo apt-get update -qq
if [[ $fuzzer_missing -eq 1 ]] && apt-cache show libclang-rt-dev >/dev/null 2>&1; then missing+=(libclang-rt-dev); fi
echo "install-deps: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fetch_promtool
