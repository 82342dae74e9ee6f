#!/usr/bin/env bash
# Installs llmux for your user: builds the llmux binary (not the tests), installs it into PREFIX/bin (default
# ~/.local/bin, no root needed), and puts the example config at ${XDG_CONFIG_HOME:-~/.config}/llmux/config.yaml
# when there is none there (an existing config is never overwritten). It starts nothing and enables no service:
# `llmux service install` does that, when you ask for it.
#   --prefix DIR      install into DIR/bin (default ~/.local)
#   --build-dir DIR   the CMake build directory (default build/)
#   --no-build        install what DIR already holds, do not build (it must hold a built llmux)
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="$PWD"

prefix="${HOME:?HOME is not set}/.local"
build_dir="build"
build=1
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) [[ $# -ge 2 ]] || usage; prefix="$2"; shift 2 ;;
    --build-dir) [[ $# -ge 2 ]] || usage; build_dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "install: unknown option '$1'" >&2; usage ;;
  esac
done
prefix="${prefix/#\~/$HOME}"
[[ "$prefix" == /* ]] || prefix="$PWD/$prefix"

if [[ $build -eq 1 ]]; then
  echo "install: building llmux into $build_dir/ (only the binary: no tests, no benches)"
  BUILD_DIR="$build_dir" BUILD_TARGETS=llmux scripts/build.sh
elif [[ ! -f "$build_dir/cmake_install.cmake" ]]; then
  echo "install: $build_dir is not a configured build directory (run without --no-build)" >&2
  exit 1
fi

# Only llmux has an install rule; --strip drops the debug info (~100 MB down to a few).
cmake --install "$build_dir" --prefix "$prefix" --strip >/dev/null
bin="$prefix/bin/llmux"
"$bin" --version >/dev/null
echo "install: installed $bin"

config_dir="${XDG_CONFIG_HOME:-$HOME/.config}/llmux"
config="$config_dir/config.yaml"
if [[ -e "$config" ]]; then
  echo "install: kept your config $config (not overwritten)"
else
  mkdir -p "$config_dir"
  cp "$source_dir/configs/llmux.example.yaml" "$config.tmp"
  mv -n "$config.tmp" "$config"  # -n: a config written meanwhile is kept
  rm -f "$config.tmp"
  echo "install: wrote the example config to $config: edit its models"
fi

case ":$PATH:" in
  *":$prefix/bin:"*) llmux="llmux" ;;
  *) llmux="$bin"
     echo "install: $prefix/bin is not on your PATH; add it (e.g. export PATH=\"$prefix/bin:\$PATH\" in your shell profile)" ;;
esac
width=$(( ${#llmux} + 16 ))
echo "next:"
printf "  %-${width}s # %s\n" "$llmux config check" "validate $config" \
  "$llmux service install" "run it as your user's service (systemd user unit / LaunchAgent)" \
  "$llmux status" "what runs (--watch: live); the dashboard is http://127.0.0.1:8484/ui"
