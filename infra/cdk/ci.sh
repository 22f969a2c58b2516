#!/usr/bin/env bash
# infra/cdk/ci.sh: test, vet and synthesise the breakglass CDK app, offline
# except for `go test`'s module download and `npm ci` on a fresh machine.
#
#   bash infra/cdk/ci.sh          (from the repository root, as .ci/run does)
#
# Needs go, node (>= 18) and npm. Caches that are not Go's live in
# .ci-cache/ at the repository root (git-ignored), or in $BREAKGLASS_CI_CACHE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${BREAKGLASS_CI_CACHE:-$root/.ci-cache}"

say() { printf 'infra/cdk/ci.sh: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

for tool in go node npm; do
	command -v "$tool" >/dev/null || fail "$tool is not installed; the CDK app needs go, node (>= 18) and npm"
done

# jsii prints a page-long banner for a node past its end of life; it names
# the major version it silences.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="$(node -p 'process.versions.node.split(".")[0]')"
export CDK_DISABLE_CLI_TELEMETRY=true
export npm_config_update_notifier=false
# The synth tests fail instead of skipping when node is missing.
export BREAKGLASS_CDK_TESTS=require
# The CDK CLI ignores $HOME for its cache and jsii unpacks aws-cdk-lib
# (210 MB) into a package cache; keep both out of the home directory and out
# of the Go module tree.
export CDK_HOME="$cache/cdk"
export JSII_RUNTIME_PACKAGE_CACHE_ROOT="$cache/jsii"
mkdir -p "$CDK_HOME" "$JSII_RUNTIME_PACKAGE_CACHE_ROOT"
chmod 700 "$CDK_HOME" "$JSII_RUNTIME_PACKAGE_CACHE_ROOT"

cd "$here"
start=$SECONDS
step() {
	local name=$1
	shift
	local t=$SECONDS
	say "$name"
	"$@"
	say "$name: $((SECONDS - t)) s"
}

# Test before vet: vet then reuses the test build instead of computing facts
# for every awscdk package from scratch.
step "go test" go test ./...
step "go vet" go vet ./...

# gofmt walks dot folders, and .cdkcli/node_modules holds Go templates that
# are not Go.
unformatted="$(find . -name '*.go' -not -path './.cdkcli/*' -not -path './cdk.out/*' -print0 |
	xargs -0 gofmt -l)"
[ -z "$unformatted" ] || fail "not gofmt'ed: $unformatted"

step "npm ci" npm ci --prefix .cdkcli --no-audit --no-fund --loglevel=error

# The synth must not need the network. Run it without one where this
# machine allows a network namespace (as root, or as a user with user
# namespaces); elsewhere it runs with the network present but unused.
offline=()
if unshare -n true 2>/dev/null; then
	offline=(unshare -n)
elif unshare -rn true 2>/dev/null; then
	offline=(unshare -rn)
else
	say "no network namespace available; cdk synth runs with the network present"
fi
rm -rf cdk.out
step "cdk synth${offline:+ (no network)}" ${offline[@]+"${offline[@]}"} \
	.cdkcli/node_modules/.bin/cdk synth -q --no-notices

# Every stack of the assembly has its template, and the default context
# gives the five stacks of the DEMO environment.
step "check cdk.out" node - <<'EOF'
const fs = require("fs");
const manifest = JSON.parse(fs.readFileSync("cdk.out/manifest.json", "utf8"));
const stacks = Object.entries(manifest.artifacts)
  .filter(([, a]) => a.type === "aws:cloudformation:stack");
const problems = [];
for (const [id, a] of stacks) {
  const file = "cdk.out/" + a.properties.templateFile;
  try {
    const t = JSON.parse(fs.readFileSync(file, "utf8"));
    if (!t.Resources || Object.keys(t.Resources).length === 0) problems.push(`${file} has no resources`);
  } catch (e) {
    problems.push(`stack ${id} has no readable template ${file}: ${e.message}`);
  }
}
const want = ["VPC", "ECS", "EFS", "EFS-Util", "Operator"].map((s) => `breakglass-${s}-DEMO`);
for (const name of want) {
  if (!stacks.some(([id]) => id === name)) problems.push(`stack ${name} is missing`);
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.error(`${stacks.length} stacks, each with its template: ${stacks.map(([id]) => id).join(", ")}`);
EOF

say "ok in $((SECONDS - start)) s"
