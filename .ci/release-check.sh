#!/usr/bin/env bash
# Checks the release configuration and builds a snapshot release into dist/
# with a pinned goreleaser, then verifies what a release would ship: an
# archive for each of the six targets, the checksums, the Homebrew cask, and
# a linux/amd64 binary whose 'version' carries the stamped version and commit.
#
# goreleaser is installed into .ci-cache/bin on first use (a few minutes of
# compiling on a cold Go cache); it never enters breakglass's go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER_VERSION=v2.17.0
bin_dir="$PWD/.ci-cache/bin"
goreleaser="$bin_dir/goreleaser"

step() { printf '\n== %s\n' "$*"; }
fail() { echo "release-check: $*" >&2; exit 1; }

installed_version() {
  go version -m "$goreleaser" 2>/dev/null |
    awk '$1 == "mod" && $2 == "github.com/goreleaser/goreleaser/v2" { print $3 }'
}

if [ "$(installed_version)" != "$GORELEASER_VERSION" ]; then
  step "install goreleaser $GORELEASER_VERSION into .ci-cache/bin"
  mkdir -p "$bin_dir"
  # 'go install pkg@version' ignores the current module; running it from
  # an empty folder makes that obvious. GOFLAGS is cleared so that a
  # caller's -mod=... cannot apply to goreleaser's own dependencies.
  tmp=$(mktemp -d)
  (cd "$tmp" && GOBIN="$bin_dir" GOFLAGS= go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION")
  rm -rf "$tmp"
fi

[ -f README.md ] || fail "README.md is missing: the archives ship it"
[ -f LICENSE ] || fail "LICENSE is missing: the archives ship it"
git rev-parse --verify -q HEAD >/dev/null || fail "the repository has no commit yet: goreleaser stamps the commit"

step "goreleaser check"
"$goreleaser" check

# goreleaser reads the commit only when the repository has a remote; a
# working copy without one gets commit "none". A remote given through the
# environment (git 2.31+) changes no file.
if [ -z "$(git remote)" ]; then
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0="$PWD"
fi

step "goreleaser release --snapshot"
# No token is needed or used: --snapshot publishes nothing.
"$goreleaser" release --snapshot --clean --skip=publish

step "verify dist/"
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
[ -n "$version" ] || fail "no version in dist/metadata.json"
for target in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64; do
  archive="dist/breakglass_${version}_${target}.tar.gz"
  [ -f "$archive" ] || fail "missing $archive"
  listing=$(tar -tzf "$archive")
  for f in breakglass README.md LICENSE completions/breakglass.bash; do
    grep -qx "$f" <<<"$listing" || fail "$archive lacks $f"
  done
  echo "ok $archive"
done
for target in windows_amd64 windows_arm64; do
  archive="dist/breakglass_${version}_${target}.zip"
  [ -f "$archive" ] || fail "missing $archive"
  echo "ok $archive"
done
grep -q "breakglass_${version}_linux_amd64.tar.gz" dist/checksums.txt || fail "checksums.txt lacks the linux/amd64 archive"
echo "ok dist/checksums.txt"
cask=dist/homebrew/Casks/breakglass.rb
[ -f "$cask" ] || fail "missing $cask"
echo "ok $cask"

bin=$(ls dist/*linux_amd64*/breakglass)
out=$("$bin" version)
echo "$out"
echo "$out" | grep -q "^breakglass $version\$" || fail "'breakglass version' does not show $version"
echo "$out" | grep -q "commit: *$(git rev-parse HEAD)\$" || fail "'breakglass version' does not show the commit"
echo "ok the binary is stamped with $version"
