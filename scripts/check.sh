#!/usr/bin/env bash
# The project's one check: formatting, lints, docs and every test of the workspace. The README's test
# command and CI (.ci/run) run exactly this. Prints cargo test's summary lines at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo; then
  echo "check.sh: cargo is missing; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
# rustfmt and clippy come with rustup's default profile; add them if this toolchain lacks them.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if need rustup; then rustup component add rustfmt clippy; fi
fi

# The etc/ tests (cli/tests/etc_files.rs) run logrotate and systemd-analyze, and fail without
# them under CI=true: install them when missing, so a clean machine runs those tests.
have_tool() { need "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
missing=()
have_tool logrotate || missing+=(logrotate)
have_tool systemd-analyze || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && need apt-get; then
    echo "== apt-get install ${missing[*]} (the etc/ tests need them)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" ||
      { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
  else
    echo "check.sh: ${missing[*]} missing and not root (or no apt-get): install them, e.g." \
      "sudo apt-get install ${missing[*]}; without them the etc/ tests are skipped, and fail" \
      "under CI=true" >&2
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== cargo test --no-run (every test binary and every node binary, one feature set)"
cargo test --workspace --locked --no-run
# Tests outside a node's own package get its binary from testkit's node_bin, which otherwise
# runs `cargo build -p <package>`: that resolves the dependencies' features without the
# workspace's dev-dependencies (getrandom and regex-syntax get fewer), so it rebuilt the node
# crates and binaries and left the workspace build stale. The ones just built are current.
bins="$(realpath "${CARGO_TARGET_DIR:-target}")/debug"
for pair in DHTNODE_BIN:dhtnode DHTDUMP_BIN:dhtdump QUEUENODE_BIN:queuenode LOGFILESNODE_BIN:logfilesnode \
    LOGFILES_CHECK_BIN:logfiles_check SWARM_BIN:swarm; do
  if [ -x "$bins/${pair#*:}" ]; then export "${pair%%:*}=$bins/${pair#*:}"; fi
done
echo "== cargo test (--no-fail-fast: every test binary runs, so the summary counts them all)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
ignored=$(grep -Eo '[0-9]+ ignored' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "== summary of all test binaries"
echo "${passed} passed, ${failed} failed, ${ignored} skipped"
exit "$rc"
