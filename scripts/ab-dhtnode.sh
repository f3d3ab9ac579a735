#!/usr/bin/env bash
# Two dhtnode builds side by side, in one run: the A/B check for a change to the core or the
# dht node ("no figure may get worse by more than the run-to-run noise").
#
#   scripts/ab-dhtnode.sh OLD_DHTNODE NEW_DHTNODE      # e.g. a worktree's target/release/dhtnode
#
# Starts both on free 127.0.0.1 ports in a temp dir (the embedded default config, another
# port), loads the same key space into each, then alternates swarm-bench runs over old and new
# with identical options, ROUNDS times per figure, and prints per-round figures and the median
# new/old ratio of ops/s and of node CPU per request. Waits before each run for the machine to
# be idle (QUIET_MAX seconds at most). Stops only the processes it started.
#
# Environment overrides: KEYS VALUE_SIZE CONNECTIONS REQUESTS REQUESTS_P16 ROUNDS QUIET_MAX
# MIXES (default "get put"), PIPELINES (default "1 16"), CARGO_TARGET_DIR.
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
cd "$(dirname "$0")/.."
OLD=$(realpath "${1:?usage: ab-dhtnode.sh OLD_DHTNODE NEW_DHTNODE}")
NEW=$(realpath "${2:?usage: ab-dhtnode.sh OLD_DHTNODE NEW_DHTNODE}")
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
CONNECTIONS=${CONNECTIONS:-50}
REQUESTS=${REQUESTS:-400000}
REQUESTS_P16=${REQUESTS_P16:-2000000}
ROUNDS=${ROUNDS:-5}
QUIET_MAX=${QUIET_MAX:-60}
MIXES=${MIXES:-get put}
PIPELINES=${PIPELINES:-1 16}

cargo build --release -q -p swarm-bench --bin swarm-bench
BENCH=${CARGO_TARGET_DIR:-$PWD/target}/release/swarm-bench

TMP=$(mktemp -d /tmp/ab-dhtnode.XXXXXX)
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
trap cleanup EXIT

start() { # start NAME BINARY: prints "PID PORT"
  local port
  port=$(free_port)
  mkdir -p "$TMP/$1"
  sed -e "s/^port = .*/port = $port/" nodes/dht/src/default_config.ini >"$TMP/$1/config.ini"
  (cd "$TMP/$1" && exec "$2" -c config.ini) >"$TMP/$1/out.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    port_in_use "$port" && { echo "$pid $port"; return; }
    sleep 0.1
  done
  echo "$1 ($2) did not start; see $TMP/$1/out.log" >&2
  exit 1
}
read -r OPID OPORT < <(start old "$OLD")
PIDS+=("$OPID")
read -r NPID NPORT < <(start new "$NEW")
PIDS+=("$NPID")

COMMON=(--connections "$CONNECTIONS" --value-size "$VALUE_SIZE" --keys "$KEYS" --channel bench)
"$BENCH" --target dht --addr "127.0.0.1:$OPORT" "${COMMON[@]}" --load --requests 0 >/dev/null 2>&1
"$BENCH" --target dht --addr "127.0.0.1:$NPORT" "${COMMON[@]}" --load --requests 0 >/dev/null 2>&1

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo "old: $OLD"
echo "new: $NEW"
printf '%-16s %5s %12s %12s %8s %9s %9s %8s\n' figure round old_ops new_ops ratio old_cpu_us new_cpu_us ratio
for mix in $MIXES; do
  for pipe in $PIPELINES; do
    n=$REQUESTS; ((pipe > 1)) && n=$REQUESTS_P16
    ops_ratios=(); cpu_ratios=()
    for r in $(seq "$ROUNDS"); do
      wait_quiet || true
      o=$("$BENCH" --target dht --addr "127.0.0.1:$OPORT" "${COMMON[@]}" --mix "$mix" --pipeline "$pipe" --requests "$n" --node-pid "$OPID" --json 2>/dev/null)
      wait_quiet || true
      w=$("$BENCH" --target dht --addr "127.0.0.1:$NPORT" "${COMMON[@]}" --mix "$mix" --pipeline "$pipe" --requests "$n" --node-pid "$NPID" --json 2>/dev/null)
      oo=$(jget ops_per_s "$o"); no=$(jget ops_per_s "$w")
      oc=$(jget node_cpu_us_per_req "$o"); nc=$(jget node_cpu_us_per_req "$w")
      ro=$(awk -v a="$oo" -v b="$no" 'BEGIN {printf "%.3f", b / a}')
      rc=$(awk -v a="$oc" -v b="$nc" 'BEGIN {printf "%.3f", b / a}')
      ops_ratios+=("$ro"); cpu_ratios+=("$rc")
      printf '%-16s %5s %12.0f %12.0f %8s %9.2f %9.2f %8s\n' "$mix p$pipe" "$r" "$oo" "$no" "$ro" "$oc" "$nc" "$rc"
    done
    mo=$(printf '%s\n' "${ops_ratios[@]}" | median); mc=$(printf '%s\n' "${cpu_ratios[@]}" | median)
    printf '%-16s %5s %12s %12s %8s %9s %9s %8s\n' "$mix p$pipe" median "" "" "$mo" "" "" "$mc"
  done
done
